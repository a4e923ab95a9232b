//! A self-contained HTML page: headings, paragraphs, tables and figures,
//! the figures inlined as base64 SVG so the page needs no other file.

use std::path::PathBuf;

use base64::Engine;

use crate::error::Result;
use crate::report::plot::{render_svg, write, Figure, PAGE_WIDTH};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The page being built, section by section.
#[derive(Debug, Default)]
pub struct HtmlPage {
    body: String,
    figures: usize,
    /// Where each figure is also written as its own file, and the
    /// extension (`svg` or `png`) that picks the format.
    figure_files: Option<(PathBuf, String)>,
}

/// The page's style. The text column is [`PAGE_WIDTH`] wide, which no
/// figure exceeds, so figures are shown at their own size and their text
/// (14–18 px) beside the 16 px body text.
fn style() -> String {
    format!(
        "body{{font-family:sans-serif;font-size:16px;max-width:{PAGE_WIDTH}px;margin:2em auto;padding:0 1em;color:#222}}{STYLE_REST}"
    )
}

const STYLE_REST: &str =
    "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;padding:.25em .6em}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}\
figure{margin:1em 0}figure.drawing{display:inline-block;vertical-align:top;margin:.5em 1em .5em 0}img{max-width:100%}figcaption{color:#555;font-size:.9em}p.note{color:#555}";

impl HtmlPage {
    /// An empty page whose figures are only inlined.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also writes every figure to `dir/NAME.EXTENSION` (`svg` or `png`).
    pub fn with_figure_files(dir: PathBuf, extension: &str) -> Self {
        Self {
            figure_files: Some((dir, extension.to_owned())),
            ..Self::default()
        }
    }

    /// A section heading (`<h2>`), `text` escaped.
    pub fn heading(&mut self, text: &str) {
        self.body.push_str(&format!("<h2>{}</h2>\n", escape(text)));
    }

    /// A paragraph of plain text, escaped.
    pub fn paragraph(&mut self, text: &str) {
        self.body.push_str(&format!("<p>{}</p>\n", escape(text)));
    }

    /// A greyed remark, e.g. why a section is missing.
    pub fn note(&mut self, text: &str) {
        self.body
            .push_str(&format!("<p class=\"note\">{}</p>\n", escape(text)));
    }

    /// Markup the caller built and escaped itself (highlighted text).
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
        self.body.push('\n');
    }

    /// A table; cells that parse as numbers are right-aligned.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        self.body.push_str("<table>\n<tr>");
        for h in header {
            self.body.push_str(&format!("<th>{}</th>", escape(h)));
        }
        self.body.push_str("</tr>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row {
                let numeric = cell
                    .trim_end_matches('%')
                    .replace(',', "")
                    .parse::<f64>()
                    .is_ok();
                let class = if numeric { " class=\"n\"" } else { "" };
                self.body
                    .push_str(&format!("<td{class}>{}</td>", escape(cell)));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</table>\n");
    }

    /// A figure, rendered to SVG and inlined as a data URI; `name` is its
    /// file name when figures are also written as files.
    pub fn figure(&mut self, name: &str, figure: &impl Figure, caption: &str) -> Result<()> {
        if let Some((dir, extension)) = &self.figure_files {
            write(&dir.join(format!("{name}.{extension}")), figure)?;
        }
        let svg = render_svg(figure)?;
        let data = base64::engine::general_purpose::STANDARD.encode(svg.as_bytes());
        self.figures += 1;
        self.body.push_str(&format!(
            "<figure id=\"figure-{}\"><img alt=\"{}\" src=\"data:image/svg+xml;base64,{data}\">\
             <figcaption>{}</figcaption></figure>\n",
            self.figures,
            escape(caption),
            escape(caption)
        ));
        Ok(())
    }

    /// An inline SVG drawing made by the caller (escaped already), with
    /// a plain-text caption.
    pub fn raw_figure(&mut self, svg: &str, caption: &str) {
        self.figures += 1;
        self.body.push_str(&format!(
            "<figure class=\"drawing\" id=\"figure-{}\">{svg}<figcaption>{}</figcaption></figure>\n",
            self.figures,
            escape(caption)
        ));
    }

    /// The whole document.
    pub fn finish(self, title: &str, subtitle: &str) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{t}</title>\n<style>{style}</style>\n</head>\n<body>\n<h1>{t}</h1>\n\
             <p class=\"note\">{s}</p>\n{body}</body>\n</html>\n",
            t = escape(title),
            s = escape(subtitle),
            style = style(),
            body = self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_figures_are_inlined() {
        let mut page = HtmlPage::new();
        page.heading("a <b> & 'c'");
        page.table(&["x"], &[vec!["1.5".into()], vec!["<i>".into()]]);
        let figure = crate::report::plot::WorkerAccuracy {
            accuracies: vec![0.5],
            against: "gold".into(),
        };
        page.figure("workers", &figure, "workers").unwrap();
        let html = page.finish("t", "s");
        assert!(html.contains("<h2>a &lt;b&gt; &amp; &#39;c&#39;</h2>"));
        assert!(html.contains("<td class=\"n\">1.5</td>"));
        assert!(html.contains("<td>&lt;i&gt;</td>"));
        let start = html.find("data:image/svg+xml;base64,").unwrap() + 26;
        let end = start + html[start..].find('"').unwrap();
        let svg = base64::engine::general_purpose::STANDARD
            .decode(&html[start..end])
            .unwrap();
        assert!(String::from_utf8(svg).unwrap().starts_with("<svg"));
    }
}

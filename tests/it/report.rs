//! `accord report` (one self-contained HTML page) and figures as PNG.

use base64::Engine;

use crate::support::*;

/// The SVG documents inlined in `html`, in order.
fn inlined_svgs(html: &str) -> Vec<String> {
    html.split("src=\"data:image/svg+xml;base64,")
        .skip(1)
        .map(|rest| {
            let data = rest.split('"').next().unwrap();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
            String::from_utf8(bytes).unwrap()
        })
        .collect()
}

/// A count as the report prints it, with thousands separators.
fn count(cell: &str) -> u64 {
    assert!(
        cell.len() < 4 || cell.contains(','),
        "{cell} lacks separators"
    );
    cell.replace(',', "").parse().unwrap()
}

/// Filled rectangles of `colour` in an SVG.
fn rects(svg: &str, colour: &str) -> usize {
    svg.lines()
        .filter(|l| l.starts_with("<rect") && l.contains(&format!("fill=\"{colour}\"")))
        .count()
}

/// The first table after `<h2>{heading}</h2>`, as rows of cell text.
fn table_after(html: &str, heading: &str) -> Vec<Vec<String>> {
    let section = html.split(&format!("<h2>{heading}</h2>")).nth(1).unwrap();
    let table = section.split("</table>").next().unwrap();
    table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = cell.split('>').nth(1).unwrap();
                    text.split('<').next().unwrap().to_owned()
                })
                .collect()
        })
        .collect()
}

#[test]
fn report_with_gold_has_every_section_and_figure_inlined() {
    let dir = tmp();
    let (labels, gold) = generated(
        dir.path(),
        &[
            "--items",
            "300",
            "--workers",
            "25",
            "--classes",
            "3",
            "--per-item",
            "4",
        ],
    );
    let page = dir.path().join("report.html");
    accord_ok(&[
        "report",
        labels.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--backend",
        "cpu",
        "--repeats",
        "3",
        "-o",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing fetched from elsewhere.
    for external in ["src=\"http", "href=", "<script", "@import", "url("] {
        assert!(!html.contains(external), "{external}");
    }
    for heading in [
        "Summary",
        "Agreement (no gold needed)",
        "Class distribution",
        "Scores against gold",
        "Workers",
        "Error against the number of annotators",
        "Items most worth more labels",
    ] {
        assert!(html.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    let svgs = inlined_svgs(&html);
    assert_eq!(
        svgs.len(),
        5,
        "class distribution, confusion, calibration, workers, experiment"
    );

    // Class distribution: the table's annotation counts add up to the
    // input's, labels and gold to the items; each non-zero count is a bar
    // in both panels, plus one legend swatch per series.
    // Counts carry thousands separators.
    let summary = table_after(&html, "Summary");
    assert_eq!(summary[2], ["annotations", "1,200"]);
    let rows = table_after(&html, "Class distribution");
    assert_eq!(rows.len(), 3);
    let column = |c: usize| -> Vec<u64> { rows.iter().map(|r| count(&r[c])).collect() };
    assert_eq!(column(1).iter().sum::<u64>(), 1200);
    assert_eq!(column(2).iter().sum::<u64>(), 300);
    assert_eq!(column(3).iter().sum::<u64>(), 300);
    for (c, colour) in [(1, "#1F77B4"), (2, "#FF7F0E"), (3, "#2CA02C")] {
        let bars = column(c).iter().filter(|&&n| n > 0).count();
        assert_eq!(rects(&svgs[0], colour), 2 * bars + 1, "series {c}");
    }

    // Scores: mv and auto (the default) beat a single annotation; the confusion figure has
    // three panels of 3×3 cells.
    let scores = table_after(&html, "Scores against gold");
    let names: Vec<&str> = scores.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["single annotation", "mv", "auto"]);
    let accuracy = |r: usize| scores[r][1].trim_end_matches('%').parse::<f64>().unwrap();
    assert!(accuracy(2) > accuracy(0), "{scores:?}");
    for panel in ["raw annotations", "mv", "auto"] {
        assert!(svgs[1].contains(&format!("\n{panel}\n")), "{panel}");
    }
    let shares = heatmap_shares(&svgs[1]);
    assert_eq!(shares.len(), 27, "{shares:?}");
    for row in shares.chunks(3) {
        let sum: f64 = row.iter().sum();
        assert!((sum - 1.0).abs() <= 0.02, "a row sums to {sum}");
    }
    // Calibration: one point per non-empty confidence bin, at most 10.
    let points = svgs[2].matches("<circle").count();
    assert!((1..=10).contains(&points), "{points}");

    // Workers: the histogram's bars count every worker with a gold item.
    let bar_heights: usize = rects(&svgs[3], "#1F77B4");
    assert!(bar_heights >= 1 && svgs[3].contains("accuracy of 25 workers"));

    // The experiment: a 4-point line per method (the most any item has).
    let experiment = table_after(&html, "Error against the number of annotators");
    assert_eq!(experiment.len(), 4);
    assert!(svgs[4].contains("\nsingle worker\n"));

    let review = table_after(&html, "Items most worth more labels");
    assert_eq!(review.len(), 20);
    let entropy: Vec<f64> = review.iter().map(|r| r[3].parse().unwrap()).collect();
    assert!(entropy.windows(2).all(|w| w[0] >= w[1]), "{entropy:?}");
}

#[test]
fn report_without_gold_says_what_needs_gold() {
    let dir = tmp();
    let (labels, _) = generated(dir.path(), &["--items", "100", "--workers", "10"]);
    let page = dir.path().join("report.html");
    let figures = dir.path().join("figures");
    accord_ok(&[
        "report",
        labels.to_str().unwrap(),
        "--backend",
        "cpu",
        "-q",
        "--figures",
        figures.to_str().unwrap(),
        "--figure-format",
        "png",
        "-o",
        page.to_str().unwrap(),
    ]);
    let mut written: Vec<String> = std::fs::read_dir(&figures)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["class-distribution.png", "worker-accuracy.png"]);
    for name in &written {
        let bytes = std::fs::read(figures.join(name)).unwrap();
        assert!(
            png::Decoder::new(bytes.as_slice()).read_info().is_ok(),
            "{name}"
        );
    }
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("No gold labels given"));
    assert!(!html.contains("Error against the number of annotators"));
    let svgs = inlined_svgs(&html);
    assert_eq!(svgs.len(), 2, "class distribution and workers");
    assert!(
        svgs[1].contains("against the model&apos;s estimate")
            || svgs[1].contains("the model's estimate")
    );
}

#[test]
fn figures_are_png_by_extension_and_other_extensions_are_refused_up_front() {
    let dir = tmp();
    let (labels, gold) = generated(dir.path(), &["--items", "100", "--workers", "10"]);
    let figure = dir.path().join("error.png");
    let mut args = vec![
        "simulate",
        labels.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--max-annotators",
        "2",
        "--repeats",
        "2",
        "--backend",
        "cpu",
        "-q",
        "--plot",
    ];
    args.push(figure.to_str().unwrap());
    accord_ok(&args);
    let bytes = std::fs::read(&figure).unwrap();
    let reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (720, 480));

    let jpeg = dir.path().join("error.jpg");
    *args.last_mut().unwrap() = jpeg.to_str().unwrap();
    let out = accord(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".svg or .png"));
    assert!(!jpeg.exists());
}

#[test]
fn report_figures_read_at_the_page_text_size() {
    // The demo: ten classes, so three 10×10 heatmaps and ten bar groups.
    let birds = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/birds");
    let dir = tmp();
    let page = dir.path().join("report.html");
    accord_ok(&[
        "report",
        &format!("{birds}/labels.csv"),
        "--gold",
        &format!("{birds}/gold.csv"),
        "--backend",
        "cpu",
        "-q",
        "-o",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    // The page's body: its text size and the width of its text column.
    let body = html
        .split("body{")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    let px = |property: &str| -> f64 {
        let value = body.split(&format!("{property}:")).nth(1).unwrap();
        value.split("px").next().unwrap().parse().unwrap()
    };
    let (text_px, column) = (px("font-size"), px("max-width"));
    assert_eq!(text_px, 16.0);
    let svgs = inlined_svgs(&html);
    assert_eq!(svgs.len(), 5);
    for svg in &svgs {
        // An image wider than the column is shrunk to it, and its text
        // with it.
        let width: f64 = svg
            .split("width=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let scale = (column / width).min(1.0);
        let sizes: Vec<f64> = svg
            .split("font-size=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
            .collect();
        assert!(!sizes.is_empty());
        let smallest = sizes.iter().copied().fold(f64::INFINITY, f64::min) * scale;
        // Tick labels and cell values may be a little smaller than the
        // body text, as the captions (0.9 em) are; nothing smaller.
        assert!(
            smallest >= 0.875 * text_px,
            "text shown at {smallest:.1} px in a figure {width} px wide, beside {text_px} px body text"
        );
        assert!(width <= column, "a figure {width} px wide is shrunk");
    }
}

#[test]
fn a_report_over_budget_samples_its_experiment_and_says_so() {
    let dir = tmp();
    let (labels, gold) = generated(
        dir.path(),
        &["--items", "300", "--workers", "25", "--per-item", "4"],
    );
    let page = dir.path().join("report.html");
    let run = |budget: &str| {
        accord_ok(&[
            "report",
            labels.to_str().unwrap(),
            "--gold",
            gold.to_str().unwrap(),
            "--backend",
            "cpu",
            "--repeats",
            "4",
            "--experiment-budget",
            budget,
            "-q",
            "-o",
            page.to_str().unwrap(),
        ]);
        // Without the date line, which may change between two runs.
        let html = std::fs::read_to_string(&page).unwrap();
        html.split("<h2>").skip(1).collect::<Vec<_>>().join("<h2>")
    };
    // One repeat's subsamples hold 300 × (1 + 2 + 3 + 4) = 3,000
    // annotations: 4 repeats fit in 12,000; 10,000 leaves 3 repeats; 2,000
    // then 66 items.
    let html = run("12000");
    assert!(html.contains("drawn at random 4 times per r"), "{html}");
    assert!(!html.contains("To keep the experiment"));
    assert_eq!(html, run("none"));
    let html = run("10_000");
    assert!(html.contains("drawn at random 3 times per r"), "{html}");
    assert!(html.contains(
        "To keep the experiment within 10,000 annotations over all its subsamples, it draws 3 subsamples per r rather than 4."
    ));
    let html = run("2000");
    assert!(
        html.contains(
            "it runs on a random sample of 66 of the 300 items (66 of the 300 gold items)"
        ),
        "{html}"
    );
    assert_eq!(
        table_after(
            &format!("<h2>{html}"),
            "Error against the number of annotators"
        )
        .len(),
        4
    );
    let out = accord(&[
        "report",
        labels.to_str().unwrap(),
        "--experiment-budget",
        "lots",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

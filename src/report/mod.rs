//! What a person reads: figures ([`plot`], SVG or PNG), the
//! self-contained HTML page ([`html`]) and the report on a dataset
//! ([`dataset`]).

pub mod boxes;
pub mod dataset;
pub mod html;
pub mod plot;
pub mod segmentation;
pub mod spans;

pub use dataset::{dataset_report, ExperimentBudget, ReportOptions, Step};
pub use html::{escape, HtmlPage};

/// An integer with thousands separators, as the report prints every count:
/// `1234567` → `1,234,567`.
pub fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{sign}{digits}");
    }
    let mut out = String::with_capacity(sign.len() + digits.len() + digits.len() / 3);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn counts_get_a_comma_every_three_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567u64), "1,234,567");
        assert_eq!(thousands(100_000usize), "100,000");
        assert_eq!(thousands(-12_345i64), "-12,345");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}

//! Which items to send to more workers: those whose posterior is least
//! settled, for active-learning loops.

use crate::classification::Consolidation;
use crate::engine::pack::Packed;

/// How items are ranked for review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum ReviewBy {
    /// Highest posterior entropy first.
    #[default]
    Entropy,
    /// Smallest gap between the two most probable classes first.
    Margin,
}

/// One item's uncertainty.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemUncertainty {
    /// The item's dense id.
    pub item: usize,
    /// Entropy of the posterior in bits (0: certain; log2 K: uniform).
    pub entropy: f64,
    /// Posterior of the best class minus that of the second.
    pub margin: f64,
    /// Annotations the item has.
    pub annotations: usize,
}

/// Every item's uncertainty, most worth reviewing first (ties by item order).
pub fn rank_for_review(data: &Packed, fit: &Consolidation, by: ReviewBy) -> Vec<ItemUncertainty> {
    let mut items: Vec<ItemUncertainty> = (0..data.n_items())
        .map(|i| {
            let row = fit.posteriors.row(i);
            let entropy = row
                .iter()
                .filter(|&&p| p > 0.0)
                .map(|&p| -(p as f64) * (p as f64).log2())
                .sum::<f64>()
                .max(0.0);
            let (mut first, mut second) = (0f64, 0f64);
            for &p in row {
                let p = p as f64;
                if p > first {
                    (first, second) = (p, first);
                } else if p > second {
                    second = p;
                }
            }
            ItemUncertainty {
                item: i,
                entropy,
                margin: first - second,
                annotations: data.item_range(i).len(),
            }
        })
        .collect();
    match by {
        ReviewBy::Entropy => items.sort_by(|a, b| b.entropy.total_cmp(&a.entropy)),
        ReviewBy::Margin => items.sort_by(|a, b| a.margin.total_cmp(&b.margin)),
    }
    items
}

/// Writes the first `count` of `ranked` as CSV
/// `item,label,confidence,entropy,margin,annotations`.
pub fn write_review(
    out: &mut dyn std::io::Write,
    data: &Packed,
    fit: &Consolidation,
    ranked: &[ItemUncertainty],
    count: usize,
) -> std::io::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record([
        "item",
        "label",
        "confidence",
        "entropy",
        "margin",
        "annotations",
    ])?;
    for u in &ranked[..count.min(ranked.len())] {
        csv.write_record([
            data.item_names.get(u.item),
            &data.class_names[fit.labels[u.item] as usize],
            &format!("{:.6}", fit.confidence[u.item]),
            &format!("{:.6}", u.entropy),
            &format!("{:.6}", u.margin),
            &u.annotations.to_string(),
        ])?;
    }
    csv.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backend::cpu::CpuBackend;
    use crate::engine::pack::pack_triples;
    use crate::{classification::fit, classification::Method, classification::Params};

    #[test]
    fn a_split_item_comes_before_unanimous_ones() {
        let data = pack_triples(
            &[
                ("sure", "w1", "a"),
                ("sure", "w2", "a"),
                ("split", "w1", "a"),
                ("split", "w2", "b"),
                ("also-sure", "w1", "b"),
                ("also-sure", "w2", "b"),
            ],
            None,
        )
        .unwrap();
        let fit = fit(&data, &CpuBackend, &Params::new(Method::Mv), &mut |_, _| {}).unwrap();
        for by in [ReviewBy::Entropy, ReviewBy::Margin] {
            let ranked = rank_for_review(&data, &fit, by);
            assert_eq!(data.item_names.get(ranked[0].item), "split", "{by:?}");
            assert!((ranked[0].entropy - 1.0).abs() < 1e-6);
            assert!(ranked[0].margin.abs() < 1e-6);
            assert_eq!(ranked[2].entropy, 0.0);
            assert_eq!(ranked[2].margin, 1.0);
        }
    }
}

//! Synthetic crowd labels drawn from the Dawid-Skene model: seeded and
//! reproducible byte for byte, streamed through callbacks so huge sets need
//! little memory.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    pub items: usize,
    pub workers: usize,
    /// Class names; their number is K.
    pub classes: Vec<String>,
    /// Distinct workers per item.
    pub per_item: usize,
    /// Each worker's accuracy, drawn uniformly from this range unless
    /// `worker_accuracy` is given.
    pub accuracy_range: (f64, f64),
    /// Fixed accuracies, one per worker.
    pub worker_accuracy: Option<Vec<f64>>,
    /// Share of a wrong answer that goes to the item's look-alike class
    /// (`class ^ 1`, e.g. hawk for falcon) rather than a uniform other class.
    pub lookalike_share: f64,
    pub seed: u64,
}

impl SynthSpec {
    /// K classes named `0..K`.
    pub fn numbered(items: usize, workers: usize, k: usize, per_item: usize, seed: u64) -> Self {
        SynthSpec {
            items,
            workers,
            classes: (0..k).map(|c| c.to_string()).collect(),
            per_item,
            accuracy_range: (0.55, 0.95),
            worker_accuracy: None,
            lookalike_share: 0.0,
            seed,
        }
    }

    /// The demo set in `datasets/birds`: 300 images of 10 bird species, each
    /// labelled by 3 of 5 workers whose accuracies run from 0.92 down to 0.40;
    /// half of each worker's mistakes go to the species' look-alike.
    pub fn birds() -> Self {
        let classes = [
            "owl", "falcon", "hawk", "eagle", "parrot", "macaw", "heron", "stork", "sparrow",
            "finch",
        ];
        SynthSpec {
            items: 300,
            workers: 5,
            classes: classes.iter().map(|c| c.to_string()).collect(),
            per_item: 3,
            accuracy_range: (0.0, 1.0),
            worker_accuracy: Some(vec![0.92, 0.85, 0.75, 0.60, 0.40]),
            lookalike_share: 0.5,
            seed: 2019,
        }
    }

    fn validate(&self) -> Result<()> {
        let k = self.classes.len();
        if k < 2 {
            return Err(Error::Usage("at least 2 classes are needed".into()));
        }
        if self.per_item == 0 || self.per_item > self.workers {
            return Err(Error::Usage(format!(
                "--per-item must be between 1 and --workers ({}), not {}",
                self.workers, self.per_item
            )));
        }
        let (lo, hi) = self.accuracy_range;
        if !(0.0..=1.0).contains(&lo) || !(0.0..=1.0).contains(&hi) || lo > hi {
            return Err(Error::Usage(format!(
                "accuracy range {lo}..{hi} must lie within 0..1 and be ordered"
            )));
        }
        if let Some(a) = &self.worker_accuracy {
            if a.len() != self.workers {
                return Err(Error::Usage("one accuracy per worker is needed".into()));
            }
        }
        Ok(())
    }
}

/// Generates the set: `gold(item, class)` once per item, then
/// `annotation(item, worker, label)` for each of its annotations.
pub fn generate(
    spec: &SynthSpec,
    mut gold: impl FnMut(usize, usize) -> std::io::Result<()>,
    mut annotation: impl FnMut(usize, usize, usize) -> std::io::Result<()>,
) -> Result<()> {
    spec.validate()?;
    let k = spec.classes.len();
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let accuracy: Vec<f64> = match &spec.worker_accuracy {
        Some(a) => a.clone(),
        None => (0..spec.workers)
            .map(|_| rng.gen_range(spec.accuracy_range.0..=spec.accuracy_range.1))
            .collect(),
    };
    let io = |e: std::io::Error| Error::Write {
        path: "<generate>".into(),
        source: e,
    };
    for item in 0..spec.items {
        let truth = rng.gen_range(0..k);
        gold(item, truth).map_err(io)?;
        for worker in sample(&mut rng, spec.workers, spec.per_item) {
            let label = if rng.gen_bool(accuracy[worker]) {
                truth
            } else if (truth ^ 1) < k && rng.gen_bool(spec.lookalike_share) {
                truth ^ 1
            } else {
                // A uniform other class.
                let other = rng.gen_range(0..k - 1);
                if other >= truth {
                    other + 1
                } else {
                    other
                }
            };
            annotation(item, worker, label).map_err(io)?;
        }
    }
    Ok(())
}

/// Writes `dir/labels.csv` (item,worker,label), streamed, and `dir/gold.csv`
/// (item,label), each atomically. Items are named `item-N`, workers `w-N`.
pub fn write_csv_dataset(spec: &SynthSpec, dir: &std::path::Path) -> Result<()> {
    use std::io::Write;
    spec.validate()?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.into(),
        source,
    })?;
    let width = spec.items.saturating_sub(1).to_string().len();
    let mut gold = b"item,label\n".to_vec();
    crate::io::write_atomic(&dir.join("labels.csv"), |out| {
        writeln!(out, "item,worker,label")?;
        generate(
            spec,
            |i, c| writeln!(gold, "item-{i:0width$},{}", spec.classes[c]),
            |i, w, l| writeln!(out, "item-{i:0width$},w-{w},{}", spec.classes[l]),
        )
        .map_err(std::io::Error::other)
    })?;
    crate::io::write_atomic(&dir.join("gold.csv"), |out| out.write_all(&gold))
}

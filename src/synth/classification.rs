//! Synthetic crowd labels drawn from the Dawid-Skene model: seeded and
//! reproducible byte for byte, streamed through callbacks so huge sets need
//! little memory.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, WeightedAliasIndex};

use crate::error::{Error, Result};

/// How worker accuracies are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum AccuracyDist {
    /// Uniform on [lo, hi].
    Uniform(f64, f64),
    /// Beta(a, b): e.g. Beta(8, 2) has mean 0.8 with a tail of weak workers.
    Beta(f64, f64),
    /// One accuracy per worker.
    Fixed(Vec<f64>),
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// Number of items.
    pub items: usize,
    /// Number of workers.
    pub workers: usize,
    /// Class names; their number is K.
    pub classes: Vec<String>,
    /// Distinct workers per item.
    pub per_item: usize,
    /// How the workers' accuracies are drawn.
    pub accuracy: AccuracyDist,
    /// Share of workers who answer uniformly at random.
    pub spammers: f64,
    /// Share of workers who, with their accuracy's probability, give the
    /// class after the true one instead of it.
    pub adversarial: f64,
    /// Class priors ∝ 1/(c+1)^class_skew (0: uniform).
    pub class_skew: f64,
    /// Worker w is chosen with weight ∝ 1/(w+1)^load_skew (0: uniform): a few
    /// workers label most items.
    pub load_skew: f64,
    /// Share of an honest worker's mistakes that go to the item's look-alike
    /// class (`class ^ 1`, e.g. hawk for falcon) rather than a uniform other.
    pub lookalike_share: f64,
    /// Seed of the random draws.
    pub seed: u64,
}

impl SynthSpec {
    /// K classes named `0..K`, accuracies uniform on [0.55, 0.95], no
    /// spammers, uniform classes and loads.
    pub fn numbered(items: usize, workers: usize, k: usize, per_item: usize, seed: u64) -> Self {
        SynthSpec {
            items,
            workers,
            classes: (0..k).map(|c| c.to_string()).collect(),
            per_item,
            accuracy: AccuracyDist::Uniform(0.55, 0.95),
            spammers: 0.0,
            adversarial: 0.0,
            class_skew: 0.0,
            load_skew: 0.0,
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
            classes: classes.iter().map(|c| c.to_string()).collect(),
            accuracy: AccuracyDist::Fixed(vec![0.92, 0.85, 0.75, 0.60, 0.40]),
            lookalike_share: 0.5,
            ..SynthSpec::numbered(300, 5, 10, 3, 2019)
        }
    }

    /// Checks the numbers, with messages naming the flags.
    pub fn validate(&self) -> Result<()> {
        let k = self.classes.len();
        let usage = |m: String| Err(Error::Usage(m));
        if k < 2 {
            return usage("`classes` must be at least 2".into());
        }
        if self.per_item == 0 || self.per_item > self.workers {
            return usage(format!(
                "`per_item` must be between 1 and `workers` ({}), not {}",
                self.workers, self.per_item
            ));
        }
        let share = |x: f64| (0.0..=1.0).contains(&x);
        if !share(self.spammers)
            || !share(self.adversarial)
            || self.spammers + self.adversarial > 1.0
        {
            return usage(
                "`spammers` and `adversarial` are shares in [0, 1] that add up to at most 1".into(),
            );
        }
        if !(self.class_skew >= 0.0 && self.load_skew >= 0.0) {
            return usage("`class_skew` and `load_skew` must be ≥ 0".into());
        }
        match &self.accuracy {
            AccuracyDist::Uniform(lo, hi) if !(share(*lo) && share(*hi) && lo <= hi) => usage(
                format!("accuracy range {lo},{hi} must lie within 0..1 and be ordered"),
            ),
            AccuracyDist::Beta(a, b) if !(*a > 0.0 && *b > 0.0) => {
                usage(format!("Beta({a}, {b}) needs a, b > 0"))
            }
            AccuracyDist::Fixed(a) if a.len() != self.workers => {
                usage("one accuracy per worker is needed".into())
            }
            _ => Ok(()),
        }
    }
}

/// How a simulated worker answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Behaviour {
    Honest,
    Spammer,
    Adversarial,
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
    // Draws only happen for options in use, so the defaults keep the byte
    // stream of earlier versions (datasets/birds is checked by a test).
    let accuracy: Vec<f64> = match &spec.accuracy {
        AccuracyDist::Fixed(a) => a.clone(),
        AccuracyDist::Uniform(lo, hi) => (0..spec.workers)
            .map(|_| rng.gen_range(*lo..=*hi))
            .collect(),
        AccuracyDist::Beta(a, b) => {
            let beta =
                Beta::new(*a, *b).map_err(|e| Error::Usage(format!("Beta({a}, {b}): {e}")))?;
            (0..spec.workers).map(|_| beta.sample(&mut rng)).collect()
        }
    };
    let behaviour: Vec<Behaviour> = if spec.spammers + spec.adversarial > 0.0 {
        (0..spec.workers)
            .map(|_| {
                let u: f64 = rng.gen();
                if u < spec.spammers {
                    Behaviour::Spammer
                } else if u < spec.spammers + spec.adversarial {
                    Behaviour::Adversarial
                } else {
                    Behaviour::Honest
                }
            })
            .collect()
    } else {
        vec![Behaviour::Honest; spec.workers]
    };
    let class_dist = if spec.class_skew > 0.0 {
        let weights: Vec<f64> = (0..k)
            .map(|c| (c as f64 + 1.0).powf(-spec.class_skew))
            .collect();
        Some(
            WeightedAliasIndex::new(weights)
                .map_err(|e| Error::Usage(format!("`class_skew`: {e}")))?,
        )
    } else {
        None
    };
    let load_dist = if spec.load_skew > 0.0 {
        let weights: Vec<f64> = (0..spec.workers)
            .map(|w| (w as f64 + 1.0).powf(-spec.load_skew))
            .collect();
        Some(
            WeightedAliasIndex::new(weights)
                .map_err(|e| Error::Usage(format!("`load_skew`: {e}")))?,
        )
    } else {
        None
    };
    let io = |e: std::io::Error| Error::Write {
        path: "<generate>".into(),
        source: e,
    };
    let mut chosen: Vec<usize> = Vec::with_capacity(spec.per_item);
    for item in 0..spec.items {
        let truth = match &class_dist {
            Some(d) => d.sample(&mut rng),
            None => rng.gen_range(0..k),
        };
        gold(item, truth).map_err(io)?;
        chosen.clear();
        match &load_dist {
            None => chosen.extend(sample(&mut rng, spec.workers, spec.per_item)),
            Some(d) => {
                // Weighted draws without repeats; after many rejections (a
                // per-item count close to the number of workers) the rest is
                // filled uniformly.
                let mut attempts = 0;
                while chosen.len() < spec.per_item && attempts < 64 * spec.per_item {
                    let w = d.sample(&mut rng);
                    if !chosen.contains(&w) {
                        chosen.push(w);
                    }
                    attempts += 1;
                }
                while chosen.len() < spec.per_item {
                    let w = rng.gen_range(0..spec.workers);
                    if !chosen.contains(&w) {
                        chosen.push(w);
                    }
                }
            }
        }
        for &worker in &chosen {
            let label = match behaviour[worker] {
                Behaviour::Spammer => rng.gen_range(0..k),
                Behaviour::Adversarial if rng.gen_bool(accuracy[worker]) => (truth + 1) % k,
                Behaviour::Adversarial => rng.gen_range(0..k),
                Behaviour::Honest if rng.gen_bool(accuracy[worker]) => truth,
                Behaviour::Honest if (truth ^ 1) < k && rng.gen_bool(spec.lookalike_share) => {
                    truth ^ 1
                }
                Behaviour::Honest => {
                    // A uniform other class.
                    let other = rng.gen_range(0..k - 1);
                    if other >= truth {
                        other + 1
                    } else {
                        other
                    }
                }
            };
            annotation(item, worker, label).map_err(io)?;
        }
    }
    Ok(())
}

/// File formats `accord generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum SynthFormat {
    /// labels.csv: item,worker,label
    #[default]
    Csv,
    /// labels.jsonl: {"item", "worker", "label"} per line
    Jsonl,
}

/// Writes `dir/labels.csv` (or `labels.jsonl`) and `dir/gold.csv`, both
/// streamed and atomic. Items are named `item-N`, workers `w-N`. Returns the
/// labels file's path.
pub fn write_dataset(
    spec: &SynthSpec,
    dir: &std::path::Path,
    format: SynthFormat,
) -> Result<std::path::PathBuf> {
    spec.validate()?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.into(),
        source,
    })?;
    let width = spec.items.saturating_sub(1).to_string().len();
    let labels_path = dir.join(match format {
        SynthFormat::Csv => "labels.csv",
        SynthFormat::Jsonl => "labels.jsonl",
    });
    let mut labels = crate::io::AtomicFile::create(&labels_path)?;
    let mut gold = crate::io::AtomicFile::create(&dir.join("gold.csv"))?;
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    if format == SynthFormat::Csv {
        writeln!(labels.writer(), "item,worker,label").map_err(io(&labels_path))?;
    }
    writeln!(gold.writer(), "item,label").map_err(io(&dir.join("gold.csv")))?;
    {
        let (lw, gw) = (labels.writer(), gold.writer());
        generate(
            spec,
            |i, c| writeln!(gw, "item-{i:0width$},{}", spec.classes[c]),
            |i, w, l| match format {
                SynthFormat::Csv => writeln!(lw, "item-{i:0width$},w-{w},{}", spec.classes[l]),
                SynthFormat::Jsonl => writeln!(
                    lw,
                    "{{\"item\":\"item-{i:0width$}\",\"worker\":\"w-{w}\",\"label\":{:?}}}",
                    spec.classes[l]
                ),
            },
        )?;
    }
    // Both files or neither, even when interrupted between them.
    crate::io::commit_all(vec![labels, gold])?;
    Ok(labels_path)
}

/// Writes `dir/labels.csv` and `dir/gold.csv`.
pub fn write_csv_dataset(spec: &SynthSpec, dir: &std::path::Path) -> Result<()> {
    write_dataset(spec, dir, SynthFormat::Csv).map(|_| ())
}

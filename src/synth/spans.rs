//! Synthetic named-entity data: texts of random words with gold entities,
//! and simulated workers who miss entities, cut or stretch their
//! boundaries by a word, give wrong labels and mark spurious spans, each
//! at their own rates. Seeded: the same spec gives the same bytes, whatever
//! the number of threads.
//!
//! Files: `texts.jsonl` (`{"item","text"}`), `responses.csv`
//! (`item,worker`, every answer), `spans.csv` (`item,worker,start,end,label`)
//! and `gold.csv` (`item,start,end,label`), offsets in code points.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSpec {
    /// Number of texts.
    pub texts: usize,
    /// Words per text.
    pub words: usize,
    /// Size of the worker pool.
    pub workers: usize,
    /// Distinct workers per text.
    pub per_text: usize,
    /// Entity labels (named `L0`, `L1`, ...).
    pub labels: usize,
    /// Chance that a word outside an entity starts one.
    pub entity_rate: f64,
    /// Seed.
    pub seed: u64,
}

impl SpanSpec {
    /// `texts` texts of 12 words, 5 workers each from a pool of
    /// `texts / 1000` (20 to 10,000), 4 labels, entity rate 0.12.
    pub fn new(texts: usize, seed: u64) -> Self {
        SpanSpec {
            texts,
            words: 12,
            workers: (texts / 1000).clamp(20, 10_000),
            per_text: 5,
            labels: 4,
            entity_rate: 0.12,
            seed,
        }
    }

    /// Checks the counts.
    pub fn validate(&self) -> Result<()> {
        if self.per_text > self.workers {
            return Err(Error::Usage(format!(
                "{} workers per text from a pool of {}: raise the pool or lower the count",
                self.per_text, self.workers
            )));
        }
        if self.labels == 0 || self.words == 0 || self.workers == 0 {
            return Err(Error::Usage(
                "labels, words and workers must be at least 1".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.entity_rate) {
            return Err(Error::Usage(format!(
                "entity rate {} is not in [0, 1]",
                self.entity_rate
            )));
        }
        Ok(())
    }
}

/// One simulated worker's habits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpanWorker {
    /// Chance of marking a true entity at all.
    pub recall: f64,
    /// Chance that a marked entity's boundary is off by a word.
    pub boundary: f64,
    /// Chance that a marked entity gets a wrong label.
    pub wrong_label: f64,
    /// Chance per word outside an entity of starting a spurious span.
    pub spurious: f64,
}

fn worker_habits(spec: &SpanSpec) -> Vec<SpanWorker> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x5be1_7e55);
    (0..spec.workers)
        .map(|_| {
            // A skill in [0, 1]; a tenth of the workers are careless.
            let skill: f64 = if rng.gen_bool(0.1) {
                rng.gen_range(0.0..0.3)
            } else {
                rng.gen_range(0.4..1.0)
            };
            let bad = 1.0 - skill;
            SpanWorker {
                recall: 0.35 + 0.6 * skill,
                boundary: 0.05 + 0.35 * bad * rng.gen_range(0.5..1.5),
                wrong_label: 0.02 + 0.25 * bad * rng.gen_range(0.5..1.5),
                spurious: 0.005 + 0.06 * bad * rng.gen_range(0.5..1.5),
            }
        })
        .collect()
}

/// Texts generated per block: a block is drawn from its own seeded stream.
const BLOCK: usize = 4096;

/// The four files' bytes for one block of texts.
#[derive(Default)]
struct Block {
    texts: Vec<u8>,
    responses: Vec<u8>,
    spans: Vec<u8>,
    gold: Vec<u8>,
}

fn generate_block(spec: &SpanSpec, habits: &[SpanWorker], block: usize) -> Block {
    let mut rng =
        ChaCha8Rng::seed_from_u64(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ block as u64);
    let mut out = Block::default();
    let first = block * BLOCK;
    let last = (first + BLOCK).min(spec.texts);
    let mut words: Vec<(u32, u32)> = Vec::with_capacity(spec.words);
    let mut text = String::new();
    let mut gold: Vec<(usize, usize, usize)> = Vec::new();
    let mut chosen: Vec<usize> = Vec::with_capacity(spec.per_text);
    let mut marks: Vec<(usize, usize, usize)> = Vec::new();
    for item in first..last {
        text.clear();
        words.clear();
        for k in 0..spec.words {
            if k > 0 {
                text.push(' ');
            }
            let start = text.len() as u32; // ASCII: bytes are code points
            let len = rng.gen_range(2..8);
            for c in 0..len {
                let letter = (b'a' + rng.gen_range(0..26)) as char;
                text.push(if c == 0 && rng.gen_bool(0.3) {
                    letter.to_ascii_uppercase()
                } else {
                    letter
                });
            }
            words.push((start, start + len));
        }
        // Gold entities: word ranges [a, b) with a label, a word apart.
        gold.clear();
        let mut w = 0;
        while w < spec.words {
            if rng.gen_bool(spec.entity_rate) {
                let mut len = 1;
                while len < 4 && rng.gen_bool(0.4) {
                    len += 1;
                }
                let end = (w + len).min(spec.words);
                gold.push((w, end, rng.gen_range(0..spec.labels)));
                w = end + 1;
            } else {
                w += 1;
            }
        }
        let id = format!("t{item}");
        out.texts.extend_from_slice(b"{\"item\":\"");
        out.texts.extend_from_slice(id.as_bytes());
        out.texts.extend_from_slice(b"\",\"text\":\"");
        out.texts.extend_from_slice(text.as_bytes());
        out.texts.extend_from_slice(b"\"}\n");
        for &(a, b, l) in &gold {
            let _ = writeln!(out.gold, "{id},{},{},L{l}", words[a].0, words[b - 1].1);
        }
        chosen.clear();
        while chosen.len() < spec.per_text {
            let c = rng.gen_range(0..spec.workers);
            if !chosen.contains(&c) {
                chosen.push(c);
            }
        }
        for &worker in &chosen {
            let h = habits[worker];
            let _ = writeln!(out.responses, "{id},w{worker}");
            marks.clear();
            for &(a, b, l) in &gold {
                if !rng.gen_bool(h.recall) {
                    continue;
                }
                let (mut a, mut b) = (a, b);
                if rng.gen_bool(h.boundary) {
                    match rng.gen_range(0..4) {
                        0 if b - a > 1 => b -= 1,
                        1 if b - a > 1 => a += 1,
                        2 if b < spec.words => b += 1,
                        3 if a > 0 => a -= 1,
                        _ => {}
                    }
                }
                let label = if rng.gen_bool(h.wrong_label) && spec.labels > 1 {
                    (l + rng.gen_range(1..spec.labels)) % spec.labels
                } else {
                    l
                };
                marks.push((a, b, label));
            }
            for k in 0..spec.words {
                if gold.iter().all(|&(a, b, _)| k < a || k >= b) && rng.gen_bool(h.spurious) {
                    let end = (k + rng.gen_range(1..3)).min(spec.words);
                    marks.push((k, end, rng.gen_range(0..spec.labels)));
                }
            }
            // A worker's own spans never overlap: the first kept wins.
            marks.sort_unstable();
            let mut until = 0;
            for &(a, b, l) in &marks {
                if a < until {
                    continue;
                }
                until = b;
                let _ = writeln!(
                    out.spans,
                    "{id},w{worker},{},{},L{l}",
                    words[a].0,
                    words[b - 1].1
                );
            }
        }
    }
    out
}

/// Writes the set into `dir` (made if missing); returns the spans file.
pub fn write_span_dataset(spec: &SpanSpec, dir: &Path) -> Result<PathBuf> {
    spec.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.into(),
        source: e,
    })?;
    let habits = worker_habits(spec);
    let names = ["texts.jsonl", "responses.csv", "spans.csv", "gold.csv"];
    let mut files = Vec::new();
    for name in names {
        files.push(crate::io::AtomicFile::create(&dir.join(name))?);
    }
    let write_err = |name: &str, e| Error::Write {
        path: dir.join(name),
        source: e,
    };
    for (file, header) in files[1..].iter_mut().zip([
        &b"item,worker\n"[..],
        b"item,worker,start,end,label\n",
        b"item,start,end,label\n",
    ]) {
        file.writer()
            .write_all(header)
            .map_err(|e| write_err("header", e))?;
    }
    let blocks = spec.texts.div_ceil(BLOCK);
    let batch = rayon::current_num_threads().max(1) * 4;
    for start in (0..blocks).step_by(batch) {
        let parts: Vec<Block> = (start..(start + batch).min(blocks))
            .into_par_iter()
            .map(|b| generate_block(spec, &habits, b))
            .collect();
        for part in parts {
            for (k, bytes) in [part.texts, part.responses, part.spans, part.gold]
                .iter()
                .enumerate()
            {
                files[k]
                    .writer()
                    .write_all(bytes)
                    .map_err(|e| write_err(names[k], e))?;
            }
        }
    }
    crate::io::commit_all(files)?;
    Ok(dir.join("spans.csv"))
}

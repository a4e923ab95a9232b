//! Generated box jobs with gold: images holding objects, and workers who
//! miss objects, draw false positives and jitter their boxes, each at
//! their own rate. Objects differ in how hard they are to see.

use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};

use crate::boxes::{BoxBuilder, BoxData, Rect};
use crate::error::{Error, Result};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxSpec {
    /// Images.
    pub images: usize,
    /// Image width and height in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Workers in the pool.
    pub workers: usize,
    /// Workers per image (distinct, drawn from the pool).
    pub per_image: usize,
    /// Mean objects per image (Poisson); images with none occur.
    pub objects: f64,
    /// Classes, named `class0`, `class1`, ...
    pub classes: usize,
    /// Seed: the same spec and seed give the same data.
    pub seed: u64,
}

impl Default for BoxSpec {
    fn default() -> Self {
        BoxSpec {
            images: 1000,
            width: 1280,
            height: 720,
            workers: 20,
            per_image: 5,
            objects: 5.0,
            classes: 1,
            seed: 0,
        }
    }
}

/// One generated worker.
#[derive(Debug, Clone, Copy)]
struct Worker {
    recall: f64,
    false_positives: f64,
    jitter: f64,
    class_accuracy: f64,
}

/// One generated answer: image, worker, and its boxes as (class, box).
pub type Answer = (u32, u32, Vec<(u32, Rect)>);

/// A generated job: gold boxes per image, and every worker answer.
#[derive(Debug, Clone, Default)]
pub struct BoxSynth {
    /// Image ids (`img0`, ...).
    pub images: Vec<String>,
    /// Gold boxes per image: (class, box).
    pub gold: Vec<Vec<(u32, Rect)>>,
    /// Answers: (image, worker, boxes as (class, box)).
    pub answers: Vec<Answer>,
    /// Class names.
    pub classes: Vec<String>,
}

fn random_box(rng: &mut ChaCha8Rng, w: f64, h: f64) -> Rect {
    // Pedestrian-like: tall boxes, heights spread over a decade.
    let height = (h * 0.04) * 10f64.powf(rng.gen::<f64>());
    let width = height * rng.gen_range(0.3..0.7);
    let left = rng.gen_range(0.0..(w - width).max(1.0));
    let top = rng.gen_range(0.0..(h - height).max(1.0));
    Rect::from_ltwh(left, top, width, height)
}

/// Generates a job from `spec`.
pub fn generate_boxes(spec: &BoxSpec) -> Result<BoxSynth> {
    if spec.images == 0 || spec.workers == 0 || spec.per_image == 0 || spec.classes == 0 {
        return Err(Error::Usage(
            "`images`, `workers`, `per_item` and `classes` must be positive".into(),
        ));
    }
    if spec.per_image > spec.workers {
        return Err(Error::Usage(format!(
            "`per_item` {} is more than the {} workers",
            spec.per_image, spec.workers
        )));
    }
    if !(spec.objects.is_finite() && spec.objects >= 0.0) || spec.width < 16 || spec.height < 16 {
        return Err(Error::Usage(
            "`objects` must be ≥ 0 and `size` at least 16x16".into(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let workers: Vec<Worker> = (0..spec.workers)
        .map(|_| Worker {
            recall: rng.gen_range(0.6..0.98),
            false_positives: rng.gen_range(0.0..0.3),
            jitter: rng.gen_range(0.02..0.12),
            class_accuracy: rng.gen_range(0.8..1.0),
        })
        .collect();
    let (w, h) = (spec.width as f64, spec.height as f64);
    let objects = Poisson::new(spec.objects.max(1e-9)).expect("positive mean");
    let unit = Normal::new(0.0, 1.0).expect("valid normal");
    let mut out = BoxSynth {
        classes: (0..spec.classes).map(|c| format!("class{c}")).collect(),
        ..BoxSynth::default()
    };
    for image in 0..spec.images {
        out.images.push(format!("img{image}"));
        let n = if spec.objects > 0.0 {
            objects.sample(&mut rng) as usize
        } else {
            0
        };
        let gold: Vec<(u32, Rect, f64)> = (0..n)
            .map(|_| {
                let class = rng.gen_range(0..spec.classes) as u32;
                // A quarter of the objects are hard to see: every worker
                // misses them more often.
                let visibility = if rng.gen::<f64>() < 0.25 { 0.5 } else { 1.0 };
                (class, random_box(&mut rng, w, h), visibility)
            })
            .collect();
        let chosen = rand::seq::index::sample(&mut rng, spec.workers, spec.per_image);
        for worker in chosen.iter() {
            let k = workers[worker];
            let mut boxes = Vec::new();
            for &(class, g, visibility) in &gold {
                if rng.gen::<f64>() >= k.recall * visibility {
                    continue;
                }
                let (gw, gh) = (g.width(), g.height());
                let c = g.corners();
                let mut jittered = [
                    c[0] + k.jitter * gw * unit.sample(&mut rng),
                    c[1] + k.jitter * gh * unit.sample(&mut rng),
                    c[2] + k.jitter * gw * unit.sample(&mut rng),
                    c[3] + k.jitter * gh * unit.sample(&mut rng),
                ];
                jittered[0] = jittered[0].clamp(0.0, w - 1.0);
                jittered[1] = jittered[1].clamp(0.0, h - 1.0);
                jittered[2] = jittered[2].clamp(jittered[0] + 1.0, w);
                jittered[3] = jittered[3].clamp(jittered[1] + 1.0, h);
                let given = if spec.classes > 1 && rng.gen::<f64>() >= k.class_accuracy {
                    (class + rng.gen_range(1..spec.classes as u32)) % spec.classes as u32
                } else {
                    class
                };
                boxes.push((given, Rect::from_corners(jittered)));
            }
            let spurious = Poisson::new(k.false_positives.max(1e-9)).expect("positive mean");
            for _ in 0..spurious.sample(&mut rng) as usize {
                let class = rng.gen_range(0..spec.classes) as u32;
                boxes.push((class, random_box(&mut rng, w, h)));
            }
            out.answers.push((image as u32, worker as u32, boxes));
        }
        out.gold
            .push(gold.into_iter().map(|(c, r, _)| (c, r)).collect());
    }
    Ok(out)
}

impl BoxSynth {
    /// The answers as a [`BoxData`] (workers named `w0`, `w1`, ...).
    pub fn to_data(&self, width: u32, height: u32) -> BoxData {
        let mut builder = BoxBuilder::new(Some(&self.classes));
        for image in &self.images {
            builder
                .set_size(image, width, height)
                .expect("one size per image");
        }
        for (image, worker, boxes) in &self.answers {
            let (image, worker) = (&self.images[*image as usize], format!("w{worker}"));
            builder
                .answer(image, &worker)
                .expect("one answer per worker and image");
            for (class, rect) in boxes {
                builder
                    .add_box(image, &worker, &self.classes[*class as usize], *rect)
                    .expect("generated boxes are valid");
            }
        }
        builder.finish()
    }
}

fn ltwh(r: &Rect) -> String {
    format!("{:.1},{:.1},{:.1},{:.1}", r.x1, r.y1, r.width(), r.height())
}

/// Writes `spec`'s job into `dir` in the layout of the shared box sets:
/// `boxes.csv`, `responses.csv`, `images.csv`, `gold.csv`, `gold_images.csv`.
/// All five are committed together.
pub fn write_box_dataset(spec: &BoxSpec, dir: &Path) -> Result<()> {
    let synth = generate_boxes(spec)?;
    let mut outputs = crate::io::OutputSet::new();
    let names = [
        "boxes.csv",
        "responses.csv",
        "images.csv",
        "gold.csv",
        "gold_images.csv",
    ];
    for name in names {
        outputs.add(&dir.join(name))?;
    }
    let buffered = |out: &mut dyn Write, fill: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| {
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, out);
        fill(&mut buf)?;
        buf.flush()
    };
    outputs.write(&dir.join("boxes.csv"), |out| {
        buffered(out, &|o| {
            writeln!(o, "item,worker,label,left,top,width,height")?;
            for (image, worker, boxes) in &synth.answers {
                for (class, r) in boxes {
                    writeln!(
                        o,
                        "{},w{worker},{},{}",
                        synth.images[*image as usize],
                        synth.classes[*class as usize],
                        ltwh(r)
                    )?;
                }
            }
            Ok(())
        })
    })?;
    outputs.write(&dir.join("responses.csv"), |out| {
        buffered(out, &|o| {
            writeln!(o, "item,worker,n_boxes")?;
            for (image, worker, boxes) in &synth.answers {
                writeln!(
                    o,
                    "{},w{worker},{}",
                    synth.images[*image as usize],
                    boxes.len()
                )?;
            }
            Ok(())
        })
    })?;
    outputs.write(&dir.join("images.csv"), |out| {
        buffered(out, &|o| {
            writeln!(o, "item,width,height")?;
            for image in &synth.images {
                writeln!(o, "{image},{},{}", spec.width, spec.height)?;
            }
            Ok(())
        })
    })?;
    outputs.write(&dir.join("gold.csv"), |out| {
        buffered(out, &|o| {
            writeln!(o, "item,label,left,top,width,height")?;
            for (image, gold) in synth.images.iter().zip(&synth.gold) {
                for (class, r) in gold {
                    writeln!(o, "{image},{},{}", synth.classes[*class as usize], ltwh(r))?;
                }
            }
            Ok(())
        })
    })?;
    outputs.write(&dir.join("gold_images.csv"), |out| {
        buffered(out, &|o| {
            writeln!(o, "item,n_boxes")?;
            for (image, gold) in synth.images.iter().zip(&synth.gold) {
                writeln!(o, "{image},{}", gold.len())?;
            }
            Ok(())
        })
    })?;
    outputs.commit()
}

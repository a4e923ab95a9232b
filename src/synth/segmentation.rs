//! Synthetic segmentation data: scenes of shapes of several classes on a
//! background, and simulated workers of different skill who trace them with
//! boundary jitter, missed objects, wrong classes, coarse polygons and
//! stray pixels. Seeded: the same spec gives the same masks.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SegSpec {
    /// Number of images.
    pub images: usize,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Workers per image (each image gets all of them).
    pub workers: usize,
    /// Classes including background (class 0).
    pub classes: usize,
    /// Shapes per image.
    pub shapes: usize,
    /// Seed of the whole set; image `i` is drawn from it and `i`.
    pub seed: u64,
}

/// One simulated worker's habits; a skill of 1 is a perfect worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerHabits {
    /// Skill in [0, 1].
    pub skill: f64,
    /// Boundary error, in pixels (standard deviation of each vertex's offset).
    pub jitter: f64,
    /// Chance of leaving an object out.
    pub miss: f64,
    /// Chance of giving an object a wrong class.
    pub wrong_class: f64,
    /// Vertices of the polygon the worker traces a round shape with.
    pub polygon_sides: u32,
    /// Chance of each pixel being a stray of a random class.
    pub stray_pixels: f64,
}

impl WorkerHabits {
    /// Habits that worsen together as skill falls.
    pub fn of_skill(skill: f64) -> Self {
        let s = skill.clamp(0.0, 1.0);
        let bad = 1.0 - s;
        WorkerHabits {
            skill: s,
            jitter: 0.5 + 6.0 * bad,
            miss: 0.4 * bad,
            wrong_class: 0.4 * bad,
            polygon_sides: (4.0 + 20.0 * s).round() as u32,
            stray_pixels: 0.01 + 0.25 * bad,
        }
    }
}

/// A shape of the scene: a disc or an axis-aligned rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    class: u8,
    cx: f64,
    cy: f64,
    /// Radius of a disc, or half-sizes of a rectangle.
    rx: f64,
    ry: f64,
    disc: bool,
}

/// One generated image: its gold mask and each worker's mask.
#[derive(Debug, Clone)]
pub struct SegSample {
    /// The true class id per pixel, row-major.
    pub gold: Vec<u8>,
    /// Each worker's mask, in the order of the habits, row-major.
    pub masks: Vec<Vec<u8>>,
}

/// The habits of each of the spec's workers: skills spread from 0.95 down
/// to 0.25, so the batch holds good, middling and poor workers.
pub fn worker_habits(spec: &SegSpec) -> Vec<WorkerHabits> {
    (0..spec.workers)
        .map(|w| {
            let t = if spec.workers > 1 {
                w as f64 / (spec.workers - 1) as f64
            } else {
                0.0
            };
            WorkerHabits::of_skill(0.95 - 0.7 * t)
        })
        .collect()
}

/// Generates image `index` of the spec (independent of the others, so
/// images can be made in parallel and streamed).
pub fn sample(spec: &SegSpec, habits: &[WorkerHabits], index: usize) -> SegSample {
    let mut rng =
        ChaCha8Rng::seed_from_u64(spec.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let (w, h) = (spec.width as f64, spec.height as f64);
    let shapes: Vec<Shape> = (0..spec.shapes)
        .map(|_| {
            let size = w.min(h);
            Shape {
                class: rng.gen_range(1..spec.classes.max(2)) as u8,
                cx: rng.gen_range(0.1..0.9) * w,
                cy: rng.gen_range(0.1..0.9) * h,
                rx: rng.gen_range(0.06..0.2) * size,
                ry: rng.gen_range(0.06..0.2) * size,
                disc: rng.gen_bool(0.5),
            }
        })
        .collect();
    let gold = render(spec, &shapes, None);
    let masks = habits
        .iter()
        .map(|habit| {
            let mut traced = Vec::with_capacity(shapes.len());
            for s in &shapes {
                if rng.gen_bool(habit.miss) {
                    continue;
                }
                let mut t = *s;
                if rng.gen_bool(habit.wrong_class) && spec.classes > 2 {
                    t.class = rng.gen_range(1..spec.classes) as u8;
                }
                let j = habit.jitter;
                t.cx += normal(&mut rng) * j;
                t.cy += normal(&mut rng) * j;
                t.rx = (t.rx + normal(&mut rng) * j).max(1.0);
                t.ry = (t.ry + normal(&mut rng) * j).max(1.0);
                traced.push(t);
            }
            let mut mask = render(spec, &traced, Some(habit.polygon_sides));
            for pixel in mask.iter_mut() {
                if rng.gen_bool(habit.stray_pixels) {
                    *pixel = rng.gen_range(0..spec.classes) as u8;
                }
            }
            mask
        })
        .collect();
    SegSample { gold, masks }
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    let v: f64 = rng.gen();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Paints the shapes in order (later ones on top). Discs are drawn exactly,
/// or as regular polygons of `sides` vertices (a worker's coarse tracing).
fn render(spec: &SegSpec, shapes: &[Shape], sides: Option<u32>) -> Vec<u8> {
    let (w, h) = (spec.width as usize, spec.height as usize);
    let mut mask = vec![0u8; w * h];
    for s in shapes {
        let x0 = ((s.cx - s.rx).floor().max(0.0) as usize).min(w);
        let x1 = ((s.cx + s.rx).ceil().max(0.0) as usize).min(w);
        let y0 = ((s.cy - s.ry).floor().max(0.0) as usize).min(h);
        let y1 = ((s.cy + s.ry).ceil().max(0.0) as usize).min(h);
        for y in y0..y1 {
            for x in x0..x1 {
                let dx = (x as f64 + 0.5 - s.cx) / s.rx;
                let dy = (y as f64 + 0.5 - s.cy) / s.ry;
                let inside = if !s.disc {
                    dx.abs() <= 1.0 && dy.abs() <= 1.0
                } else {
                    match sides {
                        None => dx * dx + dy * dy <= 1.0,
                        Some(n) => inside_polygon(dx, dy, n.max(3)),
                    }
                };
                if inside {
                    mask[y * w + x] = s.class;
                }
            }
        }
    }
    mask
}

/// Whether (dx, dy) lies in the regular `n`-gon inscribed in the unit
/// circle: within the apothem of the sector it falls in.
fn inside_polygon(dx: f64, dy: f64, n: u32) -> bool {
    let sector = std::f64::consts::TAU / n as f64;
    let angle = dy.atan2(dx).rem_euclid(sector) - sector / 2.0;
    let r = (dx * dx + dy * dy).sqrt();
    r * angle.cos() <= (sector / 2.0).cos()
}

/// The largest image `write_seg_dataset` draws: what the readers accept by
/// default (`max_pixels`).
pub const MAX_GENERATED_PIXELS: u64 = 100_000_000;

/// Writes the spec's data to `dir`: `masks/<image>-<worker>.png` (index
/// PNGs whose palette, [`default_colours`], lets a viewer show the
/// classes), `gold/<image>.png`, `annotations.jsonl` (`image`, `worker`,
/// `mask` per line) and `gold.jsonl` (`image`, `mask`). Images are made and
/// written in parallel batches, so memory stays small. Returns the path of
/// `annotations.jsonl`.
///
/// [`default_colours`]: crate::segmentation::png_mask::default_colours
pub fn write_seg_dataset(
    spec: &SegSpec,
    dir: &std::path::Path,
) -> crate::error::Result<std::path::PathBuf> {
    use crate::error::Error;
    use crate::io::write_atomic;
    use crate::segmentation::png_mask::{default_colours, encode_indexed_mask, ColourMap};
    use rayon::prelude::*;

    if spec.classes < 2 || spec.classes > 256 {
        return Err(Error::Usage(format!(
            "`classes` {}: segmentation needs 2 to 256 (background included)",
            spec.classes
        )));
    }
    if spec.width == 0 || spec.height == 0 || spec.workers == 0 {
        return Err(Error::Usage("`size` and `workers` must be positive".into()));
    }
    let pixels = spec.width as u64 * spec.height as u64;
    if pixels > MAX_GENERATED_PIXELS {
        return Err(Error::Usage(format!(
            "`size` {}x{}: {pixels} pixels per image, more than the {MAX_GENERATED_PIXELS} that consolidate reads by default",
            spec.width, spec.height
        )));
    }
    // Images are drawn in parallel, each with its gold and worker masks.
    let threads = rayon::current_num_threads().min(spec.images.max(1)) as u64;
    crate::engine::memory::check_fits(
        pixels * (spec.workers as u64 + 2) * threads,
        crate::engine::memory::available_bytes(),
        &format!(
            "{threads} images of {}x{} with {} masks each being drawn at once",
            spec.width, spec.height, spec.workers
        ),
        "use a smaller `size` or fewer `workers`",
    )?;
    for sub in ["masks", "gold"] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|source| Error::Write { path: d, source })?;
    }
    let habits = worker_habits(spec);
    let name = |i: usize| format!("img-{i:06}");
    let colours = ColourMap {
        classes: default_colours(spec.classes)
            .into_iter()
            .enumerate()
            .map(|(c, colour)| (c.to_string(), colour))
            .collect(),
    };
    let encode = |path: std::path::PathBuf, pixels: &[u8]| -> crate::error::Result<()> {
        let png = encode_indexed_mask(spec.width, spec.height, pixels, &colours).map_err(|e| {
            Error::Write {
                path: path.clone(),
                source: std::io::Error::other(e),
            }
        })?;
        write_atomic(&path, |w| w.write_all(&png))
    };
    (0..spec.images).into_par_iter().try_for_each(|i| {
        let s = sample(spec, &habits, i);
        encode(dir.join("gold").join(format!("{}.png", name(i))), &s.gold)?;
        for (r, mask) in s.masks.iter().enumerate() {
            encode(
                dir.join("masks").join(format!("{}-w{r}.png", name(i))),
                mask,
            )?;
        }
        Ok::<_, Error>(())
    })?;
    let annotations = dir.join("annotations.jsonl");
    write_atomic(&annotations, |w| {
        for i in 0..spec.images {
            for r in 0..spec.workers {
                let line = serde_json::json!({"image": name(i), "worker": format!("w{r}"), "mask": format!("masks/{}-w{r}.png", name(i))});
                writeln!(w, "{line}")?;
            }
        }
        Ok(())
    })?;
    write_atomic(&dir.join("gold.jsonl"), |w| {
        for i in 0..spec.images {
            let line =
                serde_json::json!({"image": name(i), "mask": format!("gold/{}.png", name(i))});
            writeln!(w, "{line}")?;
        }
        Ok(())
    })?;
    Ok(annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SegSpec {
        SegSpec {
            images: 4,
            width: 64,
            height: 48,
            workers: 5,
            classes: 4,
            shapes: 4,
            seed: 3,
        }
    }

    #[test]
    fn samples_are_seeded_and_workers_err_more_as_skill_falls() {
        let spec = spec();
        let habits = worker_habits(&spec);
        let a = sample(&spec, &habits, 1);
        let b = sample(&spec, &habits, 1);
        assert_eq!(a.gold, b.gold);
        assert_eq!(a.masks, b.masks);
        assert_ne!(sample(&spec, &habits, 2).gold, a.gold);
        let errors = |r: usize| -> usize {
            (0..spec.images)
                .map(|i| {
                    let s = sample(&spec, &habits, i);
                    s.masks[r]
                        .iter()
                        .zip(&s.gold)
                        .filter(|(m, g)| m != g)
                        .count()
                })
                .sum()
        };
        assert!(errors(0) < errors(2) && errors(2) < errors(4));
        assert!(a.gold.iter().any(|&c| c > 0), "shapes are drawn");
    }
}

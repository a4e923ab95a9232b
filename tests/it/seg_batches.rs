//! Segmentation in batches: every method gives the same consensus, the same
//! per-image and per-worker figures and the same round counts however the
//! run is cut (one image a batch, batches that do not divide the images,
//! one batch), from masks in memory and from a manifest decoded batch by
//! batch; the CLI's output folder is the same under any memory budget.

use accord::engine::backend::SegBackend;
use accord::engine::pack::masks::{Mask, MaskBatch, MaskBuilder};
use accord::io::Rejects;
use accord::maths::TieBreak;
use accord::segmentation::manifest::MaskManifest;
use accord::segmentation::read::MaskPaths;
use accord::segmentation::{
    fit, fit_planned, plan_batches, BatchConsensus, BatchPlan, MaskSource, SegMethod, SegParams,
    SegSink, SegSummary, StapleScope,
};
use accord::synth::segmentation::{sample, worker_habits, SegSpec};

use crate::support::*;

/// Collects a fit's consensus and the sizes of the batches it came in.
#[derive(Default)]
struct Collect {
    labels: Vec<u8>,
    confidence: Vec<f32>,
    batch_images: Vec<usize>,
    first_images: Vec<u64>,
}

impl SegSink for Collect {
    fn batch(&mut self, c: BatchConsensus<'_>) -> accord::Result<()> {
        self.labels.extend(&c.labels);
        self.confidence.extend(&c.confidence);
        self.batch_images.push(c.batch.images.len());
        self.first_images.push(c.batch.first_image);
        Ok(())
    }

    fn restart(&mut self) -> accord::Result<()> {
        *self = Collect::default();
        Ok(())
    }
}

/// Generated scenes (workers of different skill) in memory, `images` of
/// them, some sizes differing from image to image.
fn scenes(images: usize, seed: u64) -> MaskBatch {
    let mut builder = MaskBuilder::new((0..4).map(|c| c.to_string()).collect()).unwrap();
    for i in 0..images {
        let spec = SegSpec {
            images,
            width: 24 + (i % 3) as u32 * 8,
            height: 20,
            workers: 5,
            classes: 4,
            shapes: 3,
            seed,
        };
        let s = sample(&spec, &worker_habits(&spec), i);
        // Worker 4 skips every third image: workers' mask counts differ.
        for (r, mask) in s.masks.iter().enumerate() {
            if r == 4 && i % 3 == 0 {
                continue;
            }
            builder
                .push(Mask {
                    image: &format!("img-{i}"),
                    worker: &format!("w{r}"),
                    width: spec.width,
                    height: spec.height,
                    pixels: mask,
                })
                .unwrap();
        }
    }
    builder.finish()
}

/// Every method and setting the tests cut runs for.
fn settings() -> Vec<SegParams> {
    let mut all = Vec::new();
    for method in SegMethod::ALL {
        let mut p = SegParams::new(method);
        p.ties = TieBreak::Random;
        p.seed = 7;
        all.push(p);
    }
    let mut per_image = SegParams::new(SegMethod::Staple);
    per_image.scope = StapleScope::PerImage;
    per_image.max_iter = 6;
    all.push(per_image);
    // Stops at the limit rather than settling: the last round writes.
    let mut capped = SegParams::new(SegMethod::Weighted);
    capped.max_iter = 2;
    all.push(capped);
    all
}

fn run(
    source: &dyn MaskSource,
    plan: &BatchPlan,
    backend: &dyn SegBackend,
    params: &SegParams,
) -> (SegSummary, Collect) {
    let mut sink = Collect::default();
    let summary = fit_planned(source, plan, backend, params, &mut sink, &mut |_| {}).unwrap();
    (summary, sink)
}

/// The fit of `plan` equals the one-batch fit exactly.
fn assert_same(
    what: &str,
    (a, a_pixels): &(SegSummary, Collect),
    (b, b_pixels): &(SegSummary, Collect),
) {
    assert_eq!(a_pixels.labels, b_pixels.labels, "{what}: labels");
    assert_eq!(
        a_pixels.confidence, b_pixels.confidence,
        "{what}: confidence"
    );
    assert_eq!(
        a.image_confidence, b.image_confidence,
        "{what}: image confidence"
    );
    assert_eq!(a.worker_agreement, b.worker_agreement, "{what}: agreement");
    assert_eq!(a.worker_weight, b.worker_weight, "{what}: worker weight");
    assert_eq!(
        (a.iterations, a.converged),
        (b.iterations, b.converged),
        "{what}: rounds"
    );
}

/// Batched fits of every method equal the in-memory fit, on `backend`.
pub fn batched_fits_equal_one_batch(backend: &dyn SegBackend) {
    let batch = scenes(10, 3);
    for params in settings() {
        let whole = fit(&batch, backend, &params).unwrap();
        let one = run(&batch, &BatchPlan::one_batch(&batch), backend, &params);
        assert_eq!(one.0.batches, 1);
        assert_eq!(one.1.labels, whole.labels);
        assert_eq!(one.0.iterations, whole.iterations);
        for size in [1, 3, 4] {
            let plan = BatchPlan::fixed(&batch, size);
            let cut = run(&batch, &plan, backend, &params);
            let what = format!(
                "{:?} {:?} in batches of {size}",
                params.method, params.scope
            );
            let expected: Vec<usize> = plan.batches.iter().map(|r| r.len()).collect();
            assert_eq!(cut.1.batch_images, expected, "{what}");
            assert_eq!(cut.0.batches, plan.batches.len());
            assert_eq!(
                cut.1.first_images,
                plan.batches
                    .iter()
                    .map(|r| r.start as u64)
                    .collect::<Vec<_>>()
            );
            assert_same(&what, &one, &cut);
            // Each round is a pass over every batch; a loop that settled
            // before its limit passes once more to write.
            if matches!(params.method, SegMethod::Mv | SegMethod::SmoothMv) {
                assert_eq!(cut.0.passes, 1, "{what}");
            } else {
                let extra = u32::from(cut.0.iterations < params.max_iter);
                assert_eq!(cut.0.passes, cut.0.iterations + extra, "{what}");
            }
        }
    }
}

#[test]
fn batched_fits_equal_one_batch_on_the_cpu() {
    batched_fits_equal_one_batch(&accord::engine::backend::cpu::CpuBackend);
}

/// Writes `images` generated scenes as a manifest of PNGs; returns its path.
fn generated_manifest(dir: &std::path::Path, images: usize) -> std::path::PathBuf {
    let spec = SegSpec {
        images,
        width: 40,
        height: 24,
        workers: 4,
        classes: 3,
        shapes: 3,
        seed: 9,
    };
    accord::synth::segmentation::write_seg_dataset(&spec, dir).unwrap()
}

#[test]
fn a_manifest_decoded_batch_by_batch_gives_the_in_memory_result() {
    let dir = tmp();
    let manifest = generated_manifest(dir.path(), 9);
    let cpu = accord::engine::backend::cpu::CpuBackend;
    let open = |keep| {
        MaskManifest::open(
            &manifest,
            None,
            1 << 20,
            &MaskPaths::default(),
            keep,
            &mut Rejects::strict(),
        )
        .unwrap()
    };
    let kept = open(u64::MAX);
    let streamed = open(0);
    assert!(kept.is_resident() && !streamed.is_resident());
    assert_eq!(streamed.n_images(), 9);
    assert_eq!(streamed.class_names(), ["0", "1", "2"]);
    let whole = kept.into_input().unwrap().batch;
    for params in settings() {
        let one = run(&whole, &BatchPlan::one_batch(&whole), &cpu, &params);
        // A budget that takes two images a batch (the last batch one).
        let pixels = 40 * 24;
        let scratch = pixels * cpu.seg_host_bytes(3).per_largest_pixel;
        let plan = plan_batches(&streamed, &cpu, scratch + 2 * pixels * (4 + 5)).unwrap();
        assert_eq!(plan.batches.len(), 5);
        let cut = run(&streamed, &plan, &cpu, &params);
        assert_same(
            &format!("{:?} from the manifest", params.method),
            &one,
            &cut,
        );
    }
}

#[test]
fn bad_masks_are_rejected_once_and_left_out_of_every_batch() {
    let dir = tmp();
    let manifest = generated_manifest(dir.path(), 6);
    // A missing mask, and a mask of another size, on images 2 and 4.
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(
        "{\"image\": \"img-000002\", \"worker\": \"w9\", \"mask\": \"masks/none.png\"}\n",
    );
    let odd = accord::segmentation::png_mask::encode_indexed_mask(
        3,
        3,
        &[0; 9],
        &accord::segmentation::png_mask::ColourMap {
            classes: vec![("0".into(), [0, 0, 0])],
        },
    )
    .unwrap();
    std::fs::write(dir.path().join("masks/odd.png"), odd).unwrap();
    text.push_str("{\"image\": \"img-000004\", \"worker\": \"w8\", \"mask\": \"masks/odd.png\"}\n");
    std::fs::write(&manifest, text).unwrap();
    let cpu = accord::engine::backend::cpu::CpuBackend;
    let mut results = Vec::new();
    for keep in [u64::MAX, 0] {
        let mut rejects = Rejects::skipping();
        let m = MaskManifest::open(
            &manifest,
            None,
            1 << 20,
            &MaskPaths::default(),
            keep,
            &mut rejects,
        )
        .unwrap();
        let problems: Vec<String> = rejects.records.iter().map(|r| r.problem.clone()).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("none.png"), "{problems:?}");
        assert!(problems[1].contains("3×3"), "{problems:?}");
        // Workers of rejected masks only are not in the run.
        assert_eq!(m.worker_names().len(), 4);
        assert_eq!(m.n_masks(), 24);
        let plan = BatchPlan::fixed(&m, 4);
        results.push(run(&m, &plan, &cpu, &SegParams::new(SegMethod::Weighted)));
    }
    assert_same("rejects, kept or not", &results[0], &results[1]);
}

#[test]
fn a_restarted_writer_writes_each_image_once() {
    use accord::segmentation::write::{SegWriteOptions, SegWriter};
    let dir = tmp();
    let batch = scenes(5, 1);
    let options = SegWriteOptions {
        label_attribute: "label".into(),
        job_name: "j".into(),
        creation_date: "2020-01-01T00:00:00".into(),
        confidence_maps: false,
    };
    let out = dir.path().join("out");
    let mut writer = SegWriter::create(&out, &batch.class_names, None, &options).unwrap();
    let plan = BatchPlan::fixed(&batch, 2);
    let cpu = accord::engine::backend::cpu::CpuBackend;
    let params = SegParams::new(SegMethod::SmoothMv);
    // As `auto` does after a GPU failure: the fit runs again from the start.
    for _ in 0..2 {
        fit_planned(&batch, &plan, &cpu, &params, &mut writer, &mut |_| {}).unwrap();
    }
    assert!(!out.exists(), "nothing in place before the commit");
    writer.finish().unwrap();
    let manifest = std::fs::read_to_string(out.join("output.manifest")).unwrap();
    assert_eq!(manifest.lines().count(), 5);
    let csv = std::fs::read_to_string(out.join("images.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6);
    assert_eq!(std::fs::read_dir(out.join("masks")).unwrap().count(), 5);
}

#[test]
fn cli_output_is_the_same_under_any_memory_budget() {
    let dir = tmp();
    let manifest = generated_manifest(dir.path(), 7);
    let m = manifest.to_str().unwrap();
    for method in ["smooth-mv", "staple"] {
        let mut outputs = Vec::new();
        // 1,123,200 bytes: the vote scratch of 32 images and two images.
        for budget in ["1G", "1123200"] {
            let out = dir.path().join(format!("out-{method}-{budget}"));
            let o = out.to_str().unwrap();
            let ran = accord(&[
                "consolidate",
                "--task",
                "segmentation",
                m,
                "--method",
                method,
                "--backend",
                "cpu",
                "--memory-budget",
                budget,
                "--creation-date",
                "2020-01-01T00:00:00",
                "-v",
                "-o",
                o,
            ]);
            let log = String::from_utf8_lossy(&ran.stderr);
            assert!(ran.status.success(), "{log}");
            let batches = if budget == "1G" {
                "(1 batch "
            } else {
                "(4 batches "
            };
            assert!(log.contains(batches), "{log}");
            let mut files: Vec<(String, Vec<u8>)> = walk(&out)
                .into_iter()
                .map(|p| {
                    let bytes = std::fs::read(&p).unwrap();
                    (p.strip_prefix(&out).unwrap().display().to_string(), bytes)
                })
                .collect();
            files.sort();
            outputs.push(files);
        }
        assert_eq!(outputs[0].len(), 7 + 2, "{method}: masks, manifest, table");
        assert!(outputs[0] == outputs[1], "{method}: outputs differ");
    }
    let e = accord_bad_input(&[
        "consolidate",
        "--task",
        "segmentation",
        m,
        "--memory-budget",
        "lots",
        "-o",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert!(e.contains("512M or 2G"), "{e}");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn report_for_segmentation_shows_classes_workers_and_gold_scores() {
    let dir = tmp();
    let manifest = generated_manifest(dir.path(), 6);
    let page = dir.path().join("report.html");
    accord_ok(&[
        "report",
        "--task",
        "segmentation",
        manifest.to_str().unwrap(),
        "--gold",
        dir.path().join("gold.jsonl").to_str().unwrap(),
        "--backend",
        "cpu",
        "--review-count",
        "2",
        "-q",
        "-o",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    for part in [
        "Classes of the consensus",
        "Workers",
        "Against gold",
        "Least settled images",
    ] {
        assert!(html.contains(part), "{part}");
    }
    // Four workers, each with its six masks; the IoU is a number.
    assert_eq!(
        html.matches("<td class=\"n\">6</td>").count(),
        4 + 1,
        "{html}"
    );
    // The page's scores are evaluate's on consolidate's output.
    let out = dir.path().join("out");
    accord_ok(&[
        "consolidate",
        "--task",
        "segmentation",
        manifest.to_str().unwrap(),
        "--backend",
        "cpu",
        "-q",
        "-o",
        out.to_str().unwrap(),
    ]);
    let json = accord_ok(&[
        "evaluate",
        "--task",
        "segmentation",
        "--pred",
        out.join("output.manifest").to_str().unwrap(),
        "--gold",
        dir.path().join("gold.jsonl").to_str().unwrap(),
        "--json",
    ]);
    let scores: serde_json::Value = serde_json::from_str(&json).unwrap();
    let expected = format!(
        "mean IoU {:.4}, pixel accuracy {:.4}",
        scores["mean_iou"].as_f64().unwrap(),
        scores["pixel_accuracy"].as_f64().unwrap()
    );
    assert!(html.contains(&expected), "{expected}: {html}");
    // Two least settled images listed.
    let listed = html.split("Least settled images").nth(1).unwrap();
    assert_eq!(listed.matches("img-0000").count(), 2, "{listed}");
}

//! Segmentation readers: masks from a JSON Lines manifest of PNGs and from
//! Ground Truth's request, classes unified by name, bad masks refused with
//! their line or object.

use accord::io::Rejects;
use accord::segmentation::png_mask::{encode_mask, ColourMap};
use accord::segmentation::read::{read_gt_segmentation_request, read_mask_manifest};
use accord::Error;
use base64::Engine;
use serde_json::json;

use crate::support::*;

const MAX_PIXELS: u64 = 1 << 20;

#[test]
fn a_manifest_of_index_pngs_is_packed_by_image() {
    let dir = tmp();
    let masks = [
        ("a", "w1", 3, 2, vec![0, 1, 1, 0, 2, 2]),
        ("a", "w2", 3, 2, vec![0, 1, 1, 0, 2, 1]),
        ("b", "w1", 1, 1, vec![2]),
    ];
    let mut manifest = String::new();
    for (n, (image, worker, w, h, pixels)) in masks.iter().enumerate() {
        let name = format!("m{n}.png");
        std::fs::write(
            dir.path().join(&name),
            encode_mask(*w, *h, pixels, None).unwrap(),
        )
        .unwrap();
        manifest.push_str(&format!(
            "{}\n",
            json!({"image": image, "worker": worker, "mask": name})
        ));
    }
    let path = dir.path().join("masks.jsonl");
    std::fs::write(&path, &manifest).unwrap();
    let input = read_mask_manifest(&path, None, MAX_PIXELS, &mut Rejects::strict()).unwrap();
    let b = &input.batch;
    assert_eq!(b.class_names, vec!["0", "1", "2"]);
    assert_eq!(b.images.len(), 2);
    assert_eq!(b.mask(0, 1), &[0, 1, 1, 0, 2, 1]);
    assert_eq!(b.mask(1, 0), &[2]);
    assert!(input.colours.is_none());

    // A mask of another size for image a: refused, naming line 4.
    std::fs::write(
        dir.path().join("small.png"),
        encode_mask(2, 2, &[0; 4], None).unwrap(),
    )
    .unwrap();
    manifest.push_str(&format!(
        "{}\n",
        json!({"image": "a", "worker": "w3", "mask": "small.png"})
    ));
    std::fs::write(&path, &manifest).unwrap();
    let e = read_mask_manifest(&path, None, MAX_PIXELS, &mut Rejects::strict()).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::BadInput { .. }), "{text}");
    assert!(
        text.contains("line 4") && text.contains("2×2") && text.contains("3×2"),
        "{text}"
    );

    // A missing file and a damaged PNG name the mask.
    std::fs::write(
        &path,
        format!(
            "{}\n",
            json!({"image": "a", "worker": "w", "mask": "nope.png"})
        ),
    )
    .unwrap();
    let text = read_mask_manifest(&path, None, MAX_PIXELS, &mut Rejects::strict())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("line 1") && text.contains("nope.png"),
        "{text}"
    );
    std::fs::write(
        dir.path().join("cut.png"),
        &encode_mask(3, 2, &[0; 6], None).unwrap()[..30],
    )
    .unwrap();
    std::fs::write(
        &path,
        format!(
            "{}\n",
            json!({"image": "a", "worker": "w", "mask": "cut.png"})
        ),
    )
    .unwrap();
    let text = read_mask_manifest(&path, None, MAX_PIXELS, &mut Rejects::strict())
        .unwrap_err()
        .to_string();
    assert!(text.contains("cut.png"), "{text}");
}

/// One worker's Ground Truth answer for a `w`×`h` image.
fn gt_answer(
    worker: &str,
    mappings: serde_json::Value,
    w: u32,
    h: u32,
    pixels: &[u8],
    declared: (u32, u32),
) -> serde_json::Value {
    let map = ColourMap::from_label_mappings(&mappings).unwrap();
    let png = encode_mask(w, h, pixels, Some(&map)).unwrap();
    let content = json!({"crowd-semantic-segmentation": {
        "inputImageProperties": {"width": declared.0, "height": declared.1},
        "labelMappings": mappings,
        "labeledImage": {"pngImageData": base64::engine::general_purpose::STANDARD.encode(png)},
    }});
    json!({"workerId": worker, "annotationData": {"content": content.to_string()}})
}

#[test]
fn ground_truth_requests_unify_classes_by_name_and_check_sizes() {
    let dir = tmp();
    let cat_dog = json!({"cat": {"color": "#ff0000"}, "dog": {"color": "#00ff00"}});
    let dog_only = json!({"dog": {"color": "#0000ff"}});
    let request = json!([
        {"datasetObjectId": "0", "dataObject": {"s3Uri": "s3://b/0.png"}, "annotations": [
            gt_answer("w1", cat_dog.clone(), 2, 2, &[0, 1, 2, 2], (2, 2)),
            // Class 1 of this worker's map is dog: it must land on dog.
            gt_answer("w2", dog_only, 2, 2, &[0, 1, 1, 1], (2, 2)),
        ]},
        {"datasetObjectId": "1", "dataObject": {"s3Uri": "s3://b/1.png"}, "annotations": []},
    ]);
    let path = dir.path().join("request.json");
    std::fs::write(&path, request.to_string()).unwrap();
    let input =
        read_gt_segmentation_request(&path, None, MAX_PIXELS, &mut Rejects::strict()).unwrap();
    assert_eq!(input.batch.class_names, vec!["BACKGROUND", "cat", "dog"]);
    assert_eq!(input.batch.mask(0, 0), &[0, 1, 2, 2]);
    assert_eq!(input.batch.mask(0, 1), &[0, 2, 2, 2]);
    assert_eq!(input.without_masks, vec!["1"]);
    let colours = input.colours.unwrap();
    assert_eq!(colours.classes[2], ("dog".to_string(), [0, 255, 0]));

    // A mask whose size differs from inputImageProperties names the object.
    let wrong = json!([{"datasetObjectId": "7", "annotations": [gt_answer("w1", cat_dog, 2, 2, &[0; 4], (3, 2))]}]);
    std::fs::write(&path, wrong.to_string()).unwrap();
    let text = read_gt_segmentation_request(&path, None, MAX_PIXELS, &mut Rejects::strict())
        .unwrap_err()
        .to_string();
    assert!(text.contains("\"7\"") && text.contains("3×2"), "{text}");
    // Bad base64.
    let broken = json!([{"datasetObjectId": "8", "annotations": [{"workerId": "w", "annotationData": {"content":
        json!({"crowd-semantic-segmentation": {"labelMappings": {}, "labeledImage": {"pngImageData": "%%%"}}}).to_string()}}]}]);
    std::fs::write(&path, broken.to_string()).unwrap();
    let text = read_gt_segmentation_request(&path, None, MAX_PIXELS, &mut Rejects::strict())
        .unwrap_err()
        .to_string();
    assert!(text.contains("base64") && text.contains("\"8\""), "{text}");
}

#[test]
fn ground_truth_request_in_manifest_and_masks_out() {
    use accord::engine::backend::cpu::CpuBackend;
    use accord::segmentation::methods::{fit, SegMethod, SegParams};
    use accord::segmentation::png_mask::decode_mask;
    use accord::segmentation::write::{write_segmentation, SegWriteOptions};
    let dir = tmp();
    let cat_dog = json!({"cat": {"color": "#ff0000"}, "dog": {"color": "#00ff00"}});
    // Two of three workers agree on every pixel: the consensus is theirs.
    let truth = [0, 1, 1, 2, 2, 0];
    let request = json!([{"datasetObjectId": "s3://bucket/img 1.jpg", "annotations": [
        gt_answer("w1", cat_dog.clone(), 3, 2, &truth, (3, 2)),
        gt_answer("w2", cat_dog.clone(), 3, 2, &truth, (3, 2)),
        gt_answer("w3", cat_dog, 3, 2, &[2, 2, 2, 1, 1, 1], (3, 2)),
    ]}]);
    let path = dir.path().join("request.json");
    std::fs::write(&path, request.to_string()).unwrap();
    let input =
        read_gt_segmentation_request(&path, None, MAX_PIXELS, &mut Rejects::strict()).unwrap();
    let result = fit(&input.batch, &CpuBackend, &SegParams::new(SegMethod::Mv)).unwrap();
    let out = dir.path().join("out");
    let options = SegWriteOptions {
        label_attribute: "category".into(),
        job_name: "seg-job".into(),
        creation_date: "2026-11-23T12:00:00.000000".into(),
        confidence_maps: true,
    };
    let manifest = write_segmentation(
        &out,
        &input.batch,
        input.colours.as_ref(),
        &result,
        &options,
    )
    .unwrap();
    let text = std::fs::read_to_string(&manifest).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["source-ref"], "s3://bucket/img 1.jpg");
    assert_eq!(line["category-ref"], "masks/000000-img_1.jpg.png");
    let meta = &line["category-ref-metadata"];
    assert_eq!(meta["type"], "groundtruth/semantic-segmentation");
    assert_eq!(meta["job-name"], "seg-job");
    assert_eq!(meta["human-annotated"], "yes");
    assert_eq!(meta["creation-date"], "2026-11-23T12:00:00.000000");
    let colours = &meta["internal-color-map"];
    assert_eq!(colours["0"]["class-name"], "BACKGROUND");
    assert_eq!(colours["0"]["hex-color"], "#ffffff");
    assert_eq!(colours["1"]["class-name"], "cat");
    assert_eq!(colours["1"]["hex-color"], "#ff0000");
    assert_eq!(colours["2"]["class-name"], "dog");
    assert_eq!(colours["2"]["hex-color"], "#00ff00");
    for c in ["0", "1", "2"] {
        let confidence = colours[c]["confidence"].as_f64().unwrap();
        assert!(
            (confidence - 2.0 / 3.0).abs() < 1e-6,
            "class {c}: {confidence}"
        );
    }
    // The mask PNG decodes, through the manifest's own colour map, to the consensus.
    let map = ColourMap::from_internal(colours).unwrap();
    let png = std::fs::read(out.join("masks/000000-img_1.jpg.png")).unwrap();
    assert_eq!(
        decode_mask(&png, Some(&map), MAX_PIXELS).unwrap().pixels,
        truth
    );
    assert!(out.join("confidence/000000-img_1.jpg.png").is_file());
    let summary = std::fs::read_to_string(out.join("images.csv")).unwrap();
    assert_eq!(
        summary,
        "image,mask,confidence,width,height,masks\ns3://bucket/img 1.jpg,masks/000000-img_1.jpg.png,0.666667,3,2,3\n"
    );
}

#[test]
fn cli_generate_consolidate_evaluate_ranks_the_methods() {
    let dir = tmp();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    accord_ok(&[
        "generate",
        "--task",
        "segmentation",
        "--out",
        d,
        "--images",
        "8",
        "--size",
        "96x64",
        "--seed",
        "4",
    ]);
    let annotations = data.join("annotations.jsonl");
    let gold = data.join("gold.jsonl");
    let mut ious = Vec::new();
    for method in ["mv", "smooth-mv", "weighted", "staple"] {
        let out = dir.path().join(method);
        accord_ok(&[
            "consolidate",
            "--task",
            "segmentation",
            annotations.to_str().unwrap(),
            "--method",
            method,
            "--backend",
            "cpu",
            "-o",
            out.to_str().unwrap(),
            "-q",
        ]);
        let manifest = out.join("output.manifest");
        let json = accord_ok(&[
            "evaluate",
            "--task",
            "segmentation",
            "--pred",
            manifest.to_str().unwrap(),
            "--gold",
            gold.to_str().unwrap(),
            "--json",
        ]);
        let scores: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(scores["images"], 8);
        assert!(
            scores["per_class_iou"].as_object().unwrap().len() == 5,
            "{json}"
        );
        ious.push(scores["mean_iou"].as_f64().unwrap());
    }
    assert!(
        ious[0] < ious[1] && ious[1] < ious[2] && ious[1] < ious[3],
        "mean IoU mv, smooth-mv, weighted, staple: {ious:?}"
    );
}

#[test]
fn cli_refuses_a_mask_of_the_wrong_size_and_a_classification_method() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("a.png"),
        encode_mask(4, 4, &[0; 16], None).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.png"),
        encode_mask(4, 3, &[0; 12], None).unwrap(),
    )
    .unwrap();
    let manifest = file(
        dir.path(),
        "masks.jsonl",
        format!(
            "{}\n{}\n",
            json!({"image": "x", "worker": "w1", "mask": "a.png"}),
            json!({"image": "x", "worker": "w2", "mask": "b.png"})
        ),
    );
    let out = dir.path().join("out");
    let stderr = accord_bad_input(&[
        "consolidate",
        "--task",
        "segmentation",
        &manifest,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("masks.jsonl") && stderr.contains("line 2") && stderr.contains("4×3"),
        "{stderr}"
    );
    assert!(
        !out.join("output.manifest").exists(),
        "no output after an error"
    );
    let stderr = accord_bad_input(&[
        "consolidate",
        "--task",
        "segmentation",
        &manifest,
        "--method",
        "ds",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(stderr.contains("classification method"), "{stderr}");
}

#[test]
fn bench_segmentation_reports_decoding_and_each_method() {
    let dir = tmp();
    let json = accord_ok(&[
        "bench",
        "--task",
        "segmentation",
        "--images",
        "3",
        "--size",
        "32x24",
        "--backends",
        "cpu",
        "--methods",
        "mv,smooth-mv",
        "--iterations",
        "1",
        "--json",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["images"], 3);
    assert!(report["decode_s"].as_f64().unwrap() >= 0.0);
    let rows = report["rows"].as_array().unwrap();
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["mv", "smooth-mv"]);
    assert!(rows
        .iter()
        .all(|r| r["images_per_s"].as_f64().unwrap() > 0.0));
}

#[test]
fn size_flags_at_their_extremes_are_refused_with_a_message() {
    // Regressions: --sigma 1e30 panicked (capacity overflow), --sigma 1e9
    // and --radius 2147483647 tried to allocate tens of GB, generate --size
    // 100000x100000 aborted.
    let dir = tmp();
    let data = dir.path().join("data");
    accord_ok(&[
        "generate",
        "--task",
        "segmentation",
        "-o",
        data.to_str().unwrap(),
        "--images",
        "2",
        "--size",
        "32x32",
    ]);
    let input = data.join("annotations.jsonl");
    for flags in [
        ["--sigma", "1e30"],
        ["--sigma", "1e9"],
        ["--radius", "2147483647"],
        ["--sigma", "NaN"],
    ] {
        let mut args = vec![
            "consolidate",
            "--task",
            "segmentation",
            input.to_str().unwrap(),
            "-o",
        ];
        let out = dir.path().join("out");
        args.push(out.to_str().unwrap());
        args.extend(flags);
        let err = accord_bad_input(&args);
        assert!(err.contains(flags[0]), "{flags:?}: {err}");
        assert!(!out.exists());
    }
    let err = accord_bad_input(&[
        "generate",
        "--task",
        "segmentation",
        "-o",
        dir.path().join("big").to_str().unwrap(),
        "--size",
        "100000x100000",
    ]);
    assert!(err.contains("--size"), "{err}");
}

#[test]
fn mask_paths_are_confined_to_the_manifests_folder() {
    // Regression: ../../etc/passwd and absolute paths were read.
    let dir = tmp();
    let data = dir.path().join("data");
    accord_ok(&[
        "generate",
        "--task",
        "segmentation",
        "-o",
        data.to_str().unwrap(),
        "--images",
        "1",
        "--size",
        "8x8",
        "--workers",
        "2",
    ]);
    let outside = dir.path().join("elsewhere");
    std::fs::create_dir(&outside).unwrap();
    std::fs::copy(data.join("masks/img-000000-w1.png"), outside.join("m.png")).unwrap();
    let manifest = data.join("m.jsonl");
    std::fs::write(
        &manifest,
        format!(
            "{{\"image\": \"a\", \"worker\": \"w0\", \"mask\": \"masks/img-000000-w0.png\"}}\n{{\"image\": \"a\", \"worker\": \"w1\", \"mask\": \"{}\"}}\n",
            outside.join("m.png").display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let args = [
        "consolidate",
        "--task",
        "segmentation",
        manifest.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    let err = accord_bad_input(&args);
    assert!(
        err.contains("line 2") && err.contains("outside the manifest's folder"),
        "{err}"
    );
    let mut allowed = args.to_vec();
    allowed.extend(["--allow-paths-outside", outside.to_str().unwrap()]);
    accord_ok(&allowed);
    // A FIFO as a mask is refused, not waited on.
    let fifo = data.join("masks/fifo.png");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::fs::write(
        &manifest,
        "{\"image\": \"a\", \"worker\": \"w0\", \"mask\": \"masks/fifo.png\"}\n",
    )
    .unwrap();
    let err = accord_bad_input(&args);
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn a_segmentation_output_folder_may_not_hold_its_inputs() {
    // Regression: -o d with d/output.manifest as input replaced its own input.
    let dir = tmp();
    let data = dir.path().join("data");
    accord_ok(&[
        "generate",
        "--task",
        "segmentation",
        "-o",
        data.to_str().unwrap(),
        "--images",
        "1",
        "--size",
        "8x8",
    ]);
    let err = accord_bad_input(&[
        "consolidate",
        "--task",
        "segmentation",
        data.join("annotations.jsonl").to_str().unwrap(),
        "-o",
        data.to_str().unwrap(),
    ]);
    assert!(err.contains("holds the input"), "{err}");
}

#[test]
fn a_mask_manifest_with_a_bom_or_bad_utf8_is_read_or_refused_by_line() {
    let dir = tmp();
    let data = dir.path().join("data");
    accord_ok(&[
        "generate",
        "--task",
        "segmentation",
        "-o",
        data.to_str().unwrap(),
        "--images",
        "1",
        "--size",
        "8x8",
    ]);
    let text = std::fs::read(data.join("annotations.jsonl")).unwrap();
    let with_bom = data.join("bom.jsonl");
    std::fs::write(&with_bom, [b"\xEF\xBB\xBF".as_slice(), &text].concat()).unwrap();
    let out = dir.path().join("out");
    accord_ok(&[
        "consolidate",
        "--task",
        "segmentation",
        with_bom.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    let broken = data.join("bad.jsonl");
    std::fs::write(
        &broken,
        [text.as_slice(), b"{\"image\": \"\xff\"}\n"].concat(),
    )
    .unwrap();
    let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
    let err = accord_bad_input(&[
        "consolidate",
        "--task",
        "segmentation",
        broken.to_str().unwrap(),
        "-o",
        dir.path().join("o2").to_str().unwrap(),
    ]);
    assert!(
        err.contains(&format!("line {lines}: not valid UTF-8")),
        "{err}"
    );
}

/// A PNG's colour type, palette and raw sample values (no expansion).
fn raw_png(bytes: &[u8]) -> (png::ColorType, Option<Vec<u8>>, Vec<u8>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().unwrap();
    let mut samples = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut samples).unwrap();
    samples.truncate(frame.buffer_size());
    let palette = reader.info().palette.as_ref().map(|p| p.to_vec());
    (frame.color_type, palette, samples)
}

#[test]
fn masks_have_a_palette_and_keep_class_indices() {
    use accord::engine::backend::cpu::CpuBackend;
    use accord::segmentation::methods::{fit, SegMethod, SegParams};
    use accord::segmentation::png_mask::{decode_mask, parse_hex};
    use accord::segmentation::write::{write_segmentation, SegWriteOptions};
    let options = SegWriteOptions {
        label_attribute: "label".into(),
        job_name: "accord".into(),
        creation_date: "2026-11-23T12:00:00.000000".into(),
        confidence_maps: false,
    };
    // Grayscale index masks (values 0..2, which look black), and Ground
    // Truth answers in their colours: two of three workers agree.
    let truth = [0, 1, 1, 2, 2, 0];
    let dir = tmp();
    let mut lines = String::new();
    for (w, pixels) in [truth, truth, [2, 2, 2, 1, 1, 1]].iter().enumerate() {
        let name = format!("w{w}.png");
        std::fs::write(
            dir.path().join(&name),
            encode_mask(3, 2, pixels, None).unwrap(),
        )
        .unwrap();
        lines.push_str(&format!(
            "{}\n",
            json!({"image": "a", "worker": format!("w{w}"), "mask": name})
        ));
    }
    let index_manifest = file(dir.path(), "masks.jsonl", lines);
    let index_input = read_mask_manifest(
        std::path::Path::new(&index_manifest),
        None,
        MAX_PIXELS,
        &mut Rejects::strict(),
    )
    .unwrap();
    let cat_dog = json!({"cat": {"color": "#ff0000"}, "dog": {"color": "#00ff00"}});
    let request = json!([{"datasetObjectId": "a", "annotations": [
        gt_answer("w1", cat_dog.clone(), 3, 2, &truth, (3, 2)),
        gt_answer("w2", cat_dog.clone(), 3, 2, &truth, (3, 2)),
        gt_answer("w3", cat_dog, 3, 2, &[2, 2, 2, 1, 1, 1], (3, 2)),
    ]}]);
    let request_path = dir.path().join("request.json");
    std::fs::write(&request_path, request.to_string()).unwrap();
    let gt_input =
        read_gt_segmentation_request(&request_path, None, MAX_PIXELS, &mut Rejects::strict())
            .unwrap();

    for (case, input) in [("index masks", index_input), ("Ground Truth", gt_input)] {
        let result = fit(&input.batch, &CpuBackend, &SegParams::new(SegMethod::Mv)).unwrap();
        let out = dir.path().join(case.replace(' ', "-"));
        let manifest = write_segmentation(
            &out,
            &input.batch,
            input.colours.as_ref(),
            &result,
            &options,
        )
        .unwrap();
        let line: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(&manifest).unwrap().trim()).unwrap();
        let meta_map = &line["label-ref-metadata"]["internal-color-map"];
        let png = std::fs::read(out.join(line["label-ref"].as_str().unwrap())).unwrap();

        // An indexed PNG whose samples are the class ids…
        let (colour_type, palette, samples) = raw_png(&png);
        assert_eq!(colour_type, png::ColorType::Indexed, "{case}");
        assert_eq!(samples, truth, "{case}");
        // …and whose palette is the manifest's colour map, one distinct
        // colour per class, no two of them near-identical greys.
        let palette = palette.unwrap_or_else(|| panic!("{case}: no PLTE chunk"));
        let colours: Vec<[u8; 3]> = palette.chunks(3).map(|c| c.try_into().unwrap()).collect();
        assert_eq!(colours.len(), 3, "{case}");
        for (c, colour) in colours.iter().enumerate() {
            let hex = meta_map[c.to_string()]["hex-color"].as_str().unwrap();
            assert_eq!(parse_hex(hex).unwrap(), *colour, "{case} class {c}");
            for other in &colours[..c] {
                let apart: u32 = (0..3).map(|i| colour[i].abs_diff(other[i]) as u32).sum();
                assert!(apart >= 32, "{case}: {colours:?}");
            }
        }
        // Readers get the class ids back, with the map and without.
        let map = ColourMap::from_internal(meta_map).unwrap();
        assert_eq!(
            decode_mask(&png, Some(&map), MAX_PIXELS).unwrap().pixels,
            truth
        );
        assert_eq!(decode_mask(&png, None, MAX_PIXELS).unwrap().pixels, truth);
    }
}

#[test]
fn a_class_index_beyond_the_colour_map_is_an_error_not_a_panic() {
    // Regression: a grayscale index PNG holding 7 with a two-class map
    // panicked ("index out of bounds: the len is 2 but the index is 7").
    let dir = tmp();
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, 2, 1);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .unwrap()
            .write_image_data(&[0, 7])
            .unwrap();
    }
    std::fs::write(dir.path().join("m.png"), &png_bytes).unwrap();
    let manifest = dir.path().join("m.jsonl");
    std::fs::write(
        &manifest,
        "{\"image\": \"a\", \"worker\": \"w\", \"mask\": \"m.png\", \"label-mappings\": {\"cat\": {\"color\": \"#ff0000\"}}}\n",
    )
    .unwrap();
    let err = accord_bad_input(&[
        "consolidate",
        "--task",
        "segmentation",
        manifest.to_str().unwrap(),
        "-o",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert!(
        err.contains("line 1") && err.contains("pixel (1, 0) holds class index 7"),
        "{err}"
    );
}

#[test]
fn many_png_bombs_stop_with_a_limit_before_they_are_decoded() {
    // Regression: one 79 KB PNG declaring 9000x9000 named on 60 manifest
    // lines aborted after 16 s. The decoded size (from the PNG headers) is
    // checked against memory first; ACCORD_MEMORY_LIMIT stands in for a
    // small machine.
    let dir = tmp();
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, 3000, 3000);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .unwrap()
            .write_image_data(&vec![0u8; 3000 * 3000])
            .unwrap();
    }
    std::fs::write(dir.path().join("bomb.png"), &png_bytes).unwrap();
    let manifest = dir.path().join("m.jsonl");
    let lines: String = (0..60)
        .map(|w| format!("{{\"image\": \"a\", \"worker\": \"w{w}\", \"mask\": \"bomb.png\"}}\n"))
        .collect();
    std::fs::write(&manifest, lines).unwrap();
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args([
            "consolidate",
            "--task",
            "segmentation",
            manifest.to_str().unwrap(),
            "-o",
        ])
        .arg(dir.path().join("out"))
        .env("ACCORD_MEMORY_LIMIT", "200000000")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("decoded masks") && stderr.contains("MiB of memory is available"),
        "{stderr}"
    );
    assert!(
        started.elapsed().as_secs() < 10,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_segmentation_output_folder_may_not_hold_the_masks_it_reads() {
    // Regression (hostile corpus): -o masks, with the manifest naming
    // masks/masks/..., replaced the workers' input masks; a folder as the
    // manifest exited 1; generate -o onto a file exited 1.
    let dir = tmp();
    let data = dir.path().join("data");
    accord_ok(&[
        "generate",
        "--task",
        "segmentation",
        "-o",
        data.to_str().unwrap(),
        "--images",
        "1",
        "--size",
        "8x8",
    ]);
    let err = accord_bad_input(&[
        "consolidate",
        "--task",
        "segmentation",
        data.join("annotations.jsonl").to_str().unwrap(),
        "-o",
        data.join("masks").to_str().unwrap(),
    ]);
    assert!(err.contains("lies in the output folder"), "{err}");
    let err = accord_bad_input(&[
        "consolidate",
        "--task",
        "segmentation",
        data.to_str().unwrap(),
        "-o",
        "x",
    ]);
    assert!(err.contains("is a folder"), "{err}");
    let err = accord_bad_input(&["generate", "-o", data.join("gold.jsonl").to_str().unwrap()]);
    assert!(err.contains("is a file"), "{err}");
}

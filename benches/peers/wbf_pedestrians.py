#!/usr/bin/env python3
"""ensemble-boxes' weighted box fusion beside accord's box methods on a box set.

Usage: python3 benches/peers/wbf_pedestrians.py [DATASET_DIR] [ACCORD_BINARY]
(default ../shared/datasets/boxes-pedestrians and target/release/accord;
needs `pip install ensemble-boxes`). Each worker of an image is one "model"
for WBF; a fused box is kept when its score (the share of the image's
workers, weighted, who drew it) is at least 0.5, the quorum accord's votes use.
WBF runs with its defaults (iou_thr 0.55, equal weights) and with each
worker's precision as accord's `lean` estimates it (--workers-out) as the
weight. All rows are scored by `accord evaluate --task boxes`.
"""
import csv, collections, json, os, subprocess, sys, tempfile

from ensemble_boxes import weighted_boxes_fusion

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/boxes-pedestrians"
accord = sys.argv[2] if len(sys.argv) > 2 else "target/release/accord"
tmp = tempfile.mkdtemp()
p = lambda name: os.path.join(data, name)

sizes = {r["item"]: (float(r["width"]), float(r["height"])) for r in csv.DictReader(open(p("images.csv")))}
answers = collections.defaultdict(list)
for r in csv.DictReader(open(p("responses.csv"))):
    answers[r["item"]].append(r["worker"])
boxes = collections.defaultdict(lambda: collections.defaultdict(list))
for r in csv.DictReader(open(p("boxes.csv"))):
    boxes[r["item"]][r["worker"]].append((r["label"], *(float(r[k]) for k in ("left", "top", "width", "height"))))


def score(pred_csv):
    out = subprocess.run([accord, "evaluate", "--task", "boxes", "--pred", pred_csv, "--gold", p("gold.csv"),
                          "--gold-images", p("gold_images.csv"), "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run_wbf(name, weight_of):
    labels = sorted({b[0] for per in boxes.values() for bs in per.values() for b in bs})
    path = os.path.join(tmp, name + ".csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item", "class", "left", "top", "width", "height", "confidence"])
        for item, workers in answers.items():
            W, H = sizes[item]
            bl, sl, ll, weights = [], [], [], []
            for worker in workers:
                own = boxes[item].get(worker, [])
                bl.append([[max(0, l / W), max(0, t / H), min(1, (l + bw) / W), min(1, (t + bh) / H)] for _, l, t, bw, bh in own] or [[0, 0, 0, 0]][:0])
                sl.append([1.0] * len(own))
                ll.append([labels.index(b[0]) for b in own])
                weights.append(weight_of(worker))
            if not any(bl):
                continue
            fb, fs, fl = weighted_boxes_fusion(bl, sl, ll, weights=weights, iou_thr=0.55, skip_box_thr=0.0)
            for (x1, y1, x2, y2), s, lab in zip(fb, fs, fl):
                if s >= 0.5:
                    w.writerow([item, labels[int(lab)], x1 * W, y1 * H, (x2 - x1) * W, (y2 - y1) * H, s])
    return path


def accord_run(method, extra=()):
    out = os.path.join(tmp, method + ".csv")
    subprocess.run([accord, "consolidate", "--task", "boxes", p("boxes.csv"), "--responses", p("responses.csv"),
                    "--images", p("images.csv"), "--method", method, "-q", "-o", out, *extra], check=True)
    return out


workers_csv = os.path.join(tmp, "workers.csv")
rows = [(f"accord {m}", accord_run(m, ["--workers-out", workers_csv] if m == "lean" else [])) for m in ("lean", "iou-mean", "wbf", "medoid")]
precision = {r["worker"]: float(r["precision"] or 0.001) for r in csv.DictReader(open(workers_csv))}
rows.append(("ensemble-boxes WBF, defaults", run_wbf("wbf-defaults", lambda w: 1.0)))
rows.append(("ensemble-boxes WBF, lean's worker precision as weights", run_wbf("wbf-weighted", lambda w: max(precision.get(w, 0.001), 0.001))))
print(f"{'method':<58} {'P@.5':>6} {'R@.5':>6} {'F1@.5':>6} {'F1@.75':>6} {'mIoU':>6} {'AP':>6} empty")
for name, path in rows:
    s = score(path)
    print(f"{name:<58} {s['at_50']['precision']:.4f} {s['at_50']['recall']:.4f} {s['at_50']['f1']:.4f} {s['at_75']['f1']:.4f} "
          f"{s['mean_iou']:.4f} {s['ap']:.4f} {s['empty_images_predicted_empty']}/{s['empty_images']}")

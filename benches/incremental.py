#!/usr/bin/env python3
"""Incremental batches: a job consolidated in B batches, each starting from
the worker model the previous one wrote (--workers-in / --workers-out),
against consolidating everything at once and against each batch alone.

Each classification set in DATASETS (default ../shared/datasets) is cut by
item into B batches of consecutive items in first-seen order (the order a
job's items arrive in), for B in 2, 5 and 10. Every run uses accord's
default method; labels do not depend on --confidence, so it runs with
--confidence raw to save the calibration's fold fits. Accuracy is on each
set's gold items; a batched run's labels are the union of its batches'.

    python3 benches/incremental.py [--accord target/release/accord] [--datasets DIR] [--batches 2,5,10]
    python3 benches/incremental.py --set FOLDER   # one folder with labels.csv and gold.csv (accord generate's)

Prints a Markdown table: per set, the one-shot accuracy, then per B the
batched (chained) and each-batch-alone accuracy, as differences from
one-shot in points.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile


def read_rows(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, list(reader)


def gold_of(path):
    header, rows = read_rows(path)
    item = header.index("item") if "item" in header else 0
    label = header.index("label") if "label" in header else 1
    return {r[item]: r[label] for r in rows}


def labels_of(path):
    _, rows = read_rows(path)
    return {r[0]: r[1] for r in rows}


def accuracy(labels, gold):
    scored = [i for i in gold if i in labels]
    return sum(labels[i] == gold[i] for i in scored) / len(scored)


def run(accord, args):
    done = subprocess.run([accord, "consolidate", "--quiet", "--confidence", "raw", *args])
    if done.returncode != 0:
        sys.exit(f"accord consolidate {' '.join(args)} failed ({done.returncode})")


def batches_of(header, rows, b, folder):
    order = {}
    for r in rows:
        order.setdefault(r[0], len(order))
    n = len(order)
    paths = []
    for j in range(b):
        lo, hi = j * n // b, (j + 1) * n // b
        path = os.path.join(folder, f"batch{j}.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(r for r in rows if lo <= order[r[0]] < hi)
        paths.append(path)
    return paths


def batched(accord, paths, folder, chained):
    labels = {}
    model = None
    for j, path in enumerate(paths):
        out = os.path.join(folder, f"labels{j}.csv")
        args = [path, "-o", out]
        if chained:
            if model:
                args += ["--workers-in", model]
            model = os.path.join(folder, f"model{j}.json")
            args += ["--workers-out", model]
        run(accord, args)
        labels.update(labels_of(out))
    return labels


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--accord", default=os.path.join(here, "..", "target", "release", "accord"))
    p.add_argument("--datasets", default=os.path.join(here, "..", "..", "shared", "datasets"))
    p.add_argument("--set", help="one folder with labels.csv and gold.csv instead of --datasets")
    p.add_argument("--batches", default="2,5,10")
    a = p.parse_args()
    counts = [int(b) for b in a.batches.split(",")]
    if a.set:
        sets = [os.path.abspath(a.set)]
    else:
        with open(os.path.join(a.datasets, "SUMMARY.csv"), newline="") as f:
            sets = [os.path.join(a.datasets, row["name"]) for row in csv.DictReader(f)]
    head = "| set | one run |" + "".join(f" {b} chained | {b} alone |" for b in counts)
    print(head)
    print("|---|---|" + "---|---|" * len(counts))
    worst = {b: 0.0 for b in counts}
    sums = {(b, how): 0.0 for b in counts for how in ("chained", "alone")}
    for folder in sets:
        name = os.path.basename(folder.rstrip("/"))
        gold = gold_of(os.path.join(folder, "gold.csv"))
        header, rows = read_rows(os.path.join(folder, "labels.csv"))
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "all.csv")
            run(a.accord, [os.path.join(folder, "labels.csv"), "-o", out])
            one = accuracy(labels_of(out), gold)
            cells = [f"{one:.4f}"]
            for b in counts:
                paths = batches_of(header, rows, b, tmp)
                chained = accuracy(batched(a.accord, paths, tmp, True), gold)
                alone = accuracy(batched(a.accord, paths, tmp, False), gold)
                worst[b] = min(worst[b], chained - one)
                sums[(b, "chained")] += chained - one
                sums[(b, "alone")] += alone - one
                cells += [f"{100 * (chained - one):+.2f}", f"{100 * (alone - one):+.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    means = [f"{100 * sums[(b, how)] / len(sets):+.2f}" for b in counts for how in ("chained", "alone")]
    print("| mean | | " + " | ".join(means) + " |")
    print()
    print("Largest drop of chained batches below one run, in points: " + ", ".join(
        f"{b} batches {100 * -worst[b]:.2f}" for b in counts))


if __name__ == "__main__":
    main()

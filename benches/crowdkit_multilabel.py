#!/usr/bin/env python3
"""crowd-kit's BinaryRelevance on a multi-label selections table, written in
accord's multi-label CSV (item,label,confidence,selected) so that
`accord evaluate --task multilabel` scores it like accord's own output.

Set-up: the virtual environment of ../shared/peer/crowdkit_run.py
(crowd-kit 1.4.2, pandas 2.2.3, numpy 2.1.3, scikit-learn 1.5.2, scipy 1.14.1).

Usage:
    /tmp/ck/bin/python benches/crowdkit_multilabel.py SELECTIONS_CSV RESPONSES_CSV \
        --base MV|DS --out PRED_CSV

Every (item, worker) of RESPONSES_CSV is one answer; its labels are its rows
in SELECTIONS_CSV (none: an empty list, a "no" to every label, as accord
reads it). `selected` is BinaryRelevance's labels_; `confidence` is the base
aggregator's probas_ of the label's binary class 1 (crowd-kit's own
BinaryRelevance returns labels only). Prints the fit time.
"""
import argparse
import time

import pandas as pd
from crowdkit.aggregation import BinaryRelevance, DawidSkene, MajorityVote


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("selections")
    ap.add_argument("responses")
    ap.add_argument("--base", choices=["MV", "DS"], default="MV")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sel = pd.read_csv(a.selections, dtype=str, keep_default_na=False)
    resp = pd.read_csv(a.responses, dtype=str, keep_default_na=False)
    ticked = sel.groupby(["item", "worker"])["label"].apply(lambda s: sorted(set(s)))
    df = resp.drop_duplicates().set_index(["item", "worker"])
    df["label"] = [ticked.get(k, []) for k in df.index]
    df = df.reset_index().rename(columns={"item": "task"})
    base = MajorityVote() if a.base == "MV" else DawidSkene(n_iter=100, tol=1e-5)
    t = time.perf_counter()
    br = BinaryRelevance(base)
    labels = br.fit_predict(df)
    fit_s = time.perf_counter() - t
    classes = sorted(br.aggregators_)
    rows = []
    for item in df["task"].drop_duplicates():
        chosen = set(labels.get(item, []))
        for c in classes:
            probas = br.aggregators_[c].probas_
            p = float(probas.loc[item].get(1, 0.0)) if probas is not None else float(c in chosen)
            rows.append((item, c, p, int(c in chosen)))
    pd.DataFrame(rows, columns=["item", "label", "confidence", "selected"]).to_csv(a.out, index=False)
    print(f"crowd-kit BinaryRelevance({a.base}): answers={len(df)} labels={len(classes)} fit_s={fit_s:.3f}")


if __name__ == "__main__":
    main()

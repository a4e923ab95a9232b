#!/usr/bin/env python3
"""accord's Python `DawidSkene().fit_predict(df)` against crowd-kit's, on the
same in-memory pandas frames: time of fit_predict alone and each process's
peak memory.

    python benches/python_vs_crowdkit.py [ANNOTATIONS ...]   (default: 1000000 10000000)

Needs one Python with both accord (`pip install .`) and crowd-kit (set-up in
../shared/peer/crowdkit_run.py; the same pandas for both, so both get the
same frame). Data: `accord generate` (the CLI: ACCORD, default
target/release/accord), K = 5 classes, 5 annotations per item, workers =
items / 50, accuracies uniform on [0.55, 0.95], seed 1 — the files of
benches/compare_crowdkit.sh. Each measurement is a fresh child process that
reads labels.csv with `pd.read_csv(dtype=str)` and then times
`fit_predict(df)` alone; its peak RSS (getrusage) is the process's peak,
frame included. accord runs `DawidSkene(backend="cpu")` (its defaults:
n_iter=100, relative tol 1e-5); crowd-kit runs `DawidSkene(n_iter=100,
tol=1e-5)` through ../shared/peer/crowdkit_run.py (CROWDKIT_RUNNER). Times
are medians of REPEATS runs (default 3), the tools taking turns; crowd-kit
runs once above 2M annotations, where one run takes minutes.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
ACCORD = Path(os.environ.get("ACCORD", HERE / "target" / "release" / "accord"))
RUNNER = Path(os.environ.get("CROWDKIT_RUNNER", HERE.parent / "shared" / "peer" / "crowdkit_run.py"))
REPEATS = int(os.environ.get("REPEATS", "3"))

#: The accord side, as crowdkit_run.py measures crowd-kit: load, then time
#: fit_predict alone; accuracy on gold; peak RSS.
ACCORD_CHILD = r"""
import resource, sys, time
import pandas as pd
import accord
labels, gold = sys.argv[1], sys.argv[2]
df = pd.read_csv(labels, dtype=str, keep_default_na=False).rename(columns={"item": "task"})[["task", "worker", "label"]]
t = time.perf_counter()
model = accord.DawidSkene(backend="cpu")
pred = model.fit_predict(df)
fit_s = time.perf_counter() - t
g = pd.read_csv(gold, dtype=str, keep_default_na=False).drop_duplicates("item").set_index("item")["label"]
acc = float((pred.reindex(g.index).values == g.values).mean())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"accord DS: annotations={len(df)} fit_s={fit_s:.3f} accuracy={acc:.4f} "
      f"iterations={model.run_info_['iterations']} peak_rss_mib={peak:.0f}")
"""


def field(line: str, name: str) -> float:
    m = re.search(rf"{name}=([0-9.]+)", line)
    if not m:
        raise RuntimeError(f"no {name} in {line!r}")
    return float(m.group(1))


def runs(lines: list[str]) -> str:
    return ", ".join("%.2f" % field(line, "fit_s") for line in lines)


def run(args: list[str]) -> str:
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 2**20
    import accord
    import crowdkit
    import pandas

    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; Python {platform.python_version()}, pandas "
            f"{pandas.__version__}, accord {accord.__version__} (commit {commit()}), crowd-kit {crowdkit.__version__ if hasattr(crowdkit, '__version__') else '1.4.2'}")


def main() -> None:
    sizes = [int(float(a)) for a in sys.argv[1:]] or [1_000_000, 10_000_000]
    if not ACCORD.is_file():
        sys.exit(f"build the CLI first (cargo build --release) or set ACCORD; not found: {ACCORD}")
    print(f"machine: {machine()}; medians of {REPEATS} runs")
    work = Path(os.environ.get("WORK_DIR") or tempfile.mkdtemp())
    print(f"{'annotations':>12} {'tool':>9} {'fit_s':>8} {'peak_MiB':>9} {'accuracy':>9}")
    for n in sizes:
        items = n // 5
        workers = max(items // 50, 20)
        data = work / f"data-{n}"
        if not (data / "labels.csv").is_file():
            subprocess.run([str(ACCORD), "generate", "--out", str(data), "--items", str(items), "--workers", str(workers),
                            "--classes", "5", "--per-item", "5", "--seed", "1"], check=True, capture_output=True)
        labels, gold = str(data / "labels.csv"), str(data / "gold.csv")
        a_lines, c_lines = [], []
        c_repeats = 1 if n > 2_000_000 else REPEATS
        for r in range(REPEATS):
            a_lines.append(run([sys.executable, "-c", ACCORD_CHILD, labels, gold]))
            if r < c_repeats:
                c_lines.append(run([sys.executable, str(RUNNER), labels, "--gold", gold, "--method", "DS"]))
        a_fit = statistics.median(field(l, "fit_s") for l in a_lines)
        a_mem = statistics.median(field(l, "peak_rss_mib") for l in a_lines)
        c_fit = statistics.median(field(l, "fit_s") for l in c_lines)
        c_mem = statistics.median(field(l, "peak_rss_mib") for l in c_lines)
        print(f"{n:>12} {'accord':>9} {a_fit:>8.2f} {a_mem:>9.0f} {field(a_lines[0], 'accuracy'):>9.4f}"
              f"   (iterations {field(a_lines[0], 'iterations'):.0f}; runs {runs(a_lines)})")
        print(f"{n:>12} {'crowd-kit':>9} {c_fit:>8.2f} {c_mem:>9.0f} {field(c_lines[0], 'accuracy'):>9.4f}"
              f"   (runs {runs(c_lines)})")
        print(f"{n:>12} {'ratio':>9} {c_fit / a_fit:>7.1f}x {c_mem / a_mem:>8.1f}x")


if __name__ == "__main__":
    main()

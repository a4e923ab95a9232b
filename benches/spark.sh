#!/usr/bin/env bash
# accord.spark against the single-machine CLI on the same generated CSV:
#   benches/spark.sh [ANNOTATIONS=10000000] [METHOD=ds] [PARTITIONS=8]
# Needs target/release/accord (cargo build --release) and a Python with
# accord and pyspark installed (PYTHON, default .venv/bin/python). Prints the
# CLI's time and peak memory, then the Spark run's JSON (benches/spark_bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
method=${2:-ds}
partitions=${3:-8}
python=${PYTHON:-.venv/bin/python}
accord=${ACCORD_BIN:-${CARGO_TARGET_DIR:-target}/release/accord}
dir=${ACCORD_SPARK_DATA:-$(mktemp -d)/spark-$n}
mkdir -p "$dir"
if [ ! -f "$dir/labels.csv" ]; then
  # The benchmarks' data: K = 5, 5 workers per item, workers = items / 50 (at most 200,000).
  items=$((n / 5))
  workers=$((items / 50)); [ "$workers" -gt 200000 ] && workers=200000
  "$accord" generate --out "$dir" --items "$items" --workers "$workers" --classes 5 --per-item 5 --seed 1 >/dev/null
fi
echo "data: $dir/labels.csv ($(du -h "$dir/labels.csv" | cut -f1)); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "cli: %e s wall, %U s user, %M KiB peak" \
  "$accord" consolidate "$dir/labels.csv" --method "$method" --backend cpu --confidence raw -o "$dir/cli.csv" --verbose 2>&1 | grep -E "^cli:|iteration|converged" | tail -3
"$python" benches/spark_bench.py "$dir/labels.csv" "$method" "$partitions"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

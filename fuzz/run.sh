#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 15; 12 targets), on
# stable Rust: the same coverage instrumentation `cargo fuzz` uses, without
# a sanitizer (a panic, an overflow or a timeout is a finding). Seeds come
# from the bad-input corpus (tests/corpus); what a target finds is saved in
# fuzz/artifacts/TARGET/ and the script exits 1. Make each finding a case
# of tests/corpus (make_corpus.py) and fix it.
#
#   fuzz/run.sh 15        # CI: about 2 minutes of fuzzing
#   fuzz/run.sh 3600      # an hour per target
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-15}
host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# --target keeps the instrumentation out of build scripts.
cargo build --release --target "$host" --bins

corpus=../tests/corpus
declare -A seeds=(
  [csv]="$corpus/csv $corpus/tsv"
  [jsonl]="$corpus/jsonl"
  [gt_request]="$corpus/gt"
  [gold]="$corpus/gold"
  [png_mask]="$corpus/seg/masks"
  [gt_segmentation]="$corpus/seg"
  [mask_manifest]="$corpus/seg"
  [lambda_event]="$corpus/event"
  [gt_boxes]="$corpus/boxes"
  [gt_spans]="$corpus/spans"
  [multilabel]="$corpus/multilabel"
  [box_table]="$corpus/csv"
)
failed=()
for target in csv jsonl gt_request gold png_mask gt_segmentation mask_manifest lambda_event gt_boxes gt_spans multilabel box_table; do
  mkdir -p "corpus/$target" "artifacts/$target"
  echo "== $target: ${seconds} s"
  # shellcheck disable=SC2086 # the seed folders are words
  if ! "target/$host/release/$target" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="artifacts/$target/" "corpus/$target" ${seeds[$target]} \
      2> "artifacts/$target.log"; then
    failed+=("$target")
    tail -n 30 "artifacts/$target.log"
  else
    grep -E "^stat::number_of_executed_units|Done [0-9]+ runs" "artifacts/$target.log" | tail -n 1 || true
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: findings in ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "fuzz: no finding in ${#seeds[@]} targets × ${seconds} s"

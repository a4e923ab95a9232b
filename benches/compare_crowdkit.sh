#!/usr/bin/env bash
# accord against crowd-kit (the Python peer) on the same generated files, in
# one run: time, peak memory and accuracy of Dawid-Skene, and their ratios.
#
#   benches/compare_crowdkit.sh [ANNOTATIONS ...]      (default: 1000000)
#
# Data: accord generate, K = 5 classes, 5 annotations per item, workers =
# items / 50, accuracies uniform on [0.55, 0.95], seed 1. crowd-kit runs
# DawidSkene(n_iter=100, tol=1e-5) through ../shared/peer/crowdkit_run.py;
# accord runs `consolidate --method ds --backend cpu --confidence raw`
# (tolerance 1e-5 too; raw: the same posterior crowd-kit gives, no calibration fits).
# Both are timed end to end (CSV in, labels out; gold scoring left out).
# Times are medians of REPEATS runs (default 3; crowd-kit runs once above
# 2M annotations, where one run takes minutes), the two tools taking turns. Needs a Python with crowd-kit
# (CROWDKIT_PYTHON, default /tmp/ck/bin/python; set-up in
# ../shared/peer/crowdkit_run.py) and a release build of accord.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
accord=${ACCORD:-$here/target/release/accord}
python=${CROWDKIT_PYTHON:-/tmp/ck/bin/python}
runner=${CROWDKIT_RUNNER:-$here/../shared/peer/crowdkit_run.py}
work=${WORK_DIR:-$(mktemp -d)}
repeats=${REPEATS:-3}
[ -x "$accord" ] || { echo "build accord first: cargo build --release" >&2; exit 2; }
[ -x "$python" ] || { echo "no crowd-kit Python at $python (set CROWDKIT_PYTHON)" >&2; exit 2; }
command -v bc >/dev/null || { echo "this script needs bc (apt-get install bc)" >&2; exit 2; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "hardware: $cpu, $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; accord $("$accord" --version | cut -d' ' -f2); medians of $repeats runs"
printf '%-12s %-9s %10s %10s %9s %10s\n' annotations tool seconds peak_MiB accuracy iterations
for n in "${@:-1000000}"; do
  items=$((n / 5)); workers=$((items / 50)); [ "$workers" -lt 20 ] && workers=20
  dir="$work/data-$n"
  [ -f "$dir/labels.csv" ] || "$accord" generate --out "$dir" --items "$items" --workers "$workers" --classes 5 --per-item 5 --seed 1 2>/dev/null
  # accord and crowd-kit take turns, so that both sample the same spells of
  # a noisy machine; crowd-kit runs once above 2M annotations.
  c_repeats=$repeats; [ "$n" -gt 2000000 ] && c_repeats=1
  a_times=(); a_mems=(); c_times=(); c_fits=(); c_mems=()
  for r in $(seq "$repeats"); do
    start=$(date +%s.%N)
    log=$("$accord" consolidate "$dir/labels.csv" --method ds --backend cpu --confidence raw -o "$dir/accord.csv" --verbose 2>&1 >/dev/null)
    end=$(date +%s.%N)
    a_times+=("$(echo "$end - $start" | bc -l)")
    a_mems+=("$(sed -n 's/.*peak memory \([0-9.]*\) MiB.*/\1/p' <<<"$log")")
    [ "$r" -le "$c_repeats" ] || continue
    line=$("$python" "$runner" "$dir/labels.csv" --gold "$dir/gold.csv" --method DS)
    c_times+=("$(sed -n 's/.*total_s=\([0-9.]*\).*/\1/p' <<<"$line")")
    c_fits+=("$(sed -n 's/.*fit_s=\([0-9.]*\).*/\1/p' <<<"$line")")
    c_mems+=("$(sed -n 's/.*peak_rss_mib=\([0-9.]*\).*/\1/p' <<<"$line")")
  done
  a_s=$(printf '%s\n' "${a_times[@]}" | median)
  a_mem=$(printf '%s\n' "${a_mems[@]}" | median)
  a_it=$(sed -n 's/^accord: ds on [^:]*: \([0-9]*\) iteration.*/\1/p' <<<"$log")
  scored=$("$accord" consolidate "$dir/labels.csv" --method ds --backend cpu --confidence raw -o "$dir/accord.csv" --gold "$dir/gold.csv" 2>&1 >/dev/null)
  a_acc=$(sed -n 's/.*accuracy on gold: \([0-9.]*\).*/\1/p' <<<"$scored")
  printf '%-12s %-9s %10.2f %10.0f %9s %10s\n' "$n" accord "$a_s" "$a_mem" "$a_acc" "$a_it"
  c_s=$(printf '%s\n' "${c_times[@]}" | median)
  c_fit=$(printf '%s\n' "${c_fits[@]}" | median)
  c_mem=$(printf '%s\n' "${c_mems[@]}" | median)
  c_acc=$(sed -n 's/.*accuracy=\([0-9.]*\).*/\1/p' <<<"$line")
  printf '%-12s %-9s %10.2f %10.0f %9s %10s\n' "$n" crowd-kit "$c_s" "$c_mem" "$c_acc" "-"
  printf '%-12s %-9s %9.1fx %9.1fx %+9.4f   (crowd-kit fit alone: %.2f s, %.1fx accord end to end)\n' "$n" "ratio" \
    "$(echo "$c_s / $a_s" | bc -l)" "$(echo "$c_mem / $a_mem" | bc -l)" "$(echo "$a_acc - $c_acc" | bc -l)" \
    "$c_fit" "$(echo "$c_fit / $a_s" | bc -l)"
done

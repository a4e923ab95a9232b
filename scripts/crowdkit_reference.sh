#!/usr/bin/env bash
# Measures crowd-kit (the Python peer) on every set in ../shared/datasets and
# writes tests/data/crowdkit_reference.csv (dataset,method,accuracy,fit_s),
# the reference the accuracy tests compare accord against.
# Needs a Python with crowd-kit: see ../shared/peer/crowdkit_run.py for the set-up.
# METHODS="Wawa ZBS" scripts/crowdkit_reference.sh re-measures those methods
# only and keeps the other rows. KOS is run on two-class sets only (crowd-kit
# refuses others); a method crowd-kit fails on (M-MSR on product) gets no row,
# with the failure printed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
datasets=${ACCORD_DATASETS:-$here/../shared/datasets}
python=${CROWDKIT_PYTHON:-/tmp/ck/bin/python}
runner=${CROWDKIT_RUNNER:-$here/../shared/peer/crowdkit_run.py}
out=$here/tests/data/crowdkit_reference.csv
all="MV DS OneCoinDS Wawa ZBS GLAD MACE KOS MMSR"
tmp=$(mktemp)
echo "dataset,method,accuracy,fit_s" > "$tmp"
for dir in "$datasets"/*/; do
  name=$(basename "$dir")
  classes=$(tail -n +2 "$dir/gold.csv" | cut -d, -f2 | sort -u | wc -l)
  for method in ${METHODS:-$all}; do
    if [ "$method" = KOS ] && [ "$classes" != 2 ]; then
      continue
    fi
    if ! line=$("$python" "$runner" "$dir/labels.csv" --gold "$dir/gold.csv" --method "$method" 2>"$tmp.err"); then
      echo "$name $method: crowd-kit failed: $(tail -n 1 "$tmp.err")" >&2
      continue
    fi
    acc=$(sed -n 's/.*accuracy=\([0-9.]*\).*/\1/p' <<<"$line")
    fit=$(sed -n 's/.*fit_s=\([0-9.]*\).*/\1/p' <<<"$line")
    echo "$name,$method,$acc,$fit" >> "$tmp"
    echo "$name $method $acc (fit ${fit}s)" >&2
  done
done
mkdir -p "$(dirname "$out")"
if [ -f "$out" ]; then
  # Keep the rows of methods not measured now; order by dataset, stably.
  measured=" ${METHODS:-$all} "
  { head -n 1 "$tmp"
    { tail -n +2 "$out" | while IFS=, read -r d m rest; do
        [[ $measured == *" $m "* ]] || echo "$d,$m,$rest"
      done
      tail -n +2 "$tmp"; } | sort -s -t, -k1,1; } > "$tmp.merged"
  mv "$tmp.merged" "$tmp"
fi
rm -f "$tmp.err"
mv "$tmp" "$out"

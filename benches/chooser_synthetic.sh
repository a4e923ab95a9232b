#!/usr/bin/env bash
# auto's choice on generated sets that mimic the three patterns where hds fell
# behind on real sets it was not tuned on (the label-quality issue):
#   a: 2 classes, 78 workers, 11 answers per item (~280 per worker), symmetric errors;
#   b: 5 classes, 177 workers, 6 per item, with adversarial workers and spammers;
#   c: 10 classes, 44 workers, 4 per item, skewed classes and loads.
# Prints a Markdown table: accuracy on gold per method, and what auto chose.
# Usage: benches/chooser_synthetic.sh [SEEDS...]   (default: 1 2)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
accord=${ACCORD_BIN:-$here/target/release/accord}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
methods=(auto hds ds "ds --prior-correct 1" one-coin mace mv zbs)
pattern() {
  case $1 in
    a) echo "--items 2000 --workers 78 --per-item 11 --classes 2 --accuracy uniform:0.5,0.8" ;;
    b) echo "--items 2600 --workers 177 --per-item 6 --classes 5 --accuracy uniform:0.35,0.9 --adversarial 0.15 --spammers 0.1" ;;
    c) echo "--items 1500 --workers 44 --per-item 4 --classes 10 --accuracy uniform:0.3,0.9 --class-skew 1 --load-skew 0.5" ;;
  esac
}
header="| set | seed |"
rule="|---|---|"
for m in "${methods[@]}"; do header="$header \`$m\` |"; rule="$rule---|"; done
echo "$header auto chose |"
echo "$rule---|"
for p in a b c; do
  for seed in "${@:-1 2}"; do
    for s in $seed; do
      dir=$work/$p$s
      # shellcheck disable=SC2046
      "$accord" generate -o "$dir" --seed "$s" $(pattern $p) >/dev/null 2>&1
      row="| $p | $s |"
      for m in "${methods[@]}"; do
        # shellcheck disable=SC2086
        acc=$("$accord" consolidate "$dir/labels.csv" --method $m -o "$dir/out.csv" \
          --gold "$dir/gold.csv" 2>&1 | sed -n 's/.*accuracy on gold: \([0-9.]*\).*/\1/p')
        row="$row $acc |"
      done
      chose=$("$accord" consolidate "$dir/labels.csv" -o "$dir/out.csv" 2>&1 |
        sed -n 's/.*auto chose \(.*\) by held-out.*/\1/p')
      echo "$row \`$chose\` |"
    done
  done
done

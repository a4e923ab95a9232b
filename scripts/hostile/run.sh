#!/usr/bin/env bash
# Hostile-input and fault corpus for the accord binary: builds ~200 damaged
# inputs and faults in a temporary folder, runs accord on each and classifies
# every case as OK or BROKEN (the rules are in hostile.py's docstring).
#
#   scripts/hostile/run.sh [--keep] [--only SUBSTRING] [--json FILE]
#
# ACCORD=/path/to/accord overrides the binary (default: the release build in
# $CARGO_TARGET_DIR or target/). No network; needs bash, python3, coreutils,
# and root for the mknod cases (they are skipped otherwise).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
ACCORD=${ACCORD:-$target/release/accord}
if [ ! -x "$ACCORD" ]; then
    echo "run.sh: no accord binary at $ACCORD (cargo build --release, or set ACCORD)" >&2
    exit 2
fi
keep=0
args=()
for a in "$@"; do
    if [ "$a" = --keep ]; then keep=1; else args+=("$a"); fi
done
work=$(mktemp -d /tmp/accord-hostile.XXXXXX)
chmod 755 "$work"
cleanup() {
    if [ "$keep" = 1 ]; then
        echo "run.sh: kept $work" >&2
    else
        chmod -R u+w "$work" 2>/dev/null
        rm -rf "$work"
    fi
}
trap cleanup EXIT
# Protect the machine: no case may write more than 1 GiB to one file (the write
# fails with EFBIG instead of SIGXFSZ killing accord) or map more than 12 GiB.
trap '' XFSZ
ulimit -f $((1024 * 1024 * 2))
ulimit -v $((12 * 1024 * 1024))
python3 "$here/hostile.py" "$ACCORD" "$work" "${args[@]+"${args[@]}"}"

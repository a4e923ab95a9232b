#!/usr/bin/env bash
# One GPU benchmark run, ready to fire on a machine with a GPU, a release
# binary and the Vulkan loader (no cargo needed):
#
#   benches/gpu-run.sh OUTDIR            # the full run, under 8 minutes
#   benches/gpu-run.sh OUTDIR --quick    # the same steps at small sizes
#
# Writes OUTDIR/results.md (every command beside its output, with the
# machine and the binary) and OUTDIR/logs/. Generated data goes to
# ACCORD_DATA (default: a folder under ${TMPDIR:-/tmp}, removed at the end
# unless ACCORD_KEEP_DATA=1).
#
# Environment:
#   ACCORD_BIN          the accord binary (default: .gpu/accord, else
#                       target/release/accord, beside this script's folder)
#   ACCORD_DEBS         .deb files of the Vulkan loader, unpacked into / when
#                       libvulkan.so.1 is missing (default: .gpu/debs)
#   ACCORD_BUDGET_S     the whole run's time budget in seconds (default 450;
#                       --quick: 1800); each step also has its own limit
#   ACCORD_ALLOW_SOFTWARE=1  run the full sizes on a software adapter too
#
# Exit status: 0 when every step ran, 1 when one failed or ran out of time
# (the results file says which), 2 on bad usage, 3 when there is no GPU
# adapter (or, without --quick, only a software one).
set -u

# Internal: the segmentation data, in parts generated side by side (one seed
# each), joined into one manifest (run by the step below, under its limit).
if [ "${1:-}" = __gen_seg ]; then
    set -e
    per_part=$((SEG_IMAGES / SEG_PARTS))
    rm -rf "$DATA/seg"
    mkdir -p "$SEG_DIR/parts"
    pids=()
    for p in $(seq 1 "$SEG_PARTS"); do
        echo "accord generate --task segmentation --images $per_part --size $SEG_SIZE --workers $SEG_W --seed $p --out $SEG_DIR/parts/$p"
        "$ACCORD_BIN" generate --task segmentation --images "$per_part" --size "$SEG_SIZE" \
            --workers "$SEG_W" --seed "$p" --out "$SEG_DIR/parts/$p" >/dev/null &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    : >"$SEG_DIR/annotations.jsonl"
    for p in $(seq 1 "$SEG_PARTS"); do
        # Image ids get the part as a prefix; mask paths the part's folder.
        sed -e "s#\"image\":\"#\"image\":\"p$p-#" \
            -e "s#\"mask\":\"#\"mask\":\"parts/$p/#" \
            "$SEG_DIR/parts/$p/annotations.jsonl" >>"$SEG_DIR/annotations.jsonl"
    done
    # The CPU's sets: the first images, their masks hard-linked (a manifest
    # reads masks inside its own folder only).
    for sub in "$MV_DIR:$SEG_CPU_MV_IMAGES" "$SMALL_DIR:$SEG_CPU_STAPLE_IMAGES"; do
        dir=${sub%:*}
        n=${sub##*:}
        [ -d "$dir" ] && continue
        mkdir -p "$dir"
        cp -al "$SEG_DIR/parts" "$dir/parts"
        head -n $((n * SEG_W)) "$SEG_DIR/annotations.jsonl" >"$dir/annotations.jsonl"
    done
    echo "joined: $(wc -l <"$SEG_DIR/annotations.jsonl") masks of $SEG_IMAGES images; the first $(wc -l <"$MV_DIR/annotations.jsonl") and $(wc -l <"$SMALL_DIR/annotations.jsonl") masks for the CPU's smooth-mv and STAPLE runs"
    exit 0
fi

usage() {
    echo "usage: $0 OUTDIR [--quick]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
OUTDIR=$1
shift
QUICK=0
for a in "$@"; do
    case $a in
    --quick) QUICK=1 ;;
    *) usage ;;
    esac
done

HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${ACCORD_BIN:-}" ]; then
    if [ -x "$HERE/.gpu/accord" ]; then
        ACCORD_BIN=$HERE/.gpu/accord
    else
        ACCORD_BIN=$HERE/target/release/accord
    fi
fi
if [ ! -x "$ACCORD_BIN" ]; then
    echo "gpu-run: no accord binary at $ACCORD_BIN (set ACCORD_BIN, or build one: cargo build --release)" >&2
    exit 2
fi
mkdir -p "$OUTDIR/logs" || exit 2
OUTDIR=$(cd "$OUTDIR" && pwd)
RESULTS=$OUTDIR/results.md
LOGS=$OUTDIR/logs
DATA=${ACCORD_DATA:-${TMPDIR:-/tmp}/accord-gpu-run-data}
mkdir -p "$DATA" || exit 2
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
START=$(date +%s)
FAILED=0

if [ "$QUICK" = 1 ]; then
    BUDGET=${ACCORD_BUDGET_S:-1800}
    CLS_SIZES=(2e4 1e5 3e5)
    BIG_ITEMS=200000
    BIG_WORKERS=4000
    SEG_IMAGES=20
    SEG_PARTS=2
    SEG_SIZE=128x128
    SEG_CPU_MV_IMAGES=10
    SEG_CPU_STAPLE_IMAGES=10
    CAP_SMALL=300 CAP_MID=300 CAP_LARGE=600 CAP_BIG=300 CAP_SEG=600
else
    BUDGET=${ACCORD_BUDGET_S:-450}
    CLS_SIZES=(1e6 1e7 5e7)
    BIG_ITEMS=20000000
    BIG_WORKERS=200000
    SEG_IMAGES=10000
    SEG_PARTS=10
    SEG_SIZE=512x512
    # The CPU runs on the first images only, to fit the budget: on 2 shared
    # cores smooth-mv took about 0.1 s and STAPLE 1.6-4 s per 512×512×5
    # image (0.1-0.25 s per 128×128 one, 16 times fewer pixels).
    SEG_CPU_MV_IMAGES=2000
    SEG_CPU_STAPLE_IMAGES=200
    CAP_SMALL=60 CAP_MID=120 CAP_LARGE=200 CAP_BIG=150 CAP_SEG=150
fi

say() { echo "gpu-run [$(($(date +%s) - START)) s]: $*" >&2; }
md() { printf '%s\n' "$*" >>"$RESULTS"; }

# Seconds a step may take: its own cap, and never more than what is left
# of the budget.
limit() {
    local cap=$1 left=$((BUDGET - ($(date +%s) - START)))
    [ "$left" -lt "$cap" ] && cap=$left
    [ "$cap" -lt 1 ] && cap=1
    echo "$cap"
}

# step TITLE CAP COMMAND...: runs the command under its time limit, its
# output to a log and into the results file beside the command.
step() {
    local title=$1 cap=$2
    shift 2
    local n=$((${STEP_NO:-0} + 1))
    STEP_NO=$n
    local log=$LOGS/$(printf '%02d' "$n").log
    local secs
    secs=$(limit "$cap")
    say "step $n: $title (limit ${secs} s)"
    local t0 rc
    t0=$(date +%s.%N)
    timeout --signal=TERM --kill-after=10 "$secs" "$@" >"$log" 2>&1
    rc=$?
    local took
    took=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
    md ""
    md "### $n. $title"
    md ""
    md '```'
    md "\$ ${*/#$ACCORD_BIN/accord}"
    cat "$log" >>"$RESULTS"
    md '```'
    if [ "$rc" = 0 ]; then
        md "_ran in ${took} s_"
        say "step $n done in ${took} s"
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        md "_stopped at its limit of ${secs} s (output above is what it printed until then)_"
        say "step $n STOPPED at its ${secs} s limit"
        FAILED=1
    else
        md "_failed with exit status $rc after ${took} s_"
        say "step $n FAILED (exit $rc); see $log"
        FAILED=1
    fi
    return 0
}

# The Vulkan loader, where the machine lacks it (see shared/GPU-NOTES.md).
DEBS=${ACCORD_DEBS:-$HERE/.gpu/debs}
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
    if ls "$DEBS"/*.deb >/dev/null 2>&1; then
        say "libvulkan.so.1 missing: unpacking $DEBS/*.deb into /"
        for f in "$DEBS"/*.deb; do dpkg -x "$f" / || exit 3; done
        ldconfig
    else
        say "warning: libvulkan.so.1 not found and no .deb files in $DEBS"
    fi
fi

INFO=$("$ACCORD_BIN" info 2>&1)
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if ! grep -q '^gpu backend:' <<<"$INFO" && [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$NVIDIA_ICD" ]; then
    export VK_DRIVER_FILES=$NVIDIA_ICD
    INFO=$("$ACCORD_BIN" info 2>&1)
fi
if ! grep -q '^gpu backend:' <<<"$INFO"; then
    echo "gpu-run: no GPU adapter found; accord info says:" >&2
    echo "$INFO" >&2
    echo "gpu-run: install the Vulkan loader (libvulkan1) and the GPU's Vulkan driver, or put the loader's .deb files in $DEBS" >&2
    exit 3
fi
SOFTWARE=0
grep -q 'software rasteriser' <<<"$INFO" && SOFTWARE=1
if [ "$SOFTWARE" = 1 ] && [ "$QUICK" = 0 ] && [ "${ACCORD_ALLOW_SOFTWARE:-0}" != 1 ]; then
    echo "gpu-run: the only GPU adapter is a software rasteriser; the full sizes would take hours there." >&2
    echo "gpu-run: run with --quick, or set ACCORD_ALLOW_SOFTWARE=1" >&2
    echo "$INFO" >&2
    exit 3
fi

COMMIT=$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$HERE" status --porcelain 2>/dev/null | grep -qv '^??' && echo " (with uncommitted changes)")
{
    echo "# accord GPU run$([ "$QUICK" = 1 ] && echo ' (--quick)')"
    echo ""
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- checkout: commit $COMMIT${DIRTY:-}"
    echo "- binary: $ACCORD_BIN ($("$ACCORD_BIN" --version 2>&1 | head -1), sha256 $(sha256sum "$ACCORD_BIN" | cut -c1-16))"
    echo "- host: $(uname -srm); $(nproc) CPU threads; $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) memory"
    if command -v nvidia-smi >/dev/null 2>&1; then
        echo "- nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2 | tr '\n' ';')"
    fi
    echo "- command: benches/gpu-run.sh OUTDIR$([ "$QUICK" = 1 ] && echo ' --quick'); budget $BUDGET s"
    echo ""
    echo "Every figure below is the output of the command printed above it, on this machine."
} >"$RESULTS"

step "accord info" 30 "$ACCORD_BIN" info

# Classification: DS and HDS at K = 10, GPU rows first, each size on its
# own so that one slow size cannot take the others' time. Per GPU row the
# bench prints the modelled bytes, dispatches and readbacks of an
# iteration.
caps=("$CAP_SMALL" "$CAP_MID" "$CAP_LARGE")
for i in "${!CLS_SIZES[@]}"; do
    size=${CLS_SIZES[$i]}
    step "accord bench, classification, $size annotations, K = 10" "${caps[$i]}" \
        "$ACCORD_BIN" bench --sizes "$size" --classes 10 --methods ds,hds --backends gpu,cpu \
        --iterations 5 --data-dir "$DATA/cls"
done

# The 100M run (quick: 1M) end to end with phases, K = 5 as the README's
# CPU figure; the GPU first.
BIG=$DATA/big-$BIG_ITEMS
step "generate $((BIG_ITEMS * 5)) annotations (K = 5)" "$CAP_BIG" \
    "$ACCORD_BIN" generate --out "$BIG" --items "$BIG_ITEMS" --workers "$BIG_WORKERS" \
    --classes 5 --per-item 5 --seed 1
for backend in gpu cpu; do
    step "$((BIG_ITEMS * 5)) annotations end to end, ds on $backend" "$CAP_BIG" \
        "$ACCORD_BIN" consolidate "$BIG/labels.csv" --method ds --backend "$backend" \
        --confidence raw -o "$DATA/big-out-$backend.csv" --verbose
done

# Segmentation: the data in parts generated side by side (one seed each),
# joined into one manifest of SEG_IMAGES images in the folder accord bench
# looks in; the first part is also the CPU STAPLE run's data.
SEG_W=5
per_part=$((SEG_IMAGES / SEG_PARTS))
SEG_DIR=$DATA/seg/seg-$SEG_IMAGES-$SEG_SIZE-$SEG_W
MV_DIR=$DATA/seg/seg-$SEG_CPU_MV_IMAGES-$SEG_SIZE-$SEG_W
SMALL_DIR=$DATA/seg/seg-$SEG_CPU_STAPLE_IMAGES-$SEG_SIZE-$SEG_W
export ACCORD_BIN DATA SEG_IMAGES SEG_PARTS SEG_SIZE SEG_W SEG_DIR MV_DIR SMALL_DIR \
    SEG_CPU_MV_IMAGES SEG_CPU_STAPLE_IMAGES
step "generate segmentation: $SEG_IMAGES images of $SEG_SIZE × $SEG_W masks in $SEG_PARTS parts side by side" "$CAP_SEG" \
    bash "$0" __gen_seg
step "accord bench, segmentation, $SEG_IMAGES images, gpu" "$CAP_SEG" \
    "$ACCORD_BIN" bench --task segmentation --images "$SEG_IMAGES" --size "$SEG_SIZE" \
    --workers "$SEG_W" --methods smooth-mv,staple --backends gpu --iterations 1 --data-dir "$DATA/seg"
step "accord bench, segmentation, $SEG_CPU_MV_IMAGES images (the first of the set), cpu smooth-mv" "$CAP_SEG" \
    "$ACCORD_BIN" bench --task segmentation --images "$SEG_CPU_MV_IMAGES" --size "$SEG_SIZE" \
    --workers "$SEG_W" --methods smooth-mv --backends cpu --iterations 1 --data-dir "$DATA/seg"
step "accord bench, segmentation, $SEG_CPU_STAPLE_IMAGES images (the first of the set), cpu staple" "$CAP_SEG" \
    "$ACCORD_BIN" bench --task segmentation --images "$SEG_CPU_STAPLE_IMAGES" --size "$SEG_SIZE" \
    --workers "$SEG_W" --methods staple --backends cpu --iterations 1 --data-dir "$DATA/seg"

TOTAL=$(($(date +%s) - START))
md ""
md "Whole run: $TOTAL s (budget $BUDGET s)$([ "$FAILED" = 1 ] && echo '; some steps failed or were stopped, see above')."
if [ "${ACCORD_KEEP_DATA:-0}" != 1 ] && [ -z "${ACCORD_DATA:-}" ]; then
    rm -rf "$DATA"
fi
say "results in $RESULTS ($TOTAL s)"
exit "$FAILED"

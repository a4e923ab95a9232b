#!/usr/bin/env python3
"""Hostile-input and fault corpus for accord (driven by run.sh).

usage: hostile.py ACCORD WORKDIR [--only SUBSTRING] [--json FILE]

Every case gets its own folder under WORKDIR/cases with copies of its inputs,
runs one bash command (accord under `timeout 20`), and is judged:

BROKEN if
  - exit 101 or "panicked" on stderr;
  - killed by a signal the case did not send;
  - it ran longer than 20 s;
  - exit 0 while input data was lost (an input item neither in the output nor
    in the rejects file), or any run that changed a file other than its
    named outputs;
  - after a failure or an interrupt: a named output left (half-)written, or an
    `.accord-*` temporary left behind (after any run);
  - exit 1 for bad input (bad input and bad usage are exit 2);
  - an error message over 5,000 bytes;
  - a device node or FIFO replaced by another kind of file.
OK otherwise. WARN notes (not counted) flag things worth a look: a bad input
accepted with exit 0, an exit-2 message that does not name the file, an empty
output folder left after a failure.

A case's `expect`: "bad" (bad input or usage: exit 2 wanted, 1 is BROKEN, 0 a
WARN), "input" (a readable input or a flag value: 0 or 2, never 1), "io" (a
missing file or a failed write: 1 is fine), "any". The "-end-" signal cases
interrupt at shares of the uninterrupted run's time, around the moment the
outputs are renamed into place, so their outcome can vary from run to run.
Limits run.sh sets: 1 GiB per file (EFBIG, not SIGXFSZ) and 12 GiB of address
space; an allocation failure under the latter shows as SIGABRT.
"""
import base64, csv, hashlib, io, json, os, re, shutil, signal, stat, struct
import subprocess, sys, time, zlib

ACC = os.path.abspath(sys.argv[1])
WORK = os.path.abspath(sys.argv[2])
ONLY = None
JSON_OUT = None
_a = sys.argv[3:]
while _a:
    if _a[0] == "--only": ONLY = _a[1]; _a = _a[2:]
    elif _a[0] == "--json": JSON_OUT = _a[1]; _a = _a[2:]
    else: sys.exit(f"hostile.py: unknown argument {_a[0]}")
IS_ROOT = os.geteuid() == 0
SHARED = os.path.join(WORK, "shared")
CASES = os.path.join(WORK, "cases")
LOGS = os.path.join(WORK, "logs")
for d in (SHARED, CASES, LOGS): os.makedirs(d, exist_ok=True)
T = "timeout -k 5 20"
LIMIT_S = 20.0

# ---------------------------------------------------------------- data ------

def wb(path, data):
    if isinstance(data, str): data = data.encode()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f: f.write(data)

H = "item,worker,label\n"
def csv_rows(n_items=12, workers=3, labels=("owl", "falcon", "parrot")):
    rows = []
    for i in range(n_items):
        for w in range(workers):
            rows.append((f"i{i}", f"w{w}", labels[(i + w * (i % 2)) % len(labels)]))
    return rows

BASE_ROWS = csv_rows()
BASE_CSV = (H + "".join(f"{a},{b},{c}\n" for a, b, c in BASE_ROWS)
            + '"i,12",w0,owl\n"i\n13",w1,"fal""con"\n"i14",w2,parrot\n').encode()
BASE_ITEMS = {r[0] for r in BASE_ROWS} | {"i,12", "i\n13", "i14"}
BASE_TSV = ("item\tworker\tlabel\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in BASE_ROWS)).encode()
BASE_JSONL = "".join(json.dumps({"item": a, "worker": b, "label": c}) + "\n" for a, b, c in BASE_ROWS[:30])
BASE_JSONL += '{"task": 77, "worker": 5, "label": "owl"}\n'
BASE_JSONL = BASE_JSONL.encode()
JSONL_ITEMS = {r[0] for r in BASE_ROWS[:30]} | {"77"}

def gt_ann(worker, label, key="crowd-image-classifier"):
    return {"workerId": worker, "annotationData": {"content": json.dumps({key: {"label": label}})}}
def gt_request(n=6):
    objs = []
    for i in range(n):
        anns = [gt_ann(f"w{w}", ["a", "b", "c"][(i + w) % 3]) for w in range(3)]
        objs.append({"datasetObjectId": str(i), "dataObject": {"s3Uri": f"s3://bucket/{i}.jpg"}, "annotations": anns})
    objs.append({"datasetObjectId": "nobody", "dataObject": {"s3Uri": "s3://bucket/n.jpg"}, "annotations": []})
    return objs
BASE_GT = json.dumps(gt_request(), indent=1).encode()
GT_IDS = {str(i) for i in range(6)} | {"nobody"}
def gt_event(payload="request.json", cats=("a", "b", "c")):
    return json.dumps({"version": "2018-10-16",
                       "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/hostile-job",
                       "labelCategories": list(cats), "labelAttributeName": "lab",
                       "payload": {"s3Uri": payload}}, indent=1).encode()
BASE_EVENT = gt_event()
GOLD = ("item,label\n" + "".join(f"i{i},owl\n" for i in range(12))).encode()

# PNG
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
def png(width, height, raw, colour_type, bit_depth=8, extra=b"", level=6):
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
            + extra + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b""))
def gray(w, h, px): return png(w, h, b"".join(b"\x00" + bytes(px[y * w:(y + 1) * w]) for y in range(h)), 0)
def rgb(w, h, cols): return png(w, h, b"".join(b"\x00" + b"".join(bytes(c) for c in cols[y * w:(y + 1) * w]) for y in range(h)), 2)
def palette(w, h, px, pal):
    return png(w, h, b"".join(b"\x00" + bytes(px[y * w:(y + 1) * w]) for y in range(h)), 3,
               extra=chunk(b"PLTE", b"".join(bytes(c) for c in pal)))
MW, MH = 8, 6
def mask_px(img, worker):
    return [((x + y + img + (worker if (x * y) % 7 == 0 else 0)) // 4) % 3 for y in range(MH) for x in range(MW)]
SEG_IMAGES = ["img0", "img1", "img2"]
def seg_line(img, worker, mask, **extra):
    d = {"image": img, "worker": worker, "mask": mask}; d.update(extra); return json.dumps(d)
def write_seg(folder):
    lines = []
    for i, img in enumerate(SEG_IMAGES):
        for w in range(3):
            p = f"masks/{img}-w{w}.png"
            wb(os.path.join(folder, p), gray(MW, MH, mask_px(i, w)))
            lines.append(seg_line(img, f"w{w}", p))
    data = ("\n".join(lines) + "\n").encode()
    wb(os.path.join(folder, "manifest.jsonl"), data)
    return data
W_, R_, B_ = (255, 255, 255), (255, 0, 0), (0, 0, 255)
def seg_gt_ann(worker, pngdata, w=MW, h=MH, mappings=None):
    content = {"crowd-semantic-segmentation": {"inputImageProperties": {"width": w, "height": h},
               "labelMappings": mappings or {"cat": {"color": "#ff0000"}, "dog": {"color": "#0000ff"}},
               "labeledImage": {"pngImageData": base64.b64encode(pngdata).decode()}}}
    return {"workerId": worker, "annotationData": {"content": json.dumps(content)}}
def seg_rgb(i, w):
    return rgb(MW, MH, [[W_, R_, B_][v] for v in mask_px(i, w)])
def seg_gt(n=3):
    return [{"datasetObjectId": str(i), "dataObject": {"s3Uri": f"s3://b/{i}.png"},
             "annotations": [seg_gt_ann(f"w{w}", seg_rgb(i, w)) for w in range(3)]} for i in range(n)]
BASE_SEG_GT = json.dumps(seg_gt()).encode()

# -------------------------------------------------- expected items ----------

def items_csv(data, delim=","):
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    out, col = set(), 0
    rdr = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=False)
    try:
        header = next(rdr)
        for name in ("item", "task"):
            if name in header: col = header.index(name); break
        for row in rdr:
            if row and len(row) > col and row[col] != "": out.add(row[col])
    except (StopIteration, csv.Error):
        pass
    return out

JSON_ID = r'("(?:[^"\\]|\\.)*"|-?\d+)\s*[,}]'
def items_jsonl(data, keys=("item", "task")):
    out = set()
    for line in data.decode("utf-8", "replace").split("\n"):
        m = re.search(r'"(?:%s)"\s*:\s*%s' % ("|".join(keys), JSON_ID), line)
        if m:
            v = json.loads(m.group(1)); out.add(str(v))
    return out

def items_gt(data):
    return {json.loads(m) for m in re.findall(r'"datasetObjectId"\s*:\s*("(?:[^"\\]|\\.)*")\s*[,}\n]', data.decode("utf-8", "replace"))}

def items_seg(data):
    return items_jsonl(data, keys=("image", "image-id", "source-ref"))

# ------------------------------------------------------ output readers -------

def read_out(kind, path):
    """The items an output names, or raise."""
    data = b"" if kind == "seg" else open(path, "rb").read()
    if kind == "csv":
        text = data.decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        if text and not text.startswith("item,"): raise ValueError("no item header")
        return {r["item"] for r in rows}
    if kind == "manifest":
        out = set()
        for line in data.decode().splitlines():
            if line.strip():
                o = json.loads(line); out.add(str(o.get("item", o.get("source-ref", o.get("source")))))
        return out
    if kind == "gt-response":
        return {str(o["datasetObjectId"]) for o in json.loads(data)}
    if kind == "seg":
        text = open(os.path.join(path, "images.csv"), encoding="utf-8").read()
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        man = [l for l in open(os.path.join(path, "output.manifest"), encoding="utf-8").read().splitlines() if l.strip()]
        if len(man) != len(rows): raise ValueError(f"output.manifest has {len(man)} lines, images.csv {len(rows)} rows")
        for r in rows:
            if not os.path.isfile(os.path.join(path, r["mask"])): raise ValueError(f"mask {r['mask']} missing")
        return {r["image"] for r in rows}
    raise ValueError(kind)

# ------------------------------------------------------------- cases --------

class Case:
    def __init__(self, name, group, cmd, files=None, outputs=(), expect="any", items=None, out=None,
                 rejects=None, sig=None, checks=(), setup=None, mention=None, complete=None, scratch=()):
        self.name, self.group, self.cmd = name, group, cmd
        self.files = files or {}        # relative path -> bytes (or callable(dir))
        self.outputs = list(outputs)    # named outputs, relative to the case folder
        self.expect = expect            # "bad": exit 2 wanted; "ok": success wanted; "any"
        self.items = items              # input items that must survive an exit 0
        self.out = out                  # (kind, path) of the output holding the items
        self.rejects = rejects
        self.sig = sig                  # (signal, delay_s) sent to the run
        self.checks = list(checks)      # callable(dir, rc) -> problem or None
        self.setup = setup              # callable(dir)
        self.mention = mention          # a string an exit-2 message should contain
        self.complete = complete        # callable(dir) -> problem or None, for outputs left after an interrupt
        self.scratch = list(scratch)    # files the case itself writes (readers of FIFOs)

cases = []
def add(*a, **k):
    c = Case(*a, **k)
    assert not any(x.name == c.name for x in cases), c.name
    cases.append(c)
    return c

def q(s): return "'" + s.replace("'", "'\\''") + "'"
def X(args): return f'exec {T} "$ACC" {args}'

# ---------- 1. every reader truncated at several byte offsets ----------------

def offsets(data, marks=()):
    n = len(data)
    offs = {0, 1, 2, n // 3, n // 2, (2 * n) // 3, n - 2, n - 1}
    for m in marks:
        i = data.find(m)
        if i >= 0: offs |= {i, i + 1}
    return sorted(o for o in offs if 0 <= o < n)

for off in offsets(BASE_CSV, [b"\n", b'"i,12', b'fal""', b'"i\n13']):
    d = BASE_CSV[:off]
    add(f"trunc-csv-{off}", "truncated", X("consolidate in.csv -o out.csv --backend cpu"), {"in.csv": d},
        ["out.csv"], expect="any" if off == 0 else "any", items=items_csv(d), out=("csv", "out.csv"), mention="in.csv")
for off in offsets(BASE_CSV)[2:6]:
    d = BASE_CSV[:off]
    add(f"trunc-csv-skip-{off}", "truncated", X("consolidate in.csv -o out.csv --skip-invalid --backend cpu"),
        {"in.csv": d}, ["out.csv", "out.csv.rejects.csv"], items=items_csv(d), out=("csv", "out.csv"),
        rejects="out.csv.rejects.csv")
for off in offsets(BASE_TSV, [b"\t"]):
    d = BASE_TSV[:off]
    add(f"trunc-tsv-{off}", "truncated", X("consolidate in.tsv -o out.csv --backend cpu"), {"in.tsv": d},
        ["out.csv"], items=items_csv(d, "\t"), out=("csv", "out.csv"), mention="in.tsv")
for off in offsets(BASE_JSONL, [b'"label"', b'"task": 77']):
    d = BASE_JSONL[:off]
    add(f"trunc-jsonl-{off}", "truncated", X("consolidate in.jsonl -o out.csv --backend cpu"), {"in.jsonl": d},
        ["out.csv"], items=items_jsonl(d), out=("csv", "out.csv"), mention="in.jsonl")
for off in offsets(BASE_GT, [b'"annotations": []', b'\\"label']):
    d = BASE_GT[:off]
    add(f"trunc-gtreq-{off}", "truncated", X("consolidate req.json --format gt-request -o out.json --out-format gt-response --backend cpu"),
        {"req.json": d}, ["out.json"], items=items_gt(d), out=("gt-response", "out.json"), mention="req.json")
for off in offsets(BASE_EVENT, [b'"payload"', b'"labelCategories"']):
    d = BASE_EVENT[:off]
    add(f"trunc-gtevent-{off}", "truncated", X("consolidate event.json -o resp.json --backend cpu"),
        {"event.json": d, "request.json": BASE_GT}, ["resp.json"], items=GT_IDS if off == len(BASE_EVENT) else None,
        out=("gt-response", "resp.json"), mention="event.json")
for off in offsets(BASE_GT)[3:7]:
    d = BASE_GT[:off]
    add(f"trunc-gtevent-payload-{off}", "truncated", X("consolidate event.json -o resp.json --backend cpu"),
        {"event.json": BASE_EVENT, "request.json": d}, ["resp.json"], items=items_gt(d),
        out=("gt-response", "resp.json"), mention="request.json")

SEG_DIR_TMP = os.path.join(SHARED, "seg-base")
BASE_SEG = write_seg(SEG_DIR_TMP)
def seg_files(manifest=None, extra=None):
    files = {}
    for root, _, fs in os.walk(SEG_DIR_TMP):
        for f in fs:
            p = os.path.join(root, f); files[os.path.relpath(p, SEG_DIR_TMP)] = open(p, "rb").read()
    if manifest is not None: files["manifest.jsonl"] = manifest
    files.update(extra or {})
    return files
SEG = "consolidate --task segmentation manifest.jsonl -o out --backend cpu"
for off in offsets(BASE_SEG, [b'"mask"', b'.png']):
    d = BASE_SEG[:off]
    add(f"trunc-segmanifest-{off}", "truncated", X(SEG), seg_files(d), ["out"], items=items_seg(d),
        out=("seg", "out"), mention="manifest.jsonl")
GOOD_MASK = gray(MW, MH, mask_px(1, 1))
ihdr_end = 33
idat = GOOD_MASK.find(b"IDAT")
for off in sorted({0, 4, 8, 12, 20, ihdr_end, idat, idat + 8, idat + 20, len(GOOD_MASK) - 12, len(GOOD_MASK) - 4, len(GOOD_MASK) - 1}):
    add(f"trunc-png-{off}", "truncated", X(SEG), seg_files(extra={"masks/img1-w1.png": GOOD_MASK[:off]}), ["out"],
        expect="bad" if off < len(GOOD_MASK) - 12 else "any", items=set(SEG_IMAGES), out=("seg", "out"), mention="img1-w1.png")
for off in offsets(BASE_SEG_GT)[2:7]:
    d = BASE_SEG_GT[:off]
    add(f"trunc-seggt-{off}", "truncated", X("consolidate --task segmentation req.json -o out --backend cpu"),
        {"req.json": d}, ["out"], items=items_gt(d), out=("seg", "out"), mention="req.json")
for off in offsets(GOLD)[2:6]:
    add(f"trunc-gold-{off}", "truncated", X("consolidate in.csv --gold gold.csv -o out.csv --backend cpu"),
        {"in.csv": BASE_CSV, "gold.csv": GOLD[:off]}, ["out.csv"], items=BASE_ITEMS, out=("csv", "out.csv"))
for off in offsets(BASE_CSV)[3:6]:
    d = BASE_CSV[:off]
    add(f"trunc-evaluate-pred-{off}", "truncated", X("evaluate --pred pred.csv --gold gold.csv"),
        {"pred.csv": ("item,label,confidence\n" + "".join(f"i{i},owl,0.9\n" for i in range(12))).encode()[:off], "gold.csv": GOLD})
    add(f"trunc-agreement-{off}", "truncated", X("agreement in.csv"), {"in.csv": d})

# ---------- 2. malformed and adversarial content ------------------------------

def C(name, data, args="", expect="bad", items=None, ext="csv", out_kind="csv", group="malformed", **k):
    fn = f"in.{ext}"
    if isinstance(data, str): data = data.encode()
    if items is None and expect != "bad":
        items = {"csv": lambda: items_csv(data), "tsv": lambda: items_csv(data, "\t"),
                 "jsonl": lambda: items_jsonl(data), "json": lambda: items_gt(data)}[ext]()
    return add(name, group, X(f"consolidate {fn} -o out.csv --backend cpu {args}"), {fn: data}, ["out.csv"],
               expect=expect, items=items if expect != "bad" else None, out=("csv", "out.csv"), mention=fn, **k)

ok3 = "i1,w1,a\ni1,w2,b\ni2,w1,a\n"
C("csv-unclosed-quote-mid", H + 'i1,w1,a\n"i2,w2,b\ni3,w1,a\n')
C("csv-unclosed-quote-end", H + ok3 + 'i3,w1,"abc')
C("csv-quote-in-unquoted", H + ok3 + 'i"3,w1,a\n', expect="any")
C("csv-ragged-short", H + ok3 + "i3,w1\n")
C("csv-ragged-long", H + ok3 + "i3,w1,a,b\n")
C("csv-ragged-skip", H + ok3 + "i3,w1\ni4,w1,a,b\ni5,w1,a\n", args="--skip-invalid", expect="any",
  items={"i1", "i2", "i3", "i4", "i5"}, rejects="out.csv.rejects.csv").outputs.append("out.csv.rejects.csv")
C("csv-bom", b"\xef\xbb\xbf" + (H + ok3).encode(), expect="ok")
C("csv-bom-crlf", b"\xef\xbb\xbf" + (H + ok3).replace("\n", "\r\n").encode(), expect="ok")
C("csv-double-bom", b"\xef\xbb\xbf\xef\xbb\xbf" + (H + ok3).encode(), expect="any")
C("csv-crlf", (H + ok3).replace("\n", "\r\n"), expect="ok")
C("csv-cr-only", (H + ok3).replace("\n", "\r"), expect="any")
C("csv-mixed-eol", H + "i1,w1,a\r\ni1,w2,b\ni2,w1,a\r", expect="any")
C("csv-blank-lines", H + "\n\ni1,w1,a\n\n\ni2,w2,b\n\n", expect="ok")
C("csv-utf8-invalid-item", (H + ok3).encode() + b"i\xff3,w1,a\n")
C("csv-utf8-invalid-header", b"it\xffem,worker,label\n" + ok3.encode())
C("csv-utf8-overlong", (H + ok3).encode() + b"i3,w1,\xc0\xaf\n")
C("csv-utf8-surrogate", (H + ok3).encode() + b"i3,w1,\xed\xa0\x80\n")
C("csv-utf8-cut-multibyte", (H + ok3).encode() + b"i3,w1,\xe2\x82")
C("csv-utf16", (H + ok3).encode("utf-16"))
C("csv-nul-in-item", (H + ok3).encode() + b"i\x003,w1,a\n", expect="any")
C("csv-nul-in-label", (H + ok3).encode() + b"i3,w1,a\x00b\n", expect="any")
C("csv-nul-only", b"\x00" * 4096)
C("csv-nul-header", b"\x00tem,worker,label\n" + ok3.encode())
C("csv-long-line-10MB", H + "i1,w1,a\n" + "x" * 10_000_000 + ",w2,b\n")
C("csv-long-label-10MB", H + "i1,w1,a\ni2,w2," + "y" * 10_000_000 + "\n")
C("csv-long-line-no-newline", "item,worker,label" + "," * 5_000_000)
C("csv-id-4096", H + "i1,w1,a\n" + "x" * 4096 + ",w2,b\n", expect="any")
C("csv-id-4097", H + "i1,w1,a\n" + "x" * 4097 + ",w2,b\n")
C("csv-id-unicode-4096-bytes", H + "i1,w1,a\n" + "é" * 2049 + ",w2,b\n")
C("csv-dup-header-label", "item,worker,label,label\ni1,w1,a,b\ni2,w2,b,a\n", expect="any")
C("csv-dup-header-item", "item,item,worker,label\ni1,i9,w1,a\ni2,i8,w2,b\n", expect="any", items=set())
C("csv-item-and-task", "item,task,worker,label\ni1,t1,w1,a\ni2,t2,w2,b\n", expect="any", items=set())
C("csv-header-only", H)
C("csv-empty", b"")
C("csv-whitespace-header", " item , worker , label \ni1,w1,a\n", expect="any", items=set())
C("csv-no-header", ok3)
C("csv-many-columns", ",".join(f"c{i}" for i in range(100000)) + ",item,worker,label\n" + "," * 100000 + "i1,w1,a\n", expect="any")
C("csv-100k-labels", H + "".join(f"i{i},w{i % 7},lab{i}\n" for i in range(100000)), expect="any")
C("csv-100k-labels-mv", H + "".join(f"i{i % 1000},w{i % 7},lab{i}\n" for i in range(100000)), args="--method mv", expect="any")
C("csv-100k-labels-workersout", H + "".join(f"i{i % 1000},w{i % 50},lab{i}\n" for i in range(100000)),
  args="--method mv --workers-out w.csv", expect="any").outputs.append("w.csv")
C("csv-100k-workers-glad", H + "".join(f"i{i % 100},w{i},{'ab'[i % 2]}\n" for i in range(100000)), args="--method mmsr", expect="any")
C("csv-label-outside-categories", H + ok3 + "i3,w1,zebra\n", args="--categories a,b")
C("csv-categories-empty", H + ok3, args="--categories ''", expect="any")
C("csv-categories-dup", H + ok3, args="--categories a,a,b", expect="any")
C("csv-categories-100k", H + ok3, args="--categories " + ",".join(f"c{i}" for i in range(2)) + ",a,b", expect="any")
C("csv-formula-injection", H + "=cmd|' /C calc'!A0,w1,a\n+1,w2,b\n", expect="any")
C("csv-numeric-labels", H + "i1,w1,NaN\ni1,w2,-1\ni2,w1,inf\ni3,w1,1e400\ni4,w2,99999999999999999999999\n", expect="any")
C("csv-columns-mapping-missing", "image_id,annotator,answer\ni1,w1,a\n", args="--columns item=image_id,worker=nope,label=answer")
C("csv-columns-garbage", H + ok3, args="--columns ===,,,=")
C("csv-quoted-huge-newlines", H + 'i1,w1,a\n"' + "\n" * 1_000_000 + '",w2,b\n', expect="any")
C("csv-only-quotes", '"' * 100001)
C("csv-tab-in-csv-header", "item\tworker,label\ni1\tw1,a\n")
C("tsv-quote", "item\tworker\tlabel\ni1\tw1\t\"a\ni2\tw2\tb\n", ext="tsv", expect="any")
C("tsv-ragged", "item\tworker\tlabel\ni1\tw1\ta\ni2\tw2\n", ext="tsv")
C("tsv-invalid-utf8", b"item\tworker\tlabel\ni1\tw1\ta\ni2\tw1\t\xc3\x28\n", ext="tsv")
C("tsv-crlf-bom", b"\xef\xbb\xbf" + b"item\tworker\tlabel\r\ni1\tw1\ta\r\ni2\tw2\tb\r\n", ext="tsv", expect="ok")
J = '{"item":"i1","worker":"w1","label":"a"}\n'
C("jsonl-deep-array", J + '{"item":"i2","worker":"w1","label":' + "[" * 100000 + "]" * 100000 + "}\n", ext="jsonl")
C("jsonl-deep-object", J + '{"item":"i2","worker":"w1","x":' + '{"a":' * 100000 + "1" + "}" * 100000 + "}\n", ext="jsonl")
C("jsonl-deep-129", J + '{"item":"i2","worker":"w1","label":"a","x":' + "[" * 129 + "]" * 129 + "}\n", ext="jsonl")
C("jsonl-deep-unclosed", J + "[" * 1_000_000, ext="jsonl")
C("jsonl-dup-keys", '{"item":"i1","item":"i2","worker":"w1","label":"a"}\n{"item":"i3","worker":"w1","label":"b"}\n', ext="jsonl", expect="any", items={"i3"})
C("jsonl-huge-int-id", J + '{"item":123456789012345678901234567890,"worker":"w1","label":"a"}\n', ext="jsonl", expect="any", items={"i1"})
C("jsonl-u64-max-id", J + '{"item":18446744073709551615,"worker":"w1","label":"a"}\n', ext="jsonl", expect="any")
C("jsonl-negative-id", J + '{"item":-5,"worker":-1,"label":"a"}\n', ext="jsonl", expect="any")
C("jsonl-float-id", J + '{"item":1.5,"worker":"w1","label":"a"}\n', ext="jsonl")
C("jsonl-1e400-id", J + '{"item":1e400,"worker":"w1","label":"a"}\n', ext="jsonl")
C("jsonl-nan", J + '{"item":"i2","worker":"w1","label":NaN}\n', ext="jsonl")
C("jsonl-infinity", J + '{"item":Infinity,"worker":"w1","label":"a"}\n', ext="jsonl")
C("jsonl-label-number", J + '{"item":"i2","worker":"w1","label":3}\n', ext="jsonl", expect="any")
C("jsonl-label-null", J + '{"item":"i2","worker":"w1","label":null}\n', ext="jsonl")
C("jsonl-label-object", J + '{"item":"i2","worker":"w1","label":{"a":1}}\n', ext="jsonl")
C("jsonl-bool-id", J + '{"item":true,"worker":"w1","label":"a"}\n', ext="jsonl")
C("jsonl-bom-crlf", b'\xef\xbb\xbf{"item":"i1","worker":"w1","label":"a"}\r\n{"task":2,"worker":3,"label":"b"}\r\n', ext="jsonl", expect="ok")
C("jsonl-invalid-utf8", J.encode() + b'{"item":"\xff","worker":"w1","label":"a"}\n', ext="jsonl")
C("jsonl-escaped-nul", J + '{"item":"i\\u0000","worker":"w1","label":"a"}\n', ext="jsonl", expect="any", items={"i1"})
C("jsonl-lone-surrogate", J + '{"item":"\\ud800","worker":"w1","label":"a"}\n', ext="jsonl", expect="any", items={"i1"})
C("jsonl-two-per-line", J.strip() + J, ext="jsonl")
C("jsonl-long-id", J + json.dumps({"item": "z" * 5000, "worker": "w1", "label": "a"}) + "\n", ext="jsonl")
C("jsonl-long-line-20MB", J + json.dumps({"item": "i2", "worker": "w1", "label": "a", "pad": "p" * 20_000_000}) + "\n", ext="jsonl", expect="any")
C("jsonl-100k-labels", "".join(json.dumps({"item": f"i{i}", "worker": "w1", "label": f"l{i}"}) + "\n" for i in range(100000)), ext="jsonl", expect="any")
C("jsonl-array-not-object", J + "[1,2,3]\n", ext="jsonl")
C("jsonl-trailing-garbage", J + '{"item":"i2","worker":"w1","label":"a"} garbage\n', ext="jsonl")
C("jsonl-skip-mixed", J + '{"item":"i2","worker":"w1","label":NaN}\n{"item":1.5,"worker":"w1","label":"a"}\n{"item":"i4","worker":"w2","label":"b"}\n',
  ext="jsonl", args="--skip-invalid", expect="any", items={"i1", "i2", "i4"}, rejects="out.csv.rejects.csv").outputs.append("out.csv.rejects.csv")

def G(name, obj_or_bytes, expect="bad", items=None, args="", **k):
    data = obj_or_bytes if isinstance(obj_or_bytes, (bytes, str)) else json.dumps(obj_or_bytes)
    if isinstance(data, str): data = data.encode()
    return add(name, "malformed", X(f"consolidate req.json --format gt-request -o out.json --out-format gt-response --backend cpu {args}"),
               {"req.json": data}, ["out.json"], expect=expect, items=items, out=("gt-response", "out.json"), mention="req.json", **k)
def gtmod(f):
    o = gt_request(); f(o); return o
G("gt-not-array", {"datasetObjectId": "0"})
G("gt-empty-array", [], expect="any")
G("gt-deep", "[" * 50000 + "]" * 50000)
G("gt-deep-content", gtmod(lambda o: o[0]["annotations"][0]["annotationData"].__setitem__("content", "[" * 100000 + "]" * 100000)))
G("gt-content-not-json", gtmod(lambda o: o[1]["annotations"][0]["annotationData"].__setitem__("content", "{not json")))
G("gt-content-number", gtmod(lambda o: o[1]["annotations"][0]["annotationData"].__setitem__("content", 12)))
G("gt-missing-id", gtmod(lambda o: o[1].pop("datasetObjectId")))
G("gt-repeated-id", gtmod(lambda o: o[1].__setitem__("datasetObjectId", "0")))
G("gt-id-number", gtmod(lambda o: o[1].__setitem__("datasetObjectId", 1)), expect="any", items=GT_IDS)
G("gt-id-nan", b'[{"datasetObjectId": NaN, "annotations": []}]')
G("gt-id-huge-num", b'[{"datasetObjectId": 1e999, "annotations": []}]')
G("gt-dup-keys", b'[{"datasetObjectId": "0", "datasetObjectId": "1", "annotations": []}]', expect="any")
G("gt-annotations-null", gtmod(lambda o: o[1].__setitem__("annotations", None)), expect="any", items=GT_IDS)
G("gt-worker-missing", gtmod(lambda o: o[1]["annotations"][0].pop("workerId")))
G("gt-label-missing", gtmod(lambda o: o[1]["annotations"][0]["annotationData"].__setitem__("content", json.dumps({"crowd-image-classifier": {}}))))
G("gt-label-nan", gtmod(lambda o: o[1]["annotations"][0]["annotationData"].__setitem__("content", '{"crowd-classifier": {"label": NaN}}')))
G("gt-all-empty", [{"datasetObjectId": str(i), "annotations": []} for i in range(3)])
G("gt-10k-objects-no-ann", [{"datasetObjectId": str(i), "annotations": []} for i in range(10000)], args="--categories a,b",
  expect="any", items={str(i) for i in range(10000)})
G("gt-skip-all-rejected", gtmod(lambda o: [a["annotationData"].__setitem__("content", "bad") for a in o[2]["annotations"]]),
  args="--skip-invalid", expect="any", items=GT_IDS, rejects="out.json.rejects.csv").outputs.append("out.json.rejects.csv")
G("gt-invalid-utf8", BASE_GT.replace(b'"0"', b'"\xff"', 1))
G("gt-bom", b"\xef\xbb\xbf" + BASE_GT, expect="any", items=GT_IDS)
G("gt-trailing-garbage", BASE_GT + b"xyz")
G("gt-two-arrays", BASE_GT + BASE_GT)

def E(name, event, req=BASE_GT, expect="bad", items=None, **k):
    ev = event if isinstance(event, bytes) else json.dumps(event).encode()
    return add(name, "malformed", X("consolidate event.json -o resp.json --backend cpu"), {"event.json": ev, "request.json": req},
               ["resp.json"], expect=expect, items=items, out=("gt-response", "resp.json"), mention="event.json", **k)
ev = json.loads(BASE_EVENT)
E("event-ok", ev, expect="ok", items=GT_IDS)
E("event-s3", dict(ev, payload={"s3Uri": "s3://bucket/key.json"}))
E("event-file-uri-abs", dict(ev, payload={"s3Uri": "file:///nonexistent/x.json"}), expect="io")  # a missing file: exit 1 per README
E("event-payload-self", dict(ev, payload={"s3Uri": "event.json"}))
E("event-payload-dir", dict(ev, payload={"s3Uri": "."}))
E("event-payload-devzero", dict(ev, payload={"s3Uri": "/dev/zero"}))
E("event-payload-missing", {k_: v for k_, v in ev.items() if k_ != "payload"})
E("event-categories-dup", dict(ev, labelCategories=["a", "a", "b", "c"]), expect="any")
E("event-categories-empty", dict(ev, labelCategories=[]), expect="any")
E("event-categories-not-strings", dict(ev, labelCategories=[1, None, {"x": 1}]))
E("event-categories-missing-label", dict(ev, labelCategories=["a", "b"]))
E("event-arn-empty", dict(ev, labelingJobArn=""), expect="any", items=GT_IDS)
E("event-attr-weird", dict(ev, labelAttributeName="a\"b\n\u0000"), expect="any", items=GT_IDS)
E("event-deep", b'{"version":"2018-10-16","payload":' + b"[" * 100000 + b"]" * 100000 + b"}")
E("event-100k-categories", dict(ev, labelCategories=[f"c{i}" for i in range(100000)] + ["a", "b", "c"]), expect="any")

# segmentation content
def S(name, manifest_lines=None, extra=None, args="", expect="bad", items=None, mention=None, files=None, **k):
    man = None if manifest_lines is None else ("\n".join(manifest_lines) + "\n").encode()
    return add(name, "segmentation", X(f"{SEG} {args}"), files or seg_files(man, extra), ["out"], expect=expect,
               items=items, out=("seg", "out"), mention=mention or "manifest.jsonl", **k)
okl = [seg_line("img0", "w0", "masks/img0-w0.png"), seg_line("img0", "w1", "masks/img0-w1.png")]
S("seg-ok", expect="ok", items=set(SEG_IMAGES))
S("seg-path-dotdot", okl + [seg_line("img0", "w2", "../outside.png")])
S("seg-path-absolute", okl + [seg_line("img0", "w2", os.path.join(SHARED, "abs.png"))])
S("seg-path-dev-zero", okl + [seg_line("img0", "w2", "/dev/zero")])
S("seg-path-dev-zero-allowed", okl + [seg_line("img0", "w2", "/dev/zero")], args="--allow-paths-outside /dev")
S("seg-path-proc", okl + [seg_line("img0", "w2", "/proc/self/mem")], args="--allow-paths-outside /proc")
S("seg-path-symlink-out", okl + [seg_line("img0", "w2", "masks/link.png")], expect="any", items={"img0"},
  setup=lambda d: os.symlink(os.path.join(SHARED, "abs.png"), os.path.join(d, "masks/link.png")))
S("seg-path-dir", okl + [seg_line("img0", "w2", "masks")])
S("seg-path-empty", okl + [seg_line("img0", "w2", "")])
S("seg-path-nul", okl + [seg_line("img0", "w2", "masks/img0-w2.png\u0000x")])
S("seg-path-fifo", okl + [seg_line("img0", "w2", "masks/fifo.png")], setup=lambda d: os.mkfifo(os.path.join(d, "masks/fifo.png")))
S("seg-path-url", okl + [seg_line("img0", "w2", "s3://bucket/m.png")])
S("seg-mask-not-string", okl + ['{"image":"img0","worker":"w2","mask":5}'])
S("seg-image-nan", okl + ['{"image":NaN,"worker":"w2","mask":"masks/img0-w2.png"}'])
S("seg-deep", okl + ['{"image":"img0","worker":"w2","mask":"masks/img0-w2.png","label-mappings":' + "[" * 100000 + "]" * 100000 + "}"])
S("seg-size-mismatch", okl + [seg_line("img0", "w2", "masks/wide.png")], extra={"masks/wide.png": gray(MW + 1, MH, [0] * ((MW + 1) * MH))})
S("seg-not-png", okl + [seg_line("img0", "w2", "masks/gif.png")], extra={"masks/gif.png": b"GIF89a not a png"})
S("seg-png-bad-crc", okl + [seg_line("img0", "w2", "masks/crc.png")], extra={"masks/crc.png": GOOD_MASK[:30] + b"\x00\x00" + GOOD_MASK[32:]}, expect="any", items={"img0"})
S("seg-png-16bit", okl + [seg_line("img0", "w2", "masks/16.png")], extra={"masks/16.png": png(MW, MH, b"".join(b"\x00" + b"\x00\x01" * MW for _ in range(MH)), 0, 16)}, expect="any", items={"img0"})
S("seg-png-1bit", okl + [seg_line("img0", "w2", "masks/1.png")], extra={"masks/1.png": png(MW, MH, b"".join(b"\x00\xaa" for _ in range(MH)), 0, 1)}, expect="any", items={"img0"})
S("seg-png-zero-size", okl + [seg_line("img0", "w2", "masks/z.png")], extra={"masks/z.png": png(0, 0, b"", 0)})
S("seg-index-beyond-map", okl + [seg_line("img0", "w2", "masks/hi.png", **{"label-mappings": {"cat": {"color": "#ff0000"}}})],
  extra={"masks/hi.png": gray(MW, MH, [200] * (MW * MH))})
S("seg-index-beyond-internal-map", okl + [seg_line("img0", "w2", "masks/hi.png", **{"internal-color-map": {"0": {"class-name": "bg", "hex-color": "#ffffff"}, "1": {"class-name": "cat", "hex-color": "#ff0000"}}})],
  extra={"masks/hi.png": gray(MW, MH, [7] * (MW * MH))})
S("seg-palette-index-beyond-plte", okl + [seg_line("img0", "w2", "masks/p.png")], extra={"masks/p.png": palette(MW, MH, [9] * (MW * MH), [(0, 0, 0), (255, 0, 0)])}, expect="any", items={"img0"})
S("seg-rgb-colour-outside-map", okl + [seg_line("img0", "w2", "masks/c.png", **{"label-mappings": {"cat": {"color": "#ff0000"}}})],
  extra={"masks/c.png": rgb(MW, MH, [(1, 2, 3)] * (MW * MH))})
S("seg-rgb-no-map", okl + [seg_line("img0", "w2", "masks/c.png")], extra={"masks/c.png": rgb(MW, MH, [(1, 2, 3)] * (MW * MH))})
S("seg-map-bad-hex", okl + [seg_line("img0", "w2", "masks/c.png", **{"label-mappings": {"cat": {"color": "#zzzzzzzzzzzzzzzzzzz"}}})],
  extra={"masks/c.png": rgb(MW, MH, [(255, 0, 0)] * (MW * MH))})
S("seg-300-classes", [seg_line("img0", f"w{w}", f"masks/m{w}.png", **{"internal-color-map": {str(c): {"class-name": f"c{c}", "hex-color": "#%06x" % c} for c in range(300)}}) for w in range(2)],
  extra={f"masks/m{w}.png": gray(MW, MH, [w] * (MW * MH)) for w in range(2)})
S("seg-5000-masks-one-image", [seg_line("img0", f"w{w}", "masks/img0-w0.png") for w in range(5000)])
S("seg-dup-worker", okl + [seg_line("img0", "w0", "masks/img0-w2.png")], expect="any", items={"img0"})
S("seg-long-image-id", okl + [seg_line("x" * 5000, "w2", "masks/img0-w2.png")])
S("seg-image-slash", [seg_line("../../evil", "w0", "masks/img0-w0.png"), seg_line("../../evil", "w1", "masks/img0-w1.png")], expect="any", items={"../../evil"})
S("seg-image-dotdot-only", [seg_line("..", "w0", "masks/img0-w0.png")], expect="any", items={".."})
S("seg-image-nul", [seg_line("a\u0000b", "w0", "masks/img0-w0.png")], expect="any", items={"a\u0000b"})

# GT segmentation request content
def SG(name, objs, expect="bad", items=None, args="", **k):
    data = objs if isinstance(objs, bytes) else json.dumps(objs).encode()
    return add(name, "segmentation", X(f"consolidate --task segmentation req.json -o out --backend cpu {args}"), {"req.json": data},
               ["out"], expect=expect, items=items, out=("seg", "out"), mention="req.json", **k)
def sgmod(f):
    o = seg_gt(); f(o); return o
SG("seggt-ok", seg_gt(), expect="ok", items={"0", "1", "2"})
SG("seggt-bad-base64", sgmod(lambda o: o[0]["annotations"][0]["annotationData"].__setitem__("content", json.dumps(
    {"crowd-semantic-segmentation": {"inputImageProperties": {"width": MW, "height": MH}, "labelMappings": {}, "labeledImage": {"pngImageData": "!!!notbase64"}}}))))
for nm, wv in [("nan", "NaN"), ("neg", "-1"), ("zero", "0"), ("huge", "1e30"), ("float", "1.5"), ("u64", "18446744073709551616")]:
    objs = seg_gt()
    s = json.dumps(objs).replace('\\"width\\": %d' % MW, '\\"width\\": ' + wv, 1)
    SG(f"seggt-width-{nm}", s.encode())
SG("seggt-size-mismatch", sgmod(lambda o: o[0]["annotations"].__setitem__(0, seg_gt_ann("w0", seg_rgb(0, 0), w=MW + 1))))
SG("seggt-bomb-inline", sgmod(lambda o: o[0]["annotations"].__setitem__(0, seg_gt_ann("w0",
   png(9000, 9000, b"", 2)[:-12] + chunk(b"IEND", b""), w=9000, h=9000))))

# ---------- 3. PNG bombs --------------------------------------------------------

def bomb_png(w=9000, h=9000):
    # A real, complete 8-bit grayscale image of w×h zeros: ~80 KB compressed, 81 MB decoded.
    co = zlib.compressobj(9)
    row = b"\x00" * (w + 1)
    parts = [co.compress(row) for _ in range(h)] + [co.flush()]
    raw = b"".join(parts)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
BOMB = bomb_png()
LIAR = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 9000, 9000, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")
def bomb_case(name, n, per_image, png_bytes=BOMB, args="", expect="any"):
    lines = []
    for k in range(n):
        img = f"b{k // per_image}"
        lines.append(seg_line(img, f"w{k % per_image}", "masks/bomb.png"))
    files = {"manifest.jsonl": ("\n".join(lines) + "\n").encode(), "masks/bomb.png": png_bytes}
    add(name, "png-bomb", X(f"consolidate --task segmentation manifest.jsonl -o out --backend cpu --method mv {args}"), files, ["out"],
        expect=expect, items={f"b{k // per_image}" for k in range(n)}, out=("seg", "out"), mention="bomb.png")
bomb_case("bomb-9000-x1", 1, 1)
bomb_case("bomb-9000-x20-one-image", 20, 20)
bomb_case("bomb-9000-x200-one-image", 200, 200)
bomb_case("bomb-9000-x200-images", 200, 1)
bomb_case("bomb-9000-x1000-one-image", 1000, 1000)
bomb_case("bomb-9000-x50-max-pixels-1M", 50, 50, args="--max-pixels 1000000", expect="bad")
bomb_case("bomb-liar-9000-x200", 200, 200, png_bytes=LIAR, expect="bad")
bomb_case("bomb-60000-header", 5, 5, png_bytes=b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""), expect="bad")
bomb_case("bomb-rgba16-9000", 3, 3, png_bytes=b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 9000, 9000, 16, 6, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""), expect="bad")
add("bomb-evaluate-gold", "png-bomb", X("evaluate --task segmentation --pred pred/output.manifest --gold gold.jsonl"),
    {"gold.jsonl": "".join(json.dumps({"image": f"b{k}", "mask": "bomb.png"}) + "\n" for k in range(100)).encode(), "bomb.png": BOMB,
     "pred/output.manifest": "".join(json.dumps({"source-ref": f"b{k}", "label-ref": "../bomb.png"}) + "\n" for k in range(100)).encode()})

# ---------- 4. non-regular files as inputs --------------------------------------

def R(name, cmd, files=None, outputs=("out.csv",), expect="any", items=None, out=("csv", "out.csv"), **k):
    return add(name, "non-regular", cmd, files or {"in.csv": BASE_CSV, "in.jsonl": BASE_JSONL, "req.json": BASE_GT, "gold.csv": GOLD},
               list(outputs), expect=expect, items=items, out=out, **k)
R("fifo-csv", X("consolidate <(cat in.csv) -o out.csv --backend cpu"), items=BASE_ITEMS)
R("fifo-csv-format", X("consolidate <(cat in.csv) --format csv -o out.csv --backend cpu"), items=BASE_ITEMS)
R("fifo-jsonl", X("consolidate <(cat in.jsonl) -o out.csv --backend cpu"), items=JSONL_ITEMS)
R("fifo-gtreq", X("consolidate <(cat req.json) --format gt-request -o out.csv --backend cpu"), items=GT_IDS)
R("fifo-gold", X("consolidate in.csv --gold <(cat gold.csv) -o out.csv --backend cpu"), items=BASE_ITEMS)
R("fifo-slow-writer", X("consolidate <(head -c 300 in.csv; sleep 2; tail -c +301 in.csv) -o out.csv --backend cpu"), items=BASE_ITEMS)
R("stdin-csv", f'{T} "$ACC" consolidate - -o out.csv --backend cpu < in.csv', items=BASE_ITEMS)
R("stdin-devnull", f'{T} "$ACC" consolidate - -o out.csv --backend cpu < /dev/null', expect="bad")
R("devnull-input", X("consolidate /dev/null -o out.csv --backend cpu"), expect="bad")
R("devnull-gold", X("consolidate in.csv --gold /dev/null -o out.csv --backend cpu"), expect="bad")
R("dir-input", X("consolidate . -o out.csv --backend cpu"), expect="bad")
R("dir-gold", X("consolidate in.csv --gold . -o out.csv --backend cpu"), expect="bad")
R("dir-seg-manifest", X("consolidate --task segmentation . -o out --backend cpu"), outputs=["out"], expect="bad", out=None)
R("dir-evaluate-pred", X("evaluate --pred . --gold gold.csv"), outputs=[], expect="bad", out=None)
R("dir-agreement", X("agreement ."), outputs=[], expect="bad", out=None)
R("dir-report", X("report . -o r.html --backend cpu"), outputs=["r.html"], expect="bad", out=None)
R("dir-simulate-gold", X("simulate in.csv --gold . --backend cpu"), outputs=[], expect="bad", out=None)
R("missing-input", X("consolidate nope.csv -o out.csv --backend cpu"), expect="any", out=None)
R("missing-outdir", X("consolidate in.csv -o nodir/out.csv --backend cpu"), outputs=["nodir/out.csv"], out=None)
R("fifo-seg-manifest", X("consolidate --task segmentation <(cat manifest.jsonl) -o out --backend cpu"),
  files=seg_files(), outputs=["out"], out=("seg", "out"), items=set(SEG_IMAGES))
R("fifo-evaluate", X("evaluate --pred <(cat in.csv | head -0; printf 'item,label\\ni1,owl\\n') --gold <(cat gold.csv)"), outputs=[], out=None)
R("fifo-agreement", X("agreement <(cat in.csv)"), outputs=[], out=None)
R("fifo-simulate", X("simulate <(cat in.csv) --gold <(cat gold.csv) --repeats 2 --backend cpu"), outputs=[], out=None)
R("fifo-report", X("report <(cat in.csv) --gold <(cat gold.csv) -o r.html --repeats 1 --backend cpu"), outputs=["r.html"], out=None)
R("fifo-event", X("consolidate <(cat event.json) -o resp.json --backend cpu"),
  files={"event.json": gt_event(os.path.join("PLACEHOLDER", "request.json")), "request.json": BASE_GT}, outputs=["resp.json"], out=None,
  setup=lambda d: wb(os.path.join(d, "event.json"), gt_event(os.path.join(d, "request.json"))))
if IS_ROOT:
    def mk(rel, major, minor):
        return lambda d: os.mknod(os.path.join(d, rel), 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    R("devzero-input", X("consolidate zero --format csv -o out.csv --backend cpu"), setup=mk("zero", 1, 5), expect="bad")
    R("devzero-input-jsonl", X("consolidate zero --format jsonl -o out.csv --backend cpu"), setup=mk("zero", 1, 5), expect="bad")
    R("devurandom-input", X("consolidate rnd --format csv -o out.csv --backend cpu"), setup=mk("rnd", 1, 9), expect="bad")
    R("devzero-gold", X("consolidate in.csv --gold zero -o out.csv --backend cpu"), setup=mk("zero", 1, 5), expect="bad")
    R("devzero-seg-mask-inside", X(SEG), files=seg_files(("\n".join(okl + [seg_line("img0", "w2", "masks/zero.png")]) + "\n").encode()),
      outputs=["out"], out=("seg", "out"), setup=mk("masks/zero.png", 1, 5), expect="bad")
    R("devzero-evaluate-gold", X("evaluate --pred in.csv --gold zero"), outputs=[], out=None, setup=mk("zero", 1, 5), expect="bad")

# ---------- 5. output/input collisions ------------------------------------------

def K(name, args, files=None, outputs=("out.csv",), setup=None, expect="bad", cmd=None, **k):
    return add(name, "collision", cmd or X(args), files or {"in.csv": BASE_CSV, "gold.csv": GOLD}, list(outputs), expect=expect, setup=setup, **k)
CO = "consolidate in.csv --backend cpu"
K("o-is-input", f"{CO} -o in.csv", outputs=[])
K("o-is-input-dot", f"{CO} -o ./in.csv", outputs=[])
K("o-is-input-dotdot", f"{CO} -o sub/../in.csv", outputs=[], setup=lambda d: os.mkdir(os.path.join(d, "sub")))
K("o-is-input-abs", "consolidate in.csv --backend cpu -o \"$PWD/in.csv\"", outputs=[])
K("o-is-input-double-slash", f"{CO} -o .//in.csv", outputs=[])
K("o-symlink-to-input", f"{CO} -o link.csv", outputs=["link.csv"], setup=lambda d: os.symlink("in.csv", os.path.join(d, "link.csv")))
K("o-hardlink-to-input", f"{CO} -o hard.csv", outputs=["hard.csv"], expect="any", setup=lambda d: os.link(os.path.join(d, "in.csv"), os.path.join(d, "hard.csv")))
K("input-symlink-o-real", "consolidate link.csv --backend cpu -o in.csv", outputs=[], setup=lambda d: os.symlink("in.csv", os.path.join(d, "link.csv")))
K("o-dir-symlink-to-input", f"{CO} -o sl/in.csv", outputs=[], setup=lambda d: os.symlink(".", os.path.join(d, "sl")))
K("o-is-gold", f"{CO} --gold gold.csv -o gold.csv", outputs=[])
K("o-is-gold-symlink", f"{CO} --gold gold.csv -o g.csv", outputs=["g.csv"], setup=lambda d: os.symlink("gold.csv", os.path.join(d, "g.csv")))
K("workers-out-is-input", f"{CO} -o out.csv --workers-out in.csv")
K("review-out-is-input", f"{CO} -o out.csv --review-out ./in.csv")
K("rejects-is-input", f"{CO} -o out.csv --skip-invalid --rejects in.csv")
K("workers-out-is-gold", f"{CO} --gold gold.csv -o out.csv --workers-out gold.csv")
K("workers-out-is-o", f"{CO} -o out.csv --workers-out out.csv")
K("review-out-is-o", f"{CO} -o out.csv --review-out ./out.csv")
K("rejects-is-o", f"{CO} -o out.csv --skip-invalid --rejects out.csv")
K("rejects-is-workers-out", f"{CO} -o out.csv --workers-out w.csv --skip-invalid --rejects w.csv", outputs=["out.csv", "w.csv"])
K("review-is-workers-symlink", f"{CO} -o out.csv --workers-out w.csv --review-out r.csv", outputs=["out.csv", "w.csv", "r.csv"],
  checks=[lambda d, rc: "BROKEN: exit 0 with --review-out a link to --workers-out: one report overwrote the other" if rc == 0 else None],
  setup=lambda d: os.symlink("w.csv", os.path.join(d, "r.csv")))
K("rejects-default-is-input", "consolidate in.csv.rejects.csv --backend cpu -o in.csv --skip-invalid", outputs=["in.csv"],
  files={"in.csv.rejects.csv": BASE_CSV, "in.csv": b"keep me\n"})
K("rejects-default-collides-input", "consolidate x.rejects.csv --backend cpu -o x --skip-invalid", outputs=["x"],
  files={"x.rejects.csv": BASE_CSV})
K("o-stdout-skip-no-rejects", f"{CO} --skip-invalid", outputs=[])
K("o-dash-with-workers-dash", f"{CO} -o - --workers-out -", outputs=["-"], expect="any")
K("event-o-is-payload", "consolidate event.json -o request.json --backend cpu", files={"event.json": BASE_EVENT, "request.json": BASE_GT}, outputs=[])
K("event-o-is-event", "consolidate event.json -o event.json --backend cpu", files={"event.json": BASE_EVENT, "request.json": BASE_GT}, outputs=[])
K("event-workers-is-payload", "consolidate event.json -o r.json --workers-out ./request.json --backend cpu",
  files={"event.json": BASE_EVENT, "request.json": BASE_GT}, outputs=["r.json"])
K("event-o-symlink-payload", "consolidate event.json -o r.json --backend cpu", files={"event.json": BASE_EVENT, "request.json": BASE_GT},
  outputs=["r.json"], setup=lambda d: os.symlink("request.json", os.path.join(d, "r.json")))
K("report-o-is-input", "report in.csv -o in.csv --backend cpu", outputs=[])
K("report-o-is-gold", "report in.csv --gold gold.csv -o gold.csv --backend cpu --repeats 1", outputs=[])
FIGS = ["figs/" + f + ".svg" for f in ("class-distribution", "worker-accuracy", "calibration", "confusion", "error-vs-annotators")]
K("report-figures-over-input", "report figs/class-distribution.svg -o r.html --figures figs --backend cpu --repeats 0",
  files={"figs/class-distribution.svg": BASE_CSV}, outputs=["r.html"] + FIGS[1:])
K("report-figures-over-gold", "report in.csv --gold figs/calibration.svg -o r.html --figures figs --backend cpu --repeats 0",
  files={"in.csv": BASE_CSV, "figs/calibration.svg": GOLD}, outputs=["r.html"] + [f for f in FIGS if "calibration" not in f])
K("report-figures-over-o", "report in.csv -o figs/worker-accuracy.svg --figures figs --backend cpu --repeats 0",
  outputs=FIGS + ["figs"], checks=[lambda d, rc: "BROKEN: exit 0 with -o inside --figures under a figure's name: one overwrote the other" if rc == 0 else None])
K("simulate-plot-is-input", "simulate in.csv --gold gold.csv --plot in.csv --repeats 1 --backend cpu", outputs=[])
K("simulate-plot-is-gold-svg", "simulate in.csv --gold gold.svg --plot gold.svg --repeats 1 --backend cpu", outputs=[],
  files={"in.csv": BASE_CSV, "gold.svg": GOLD})
K("evaluate-plot-is-pred", "evaluate --pred p.svg --gold gold.csv --plot-confusion p.svg", outputs=[],
  files={"p.svg": b"item,label\ni1,owl\n", "gold.csv": GOLD})
K("evaluate-plot-is-annotations", "evaluate --pred p.csv --gold gold.csv --annotations in.svg --plot-confusion in.svg", outputs=[],
  files={"p.csv": b"item,label\ni1,owl\n", "gold.csv": GOLD, "in.svg": BASE_CSV})
K("generate-o-is-file", "generate -o in.csv --items 10", outputs=[])
K("generate-labels-symlink", "generate -o g --items 10", outputs=["g/labels.csv", "g/gold.csv"], expect="any", scratch=["in.csv"],
  setup=lambda d: (os.mkdir(os.path.join(d, "g")), os.symlink("../in.csv", os.path.join(d, "g/labels.csv"))))
SEGC = lambda o: f"consolidate --task segmentation manifest.jsonl -o {o} --backend cpu"
clash = seg_files(("\n".join([seg_line("img1", "w0", "masks/000000-img1.png"), seg_line("img1", "w1", "masks/000000-img1.png")]) + "\n").encode(),
                  {"masks/000000-img1.png": gray(MW, MH, mask_px(0, 0))})
K("seg-o-is-input-folder", "", cmd=X(SEGC(".")), files=seg_files(), outputs=[])
K("seg-o-is-input-folder-abs", "", cmd=X(SEGC('"$PWD"')), files=seg_files(), outputs=[])
K("seg-o-is-input-folder-clash", "", cmd=X(SEGC(".")), files=clash, outputs=[])
K("seg-o-is-masks-folder", "", cmd=X(SEGC("masks")), files=seg_files(), outputs=["masks/masks", "masks/images.csv", "masks/output.manifest"], expect="any")
clash2 = seg_files(("\n".join([seg_line("img1", "w0", "masks/masks/000000-img1.png"), seg_line("img1", "w1", "masks/masks/000000-img1.png")]) + "\n").encode(),
                   {"masks/masks/000000-img1.png": gray(MW, MH, mask_px(0, 0))})
K("seg-o-is-masks-folder-clash", "", cmd=X(SEGC("masks")), files=clash2, outputs=["masks/images.csv", "masks/output.manifest"])
K("seg-o-inside-input-folder-clash", "", cmd=X(SEGC("sub")), outputs=["sub/images.csv", "sub/output.manifest"],
  files=seg_files(("\n".join([seg_line("img1", "w0", "sub/masks/000000-img1.png"), seg_line("img1", "w1", "sub/masks/000000-img1.png")]) + "\n").encode(),
                  {"sub/masks/000000-img1.png": gray(MW, MH, mask_px(0, 0))}))
K("seg-o-is-manifest", "", cmd=X(SEGC("manifest.jsonl")), files=seg_files(), outputs=[])
K("seg-o-symlink-to-folder", "", cmd=X(SEGC("here")), files=clash, outputs=["here"],
  setup=lambda d: os.symlink(".", os.path.join(d, "here")))
K("seg-o-parent-of-input", "", cmd=f'cd sub && exec {T} "$ACC" consolidate --task segmentation manifest.jsonl -o .. --backend cpu',
  files={"sub/" + k_: v for k_, v in seg_files().items()}, outputs=[], expect="any")
K("seg-manifest-via-symlinked-dir", "", cmd=X("consolidate --task segmentation alias/manifest.jsonl -o . --backend cpu"),
  files=clash, outputs=[], setup=lambda d: os.symlink(".", os.path.join(d, "alias")))

# ---------- 6. outputs to devices, full disks, FIFOs, unwritable folders -------

def O(name, cmd, files=None, outputs=(), expect="any", checks=(), setup=None, items=None, out=None, scratch=(), **k):
    return add(name, "output-target", cmd, files or {"in.csv": BASE_CSV, "gold.csv": GOLD}, list(outputs), expect=expect,
               checks=checks, setup=setup, items=items, out=out, scratch=scratch, **k)
def still(rel, kind):
    def chk(d, rc):
        p = os.path.join(d, rel)
        try: m = os.lstat(p).st_mode
        except FileNotFoundError: return f"{rel} is gone (was a {kind})"
        ok = {"chr": stat.S_ISCHR, "fifo": stat.S_ISFIFO, "lnk": stat.S_ISLNK}[kind](m)
        return None if ok else f"{rel} is no longer a {kind} (mode {oct(m)})"
    return chk
def want_rc(*rcs):
    return lambda d, rc: None if rc in rcs else f"exit {rc}, wanted {rcs}"
if IS_ROOT:
    dev = lambda rel, minor: (lambda d: os.mknod(os.path.join(d, rel), 0o666 | stat.S_IFCHR, os.makedev(1, minor)))
    both = lambda *fs: (lambda d: [f(d) for f in fs])
    O("devnull-o", X("consolidate in.csv -o null --backend cpu"), outputs=["null"], setup=dev("null", 3), checks=[still("null", "chr")])
    O("devnull-workers", X("consolidate in.csv -o out.csv --workers-out null --backend cpu"), outputs=["out.csv", "null"], setup=dev("null", 3),
      checks=[still("null", "chr")], items=BASE_ITEMS, out=("csv", "out.csv"))
    O("devnull-report", X("report in.csv -o null --backend cpu --repeats 1"), outputs=["null"], setup=dev("null", 3), checks=[still("null", "chr")])
    O("devnull-seg-out", X(SEGC("null")), files=seg_files(), outputs=["null"], setup=dev("null", 3), checks=[still("null", "chr")])
    O("devfull-o", X("consolidate in.csv -o full --backend cpu"), outputs=["full"], setup=dev("full", 7), checks=[still("full", "chr"), want_rc(1)])
    O("devfull-workers", X("consolidate in.csv -o out.csv --workers-out full --backend cpu"), outputs=["out.csv", "full"], setup=dev("full", 7),
      checks=[still("full", "chr"), want_rc(1)])
    O("devfull-review", X("consolidate in.csv -o out.csv --review-out full --backend cpu"), outputs=["out.csv", "full"], setup=dev("full", 7),
      checks=[still("full", "chr"), want_rc(1)])
    O("devfull-rejects", X("consolidate in.csv -o out.csv --skip-invalid --rejects full --backend cpu"), outputs=["out.csv", "full"],
      setup=dev("full", 7), checks=[still("full", "chr"), want_rc(1)])
    O("devfull-stdout", f'{T} "$ACC" consolidate in.csv --backend cpu > full', outputs=["full"], setup=dev("full", 7),
      checks=[still("full", "chr"), want_rc(1)])
    O("devfull-stdout-evaluate", f'{T} "$ACC" evaluate --pred in.csv --gold gold.csv > full', outputs=["full"], setup=dev("full", 7),
      checks=[still("full", "chr")])
    O("devfull-stdout-agreement-json", f'{T} "$ACC" agreement in.csv --json > full', outputs=["full"], setup=dev("full", 7),
      checks=[still("full", "chr")])
    O("devfull-stdout-help", f'{T} "$ACC" consolidate --help > full', outputs=["full"], setup=dev("full", 7), checks=[still("full", "chr")])
    O("devfull-stderr", f'{T} "$ACC" consolidate in.csv -o out.csv --backend cpu --verbose 2> full', outputs=["out.csv", "full"],
      setup=dev("full", 7), checks=[still("full", "chr")], items=BASE_ITEMS, out=("csv", "out.csv"))
    O("devfull-stderr-error", f'{T} "$ACC" consolidate nothere.csv -o out.csv --backend cpu 2> full', outputs=["out.csv", "full"],
      setup=dev("full", 7), checks=[still("full", "chr")])
    O("devfull-stderr-bad-input", f'{T} "$ACC" consolidate bad.csv -o out.csv --backend cpu 2> full', files={"bad.csv": b"item,worker,label\ni1,w1\n"},
      outputs=["out.csv", "full"], setup=dev("full", 7), checks=[still("full", "chr"), want_rc(2)])
    O("devfull-report", X("report in.csv -o full --backend cpu --repeats 1"), outputs=["full"], setup=dev("full", 7), checks=[still("full", "chr"), want_rc(1)])
    O("devfull-report-figures", X("report in.csv -o r.html --figures figs --backend cpu --repeats 1"), outputs=["r.html", "figs"],
      setup=lambda d: (os.mkdir(os.path.join(d, "figs")), dev("figs/class-distribution.svg", 7)(d)), checks=[still("figs/class-distribution.svg", "chr")])
    O("devfull-simulate-plot", X("simulate in.csv --gold gold.csv --plot full.svg --repeats 1 --backend cpu"), outputs=["full.svg"],
      setup=dev("full.svg", 7), checks=[still("full.svg", "chr"), want_rc(1)])
    O("devfull-evaluate-plot", X("evaluate --pred in.csv --gold gold.csv --plot-confusion full.svg"), outputs=["full.svg"],
      files={"in.csv": b"item,label\n" + b"".join(f"i{i},owl\n".encode() for i in range(12)), "gold.csv": GOLD},
      setup=dev("full.svg", 7), checks=[still("full.svg", "chr"), want_rc(1)])
    O("devfull-generate", X("generate -o g --items 1000"), outputs=["g/labels.csv", "g/gold.csv"],
      setup=lambda d: (os.mkdir(os.path.join(d, "g")), dev("g/labels.csv", 7)(d)), checks=[still("g/labels.csv", "chr"), want_rc(1)])
    O("devfull-generate-seg", X("generate --task segmentation -o g --images 2 --size 16x16"), outputs=["g"],
      setup=lambda d: (os.makedirs(os.path.join(d, "g")), dev("g/annotations.jsonl", 7)(d)), checks=[still("g/annotations.jsonl", "chr")])
    O("devfull-seg-manifest-out", X(SEGC("out")), files=seg_files(), outputs=["out"],
      setup=lambda d: (os.mkdir(os.path.join(d, "out")), dev("out/output.manifest", 7)(d)), checks=[still("out/output.manifest", "chr"), want_rc(1)])
    O("devnull-o-and-workers-same", X("consolidate in.csv -o null --workers-out null --backend cpu"), outputs=["null"], setup=dev("null", 3),
      checks=[still("null", "chr")])
    O("symlink-to-devfull", X("consolidate in.csv -o lnk --backend cpu"), outputs=["lnk"],
      setup=lambda d: (dev("full", 7)(d), os.symlink("full", os.path.join(d, "lnk"))), checks=[still("full", "chr"), want_rc(1)])
def fifo_reader(rel, cap):
    return f'mkfifo {rel}; (cat {rel} > {cap}) & '
O("fifo-o", fifo_reader("f", "cap.csv") + 'timeout -k 5 20 "$ACC" consolidate in.csv -o f --backend cpu; rc=$?; wait; exit $rc',
  outputs=["f"], scratch=["cap.csv"], checks=[still("f", "fifo")], items=BASE_ITEMS, out=("csv", "cap.csv"))
O("fifo-workers", fifo_reader("f", "cap.csv") + 'timeout -k 5 20 "$ACC" consolidate in.csv -o out.csv --workers-out f --backend cpu; rc=$?; wait; exit $rc',
  outputs=["out.csv", "f"], scratch=["cap.csv"], checks=[still("f", "fifo")], items=BASE_ITEMS, out=("csv", "out.csv"))
O("fifo-o-symlink", fifo_reader("f", "cap.csv") + 'ln -s f l; timeout -k 5 20 "$ACC" consolidate in.csv -o l --backend cpu; rc=$?; wait; exit $rc',
  outputs=["l"], scratch=["cap.csv", "f"], checks=[still("f", "fifo"), still("l", "lnk")], items=BASE_ITEMS, out=("csv", "cap.csv"))
O("fifo-o-reader-closes", 'mkfifo f; (head -c 10 f > cap.csv) & timeout -k 5 20 "$ACC" consolidate big.csv -o f --backend cpu --method mv; rc=$?; wait; exit $rc',
  files={"big.csv": (H + "".join(f"i{i},w{i % 3},{'abc'[i % 3]}\n" for i in range(200000))).encode()},
  outputs=["f"], scratch=["cap.csv"], checks=[still("f", "fifo")])
O("fifo-report-out", fifo_reader("f", "cap.html") + 'timeout -k 5 20 "$ACC" report in.csv -o f --backend cpu --repeats 1; rc=$?; wait; exit $rc',
  outputs=["f"], scratch=["cap.html"], checks=[still("f", "fifo")])
O("unwritable-dir", f'exec {T} setpriv --reuid=65534 --regid=65534 --clear-groups -- "$ACC" consolidate in.csv -o ro/out.csv --backend cpu',
  outputs=["ro/out.csv"], setup=lambda d: (os.mkdir(os.path.join(d, "ro")), os.chmod(os.path.join(d, "ro"), 0o555)), checks=[want_rc(1, 2)])
O("unwritable-dir-workers", f'exec {T} setpriv --reuid=65534 --regid=65534 --clear-groups -- "$ACC" consolidate in.csv -o out.csv --workers-out ro/w.csv --backend cpu',
  outputs=["out.csv", "ro/w.csv"], setup=lambda d: (os.mkdir(os.path.join(d, "ro")), os.chmod(os.path.join(d, "ro"), 0o555), os.chmod(d, 0o777)),
  checks=[want_rc(1, 2)])
O("unwritable-seg-out", f'exec {T} setpriv --reuid=65534 --regid=65534 --clear-groups -- "$ACC" {SEGC("ro/out")}', files=seg_files(),
  outputs=["ro/out"], setup=lambda d: (os.mkdir(os.path.join(d, "ro")), os.chmod(os.path.join(d, "ro"), 0o555)), checks=[want_rc(1, 2)])
O("unwritable-existing-output", f'exec {T} setpriv --reuid=65534 --regid=65534 --clear-groups -- "$ACC" consolidate in.csv -o ro/out.csv --backend cpu',
  outputs=["ro/out.csv"], setup=lambda d: (os.mkdir(os.path.join(d, "ro")), wb(os.path.join(d, "ro/out.csv"), b"old\n"), os.chmod(os.path.join(d, "ro"), 0o555)),
  checks=[want_rc(1, 2)])
O("unwritable-generate", f'exec {T} setpriv --reuid=65534 --regid=65534 --clear-groups -- "$ACC" generate -o ro/g --items 10',
  outputs=["ro/g"], setup=lambda d: (os.mkdir(os.path.join(d, "ro")), os.chmod(os.path.join(d, "ro"), 0o555)), checks=[want_rc(1, 2)])
O("o-is-directory", X("consolidate in.csv -o sub --backend cpu"), outputs=["sub"], setup=lambda d: os.mkdir(os.path.join(d, "sub")))
O("o-trailing-slash", X("consolidate in.csv -o out.csv/ --backend cpu"), outputs=["out.csv"])
O("o-empty-string", X("consolidate in.csv -o '' --backend cpu"), outputs=[])
O("closed-stdout-head", f'{T} "$ACC" consolidate big.csv --backend cpu --method mv | head -c1 >/dev/null; exit ${{PIPESTATUS[0]}}',
  files={"big.csv": (H + "".join(f"i{i},w{i % 3},{'abc'[i % 3]}\n" for i in range(200000))).encode()}, checks=[want_rc(0)])
O("closed-stdout-posteriors", f'{T} "$ACC" consolidate in.csv --backend cpu --posteriors -o - | head -c1 >/dev/null; exit ${{PIPESTATUS[0]}}', checks=[want_rc(0)])
O("closed-stdout-evaluate", f'{T} "$ACC" evaluate --pred in.csv --gold gold.csv | head -c1 >/dev/null; exit ${{PIPESTATUS[0]}}',
  files={"in.csv": b"item,label\n" + b"".join(f"i{i},owl\n".encode() for i in range(12)), "gold.csv": GOLD}, checks=[want_rc(0)])
O("closed-stdout-agreement", f'{T} "$ACC" agreement in.csv --json | head -c1 >/dev/null; exit ${{PIPESTATUS[0]}}', checks=[want_rc(0)])
O("closed-stdout-simulate", f'{T} "$ACC" simulate in.csv --gold gold.csv --repeats 2 --backend cpu | head -c1 >/dev/null; exit ${{PIPESTATUS[0]}}', checks=[want_rc(0)])
O("closed-stdout-help", f'{T} "$ACC" consolidate --help | head -c1 >/dev/null; exit ${{PIPESTATUS[0]}}', checks=[want_rc(0)])
O("closed-stdout-fd", f'{T} "$ACC" consolidate in.csv --backend cpu >&-', checks=[want_rc(0, 1)])
O("closed-stderr-fd", f'{T} "$ACC" consolidate bad.csv -o out.csv --backend cpu 2>&-', files={"bad.csv": b"item,worker,label\ni1,w1\n"},
  outputs=["out.csv"], checks=[want_rc(2)])
O("closed-stdin", f'{T} "$ACC" consolidate - --format csv -o out.csv --backend cpu <&-', outputs=["out.csv"])
O("stderr-pipe-closed", f'{T} "$ACC" consolidate in.csv -o out.csv --backend cpu --verbose 2>&1 >/dev/null | head -c1 >/dev/null; exit ${{PIPESTATUS[0]}}',
  outputs=["out.csv"], items=BASE_ITEMS, out=("csv", "out.csv"))

# ---------- 7. numeric flags at their extremes -----------------------------------

def N(name, args, files=None, outputs=("out.csv",), items=None, out=None, expect="any", **k):
    return add(name, "numeric", X(args), files or {"in.csv": BASE_CSV, "gold.csv": GOLD}, list(outputs), expect=expect,
               items=items, out=out, **k)
EXT = {"0": "0", "neg": "-1", "huge": "18446744073709551616", "u64max": "18446744073709551615", "nan": "NaN", "inf": "inf", "tiny": "1e-320"}
for method in ("hds", "ds", "mmsr"):
    for nm in ("0", "neg", "huge", "u64max", "nan"):
        N(f"max-iter-{method}-{nm}", f"consolidate in.csv -o out.csv --backend cpu --method {method} --max-iter {EXT[nm]}",
          items=BASE_ITEMS, out=("csv", "out.csv"))
N("max-iter-u64max-tol-0", "consolidate in.csv -o out.csv --backend cpu --max-iter 18446744073709551615 --tol 0", items=BASE_ITEMS, out=("csv", "out.csv"))
N("max-iter-u64max-tol-neg", "consolidate in.csv -o out.csv --backend cpu --method glad --max-iter 18446744073709551615 --tol -1", items=BASE_ITEMS, out=("csv", "out.csv"))
for nm in ("0", "neg", "nan", "inf", "huge", "tiny"):
    N(f"tol-{nm}", f"consolidate in.csv -o out.csv --backend cpu --tol {EXT[nm]}", items=BASE_ITEMS, out=("csv", "out.csv"))
for flag in ("--prior-correct", "--prior-strength", "--smoothing"):
    for nm in ("neg", "nan", "inf", "huge"):
        N(f"{flag[2:]}-{nm}", f"consolidate in.csv -o out.csv --backend cpu --method {'ds' if flag == '--smoothing' else 'hds'} {flag} {EXT[nm]}",
          items=BASE_ITEMS, out=("csv", "out.csv"))
for nm in ("0", "neg", "huge", "u64max"):
    N(f"review-count-{nm}", f"consolidate in.csv -o out.csv --review-out r.csv --review-count {EXT[nm]} --backend cpu",
      outputs=["out.csv", "r.csv"], items=BASE_ITEMS, out=("csv", "out.csv"))
    N(f"report-review-count-{nm}", f"report in.csv -o r.html --review-count {EXT[nm]} --repeats 0 --backend cpu", outputs=["r.html"])
N("seed-huge", "consolidate in.csv -o out.csv --ties random --method mv --seed 18446744073709551616 --backend cpu", items=BASE_ITEMS, out=("csv", "out.csv"))
SEGN = "consolidate --task segmentation manifest.jsonl -o out --backend cpu"
for nm in ("0", "neg", "nan", "inf", "huge", "tiny"):
    N(f"sigma-{nm}", f"{SEGN} --sigma {EXT[nm] if nm != 'huge' else '1e30'}", files=seg_files(), outputs=["out"], items=set(SEG_IMAGES), out=("seg", "out"))
for nm, v in (("0", "0"), ("neg", "-1"), ("u32max", "4294967295"), ("huge", "18446744073709551616"), ("big", "100000")):
    N(f"radius-{nm}", f"{SEGN} --radius {v}", files=seg_files(), outputs=["out"], items=set(SEG_IMAGES), out=("seg", "out"))
for nm, v in (("0", "0"), ("1", "1"), ("neg", "-1"), ("u64max", "18446744073709551615"), ("huge", "18446744073709551616")):
    N(f"max-pixels-{nm}", f"{SEGN} --max-pixels {v}", files=seg_files(), outputs=["out"], items=set(SEG_IMAGES), out=("seg", "out"))
for m in ("weighted", "staple"):
    for nm in ("0", "u64max"):
        N(f"seg-max-iter-{m}-{nm}", f"{SEGN} --method {m} --max-iter {EXT[nm]}", files=seg_files(), outputs=["out"], items=set(SEG_IMAGES), out=("seg", "out"))
GEN = "generate -o g"
genout = ["g"]
for nm, v in (("0", "0"), ("neg", "-1"), ("huge", "18446744073709551616"), ("u64max", "18446744073709551615"), ("1e12", "1000000000000")):
    # A huge --items streams until run.sh's 1 GiB file limit (EFBIG, exit 1): "io".
    N(f"generate-items-{nm}", f"{GEN} --items {v}", outputs=genout, expect="io" if nm in ("u64max", "1e12") else "any")
    N(f"generate-workers-{nm}", f"{GEN} --items 100 --workers {v}", outputs=genout)
    N(f"generate-classes-{nm}", f"{GEN} --items 100 --classes {v}", outputs=genout)
    N(f"generate-per-item-{nm}", f"{GEN} --items 100 --per-item {v}", outputs=genout)
N("generate-classes-1", f"{GEN} --items 100 --classes 1", outputs=genout)
N("generate-per-item-gt-workers", f"{GEN} --items 100 --workers 3 --per-item 10", outputs=genout)
for nm, v in (("nan", "NaN"), ("neg", "-5"), ("inf", "inf"), ("gt1", "2")):
    N(f"generate-spammers-{nm}", f"{GEN} --items 100 --spammers {v}", outputs=genout)
    N(f"generate-class-skew-{nm}", f"{GEN} --items 100 --class-skew {v}", outputs=genout)
    N(f"generate-accuracy-{nm}", f"{GEN} --items 100 --accuracy uniform:{v},{v}", outputs=genout)
N("generate-accuracy-beta-0", f"{GEN} --items 100 --accuracy beta:0,0", outputs=genout)
N("generate-load-skew-huge", f"{GEN} --items 100 --load-skew 1e308", outputs=genout)
for nm, v in (("0x0", "0x0"), ("neg", "-1x5"), ("nan", "NaNxNaN"), ("huge", "100000x100000"), ("u32max", "4294967295x4294967295"),
              ("1x1", "1x1"), ("wide", "1000000x1"), ("garbage", "axb")):
    N(f"generate-seg-size-{nm}", f"generate --task segmentation -o g --images 2 --size {v}", outputs=genout)
for nm, v in (("0", "0"), ("neg", "-1"), ("huge", "18446744073709551616"), ("1e9", "1000000000")):
    N(f"generate-seg-workers-{nm}", f"generate --task segmentation -o g --images 2 --size 16x16 --workers {v}", outputs=genout)
    N(f"generate-seg-classes-{nm}", f"generate --task segmentation -o g --images 2 --size 16x16 --classes {v}", outputs=genout)
    N(f"generate-seg-images-{nm}", f"generate --task segmentation -o g --images {v} --size 16x16", outputs=genout)
N("generate-seg-shapes-huge", "generate --task segmentation -o g --images 1 --size 16x16 --shapes 1000000000", outputs=genout)
N("generate-seg-classes-300", "generate --task segmentation -o g --images 1 --size 16x16 --classes 300", outputs=genout)
for nm, v in (("0", "0"), ("neg", "-1"), ("huge", "18446744073709551616"), ("u64max", "18446744073709551615")):
    N(f"simulate-max-annotators-{nm}", f"simulate in.csv --gold gold.csv --max-annotators {v} --repeats 2 --backend cpu", outputs=[])
    N(f"simulate-repeats-{nm}", f"simulate in.csv --gold gold.csv --repeats {v} --backend cpu", outputs=[])
    N(f"report-repeats-{nm}", f"report in.csv --gold gold.csv -o r.html --repeats {v} --backend cpu", outputs=["r.html"])
    N(f"report-max-annotators-{nm}", f"report in.csv --gold gold.csv -o r.html --max-annotators {v} --repeats 1 --backend cpu", outputs=["r.html"])
N("simulate-repeats-1e6", "simulate in.csv --gold gold.csv --repeats 1000000 --backend cpu", outputs=[])

# ---------- 8. SIGINT / SIGTERM during long runs ---------------------------------

BIG_ITEMS, BIG_PER = 300_000, 5
GEN_ITEMS = 3_000_000   # the interrupted generate runs: ~2 s
BIG = os.path.join(SHARED, "big")
def gen_complete(d):
    g = os.path.join(d, "g")
    have = [os.path.lexists(os.path.join(g, f)) for f in ("labels.csv", "gold.csv")]
    if not any(have): return None
    if not all(have): return f"only one of labels.csv/gold.csv in g: {have}"
    nl = sum(1 for _ in open(os.path.join(g, "labels.csv"), "rb")); ng = sum(1 for _ in open(os.path.join(g, "gold.csv"), "rb"))
    if nl != GEN_ITEMS * BIG_PER + 1 or ng != GEN_ITEMS + 1: return f"incomplete generate output: labels {nl} lines, gold {ng}"
    return None
def csv_complete(names, n):
    def chk(d):
        have = [os.path.lexists(os.path.join(d, f)) for f in names]
        if not any(have): return None
        if not all(have): return f"outputs committed partially: {dict(zip(names, have))}"
        nl = sum(1 for _ in open(os.path.join(d, names[0]), "rb"))
        return None if nl == n + 1 else f"{names[0]} has {nl} lines, wanted {n + 1}"
    return chk
def seg_complete(d):
    p = os.path.join(d, "out")
    if not os.path.lexists(p): return None
    try: got = read_out("seg", p)
    except Exception as e: return f"incomplete seg output: {e}"
    return None if len(got) == SEG_BIG_N else f"seg output has {len(got)} images, wanted {SEG_BIG_N}"
SEG_BIG_N = 60
for sig in (signal.SIGINT, signal.SIGTERM):
    sn = sig.name.lower()
    for dl in (0.05, 0.4, 1.0, 1.6):
        add(f"{sn}-generate-{dl}", "signal", X(f"generate -o g --items {GEN_ITEMS} --per-item {BIG_PER} --seed 7"), {}, ["g"], sig=(sig, dl),
            complete=gen_complete)
    for dl in (0.5, 1.5, 2.5):
        add(f"{sn}-consolidate-long-{dl}", "signal", X(f"consolidate {BIG}/labels.csv -o out.csv --workers-out w.csv --tol 0 --max-iter 40 --backend cpu"),
            {}, ["out.csv", "w.csv"], sig=(sig, dl), complete=csv_complete(["out.csv", "w.csv"], BIG_ITEMS))
    for dl in (0.05, 0.2, 0.4, 0.6, 0.75):
        add(f"{sn}-consolidate-{dl}", "signal", X(f"consolidate {BIG}/labels.csv -o out.csv --workers-out w.csv --review-out r.csv --posteriors --backend cpu"),
            {}, ["out.csv", "w.csv", "r.csv"], sig=(sig, dl), complete=csv_complete(["out.csv", "w.csv", "r.csv"], BIG_ITEMS),
            items=None)
    for dl in (0.3, 1.5):
        add(f"{sn}-seg-{dl}", "signal", X(f"consolidate --task segmentation {SHARED}/segbig/annotations.jsonl -o out --method staple --backend cpu --allow-paths-outside {SHARED}"),
            {}, ["out"], sig=(sig, dl), complete=seg_complete)
        add(f"{sn}-report-{dl}", "signal", X(f"report {BIG}/labels.csv --gold {BIG}/gold.csv -o r.html --repeats 2 --backend cpu"),
            {}, ["r.html"], sig=(sig, dl), complete=lambda d: None)
    add(f"{sn}-skip-invalid-0.3", "signal", X(f"consolidate {BIG}/labels.csv -o out.csv --skip-invalid --backend cpu"), {},
        ["out.csv", "out.csv.rejects.csv"], sig=(sig, 0.3), complete=csv_complete(["out.csv", "out.csv.rejects.csv"], BIG_ITEMS))
add("sigint-twice-consolidate", "signal", f'"$ACC" consolidate {BIG}/labels.csv -o out.csv --backend cpu & p=$!; sleep 0.3; kill -INT $p; sleep 0.02; kill -INT $p; wait $p',
    {}, ["out.csv"], sig=(signal.SIGINT, None), complete=csv_complete(["out.csv"], BIG_ITEMS))
add("sigint-generate-into-existing", "signal", X(f"generate -o g --items {GEN_ITEMS} --per-item {BIG_PER} --seed 7"),
    {"g/labels.csv": b"old labels\n", "g/gold.csv": b"old gold\n"}, ["g"], sig=(signal.SIGINT, 0.5),
    complete=lambda d: None if open(os.path.join(d, "g/labels.csv"), "rb").read() in (b"old labels\n",) or gen_complete(d) is None else "labels.csv neither old nor complete")
add("sigterm-seg-into-existing", "signal", X(f"consolidate --task segmentation {SHARED}/segbig/annotations.jsonl -o out --method staple --backend cpu --allow-paths-outside {SHARED}"),
    {"out/old.txt": b"keep\n"}, ["out"], sig=(signal.SIGTERM, 1.0), complete=lambda d: None)
# A readable regular input or a flag value: exit 1 ("anything else") is never the
# right answer there, only 0 or 2.
for c in cases:
    if c.expect == "any" and c.group in ("truncated", "malformed", "segmentation", "png-bomb", "numeric"):
        c.expect = "input"
# Interrupts in the last moments of a run, when outputs are being renamed into
# place: the delays are shares of the uninterrupted run's time (measured first).
DUR = {}
for sig in (signal.SIGINT, signal.SIGTERM):
    sn = sig.name.lower()
    for f in (0.85, 0.92, 0.96, 0.99, 1.01):
        add(f"{sn}-generate-end-{f}", "signal", X(f"generate -o g --items {GEN_ITEMS} --per-item {BIG_PER} --seed 7"), {}, ["g"],
            sig=(sig, lambda f=f: DUR["generate"] * f), complete=gen_complete)
        add(f"{sn}-consolidate-end-{f}", "signal", X(f"consolidate {BIG}/labels.csv -o out.csv --workers-out w.csv --review-out r.csv --backend cpu"),
            {}, ["out.csv", "w.csv", "r.csv"], sig=(sig, lambda f=f: DUR["consolidate"] * f), complete=csv_complete(["out.csv", "w.csv", "r.csv"], BIG_ITEMS))
    for f in (0.9, 0.97, 1.0):
        add(f"{sn}-seg-end-{f}", "signal", X(f"consolidate --task segmentation {SHARED}/segbig/annotations.jsonl -o out --confidence-maps --backend cpu"),
            {}, ["out"], sig=(sig, lambda f=f: DUR["seg"] * f), complete=seg_complete)
print(f"hostile.py: {len(cases)} cases", file=sys.stderr)

# --------------------------------------------------------------- running -------

HASHES = {}
def snapshot(root):
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            try: st = os.lstat(p)
            except FileNotFoundError: continue
            if stat.S_ISREG(st.st_mode):
                key = (p, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
                if key not in HASHES:
                    h = hashlib.sha1()
                    with open(p, "rb") as f:
                        for blk in iter(lambda: f.read(1 << 20), b""): h.update(blk)
                    HASHES[key] = h.hexdigest()
                snap[p] = ("reg", HASHES[key], st.st_ino)
            elif stat.S_ISLNK(st.st_mode): snap[p] = ("lnk", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode): snap[p] = ("dir",)
            elif stat.S_ISFIFO(st.st_mode): snap[p] = ("fifo", st.st_ino)
            elif stat.S_ISCHR(st.st_mode): snap[p] = ("chr", st.st_rdev, st.st_ino)
            else: snap[p] = ("other", st.st_mode)
        if os.path.basename(dirpath) == "proc": dirnames[:] = []
    return snap

def prepare(c, d):
    os.makedirs(d)
    for rel, data in c.files.items(): wb(os.path.join(d, rel), data)
    if c.setup: c.setup(d)

def run_case(c, idx):
    d = os.path.join(CASES, f"{idx:03d}-{c.name}")
    prepare(c, d)
    outs = [os.path.normpath(os.path.join(d, o)) for o in c.outputs]
    allowed = set(outs) | {os.path.normpath(os.path.join(d, s)) for s in c.scratch}
    def is_allowed(p):
        return any(p == a or p.startswith(a + os.sep) for a in allowed)
    before = {**snapshot(d), **snapshot(SHARED)}
    existed = {o: os.path.lexists(o) for o in outs}
    so, se = os.path.join(LOGS, f"{idx:03d}.out"), os.path.join(LOGS, f"{idx:03d}.err")
    env = dict(os.environ, ACC=ACC, RUST_BACKTRACE="0")
    t0 = time.monotonic()
    with open(so, "wb") as fo, open(se, "wb") as fe:
        p = subprocess.Popen(["bash", "-c", c.cmd], cwd=d, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN))
        sent = None
        delay = c.sig[1]() if c.sig and callable(c.sig[1]) else (c.sig[1] if c.sig else None)
        if c.sig and delay is not None:
            # Start the clock once timeout has started accord (bash has exec'd timeout).
            kids = f"/proc/{p.pid}/task/{p.pid}/children"
            for _ in range(400):
                try:
                    if open(kids).read().strip() and open(f"/proc/{p.pid}/comm").read().strip() == "timeout": break
                except OSError: break
                time.sleep(0.005)
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, c.sig[0]); sent = c.sig[0]
        elif c.sig:
            sent = c.sig[0]
        try:
            rc = p.wait(timeout=LIMIT_S + 10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL); rc = p.wait()
    wall = time.monotonic() - t0
    try: os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError: pass
    err = open(se, "rb").read()
    errs = err.decode("utf-8", "replace")
    broken, warns = [], []
    # A shell that ran accord in the background reports a signal death as 128+n.
    sig_died = None
    if rc < 0: sig_died = -rc
    elif 128 < rc < 160 and rc != 130 and not c.cmd.startswith("exec "): sig_died = rc - 128
    if rc == 101 or "panicked" in errs: broken.append("panic (exit 101 or 'panicked' on stderr)")
    if sig_died and sig_died != sent and rc != 124:
        broken.append(f"killed by signal {signal.Signals(sig_died).name if sig_died in signal.Signals._value2member_map_ else sig_died}")
    if rc == 124 or wall > LIMIT_S + 0.5: broken.append(f"ran past {LIMIT_S:.0f} s (wall {wall:.1f} s, exit {rc})")
    if rc == 1 and c.expect in ("bad", "input"): broken.append("exit 1 for bad input (wanted 2)")
    if rc not in (0,) and len(err) > 5000: broken.append(f"error message of {len(err)} bytes")
    after = {**snapshot(d), **snapshot(SHARED)}
    left = sorted(p_ for p_ in after if os.path.basename(p_).startswith(".accord-"))
    if left: broken.append("temporary left behind: " + ", ".join(os.path.relpath(x, WORK) for x in left[:5]))
    changed = []
    for p_, v in before.items():
        if is_allowed(p_): continue
        if p_ not in after: changed.append(f"{os.path.relpath(p_, WORK)} removed")
        elif after[p_] != v:
            changed.append(f"{os.path.relpath(p_, WORK)} changed ({v[0]} -> {after[p_][0]})")
    for p_ in after:
        if p_ not in before and not is_allowed(p_) and not os.path.basename(p_).startswith(".accord-"):
            changed.append(f"{os.path.relpath(p_, WORK)} created")
    if changed: broken.append("file other than the named outputs touched: " + "; ".join(changed[:5]))
    # special files stay what they are
    for p_, v in before.items():
        if v[0] in ("chr", "fifo"):
            a = after.get(p_)
            if a is None or a[0] != v[0]:
                broken.append(f"{v[0]} {os.path.relpath(p_, d)} replaced by {a[0] if a else 'nothing'}")
    for chk in c.checks:
        r = chk(d, rc)
        if r and r.startswith("BROKEN: "): broken.append(r[8:])
        elif r and ("no longer" in r or "is gone" in r): broken.append(r) if not any(r in b for b in broken) else None
        elif r: warns.append(r)
    interrupted = sent is not None
    if rc != 0 and not interrupted:
        for o in outs:
            ob = before.get(o)
            if ob and ob[0] in ("chr", "fifo"): continue
            if after.get(o, ("",))[0] in ("chr", "fifo"): continue  # made by the case's own script
            if not existed[o]:
                if os.path.isdir(o) and not os.path.islink(o) and not os.listdir(o):
                    warns.append(f"empty output folder {os.path.relpath(o, d)} left after a failure")
                elif os.path.lexists(o): broken.append(f"output {os.path.relpath(o, d)} left after a failure (exit {rc})")
            else:
                if not (o in after and after[o] == ob) and ob[0] != "dir":
                    broken.append(f"pre-existing output {os.path.relpath(o, d)} changed by a failed run (exit {rc})")
    if interrupted and rc != 0:
        if rc not in (130, -signal.SIGINT, -signal.SIGTERM, 143):
            warns.append(f"interrupted run exited {rc} (README: 130)")
        elif rc in (-signal.SIGINT, -signal.SIGTERM):
            warns.append(f"died of the signal it was sent instead of exiting 130")
        if c.complete:
            try: r = c.complete(d)
            except Exception as e: r = f"output unreadable after interrupt: {e}"
            if r: broken.append(f"after {signal.Signals(sent).name}: {r}")
    if rc == 0 and c.items is not None and c.out:
        kind, rel = c.out
        path = os.path.join(d, rel) if rel != "-" else so
        try:
            got = read_out(kind, path)
            rej = open(os.path.join(d, c.rejects), "rb").read().decode("utf-8", "replace") if c.rejects and os.path.exists(os.path.join(d, c.rejects)) else ""
            lost = sorted(i for i in c.items if i not in got and (not rej or i[:900] not in rej))
            if lost: broken.append(f"exit 0 but {len(lost)} input item(s) missing from the output and the rejects: {[x[:40] for x in lost[:5]]}")
        except FileNotFoundError as e:
            broken.append(f"exit 0 but output missing: {e.filename and os.path.relpath(e.filename, d)}")
        except Exception as e:
            broken.append(f"exit 0 but the output is unreadable: {type(e).__name__}: {str(e)[:200]}")
    if rc == 0 and c.expect == "bad": warns.append("bad input accepted (exit 0)")
    if rc == 2 and c.expect == "bad" and c.mention and c.mention not in errs: warns.append(f"exit-2 message does not name {c.mention}")
    if rc not in (0, 1, 2, 130) and not broken: warns.append(f"unusual exit {rc}")
    return dict(name=c.name, group=c.group, cmd=c.cmd, dir=d, rc=rc, wall=round(wall, 2), sent=sent.name if sent else None,
                broken=broken, warns=warns, stderr=errs[:2000], stderr_len=len(err))

def prepare_shared():
    t0 = time.monotonic()
    wb(os.path.join(SHARED, "abs.png"), gray(MW, MH, mask_px(0, 2)))
    wb(os.path.join(SHARED, "outside.png"), gray(MW, MH, mask_px(0, 2)))
    r = subprocess.run([ACC, "generate", "-o", BIG, "--items", str(BIG_ITEMS), "--per-item", str(BIG_PER), "--seed", "3"],
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([ACC, "generate", "--task", "segmentation", "-o", os.path.join(SHARED, "segbig"), "--images", str(SEG_BIG_N),
                        "--size", "256x256", "--seed", "2"], capture_output=True)
    assert r.returncode == 0, r.stderr
    for key, argv in (("generate", ["generate", "-o", os.path.join(SHARED, "gen-timing"), "--items", str(GEN_ITEMS), "--per-item", str(BIG_PER), "--seed", "7"]),
                      ("consolidate", ["consolidate", f"{BIG}/labels.csv", "-o", os.path.join(SHARED, "t.csv"), "--workers-out", os.path.join(SHARED, "tw.csv"),
                                       "--review-out", os.path.join(SHARED, "tr.csv"), "--backend", "cpu"]),
                      ("seg", ["consolidate", "--task", "segmentation", f"{SHARED}/segbig/annotations.jsonl", "-o", os.path.join(SHARED, "tseg"),
                               "--confidence-maps", "--backend", "cpu"])):
        t1 = time.monotonic()
        subprocess.run([ACC] + argv, capture_output=True, check=True)
        DUR[key] = time.monotonic() - t1
        shutil.rmtree(os.path.join(SHARED, "gen-timing"), ignore_errors=True); shutil.rmtree(os.path.join(SHARED, "tseg"), ignore_errors=True)
        for f in ("t.csv", "tw.csv", "tr.csv"):
            if os.path.exists(os.path.join(SHARED, f)): os.remove(os.path.join(SHARED, f))
    print(f"hostile.py: shared inputs ready in {time.monotonic() - t0:.1f} s; uninterrupted runs: " +
          ", ".join(f"{k} {v:.2f} s" for k, v in DUR.items()), file=sys.stderr)

def main():
    todo = [(i, c) for i, c in enumerate(cases) if ONLY is None or ONLY in c.name or ONLY == c.group]
    if any(c.group == "signal" for _, c in todo) or ONLY is None:
        prepare_shared()
    results = []
    t0 = time.monotonic()
    for i, c in todo:
        r = run_case(c, i)
        results.append(r)
        tag = "BROKEN" if r["broken"] else "OK"
        print(f"{tag:6} {r['rc']:>4} {r['wall']:6.2f}s {c.group:14} {c.name}", flush=True)
        if not r["broken"] and not os.environ.get("HOSTILE_KEEP_CASES"):
            subprocess.run(["chmod", "-R", "u+w", os.path.join(CASES, f"{i:03d}-{c.name}")])
            shutil.rmtree(os.path.join(CASES, f"{i:03d}-{c.name}"), ignore_errors=True)
    # summary table
    print("\n== summary by group ==")
    groups = {}
    for r in results:
        g = groups.setdefault(r["group"], [0, 0]); g[0 if not r["broken"] else 1] += 1
    print(f"{'group':16} {'OK':>5} {'BROKEN':>7}")
    for g, (ok, br) in groups.items(): print(f"{g:16} {ok:5d} {br:7d}")
    bad = [r for r in results if r["broken"]]
    if bad:
        print("\n== BROKEN ==")
        for r in bad:
            print(f"- {r['name']} [{r['group']}] exit {r['rc']} ({r['wall']} s)")
            for b in r["broken"]: print(f"    * {b}")
            print(f"    cmd: {r['cmd']}")
            print("    stderr: " + r["stderr"][:300].replace("\n", "\n            "))
    warned = [r for r in results if r["warns"] and not r["broken"]]
    if warned:
        print("\n== WARN (counted as OK) ==")
        for r in warned: print(f"- {r['name']} exit {r['rc']}: {'; '.join(r['warns'])}")
    if JSON_OUT:
        json.dump(results, open(JSON_OUT, "w"), indent=1)
    print(f"\n{len(results) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0

sys.exit(main())

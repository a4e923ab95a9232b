# Writes the bad-input corpus that tests/it/corpus.rs runs accord on.
# The files are committed; rerun this only to change them: python3 tests/corpus/make_corpus.py
import json, base64, zlib, struct, os
os.chdir(os.path.dirname(os.path.abspath(__file__)))
for d in ["csv","tsv","jsonl","gt","seg/masks","gold"]: os.makedirs(d, exist_ok=True)
def w(p, b):
    if isinstance(b, str): b = b.encode()
    open(p, 'wb').write(b)
H = "item,worker,label\n"
good = "i1,w1,a\ni1,w2,b\ni2,w1,a\n"
w("csv/truncated_line.csv", H + good + "i3,w1")
w("csv/missing_column.csv", H + "i1,w1,a\ni2,w2\ni3,w1,b\n")
w("csv/extra_column.csv", H + "i1,w1,a\ni2,w2,b,c\n")
w("csv/unclosed_quote.csv", H + 'i1,w1,a\n"i2,w2,b\ni3,w1,a\n')
w("csv/embedded_newline_then_short.csv", H + 'i1,w1,a\n"i\n2",w2\n')
w("csv/empty_item.csv", H + "i1,w1,a\n,w2,b\n")
w("csv/empty_worker_quoted.csv", H + 'i1,"",a\ni2,w1,b\n')
w("csv/long_id.csv", H + "i1,w1,a\n" + "x"*70000 + ",w2,b\n")
w("csv/not_utf8.csv", (H + "i1,w1,a\ni2,w").encode() + b"\xff\xfe,b\n")
w("csv/label_outside_categories.csv", H + "i1,w1,a\ni2,w2,zebra\n")
w("csv/no_header.csv", "i1,w1,a\ni2,w2,b\n")
w("csv/empty.csv", "")
w("csv/header_only_bom_crlf.csv", b"\xef\xbb\xbfitem,worker,label\r\n")
w("csv/ok_bom_crlf.csv", b"\xef\xbb\xbf" + (H + good).replace("\n", "\r\n").encode())
w("csv/ok_quotes_and_newlines.csv", H + 'i1,w1,a\n"i,2",w1,"b"\n"i\n3",w2,a\n')
w("csv/ok_numbers_as_labels.csv", H + "i1,w1,NaN\ni1,w2,-1\ni2,w1,inf\n")
w("tsv/missing_column.tsv", "item\tworker\tlabel\ni1\tw1\ta\ni2\tw2\n")
w("tsv/not_utf8.tsv", b"item\tworker\tlabel\ni1\tw1\ta\ni2\tw1\t\xc3\x28\n")
w("jsonl/truncated_object.jsonl", '{"item":"i1","worker":"w1","label":"a"}\n{"item":"i2","worker":"w1","lab')
w("jsonl/not_an_object.jsonl", '{"item":"i1","worker":"w1","label":"a"}\n[1,2,3]\n')
w("jsonl/missing_field.jsonl", '{"item":"i1","worker":"w1","label":"a"}\n{"item":"i2","label":"a"}\n')
w("jsonl/float_id.jsonl", '{"item":"i1","worker":"w1","label":"a"}\n{"item":1.5,"worker":"w1","label":"a"}\n')
w("jsonl/nan_literal.jsonl", '{"item":"i1","worker":"w1","label":"a"}\n{"item":"i2","worker":"w1","label":NaN}\n')
w("jsonl/deeply_nested.jsonl", '{"item":"i1","worker":"w1","label":"a"}\n{"item":"i2","worker":"w1","label":' + "["*100000 + "]"*100000 + '}\n')
w("jsonl/not_utf8.jsonl", b'{"item":"i1","worker":"w1","label":"a"}\n{"item":"\xff","worker":"w1","label":"a"}\n')
w("jsonl/ok_bom_crlf.jsonl", b'\xef\xbb\xbf{"item":"i1","worker":"w1","label":"a"}\r\n{"task":2,"worker":3,"label":"b"}\r\n')
def ann(worker, label): return {"workerId": worker, "annotationData": {"content": json.dumps({"crowd-image-classifier": {"label": label}})}}
objs = [{"datasetObjectId": "0", "dataObject": {"s3Uri": "s3://b/0.jpg"}, "annotations": [ann("w1","a"), ann("w2","b")]},
        {"datasetObjectId": "1", "dataObject": {"s3Uri": "s3://b/1.jpg"}, "annotations": [ann("w1","a")]}]
full = json.dumps(objs)
w("gt/array_cut_short.json", full[:len(full)//2])
bad = json.loads(full); bad[1]["annotations"][0]["annotationData"]["content"] = "{not json"
w("gt/content_not_json.json", json.dumps(bad))
bad = json.loads(full); del bad[1]["datasetObjectId"]
w("gt/missing_id.json", json.dumps(bad))
bad = json.loads(full); bad[1]["datasetObjectId"] = "0"
w("gt/repeated_id.json", json.dumps(bad))
w("gt/not_an_array.json", json.dumps({"datasetObjectId": "0"}))
w("gt/deeply_nested.json", "[" * 50000 + "]" * 50000)
w("gold/missing_column.csv", "item,label\ni1,a\ni2\n")
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
def png(width, height, rows_bytes, colour_type):
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows_bytes)) + chunk(b"IEND", b"")
def gray(width, height, pixels):
    return png(width, height, b"".join(b"\x00" + bytes(pixels[y*width:(y+1)*width]) for y in range(height)), 0)
def rgb(width, height, colours):
    return png(width, height, b"".join(b"\x00" + b"".join(bytes(c) for c in colours[y*width:(y+1)*width]) for y in range(height)), 2)
w("seg/masks/a.png", gray(3, 2, [0,1,1,0,1,2]))
w("seg/masks/b.png", gray(3, 2, [0,1,2,0,1,2]))
w("seg/masks/wide.png", gray(4, 2, [0]*8))
w("seg/masks/truncated.png", gray(3, 2, [0,1,1,0,1,2])[:30])
w("seg/masks/not_png.png", b"GIF89a not a png")
# The header claims 60000×60000; --max-pixels refuses it before decoding.
one = gray(1, 1, [0])
ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
w("seg/masks/huge.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + one[33:])
def line(img, worker, mask): return json.dumps({"image": img, "worker": worker, "mask": mask})
ok = [line("img1","w1","masks/a.png"), line("img1","w2","masks/b.png")]
w("seg/mismatched_size.jsonl", "\n".join(ok + [line("img1","w3","masks/wide.png")]) + "\n")
w("seg/truncated_png.jsonl", "\n".join(ok + [line("img1","w3","masks/truncated.png")]) + "\n")
w("seg/not_png.jsonl", "\n".join(ok + [line("img1","w3","masks/not_png.png")]) + "\n")
w("seg/oversized_png.jsonl", "\n".join(ok + [line("img1","w3","masks/huge.png")]) + "\n")
w("seg/missing_mask_file.jsonl", "\n".join(ok + [line("img1","w3","masks/nowhere.png")]) + "\n")
w("seg/missing_worker.jsonl", "\n".join(ok + [json.dumps({"image": "img1", "mask": "masks/a.png"})]) + "\n")
def seg_ann(worker, data, w_=3, h_=2):
    content = {"crowd-semantic-segmentation": {"inputImageProperties": {"width": w_, "height": h_},
        "labelMappings": {"cat": {"color": "#ff0000"}}, "labeledImage": {"pngImageData": data}}}
    return {"workerId": worker, "annotationData": {"content": json.dumps(content)}}
W, R, B = (255,255,255), (255,0,0), (0,0,255)
good_png = base64.b64encode(rgb(3, 2, [W,R,R,W,W,R])).decode()
objs = [{"datasetObjectId": "0", "dataObject": {"source-ref": "s3://b/0.png"}, "annotations": [seg_ann("w1", good_png), seg_ann("w2", good_png)]},
        {"datasetObjectId": "1", "dataObject": {"source-ref": "s3://b/1.png"}, "annotations": [seg_ann("w1", good_png)]}]
def variant(name, annotation):
    bad = json.loads(json.dumps(objs)); bad[0]["annotations"][1] = annotation
    w("seg/" + name, json.dumps(bad))
variant("gt_bad_base64.json", seg_ann("w2", "@@not base64@@"))
variant("gt_negative_size.json", seg_ann("w2", good_png, w_=-3))
variant("gt_truncated_png.json", seg_ann("w2", base64.b64encode(rgb(3,2,[W,R,R,W,W,R])[:40]).decode()))
variant("gt_colour_outside_map.json", seg_ann("w2", base64.b64encode(rgb(3,2,[W,R,B,W,W,R])).decode()))

#!/usr/bin/env python3
# CSV -> Parquet for benches/README.md (pyarrow defaults: snappy, dictionary pages), streamed in
# row groups of 1,048,576 rows, so memory stays small at any size.
import sys, pyarrow as pa, pyarrow.csv as pc, pyarrow.parquet as pq
src, dst = sys.argv[1], sys.argv[2]
reader = pc.open_csv(src, read_options=pc.ReadOptions(block_size=64 << 20))
writer, pending, rows = None, [], 0
def flush():
    global pending, rows
    if pending:
        writer.write_table(pa.Table.from_batches(pending), row_group_size=1 << 20)
    pending, rows = [], 0
for batch in reader:
    if writer is None:
        writer = pq.ParquetWriter(dst, batch.schema)
    pending.append(batch); rows += batch.num_rows
    if rows >= 1 << 20:
        flush()
flush()
writer.close()
print(pq.ParquetFile(dst).metadata)

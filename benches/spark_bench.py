"""accord.spark on a local Spark cluster against the single-machine CLI on
the same CSV: time per EM pass and end to end, and the bytes each pass
shuffles (from Spark's REST API) against the annotations' size.

    python benches/spark_bench.py DIR/labels.csv [method] [partitions]

Run by benches/spark.sh (which generates the data and times the CLI).
Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import pyspark

HOME = Path(pyspark.__file__).parent
os.environ.setdefault("SPARK_HOME", str(HOME))
os.environ.setdefault("SPARK_SCALA_VERSION", next(p.name.split("_")[1].rsplit("-", 1)[0] for p in (HOME / "jars").glob("spark-core_*.jar")))
os.environ["PYSPARK_PYTHON"] = sys.executable

from pyspark.sql import SparkSession  # noqa: E402

from accord import spark as accord_spark  # noqa: E402


def rest(spark, path: str):
    url = spark.sparkContext.uiWebUrl + f"/api/v1/applications/{spark.sparkContext.applicationId}/{path}"
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def main() -> None:
    csv = sys.argv[1]
    method = sys.argv[2] if len(sys.argv) > 2 else "ds"
    partitions = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    master = os.environ.get("ACCORD_SPARK_MASTER", "local-cluster[2,1,3072]")
    spark = (
        SparkSession.builder.master(master)
        .appName("accord-bench")
        .config("spark.executor.memory", os.environ.get("ACCORD_SPARK_EXECUTOR_MEMORY", "2g"))
        .config("spark.driver.memory", "2g")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
        .config("spark.executorEnv.RAYON_NUM_THREADS", "1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    sc = spark.sparkContext
    passes = []
    stage = accord_spark._sums_stage

    def timed_stage(*args, **kwargs):
        sc.setJobDescription(f"accord pass {len(passes)}")
        start = time.perf_counter()
        out = stage(*args, **kwargs)
        passes.append(time.perf_counter() - start)
        sc.setJobDescription(None)
        return out

    accord_spark._sums_stage = timed_stage
    start = time.perf_counter()
    df = spark.read.csv(csv, header=True)
    sc.setJobDescription("accord setup")
    result = accord_spark.consolidate(df, method=method, item="item", partitions=partitions)
    fitted = time.perf_counter()
    sc.setJobDescription("accord labels")
    out = Path(csv).parent / f"spark-{method}.parquet"
    result.labels.write.mode("overwrite").parquet(str(out))
    end = time.perf_counter()
    sc.setJobDescription(None)

    stages = {s["stageId"]: s for s in rest(spark, "stages?status=complete")}
    jobs = rest(spark, "jobs")
    shuffled: dict[str, list[int]] = {}
    for job in jobs:
        what = job.get("description") or job.get("name", "")
        key = "pass" if what.startswith("accord pass") else what
        total = sum(stages[s]["shuffleWriteBytes"] for s in job["stageIds"] if s in stages)
        shuffled.setdefault(key, []).append(total)
    storage = rest(spark, "storage/rdd")
    cached = sum(r["memoryUsed"] + r["diskUsed"] for r in storage)
    print(
        json.dumps(
            {
                "method": method,
                "master": master,
                "partitions": partitions,
                "annotations": result.run_info["annotations"],
                "workers": result.run_info["workers"],
                "classes": result.run_info["classes"],
                "iterations": result.run_info["iterations"],
                "csv_bytes": os.path.getsize(csv),
                "persisted_bytes": cached,
                "setup_s": round(fitted - start - sum(passes), 2),
                "passes": len(passes),
                "pass_s": [round(p, 2) for p in passes],
                "mean_pass_s": round(sum(passes) / max(1, len(passes)), 2),
                "fit_s": round(fitted - start, 2),
                "labels_s": round(end - fitted, 2),
                "end_to_end_s": round(end - start, 2),
                "shuffle_bytes_per_pass": sorted(set(shuffled.get("pass", []))),
                "shuffle_bytes_setup": sum(shuffled.get("accord setup", [])),
            }
        )
    )
    spark.stop()


if __name__ == "__main__":
    main()

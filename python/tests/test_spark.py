"""accord.spark on a real local Spark cluster (`local-cluster[2,1,1024]`:
two executor JVMs of one core each): its labels equal the single-machine
classes' on the shared datasets and on a generated set, posteriors within
1e-6; a killed executor mid-fit changes nothing; bad input raises the
single-machine errors. Skipped with the reason without pyspark or Java."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import accord
from conftest import accord_cli, dataset_dirs, shared_datasets

pyspark = pytest.importorskip("pyspark", reason="needs pyspark (pip install pyspark)")
if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
    pytest.skip("needs Java for Spark (java on the PATH or JAVA_HOME)", allow_module_level=True)

from accord import spark as accord_spark  # noqa: E402

#: The single-machine class of each method Spark runs.
CLASSES = {
    "auto": accord.Accord,
    "mv": accord.MajorityVote,
    "ds": accord.DawidSkene,
    "hds": accord.HierarchicalDawidSkene,
    "mds": accord.GroundTruthMDS,
    "one-coin": accord.OneCoinDawidSkene,
}

#: Annotations of the generated set (ACCORD_SPARK_GENERATED overrides: the
#: benchmark runs 10M, CI a smaller one to stay within its time budget).
GENERATED = int(os.environ.get("ACCORD_SPARK_GENERATED", "100000"))


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    home = Path(pyspark.__file__).parent
    os.environ.setdefault("SPARK_HOME", str(home))
    # local-cluster launches executors through bin/spark-class, which needs
    # the Scala version of the jars pip installed.
    scala = next((p.name.split("_")[1].rsplit("-", 1)[0] for p in (home / "jars").glob("spark-core_*.jar")), "2.13")
    os.environ.setdefault("SPARK_SCALA_VERSION", scala)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local-cluster[2,1,1024]")
        .appName("accord-tests")
        .config("spark.executor.memory", "1g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
        .config("spark.executorEnv.RAYON_NUM_THREADS", "1")
        .getOrCreate()
    )
    yield session
    session.stop()


def single_machine(pdf: pd.DataFrame, method: str):
    # Spark reports the model's posterior: the single-machine `Accord` is
    # compared with its calibration off.
    extra = {"confidence": "raw"} if method == "auto" else {}
    model = CLASSES[method](backend="cpu", **extra)
    model.fit(pdf)
    return model


def collect(result) -> pd.DataFrame:
    return result.labels.toPandas().set_index("item")


def assert_same(pdf: pd.DataFrame, result, method: str) -> None:
    model = single_machine(pdf, method)
    expected = model.labels_.astype(str)
    got = collect(result)
    assert len(got) == len(expected)
    got = got.loc[list(expected.index.astype(str))]
    differ = (got["label"].to_numpy() != expected.to_numpy()).sum()
    assert differ == 0, f"{differ} of {len(got)} labels differ from the single-machine fit"
    probas = model.probas_.to_numpy()
    ours = np.stack(got["posteriors"].to_numpy())
    assert [str(c) for c in model.probas_.columns] == result.classes
    worst = np.abs(ours - probas).max()
    assert worst <= 1e-6, f"posteriors differ by up to {worst:.2e}"
    info = model.run_info_
    if method != "mv":
        assert result.run_info["iterations"] == info["iterations"]


def frame(spark, pdf: pd.DataFrame):
    return spark.createDataFrame(pdf[["item", "worker", "label"]].astype(str))


needs_datasets = pytest.mark.skipif(
    shared_datasets() is None,
    reason="needs the real datasets (ACCORD_DATASETS, default ../shared/datasets)",
)


#: Every method on every dataset takes about 20 minutes on a loaded 2-core
#: machine; by default (CI) `ds` and `mv` run on every dataset and the
#: other methods on two (ACCORD_SPARK_FULL=1 runs them all everywhere, and
#: `auto` on the generated set, which above 300,000 annotations takes the
#: library's sample).
FULL = os.environ.get("ACCORD_SPARK_FULL") == "1"
EVERYWHERE = ("ds", "mv")
SOME = ("weather", "dog")


def dataset_cases():
    names = [d.name for d in dataset_dirs()] or ["(none)"]
    return [
        (d, m)
        for d in names
        for m in sorted(CLASSES)
        if FULL or m in EVERYWHERE or d in SOME or d == "(none)"
    ]


@needs_datasets
@pytest.mark.parametrize("dataset,method", dataset_cases())
def test_labels_equal_single_machine_on_the_datasets(spark, dataset, method):
    pdf = pd.read_csv(shared_datasets() / dataset / "labels.csv", dtype=str, keep_default_na=False)
    result = accord_spark.consolidate(frame(spark, pdf), method=method, item="item", posteriors=True)
    try:
        assert_same(pdf, result, method)
    finally:
        result.unpersist()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    cli = accord_cli()
    if cli is None:
        pytest.skip("needs the accord CLI (cargo build --release, or ACCORD_BIN) to generate data")
    out = tmp_path_factory.mktemp("generated")
    items = GENERATED // 5
    subprocess.run(
        [str(cli), "generate", "-o", str(out), "--items", str(items), "--workers", "2000", "--classes", "4", "--per-item", "5", "--seed", "7"],
        check=True,
        capture_output=True,
    )
    return pd.read_csv(out / "labels.csv", dtype=str, keep_default_na=False)


@pytest.mark.parametrize("method", ["ds", "mv"] + (["auto"] if FULL else []))
def test_labels_equal_single_machine_on_a_generated_set(spark, generated, method):
    result = accord_spark.consolidate(frame(spark, generated), method=method, item="item", posteriors=True, partitions=4)
    try:
        assert_same(generated, result, method)
    finally:
        result.unpersist()


def executor_pids(spark) -> list[int]:
    """The executor JVMs this session's local cluster launched."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in cmdline:
            app = spark.sparkContext.applicationId.encode()
            if app in cmdline:
                pids.append(int(proc.name))
    return sorted(pids)


def test_a_killed_executor_changes_nothing(spark, generated, monkeypatch):
    df = frame(spark, generated)
    clean = accord_spark.consolidate(df, method="ds", item="item", posteriors=True, partitions=4)
    expected = collect(clean)
    clean.unpersist()
    before = executor_pids(spark)
    assert len(before) == 2, f"expected two executor JVMs, found {before}"
    stage = accord_spark._sums_stage
    calls = []

    def killing_stage(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            # Mid-stage: the pass has started when the executor dies.
            threading.Timer(0.3, os.kill, (before[0], signal.SIGKILL)).start()
        return stage(*args, **kwargs)

    monkeypatch.setattr(accord_spark, "_sums_stage", killing_stage)
    survived = accord_spark.consolidate(df, method="ds", item="item", posteriors=True, partitions=4)
    got = collect(survived).loc[expected.index]
    survived.unpersist()
    assert before[0] not in executor_pids(spark)
    assert (got["label"] == expected["label"]).all()
    assert np.array_equal(np.stack(got["posteriors"].to_numpy()), np.stack(expected["posteriors"].to_numpy()))
    assert clean.run_info["iterations"] == survived.run_info["iterations"]


def test_bad_input_names_the_row(spark):
    rows = [("a", "w1", "x"), ("b", "w2", "y"), ("c", None, "x"), ("d", "w1", "x")]
    df = spark.createDataFrame(rows, "item string, worker string, label string").coalesce(1)
    with pytest.raises(ValueError, match=r"row 2: null worker id"):
        accord_spark.consolidate(df, method="ds", item="item")
    df = spark.createDataFrame([("a", "w1", "x"), ("b", "w2", "parrot")], "item string, worker string, label string").coalesce(1)
    with pytest.raises(ValueError, match=r'row 1: label "parrot" is not one of `categories` \(x,y\)'):
        accord_spark.consolidate(df, method="ds", item="item", categories=["x", "y"])
    df = spark.createDataFrame([("a", "", "x")], "item string, worker string, label string")
    with pytest.raises(ValueError, match=r"row 0: empty worker id"):
        accord_spark.consolidate(df, method="mv", item="item")


def test_host_methods_are_refused_with_the_reason(spark):
    df = spark.createDataFrame([("a", "w1", "x")], "item string, worker string, label string")
    for method in accord_spark.HOST_METHODS:
        with pytest.raises(ValueError, match="one machine only"):
            accord_spark.consolidate(df, method=method, item="item")
    with pytest.raises(ValueError, match="`init`|must be one of"):
        accord_spark.consolidate(df, method="nonsense", item="item")
    with pytest.raises(ValueError, match="not used by `auto`"):
        accord_spark.consolidate(df, method="auto", item="item", max_iter=3)

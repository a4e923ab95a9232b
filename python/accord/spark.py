"""accord on Apache Spark: the same consolidation as one machine's, for
annotations that live in a Spark DataFrame, moving only the workers' tables
and their sufficient statistics (workers × K² numbers) per EM iteration.

    from accord.spark import consolidate
    labels, workers = consolidate(df, method="ds", item="task", worker="worker", label="label")

How a fit runs (see python/README.md, "Spark"):

1. On the driver, with DataFrame operations: the rows are numbered in input
   order (``monotonically_increasing_id``), checked (null or empty ids,
   labels outside ``categories``: a ``ValueError`` naming the row), the
   classes ordered as the library orders them and the workers numbered in
   first-seen order (one row per worker collected).
2. The annotations are repartitioned by item once, sorted within each
   partition by item and input order, and persisted.
3. Each pass over the data (the vote start, each E-step) is one
   ``mapInArrow`` stage: the partition's Arrow batches go to the compiled
   core, which runs the single-machine E-step and returns the M-step's
   partial sums in fixed point; a ``groupBy`` sums them (integers: exact in
   any order, so a retried task changes nothing). The driver's EM loop is
   the library's (``engine::em::run_session``): its M-step, its stopping
   tests, on those sums. The new tables travel in the next stage's closure
   (PySpark broadcasts a closure above ``spark.broadcast.UDFCompressionThreshold``,
   1 MiB by default).
4. The labels are a last ``mapInArrow`` over the persisted partitions,
   returned as a lazy DataFrame.

No RDD API is used, so the same code runs over Spark Connect.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import numpy as np
import pyarrow as pa

from . import _accord

#: Methods the library runs on one machine only (their steps are not sums
#: over partitions of the items).
HOST_METHODS = tuple(m["name"] for m in _accord.methods() if m["runs_on"] == "host")


class SparkResult(tuple):
    """``(labels, workers)`` DataFrames, with the fit's details as attributes:
    ``classes`` (class names in the order of the posteriors), ``run_info``
    (method, iterations, convergence, ``auto``'s choice), ``log_likelihood``
    and ``class_priors``; ``unpersist()`` frees the persisted annotations
    (the labels DataFrame reads them lazily)."""

    classes: list
    run_info: dict
    log_likelihood: list
    class_priors: list

    def __new__(cls, labels: Any, workers: Any, data: Any, **details: Any) -> "SparkResult":
        self = super().__new__(cls, (labels, workers))
        self._data = data
        for k, v in details.items():
            setattr(self, k, v)
        return self

    @property
    def labels(self) -> Any:
        """item, label, confidence (and posteriors on request)."""
        return self[0]

    @property
    def workers(self) -> Any:
        """worker, annotations, accuracy, confusion."""
        return self[1]

    def unpersist(self) -> None:
        """Frees the annotations persisted for the fit."""
        self._data.unpersist()


def _to_arrow(df: Any) -> pa.Table:
    if hasattr(df, "toArrow"):  # Spark ≥ 4.0, classic and Connect
        return df.toArrow()
    return pa.Table.from_pandas(df.toPandas(), preserve_index=False)


def _default_partitions(spark: Any) -> int:
    try:
        return max(1, int(spark.sparkContext.defaultParallelism))
    except Exception:  # Spark Connect: no SparkContext
        return max(1, int(spark.conf.get("spark.sql.shuffle.partitions")))


def _row_number(base: Any, row_id: int) -> int:
    """The 0-based position in input order of the row numbered `row_id`."""
    from pyspark.sql import functions as F

    return base.filter(F.col("row") < row_id).count()


def _check_rows(base: Any, categories: Optional[list]) -> None:
    """The single-machine reader's errors, raised on the driver with the
    first offending row in input order."""
    from pyspark.sql import functions as F

    problems = []
    for name in ("item", "worker"):
        problems.append((F.col(name).isNull(), f"null {name} id (a null item or worker is never skipped: the row cannot be placed)"))
    problems.append((F.col("label").isNull(), "null label"))
    for name in ("item", "worker", "label"):
        problems.append((F.col(name) == "", f"empty {name} id"))
    if categories is not None:
        problems.append((~F.col("label").isin(list(categories)), None))
    bad = None
    for condition, _ in problems:
        bad = condition if bad is None else (bad | condition)
    first = base.filter(bad).orderBy("row").limit(1).collect()
    if not first:
        return
    row = first[0]
    position = _row_number(base, row["row"])
    for condition, problem in problems:
        hit = base.filter((F.col("row") == row["row"]) & condition).limit(1).collect()
        if hit:
            if problem is None:
                problem = f"label {json.dumps(row['label'])} is not one of `categories` ({','.join(categories)})"
            raise ValueError(f"row {position}: {problem}")


def _check_categories(categories: Optional[list]) -> Optional[list]:
    if categories is None:
        return None
    categories = [str(c) for c in categories]
    if not categories:
        raise ValueError("`categories` is empty")
    if "" in categories:
        raise ValueError("`categories` holds an empty name")
    seen = set()
    for c in categories:
        if c in seen:
            raise ValueError(f"`categories` names {json.dumps(c)} twice")
        seen.add(c)
    return categories


def _sums_stage(data: Any, kind: str, k: int, n_workers: int, log_priors: Optional[bytes], log_confusion: Optional[bytes]) -> tuple[bytes, bytes]:
    """One pass over the partitions: the summed fixed-point rows."""
    from pyspark.sql import functions as F

    width = _accord.row_width(k)
    names = ["key"] + [f"v{c}" for c in range(width)]
    schema = ", ".join(f"{n} long" for n in names)

    def partition(batches: Any) -> Any:
        from accord import _accord as core

        table = pa.Table.from_batches(list(batches))
        if table.num_rows == 0:
            return
        keys, values = core.partition_sums(table.__arrow_c_stream__(), kind, k, n_workers, log_priors, log_confusion)
        keys = np.frombuffer(keys, dtype=np.int64)
        values = np.frombuffer(values, dtype=np.int64).reshape(len(keys), width)
        yield pa.RecordBatch.from_arrays([pa.array(keys)] + [pa.array(values[:, c]) for c in range(width)], names=names)

    summed = data.mapInArrow(partition, schema).groupBy("key").agg(*[F.sum(n).alias(n) for n in names[1:]])
    table = _to_arrow(summed)
    keys = table.column("key").to_numpy().astype(np.int64)
    values = np.column_stack([table.column(n).to_numpy().astype(np.int64) for n in names[1:]]) if len(keys) else np.zeros((0, width), np.int64)
    return keys.tobytes(), np.ascontiguousarray(values).tobytes()


def _labels_stage(data: Any, rule: tuple, k: int, classes: list, posteriors: bool) -> Any:
    kind, log_priors, log_confusion, ties, seed, round_confidence = rule
    schema = "item string, label string, confidence double"
    if posteriors:
        schema += ", posteriors array<double>"
    class_names = pa.array(classes, type=pa.string())

    def partition(batches: Any) -> Any:
        from accord import _accord as core

        table = pa.Table.from_batches(list(batches))
        if table.num_rows == 0:
            return
        first, labels, confidence, post = core.partition_labels(
            table.__arrow_c_stream__(), k, kind, log_priors, log_confusion, ties, seed, round_confidence
        )
        first = np.frombuffer(first, dtype=np.uint64)
        columns = [
            table.column("item").take(pa.array(first)).combine_chunks().cast(pa.string()),
            class_names.take(pa.array(np.frombuffer(labels, dtype=np.uint32))),
            pa.array(np.frombuffer(confidence, dtype=np.float32).astype(np.float64)),
        ]
        names = ["item", "label", "confidence"]
        if posteriors:
            values = pa.array(np.frombuffer(post, dtype=np.float32).astype(np.float64))
            offsets = pa.array(np.arange(0, len(first) * k + 1, k, dtype=np.int32))
            columns.append(pa.ListArray.from_arrays(offsets, values))
            names.append("posteriors")
        yield pa.RecordBatch.from_arrays(columns, names=names)

    return data.mapInArrow(partition, schema)


def _f32(values: Any) -> np.ndarray:
    if isinstance(values, bytes):
        return np.frombuffer(values, dtype=np.float32)
    return np.array(values, dtype=np.float32)


def _workers_frame(spark: Any, names: list, counts: np.ndarray, fit: Any, k: int) -> Any:
    confusion = np.frombuffer(fit.confusion(), dtype=np.float32).astype(np.float64).reshape(len(names), k, k)
    rows = pa.ListArray.from_arrays(pa.array(np.arange(0, len(names) * k + 1, k, dtype=np.int32)), pa.array(confusion.reshape(-1, k).tolist(), type=pa.list_(pa.float64())))
    table = pa.table(
        {
            "worker": pa.array(names, type=pa.string()),
            "annotations": pa.array(counts.astype(np.int64)),
            "accuracy": pa.array(_f32(fit.worker_accuracy()).astype(np.float64)),
            "confusion": rows,
        }
    )
    try:
        return spark.createDataFrame(table)
    except (TypeError, ValueError):  # Spark < 4.0 takes pandas
        return spark.createDataFrame(table.to_pandas())


def consolidate(
    df: Any,
    method: str = "auto",
    item: str = "task",
    worker: str = "worker",
    label: str = "label",
    categories: Optional[list] = None,
    *,
    max_iter: Optional[int] = None,
    tol: Optional[float] = None,
    prior_correct: Optional[float] = None,
    prior_strength: Optional[float] = None,
    smoothing: Optional[float] = None,
    ties: str = "lowest",
    seed: int = 0,
    posteriors: bool = False,
    partitions: Optional[int] = None,
) -> SparkResult:
    """Consolidates the annotations of a PySpark DataFrame `df` (columns
    `item`, `worker`, `label`; other columns ignored; values compared as
    strings) with `method` (``auto``, ``mv``, ``ds``, ``hds``,
    ``one-coin``, ``mds``) and the library's defaults for it.

    Returns ``(labels, workers)``: a DataFrame of item, label, confidence
    (and ``posteriors``, an array in ``result.classes`` order, when
    `posteriors`), and one of worker, annotations, accuracy (expected, under
    the final posteriors) and confusion (``[true][given]`` rows in
    ``result.classes`` order). `partitions` is the number the annotations
    are repartitioned into by item (default: the default parallelism)."""
    from pyspark.sql import functions as F

    if method in HOST_METHODS:
        raise ValueError(
            f"`method` {method!r} runs on one machine only: its steps need all the annotations at once, "
            "not sums over partitions of the items; on Spark use auto, mv, ds, hds, one-coin or mds"
        )
    names = set(df.columns)
    missing = [c for c in (item, worker, label) if c not in names]
    if missing:
        raise ValueError(f"the data has no column {', '.join(missing)}; found {', '.join(df.columns) or 'none'}")
    categories = _check_categories(categories)
    # Library plans fail early on a bad method or parameter.
    options = dict(max_iter=max_iter, tol=tol, prior_correct=prior_correct, prior_strength=prior_strength, smoothing=smoothing)
    if method == "auto":
        changed = [k for k, v in options.items() if v is not None]
        if changed:
            raise ValueError(f"`{changed[0]}` is not used by `auto`, which fits each candidate with its own defaults: name a method to set it")
        plan = None
    else:
        plan = _accord.spark_plan(method, ties=ties, seed=seed, **options)
    spark = df.sparkSession

    base = df.select(
        F.col(item).cast("string").alias("item"),
        F.col(worker).cast("string").alias("worker"),
        F.col(label).cast("string").alias("label"),
    ).withColumn("row", F.monotonically_increasing_id())
    base = base.persist()
    try:
        _check_rows(base, categories)
        seen = _to_arrow(base.groupBy("label").agg(F.min("row").alias("first")))
        labels_seen = seen.column("label").to_pylist()
        if not labels_seen and categories is None:
            raise ValueError("the input holds no annotation, so there is no label set: pass `categories`")
        classes = categories if categories is not None else _accord.class_order(labels_seen)
        k = len(classes)
        if categories is not None:
            class_first_seen = list(range(k))
        else:  # each class's rank in the order labels first appear
            firsts = dict(zip(labels_seen, seen.column("first").to_pylist()))
            by_first = sorted(classes, key=lambda c: firsts[c])
            class_first_seen = [by_first.index(c) for c in classes]
        workers = _to_arrow(base.groupBy("worker").agg(F.min("row").alias("first"), F.count(F.lit(1)).alias("n")))
        order = np.argsort(workers.column("first").to_numpy(), kind="stable")
        worker_names = workers.column("worker").take(pa.array(order)).to_pylist()
        worker_counts = workers.column("n").to_numpy()[order].astype(np.uint64)
        worker_ids = spark.createDataFrame([(w, i) for i, w in enumerate(worker_names)], "worker string, w int")
        class_ids = spark.createDataFrame([(c, i) for i, c in enumerate(classes)], "label string, l int")
        n = partitions or _default_partitions(spark)
        data = (
            base.join(F.broadcast(worker_ids), "worker")
            .join(F.broadcast(class_ids), "label")
            .repartition(n, "item")
            .sortWithinPartitions("item", "row")
            .select("item", "w", "l")
            .persist()
        )
        n_annotations = data.count()
        choice = None
        if plan is None:
            plan = _choose(base, n_annotations, ties, seed, (worker_names, list(classes), class_first_seen))
            choice = json.loads(plan.choice())
            if plan.method() in HOST_METHODS:
                return _fit_on_driver(spark, base, data, plan.method(), choice, n_annotations, ties, seed, categories, posteriors)
    finally:
        base.unpersist()

    def run_pass(kind: str, log_priors: Optional[bytes], log_confusion: Optional[bytes]) -> tuple[bytes, bytes]:
        return _sums_stage(data, kind, k, len(worker_names), log_priors, log_confusion)

    fit = _accord.fit_partitioned(plan, [int(c) for c in worker_counts], k, run_pass)
    labels = _labels_stage(data, fit.label_rule(), k, classes, posteriors)
    workers_df = _workers_frame(spark, worker_names, worker_counts, fit, k)
    info = dict(fit.run_info())
    info.update(annotations=n_annotations, workers=len(worker_names), classes=k, partitions=n)
    if choice is not None:
        info["method"] = "auto"
        info["chosen"] = choice["chosen"]
        info["choice"] = choice
    return SparkResult(
        labels,
        workers_df,
        data,
        classes=list(classes),
        run_info=info,
        log_likelihood=list(fit.log_likelihood()),
        class_priors=list(fit.class_priors()),
    )


#: The most annotations collected to the driver when `auto` chooses a
#: method that runs on one machine only (MACE).
DRIVER_FIT_ANNOTATIONS = 2_000_000


def _fit_on_driver(spark: Any, base: Any, data: Any, method: str, choice: dict, n_annotations: int, ties: str, seed: int, categories: Optional[list], posteriors: bool) -> SparkResult:
    """`auto` chose a host method: the single-machine fit of it (the
    library's `auto` fits the chosen candidate with its defaults), on the
    driver, for inputs of at most DRIVER_FIT_ANNOTATIONS."""
    if n_annotations > DRIVER_FIT_ANNOTATIONS:
        data.unpersist()
        raise ValueError(
            f"`auto` chose `{method}`, which runs on one machine only (its steps need all the annotations at once), "
            f"and the input holds {n_annotations} annotations, more than the {DRIVER_FIT_ANNOTATIONS} collected to the driver "
            "for it: name a method (ds, hds, one-coin, mds, mv)"
        )
    table = _to_arrow(base.orderBy("row").select("item", "worker", "label"))
    table = pa.Table.from_batches(table.to_batches(max_chunksize=1 << 16), schema=table.schema)
    fit = _accord.fit(table.__arrow_c_stream__(), method, backend="cpu", ties=ties, seed=seed, categories=categories)
    classes = fit.classes()
    k = len(classes)
    offsets, names = fit.item_names()
    n_items = len(offsets) // 8 - 1
    items = pa.LargeStringArray.from_buffers(n_items, pa.py_buffer(offsets), pa.py_buffer(names)).cast(pa.string())
    labels = pa.array(classes, type=pa.string()).take(pa.array(np.frombuffer(fit.labels(), dtype=np.uint32)))
    columns = {"item": items, "label": labels, "confidence": pa.array(np.frombuffer(fit.confidence(), dtype=np.float32).astype(np.float64))}
    if posteriors:
        values = pa.array(np.frombuffer(fit.posteriors(), dtype=np.float32).astype(np.float64))
        columns["posteriors"] = pa.ListArray.from_arrays(pa.array(np.arange(0, n_items * k + 1, k, dtype=np.int32)), values)
    try:
        labels_df = spark.createDataFrame(pa.table(columns))
    except (TypeError, ValueError):
        labels_df = spark.createDataFrame(pa.table(columns).to_pandas())
    woffsets, wnames = fit.worker_names()
    n_workers = len(woffsets) // 8 - 1
    worker_names = pa.LargeStringArray.from_buffers(n_workers, pa.py_buffer(woffsets), pa.py_buffer(wnames)).to_pylist()
    workers_df = _workers_frame(spark, worker_names, np.array(fit.worker_annotations(), dtype=np.uint64), fit, k)
    info = dict(fit.run_info())
    info.update(annotations=n_annotations, workers=n_workers, classes=k, partitions=0, method="auto", chosen=choice["chosen"], choice=choice, fitted_on="driver")
    return SparkResult(labels_df, workers_df, data, classes=list(classes), run_info=info, log_likelihood=list(fit.log_likelihood()), class_priors=list(fit.class_priors()))


def _choose(base: Any, n_annotations: int, ties: str, seed: int, ids: tuple) -> Any:
    """`auto`'s choice, made on the driver by the library on the annotations
    it would choose on: all of them up to its sample size, else its seeded
    sample of items (items numbered in first-seen order, as the library
    numbers them)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rows = base.select("item", "worker", "label", "row")
    if n_annotations > _accord.sample_annotations():
        items = base.groupBy("item").agg(F.min("row").alias("first"), F.count(F.lit(1)).alias("n"))
        # Item ids in first-seen order: one sort of the distinct items.
        ranked = items.withColumn("id", F.row_number().over(Window.orderBy("first")) - 1)
        n_items = ranked.count()
        limit = min(n_items, _accord.sample_annotations())
        order = np.frombuffer(_accord.sample_order(n_items, seed, limit), dtype=np.uint32)
        spark = base.sparkSession
        wanted = spark.createDataFrame([(int(i), p) for p, i in enumerate(order)], "id long, position int")
        counts = _to_arrow(ranked.join(F.broadcast(wanted), "id").select("position", "n"))
        by_position = np.zeros(limit, dtype=np.int64)
        by_position[counts.column("position").to_numpy()] = counts.column("n").to_numpy()
        # Items are taken until they hold the sample's annotations.
        held = np.cumsum(by_position)
        take = int(np.searchsorted(held, _accord.sample_annotations(), side="left")) + 1
        chosen = spark.createDataFrame([(int(i),) for i in order[:take]], "id long")
        keep = ranked.join(F.broadcast(chosen), "id").select("item")
        rows = rows.join(F.broadcast(keep), "item")
    table = _to_arrow(rows.orderBy("row").select("item", "worker", "label"))
    table = pa.Table.from_batches(table.to_batches(max_chunksize=1 << 16), schema=table.schema)
    worker_names, classes, class_first_seen = ids
    return _accord.spark_choose(table.__arrow_c_stream__(), worker_names, classes, class_first_seen, ties=ties, seed=seed)

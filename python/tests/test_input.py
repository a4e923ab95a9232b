"""Inputs (pandas, pyarrow, polars; crowd-kit's or accord's column names),
outputs (pandas with crowd-kit's indexes, Arrow on request), parameters and
bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import accord
from conftest import crowd_frame


@pytest.fixture
def frame():
    return crowd_frame(n_tasks=120, n_workers=12)[0]


def test_pyarrow_table_batch_and_reader_give_the_pandas_labels(frame):
    expected = accord.DawidSkene().fit_predict(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for data in (table, table.to_batches()[0], pa.RecordBatchReader.from_batches(table.schema, table.to_batches())):
        got = accord.DawidSkene().fit_predict(data)
        pd.testing.assert_series_equal(got, expected)


def test_a_table_of_many_batches_and_chunks(frame):
    expected = accord.DawidSkene().fit_predict(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=7))
    assert chunked.column(0).num_chunks > 1
    pd.testing.assert_series_equal(accord.DawidSkene().fit_predict(chunked), expected)


def test_polars_frame_gives_the_pandas_labels(frame):
    pl = pytest.importorskip("polars")
    expected = accord.MajorityVote().fit_predict(frame)
    got = accord.MajorityVote().fit_predict(pl.from_pandas(frame))
    pd.testing.assert_series_equal(got, expected)


def test_item_column_and_extra_columns(frame):
    expected = accord.Wawa().fit_predict(frame)
    renamed = frame.rename(columns={"task": "item"}).assign(extra=1.5)[["extra", "label", "worker", "item"]]
    got = accord.Wawa().fit_predict(renamed)
    pd.testing.assert_series_equal(got, expected)


def test_categorical_and_string_columns(frame):
    expected = accord.DawidSkene().fit_predict(frame)
    as_category = frame.astype({"task": "category", "worker": "category"})
    got = accord.DawidSkene().fit_predict(as_category)
    assert list(got) == list(expected)
    assert [str(t) for t in got.index] == [str(t) for t in expected.index]


def test_outputs_are_indexed_as_crowdkits(frame):
    ds = accord.DawidSkene().fit(frame)
    tasks = list(pd.unique(frame["task"]))
    assert list(ds.labels_.index) == tasks
    assert list(ds.probas_.index) == tasks
    workers = list(pd.unique(frame["worker"]))
    assert list(ds.worker_accuracy_.index) == workers
    assert ds.errors_.shape == (len(workers) * 2, 2)
    assert ds.confusion_.index.names == ["worker", "true_label"]
    # errors_ is confusion_ read the other way: P(given | true).
    w = workers[0]
    assert ds.errors_.loc[(w, 1), 0] == ds.confusion_.loc[(w, 0), 1]
    assert np.allclose(ds.confusion_.sum(axis=1), 1, atol=1e-5)
    assert (ds.labels_ == ds.probas_.idxmax(axis=1)).all()


def test_arrow_output(frame):
    ds = accord.DawidSkene().fit(frame)
    table = ds.to_arrow()
    assert table.column_names == ["task", "agg_label", "confidence", "0", "1"]
    assert table.column("task").to_pylist() == list(ds.labels_.index)
    assert table.column("agg_label").to_pylist() == list(ds.labels_)
    assert np.allclose(table.column("1").to_numpy(), ds.probas_[1].to_numpy(), atol=1e-7)


def test_run_info_says_where_it_ran(frame):
    ds = accord.DawidSkene(backend="cpu").fit(frame)
    info = ds.run_info_
    assert info["backend"].startswith("cpu") and info["annotations"] == len(frame)
    assert info["iterations"] == len(ds.loss_history_)


def test_n_iter_and_tol_reach_the_library(frame):
    ds = accord.DawidSkene(n_iter=3, tol=0.0).fit(frame)
    assert ds.run_info_["iterations"] == 3 and not ds.run_info_["converged"]
    assert accord.DawidSkene().n_iter == 100 and accord.DawidSkene().tol == 1e-5


def test_default_class_is_the_librarys_default(frame):
    model = accord.Accord().fit(frame)
    assert model.method_ == "auto" == model.run_info_["method"]
    # auto's labels equal the CLI's on every shared set (test_datasets.py);
    # here: one label per task, in crowd-kit's index.
    assert list(model.labels_.index) == sorted(frame["task"].unique(), key=lambda t: int(t[1:]))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: accord.DawidSkene(n_iter=0), "`n_iter` must be an integer ≥ 1"),
        (lambda: accord.DawidSkene(n_iter=-5), "`n_iter` must be an integer ≥ 1"),
        (lambda: accord.DawidSkene(initial_error_strategy="addition"), "initial_error_strategy"),
        (lambda: accord.MACE(method="em"), "`method`='em'"),
        (lambda: accord.GLAD(labels_priors=[0.5, 0.5]), "labels_priors"),
        (lambda: accord.DawidSkene(backend="tpu"), "`backend` must be one of auto, cpu, gpu"),
    ],
)
def test_bad_parameters_are_value_errors(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()


def test_negative_tol_is_a_value_error_named_as_crowdkit_names_it(frame):
    with pytest.raises(ValueError, match="`tol`"):
        accord.DawidSkene(tol=-1.0).fit(frame)
    with pytest.raises(ValueError, match="`init` must be one of votes, spectral, best"):
        accord.DawidSkene(init="random").fit(frame)


def test_missing_column_names_what_it_found(frame):
    with pytest.raises(ValueError, match=r"no column worker.*found task, label"):
        accord.DawidSkene().fit(frame.drop(columns=["worker"]))
    with pytest.raises(ValueError, match=r"task \(or item\)"):
        accord.DawidSkene().fit(frame.rename(columns={"task": "object"}))


def test_unsupported_input_type_is_a_type_error():
    with pytest.raises(TypeError, match="expected a pandas or polars DataFrame"):
        accord.DawidSkene().fit([("t1", "w1", "a")])


@pytest.mark.parametrize(
    "column, value, problem",
    [("label", None, "label"), ("worker", "", "empty worker id"), ("task", None, "item")],
)
def test_bad_row_is_a_value_error_naming_the_row(frame, column, value, problem):
    bad = frame.copy()
    bad[column] = bad[column].astype(object)
    bad.loc[57, column] = value
    with pytest.raises(ValueError, match=rf"row 57\b.*{problem}|{problem}.*row 57\b"):
        accord.DawidSkene().fit(bad)


def test_label_outside_categories_names_the_row():
    df = pd.DataFrame({"task": ["a", "b"], "worker": ["x", "y"], "label": ["cat", "cow"]})
    with pytest.raises(ValueError, match="row 1"):
        accord._aggregators._accord.fit(
            pa.Table.from_pandas(df).__arrow_c_stream__(), "mv", categories=["cat", "dog"]
        )


def test_empty_frame_is_a_value_error():
    empty = pd.DataFrame({"task": pd.Series([], dtype=str), "worker": pd.Series([], dtype=str), "label": pd.Series([], dtype=str)})
    with pytest.raises(ValueError, match="no annotation"):
        accord.DawidSkene().fit(empty)


def test_attributes_before_fit_say_so():
    with pytest.raises(AttributeError, match="not fitted yet"):
        accord.DawidSkene().labels_

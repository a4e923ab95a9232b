"""On every shared dataset, each class's labels equal the CLI's for the
same method (both on the CPU backend, both with the method's defaults)."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest

import accord
from conftest import accord_cli, dataset_dirs, shared_datasets

#: Each class and the CLI's --method for it.
CLASSES = {
    "auto": accord.Accord,
    "mv": accord.MajorityVote,
    "ds": accord.DawidSkene,
    "hds": accord.HierarchicalDawidSkene,
    "mds": accord.GroundTruthMDS,
    "one-coin": accord.OneCoinDawidSkene,
    "wawa": accord.Wawa,
    "zbs": accord.ZeroBasedSkill,
    "glad": accord.GLAD,
    "mace": accord.MACE,
    "kos": accord.KOS,
    "mmsr": accord.MMSR,
}

needs_datasets = pytest.mark.skipif(
    shared_datasets() is None,
    reason="needs the real datasets (ACCORD_DATASETS, default ../shared/datasets)",
)
needs_cli = pytest.mark.skipif(accord_cli() is None, reason="needs the accord CLI (cargo build --release, or ACCORD_BIN)")


def is_binary(labels_csv) -> bool:
    return pd.read_csv(labels_csv, dtype=str, keep_default_na=False)["label"].nunique() == 2


def cli_labels(labels_csv, method: str, out) -> pd.Series:
    run = subprocess.run(
        [str(accord_cli()), "consolidate", str(labels_csv), "--method", method, "--backend", "cpu", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        return pd.Series(dtype=str, name=run.stderr.strip())
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    return table.set_index("item")["label"]


def test_every_method_of_the_library_has_a_class():
    assert set(CLASSES) == {m["name"] for m in accord._aggregators._accord.methods()}


@needs_datasets
@needs_cli
@pytest.mark.parametrize("method", sorted(CLASSES))
@pytest.mark.parametrize("dataset", [d.name for d in dataset_dirs()] or ["(none)"])
def test_labels_equal_the_clis(dataset, method, tmp_path):
    labels_csv = shared_datasets() / dataset / "labels.csv"
    if method == "kos" and not is_binary(labels_csv):
        with pytest.raises(ValueError, match="two classes"):
            CLASSES[method](backend="cpu").fit(pd.read_csv(labels_csv, dtype=str, keep_default_na=False))
        return
    expected = cli_labels(labels_csv, method, tmp_path / "out.csv")
    assert len(expected) > 0, f"the CLI failed: {expected.name}"
    df = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
    got = CLASSES[method](backend="cpu").fit_predict(df)
    assert got.name == "agg_label" and got.index.name == "task"
    assert list(got.index) == list(expected.index)
    differ = (got.to_numpy() != expected.to_numpy()).sum()
    assert differ == 0, f"{differ} of {len(got)} labels differ from the CLI's"


@needs_datasets
def test_integer_columns_give_integer_results():
    """pandas reads the datasets' numeric ids as integers; results keep them."""
    labels_csv = dataset_dirs()[0] / "labels.csv"
    as_text = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
    as_read = pd.read_csv(labels_csv)
    text = accord.DawidSkene(backend="cpu").fit_predict(as_text)
    native = accord.DawidSkene(backend="cpu").fit_predict(as_read)
    assert native.dtype == as_read["label"].dtype
    assert native.index.dtype == as_read["item"].dtype
    assert list(native.astype(str)) == list(text)
    assert list(native.index.astype(str)) == list(text.index)

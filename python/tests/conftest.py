"""Shared fixtures: the real datasets, the CLI, and small frames."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_datasets() -> Path | None:
    """ACCORD_DATASETS, else ../shared/datasets beside the repository (as
    the Rust tests find them)."""
    root = Path(os.environ.get("ACCORD_DATASETS", REPO.parent / "shared" / "datasets"))
    return root if root.is_dir() else None


def dataset_dirs() -> list[Path]:
    root = shared_datasets()
    if root is None:
        return []
    return sorted(d for d in root.iterdir() if (d / "labels.csv").is_file())


def accord_cli() -> Path | None:
    """ACCORD_BIN, else the release binary of this checkout's target dir,
    else `accord` on the PATH."""
    if "ACCORD_BIN" in os.environ:
        return Path(os.environ["ACCORD_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for candidate in (target / "release" / "accord", REPO / "target" / "release" / "accord"):
        if candidate.is_file():
            return candidate
    found = shutil.which("accord")
    return Path(found) if found else None


def crowd_frame(n_tasks: int = 300, n_workers: int = 20, per_task: int = 5, seed: int = 0):
    """A relevance-like frame (binary labels 0/1, tasks t…, workers w…) with
    workers of varied accuracy, and its true labels: what crowd-kit's
    examples load with `load_dataset('relevance-2')`."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_tasks)
    accuracy = rng.uniform(0.55, 0.95, n_workers)
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, per_task, replace=False):
            label = truth[t] if rng.random() < accuracy[w] else 1 - truth[t]
            rows.append((f"t{t}", f"w{w}", int(label)))
    df = pd.DataFrame(rows, columns=["task", "worker", "label"])
    gt = pd.Series(truth, index=pd.Index([f"t{t}" for t in range(n_tasks)], name="task"), name="true_label")
    return df, gt


@pytest.fixture
def relevance():
    return crowd_frame()

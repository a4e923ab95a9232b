"""Worker models carried between jobs from Python: `worker_model_` and
`fit(..., workers_in=...)`, as the CLI's --workers-out / --workers-in."""

import json

import pandas as pd
import pytest

import accord


def _batch(prefix: str, new_worker: bool) -> pd.DataFrame:
    rows = []
    for i in range(30):
        truth, wrong = ["cat", "dog"][i % 2], ["dog", "cat"][i % 2]
        for w, label in [("w1", truth), ("w2", truth), ("w3", wrong)]:
            rows.append((f"{prefix}{i}", w, label))
        if new_worker:
            rows.append((f"{prefix}{i}", "w9", truth))
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def test_a_second_batch_resumes_from_the_first_ones_model():
    first = accord.DawidSkene().fit(_batch("a", False))
    model = first.worker_model_
    assert model["format"] == "accord-worker-model" and model["version"] == 1
    assert model["classes"] == ["cat", "dog"]
    second = accord.DawidSkene().fit(_batch("b", True), workers_in=first)
    by_name = {w["worker"]: w for w in second.worker_model_["workers"]}
    assert by_name["w1"]["answers"] == pytest.approx(60.0, abs=1e-3)
    assert by_name["w9"]["answers"] == pytest.approx(30.0, abs=1e-3)
    # The same from the dict.
    again = accord.DawidSkene().fit(_batch("b", True), workers_in=model)
    pd.testing.assert_series_equal(again.labels_, second.labels_)


def test_python_and_cli_models_are_the_same_file_format(tmp_path):
    first = accord.DawidSkene().fit(_batch("a", False))
    path = tmp_path / "model.json"
    path.write_text(json.dumps(first.worker_model_))
    from_file = accord.DawidSkene().fit(_batch("b", True), workers_in=str(path))
    assert from_file.worker_model_["fitted"]["method"] == "ds"


def test_bad_models_and_methods_are_clear_errors():
    first = accord.DawidSkene().fit(_batch("a", False))
    model = dict(first.worker_model_, version=2)
    with pytest.raises(ValueError, match="version 2 model; this accord reads version 1"):
        accord.DawidSkene().fit(_batch("b", True), workers_in=model)
    with pytest.raises(ValueError, match="needs an EM method"):
        accord.MajorityVote().fit(_batch("b", True), workers_in=first)
    with pytest.raises(TypeError, match="workers_in"):
        accord.DawidSkene().fit(_batch("b", True), workers_in=42)

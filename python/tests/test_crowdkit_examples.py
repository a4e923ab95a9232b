"""The usage examples of crowd-kit's documentation (its class docstrings),
unchanged except for the import. `load_dataset('relevance-2')` needs the
network, so `load_dataset` here returns a relevance-like frame of the same
shape: columns task, worker, label (0/1), and the true labels."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import crowd_frame


def load_dataset(name):
    assert name == "relevance-2"
    return crowd_frame(n_tasks=400, n_workers=30)


def accuracy(result, gt):
    return float((result.reindex(gt.index) == gt).mean())


def test_dawid_skene_example():
    from accord import DawidSkene

    df, gt = load_dataset('relevance-2')
    ds = DawidSkene(100)
    result = ds.fit_predict(df)
    assert result.name == "agg_label" and result.index.name == "task"
    assert accuracy(result, gt) > 0.85
    # What crowd-kit users read after a fit.
    assert ds.probas_.shape == (400, 2) and list(ds.probas_.columns) == [0, 1]
    assert ds.probas_.index.name == "task" and ds.probas_.columns.name == "label"
    assert (abs(ds.probas_.sum(axis=1) - 1) < 1e-5).all()
    assert ds.errors_.index.names == ["worker", "label"]
    assert ds.priors_.name == "prior" and abs(ds.priors_.sum() - 1) < 1e-5
    assert len(ds.loss_history_) >= 1


def test_dawid_skene_keyword_example():
    """crowd-kit's README: `DawidSkene(n_iter=100).fit_predict(df)`."""
    from accord import DawidSkene

    df, gt = load_dataset('relevance-2')
    aggregated_labels = DawidSkene(n_iter=100).fit_predict(df)
    assert accuracy(aggregated_labels, gt) > 0.85


def test_one_coin_dawid_skene_example():
    from accord import OneCoinDawidSkene

    df, gt = load_dataset('relevance-2')
    hds = OneCoinDawidSkene(100)
    result = hds.fit_predict(df)
    assert accuracy(result, gt) > 0.85
    assert hds.skills_.index.name == "worker" and hds.skills_.name == "skill"
    assert ((hds.skills_ > 0) & (hds.skills_ < 1)).all()


def test_glad_example():
    from accord import GLAD

    df, gt = load_dataset('relevance-2')
    glad = GLAD()
    result = glad.fit_predict(df)
    assert accuracy(result, gt) > 0.85


def test_kos_example():
    from accord import KOS

    df, gt = load_dataset('relevance-2')
    ds = KOS(10)
    result = ds.fit_predict(df)
    assert accuracy(result, gt) > 0.8


def test_mmsr_example():
    from accord import MMSR

    df, gt = load_dataset('relevance-2')
    mmsr = MMSR()
    result = mmsr.fit_predict(df)
    assert accuracy(result, gt) > 0.8
    assert mmsr.skills_.index.name == "worker"


def test_mace_example():
    from accord import MACE

    df, gt = load_dataset('relevance-2')
    mace = MACE()
    result = mace.fit_predict(df)
    assert accuracy(result, gt) > 0.85


def test_majority_vote_wawa_and_zero_based_skill():
    from accord import MajorityVote, Wawa, ZeroBasedSkill

    df, gt = load_dataset('relevance-2')
    for aggregator in (MajorityVote(), Wawa(), ZeroBasedSkill()):
        result = aggregator.fit_predict(df)
        assert accuracy(result, gt) > 0.8, type(aggregator).__name__
        assert aggregator.skills_.name == "skill"
        proba = aggregator.fit_predict_proba(df)
        assert list(proba.columns) == [0, 1]


def test_majority_vote_by_hand():
    """Labels and skills a reader can check by counting."""
    from accord import MajorityVote

    df = pd.DataFrame(
        [
            ['t1', 'p1', 0],
            ['t1', 'p2', 0],
            ['t1', 'p3', 1],
            ['t2', 'p1', 1],
            ['t2', 'p2', 0],
            ['t2', 'p3', 1],
        ],
        columns=['task', 'worker', 'label']
    )
    mv = MajorityVote()
    result = mv.fit_predict(df)
    assert result.to_dict() == {"t1": 0, "t2": 1}
    # p1 and p3 agree with the vote once in two; p2 on t1 only.
    assert mv.skills_.to_dict() == {"p1": 1.0, "p2": 0.5, "p3": 0.5}
    assert mv.probas_.loc["t1"].tolist() == pytest.approx([2 / 3, 1 / 3])

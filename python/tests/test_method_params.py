"""GLAD's, MACE's and MMSR's own fitted parameters (crowd-kit's `alphas_`,
`betas_`, `priors_`, `spamming_`, `thetas_`, `scores_`): indexed and laid
out as crowd-kit's, telling spammers from careful workers, and consistent
with the posteriors they produce; and the per-worker counts a fit keeps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import accord

LABELS = ["cat", "dog", "fox"]
SPAMMERS = {"w0", "w1", "w2"}


@pytest.fixture(scope="module")
def frame():
    """Three labels, twelve workers: three answer at random, the others are
    right 85% of the time; five answers per task."""
    rng = np.random.default_rng(3)
    rows = []
    for t in range(400):
        truth = rng.integers(0, 3)
        for w in rng.choice(12, 5, replace=False):
            if f"w{w}" in SPAMMERS or rng.random() > 0.85:
                label = rng.integers(0, 3)
            else:
                label = truth
            rows.append((f"t{t}", f"w{w}", LABELS[label]))
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def _normalised_by_task(log: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-answer log-likelihoods (rows indexed by task) summed by task and
    normalised to posteriors."""
    log = log.groupby(level=0, sort=False).sum()
    expected = np.exp(log.values - log.values.max(axis=1, keepdims=True))
    return log, expected / expected.sum(axis=1, keepdims=True)


def test_glad_parameters_are_indexed_as_crowdkits(frame):
    g = accord.GLAD(backend="cpu").fit(frame)
    assert g.alphas_.name == "alpha" and g.betas_.name == "beta"
    assert list(g.alphas_.index) == list(pd.unique(frame.worker))
    assert list(g.betas_.index) == list(pd.unique(frame.task))
    assert list(g.priors_.index) == list(pd.unique(frame.label))
    assert np.allclose(g.priors_.values, 1 / 3)
    spam = g.alphas_[sorted(SPAMMERS)]
    careful = g.alphas_.drop(sorted(SPAMMERS))
    assert spam.max() < careful.min(), (spam, careful)


def test_glad_parameters_give_its_posteriors(frame):
    # At convergence one more E-step from the fitted abilities and
    # difficulties gives back the posteriors (crowd-kit's E-step).
    g = accord.GLAD(n_iter=500, tol=1e-12, backend="cpu").fit(frame)
    z = g.alphas_[frame.worker].values * np.exp(g.betas_[frame.task].values)
    right = -np.logaddexp(0, -z)
    wrong = -np.logaddexp(0, z) - np.log(len(LABELS) - 1)
    log = pd.DataFrame(
        {label: np.where(frame.label.values == label, right, wrong) for label in LABELS},
        index=frame.task.values,
    )
    log, expected = _normalised_by_task(log)
    probas = g.probas_.loc[log.index, LABELS].values
    assert np.abs(probas - expected).max() < 1e-3


def test_mace_parameters_are_crowdkits_arrays(frame):
    m = accord.MACE(backend="cpu").fit(frame)
    workers = list(pd.unique(frame.worker))
    assert m.spamming_.shape == (len(workers), 2)
    assert m.thetas_.shape == (len(workers), len(LABELS))
    # Variational normalisation: rows sum to a little under one.
    assert np.all((m.spamming_.sum(axis=1) > 0.9) & (m.spamming_.sum(axis=1) <= 1))
    spamming = pd.Series(m.spamming_[:, 0], index=workers)
    assert spamming[sorted(SPAMMERS)].min() > spamming.drop(sorted(SPAMMERS)).max()


def test_mace_parameters_give_its_posteriors(frame):
    # MACE's posteriors are the E-step of the fitted model: each answer l of
    # worker w has likelihood spam_w·θ_w[l] + know_w·[l = t].
    m = accord.MACE(backend="cpu").fit(frame)
    worker_row = {w: r for r, w in enumerate(pd.unique(frame.worker))}
    label_col = {label: c for c, label in enumerate(pd.unique(frame.label))}
    rows = frame.worker.map(worker_row).values
    cols = frame.label.map(label_col).values
    spam = m.spamming_[rows, 0] * m.thetas_[rows, cols]
    know = m.spamming_[rows, 1]
    log = pd.DataFrame(
        {label: np.log(spam + know * (frame.label.values == label)) for label in LABELS},
        index=frame.task.values,
    )
    log, expected = _normalised_by_task(log)
    probas = m.probas_.loc[log.index, LABELS].values
    assert np.abs(probas - expected).max() < 1e-6


def test_other_methods_have_no_such_parameters(frame):
    ds = accord.DawidSkene(backend="cpu").fit(frame)
    assert ds._result().core.glad_params() is None
    assert ds._result().core.mace_params() is None


def test_mmsr_scores_are_the_skill_weighted_vote(frame):
    # crowd-kit's MMSR.scores_ is MajorityVote(skills=skills_).probas_: per
    # task and label the sum of the skills of its workers, over the task's.
    m = accord.MMSR(backend="cpu")
    scores = m.fit_predict_score(frame)
    weighted = frame.assign(skill=m.skills_[frame.worker].values)
    sums = weighted.groupby(["task", "label"])["skill"].sum().unstack(fill_value=0.0)
    expected = sums.div(sums.sum(axis=1), axis=0)
    assert list(scores.index) == list(pd.unique(frame.task))
    got = scores.loc[expected.index, expected.columns].values
    assert np.abs(got - expected.values).max() < 1e-9
    # The labels are the heaviest sums (before dividing, as crowd-kit's).
    assert (m.labels_.loc[sums.index] == sums.idxmax(axis=1)).all()


def test_worker_counts_survive_the_release_of_the_annotations(frame):
    # The fit drops its packed annotations once done; what the Spark
    # driver's worker table reads must be counted before that.
    core = accord.DawidSkene(backend="cpu").fit(frame)._result().core
    counts = frame.worker.value_counts()
    assert list(core.worker_annotations()) == [counts[w] for w in pd.unique(frame.worker)]

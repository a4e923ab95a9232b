"""crowd-kit's aggregation classes over accord's engine.

Each class names one method of the library's method table and maps
crowd-kit's keyword arguments onto the library's parameters; the fit runs in
the compiled core without the GIL. Fitted attributes are built from the
core's buffers on first read.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import numpy as np
import pandas as pd
import pyarrow as pa

from . import _accord
from ._input import Input, prepare

#: The library's method table: name -> (max_iter, tol, prior_correct).
_TABLE = {m["name"]: m for m in _accord.methods()}

_BACKENDS = ("auto", "cpu", "gpu")


def _default(method: str, key: str) -> Any:
    return _TABLE[method][key]


def _only(cls: str, name: str, value: Any, supported: Any) -> None:
    """crowd-kit parameters accord does not model are taken at crowd-kit's
    default only, so code written for crowd-kit runs, and a value that would
    change crowd-kit's result is an error rather than silently ignored."""
    if value is supported:
        return
    if supported is not None and isinstance(value, (bool, int, float, str, np.generic)):
        if value == supported:
            return
    shown = repr(value) if isinstance(value, (bool, int, float, str, np.generic)) else f"a {type(value).__name__}"
    raise ValueError(
        f"{cls}: accord does not support `{name}`={shown}; only crowd-kit's default ({supported!r}) is accepted"
    )


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer ≥ {minimum}, not {value!r}")
    return int(value)


def _check_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"`{name}` must be a number, not {value!r}")
    return float(value)


def _restore(values: pa.Array, original: pa.DataType) -> pa.Array:
    """The core speaks in strings; ids and labels go back to the input's own
    type (integers stay integers, as in crowd-kit's results)."""
    text = pa.types.is_string(original) or pa.types.is_large_string(original)
    if text or getattr(pa.types, "is_string_view", lambda _t: False)(original):
        return values
    try:
        return values.cast(original)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return values


def _names(buffers: tuple[bytes, bytes], original: pa.DataType, name: str) -> pd.Index:
    offsets, data = buffers
    n = len(offsets) // 8 - 1
    strings = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pd.Index(_restore(strings, original).to_pandas(), name=name)


class _Fitted:
    """The core's result with the input's types: the pandas objects are made
    from it on first read."""

    def __init__(self, core: Any, data: Input):
        self.core = core
        self.data = data
        self._cache: dict[str, Any] = {}

    def get(self, key: str, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def tasks(self) -> pd.Index:
        return self.get("tasks", lambda: _names(self.core.item_names(), self.data.item_type, "task"))

    def workers(self) -> pd.Index:
        return self.get("workers", lambda: _names(self.core.worker_names(), self.data.worker_type, "worker"))

    def classes(self) -> pd.Index:
        def make() -> pd.Index:
            names = pa.array(self.core.classes(), type=pa.large_string())
            return pd.Index(_restore(names, self.data.label_type).to_pandas(), name="label")

        return self.get("classes", make)

    def confusion(self) -> np.ndarray:
        k = len(self.classes())
        return np.frombuffer(self.core.confusion(), dtype=np.float32).reshape(-1, k, k)


class _Aggregator:
    """What every class shares: the fit, the fitted attributes and the
    backend choice. Subclasses set `_method` (a name in the library's method
    table) and `_options()` (library parameters)."""

    _method: str = ""

    def __init__(self, backend: str = "auto"):
        if backend not in _BACKENDS:
            raise ValueError(f"`backend` must be one of {', '.join(_BACKENDS)}, not {backend!r}")
        self.backend = backend
        self._fitted: Optional[_Fitted] = None

    # -- parameters -------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"

    # -- fitting ----------------------------------------------------------

    def fit(self, data: Any, *, workers_in: Any = None) -> "_Aggregator":
        """Fits the model to `data`: a DataFrame (pandas or polars) or Arrow
        table with columns task (or item), worker and label.

        `workers_in` (EM methods and `Accord`): an earlier job's worker model
        (a fitted aggregator, its ``worker_model_`` dict, or the path of a
        model file the CLI's ``--workers-out FILE.json`` wrote). EM starts
        from its workers' tables and adds each known worker's past counts to
        every M-step (a prior weighted by their past answers); new workers
        start from its population table; the classes are the model's."""
        prepared = prepare(data)
        options = self._options()
        model = _model_text(workers_in)
        if model is not None:
            options["workers_in"] = model
        try:
            core = _accord.fit(
                prepared.table.__arrow_c_stream__(),
                self._method,
                backend=self.backend,
                **options,
            )
        except ValueError as e:
            raise ValueError(_crowdkit_names(str(e))) from None
        self._fitted = _Fitted(core, prepared)
        return self

    def fit_predict(self, data: Any) -> "pd.Series[Any]":
        """Fits, then returns `labels_`: one label per task."""
        return self.fit(data).labels_

    def fit_predict_proba(self, data: Any) -> pd.DataFrame:
        """Fits, then returns `probas_`: each task's probability of each label."""
        return self.fit(data).probas_

    def _result(self) -> _Fitted:
        if self._fitted is None:
            raise AttributeError(f"{type(self).__name__} is not fitted yet: call fit(data) first")
        return self._fitted

    # -- fitted attributes (crowd-kit's names) ----------------------------

    @property
    def labels_(self) -> "pd.Series[Any]":
        """Each task's label: a Series indexed by task, named ``agg_label``."""
        f = self._result()

        def make() -> "pd.Series[Any]":
            ids = np.frombuffer(f.core.labels(), dtype=np.uint32)
            return pd.Series(f.classes().to_numpy()[ids], index=f.tasks(), name="agg_label")

        return f.get("labels_", make)

    @property
    def probas_(self) -> pd.DataFrame:
        """Each task's posterior probability of each label: a DataFrame
        indexed by task, one column per label (columns named ``label``)."""
        f = self._result()

        def make() -> pd.DataFrame:
            k = len(f.classes())
            p = np.frombuffer(f.core.posteriors(), dtype=np.float32).reshape(-1, k)
            return pd.DataFrame(p.astype(np.float64), index=f.tasks(), columns=f.classes())

        return f.get("probas_", make)

    @property
    def worker_accuracy_(self) -> "pd.Series[Any]":
        """accord's: each worker's expected accuracy, the mean posterior
        probability of the labels they gave (indexed by worker)."""
        f = self._result()

        def make() -> "pd.Series[Any]":
            acc = np.frombuffer(f.core.worker_accuracy(), dtype=np.float32).astype(np.float64)
            return pd.Series(acc, index=f.workers(), name="accuracy")

        return f.get("worker_accuracy_", make)

    @property
    def confusion_(self) -> pd.DataFrame:
        """accord's: each worker's confusion table, rows indexed by
        (worker, true label), one column per given label, rows summing to 1."""
        f = self._result()

        def make() -> pd.DataFrame:
            c = f.confusion()
            index = pd.MultiIndex.from_product([f.workers(), f.classes()], names=["worker", "true_label"])
            return pd.DataFrame(c.reshape(-1, c.shape[2]).astype(np.float64), index=index, columns=f.classes())

        return f.get("confusion_", make)

    def to_arrow(self) -> pa.Table:
        """The fit as an Arrow table: task, agg_label, confidence, then one
        probability column per label."""
        f = self._result()
        labels = self.labels_
        k = len(f.classes())
        p = np.frombuffer(f.core.posteriors(), dtype=np.float32).reshape(-1, k)
        columns = {
            "task": pa.array(labels.index),
            "agg_label": pa.array(labels.to_numpy()),
            "confidence": pa.array(np.frombuffer(f.core.confidence(), dtype=np.float32)),
        }
        for c, name in enumerate(f.classes()):
            columns[str(name)] = pa.array(p[:, c])
        return pa.table(columns)

    @property
    def worker_model_(self) -> dict[str, Any]:
        """accord's: the worker model this fit leaves for the next job (the
        CLI's versioned ``--workers-out FILE.json``): classes, the fitted
        model, class priors, a population table and per worker their table
        and expected counts. Pass it (or this aggregator) to a later
        ``fit(..., workers_in=...)``, or ``json.dump`` it for the CLI."""
        f = self._result()
        # A fresh dict each time: editing it does not change the fit's.
        return json.loads(f.get("worker_model_", f.core.worker_model))

    @property
    def run_info_(self) -> dict[str, Any]:
        """accord's: iterations, convergence, the backend the fit ran on and
        why, and the input's counts."""
        return dict(self._result().core.run_info())


def _model_text(workers_in: Any) -> Optional[str]:
    """A worker model as the JSON text the core parses."""
    if workers_in is None:
        return None
    if isinstance(workers_in, _Aggregator):
        return json.dumps(workers_in.worker_model_)
    if isinstance(workers_in, dict):
        return json.dumps(workers_in)
    if isinstance(workers_in, (str, os.PathLike)):
        with open(workers_in, encoding="utf-8") as f:
            return f.read()
    raise TypeError(
        f"`workers_in` must be a fitted aggregator, a worker model dict or a model file path, not a {type(workers_in).__name__}"
    )


def _crowdkit_names(message: str) -> str:
    """The library names parameters as its fields; the classes take
    crowd-kit's names."""
    return message.replace("`max_iter`", "`n_iter`")


class _ErrorsMixin:
    """The Dawid-Skene family's `errors_` and `priors_`, in crowd-kit's shape."""

    @property
    def errors_(self) -> pd.DataFrame:
        """P(given label | true label) per worker: rows indexed by (worker,
        given label), one column per true label (crowd-kit's layout; every
        (worker, label) pair is listed, not only those the worker gave)."""
        f = self._result()  # type: ignore[attr-defined]

        def make() -> pd.DataFrame:
            c = f.confusion()  # [worker][true][given]
            by_given = np.transpose(c, (0, 2, 1)).reshape(-1, c.shape[1])
            index = pd.MultiIndex.from_product([f.workers(), f.classes()], names=["worker", "label"])
            return pd.DataFrame(by_given.astype(np.float64), index=index, columns=list(f.classes()))

        return f.get("errors_", make)

    @property
    def priors_(self) -> "pd.Series[Any]":
        """The class priors the model ended with, indexed by label."""
        f = self._result()  # type: ignore[attr-defined]
        return f.get(
            "priors_",
            lambda: pd.Series(np.array(f.core.class_priors(), dtype=np.float64), index=f.classes(), name="prior"),
        )

    @property
    def loss_history_(self) -> list[float]:
        """The log-likelihood after each E-step (accord's objective: the
        total log-likelihood, where crowd-kit's is scaled differently; use it
        to follow convergence)."""
        return list(self._result().core.log_likelihood())  # type: ignore[attr-defined]


class _SkillsMixin:
    """`skills_`: the method's weight of each worker's vote."""

    @property
    def skills_(self) -> "pd.Series[Any]":
        """Each worker's skill, indexed by worker, named ``skill``."""
        f = self._result()  # type: ignore[attr-defined]

        def make() -> "pd.Series[Any]":
            skills = f.core.worker_skill()
            return pd.Series(np.array(skills, dtype=np.float64), index=f.workers(), name="skill")

        return f.get("skills_", make)


class MajorityVote(_SkillsMixin, _Aggregator):
    """Majority vote; ties go to the first label in order (crowd-kit's rule)
    or, with ``ties="random"``, to a seeded draw. ``skills_`` is each
    worker's agreement with the vote, as crowd-kit's."""

    _method = "mv"

    def __init__(
        self,
        default_skill: Optional[float] = None,
        on_missing_skill: str = "error",
        *,
        ties: str = "lowest",
        random_state: int = 0,
        backend: str = "auto",
    ):
        super().__init__(backend)
        _only("MajorityVote", "default_skill", default_skill, None)
        _only("MajorityVote", "on_missing_skill", on_missing_skill, "error")
        self.default_skill = default_skill
        self.on_missing_skill = on_missing_skill
        self.ties = ties
        self.random_state = _check_int("random_state", random_state, 0)

    def _options(self) -> dict[str, Any]:
        return {"ties": self.ties, "seed": self.random_state}

    def fit(self, data: Any, skills: Any = None, *, workers_in: Any = None) -> "MajorityVote":  # type: ignore[override]
        """Fits; crowd-kit's optional `skills` (given vote weights) are not
        supported (nor is `workers_in`: majority vote has no worker model to resume)."""
        _only("MajorityVote.fit", "skills", skills, None)
        super().fit(data, workers_in=workers_in)
        return self


class _EMAggregator(_Aggregator):
    """The EM methods' shared parameters: `n_iter` (the library's
    `max_iter`) and `tol`, defaults from the method table."""

    def _set_em(self, n_iter: int, tol: float) -> None:
        self.n_iter = _check_int("n_iter", n_iter, 1)
        self.tol = _check_float("tol", tol)

    def _options(self) -> dict[str, Any]:
        return {"max_iter": self.n_iter, "tol": self.tol}


class DawidSkene(_ErrorsMixin, _EMAggregator):
    """Dawid-Skene EM (accord's `ds`). Differences from crowd-kit: the stop
    test is relative (``|ΔLL| / |LL| < tol``), and one pseudo-count of a
    correct answer per confusion row (``prior_correct=1``) keeps workers with
    few answers from extreme tables; ``prior_correct=0`` is crowd-kit's
    plain Dawid-Skene."""

    _method = "ds"

    def __init__(
        self,
        n_iter: int = _default("ds", "max_iter"),
        tol: float = _default("ds", "tol"),
        initial_error_strategy: Optional[str] = None,
        *,
        prior_correct: float = _default("ds", "prior_correct"),
        smoothing: float = 0.0,
        init: str = "votes",
        backend: str = "auto",
    ):
        super().__init__(backend)
        _only("DawidSkene", "initial_error_strategy", initial_error_strategy, None)
        self._set_em(n_iter, tol)
        self.initial_error_strategy = initial_error_strategy
        self.prior_correct = _check_float("prior_correct", prior_correct)
        self.smoothing = _check_float("smoothing", smoothing)
        self.init = init

    def _options(self) -> dict[str, Any]:
        return {
            **super()._options(),
            "prior_correct": self.prior_correct,
            "smoothing": self.smoothing,
            "init": self.init,
        }

    def fit(  # type: ignore[override]
        self, data: Any, true_labels: Any = None, initial_error: Any = None, *, workers_in: Any = None
    ) -> "DawidSkene":
        """Fits; crowd-kit's optional `true_labels` and `initial_error` are
        not supported; `workers_in` as for every EM class (see `_Aggregator.fit`)."""
        _only("DawidSkene.fit", "true_labels", true_labels, None)
        _only("DawidSkene.fit", "initial_error", initial_error, None)
        super().fit(data, workers_in=workers_in)
        return self


class HierarchicalDawidSkene(_ErrorsMixin, _EMAggregator):
    """accord's hierarchical Bayesian Dawid-Skene (`hds`): each worker's
    table is drawn toward the population's (``prior_strength``
    pseudo-answers per row), so sparse workers borrow strength."""

    _method = "hds"

    def __init__(
        self,
        n_iter: int = _default("hds", "max_iter"),
        tol: float = _default("hds", "tol"),
        *,
        prior_correct: float = _default("hds", "prior_correct"),
        prior_strength: float = 1.0,
        init: str = "votes",
        backend: str = "auto",
    ):
        super().__init__(backend)
        self._set_em(n_iter, tol)
        self.prior_correct = _check_float("prior_correct", prior_correct)
        self.prior_strength = _check_float("prior_strength", prior_strength)
        self.init = init

    def _options(self) -> dict[str, Any]:
        return {
            **super()._options(),
            "prior_correct": self.prior_correct,
            "prior_strength": self.prior_strength,
            "init": self.init,
        }


class GroundTruthMDS(_ErrorsMixin, _EMAggregator):
    """Amazon SageMaker Ground Truth's modified Dawid-Skene (accord's `mds`)."""

    _method = "mds"

    def __init__(
        self,
        n_iter: int = _default("mds", "max_iter"),
        tol: float = _default("mds", "tol"),
        *,
        backend: str = "auto",
    ):
        super().__init__(backend)
        self._set_em(n_iter, tol)


class OneCoinDawidSkene(_ErrorsMixin, _SkillsMixin, _EMAggregator):
    """One-coin Dawid-Skene: one accuracy per worker, mistakes spread
    evenly. ``skills_`` is that accuracy."""

    _method = "one-coin"

    def __init__(
        self,
        n_iter: int = _default("one-coin", "max_iter"),
        tol: float = _default("one-coin", "tol"),
        *,
        smoothing: float = 0.0,
        backend: str = "auto",
    ):
        super().__init__(backend)
        self._set_em(n_iter, tol)
        self.smoothing = _check_float("smoothing", smoothing)

    def _options(self) -> dict[str, Any]:
        return {**super()._options(), "smoothing": self.smoothing}

    @property
    def skills_(self) -> "pd.Series[Any]":
        """Each worker's accuracy (the diagonal of its one-coin table)."""
        f = self._result()

        def make() -> "pd.Series[Any]":
            diagonal = np.diagonal(f.confusion(), axis1=1, axis2=2)
            return pd.Series(diagonal.mean(axis=1).astype(np.float64), index=f.workers(), name="skill")

        return f.get("skills_", make)


class GLAD(_EMAggregator):
    """GLAD: worker ability and task difficulty (crowd-kit's priors and
    conjugate-gradient M-step): ``alphas_`` (by worker), ``betas_`` (by
    task; the probability that a worker is right is
    ``sigmoid(alpha * exp(beta))``) and ``priors_`` (uniform, as crowd-kit
    keeps them without ``labels_priors``)."""

    _method = "glad"

    def __init__(
        self,
        n_iter: int = _default("glad", "max_iter"),
        tol: float = _default("glad", "tol"),
        silent: bool = True,
        labels_priors: Any = None,
        alphas_priors_mean: Any = None,
        betas_priors_mean: Any = None,
        m_step_max_iter: int = 25,
        m_step_tol: float = 1e-2,
        *,
        backend: str = "auto",
    ):
        super().__init__(backend)
        self._set_em(n_iter, tol)
        # `silent` only hides crowd-kit's progress bar; accord shows none.
        self.silent = silent
        for name, value, default in (
            ("labels_priors", labels_priors, None),
            ("alphas_priors_mean", alphas_priors_mean, None),
            ("betas_priors_mean", betas_priors_mean, None),
            ("m_step_max_iter", m_step_max_iter, 25),
            ("m_step_tol", m_step_tol, 1e-2),
        ):
            _only("GLAD", name, value, default)
            setattr(self, name, value)

    @property
    def loss_history_(self) -> list[float]:
        """The objective after each round."""
        return list(self._result().core.log_likelihood())

    def _glad(self) -> tuple[np.ndarray, np.ndarray]:
        alpha, beta = self._result().core.glad_params()
        return np.frombuffer(alpha, dtype=np.float64), np.frombuffer(beta, dtype=np.float64)

    @property
    def alphas_(self) -> "pd.Series[Any]":
        """Each worker's ability, indexed by worker, named ``alpha``."""
        f = self._result()
        return f.get("alphas_", lambda: pd.Series(self._glad()[0].copy(), index=f.workers(), name="alpha"))

    @property
    def betas_(self) -> "pd.Series[Any]":
        """Each task's log-easiness, indexed by task, named ``beta``."""
        f = self._result()
        return f.get("betas_", lambda: pd.Series(self._glad()[1].copy(), index=f.tasks(), name="beta"))

    @property
    def priors_(self) -> "pd.Series[Any]":
        """The label priors: uniform, indexed by label in first-seen order
        (crowd-kit's ``pd.unique`` of the labels)."""
        f = self._result()

        def make() -> "pd.Series[Any]":
            order = np.array(f.core.classes_first_seen(), dtype=np.int64)
            labels = f.classes()[order]
            return pd.Series(np.full(len(labels), 1.0 / len(labels)), index=labels.rename(None))

        return f.get("priors_", make)


class MACE(_Aggregator):
    """MACE fitted by variational Bayes as crowd-kit does (its 10 restarts
    share one seed, so they are one run). ``spamming_`` and ``thetas_`` are
    crowd-kit's arrays: rows are workers in first-seen order; ``spamming_``
    columns (spamming, knowing), ``thetas_`` columns the labels in
    first-seen order (each worker's spam distribution)."""

    _method = "mace"

    def __init__(
        self,
        n_restarts: int = 10,
        n_iter: int = _default("mace", "max_iter"),
        method: str = "vb",
        smoothing: float = 0.1,
        default_noise: float = 0.5,
        alpha: float = 0.5,
        beta: float = 0.5,
        random_state: int = 0,
        verbose: int = 0,
        *,
        backend: str = "auto",
    ):
        super().__init__(backend)
        self.n_iter = _check_int("n_iter", n_iter, 1)
        self.n_restarts = _check_int("n_restarts", n_restarts, 1)
        for name, value, default in (
            ("method", method, "vb"),
            ("smoothing", smoothing, 0.1),
            ("default_noise", default_noise, 0.5),
            ("alpha", alpha, 0.5),
            ("beta", beta, 0.5),
            ("random_state", random_state, 0),
        ):
            _only("MACE", name, value, default)
            setattr(self, name, value)
        self.verbose = verbose

    def _options(self) -> dict[str, Any]:
        return {"max_iter": self.n_iter}

    def _mace(self, which: int) -> np.ndarray:
        f = self._result()
        spamming, theta = f.core.mace_params()
        values = np.frombuffer((spamming, theta)[which], dtype=np.float64)
        return values.reshape(len(f.workers()), -1).copy()

    @property
    def spamming_(self) -> np.ndarray:
        """``[worker, (spamming, knowing)]``: each worker's probability of
        spamming and of knowing the answer."""
        return self._result().get("spamming_", lambda: self._mace(0))

    @property
    def thetas_(self) -> np.ndarray:
        """``[worker, label]``: each worker's spam distribution, labels in
        first-seen order."""
        return self._result().get("thetas_", lambda: self._mace(1))


class Wawa(_SkillsMixin, _Aggregator):
    """Worker agreement with aggregate: votes weighted by each worker's
    agreement with majority vote."""

    _method = "wawa"

    def __init__(self, *, backend: str = "auto"):
        super().__init__(backend)


class ZeroBasedSkill(_SkillsMixin, _Aggregator):
    """Votes weighted by skills learnt from near zero (crowd-kit's step
    schedule)."""

    _method = "zbs"

    def __init__(
        self,
        n_iter: int = _default("zbs", "max_iter"),
        lr_init: float = 1.0,
        lr_steps_to_reduce: int = 20,
        lr_reduce_factor: float = 0.5,
        eps: float = 1e-5,
        *,
        backend: str = "auto",
    ):
        super().__init__(backend)
        self.n_iter = _check_int("n_iter", n_iter, 1)
        for name, value, default in (
            ("lr_init", lr_init, 1.0),
            ("lr_steps_to_reduce", lr_steps_to_reduce, 20),
            ("lr_reduce_factor", lr_reduce_factor, 0.5),
            ("eps", eps, 1e-5),
        ):
            _only("ZeroBasedSkill", name, value, default)
            setattr(self, name, value)

    def _options(self) -> dict[str, Any]:
        return {"max_iter": self.n_iter}


class KOS(_Aggregator):
    """KOS belief propagation (binary labels only)."""

    _method = "kos"

    def __init__(self, n_iter: int = _default("kos", "max_iter"), random_state: int = 0, *, backend: str = "auto"):
        super().__init__(backend)
        self.n_iter = _check_int("n_iter", n_iter, 1)
        _only("KOS", "random_state", random_state, 0)
        self.random_state = random_state

    def _options(self) -> dict[str, Any]:
        return {"max_iter": self.n_iter}


class MMSR(_SkillsMixin, _EMAggregator):
    """M-MSR: worker skills from the answers' covariance, then a weighted
    vote. ``skills_`` are those (signed) skills."""

    _method = "mmsr"

    def __init__(
        self,
        n_iter: int = _default("mmsr", "max_iter"),
        tol: float = _default("mmsr", "tol"),
        random_state: Optional[int] = 0,
        *,
        backend: str = "auto",
    ):
        super().__init__(backend)
        self._set_em(n_iter, tol)
        _only("MMSR", "random_state", random_state, 0)
        self.random_state = random_state

    @property
    def scores_(self) -> pd.DataFrame:
        """crowd-kit's: a majority vote weighted by ``skills_``, each task's
        per-label sum of its workers' skills over the task's total (so a
        negative skill can put a score outside [0, 1], and a total of zero
        gives NaN or infinities, as crowd-kit's); indexed by task, one
        column per label."""
        f = self._result()

        def make() -> pd.DataFrame:
            table = f.data.table
            tasks, workers, classes = f.tasks(), f.workers(), f.classes()

            def ids(column: str, names: pd.Index) -> np.ndarray:
                values = table.column(column).combine_chunks()
                if pa.types.is_dictionary(values.type):
                    values = values.dictionary_decode()
                found = names.get_indexer(values.to_pandas())
                # The core read these very columns, so every value is named.
                assert (found >= 0).all(), f"a {column} the fit did not see"
                return found

            k = len(classes)
            skills = np.array(f.core.worker_skill(), dtype=np.float64)
            cell = ids("item", tasks) * k + ids("label", classes)
            sums = np.bincount(cell, weights=skills[ids("worker", workers)], minlength=len(tasks) * k)
            scores = sums.reshape(len(tasks), k)
            # A task whose skills sum to zero divides by zero, as crowd-kit's.
            with np.errstate(divide="ignore", invalid="ignore"):
                scores = scores / scores.sum(axis=1, keepdims=True)
            return pd.DataFrame(scores, index=tasks, columns=classes)

        return f.get("scores_", make)

    def fit_predict_score(self, data: Any) -> pd.DataFrame:
        """Fits, then returns `scores_`."""
        return self.fit(data).scores_


class Accord(_ErrorsMixin, _Aggregator):
    """The library's default method, whatever it is in this version
    (``method_`` names it; today ``hds``), with its defaults."""

    _method = _accord.default_method()

    def __init__(self, *, backend: str = "auto", confidence: str = "calibrated"):
        """`confidence`: ``"calibrated"`` (the default: how often a label
        like this is right, learnt from held-out answers; labels unchanged)
        or ``"raw"`` (the model's posterior), as the CLI's ``--confidence``."""
        super().__init__(backend)
        if confidence not in ("calibrated", "raw"):
            raise ValueError(f"`confidence` must be 'calibrated' or 'raw', not {confidence!r}")
        self.confidence = confidence
        self.method_ = self._method

    def _options(self) -> dict[str, Any]:
        return {"confidence": self.confidence}

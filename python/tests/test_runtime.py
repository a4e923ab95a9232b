"""The fit releases the GIL, stops on Ctrl-C, and runs on the GPU backend."""

from __future__ import annotations

import os
import signal
import threading
import time

import pandas as pd
import pytest

import accord
from conftest import crowd_frame


@pytest.fixture(scope="module")
def big():
    # Large enough that one EM iteration takes a while, small enough to build fast.
    return crowd_frame(n_tasks=40_000, n_workers=200, per_task=5, seed=1)[0]


def test_other_threads_run_during_a_fit(big):
    """A Python thread counting while the fit runs gets the GIL: the count
    grows during the fit as much as it does alone."""
    stop = threading.Event()
    count = [0]

    def counter():
        while not stop.is_set():
            count[0] += 1

    model = accord.HierarchicalDawidSkene(n_iter=300, tol=0.0, backend="cpu")
    thread = threading.Thread(target=counter)
    thread.start()
    try:
        start = time.perf_counter()
        before = count[0]
        model.fit(big)
        during = count[0] - before
        elapsed = time.perf_counter() - start
        time.sleep(0.2)
        rate_alone = (count[0] - before - during) / 0.2
    finally:
        stop.set()
        thread.join()
    assert elapsed > 0.3, "the fit was too short to tell"
    # Holding the GIL for the whole fit would leave the counter a few
    # switch intervals (5 ms each) at most.
    assert during > 0.25 * rate_alone * elapsed, (during, rate_alone, elapsed)


def test_keyboard_interrupt_stops_a_long_fit(big):
    model = accord.HierarchicalDawidSkene(n_iter=1_000_000, tol=0.0, backend="cpu")
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model.fit(big)
    stopped_after = time.perf_counter() - start
    timer.join()
    assert stopped_after < 5, stopped_after
    # The module still works after the interrupt.
    assert len(accord.DawidSkene(n_iter=2).fit_predict(big)) == 40_000


def gpu_or_skip(model, data):
    try:
        return model.fit(data)
    except RuntimeError as e:
        if os.environ.get("ACCORD_REQUIRE_GPU") == "1":
            raise
        pytest.skip(f"no GPU adapter: {e}")


def test_gpu_backend_gives_the_cpu_labels():
    df, _ = crowd_frame(n_tasks=2000, n_workers=40)
    for cls in (accord.DawidSkene, accord.HierarchicalDawidSkene, accord.MajorityVote):
        gpu = gpu_or_skip(cls(backend="gpu"), df)
        cpu = cls(backend="cpu").fit(df)
        assert not gpu.run_info_["backend"].startswith("cpu"), gpu.run_info_
        pd.testing.assert_series_equal(gpu.labels_, cpu.labels_)
        assert (gpu.probas_ - cpu.probas_).abs().max().max() < 1e-4

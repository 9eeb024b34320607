"""The on-disk cache of computed results (:mod:`diffgen_lib.cache`)."""

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch

from diffgen_lib import cache

torch.set_num_threads(2)


def test_cached_result_computes_once_and_recovers_from_corruption(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.arange(3)}

    a = cache.cached_result("thing", {"n": 3}, compute)
    b = cache.cached_result("thing", {"n": 3}, compute)
    assert len(calls) == 1 and torch.equal(a["x"], b["x"])
    cache.cached_result("thing", {"n": 4}, compute)
    assert len(calls) == 2
    for p in (tmp_path / "results").glob("thing-*.pt"):
        p.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="corrupt"):
        c = cache.cached_result("thing", {"n": 3}, compute)
    assert len(calls) == 3 and torch.equal(c["x"], a["x"])


def _compute_slowly(log: str, folder: str) -> list:
    """A process computing a cached entry that takes a second (counted in ``log``)."""
    os.environ["DIFFGEN_CACHE"] = folder

    def compute():
        with open(log, "a") as handle:
            handle.write("x")
        time.sleep(1.0)
        return {"v": torch.arange(4)}

    return cache.cached_result("slow", {"k": 1}, compute)["v"].tolist()


def test_processes_side_by_side_compute_a_shared_entry_once(tmp_path):
    log = tmp_path / "computed.log"
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        values = list(pool.map(_compute_slowly, [str(log)] * 2, [str(tmp_path)] * 2))
    assert values == [[0, 1, 2, 3]] * 2 and log.read_text() == "x"

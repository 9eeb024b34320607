"""Multi-process (DDP) training: a ``torchrun`` launch of two CPU processes against one process.

The launch test starts ``python -m torch.distributed.run --standalone --nproc_per_node 2`` on a
worker script (gloo, one thread per process) and checks: both ranks return the same run; it
equals the single-process run of the config up to float summation order; it is stored once,
under the single-process key, and loaded by a later single-process call without training (and
a single-process run is loaded by the launch); a launch resumed from a checkpoint ends
bit-identical to an uninterrupted launch.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from diffgen_lib import distributed
from diffgen_lib.runs import TrainConfig, run_key
from diffgen_lib.train import train

torch.set_num_threads(2)

_COMMON = dict(dataset="digits", n_train=64, n_val=32, n_feature=32, batch_size=16, max_steps=20,
               device="cpu")
CONFIGS = {
    "mlp": TrainConfig(model="mlp", mlp_width=64, mlp_depth=2, **_COMMON),
    # U-Net with every batch draw in use (labels, label dropout) plus EMA and warmup
    "unet": TrainConfig(channels=8, channel_mult=(1, 2), labels="class", label_dropout=0.2,
                        ema=0.9, lr_warmup_steps=5, snapshot_steps=(10,), **_COMMON),
}
# trained by a single process before the launch, which must load it
PRETRAINED = dataclasses.replace(CONFIGS["mlp"], seed=1)

# Tolerance of DDP against one process, relative to the largest weight of the tensor. The two
# differ only in how float32 sums are ordered (two half-batch means averaged instead of one
# full-batch mean), about 1e-7 relative per gradient; Adam divides by sqrt(v), which amplifies
# it where a gradient is small against its running scale, and 20 steps compound it: measured at
# most 1.2e-5 here (mostly below 5e-6), so 1e-4 leaves a margin of ~8x. A real bug (another
# slice, no gradient averaging, another batch) changes one Adam step of ~lr = 2e-3 per weight,
# i.e. 1e-2 relative or more; the half-batch check below shows such a difference is caught.
WEIGHT_RTOL = 1e-4

WORKER = textwrap.dedent("""
    import json, os, sys
    import torch
    from diffgen_lib import distributed
    from diffgen_lib.runs import TrainConfig
    from diffgen_lib.train import train

    torch.set_num_threads(1)
    out = sys.argv[1]
    configs = {name: TrainConfig.from_dict(d) for name, d in json.loads(sys.argv[2]).items()}
    rank = distributed.world().rank

    class Interrupt(Exception):
        pass

    def interrupt_at(stop):
        def callback(step, seconds):
            if step == stop:
                raise Interrupt
        return callback

    def never(step, seconds):
        raise AssertionError("trained a run that should have been loaded")

    def save(name, run):
        torch.save({"weights": {s: d.state_dict() for s, d in run.snapshots.items()},
                    "history": run.history, "key": run.key, "step": run.step,
                    "steps_per_second": run.steps_per_second, "world": distributed.world().size},
                   os.path.join(out, f"{name}-rank{rank}.pt"))

    save("mlp", train(configs["mlp"], progress=False))
    save("unet-uninterrupted", train(configs["unet"], progress=False, cache=False))
    try:  # checkpoints at steps 5 and 10, dies at 12, on every rank
        train(configs["unet"], progress=False, checkpoint_every=5, callback=interrupt_at(12))
        raise AssertionError("not interrupted")
    except Interrupt:
        pass
    save("unet", train(configs["unet"], progress=False))
    save("pretrained", train(configs["pretrained"], progress=False, callback=never))
    distributed.shutdown()
""")


def _weights(run):
    return {s: d.state_dict() for s, d in run.snapshots.items()}


def test_world_from_the_launch_environment(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    w = distributed.world()
    assert (w.rank, w.size, w.local_rank, w.is_main, w.distributed) == (0, 1, 0, True, False)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    w = distributed.world()
    assert (w.rank, w.size, w.local_rank, w.is_main, w.distributed) == (3, 4, 1, False, True)
    assert distributed.device_for(torch.device("cuda"), w) == torch.device("cuda", 1)
    assert distributed.device_for(torch.device("cpu"), w) == torch.device("cpu")
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(RuntimeError, match="RANK=4, WORLD_SIZE=4"):
        distributed.world()


def test_shard_splits_the_global_batch_into_contiguous_slices():
    assert distributed.shard(16, distributed.World()) == slice(0, 16)
    parts = [distributed.shard(12, distributed.World(r, 3, r)) for r in range(3)]
    assert parts == [slice(0, 4), slice(4, 8), slice(8, 12)]
    batch = torch.arange(12)
    assert torch.equal(torch.cat([batch[p] for p in parts]), batch)
    with pytest.raises(ValueError, match=r"batch_size must be divisible by the number of "
                                         r"processes \(2\), got 15"):
        distributed.shard(15, distributed.World(1, 2, 1))


def test_indivisible_batch_fails_before_joining_a_process_group(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        train(dataclasses.replace(CONFIGS["mlp"], batch_size=15), progress=False)
    assert not torch.distributed.is_initialized()


def test_single_process_helpers_are_no_ops():
    x = torch.arange(3.0)
    assert distributed.all_reduce_mean(x) is x
    assert distributed.any_true(True, torch.device("cpu")) is True
    assert distributed.broadcast({"a": 1}, torch.device("cpu")) == {"a": 1}
    distributed.barrier()


@pytest.fixture
def one_thread():
    """The workers' thread count in this process too: it is part of a run's cache key."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_two_processes_match_one(tmp_path, monkeypatch, repo_root, one_thread):
    ddp_cache, single_cache, out = tmp_path / "ddp", tmp_path / "single", tmp_path / "out"
    out.mkdir()
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)

    # a single-process run that the launch must load (same key whatever the process count)
    monkeypatch.setenv("DIFFGEN_CACHE", str(ddp_cache))
    pretrained = train(PRETRAINED, progress=False)

    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    configs = {name: c.to_dict() for name, c in CONFIGS.items()}
    configs["pretrained"] = PRETRAINED.to_dict()
    pythonpath = os.pathsep.join([str(repo_root)] + [p for p in os.environ.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    env = dict(os.environ, OMP_NUM_THREADS="1", DIFFGEN_CACHE=str(ddp_cache),
               PYTHONPATH=pythonpath)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(worker), str(out), json.dumps(configs)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    results = {}
    for name in ("mlp", "unet", "unet-uninterrupted", "pretrained"):
        r0, r1 = (torch.load(out / f"{name}-rank{r}.pt", weights_only=True) for r in (0, 1))
        assert r0["world"] == r1["world"] == 2
        # every rank returns the same run
        assert r0["key"] == r1["key"] and r0["step"] == r1["step"] == 20
        assert r0["steps_per_second"] == r1["steps_per_second"]
        assert torch.equal(r0["history"], r1["history"])
        assert r0["weights"].keys() == r1["weights"].keys()
        for step in r0["weights"]:
            for k, v in r0["weights"][step].items():
                assert torch.equal(v, r1["weights"][step][k]), (name, step, k)
        results[name] = r0

    # a launch resumed from a checkpoint is bit-identical to an uninterrupted launch
    resumed, uninterrupted = results["unet"], results["unet-uninterrupted"]
    assert torch.equal(resumed["history"], uninterrupted["history"])
    for step in (10, 20):
        for k, v in uninterrupted["weights"][step].items():
            assert torch.equal(v, resumed["weights"][step][k]), (step, k)

    # the single-process run, loaded by the launch without training
    assert results["pretrained"]["key"] == pretrained.key
    assert torch.equal(results["pretrained"]["history"], pretrained.history)
    for k, v in _weights(pretrained)[20].items():
        assert torch.equal(v, results["pretrained"]["weights"][20][k]), k

    # one finished entry per config, no checkpoint left, under the single-process key
    entries = sorted(p.name for p in (ddp_cache / "train").iterdir())
    assert entries == sorted({run_key(c) for c in (*CONFIGS.values(), PRETRAINED)})
    for entry in entries:
        assert sorted(p.name for p in (ddp_cache / "train" / entry).iterdir()) == [
            "config.json", "run.pt"]

    for name, config in CONFIGS.items():
        ddp = results[name]
        # a single-process call in the launch's cache loads the DDP run without training
        def never(step, seconds):
            raise AssertionError("trained instead of loading the DDP run")
        loaded = train(config, progress=False, callback=never)
        assert loaded.key == ddp["key"] == run_key(config)
        assert torch.equal(loaded.history, ddp["history"])
        for k, v in _weights(loaded)[20].items():
            assert torch.equal(v, ddp["weights"][20][k]), (name, k)

        # the single-process run of the config, in another cache: equal up to summation order
        monkeypatch.setenv("DIFFGEN_CACHE", str(single_cache))
        single = train(config, progress=False)
        monkeypatch.setenv("DIFFGEN_CACHE", str(ddp_cache))
        assert single.key == ddp["key"]
        torch.testing.assert_close(ddp["history"], single.history, rtol=1e-4, atol=1e-6)
        assert sorted(ddp["weights"]) == sorted(single.snapshots)
        for step, weights in _weights(single).items():
            for k, v in weights.items():
                scale = max(v.abs().max().item(), 1e-3)
                diff = (ddp["weights"][step][k] - v).abs().max().item()
                assert diff <= WEIGHT_RTOL * scale, (name, step, k, diff, scale)
        # and it does differ from a run on half the batch: the check can fail
        half = train(dataclasses.replace(config, batch_size=8), progress=False, cache=False)
        out_w = "model.out.weight"
        assert (_weights(half)[20][out_w] - ddp["weights"][20][out_w]).abs().max() > 1e-3

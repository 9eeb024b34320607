"""Training: determinism, resuming, the cache and the config's checks."""

import dataclasses
import time

import pytest
import torch

from diffgen_lib import cache as cache_lib
from diffgen_lib import train as train_module
from diffgen_lib.diffusion import EDMPrecond
from diffgen_lib.runs import TrainConfig, arithmetic_settings, load_cached, run_dir, run_key
from diffgen_lib.optim import ema_beta
from diffgen_lib.train import train

torch.set_num_threads(2)

# Tiny runs: a few ms per step.
TINY = TrainConfig(n_train=40, n_val=20, n_feature=0, channels=8, channel_mult=(1, 2),
                   batch_size=8, max_steps=24, snapshot_steps=(8, 16), device="cpu")
# Every random draw in use: labels with dropout, network dropout, EMA, warmup.
FULL = dataclasses.replace(TINY, labels="class", label_dropout=0.2, dropout=0.1, ema=0.9,
                           lr_warmup_steps=5)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DIFFGEN_CACHE", str(folder))
    return folder


def _weights(run, step=None):
    denoiser = run.snapshots[step or max(run.snapshots)]
    return {k: v.clone() for k, v in denoiser.state_dict().items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_run_contents():
    run = train(TINY, progress=False, cache=False)
    assert sorted(run.snapshots) == [8, 16, 24] and run.complete and run.step == 24
    assert run.history.shape == (24,) and torch.isfinite(run.history).all()
    assert run.sigma_data == pytest.approx(run.splits.sigma_data)
    assert run.steps_per_second > 0 and run.n_classes == 0
    denoiser = run.denoiser
    assert isinstance(denoiser, EDMPrecond) and not denoiser.training
    assert not any(p.requires_grad for p in denoiser.parameters())
    x = run.splits.val.images[:3]
    assert denoiser(x, torch.full((3,), 0.5)).shape == x.shape
    assert not torch.equal(_weights(run, 8)["model.out.weight"], _weights(run, 24)["model.out.weight"])


def test_same_seed_same_weights_other_seed_differs():
    a = train(FULL, progress=False, cache=False)
    b = train(FULL, progress=False, cache=False)
    _assert_same(_weights(a), _weights(b))
    assert torch.equal(a.history, b.history)
    c = train(dataclasses.replace(FULL, seed=1), progress=False, cache=False)
    assert not torch.equal(_weights(a)["model.out.weight"], _weights(c)["model.out.weight"])


def test_global_random_state_untouched():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    train(FULL, progress=False, cache=False)
    assert torch.equal(torch.get_rng_state(), before)


class Interrupt(Exception):
    pass


def _interrupt_at(step_to_stop):
    def callback(step, seconds):
        if step == step_to_stop:
            raise Interrupt
    return callback


@pytest.mark.parametrize("config", [FULL, dataclasses.replace(TINY, model="mlp", mlp_width=32,
                                                              mlp_depth=2, ema=0.8)])
def test_resume_after_interruption_is_bit_identical(config, cache_dir):
    uninterrupted = train(config, progress=False, cache=False)
    with pytest.raises(Interrupt):  # checkpoints at steps 5, 10, 15; dies at 17
        train(config, progress=False, checkpoint_every=5, callback=_interrupt_at(17))
    assert (run_dir(config) / "checkpoint.pt").exists() and load_cached(config) is None
    resumed = train(config, progress=False)
    assert resumed.complete and sorted(resumed.snapshots) == [8, 16, 24]
    for step in (8, 16, 24):
        _assert_same(_weights(uninterrupted, step), _weights(resumed, step))
        _assert_same(uninterrupted.ema_states[step], resumed.ema_states[step])
    assert torch.equal(uninterrupted.history, resumed.history)
    assert not (run_dir(config) / "checkpoint.pt").exists()


def test_max_seconds_stops_and_later_calls_finish_the_same_run():
    config = dataclasses.replace(FULL, max_steps=40, snapshot_steps=(20,))
    uninterrupted = train(config, progress=False, cache=False)
    capped = dataclasses.replace(config, max_seconds=0.25)
    assert run_key(capped) == run_key(config)
    slow = lambda step, seconds: time.sleep(0.02)  # noqa: E731  (at most ~12 steps per call)
    run = train(capped, progress=False, callback=slow)
    calls = 1
    while not run.complete:
        assert run.step < 40 and run.step in run.snapshots
        run = train(capped, progress=False, callback=slow)
        calls += 1
        assert calls < 100
    assert calls >= 3 and run.step == 40
    _assert_same(_weights(uninterrupted), _weights(run))
    _assert_same(_weights(uninterrupted, 20), _weights(run, 20))
    assert sorted(run.snapshots) == [20, 40]


def test_cached_run_loads_fast_and_equal():
    first = train(TINY, progress=False)
    start = time.perf_counter()
    again = train(TINY, progress=False)
    assert time.perf_counter() - start < 0.5
    _assert_same(_weights(first), _weights(again))
    assert sorted(again.snapshots) == [8, 16, 24]
    assert again.steps_per_second == first.steps_per_second
    assert torch.equal(again.history, first.history)


def test_corrupt_cache_entry_is_detected_and_rebuilt():
    first = train(TINY, progress=False)
    path = run_dir(TINY) / "run.pt"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(cache_lib.CorruptCacheEntry):
        cache_lib.read_checked(path)
    with pytest.warns(RuntimeWarning, match="corrupt cache entry"):
        rebuilt = train(TINY, progress=False)
    _assert_same(_weights(first), _weights(rebuilt))
    cache_lib.read_checked(path)  # valid again

    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.warns(RuntimeWarning, match="corrupt cache entry"):
        train(TINY, progress=False)


def test_corrupt_checkpoint_restarts_training():
    config = dataclasses.replace(TINY, max_steps=12, snapshot_steps=())
    reference = train(config, progress=False, cache=False)
    with pytest.raises(Interrupt):
        train(config, progress=False, checkpoint_every=4, callback=_interrupt_at(6))
    checkpoint = run_dir(config) / "checkpoint.pt"
    checkpoint.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="unusable training checkpoint"):
        run = train(config, progress=False)
    _assert_same(_weights(reference), _weights(run))


def test_cache_key_follows_results_not_root():
    key = run_key(TINY)
    assert run_key(dataclasses.replace(TINY)) == key
    assert run_key(dataclasses.replace(TINY, root="/some/where")) == key
    assert run_key(dataclasses.replace(TINY, max_seconds=5.0)) == key
    if not torch.cuda.is_available():
        assert run_key(dataclasses.replace(TINY, device="auto")) == key
    for change in (dict(seed=1), dict(lr=1e-3), dict(channels=16), dict(max_steps=30),
                   dict(snapshot_steps=(4,)), dict(ema=0.99), dict(ema_halflife_kimg=1.0),
                   dict(ema_rampup_ratio=None), dict(n_train=41), dict(P_mean=-1.0),
                   dict(labels="class"), dict(sigma_data=0.5), dict(dataset="mnist5k14")):
        assert run_key(dataclasses.replace(TINY, **change)) != key, change


def test_config_lists_become_tuples():
    config = TrainConfig(channel_mult=[1, 2, 2], snapshot_steps=[5, 10], max_steps=10)
    assert config.channel_mult == (1, 2, 2) and config.snapshot_steps == (5, 10)
    hash(config)


@pytest.mark.parametrize("change, field", [
    (dict(dataset="imagenet"), "dataset"),
    (dict(n_train=0), "n_train"),
    (dict(n_train=1000, n_val=500, n_feature=500), "n_train"),
    (dict(labels="cluster"), "labels"),
    (dict(labels="kmeans", n_clusters=-2), "n_clusters"),
    (dict(n_clusters=5), "n_clusters"),
    (dict(model="transformer"), "model"),
    (dict(channels=0), "channels"),
    (dict(channel_mult=()), "channel_mult"),
    (dict(kernel_size=4), "kernel_size"),
    (dict(norm="batch"), "norm"),
    (dict(label_dropout=0.1), "label_dropout"),
    (dict(labels="class", label_dropout=1.0), "label_dropout"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=2.0), "batch_size"),
    (dict(lr=-1.0), "lr"),
    (dict(ema=1.0), "ema"),
    (dict(ema_halflife_kimg=0.0), "ema_halflife_kimg"),
    (dict(ema_rampup_ratio=-0.1), "ema_rampup_ratio"),
    (dict(max_steps=0), "max_steps"),
    (dict(snapshot_steps=(0,)), "snapshot_steps"),
    (dict(max_steps=10, snapshot_steps=(11,)), "snapshot_steps"),
    (dict(max_seconds=0), "max_seconds"),
    (dict(device="tpu"), "device"),
    (dict(P_std=0.0), "P_std"),
    (dict(sigma_data=-0.5), "sigma_data"),
])
def test_bad_configs_name_the_field(change, field):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field} must be .*, got "):
        TrainConfig(**change)


def test_kmeans_labels_mode():
    config = dataclasses.replace(TINY, labels="kmeans", n_clusters=4, label_dropout=0.1)
    run = train(config, progress=False)
    assert run.n_classes == 4 and run.splits.n_classes == 4 and run.clusters.k == 4
    assert run.splits.val.labels.max() < 4
    assert torch.equal(run.splits.val.labels, run.clusters.assign(run.splits.val.images))
    x = run.splits.val.images[:2]
    sigma = torch.full((2,), 1.0)
    assert run.denoiser(x, sigma, run.splits.val.labels[:2]).shape == x.shape
    assert run.denoiser(x, sigma, None).shape == x.shape
    cached = train(config, progress=False)
    assert torch.equal(cached.splits.train.labels, run.splits.train.labels)
    assert torch.equal(cached.clusters.centroids, run.clusters.centroids)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_cuda_matches_cpu_loosely():
    config = dataclasses.replace(TINY, max_steps=10, snapshot_steps=())
    cpu = train(config, progress=False, cache=False)
    gpu = train(dataclasses.replace(config, device="cuda"), progress=False, cache=False)
    assert next(gpu.denoiser.parameters()).is_cuda
    assert torch.allclose(cpu.history, gpu.history, rtol=0.05, atol=1e-3)
    x = cpu.splits.val.images[:8]
    sigma = torch.full((8,), 0.5)
    out_cpu = cpu.denoiser(x, sigma)
    out_gpu = gpu.denoiser(x.cuda(), sigma.cuda()).cpu()
    assert (out_cpu - out_gpu).abs().max() < 0.05



def test_compile_traces_the_training_network_and_keeps_its_weights(monkeypatch):
    """compile=True trains through torch.compile (here with dynamo's "eager" backend, which traces
    the network without generating code, so the test stays fast and needs no compiler)."""
    calls = []
    real_compile = torch.compile

    def eager_compile(model, **kwargs):
        calls.append(type(model).__name__)
        return real_compile(model, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_compile)
    compiled = train(dataclasses.replace(TINY, compile=True, max_steps=6, snapshot_steps=()), progress=False,
                     cache=False)
    plain = train(dataclasses.replace(TINY, max_steps=6, snapshot_steps=()), progress=False, cache=False)
    assert calls == ["UNet"]
    ref, got = _weights(plain), _weights(compiled)
    assert ref.keys() == got.keys()
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# EMA of the weights



def test_ema_does_not_touch_the_raw_weights():
    """The EMA is computed beside the weights: raw snapshots and losses are bit-identical to a
    run without it (also with dropout and label dropout drawing random numbers)."""
    with_ema = train(FULL, progress=False, cache=False)
    without = train(dataclasses.replace(FULL, ema=None, ema_halflife_kimg=None), progress=False, cache=False)
    assert torch.equal(with_ema.history, without.history)
    for step in (8, 16, 24):
        _assert_same(_weights(with_ema, step), _weights(without, step))
    assert sorted(with_ema.ema_states) == [8, 16, 24] and without.ema_states == {}
    with pytest.raises(KeyError, match="keeps no EMA"):
        without.ema_snapshot(24)
    ema24 = with_ema.ema_snapshot(24).state_dict()
    assert ema24.keys() == _weights(with_ema).keys()
    assert not torch.equal(ema24["model.out.weight"], _weights(with_ema)["model.out.weight"])


def test_ema_snapshots_are_the_running_average(cache_dir):
    """Recompute the EMA from the raw weights of every step: the stored EMA snapshots match, and
    they survive the cache."""
    config = dataclasses.replace(TINY, max_steps=6, snapshot_steps=tuple(range(1, 6)),
                                 ema_halflife_kimg=0.02, ema_rampup_ratio=0.5)
    run = train(config, progress=False)
    params = dict(run.snapshots[1].model.named_parameters())
    ema = {k: run.snapshots[1].state_dict()[f"model.{k}"].clone() for k in params}  # beta = 0 at step 1
    for step in range(2, 7):
        beta = ema_beta(config, (step - 1) * config.batch_size)
        raw = run.snapshots[step].state_dict()
        for k in ema:
            ema[k] = beta * ema[k] + (1 - beta) * raw[f"model.{k}"]
    stored = run.ema_states[6]
    for k, v in ema.items():
        torch.testing.assert_close(stored[k], v, rtol=1e-5, atol=1e-6)
    loaded = load_cached(config)
    _assert_same(loaded.ema_states[6], stored)
    x = run.splits.val.images[:2]
    sig = torch.full((2,), 0.5)
    assert torch.equal(loaded.ema_snapshot(6)(x, sig), run.ema_snapshot(6)(x, sig))



def test_compile_that_gets_gradients_wrong_is_refused(monkeypatch):
    """A compiled network whose gradients differ from eager ones (like inductor's zero gradients
    in the lower U-Net level at batch >= 24 with torch 2.13 on the CPU) stops training in one line."""

    class ZeroGradients(torch.nn.Module):  # the same forward values, no gradient from call `first` on
        def __init__(self, model, first):
            super().__init__()
            self.model, self.calls, self.first = model, 0, first

        def forward(self, *args):
            self.calls += 1
            out = self.model(*args)
            return out.detach() + 0 * out if self.calls >= self.first else out

    for first, step in ((1, 0), (2, 1)):  # wrong from the first call; from the second (as inductor)
        monkeypatch.setattr(torch, "compile", lambda model, **kwargs: ZeroGradients(model, first))
        config = dataclasses.replace(TINY, compile=True, max_steps=6, snapshot_steps=())
        with pytest.raises(train_module.CompileMismatch) as err:
            train(config, progress=False, cache=False)
        message = str(err.value)
        assert "\n" not in message and "wrong gradients" in message and "compile False" in message
        assert "DIFFGEN_COMPILE_BACKEND" in message and f"at step {step}," in message


def test_compile_with_a_correct_backend_passes_the_check(monkeypatch):
    """The check on a real torch.compile (dynamo's aot_eager backend: forward and backward graphs,
    no generated code); the backend is part of the key."""
    monkeypatch.setenv("DIFFGEN_COMPILE_BACKEND", "aot_eager")
    config = TrainConfig(model="mlp", mlp_width=32, mlp_depth=2, n_train=40, n_val=20, n_feature=0,
                         batch_size=32, max_steps=2, device="cpu", compile=True)
    torch._dynamo.reset()
    run = train(config, progress=False, cache=False)
    assert run.step == 2
    key = run_key(config)
    monkeypatch.setenv("DIFFGEN_COMPILE_BACKEND", "eager")
    assert run_key(config) != key
    assert arithmetic_settings("cpu", True)["compile_backend"] == "eager"


def test_cache_key_holds_the_thread_count_and_onednn_precision():
    before = torch.get_num_threads()
    try:
        keys = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            keys.append(run_key(TINY))
    finally:
        torch.set_num_threads(before)
    assert keys[0] != keys[1]
    plain = run_key(TINY)
    torch.backends.mkldnn.fp32_precision = "bf16"
    try:
        assert run_key(TINY) != plain
    finally:
        torch.backends.mkldnn.fp32_precision = "none"
    assert run_key(TINY) == plain


def test_threads_of_a_config_are_its_key_and_its_arithmetic():
    """A config's thread count enters the key as the process's did before, and train() uses it."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = run_key(TINY)
        one = dataclasses.replace(TINY, threads=1)
        assert run_key(one) != two
        assert run_key(dataclasses.replace(TINY, threads=2)) == two  # the same as the process's 2
        torch.set_num_threads(1)
        assert run_key(one) == run_key(TINY)  # 1 thread by config or by process: one key
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads"):
        dataclasses.replace(TINY, threads=-1)


def test_train_many_in_workers_equals_training_here(tmp_path, monkeypatch):
    """Two runs trained side by side in worker processes (one thread each) are bit-identical to the
    same configs trained in this process, and land under the same cache keys."""
    configs = [dataclasses.replace(TINY, threads=1, max_steps=12, snapshot_steps=(6,), seed=s) for s in (0, 1)]
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path / "workers"))
    runs = train_module.train_many(configs, workers=2, progress=False)
    assert all((run_dir(c) / "run.pt").exists() for c in configs)
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path / "here"))
    for config, run in zip(configs, runs):
        here = train(config, progress=False, cache=False)
        assert here.key == run.key
        for step in (6, 12):
            a, b = run.snapshots[step].state_dict(), here.snapshots[step].state_dict()
            for name in a:
                assert torch.equal(a[name], b[name]), (config.seed, step, name)
    assert not torch.equal(runs[0].denoiser.state_dict()[name], runs[1].denoiser.state_dict()[name])


def test_train_many_workers_end_with_their_parent(tmp_path):
    """A worker of train_many gets the parent-death signal: killing the process that started the
    pool (an interrupted chapter kernel) leaves no training process behind."""
    import os
    import signal
    import subprocess
    import sys

    code = ("import os, time, multiprocessing\n"
            "from concurrent.futures import ProcessPoolExecutor\n"
            "from diffgen_lib import train\n"
            "pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'), initializer=train._worker_init)\n"
            "print(pool.submit(os.getpid).result(), flush=True)\n"
            "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(worker, signal.SIGKILL)
        raise AssertionError("the worker outlived its parent")

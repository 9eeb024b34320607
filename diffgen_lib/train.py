"""Training EDM denoisers, with a resumable on-disk cache of the results.

``train(TrainConfig(...))`` trains (or loads) one model and returns a :class:`TrainedRun` with
EDM-preconditioned snapshots of the network at the requested steps. A run is deterministic:
the network is initialized from ``seed``, and every batch (indices, noise levels, noise, label
dropout) is drawn on the CPU from one generator seeded with ``seed``, then moved to the device,
so the same config gives the same batches on every device and bit-identical weights on the CPU.

Launched with ``torchrun --nproc_per_node N`` (see :mod:`diffgen_lib.distributed`), training is
data-parallel (DistributedDataParallel: NCCL on GPUs, each rank on ``cuda:LOCAL_RANK``; gloo on
the CPU). ``batch_size`` stays the global batch: every rank draws the whole batch exactly as a
single process does and trains on its contiguous slice, and DDP averages the gradients, so the
updates equal the single-process ones up to the order of float sums. Rank 0 writes checkpoints
and the finished run, under the same cache key as a single-process run of the config.
"""

from __future__ import annotations

import json
import time
import warnings
from contextlib import contextmanager
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from torch.nn.parallel import DistributedDataParallel

from . import cache as cache_lib
from . import distributed
from .data import Splits
from .diffusion import EDMPrecond, edm_loss, sample_training_sigmas
from .networks import resolve_device
from .optim import FusedAdamStep, ema_beta, ema_state, ema_update, to_cpu
from .runs import (PRECISIONS, TrainConfig, TrainedRun, _prepare_splits, _snapshot, build_network, compile_backend, load_cached,
                   run_dir, run_key)

Tensor = torch.Tensor

# How far compiled gradients may differ from eager ones (relative; see _Trainer.check_compiled):
# float reordering gives ~1e-6 in fp32, bf16 rounding more; a miscompiled gradient is off by ~1.
COMPILE_RTOL = {"fp32": 1e-2, "bf16": 1e-1}
# Checked before each of the first steps of a train() call: inductor's CPU code for the book's
# U-Net (torch 2.13, batch 32) is right on its first call and wrong from the second one on.
COMPILE_CHECKS = 3


class CompileMismatch(RuntimeError):
    """torch.compile's gradients differ from eager ones: training with it would be wrong."""


def autocast(precision: str, device: torch.device):
    """The autocast context of ``precision`` on ``device`` (a no-op for fp32)."""
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


class _Trainer:
    """The mutable state of one training run (network, EMA, Adam, batch generator, history,
    snapshots, step) and one optimization step. ``state_dict`` / ``load_state_dict`` hold all of
    it, so a run restored from a checkpoint continues exactly as it would have.

    In a multi-process launch every rank holds the same state: the same weights (DDP broadcasts
    rank 0's at the start and averages the gradients), the same generator (all ranks draw the
    whole batch) and, after :meth:`sync_history`, the same global-batch loss history.
    """

    def __init__(self, config: TrainConfig, splits: Splits, sigma_data: float, n_classes: int,
                 device: torch.device, world: distributed.World = distributed.World()):
        self.config, self.device, self.n_classes, self.world = config, device, n_classes, world
        self.part = distributed.shard(config.batch_size, world)  # this rank's slice of a batch
        torch.manual_seed(config.seed)  # network initialization (and dropout)
        self.net = build_network(config, splits.image_shape, n_classes).to(device)
        model = self.net
        if world.distributed:  # gradients averaged over the ranks in backward()
            model = DistributedDataParallel(
                self.net, device_ids=[device.index] if device.type == "cuda" else None,
                broadcast_buffers=False)  # the only buffers are constant frequencies
        # torch.compile'd graph for training; the weights (and snapshots) stay in self.net
        self.eager = EDMPrecond(model, sigma_data)
        self.denoiser = (EDMPrecond(torch.compile(model, backend=compile_backend()), sigma_data)
                         if config.compile else self.eager)
        self.autocast = autocast(config.precision, device)
        self.ema = None  # EMA of the parameters (tensors beside self.net's; no RNG is used)
        if config.keeps_ema:
            self.ema = [p.detach().clone() for p in self.net.parameters()]
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr,
                                          fused=True)  # fused: 3x faster than the default on CPU
        self.optimizer_step = FusedAdamStep(self.optimizer)
        self.batches = torch.Generator().manual_seed(config.seed)  # every batch draw, on the CPU
        self.history = torch.zeros(config.max_steps, dtype=torch.float32, device=device)
        self.synced = 0  # history[:synced] holds global-batch means (the rest: this rank's slice)
        self.snapshots: Dict[int, Dict[str, Tensor]] = {}
        self.ema_snapshots: Dict[int, Dict[str, Tensor]] = {}
        self.step = 0
        self.images = splits.train.images.to(device)
        self.labels = splits.train.labels  # on the CPU, indexed there
        self.net.train()

    def draw_batch(self, generator: Optional[torch.Generator] = None):
        """Indices, noise levels, noise and labels (NULL with prob. label_dropout), in this order,
        drawn from ``generator`` (default: the run's); in a multi-process launch this rank's slice."""
        config, batch, gen = self.config, self.config.batch_size, generator or self.batches
        idx = torch.randint(len(self.images), (batch,), generator=gen)
        sigma = sample_training_sigmas(batch, gen, config.P_mean, config.P_std)
        noise = torch.randn((batch,) + tuple(self.images.shape[1:]), generator=gen)
        labels = None
        if self.n_classes:
            labels = self.labels[idx]
            if config.label_dropout > 0:
                drop = torch.rand(batch, generator=gen) < config.label_dropout
                labels = torch.where(drop, torch.full_like(labels, self.n_classes), labels)
        if self.world.distributed:  # the whole batch was drawn; train on this rank's slice
            part = self.part
            idx, sigma, noise = idx[part], sigma[part], noise[part]
            labels = labels[part] if labels is not None else None
        return idx, sigma, noise, labels

    def batch_loss(self, denoiser: EDMPrecond, batch) -> Tensor:
        """The mean EDM loss of ``denoiser`` on a drawn batch."""
        idx, sigma, noise, labels = batch
        device = self.device
        y = self.images.index_select(0, idx.to(device, non_blocking=True))  # = images[idx], faster
        labels = labels.to(device, non_blocking=True) if labels is not None else None
        with self.autocast:
            return edm_loss(denoiser, y, sigma.to(device, non_blocking=True),
                            noise.to(device, non_blocking=True), labels).float().mean()

    def train_step(self) -> None:
        config = self.config
        batch = self.draw_batch()
        if self.world.distributed and config.dropout > 0:  # each rank its own dropout masks,
            torch.manual_seed(int(cache_lib.stable_hash(  # reproducible per step
                [config.seed, self.world.rank, self.step])[:15], 16))
        if config.lr_warmup_steps:
            for group in self.optimizer.param_groups:
                group["lr"] = config.lr * min(1.0, (self.step + 1) / config.lr_warmup_steps)
        loss = self.batch_loss(self.denoiser, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_step()
        if self.ema is not None:
            ema_update(self.ema, list(self.net.parameters()),
                       ema_beta(config, self.step * config.batch_size))
        self.history[self.step] = loss.detach()
        self.step += 1

    def _loss_and_gradients(self, denoiser: EDMPrecond, batch) -> Tuple[Tensor, Dict[str, Tensor]]:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.batch_loss(denoiser, batch)
        loss.backward()
        grads = {name: p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
                 for name, p in self.net.named_parameters()}
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach(), grads

    def compiled_gradient_error(self) -> Tuple[float, str]:
        """(relative difference, where) of the compiled network's loss and gradients against the
        eager network's, with the current weights on the run's first batch; the largest over the
        loss and each parameter.

        A parameter's difference is relative to the larger of its two gradient norms, floored
        at 1e-3 of the largest gradient norm (so tiny gradients do not count). Dropout would draw
        other masks in compiled code, so with dropout both run in eval mode (one more compile).
        """
        batch = self.draw_batch(torch.Generator().manual_seed(self.config.seed))
        self.net.train(self.config.dropout == 0)
        try:
            (loss_e, grads_e), (loss_c, grads_c) = (self._loss_and_gradients(d, batch)
                                                    for d in (self.eager, self.denoiser))
        finally:
            self.net.train()
        floor = 1e-3 * max(float(g.norm()) for g in grads_e.values()) + 1e-30
        worst = (abs(float(loss_c - loss_e)) / max(abs(float(loss_e)), 1e-30), "the loss")
        for name, ge in grads_e.items():
            gc = grads_c[name]
            scale = max(float(ge.norm()), float(gc.norm()), floor)
            worst = max(worst, (float((gc - ge).norm()) / scale, f"the gradient of {name}"))
        return worst

    def check_compiled(self) -> None:
        """Refuse a torch.compile that gets this network's gradients wrong (seen with inductor on
        the CPU: zero gradients in the lower U-Net level while the loss still falls). Changes
        no weight, optimizer state or random state."""
        error, where = self.compiled_gradient_error()
        tolerance = COMPILE_RTOL[self.config.precision]
        if distributed.any_true(error > tolerance, self.device):  # every rank stops together
            raise CompileMismatch(
                f"torch.compile (backend {compile_backend()!r}) computes wrong gradients for this "
                f"network on {self.device.type}: {where} differs from eager by {error:.3g} (relative, "
                f"tolerance {tolerance:g}) at step {self.step}, so training would be silently "
                f"wrong; train without it (compile False) or with another backend "
                f"(DIFFGEN_COMPILE_BACKEND=aot_eager)")

    def current_weights(self) -> Dict[str, Tensor]:
        """The raw weights, a CPU copy."""
        return to_cpu(self.net.state_dict())

    def take_snapshot(self) -> None:
        """Keep the raw (and EMA) weights of the current step."""
        self.snapshots[self.step] = self.current_weights()
        if self.ema is not None:
            self.ema_snapshots[self.step] = ema_state(self.net, self.ema)

    def sync_history(self) -> None:
        """Average the losses of the steps since the last call over the ranks (a collective:
        every rank calls it at the same step; a no-op for a single process)."""
        if self.world.distributed and self.synced < self.step:
            span = slice(self.synced, self.step)
            self.history[span] = distributed.all_reduce_mean(self.history[span])
            self.synced = self.step

    def check_finite(self, last: int) -> Tensor:
        self.sync_history()
        recent = self.history[max(0, self.step - last):self.step]
        if not torch.isfinite(recent).all():
            raise FloatingPointError(f"training loss is not finite at step {self.step}; "
                                     f"try a smaller TrainConfig.lr (now {self.config.lr})")
        return recent

    def state_dict(self) -> dict:
        if self.synced < self.step and self.world.distributed:
            raise RuntimeError("sync_history() before saving a multi-process run")
        cuda = self.device.type == "cuda"
        return {"step": self.step, "model": to_cpu(self.net.state_dict()),
                "ema": [t.detach().to("cpu", copy=True) for t in self.ema] if self.ema is not None else None,
                "ema_snapshots": dict(self.ema_snapshots),
                "optimizer": self.optimizer.state_dict(), "generator": self.batches.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None,
                "history": self.history[:self.step].cpu(), "snapshots": dict(self.snapshots),
                "config": json.dumps(self.config.to_dict(), sort_keys=True)}

    def load_state_dict(self, state: dict) -> None:
        # The checkpoint lives under the run's key, so it is of this config and this source.
        self.net.load_state_dict(state["model"])
        if self.ema is not None:
            for t, saved in zip(self.ema, state["ema"], strict=True):
                t.copy_(saved)
            self.ema_snapshots = dict(state["ema_snapshots"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.optimizer_step.reset()
        self.batches.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state["cuda_rng"] is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.step = self.synced = int(state["step"])
        self.history[:self.step] = state["history"].to(self.device)
        self.snapshots = dict(state["snapshots"])


StepCallback = Callable[[int, float], None]  # (steps done, seconds in this call)


@contextmanager
def _threads(config: TrainConfig):
    """Torch's thread count set to ``config.threads`` for the call (CPU runs that name one): the
    run's own arithmetic, part of its key."""
    if resolve_device(config.device).type != "cpu" or not config.threads or config.threads == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _cached_run(config: TrainConfig, device: torch.device, world: distributed.World) -> Optional[TrainedRun]:
    """The finished run from the cache (rank 0 reads first and removes a corrupt entry; every rank
    then loads it), or None on every rank."""
    cached = load_cached(config) if world.is_main else None
    if not distributed.broadcast(cached is not None, device):
        return None
    if cached is None:
        cached = load_cached(config)
    if cached is None:
        raise RuntimeError(f"rank {world.rank} cannot read the cached run {run_key(config)}")
    return cached


def _resumed_trainer(config, splits, sigma_data, n_classes, device, world, checkpoint) -> "_Trainer":
    """A new :class:`_Trainer`, continued from ``checkpoint`` when it holds a usable one (every
    rank reads it and resumes at its step; an unusable one is removed and training starts over)."""
    trainer = _Trainer(config, splits, sigma_data, n_classes, device, world)
    if checkpoint is None:
        return trainer
    problem = None
    if checkpoint.exists():
        try:
            trainer.load_state_dict(cache_lib.read_checked(checkpoint))
        except (cache_lib.CorruptCacheEntry, KeyError, RuntimeError, ValueError) as exc:
            problem = exc
    if distributed.any_true(problem is not None, device):
        warnings.warn(f"unusable training checkpoint, starting over: {problem}", RuntimeWarning, stacklevel=3)
        if world.is_main:
            checkpoint.unlink(missing_ok=True)
        trainer = _Trainer(config, splits, sigma_data, n_classes, device, world)
    if distributed.broadcast(trainer.step, device) != trainer.step:
        raise RuntimeError(f"rank {world.rank} resumed at another step than rank 0")
    return trainer


def _over_time(config: TrainConfig, start: float, world: distributed.World, device) -> bool:
    """Whether ``max_seconds`` has run out (every rank stops at the same step)."""
    if config.max_seconds is None:
        return False
    over = time.perf_counter() - start >= config.max_seconds
    return distributed.any_true(over, device) if world.distributed else over


def _run_loop(trainer: "_Trainer", checkpoint, checkpoint_every: Optional[int], checkpoint_seconds: float,
              callback: Optional[StepCallback], progress: bool) -> tuple:
    """Train until ``max_steps`` or ``max_seconds``: snapshots, finiteness checks, progress,
    checkpoints and the callback after each step. Returns (complete, steps per second)."""
    from .progress import progress_bar

    config, world, device = trainer.config, trainer.world, trainer.device
    snapshot_steps = set(config.snapshot_steps) | {config.max_steps}
    bar = progress_bar(total=config.max_steps, initial=trainer.step, disable=not (progress and world.is_main),
                       desc=f"train {config.model} {config.dataset}", leave=False)
    start_step = trainer.step
    start = last_checkpoint = time.perf_counter()
    complete = True
    while trainer.step < config.max_steps:
        if _over_time(config, start, world, device):
            complete = False
            break
        if config.compile and trainer.step - start_step < COMPILE_CHECKS:
            trainer.check_compiled()
        trainer.train_step()
        step = trainer.step
        if step in snapshot_steps:
            trainer.take_snapshot()
        if step % 50 == 0 or step == config.max_steps:
            recent = trainer.check_finite(50)
            bar.update(step - bar.n)
            if progress:
                bar.set_postfix(loss=f"{recent.mean().item():.4f}")
        if checkpoint is not None and step < config.max_steps and (
                step % checkpoint_every == 0 if checkpoint_every
                else time.perf_counter() - last_checkpoint > checkpoint_seconds
                and (not world.distributed or step % 50 == 0)):  # history synced there
            trainer.sync_history()
            if world.is_main:
                cache_lib.write_checked(checkpoint, trainer.state_dict())
            last_checkpoint = time.perf_counter()
        if callback is not None:
            callback(step, time.perf_counter() - start)
    bar.close()
    trainer.sync_history()
    seconds = time.perf_counter() - start
    ran = trainer.step - start_step
    steps_per_second = ran / seconds if ran and seconds > 0 else float("nan")
    return complete, distributed.broadcast(steps_per_second, device)  # rank 0's clock


def _store_finished(entry, trainer: "_Trainer", sigma_data: float, clusters, steps_per_second: float) -> None:
    """Write a finished run into its cache folder (rank 0) and drop its checkpoint."""
    config = trainer.config
    cache_lib.write_checked(entry / "run.pt", {
        "snapshots": dict(trainer.snapshots), "ema_snapshots": dict(trainer.ema_snapshots),
        "history": trainer.history.cpu(), "step": trainer.step,
        "sigma_data": sigma_data, "steps_per_second": steps_per_second,
        "centroids": clusters.centroids if clusters is not None else None,
        "config": json.dumps(config.to_dict(), sort_keys=True)})
    (entry / "config.json").write_text(json.dumps(config.to_dict(), indent=1, sort_keys=True))
    (entry / "checkpoint.pt").unlink(missing_ok=True)


def train(config: TrainConfig = TrainConfig(), progress: bool = True, *, cache: bool = True,
          checkpoint_every: Optional[int] = None, checkpoint_seconds: float = 60.0,
          callback: Optional[StepCallback] = None) -> TrainedRun:
    """Train ``config`` (Adam, EDM loss), or load it from the cache, and return the run.

    With ``cache``: a finished run is loaded; an unfinished one resumes from its checkpoint,
    written every ``checkpoint_every`` steps or else every ``checkpoint_seconds`` seconds, and
    when ``max_seconds`` stops the run. Resuming gives bit-identical weights on the CPU.
    ``callback(step, seconds)`` runs after every step (it may raise to interrupt training; the
    last checkpoint stays). The global torch RNG is left as it was.

    Under ``torchrun`` every rank calls this with the same arguments and gets the same run;
    rank 0 alone writes the cache (the others wait for it). ``batch_size`` must be divisible by
    the number of processes. Time-based checkpoints are taken at multiples of 50 steps there,
    and ``max_seconds`` costs one tiny all-reduce per step (all ranks stop at the same step).
    Network dropout draws its masks per rank, so with ``dropout > 0`` a multi-process run
    matches the single-process one only in distribution.
    """
    config.validate()
    with _threads(config):
        world = distributed.world()
        distributed.shard(config.batch_size, world)  # ValueError before any process waits
        key = run_key(config)
        device = distributed.device_for(resolve_device(config.device), world)
        world = distributed.init(device)
        entry = cache_lib.cache_dir() / "train" / key if cache else None
        if entry is not None:
            cached = _cached_run(config, device, world)
            if cached is not None:
                return cached
        splits, clusters = _prepare_splits(config)
        sigma_data = float(config.sigma_data or splits.sigma_data)
        n_classes = splits.n_classes if config.conditional else 0
        checkpoint = entry / "checkpoint.pt" if entry is not None else None
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            trainer = _resumed_trainer(config, splits, sigma_data, n_classes, device, world, checkpoint)
            complete, steps_per_second = _run_loop(trainer, checkpoint, checkpoint_every, checkpoint_seconds,
                                                   callback, progress)
            if not complete:
                if checkpoint is not None and world.is_main:
                    cache_lib.write_checked(checkpoint, trainer.state_dict())
                if trainer.step not in trainer.snapshots:
                    trainer.take_snapshot()  # returned, not a saved snapshot
            if complete and entry is not None and world.is_main:
                _store_finished(entry, trainer, sigma_data, clusters, steps_per_second)
            distributed.barrier()  # the cache is written before any rank goes on
    return TrainedRun(
        config=config, splits=splits, sigma_data=sigma_data,
        snapshots={s: _snapshot(config, splits, n_classes, sigma_data, w, device)
                   for s, w in sorted(trainer.snapshots.items())},
        history=trainer.history[:trainer.step].cpu(), steps_per_second=steps_per_second,
        complete=complete, step=trainer.step, key=key, clusters=clusters, ema_states=dict(trainer.ema_snapshots))


def train_many(configs: Sequence[TrainConfig], workers: Optional[int] = None,
               progress: bool = True) -> list:
    """:func:`train` every config (in order) and return the runs; those not yet in the cache are
    trained first, ``workers`` at a time, each in its own process.

    Independent runs side by side use two CPU cores better than one run on both: the book's
    small networks use a second thread poorly (measured on 2 cores: ten
    8x8 runs in 153 s two at a time with one thread each, against about 365 s one after the other
    with two threads each).
    A config's ``threads`` is the thread count it trains with wherever it trains, so a run trained
    in a worker is the same, bit for bit and by key, as the same config trained in this process.
    ``workers`` defaults to this process's torch thread count divided by the largest ``threads``
    of the CPU runs to train (one at a time for GPU runs, or for runs with ``threads`` 0).
    """
    configs = list(configs)
    todo = list({run_key(c): c for c in configs if not (run_dir(c) / "run.pt").exists()}.values())
    cpu = [c for c in todo if resolve_device(c.device).type == "cpu" and c.threads > 0]
    if workers is None:
        workers = torch.get_num_threads() // max(c.threads for c in cpu) if cpu else 1
    workers = max(1, min(int(workers), len(cpu)))
    if workers > 1 and not distributed.world().distributed:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from .progress import progress_bar

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_worker_init) as pool:
            futures = [pool.submit(_train_in_worker, c.to_dict()) for c in cpu]
            for future in progress_bar(as_completed(futures), total=len(futures), disable=not progress,
                                       desc=f"train {len(cpu)} runs, {workers} at a time", leave=False):
                future.result()
    return [train(c, progress=progress) for c in configs]


def _worker_init() -> None:
    """A :func:`train_many` worker ends with the process that started it (Linux: the parent-death
    signal), so an interrupted build leaves no training behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the pool's own shutdown still ends the workers
        pass


def _train_in_worker(config: dict) -> None:
    """A :func:`train_many` worker: train one config into the cache, with its own thread count."""
    config = TrainConfig.from_dict(config)
    torch.set_num_threads(config.threads)
    train(config, progress=False)

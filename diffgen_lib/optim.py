"""The optimizer step and the EMA of the weights that training uses (:mod:`diffgen_lib.train`):
a fused Adam step without Python bookkeeping (:class:`FusedAdamStep`) and EDM's EMA schedule
(:func:`ema_beta`, :func:`ema_update`, :func:`ema_state`)."""

from __future__ import annotations

from typing import Dict, Sequence

import torch
from torch import nn

from .runs import TrainConfig

Tensor = torch.Tensor


def to_cpu(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """A detached CPU copy of a state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}



class FusedAdamStep:
    """``optimizer.step()`` of a fused :class:`torch.optim.Adam` without its per-step Python
    bookkeeping (about 0.5 ms a step for the MLP, ~10% of its step on two CPU cores).

    It runs the kernel Adam runs, ``torch._fused_adam_``, on Adam's own state tensors with the
    group's current hyperparameters, so the weights and the optimizer state (and its
    ``state_dict``) are bit-identical to ``optimizer.step()``. The per-parameter step counters
    become views of one tensor, so one ``add_`` advances them all. The first step, any step
    after :meth:`reset` (e.g. after ``load_state_dict``) and any step where a parameter has no
    gradient go through ``optimizer.step()`` itself.
    """

    def __init__(self, optimizer: torch.optim.Adam):
        self.optimizer = optimizer
        self.bound = None  # (params, exp_avgs, exp_avg_sqs, steps, all steps in one tensor)

    def reset(self) -> None:
        self.bound = None

    def _bind(self) -> None:
        (group,) = self.optimizer.param_groups
        params = list(group["params"])
        state = self.optimizer.state
        if not (group["fused"] and not group["amsgrad"] and not group["maximize"]
                and not group.get("decoupled_weight_decay", False)
                and all(len(state[p]) > 0 for p in params)):
            return
        counters = torch.stack([state[p]["step"] for p in params])
        for i, p in enumerate(params):
            state[p]["step"] = counters[i]
        self.bound = (params, [state[p]["exp_avg"] for p in params],
                      [state[p]["exp_avg_sq"] for p in params],
                      [state[p]["step"] for p in params], counters)

    def __call__(self) -> None:
        if self.bound is not None:
            params, exp_avgs, exp_avg_sqs, steps, counters = self.bound
            grads = [p.grad for p in params]
            if all(g is not None for g in grads):
                group = self.optimizer.param_groups[0]
                beta1, beta2 = group["betas"]
                with torch.no_grad():
                    counters.add_(1)
                    torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps,
                                       lr=group["lr"], beta1=beta1, beta2=beta2,
                                       weight_decay=group["weight_decay"], eps=group["eps"],
                                       amsgrad=False, maximize=False)
                return
        self.optimizer.step()
        if self.bound is None:
            self._bind()


# ----------------------------------------------------------------------------------------------
# EMA of the weights (EDM's schedule), kept beside the raw weights


def ema_beta(config: TrainConfig, images_seen: int) -> float:
    """The EMA decay of the step after ``images_seen`` training images (EDM, Karras et al. 2022):
    ``config.ema`` when set, else beta = 0.5 ** (batch_size / h) with the half-life
    h = ema_halflife_kimg * 1000 images, capped at ema_rampup_ratio * images_seen. With the
    ramp-up the first step's beta is 0 (the EMA starts at the weights after one step)."""
    if config.ema is not None:
        return float(config.ema)
    if config.ema_halflife_kimg is None:
        raise ValueError("config keeps no EMA (ema_halflife_kimg and ema are None)")
    halflife = config.ema_halflife_kimg * 1000.0
    if config.ema_rampup_ratio is not None:
        halflife = min(halflife, images_seen * config.ema_rampup_ratio)
    return 0.5 ** (config.batch_size / max(halflife, 1e-8))


def ema_update(ema: Sequence[Tensor], params: Sequence[Tensor], beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * params, in place (floating-point tensors only)."""
    with torch.no_grad():
        torch._foreach_lerp_(list(ema), list(params), 1.0 - beta)


def ema_state(net: nn.Module, ema: Sequence[Tensor]) -> Dict[str, Tensor]:
    """``net``'s state dict with its parameters replaced by the EMA tensors (buffers as they are),
    a CPU copy."""
    names = [name for name, _ in net.named_parameters()]
    state = net.state_dict()
    state.update(dict(zip(names, ema)))
    return to_cpu(state)

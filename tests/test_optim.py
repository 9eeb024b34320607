"""The fused Adam step and the EMA of the weights (diffgen_lib.optim)."""

import dataclasses

import pytest
import torch

from diffgen_lib.optim import FusedAdamStep, ema_beta, ema_state, ema_update
from diffgen_lib.runs import TrainConfig

CONFIG = TrainConfig(batch_size=8)


def test_fused_adam_shortcut_matches_adam_step_bit_for_bit():
    """The trainer's optimizer shortcut runs Adam's own fused kernel: same weights and state."""

    def run(shortcut: bool):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.SiLU(), torch.nn.Linear(16, 3))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)
        step = FusedAdamStep(opt) if shortcut else opt.step
        gen = torch.Generator().manual_seed(1)
        for _ in range(7):
            x = torch.randn(32, 6, generator=gen)
            opt.zero_grad(set_to_none=True)
            net(x).pow(2).mean().backward()
            step()
        return net.state_dict(), opt.state_dict()

    (w_ref, s_ref), (w_new, s_new) = run(False), run(True)
    for k in w_ref:
        assert torch.equal(w_ref[k], w_new[k]), k
    for i, state in s_ref["state"].items():
        for name, value in state.items():
            assert torch.equal(value, s_new["state"][i][name]), (i, name)


def test_ema_of_a_constant_parameter_is_that_constant():
    const = torch.full((3, 4), 0.7321)
    ema = [const.clone()]
    for beta in (0.0, 0.3, 0.9, 0.999):
        ema_update(ema, [const], beta)
        assert torch.equal(ema[0], const)
    start = [torch.zeros(5)]  # from elsewhere it converges to the constant geometrically
    for _ in range(200):
        ema_update(start, [torch.full((5,), 2.0)], 0.9)
    torch.testing.assert_close(start[0], torch.full((5,), 2.0), rtol=0, atol=2 * 0.9 ** 200 + 1e-6)


def test_ema_update_matches_the_formula():
    gen = torch.Generator().manual_seed(0)
    ema, params = torch.randn(10, generator=gen), torch.randn(10, generator=gen)
    expected = 0.95 * ema + 0.05 * params
    moved = [ema.clone()]
    ema_update(moved, [params], 0.95)
    torch.testing.assert_close(moved[0], expected, rtol=1e-6, atol=1e-7)


def test_ema_beta_follows_edm():
    config = dataclasses.replace(CONFIG, ema_halflife_kimg=0.5, ema_rampup_ratio=0.05)  # batch 8
    assert ema_beta(config, 0) == 0.0  # ramp-up: the EMA starts at the weights after one step
    assert ema_beta(config, 1000) == pytest.approx(0.5 ** (8 / 50))   # ramp-up binds: 0.05 * 1000
    assert ema_beta(config, 10 ** 6) == pytest.approx(0.5 ** (8 / 500))  # the half-life binds
    assert ema_beta(dataclasses.replace(config, ema_rampup_ratio=None), 0) == pytest.approx(0.5 ** (8 / 500))
    assert ema_beta(dataclasses.replace(config, ema=0.9), 123) == 0.9
    with pytest.raises(ValueError, match="no EMA"):
        ema_beta(dataclasses.replace(config, ema_halflife_kimg=None), 0)


def test_ema_state_replaces_only_parameters():
    net = torch.nn.BatchNorm1d(3)  # parameters weight, bias; buffers running_mean, ...
    ema = [torch.full((3,), 5.0), torch.full((3,), -1.0)]
    state = ema_state(net, ema)
    assert torch.equal(state["weight"], ema[0]) and torch.equal(state["bias"], ema[1])
    assert torch.equal(state["running_var"], net.running_var)

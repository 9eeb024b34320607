"""The shared run definitions (diffgen_lib/experiments.py): model presets, the keyword arguments
that scale the runs up, and the `gpu` profile of book/profiles.yml, which must validate against
every chapter's spec and make chapters 04-06 reuse the runs of chapter 03."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from diffgen_lib import book
from diffgen_lib.studies import experiments, run_parameters
from diffgen_lib.runs import TrainConfig, build_network, run_key

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = [s for s in book.toc_chapters(ROOT) if s not in book.AGGREGATE_PAGES]
RUN_CHAPTERS = ["03_training_gap", "04_inference_gap", "05_trajectories", "06_factors"]
# Chapter parameters that define a shared run or the shared training-gap curves.
RUN_PARAMS = tuple(run_parameters.SPECS)


def test_default_runs_are_unchanged_by_the_new_arguments():
    """gap_run() still builds the config it built before model/batch_size/precision/compile existed
    (with the book's thread count per run, :func:`experiments.run_threads`)."""
    before = TrainConfig(dataset="digits", n_train=300, n_val=500, n_feature=500, labels="none",
                         n_clusters=0, channels=32, max_steps=1500,
                         snapshot_steps=experiments.snapshot_schedule(1500), label_dropout=0.0,
                         seed=0, device="auto", root=None, threads=experiments.run_threads())
    explicit = dict(model="small", batch_size=64, precision="fp32", compile=False)
    assert experiments.gap_run() == before
    assert experiments.gap_run(**explicit) == before
    assert run_key(experiments.gap_run(**explicit)) == run_key(before)
    cond = experiments.gap_run(labels="class", **explicit)
    assert run_key(cond) == run_key(experiments.gap_run(labels="class"))
    assert cond.label_dropout == experiments.CFG_LABEL_DROPOUT
    widths = experiments.width_runs([8, 16, 32], **explicit)
    assert {w: run_key(c) for w, c in widths.items()} == {
        w: run_key(c) for w, c in experiments.width_runs([8, 16, 32]).items()}
    assert widths[32] == before
    assert experiments.size_runs([300], **explicit)[300] == before


def test_small_preset_is_the_train_config_default():
    defaults = TrainConfig()
    for field, value in experiments.MODEL_PRESETS["small"].items():
        assert getattr(defaults, field) == value, field


def test_new_arguments_reach_the_config_and_its_key():
    base = experiments.gap_run()
    for kwargs in (dict(batch_size=128), dict(precision="bf16"), dict(compile=True), dict(model="ddpmpp")):
        config = experiments.gap_run(**kwargs)
        assert run_key(config) != run_key(base), kwargs
    big = experiments.gap_run(model="ddpmpp", batch_size=256, precision="bf16", compile=True)
    assert (big.batch_size, big.precision, big.compile) == (256, "bf16", True)
    assert (big.channel_mult, big.num_blocks, big.attention) == ((2, 2, 2), 4, True)
    # overrides still win over the preset
    assert experiments.gap_run(model="ddpmpp", num_blocks=2).num_blocks == 2


def test_unknown_preset_and_bad_values_are_rejected():
    with pytest.raises(ValueError, match="ddpmpp"):
        experiments.gap_run(model="huge")
    with pytest.raises(ValueError, match="precision"):
        experiments.gap_run(precision="fp16")
    with pytest.raises(ValueError, match="batch_size"):
        experiments.gap_run(batch_size=0)


@pytest.mark.parametrize("name", sorted(experiments.MODEL_PRESETS))
def test_presets_build_valid_configs_and_networks(name):
    # TrainConfig validates the split sizes against the dataset's size without loading it
    config = experiments.gap_run(dataset="cifar10", n_train=40000, n_val=10000, n_feature=10000,
                                 model=name, channels=8, steps=100)
    torch.manual_seed(0)
    net = build_network(config, (3, 32, 32), n_classes=0)
    x = torch.randn(2, 3, 32, 32)
    out = net(x, torch.zeros(2))
    assert out.shape == x.shape and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="n_train"):
        experiments.gap_run(dataset="cifar10", n_train=40001, n_val=10000, n_feature=10000, model=name)


def test_ddpmpp_preset_has_the_documented_size():
    """44.8M parameters at channels 128 (EDM's CIFAR-10 DDPM++: 56M), as the preset says."""
    config = experiments.gap_run(dataset="cifar10", n_train=10000, model="ddpmpp", channels=128)
    with torch.device("meta"):
        net = build_network(config, (3, 32, 32), n_classes=0)
    n = sum(p.numel() for p in net.parameters())
    assert round(n / 1e6, 1) == 44.8, n
    small = sum(p.numel() for p in build_network(experiments.gap_run(), (1, 8, 8), 0).parameters())
    assert round(small / 1e6, 2) == 0.38, small


def test_load_size_runs_passes_n_eval(monkeypatch):
    calls = []
    monkeypatch.setattr(experiments, "train", lambda c: c)
    monkeypatch.setattr(experiments.evaluation, "gap_curves", lambda c, n_eval=200: calls.append(n_eval))
    configs, _, _ = experiments.load_size_runs([150, 300], n_eval=700, model="small", batch_size=32)
    assert calls == [700, 700]
    assert configs[300] == experiments.gap_run(batch_size=32)
    calls.clear()
    params = dict(
        dataset="digits", n_train=300, channels=32, steps=1500, seed=7, device="auto", n_val=500,
        n_feature=500, model="small", batch_size=64, precision="fp32", compile=False, size_map=[150, 300],
        n_eval=90)
    configs, _, _ = experiments.load_size_runs(sorted(set(params["size_map"]) | {params["n_train"]}), params["n_eval"],
                                               **experiments.run_kwargs(params, exclude=("n_train", "seed")))
    assert calls == [90, 90] and sorted(configs) == [150, 300]
    assert configs[300] == experiments.gap_run()  # the chapter's seed seeds its samples, not the runs


# ---------------------------------------------------------------------------------------------
# the gpu profile
# ---------------------------------------------------------------------------------------------


def _profile(name: str = "gpu") -> dict:
    return yaml.safe_load((ROOT / "book" / "profiles.yml").read_text(encoding="utf-8"))[name]


def _values(stem: str, profile: str | None) -> dict:
    """A chapter's parameter values: its defaults, then the profile's (validated) values."""
    specs = book.parse_spec(stem, ROOT / "book")
    values = {name: spec.default for name, spec in specs.items()}
    if profile:
        values.update(book.validate(stem, specs, book.load_profile(profile, stem, specs, ROOT)))
    return values


def test_gpu_profile_has_every_chapter_and_validates():
    profile = _profile()
    claim_chapters = [s for s in CHAPTERS if s != "07_check_your_model"]  # the check page runs on a book run
    assert sorted(profile) == sorted(claim_chapters)
    for stem in claim_chapters:
        specs = book.parse_spec(stem, ROOT / "book")
        values = book.load_profile("gpu", stem, specs, ROOT)  # raises ParamError on a bad value
        assert values, stem
        book.validate(stem, specs, values)
        if "device" in specs:
            assert values.get("device") == "cuda", stem


@pytest.mark.parametrize("profile", [None, "gpu", "long"])
def test_run_defining_parameters_agree_across_chapters(profile):
    values = {stem: _values(stem, profile) for stem in RUN_CHAPTERS}
    for name in RUN_PARAMS:
        seen = {stem: v[name] for stem, v in values.items()}
        assert len({repr(v) for v in seen.values()}) == 1, (name, seen)
    if profile:
        v3, v4, v5, v6 = (values[s] for s in RUN_CHAPTERS)
        assert v4["size_map"] == v5["size_map"] == v3["size_trains"] == v6["table_sizes"]
        assert v6["table_widths"] == v3["widths"]
        assert v4["n_samples"] == v5["n_samples"], "the trajectory chapter reads the inference chapter's samples"
    v4, v5 = values["04_inference_gap"], values["05_trajectories"]
    assert v4["scale2_sampler_steps"] == v5["scale2_sampler_steps"], "the same sampler records at the second scale"


def test_long_profile_moves_the_second_scale_to_28x28():
    profile = _profile("long")
    assert sorted(profile) == sorted(RUN_CHAPTERS)
    for stem in RUN_CHAPTERS:
        specs = book.parse_spec(stem, ROOT / "book")
        values = book.validate(stem, specs, book.load_profile("long", stem, specs, ROOT))
        assert values["scale2_dataset"] == "mnist5k" and values["scale2_steps"] >= 10000
        assert not set(values) & set(RUN_PARAMS) - {"scale2_dataset", "scale2_n_train", "scale2_steps", "scale2_threads",
                                                    "scale2_n_seeds"}, \
            "the 8x8 runs stay the default ones"


def _key(config: TrainConfig) -> TrainConfig:
    """What identifies a run, without resolving the device (the gpu profile asks for CUDA): the
    config itself, with the device type that run_key would resolve."""
    return replace(config, device="cuda" if config.device.startswith("cuda") else "cpu")


def _run_kwargs(v: dict) -> dict:
    return dict(dataset=v["dataset"], steps=v["steps"], device=v["device"], n_val=v["n_val"],
                n_feature=v["n_feature"], model=v["model"], batch_size=v["batch_size"],
                precision=v["precision"], compile=v["compile"])


@pytest.mark.parametrize("profile", [None, "gpu", "long"])
def test_later_chapters_reuse_the_training_gap_runs(profile):
    """The configs chapters 04-06 build (as their code builds them) are among chapter 03's."""
    v3, v4, v5, v6 = (_values(s, profile) for s in RUN_CHAPTERS)
    common = dict(_run_kwargs(v3), seed=v3["seed"])
    ch03 = {_key(experiments.gap_run(n_train=v3["n_train"], channels=v3["channels"], **common)),
            _key(experiments.gap_run(n_train=v3["n_train"], channels=v3["channels"], labels="class",
                                        **common))}
    ch03 |= {_key(c) for c in experiments.width_runs(v3["widths"], n_train=v3["n_train"], **common).values()}
    ch03 |= {_key(c) for c in experiments.size_runs(v3["size_trains"], channels=v3["channels"],
                                                        **common).values()}
    ch03.add(_key(experiments.second_scale_run(v3)))
    ch03 |= {_key(c) for c in experiments.second_scale_size_runs(v3).values()}
    for v in (v4, v5):  # the runs they load, as their code builds them
        configs = experiments.size_runs(sorted(set(v["size_map"]) | {v["n_train"]}),
                                        **experiments.run_kwargs(v, exclude=("n_train", "seed")))
        assert sorted(configs) == sorted(set(v["size_map"]) | {v["n_train"]})
        assert {_key(c) for c in configs.values()} <= ch03
        assert _key(experiments.second_scale_run(v, exclude=("seed",))) in ch03
        sizes2 = experiments.second_scale_size_runs(v, exclude=("seed",))
        assert sorted(sizes2) == sorted({v["scale2_n_train"], *v["scale2_sizes"]})
        assert {_key(c) for c in sizes2.values()} <= ch03
    common6 = dict(_run_kwargs(v6), n_train=v6["n_train"], seed=v6["seed"])
    main6 = experiments.gap_run(channels=v6["channels"], **common6)
    assert _key(main6) in ch03
    assert _key(experiments.gap_run(channels=v6["channels"], labels="class", **common6)) in ch03
    table = list(experiments.width_runs(v6["table_widths"], **common6).values()) + list(
        experiments.size_runs(v6["table_sizes"], channels=v6["channels"],
                              **{k: x for k, x in common6.items() if k != "n_train"}).values())
    assert {_key(c) for c in table} <= ch03
    rf = experiments.second_scale_run(v6)  # the receptive-field run is the second-scale run
    assert _key(rf) in ch03
    if profile == "gpu":  # where the second scale is the main run itself
        assert rf == main6
        assert max(v6["windows"]) == 32  # the whole CIFAR-10 image is the largest window
        # the kmeans runs fit their training sets, the FD references fit the main run
        for k in v6["clusters"]:
            assert k <= v6["n_train"]
        assert v6["n_ref"] * v6["n_subsets"] <= v6["n_train"]
        # the calibrated protocol's train reference is the whole training set (capped at n_ref)
        assert v4["n_ref"] <= v4["n_train"] and v6["calib_ref"] <= v6["n_train"]


def test_shared_runs_are_the_training_gap_chapters_runs():
    """The default parameters give the chapter's 6 distinct runs (width 32 and N=300 are the main run)."""
    specs = book.parse_spec("03_training_gap", ROOT / "book")
    values = {name: spec.default for name, spec in specs.items()}
    runs = experiments.shared_runs(values)
    assert list(runs) == ["main", "width 8", "width 16", "N=150", "N=600", "class-conditional", "second scale",
                          "second scale, N=300", "main, seed 1", "width 8, seed 1", "main, seed 2",
                          "width 8, seed 2", "second scale, seed 1", "second scale, seed 2"]
    assert runs["second scale, seed 2"] == experiments.gap_run(dataset="mnist5k14", n_train=1000, steps=6000, seed=2)
    assert runs["width 8, seed 2"] == experiments.gap_run(channels=8, seed=2)  # width 32, seed 2 is "main, seed 2"
    assert runs["main"] == experiments.gap_run()
    assert runs["width 8"] == experiments.gap_run(channels=8)
    assert runs["N=600"] == experiments.gap_run(n_train=600)
    assert runs["class-conditional"].labels == "class"
    assert runs["second scale"] == experiments.gap_run(dataset="mnist5k14", n_train=1000, steps=6000)
    assert runs["second scale, N=300"] == experiments.gap_run(dataset="mnist5k14", n_train=300, steps=6000)


def test_second_scale_sizes_add_runs_of_the_same_recipe():
    """scale2_sizes adds second-scale runs that differ from the second-scale run in n_train only."""
    values = {"scale2_dataset": "mnist5k14", "scale2_n_train": 1000, "scale2_steps": 6000, "seed": 3,
              **{k: d for k, d in _values("03_training_gap", None).items() if k in experiments.RUN_PARAMETERS
                 and k != "seed"}}
    assert experiments.second_scale_sizes(values) == [1000]  # no scale2_sizes: the run alone
    values["scale2_sizes"] = [300, 1000, 200]
    assert experiments.second_scale_sizes(values) == [200, 300, 1000]
    runs = experiments.second_scale_size_runs(values)
    assert runs[1000] == experiments.second_scale_run(values)
    for n, config in runs.items():
        assert replace(config, n_train=1000) == runs[1000] and config.n_train == n and config.seed == 3
    assert all(c.seed == 0 for c in experiments.second_scale_size_runs(values, exclude=("seed",)).values())


def test_train_command_trains_the_shared_runs_that_chapters_then_load(tmp_path, monkeypatch, capsys):
    from diffgen_lib.book.cli import main
    from diffgen_lib.runs import load_cached

    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    small = ["-p", "n_train", "60", "-p", "channels", "4", "-p", "steps", "50", "-p", "widths", "[4, 8]",
             "-p", "size_trains", "[50, 60]", "-p", "n_val", "40", "-p", "n_feature", "100", "-p", "n_seeds", "1",
             "-p", "scale2_n_train", "60", "-p", "scale2_steps", "50", "-p", "scale2_sizes", "[50]",
             "-p", "scale2_n_seeds", "1"]
    assert main(["train", "training_gap", *small]) == 0
    out = capsys.readouterr().out
    assert "[4/6] class-conditional" in out and "[5/6] second scale\n" in out  # width 4 and N=60 are the main run
    assert "[6/6] second scale, N=50" in out
    specs = book.parse_spec("03_training_gap", ROOT / "book")
    values = {name: spec.default for name, spec in specs.items()} | {
        "n_train": 60, "channels": 4, "steps": 50, "widths": [4, 8], "size_trains": [50, 60],
        "n_val": 40, "n_feature": 100, "n_seeds": 1, "scale2_n_train": 60, "scale2_steps": 50, "scale2_sizes": [50],
        "scale2_n_seeds": 1}
    for config in experiments.shared_runs(values).values():
        assert load_cached(config) is not None
    assert main(["train", "inference_gap"]) == 2  # only the training-gap chapter defines the runs
    assert "03_training_gap" in capsys.readouterr().err


@pytest.mark.parametrize("stem", RUN_CHAPTERS)
def test_shared_run_parameters_are_declared_once(stem):
    """Every chapter that trains or loads the shared runs takes each run parameter's type and range
    from the one declaration (its parameters cell says "run parameter"), so they cannot drift."""
    source = (ROOT / "book" / f"{stem}.py").read_text()
    specs = book.parse_spec(stem)
    for name, declared in run_parameters.SPECS.items():
        line = next(l for l in source.splitlines() if l.startswith(f"{name} = "))
        assert "# run parameter" in line, (stem, name)
        reference = book.params.parse_spec_comment(declared + ": x")
        assert (specs[name].kind, specs[name].low, specs[name].high, specs[name].choices) == (
            reference["kind"], reference.get("low"), reference.get("high"), reference.get("choices")), (stem, name)


def test_run_parameter_declarations_match_the_library():
    from diffgen_lib import data

    assert run_parameters.DATASETS == tuple(data.DATASETS)
    with pytest.raises(book.params.SpecError, match="not a shared run parameter"):
        book.params.parse_spec_source('# %% tags=["parameters"]\nwidth = 3  # run parameter: no such\n')

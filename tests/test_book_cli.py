"""Bad input to the book's command line: clauses of the spec grammar, one-line errors before any
kernel starts, values that start with "-", Ctrl-C, the README's commands and papermill's view of
the parameters cells."""

from __future__ import annotations

import logging
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diffgen_lib import book
from diffgen_lib.book import cli

ROOT = Path(__file__).resolve().parent.parent

HEADER = "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n"

RELATED = HEADER + '''
# %% tags=["parameters"]
dataset = "digits"     # one of {"digits", "mnist5k"}: image dataset
n_val = 500            # int in [0, 5000]: val images
n_train = 300          # int in [1, 5000], at most dataset_size(dataset) - n_val: training images
low = 1.0              # float in [0, 10]: the lower one
high = 2.0             # float in [0, 10], above low: the higher one
weights = [0.0, 1.0]   # list of float in [0, 10], containing 0, sorted: weights
sizes = [100]          # list of int in [1, 5000], at most n_train: sizes
extra = []             # list of int, may be empty: anything
'''


def _specs():
    return book.parse_spec_source(RELATED)


# ---------------------------------------------------------------------------------------------
# the grammar's clauses


def test_clauses_parse_and_show_in_allowed():
    specs = _specs()
    assert specs["n_train"].clauses == (("at most", "dataset_size(dataset) - n_val"),)
    assert specs["n_train"].allowed == "int in [1, 5000], at most dataset_size(dataset) - n_val"
    assert specs["n_train"].help == "training images"
    assert specs["weights"].clauses == (("containing", "0"), ("sorted", ""))
    assert specs["extra"].may_be_empty and not specs["sizes"].may_be_empty
    assert book.parse_spec_comment('one of {"a", "b:c"}, at least 1: x')["clauses"] == (("at least", "1"),)


@pytest.mark.parametrize("comment, message", [
    ("int, sorted: x", "for lists"),
    ("float, containing 0: x", "for lists"),
    ("str, at most 3: x", "numeric type"),
    ("list of int, bigger than 3: x", "unknown clause"),
    ("int in [0, 5], at most (: x", "cannot read the expression"),
])
def test_clause_errors(comment, message):
    with pytest.raises(book.SpecError, match=re.escape(message)):
        book.parse_spec_comment(comment)


def test_clause_names_must_be_parameters():
    src = HEADER + '\n# %% tags=["parameters"]\nn = 1  # int, at most size(m): x\n'
    with pytest.raises(book.SpecError, match=r"<chapter>:8: clause 'at most size\(m\)' of 'n' names m, size"):
        book.parse_spec_source(src)


def test_lists_are_non_empty_unless_the_spec_says_so():
    specs = _specs()
    with pytest.raises(book.ParamError, match=r"^parameter 'sizes' must be list of int in \[1, 5000\], "
                                              r"at most n_train, got \[\] \(an empty list\)$"):
        specs["sizes"].check([])
    assert specs["extra"].check([]) == []


@pytest.mark.parametrize("values, message", [
    ({"n_train": 1500}, "parameter 'n_train' must be int in [1, 5000], at most dataset_size(dataset) - n_val, "
                        "got 1500 (not at most 1297 here)"),
    ({"n_val": 1000, "n_train": 900}, "got 900 (not at most 797 here)"),
    ({"high": 1.0}, "parameter 'high' must be float in [0, 10], above low, got 1.0 (not above 1.0 here)"),
    ({"weights": [1.0, 2.0]}, "got [1.0, 2.0] (does not contain 0)"),
    ({"weights": [0.0, 2.0, 1.0]}, "got [0.0, 2.0, 1.0] (not in increasing order)"),
    ({"sizes": [100, 400]}, "got [100, 400] (element 400 is not at most 300 here)"),
])
def test_relations_between_parameters(values, message):
    with pytest.raises(book.ParamError) as err:
        book.validate("t", _specs(), values)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_relations_pass_and_use_other_values():
    specs = _specs()
    assert book.validate("t", specs, {"dataset": "mnist5k", "n_train": 4500}) == {
        "dataset": "mnist5k", "n_train": 4500}
    assert book.validate("t", specs, {"low": 0.5, "high": 0.6}) == {"low": 0.5, "high": 0.6}


def test_setup_chapter_checks_the_relations(tmp_path):
    src = tmp_path / "t_rel.py"
    src.write_text(RELATED)
    ns = {name: spec.default for name, spec in _specs().items()}
    ns["high"] = 0.5
    with pytest.raises(book.ParamError, match=r"^parameter 'high' must be .*above low, got 0.5"):
        book.setup_chapter("t_rel", ns, source=src)


def test_every_chapter_default_satisfies_its_relations():
    for stem in book.toc_chapters(ROOT):
        specs = book.parse_spec(stem)
        book.check_relations(specs, {name: spec.default for name, spec in specs.items()})


# ---------------------------------------------------------------------------------------------
# the command line on the real chapters: one line, exit 2, within 2 s, nothing executed


def run_cli(*args, env=None):
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "diffgen_lib.book", *args], capture_output=True,
                         text=True, cwd=ROOT, timeout=60, env=env)
    return res, time.monotonic() - t0


@pytest.mark.parametrize("args, must_contain", [
    (["run", "03_training_gap", "-p", "widths", "[]"], ["'widths'", "got [] (an empty list)"]),
    (["run", "01_optimal_denoiser", "-p", "circle_sigmas", "[]"], ["'circle_sigmas'", "an empty list"]),
    (["run", "02_toy_model", "-p", "delta_neg", "1.5"], ["'delta_neg'", "above delta_pos", "got 1.5"]),
    (["run", "06_factors", "-p", "guidance_weights", "[0.5, 1]"], ["'guidance_weights'", "containing 0"]),
    (["run", "06_factors", "-p", "clusters", "[10, 0]"], ["'clusters'", "not in increasing order"]),
    (["run", "03_training_gap", "-p", "n_train", "1000"],
     ["'n_train'", "at most dataset_size(dataset) - n_val - n_feature", "got 1000", "797"]),
    (["run", "01_optimal_denoiser", "-p", "dataset", "mnist5k", "-p", "n_train", "4800"], ["'n_train'", "4700"]),
    (["train", "03_training_gap", "-p", "size_trains", "[300, 900]"], ["'size_trains'", "element 900"]),
    (["run", "03_training_gap", "-p", "steps", "-1e3"], ["'steps'", "int in [50, 10000000]", "got -1e3"]),
    (["run", "01_optimal_denoiser", "-p", "sigma_local", "-inf"], ["'sigma_local'", "float in (0, 80]", "got -inf"]),
    (["run", "03_training_gap", "-p", "lr", "1e-3"], ["unknown parameter 'lr'"]),
])
def test_bad_input_stops_in_one_line_before_any_kernel(args, must_contain):
    res, seconds = run_cli(*args)
    assert res.returncode == 2, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and not res.stdout, res.stderr + res.stdout
    for text in must_contain:
        assert text in lines[0], (text, lines[0])
    assert seconds < 2, seconds


@pytest.mark.parametrize("args", [["run", "03_training_gap", "-p", "device", "cuda"],
                                  ["run", "04_inference_gap", "--profile", "gpu"],
                                  ["train", "03_training_gap", "--profile", "gpu"]])
def test_cuda_without_a_cuda_device_stops_in_one_line(args):
    if cli.cuda_available():
        pytest.skip("this machine has a CUDA device")
    res, seconds = run_cli(*args)
    assert res.returncode == 2, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "parameter 'device'" in lines[0] and "no CUDA device" in lines[0], res.stderr
    assert "got cuda" in lines[0] or "(profile 'gpu')" in lines[0]
    assert seconds < 2, seconds


def test_cuda_check_asks_the_build_then_the_driver(monkeypatch):
    import ctypes

    builds = {"cuda": None, "hip": None}
    monkeypatch.setattr(cli, "_torch_build", builds.get)
    assert cli.cuda_available() is False  # a CPU-only build
    builds["cuda"] = "'12.4'"

    def no_driver(name):
        raise OSError(name)

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", no_driver)
    assert cli.cuda_available() is False

    class Driver:
        def __init__(self, devices):
            self.devices = devices

        def cuInit(self, flags):
            return 0

        def cuDeviceGetCount(self, ref):
            ref._obj.value = self.devices
            return 0

    for devices in (0, 2):
        monkeypatch.setattr(ctypes, "CDLL", lambda name: Driver(devices))
        assert cli.cuda_available() is (devices > 0)


def test_cuda_check_agrees_with_torch():
    import torch

    assert cli.cuda_available() == torch.cuda.is_available()


def test_values_starting_with_a_minus_stay_values():
    rest, pairs = cli.split_params(["run", "x", "-p", "steps", "-1e3", "--no-html", "-p", "s", "-inf"])
    assert rest == ["run", "x", "--no-html"] and pairs == [["steps", "-1e3"], ["s", "-inf"]]
    args = cli.parse_args(["run", "03_training_gap", "-p", "sigma", "-0.5", "--check"])
    assert args.param == [["sigma", "-0.5"]] and args.check


def test_check_validates_without_executing():
    res, _ = run_cli("run", "03_training_gap", "-p", "n_train", "500", "--check")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "check: 03_training_gap with n_train=500: parameters valid, nothing executed"


def test_ctrl_c_prints_one_line_and_exits_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_list", interrupted)
    assert cli.main(["list"]) == 130
    assert capsys.readouterr().err == "interrupted (Ctrl-C)\n"


def test_sigint_in_a_real_process():
    code = ("import time; from diffgen_lib.book import cli\n"
            "def wait(args):\n    print('ready', flush=True); time.sleep(60)\n"
            "cli.cmd_list = wait\nraise SystemExit(cli.main(['list']))\n")
    # a terminal's SIGINT disposition, also when the tests run in a background job (which ignores it)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err == "interrupted (Ctrl-C)\n", err


def test_train_pins_the_threads(monkeypatch):
    import torch

    from diffgen_lib.studies import experiments

    before = torch.get_num_threads()
    monkeypatch.setenv("DIFFGEN_THREADS", "1")
    monkeypatch.setattr(experiments, "shared_runs", lambda values: {})
    try:
        assert cli.main(["train", "03_training_gap", "-p", "steps", "60"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------
# the README's commands and papermill's reading of the parameters cells


def readme_commands() -> list[list[str]]:
    """Every ``... -m diffgen_lib.book ...`` line of the code blocks of README.md and of the book's
    introduction, as argv."""
    text = "\n".join((ROOT / name).read_text(encoding="utf-8") for name in ("README.md", "book/intro.py"))
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            m = re.search(r"\s-m diffgen_lib\.book\s+(.*)", line)  # python, .venv/bin/python, torchrun
            if m:
                commands.append(shlex.split(m.group(1), comments=True))
    return commands


def test_readme_commands_parse_and_validate():
    commands = readme_commands()
    assert len(commands) >= 8 and any(c[0] == "train" for c in commands)
    for argv in commands:
        args = cli.parse_args(argv)
        if args.command in ("run", "train"):
            cli.chapter_parameters(ROOT, args.chapter, args.profile, args.param)  # raises ParamError
        elif args.command == "build":
            for chapter in args.chapters:
                book.resolve_chapter(chapter, ROOT / "book")


@pytest.mark.parametrize("stem", book.toc_chapters(ROOT))
def test_papermill_reads_every_parameters_cell_without_warnings(stem, caplog):
    import papermill

    specs = book.parse_spec(stem)
    with caplog.at_level(logging.WARNING):
        found = papermill.inspect_notebook(str(ROOT / "book" / f"{stem}.ipynb"))
    assert not [r.getMessage() for r in caplog.records if "Unable to parse" in r.getMessage()]
    assert list(found) == list(specs)

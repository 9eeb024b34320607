"""Tests of the book pipeline (diffgen_lib/book/), the chapters' conventions and the HTML build."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diffgen_lib import book
from diffgen_lib.book import cli as book_cli

ROOT = Path(__file__).resolve().parent.parent

HEADER = """# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---
"""

FIXTURE_CHAPTER = HEADER + '''
# %% [markdown]
# # A test chapter

# %% tags=["parameters"]
n = 5                 # int in [1, 10]: an int
lr = 0.5              # float in (0, 1]: a float
name = "a"            # one of {"a", "b"}: a choice
flag = True           # bool: a flag
steps = [1, 2]        # list of int in [0, 100]: a list of ints
scales = [0.5, 2]     # list of float: floats (ints accepted)
label = "x"           # str: free text
seed = 0              # int in [0, 2**31-1]: master seed

# %%
from pathlib import Path

Path("executed.txt").write_text("yes")
from diffgen_lib.book import setup_chapter

params = setup_chapter("t_chapter", globals())
print(f"n={n} lr={lr} name={name} steps={steps}")
'''


def make_root(tmp_path: Path, chapter: str = FIXTURE_CHAPTER) -> Path:
    """A minimal book: _toc.yml, _config.yml, book/t_chapter.py, diffgen_lib/."""
    root = tmp_path / "root"
    (root / "book").mkdir(parents=True)
    (root / "book" / "t_chapter.py").write_text(chapter)
    (root / "book" / "intro.md").write_text("# Intro\n")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/t_chapter\n"
    )
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    shutil.copy(ROOT / "book" / "references.bib", root / "book" / "references.bib")
    shutil.copytree(ROOT / "book" / "_ext", root / "book" / "_ext")  # _config.yml's local extension
    (root / "diffgen_lib").mkdir()
    (root / "diffgen_lib" / "__init__.py").write_text("")
    (root / "diffgen_lib" / "a.py").write_text("A = 1\n")
    return root


def cli(*args: str, root: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "diffgen_lib.book"]
    if root is not None:
        cmd += ["--root", str(root)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=ROOT, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# spec grammar
# ---------------------------------------------------------------------------------------------


def test_spec_parsing_every_kind():
    specs = book.parse_spec_source(FIXTURE_CHAPTER)
    assert list(specs) == ["n", "lr", "name", "flag", "steps", "scales", "label", "seed"]
    n, lr, name, flag, steps, scales, label, seed = specs.values()
    assert (n.kind, n.low, n.high, n.low_closed, n.high_closed, n.default) == ("int", 1, 10, True, True, 5)
    assert (lr.kind, lr.low, lr.low_closed, lr.high_closed) == ("float", 0, False, True)
    assert name.kind == "choice" and name.choices == ("a", "b") and name.allowed == 'one of {"a", "b"}'
    assert flag.kind == "bool" and flag.default is True
    assert steps.kind == "list of int" and steps.high == 100 and steps.allowed == "list of int in [0, 100]"
    assert scales.kind == "list of float" and scales.low is None
    assert label.kind == "str" and label.help == "free text"
    assert seed.high == 2**31 - 1 and seed.allowed == "int in [0, 2**31-1]"
    assert n.help == "an int" and n.line == 15


@pytest.mark.parametrize(
    "comment, expected",
    [
        ("int in [50, 1797]: number of images", dict(kind="int", low=50, high=1797)),
        ("float in [1e-3, inf): a rate", dict(kind="float", low=1e-3, high=float("inf"), high_closed=False)),
        ("float in (-inf, 0]", dict(kind="float", low=float("-inf"), low_closed=False)),
        ('one of {"auto", "cpu", "cuda"}: where', dict(kind="choice", choices=("auto", "cpu", "cuda"))),
        ("one of {16, 32, 64}: width", dict(kind="choice", choices=(16, 32, 64))),
        ('one of {"a:b", "c"}: colon inside', dict(kind="choice", choices=("a:b", "c"), help="colon inside")),
        ("list of float in [0, 1]: fractions", dict(kind="list of float", low=0, high=1)),
        ("bool", dict(kind="bool", help="")),
        ("str: a name: with colon", dict(kind="str", help="a name: with colon")),
    ],
)
def test_spec_comment_grammar(comment, expected):
    fields = book.parse_spec_comment(comment)
    for key, value in expected.items():
        assert fields[key] == value, (key, fields)


@pytest.mark.parametrize(
    "comment, message",
    [
        ("integer in [0, 1]: x", "expected a type"),
        ("int in [0, 1: x", "range ends"),
        ("int in [0]: x", "two bounds"),
        ("int in [5, 1]: x", "bad range"),
        ("str in [0, 1]: x", "numeric type"),
        ("one of [1, 2]: x", "one of"),
        ("int [0, 1]: x", "unexpected text"),
        ("int in [0, foo]: x", "cannot evaluate"),
    ],
)
def test_spec_comment_errors(comment, message):
    with pytest.raises(book.SpecError, match=re.escape(message)):
        book.parse_spec_comment(comment)


def test_spec_source_errors_name_the_line():
    src = HEADER + '\n# %% tags=["parameters"]\nn = 1  # int in [0, 2]: ok\nm = 2\n'
    with pytest.raises(book.SpecError, match=r"<chapter>:13: parameter 'm' has no spec comment"):
        book.parse_spec_source(src)
    src = HEADER + '\n# %% tags=["parameters"]\nimport os\n'
    with pytest.raises(book.SpecError, match="only hold assignments"):
        book.parse_spec_source(src)
    assert book.parse_spec_source(HEADER + "\n# %%\nx = 1\n") == {}


def test_multiline_default_and_annotated_assignment():
    src = HEADER + (
        '\n# %% tags=["parameters"]\n'
        "snapshots = [250, 500,\n"
        "             1000]  # list of int in [1, inf): steps at which snapshots are kept\n"
        "width: int = 32  # one of {16, 32}: channels\n"
    )
    specs = book.parse_spec_source(src)
    assert specs["snapshots"].default == [250, 500, 1000]
    assert specs["width"].choices == (16, 32)


@pytest.mark.parametrize(
    "name, value, ok",
    [
        ("n", 1, 1), ("n", 10, 10), ("n", 0, None), ("n", 11, None), ("n", 2.0, None), ("n", True, None),
        ("lr", 1, 1.0), ("lr", 0.0, None), ("lr", 1.0, 1.0), ("lr", float("nan"), None), ("lr", "0.1", None),
        ("name", "b", "b"), ("name", "c", None), ("name", 1, None),
        ("flag", False, False), ("flag", 1, None),
        ("steps", [], None), ("steps", [0, 100], [0, 100]), ("steps", [101], None), ("steps", [1.5], None),
        ("steps", 5, None), ("scales", [1, 0.5], [1.0, 0.5]), ("label", "anything", "anything"), ("label", 3, None),
    ],
)
def test_check_values(name, value, ok):
    spec = book.parse_spec_source(FIXTURE_CHAPTER)[name]
    if ok is None:
        with pytest.raises(book.ParamError) as err:
            spec.check(value)
        msg = str(err.value)
        assert "\n" not in msg and f"'{name}'" in msg and spec.allowed in msg
    else:
        got = spec.check(value)
        assert got == ok and type(got) is type(ok)


def test_cli_value_parsing_follows_papermill():
    specs = book.parse_spec_source(FIXTURE_CHAPTER)
    assert specs["n"].parse_cli("7") == 7
    assert specs["lr"].parse_cli("1e-3") == 1e-3
    assert specs["flag"].parse_cli("True") is True and specs["flag"].parse_cli("false") is False
    assert specs["steps"].parse_cli("[1, 2]") == [1, 2]
    assert specs["steps"].parse_cli("[1,x]") == [1, "x"]  # YAML flow list; then rejected by check
    assert specs["name"].parse_cli("b") == "b"
    assert specs["label"].parse_cli("123") == "123"  # str parameters keep the raw text


# ---------------------------------------------------------------------------------------------
# the command line: one-line errors before anything executes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, must_contain",
    [
        (["-p", "bogus", "1"], ["unknown parameter 'bogus'", "n, lr, name", "bogus=1"]),
        (["-p", "n", "2.5"], ["parameter 'n'", "int in [1, 10]", "got 2.5", "float"]),
        (["-p", "n", "11"], ["parameter 'n'", "int in [1, 10]", "got 11"]),
        (["-p", "n", "abc"], ["parameter 'n'", "int in [1, 10]", "got abc", "str"]),
        (["-p", "lr", "0"], ["parameter 'lr'", "float in (0, 1]", "got 0"]),
        (["-p", "name", "c"], ["parameter 'name'", 'one of {"a", "b"}', "got c"]),
        (["-p", "flag", "1"], ["parameter 'flag'", "bool", "got 1"]),
        (["-p", "steps", "[1,x]"], ["parameter 'steps'", "list of int in [0, 100]", "got [1,x]"]),
        (["-p", "steps", "[1, 200]"], ["parameter 'steps'", "got [1, 200]", "200"]),
        (["-p", "steps", "5"], ["parameter 'steps'", "not a list"]),
        (["--profile", "nope"], ["unknown profile 'nope'"]),
        (["--profile", "gpu"], ["parameter 'n'", "int in [1, 10]", "got 50", "profile 'gpu'"]),
        (["--profile", "typo"], ["unknown parameter 'nn'", "profile 'typo'"]),
    ],
)
def test_cli_rejects_bad_parameters_in_one_line(tmp_path, args, must_contain, monkeypatch, capsys):
    root = make_root(tmp_path)
    (root / "book" / "profiles.yml").write_text(
        "gpu:\n  t_chapter:\n    n: 50\ntypo:\n  chapter: {}\n  t_chapter:\n    nn: 1\n"
    )
    # rejected up front: the command starts neither the chapter's execution nor its page build
    started = []
    monkeypatch.setattr(book_cli, "execute_chapter", lambda *a, **k: started.append("execute"))
    monkeypatch.setattr(book_cli, "build_run_page", lambda *a, **k: started.append("html"))
    assert book_cli.main(["--root", str(root), "run", "t_chapter", *args]) == 2
    assert started == [] and capsys.readouterr().err.count("\n") == 1
    res = cli("run", "t_chapter", *args, root=root)
    assert res.returncode == 2, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for text in must_contain:
        assert text in lines[0], (text, lines[0])
    assert not (root / "_build" / "runs").exists()
    assert not (root / "book" / "executed.txt").exists()


def test_cli_unknown_chapter(tmp_path):
    root = make_root(tmp_path)
    res = cli("run", "nonexistent", root=root)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "unknown chapter 'nonexistent'" in res.stderr and "t_chapter" in res.stderr


def test_cli_list(tmp_path):
    root = make_root(tmp_path)
    res = cli("list", root=root)
    assert res.returncode == 0, res.stderr
    assert "t_chapter" in res.stdout
    assert re.search(r"n = 5\s+int in \[1, 10\]: an int", res.stdout)
    assert 'name = "a"' in res.stdout


THREADS_CHAPTER = HEADER + '''
# %% tags=["parameters"]
seed = 0              # int in [0, 2**31-1]: master seed

# %%
import torch

from diffgen_lib.book import setup_chapter

params = setup_chapter("{stem}", globals())
print(f"computing with {{torch.get_num_threads()}} threads")
{body}
'''


def test_build_executes_chapters_side_by_side_sharing_the_threads(tmp_path, monkeypatch):
    """Two chapters, two threads: side by side with one thread each, each stamped when it
    succeeds; a failing one is reported with its error and fails the build; --jobs 1 gives each
    chapter both threads."""
    monkeypatch.setenv("DIFFGEN_THREADS", "2")
    root = make_root(tmp_path)
    (root / "book" / "t_chapter.py").write_text(THREADS_CHAPTER.format(stem="t_chapter", body=""))
    (root / "book" / "t_fails.py").write_text(
        THREADS_CHAPTER.format(stem="t_fails", body='raise RuntimeError("a cell went wrong")'))
    (root / "book" / "t_killed.py").write_text(  # its process dies (say, out of memory)
        THREADS_CHAPTER.format(stem="t_killed", body="import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"))
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/t_chapter\n"
                                   "  - file: book/t_fails\n  - file: book/t_killed\n")
    res = cli("build", "--no-html", "--keep-going", root=root)
    assert res.returncode == 1
    assert re.search(r"\] t_killed: FAILED after nan s\n.*exited with code -9", res.stdout), res.stdout
    assert "3 (t_chapter, t_fails, t_killed), 2 side by side with 1 thread each" in res.stdout, res.stdout
    assert re.search(r"\] t_fails: FAILED after .*RuntimeError: a cell went wrong", res.stdout, re.S), res.stdout
    assert "chapters: 1 of 3 executed in " in res.stdout
    assert re.search(r"\] t_chapter: done in", res.stdout) and re.search(r"FAILED chapters: (t_fails, t_killed|t_killed, t_fails)\n", res.stderr)
    nb = json.loads((root / "book" / "t_chapter.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "computing with 1 threads" in printed and nb["metadata"]["diffgen"]["threads"] == 1
    assert book.is_up_to_date("t_chapter", {}, root) and not book.is_up_to_date("t_fails", {}, root)
    for stem in ("t_fails", "t_killed"):
        (root / "book" / f"{stem}.py").write_text(THREADS_CHAPTER.format(stem=stem, body=""))
    res = cli("build", "--no-html", "--jobs", "1", root=root)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "[t_chapter]: up to date, skipped" in res.stdout and "side by side" not in res.stdout
    nb = json.loads((root / "book" / "t_fails.ipynb").read_text())
    assert nb["metadata"]["diffgen"]["threads"] == 2
    res = cli("build", "--no-html", "--jobs", "0", root=root)
    assert res.returncode == 2 and "--jobs must be at least 1, got 0" in res.stderr


def test_ctrl_c_stops_a_side_by_side_build(tmp_path, monkeypatch):
    """Ctrl-C (SIGINT to the terminal's process group) while two chapters execute side by side:
    the build exits 130 in one line and the third chapter never starts."""
    monkeypatch.setenv("DIFFGEN_THREADS", "2")
    root = make_root(tmp_path)
    body = 'import time\nfrom pathlib import Path\nPath("started-{stem}").write_text("")\ntime.sleep(120)'
    stems = ("t_a", "t_b", "t_c")
    for stem in stems:
        (root / "book" / f"{stem}.py").write_text(THREADS_CHAPTER.format(stem=stem, body=body.format(stem=stem)))
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                   + "".join(f"  - file: book/{stem}\n" for stem in stems))
    proc = subprocess.Popen([sys.executable, "-m", "diffgen_lib.book", "--root", str(root), "build", "--no-html"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while len(list((root / "book").glob("started-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(list((root / "book").glob("started-*"))) == 2, "two chapters side by side"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted (Ctrl-C)\n" in err, (out, err)
    time.sleep(1)
    assert len(list((root / "book").glob("started-*"))) == 2, "no chapter starts after Ctrl-C"


def test_resolve_chapter_by_short_name(tmp_path):
    root = make_root(tmp_path)
    (root / "book" / "t_chapter.py").rename(root / "book" / "03_training_gap.py")
    assert book.resolve_chapter("training_gap", root / "book") == "03_training_gap"
    assert book.resolve_chapter("03_training_gap", root / "book") == "03_training_gap"
    assert book.resolve_chapter("book/03_training_gap.py", root / "book") == "03_training_gap"


@pytest.mark.slow
def test_cli_run_executes_into_build_runs_and_builds_the_page(tmp_path):
    root = make_root(tmp_path)
    (root / "book" / "_static").symlink_to(ROOT / "book" / "_static")
    res = cli("run", "t_chapter", "-p", "n", "7", "-p", "lr", "1", "-p", "steps", "[3, 4]", root=root)
    assert res.returncode == 0, res.stdout + res.stderr
    runs = list((root / "_build" / "runs").glob("t_chapter-*.ipynb"))
    assert len(runs) == 1
    nb = json.loads(runs[0].read_text())
    out = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "n=7 lr=1.0 name=a steps=[3, 4]" in out
    assert nb["metadata"]["papermill"]["parameters"] == {"n": 7, "lr": 1.0, "steps": [3, 4]}
    assert not (root / "book" / "t_chapter.ipynb").exists()  # the book's notebook is untouched
    html = re.search(r"HTML in .* -> (\S+\.html)", res.stdout)
    assert html, res.stdout
    page = (root / html.group(1)).read_text()
    assert "n=7 lr=1.0" in page


#: executes book/t_chapter.py and book/t_fails.py of the root in argv[1], counting the interrupts
#: that jupyter_client sends the kernel while shutting it down
EXECUTE_TWO_CHAPTERS = """
import sys
from pathlib import Path
from jupyter_client import KernelManager

shutdown_interrupts = []
interrupt = KernelManager._async_interrupt_kernel
async def recording_interrupt(self):
    shutdown_interrupts.append(self.shutting_down)
    await interrupt(self)
KernelManager._async_interrupt_kernel = recording_interrupt

from diffgen_lib.book.runner import execute_chapter
root = Path(sys.argv[1])
execute_chapter("t_chapter", root / "book" / "t_chapter.ipynb", root=root)
print("t_chapter executed", flush=True)
try:
    execute_chapter("t_fails", root / "book" / "t_fails.ipynb", root=root)
except Exception as exc:
    print("t_fails raised:", type(exc).__name__, exc)
print("interrupts while shutting down:", sum(shutdown_interrupts))
"""


@pytest.mark.slow
def test_executing_a_chapter_logs_no_kernel_interrupt_and_reports_errors(tmp_path):
    """jupyter_client interrupts a kernel before shutting it down, and ipykernel logs
    "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." when that lands in a handler (now and
    then, after a chapter that succeeded): chapters are shut down without the interrupt, and a
    failing cell still fails its chapter."""
    root = make_root(tmp_path)
    (root / "book" / "t_chapter.py").write_text(HEADER + '\n# %%\nprint("hello from the chapter")\n')
    (root / "book" / "t_fails.py").write_text(HEADER + '\n# %%\nraise ValueError("this cell fails")\n')
    res = subprocess.run([sys.executable, "-c", EXECUTE_TWO_CHAPTERS, str(root)], capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    output = res.stdout + res.stderr
    assert res.returncode == 0, output
    assert "t_chapter executed" in output
    assert "hello from the chapter" in (root / "book" / "t_chapter.ipynb").read_text()
    build_output = output.split("t_fails raised:")[0]  # what executing the chapter that succeeds printed
    assert not re.search(r"KeyboardInterrupt|ERROR", build_output), build_output
    assert "interrupts while shutting down: 0" in output
    assert re.search(r"t_fails raised: PapermillExecutionError.*this cell fails", output, re.S), output


# ---------------------------------------------------------------------------------------------
# setup_chapter (the chapter-side check)
# ---------------------------------------------------------------------------------------------


def test_setup_chapter_validates_and_returns_params(tmp_path):
    src = tmp_path / "t_chapter.py"
    src.write_text(FIXTURE_CHAPTER)
    specs = book.parse_spec_source(FIXTURE_CHAPTER)
    ns = {name: spec.default for name, spec in specs.items()}
    ns["lr"] = 1  # an int is a fine float
    params = book.setup_chapter("t_chapter", ns, source=src)
    assert params.lr == 1.0 and isinstance(ns["lr"], float) and params["n"] == 5
    assert params.chapter == "t_chapter" and params.threads == int(os.environ["DIFFGEN_THREADS"])
    import torch

    assert torch.get_num_threads() == params.threads

    ns["n"] = 0
    with pytest.raises(ValueError) as err:
        book.setup_chapter("t_chapter", ns, source=src)
    assert str(err.value) == "parameter 'n' must be int in [1, 10], got 0"

    ns["n"] = 5
    ns["In"] = ["", '# Parameters\nn = 3\nbogus = "x"\n']  # what papermill injects
    with pytest.raises(ValueError, match=r"^unknown parameter 'bogus' for chapter t_chapter .*got bogus='x'$"):
        book.setup_chapter("t_chapter", ns, source=src)


# ---------------------------------------------------------------------------------------------
# CLAIM / SCALE lines
# ---------------------------------------------------------------------------------------------


def test_claim_lines_round_trip():
    line = book.format_claim("C2a", True, "relative gap at sigma = 1.7", "0.123", "> 0.05 (fixed)")
    assert line == "CLAIM C2a PASS: relative gap at sigma = 1.7 = 0.123 (criterion: > 0.05 (fixed))"
    c = book.parse_claim_line(line)
    assert (c.id, c.passed, c.measured, c.value, c.criterion) == (
        "C2a", True, "relative gap at sigma = 1.7", "0.123", "> 0.05 (fixed)")
    assert c.line == line and c.base_id == "C2"
    assert book.parse_claim_line("CLAIM C2 OK: x = 1 (criterion: y)") is None
    assert book.parse_claim_line("CLAIM C2 PASS: no value (criterion: y)") is None
    with pytest.raises(ValueError):
        book.format_claim("X1", True, "a", 1, "b")


def test_claim_lines_carry_three_verdicts_and_an_interval():
    line = book.format_claim("C3", "INCONCLUSIVE", "end/peak ratio", "0.101", "<= 0.1", ("0.09", "0.113"))
    assert line == "CLAIM C3 INCONCLUSIVE: end/peak ratio = 0.101 [90% CI 0.09, 0.113] (criterion: <= 0.1)"
    c = book.parse_claim_line(line)
    assert (c.verdict, c.value, c.interval, c.passed) == ("INCONCLUSIVE", "0.101", ("0.09", "0.113"), False)
    assert c.line == line
    assert book.parse_claim_line(line.replace("INCONCLUSIVE", "MAYBE")) is None
    with pytest.raises(ValueError):
        book.format_claim("C3", "MAYBE", "a", 1, "b")
    import numpy as np

    assert book.format_claim("C3", np.float64(0.2) < 0.1, "a", 1, "b").startswith("CLAIM C3 FAIL")


def test_claim_over_draws_prints_mean_interval_and_verdict(capsys):
    # it returns None: as a chapter cell's last line it must add no Out[] to the page
    assert book.claim_over_draws("C3", "ratio", [0.05, 0.15, 0.06, 0.14], "<=", 0.1) is None
    book.claim_over_draws("C3", "ratio", [0.02, 0.03, 0.04], "<=", 0.1)
    book.claim_over_draws("C3", "ratio", [0.3, 0.4, 0.5], "<=", 0.1)
    lines = capsys.readouterr().out.splitlines()
    claims = [book.parse_claim_line(line) for line in lines]
    assert [c.verdict for c in claims] == ["INCONCLUSIVE", "PASS", "FAIL"]
    assert claims[0].measured == "ratio (mean of 4)" and claims[0].value == "0.1"
    assert claims[0].criterion == "<= 0.1" and claims[0].interval is not None


def test_sig3_rounds_and_names_float_roundoff():
    assert [book.sig3(x) for x in (0.0123456, 1234.5, -0.5, 0.0)] == ["0.0123", "1.23e+03", "-0.5", "0"]
    assert book.sig3(3e-9, roundoff=True) == "<1e-6" and book.sig3(-3e-9, roundoff=True) == "<1e-6"
    assert book.sig3(3e-9) == "3e-09" and book.sig3(2e-6, roundoff=True) == "2e-06"


def test_claims_of_notebook_and_table():
    nb = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": [
        "gap: 0.1\n", "SCALE: digits, N=1000, small UNet, 4000 steps\n",
        "CLAIM C2 PASS: gap after 4000 steps = 0.100 (criterion: > 0.05)\n",
        "CLAIM C9 FAIL: something = 1 (criterion: < 1)\n",
        "CLAIM C9a INCONCLUSIVE: other = 2 [90% CI 1, 3] (criterion: < 2)\n"]}]}]}
    claims = book.claims_of_notebook(nb, "03_training_gap")
    assert [c.id for c in claims] == ["C2", "C9", "C9a"]
    assert claims[0].scale == "digits, N=1000, small UNet, 4000 steps" and claims[0].chapter == "03_training_gap"
    paper = {"C1": dict(statement="s1", paper_scale="p1", chapter="01_optimal_denoiser"),
             "C2": dict(statement="s2", paper_scale="p2", chapter="03_training_gap")}
    rows = book.claim_rows(paper, claims)
    assert [r["id"] for r in rows] == ["C1", "C2", "C9", "C9a"]
    text = book.claims_text(rows)
    assert "C1   not yet measured (planned: 01_optimal_denoiser)" in text
    assert "C2   PASS  03_training_gap" in text and "C9   FAIL" in text and "C9a  INCONCLUSIVE" in text
    assert text.endswith("3 empirical claim lines at 8x8 digits: 1 PASS, 1 FAIL, 1 INCONCLUSIVE; 0 with every positive "
                         "control FAILing\n1 claims not yet measured")
    md = book.claims_markdown(rows)
    assert "{doc}`03_training_gap`" in md and "(not a claim of the paper)" in md
    assert "| empirical, 8x8 digits | 3 | 1 | 1 | 1 | 0 |" in md  # the tally of the empirical claims
    # one block per paper claim: C9 and C9a share theirs; the paper's text is written once each
    assert md.count("### C9:") == 1 and md.count("s2") == 1
    assert "**C9a**" in md and "[90% CI 1, 3]" in md


# ---------------------------------------------------------------------------------------------
# stamps: what makes a chapter re-execute
# ---------------------------------------------------------------------------------------------


def test_stamp_key_changes_with_source_params_library_and_notebook(tmp_path):
    root = make_root(tmp_path)
    (root / "book" / "t_chapter.ipynb").write_text("{}")
    key = book.stamp_key("t_chapter", {}, root)
    assert book.stamp_key("t_chapter", {}, root) == key  # deterministic
    assert book.stamp_key("t_chapter", {"n": 3}, root) != key

    def changed(path: Path, text: str) -> bool:
        old = path.read_text()
        path.write_text(text)
        new_key = book.stamp_key("t_chapter", {}, root)
        path.write_text(old)
        assert book.stamp_key("t_chapter", {}, root) == key
        return new_key != key

    assert changed(root / "book" / "t_chapter.py", FIXTURE_CHAPTER + "\n# edit\n")
    assert changed(root / "diffgen_lib" / "a.py", "A = 2\n")
    assert changed(root / "book" / "t_chapter.ipynb", '{"cells": []}')
    (root / "diffgen_lib" / "sub").mkdir()
    (root / "diffgen_lib" / "sub" / "b.py").write_text("")
    assert book.stamp_key("t_chapter", {}, root) != key  # a new library file counts too
    (root / "diffgen_lib" / "sub" / "b.py").unlink()

    assert not book.is_up_to_date("t_chapter", {}, root)
    book.write_stamp("t_chapter", {}, root)
    assert book.is_up_to_date("t_chapter", {}, root)
    assert book.stamp_path("t_chapter", root).parent == root / "_build" / "stamps"


def test_aggregate_pages_depend_on_the_chapters(tmp_path):
    root = make_root(tmp_path)
    (root / "book" / "claims.py").write_text(HEADER + "\n# %%\nprint(1)\n")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/claims\n  - file: book/t_chapter\n"
    )
    assert book.toc_chapters(root) == ["t_chapter", "claims"]  # aggregates last
    (root / "book" / "t_chapter.ipynb").write_text("{}")
    key = book.stamp_key("claims", {}, root)
    (root / "book" / "t_chapter.ipynb").write_text('{"cells": []}')
    assert book.stamp_key("claims", {}, root) != key


# ---------------------------------------------------------------------------------------------
# the real book: toc, chapter conventions, vendored assets
# ---------------------------------------------------------------------------------------------

TOC_FILES = book.toc_files(ROOT)
CHAPTERS = book.toc_chapters(ROOT)


def test_toc_order_and_files():
    assert TOC_FILES[0] == "book/intro"
    assert [Path(f).name for f in TOC_FILES[-2:]] == ["claims", "timings"]
    for f in TOC_FILES:
        tier_page = f.startswith("book/long/") and (ROOT / f"{f}.ipynb").exists()  # executed from 03-06
        assert tier_page or (ROOT / f"{f}.md").exists() or (
            (ROOT / f"{f}.py").exists() and (ROOT / f"{f}.ipynb").exists()
        ), f"{f}: needs {f}.md, or {f}.py with its executed {f}.ipynb (make book)"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_follows_the_conventions(stem):
    import jupytext

    specs = book.parse_spec(stem)  # raises SpecError on a malformed parameters cell
    for spec in specs.values():
        spec.check(spec.default)  # defaults satisfy their own spec
    src = jupytext.read(ROOT / "book" / f"{stem}.py")
    nb = json.loads((ROOT / "book" / f"{stem}.ipynb").read_text())
    assert nb["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"
    assert nb["metadata"]["papermill"]["parameters"] == {}, "the committed notebook holds the defaults"
    # the notebook was executed from the current source (run `make book` after editing the .py)
    nb_cells = [c for c in nb["cells"] if "injected-parameters" not in c["metadata"].get("tags", [])]
    assert [(c["cell_type"], "".join(c["source"])) for c in nb_cells] == [
        (c.cell_type, c.source) for c in src.cells
    ], f"book/{stem}.ipynb is stale: run `make book`"
    code = [c for c in nb_cells if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), f"book/{stem}.ipynb has unexecuted cells"
    if specs:
        i = next(i for i, c in enumerate(code) if "parameters" in c["metadata"].get("tags", []))
        assert f'setup_chapter("{stem}", globals())' in "".join(code[i + 1]["source"]), (
            "the first code cell after the parameters must call "
            f'setup_chapter("{stem}", globals())'
        )
    _check_what_a_reader_sees(stem, nb_cells)
    if stem not in book.AGGREGATE_PAGES:
        claims = book.claims_of_notebook(nb, stem)
        ids = [(c.id, c.scale) for c in claims]
        assert len(ids) == len(set(ids)), f"one CLAIM line per claim id and scale: {ids}"
        assert all(c.scale for c in claims), "print the SCALE line before the CLAIM lines"


def _check_what_a_reader_sees(stem, cells):
    """No progress bar saved into a page; figures fit their column and hide their plotting code."""
    from diffgen_lib.book.runner import COLUMN_PX, FULL_WIDTH_PX, widest_image

    for i, c in enumerate(cells):
        tags = c["metadata"].get("tags", [])
        for out in c.get("outputs", []):
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            assert not re.search(r"\d+%\|", text), f"{stem} cell {i}: a progress bar in the page"
        width = widest_image(c)
        assert width <= FULL_WIDTH_PX, (
            f"{stem} cell {i}: a {width} px wide figure renders its text below 9 pt; make it at "
            f"most {FULL_WIDTH_PX / 100:.1f} inches wide")
        if width > COLUMN_PX:
            assert "full-width" in tags, f"{stem} cell {i}: a {width} px figure needs the full-width tag"
        if c["metadata"].get("mystnb", {}).get("figure"):
            assert "hide-input" in tags or "remove-input" in tags, f"{stem} cell {i}: plotting code shown"


def test_png_width_reads_the_header():
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from diffgen_lib.book.runner import png_width, widest_image

    buf = io.BytesIO()
    Figure(figsize=(3.21, 1.0), dpi=100).savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode()
    assert png_width(data) == 321
    assert widest_image({"outputs": [{"data": {"image/png": data}}, {"text": "x"}]}) == 321
    assert widest_image({"outputs": []}) == 0


def test_vendored_assets_match_their_checksums():
    vendor = ROOT / "book" / "_static" / "vendor"
    for line in (vendor / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        data = (vendor / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name


# ---------------------------------------------------------------------------------------------
# the HTML build from the committed notebooks
# ---------------------------------------------------------------------------------------------


def _image_outputs(nb: dict) -> int:
    return sum(
        1
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if any(k.startswith("image/") for k in o.get("data", {}))
        and "remove-output" not in c["metadata"].get("tags", [])
        and "remove-cell" not in c["metadata"].get("tags", [])
    )


@pytest.mark.slow
def test_html_build_from_committed_notebooks(tmp_path):
    res = subprocess.run(
        [book._jupyter_book(), "build", str(ROOT), "--path-output", str(tmp_path), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT, timeout=1200,
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    html_dir = tmp_path / "_build" / "html"
    assert (html_dir / "index.html").exists()
    for f in TOC_FILES:
        page = html_dir / f"{f}.html"
        assert page.exists(), f"no page for {f}"
        html = page.read_text()
        # nothing needed from a CDN: math and widgets come from the site itself
        for script in re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html):
            assert not re.match(r"(https?:)?//", script), f"{f}: external script {script}"
        if 'class="math' in html:
            assert "_static/vendor/mathjax/tex-svg-full.js" in html
        nb_path = ROOT / f"{f}.ipynb"
        if not nb_path.exists():
            continue
        nb = json.loads(nb_path.read_text())
        n_img = _image_outputs(nb)
        assert html.count("<img") >= n_img, f"{f}: {n_img} figures in the notebook, fewer <img> in the page"
        for c in nb["cells"]:
            fig = c["metadata"].get("mystnb", {}).get("figure")
            if fig and fig.get("name"):
                assert f'id="{fig["name"]}"' in html, f"{f}: figure {fig['name']} has no anchor"
        n_figures = sum(1 for c in nb["cells"] if c["metadata"].get("mystnb", {}).get("figure"))
        if f.split("/")[-1] not in book.AGGREGATE_PAGES:
            commands = html.count('class="reproduce-figure"')
            assert commands == n_figures, f"{f}: {n_figures} figures but {commands} reproduce boxes"
        assert html.count('<span class="caption-number">Fig. ') >= sum(
            1 for c in nb["cells"] if c["metadata"].get("mystnb", {}).get("figure", {}).get("caption")
        )
        tags = {t for c in nb["cells"] for t in c["metadata"].get("tags", [])}
        if tags & set(book.PARAMETER_TAGS):
            assert "tag_hide-input" in html, f"{f}: the injected parameters cell is not folded"
        params = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
        assert all("hide-input" not in c["metadata"].get("tags", []) for c in params), \
            f"{f}: the parameters cell stays open"
        if nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state"):
            assert "application/vnd.jupyter.widget-state+json" in html
            assert "_static/vendor/widgets/embed-amd.js" in html and "_static/vendor/widgets/require.js" in html
    for asset in ("vendor/mathjax/tex-svg-full.js", "vendor/widgets/embed-amd.js", "vendor/widgets/require.js"):
        assert (html_dir / "_static" / asset).exists()


# ---------------------------------------------------------------------------------------------
# "Reproduce this figure" commands
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", [s for s in book.toc_chapters() if s not in book.AGGREGATE_PAGES])
def test_reproduce_commands_parse_through_the_cli_check(stem):
    from diffgen_lib.book import cli, reproduce

    specs = book.parse_spec(stem)
    # the default page, and a page executed with every list shortened and one int changed
    changed = {n: s.default[:1] for n, s in specs.items() if isinstance(s.default, list) and len(s.default) > 1}
    for name, spec in specs.items():
        if spec.kind == "int":
            try:
                changed[name] = spec.check(spec.default + 1)
                break
            except book.ParamError:
                continue
    for parameters in ({}, changed):
        for command in reproduce.reproduce_commands(stem, parameters):
            argv = shlex.split(command)
            assert argv[:4] == ["python", "-m", "diffgen_lib.book", "run"]
            pairs, profile = [], None
            rest = argv[5:]
            while rest:
                if rest[0] == "--profile":
                    profile, rest = rest[1], rest[2:]
                else:
                    assert rest[0] == "-p"
                    pairs.append((rest[1], rest[2]))
                    rest = rest[3:]
            got_stem, _, values = cli.chapter_parameters(ROOT, argv[4], profile, pairs)
            assert got_stem == stem
            for name, value in parameters.items():
                assert values[name] == value, (command, name)


def test_the_same_claim_at_two_scales_is_not_a_duplicate():
    from diffgen_lib.book.aggregate import Claim, claim_rows

    def line(scale):
        return Claim(id="C4a", verdict="PASS", measured="index", value="0.1", criterion="< 0.5",
                     chapter="04_inference_gap", scale=scale)

    paper = {"C4": dict(statement="s", paper_scale="p")}
    rows = claim_rows(paper, [line("digits, N=300"), line("mnist5k14, N=1000")])
    assert [r["duplicate"] for r in rows] == [False, False]
    rows = claim_rows(paper, [line("digits, N=300"), line("digits, N=300")])
    assert [r["duplicate"] for r in rows] == [True, True]


def test_glued_values_are_read_back_whether_displayed_or_not():
    """A value glued with display=False is stored under papermill's mime prefix; the pages that
    read other notebooks' glued values find it under either key."""
    from diffgen_lib.book.aggregate import glued

    def notebook(key):
        out = {"output_type": "display_data", "data": {key: "{'a': [1, 2.5]}"},
               "metadata": {"scrapbook": {"name": "summary", "mime_prefix": ""}}}
        return {"cells": [{"cell_type": "code", "outputs": [out]}]}

    assert glued(notebook("text/plain"), "summary") == {"a": [1, 2.5]}
    assert glued(notebook("application/papermill.record/text/plain"), "summary") == {"a": [1, 2.5]}
    assert glued(notebook("text/plain"), "other") is None


def test_table_cells_and_headers_with_pipes_stay_one_table():
    """A '|' in a header or a cell is escaped, so the Markdown table keeps its columns."""
    from diffgen_lib.book.chapter import markdown_table

    table = markdown_table([{"|x|": "a|b", "y": 1}])
    header, rule, row = table.splitlines()
    assert header == "| \\|x\\| | y |" and rule == "|---|---|" and row == "| a\\|b | 1 |"


def test_timings_number_the_slowest_cell_among_the_code_cells(tmp_path):
    """The timings page names the slowest cell as "#k of n" with k counted over code cells only."""
    from diffgen_lib.book.aggregate import collect_timings

    root = make_root(tmp_path)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/t_chapter\n")

    def cell(kind, seconds=None):
        return {"cell_type": kind, "metadata": {"papermill": {"duration": seconds}} if seconds else {}, "source": ""}

    nb = {"metadata": {"papermill": {"duration": 9.0}},
          "cells": [cell("markdown"), cell("code", 1.0), cell("markdown"), cell("markdown"), cell("code", 5.0)]}
    (root / "book" / "t_chapter.ipynb").write_text(json.dumps(nb))
    (row,) = collect_timings(root)
    assert (row["slowest_cell"], row["n_cells"], row["slowest_s"]) == (2, 2, 5.0)
    assert (row["duration"], row["longest"]) == (9.0, 9.0)  # no cold execution recorded: the last one
    nb["metadata"]["diffgen"] = {"threads": 1, "longest_seconds": 700.0}  # computed once, loaded since
    (root / "book" / "t_chapter.ipynb").write_text(json.dumps(nb))
    (row,) = collect_timings(root)
    assert (row["duration"], row["longest"]) == (9.0, 700.0)


def test_the_costliest_chapter_as_recorded_goes_first(tmp_path):
    """A chapter that computed its measurements (a cold execution) keeps that cost in its notebook
    after executions that loaded them, so a cold build starts it first."""
    from diffgen_lib.book.runner import longest_seconds, recorded_seconds

    book_dir = tmp_path / "book"
    book_dir.mkdir()

    def notebook(stem, duration, longest=None):
        meta = {"papermill": {"duration": duration}}
        if longest is not None:
            meta["diffgen"] = {"threads": 1, "longest_seconds": longest}
        (book_dir / f"{stem}.ipynb").write_text(json.dumps({"metadata": meta, "cells": []}))

    notebook("warm_now", 16.5, longest=783.0)   # cold once, loaded since
    notebook("always_short", 30.0, longest=30.0)
    notebook("old_format", 100.0)               # no record yet: its last duration
    assert longest_seconds(book_dir / "warm_now.ipynb") == 783.0
    assert longest_seconds(book_dir / "old_format.ipynb") == 100.0
    assert longest_seconds(book_dir / "missing.ipynb") == 0.0 and recorded_seconds("missing", tmp_path) == float("inf")
    order = sorted(["always_short", "old_format", "warm_now"], key=lambda s: recorded_seconds(s, tmp_path), reverse=True)
    assert order == ["warm_now", "old_format", "always_short"]

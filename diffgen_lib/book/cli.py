"""The command line: ``list``, ``build``, ``run`` (profiles, the HTML page of one run) and ``train``."""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import importlib.util
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from ..studies import run_parameters
from .layout import AGGREGATE_PAGES, ROOT, _rel, book_threads
from .params import ParamError, ParamSpec, SpecError, _fmt, parse_spec, resolve_cli_value, validate
from .run_page import build_run_page
from .runner import build_html, execute_chapter, execute_side_by_side, recorded_seconds
from .stamps import is_up_to_date, write_stamp
from .toc import all_chapters, resolve_chapter, toc_chapters


def cmd_build(args: argparse.Namespace) -> int:
    root = Path(args.root)
    t_start = time.monotonic()
    chapter_jobs(args.jobs, 1)  # a bad --jobs stops here, before anything runs
    stems = toc_chapters(root)
    if args.chapters:
        wanted = {resolve_chapter(c, root / "book") for c in args.chapters}
        stems = [s for s in stems if s in wanted]
    for stem in sorted(set(all_chapters(root / "book")) - set(toc_chapters(root))):
        print(f"note: book/{stem}.py is not in _toc.yml, so it is neither executed nor built", flush=True)
    stale = [s for s in stems if s not in AGGREGATE_PAGES and (args.force or not is_up_to_date(s, {}, root))]
    for stem in stems:
        if stem not in AGGREGATE_PAGES and stem not in stale:
            print(f"[{stem}]: up to date, skipped", flush=True)
    if train_chapter_runs(root, stale) != 0:
        return 1
    failed = execute_chapters(root, stale, args.jobs, args.keep_going)
    for stem in [s for s in stems if s in AGGREGATE_PAGES]:  # they read the chapters' notebooks: last
        tag = f"[{stem}]"
        if failed:
            print(f"{tag}: not executed (a chapter failed)", flush=True)
        elif not args.force and is_up_to_date(stem, {}, root):
            print(f"{tag}: up to date, skipped", flush=True)
        elif not _execute_one(root, stem, tag):
            failed.append(stem)
    if failed:
        print(f"book: FAILED chapters: {', '.join(failed)}", file=sys.stderr)
        return 1
    if not args.no_html:
        print("html: jupyter-book build . -q -W -n --keep-going", flush=True)
        t0 = time.monotonic()
        rc = build_html(root)
        if rc != 0:
            print(f"html: FAILED (exit {rc}) after {time.monotonic() - t0:.1f} s", file=sys.stderr)
            return rc
        print(f"html: done in {time.monotonic() - t0:.1f} s -> {_rel(root / '_build' / 'html' / 'index.html', root)}")
        build_book_pdf(root)
    print(f"book: done in {time.monotonic() - t_start:.1f} s", flush=True)
    return 0


def build_book_pdf(root: Path) -> None:
    """The whole book as one PDF, linked from the front page (:mod:`pdf`): built after the HTML when
    Chromium is installed; without it the build says so and goes on (``make pdf`` builds it later)."""
    from . import pdf

    try:
        pdf.find_chromium()
    except RuntimeError:
        print("pdf: skipped (no Chromium; `make pdf` builds the book's PDF where one is installed)", flush=True)
        return
    t0 = time.monotonic()
    path = pdf.build_pdf(root)
    print(f"pdf: done in {time.monotonic() - t0:.1f} s -> {_rel(path, root)}", flush=True)


def _report_failure(root: Path, stem: str, tag: str, seconds: float, error: str) -> None:
    first = error.strip().splitlines()
    print(f"{tag}: FAILED after {seconds:.1f} s", flush=True)
    print("      " + "\n      ".join(first[-8:]), flush=True)
    print(f"      the failed notebook: {_rel(root / '_build' / 'exec' / f'{stem}.ipynb', root)}", flush=True)


def _execute_one(root: Path, stem: str, tag: str) -> bool:
    """Execute one chapter in this process and stamp it; False when it failed (reported)."""
    print(f"{tag}: executing ...", flush=True)
    t0 = time.monotonic()
    try:
        execute_chapter(stem, root / "book" / f"{stem}.ipynb", None, root, label=stem)
    except Exception as exc:  # papermill's execution error carries the cell's traceback
        _report_failure(root, stem, tag, time.monotonic() - t0, str(exc))
        return False
    write_stamp(stem, {}, root)
    print(f"{tag}: done in {time.monotonic() - t0:.1f} s", flush=True)
    return True


def chapter_jobs(requested: int | None, n_chapters: int) -> tuple[int, int]:
    """(chapters side by side, threads of each) for ``n_chapters`` to execute: ``requested``
    (default: one chapter per thread of :func:`layout.book_threads`, every core unless
    ``DIFFGEN_THREADS`` says otherwise), at most ``n_chapters``; the threads are shared out evenly
    (at least one each)."""
    total = book_threads()
    if requested is not None and requested < 1:
        raise ParamError(f"--jobs must be at least 1, got {requested}")
    jobs = max(1, min(requested or total, n_chapters))
    return jobs, max(1, total // jobs)


def execute_chapters(root: Path, stems: list[str], jobs: int | None, keep_going: bool) -> list[str]:
    """Execute ``stems`` (stamping each that succeeds), side by side when more than one job fits
    (:func:`chapter_jobs`), the longest (as last recorded) first; returns the failed stems."""
    if not stems:
        return []
    jobs, threads = chapter_jobs(jobs, len(stems))
    if jobs == 1:
        failed = []
        for i, stem in enumerate(stems, 1):
            if not _execute_one(root, stem, f"[{i}/{len(stems)}] {stem}"):
                failed.append(stem)
                if not keep_going:
                    break
        return failed
    order = sorted(stems, key=lambda s: recorded_seconds(s, root), reverse=True)
    print(f"chapters: executing {len(order)} ({', '.join(order)}), {jobs} side by side with "
          f"{threads} thread{'s' if threads > 1 else ''} each", flush=True)
    failed, t0 = [], time.monotonic()
    results = execute_side_by_side(order, root, jobs, threads, stop_on_failure=not keep_going)
    for i, (stem, seconds, error) in enumerate(results, 1):
        tag = f"[{i}/{len(order)}] {stem}"
        if error is not None:
            failed.append(stem)
            _report_failure(root, stem, tag, seconds, error)
            continue
        write_stamp(stem, {}, root)
        print(f"{tag}: done in {seconds:.1f} s", flush=True)
    print(f"chapters: {len(order) - len(failed)} of {len(order)} executed in {time.monotonic() - t0:.1f} s", flush=True)
    return failed


def train_chapter_runs(root: Path, stems: list[str]) -> int:
    """Train the runs of the chapters ``stems`` with their default parameters before any of them
    executes, all side by side and longest first (:mod:`diffgen_lib.studies.book_runs`); the
    chapters then load them. Returns 0, or 1 when a run fails to train."""
    from ..studies import book_runs

    values_of = {}
    for stem in stems:
        if stem in book_runs.CHAPTER_RUNS:
            specs = parse_spec(stem, root / "book")
            values_of[stem] = {name: spec.default for name, spec in specs.items()}
    if not values_of:
        return 0
    from .chapter import pin_threads

    pin_threads()  # every core of the build: train_many runs that many runs side by side
    t0 = time.monotonic()
    configs = book_runs.runs_of_chapters(values_of)
    try:
        todo = book_runs.train_together(configs)
    except Exception as exc:  # a run that fails here fails in its chapter too; say which
        print(f"runs: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    if todo:
        print(f"runs: trained {len(todo)} of the {len(configs)} runs of {', '.join(values_of)} "
              f"side by side in {time.monotonic() - t0:.1f} s", flush=True)
    return 0


def load_profile(name: str, stem: str, specs: dict[str, ParamSpec], root: Path = ROOT) -> dict:
    """Parameters of profile ``name`` for chapter ``stem`` from ``book/profiles.yml``."""
    import yaml

    path = Path(root) / "book" / "profiles.yml"
    profiles = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
    if name not in profiles:
        raise ParamError(
            f"unknown profile '{name}' (profiles in book/profiles.yml: {', '.join(profiles) or 'none'})"
        )
    chapters = profiles[name] or {}
    short = re.sub(r"^\d+_", "", stem)
    values = dict(chapters.get(short) or {})
    values.update(chapters.get(stem) or {})
    for key, value in values.items():
        if key not in specs:
            raise ParamError(
                f"unknown parameter '{key}' in profile '{name}' for chapter {stem} "
                f"(its parameters: {', '.join(specs) or 'none'}), got {key}={_fmt(value)}"
            )
        try:
            specs[key].check(value)
        except ParamError as exc:
            raise ParamError(f"{exc} (profile '{name}')") from None
    return values


def chapter_parameters(root: Path, chapter: str, profile: str | None, pairs) -> tuple[str, dict, dict]:
    """(stem, specs, validated values): the profile's values, then the ``-p`` pairs."""
    stem = resolve_chapter(chapter, root / "book")
    specs = parse_spec(stem, root / "book")
    values: dict[str, Any] = {}
    if profile:
        values.update(load_profile(profile, stem, specs, root))
    raw = {}
    for name, text in pairs or []:
        raw[name] = text
        values[name] = specs[name].parse_cli(text) if name in specs else resolve_cli_value(text)
    return stem, specs, validate(stem, specs, values, raw)


def _torch_build(field: str) -> str | None:
    """A field of ``torch/version.py`` ("cuda", "hip"), read without importing torch; "?" if unknown."""
    spec = importlib.util.find_spec("torch")
    try:
        text = (Path(spec.origin).parent / "version.py").read_text(encoding="utf-8")
    except (AttributeError, TypeError, OSError):
        return "?"
    m = re.search(rf"^{field}\b[^=]*=\s*(.+?)\s*$", text, flags=re.M)
    return None if m and m.group(1) == "None" else (m.group(1) if m else "?")


def cuda_available() -> bool:
    """Whether torch finds a CUDA device, mostly without importing torch (1-5 s): a torch built
    without CUDA (or ROCm) never does; otherwise the CUDA driver is asked how many devices it sees."""
    if _torch_build("cuda") is None and _torch_build("hip") is None:
        return False
    if _torch_build("hip") is None and sys.platform.startswith("linux"):
        try:
            driver = ctypes.CDLL("libcuda.so.1")
        except OSError:  # no NVIDIA driver
            return False
        count = ctypes.c_int(0)
        return driver.cuInit(0) == 0 and driver.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0
    import torch

    return torch.cuda.is_available()


def check_machine(specs: dict[str, ParamSpec], params: dict, args: argparse.Namespace) -> None:
    """What the parameters ask of this machine: ``device`` "cuda" needs a CUDA device."""
    device = params.get("device", specs["device"].default if "device" in specs else None)
    if not (isinstance(device, str) and device.startswith("cuda")):
        return
    if not cuda_available():
        raw = dict(args.param or [])
        given = raw.get("device", f"{_fmt(device)} (profile '{args.profile}')" if args.profile else _fmt(device))
        raise ParamError(f"parameter 'device' must be \"auto\" or \"cpu\" on this machine "
                         f"(torch finds no CUDA device), got {given}")


def checked_parameters(args: argparse.Namespace) -> tuple[str, dict, dict]:
    """(stem, specs, values) of ``run``/``train``: parameters validated, then the machine; with
    ``--check``, the command stops there."""
    root = Path(args.root)
    stem, specs, params = chapter_parameters(root, args.chapter, args.profile, args.param)
    check_machine(specs, params, args)
    return stem, specs, params


def _print_check(stem: str, params: dict) -> int:
    shown = " ".join(f"{k}={_fmt(v)}" for k, v in params.items()) or "default parameters"
    print(f"check: {stem} with {shown}: parameters valid, nothing executed")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    root = Path(args.root)
    stem, specs, params = checked_parameters(args)
    if args.check:
        return _print_check(stem, params)
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    out = root / "_build" / "runs" / f"{stem}-{digest}.ipynb"
    shown = " ".join(f"{k}={_fmt(v)}" for k, v in params.items()) or "default parameters"
    print(f"run: {stem} with {shown}", flush=True)
    t0 = time.monotonic()
    try:
        execute_chapter(stem, out, params, root, label=stem)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        print("run: FAILED\n      " + "\n      ".join(lines[-8:]), file=sys.stderr)
        print(f"run: the failed notebook: {_rel(root / '_build' / 'exec' / out.name, root)}", file=sys.stderr)
        return 1
    print(f"run: executed in {time.monotonic() - t0:.1f} s -> {_rel(out, root)}", flush=True)
    if not args.no_html:
        t0 = time.monotonic()
        html = build_run_page(out, root)
        if html is None:
            print("run: the HTML page could not be built", file=sys.stderr)
            return 1
        print(f"run: HTML in {time.monotonic() - t0:.1f} s -> {_rel(html, root)}", flush=True)
    return 0


TRAINING_CHAPTER = run_parameters.TRAINING_CHAPTER


def cmd_train(args: argparse.Namespace) -> int:
    """Train the runs the training-gap chapter would train, outside the notebook: for hours-long
    runs, and under ``torchrun`` (DistributedDataParallel). The chapters then load them."""
    root = Path(args.root)
    stem, specs, params = chapter_parameters(root, args.chapter, args.profile, args.param)
    if stem != TRAINING_CHAPTER:
        raise ParamError(f"train takes the chapter that trains the shared runs, {TRAINING_CHAPTER} "
                         f"(chapters 04-06 load its runs), got {stem}")
    check_machine(specs, params, args)
    if args.check:
        return _print_check(stem, params)
    from .. import distributed, train
    from ..studies import experiments
    from .chapter import pin_threads

    pin_threads()  # every core of the build: train_many runs that many runs side by side
    values = {name: spec.default for name, spec in specs.items()} | params
    configs = experiments.shared_runs(values)
    main = distributed.is_main()
    if not distributed.world().distributed:  # independent CPU runs side by side first (train_many)
        try:
            train.train_many(list(configs.values()), progress=main)
        except train.CompileMismatch as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    for i, (label, config) in enumerate(configs.items(), 1):
        if main:
            print(f"train: [{i}/{len(configs)}] {label}", flush=True)
        try:
            run = train.train(config, progress=main)
        except train.CompileMismatch as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if main:
            print(f"train:       {run.steps_per_second:.1f} steps/s when trained, cache entry {run.key[:12]}",
                  flush=True)
    distributed.shutdown()
    return 0


def cmd_build_long(args: argparse.Namespace) -> int:
    """The 28x28 tier (:mod:`tier`): train its runs, execute chapters 03-06 with the ``long``
    profile into book/long/, then build the HTML (the tier's pages and the aggregate pages)."""
    from . import tier

    root = Path(args.root)
    t0 = time.monotonic()
    if tier.build_tier(root) != 0:
        return 1
    for stem in [s for s in toc_chapters(root) if s in AGGREGATE_PAGES]:  # they read the tier's notebooks
        if not _execute_one(root, stem, f"[{stem}]"):
            return 1
    if not args.no_html:
        rc = build_html(root)
        if rc != 0:
            return rc
    print(f"book-long: done in {time.monotonic() - t0:.0f} s", flush=True)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """Download datasets into the data folder (:mod:`diffgen_lib.fetch`; the chapters never download)."""
    from .. import fetch

    return fetch.command(args.datasets, args.data_dir, args.mirror)


def cmd_memorization(args: argparse.Namespace) -> int:
    """The memorization check of anyone's samples (:mod:`diffgen_lib.book.memorization`)."""
    from . import memorization

    return memorization.run(args)


def cmd_list(args: argparse.Namespace) -> int:
    root = Path(args.root)
    in_toc = toc_chapters(root)
    stems = in_toc + [s for s in all_chapters(root / "book") if s not in in_toc]
    for stem in stems:
        specs = parse_spec(stem, root / "book")
        note = "" if stem in in_toc else "   (not in _toc.yml)"
        print(f"{stem}{note}")
        if not specs:
            print("    (no parameters)")
        for s in specs.values():
            default = f"{s.name} = {_fmt(s.default)}"
            print(f"    {default:<34} {s.allowed}" + (f": {s.help}" if s.help else ""))
    return 0


def _chapter_arguments(parser: argparse.ArgumentParser, chapter_help: str) -> None:
    """The chapter, its ``-p NAME VALUE`` parameters and ``--profile`` (run and train)."""
    parser.add_argument("chapter", help=chapter_help)
    parser.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="set a parameter (papermill's value rules; lists as [1, 2])")
    parser.add_argument("--profile", help="apply a profile of book/profiles.yml first (e.g. gpu)")
    parser.add_argument("--check", action="store_true",
                        help="only validate the parameters (and that a CUDA device exists for device cuda)")


def split_params(argv: list[str]) -> tuple[list[str], list[list[str]]]:
    """Take every ``-p NAME VALUE`` out of ``argv`` before argparse sees it, so that a value
    starting with "-" (``-1e3``, ``-inf``) stays a value instead of looking like an option."""
    rest, pairs, i = [], [], 0
    while i < len(argv):
        if argv[i] in ("-p", "--param"):
            pairs.append(argv[i + 1 : i + 3])
            i += 3
        else:
            rest.append(argv[i])
            i += 1
    return rest, pairs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m diffgen_lib.book", description="Execute and build the diffgen book."
    )
    parser.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="chapters and their parameters (defaults, allowed values)")
    p_list.set_defaults(func=cmd_list)
    p_build = sub.add_parser("build", help="execute changed chapters, then build _build/html (make book)")
    p_build.add_argument("chapters", nargs="*", help="only these chapters (default: all in _toc.yml)")
    p_build.add_argument("--force", action="store_true", help="execute even if the stamp matches")
    p_build.add_argument("--no-html", action="store_true", help="skip the Jupyter Book build")
    p_build.add_argument("--keep-going", action="store_true", help="execute the other chapters after a failure")
    p_build.add_argument("--jobs", type=int, default=None,
                         help="chapters executed side by side, sharing the build's threads between them "
                              "(DIFFGEN_THREADS, default every core; default: one chapter per thread; "
                              "1: one after the other with all threads)")
    p_build.set_defaults(func=cmd_build)
    p_long = sub.add_parser("build-long", help="the 28x28 tier: train its runs, execute chapters 03-06 with the "
                                               "long profile into book/long/, build the HTML (make book-long)")
    p_long.add_argument("--no-html", action="store_true", help="skip the Jupyter Book build")
    p_long.set_defaults(func=cmd_build_long)
    p_run = sub.add_parser("run", help="execute one chapter with other parameters into _build/runs/")
    _chapter_arguments(p_run, "03_training_gap or training_gap")
    p_run.add_argument("--no-html", action="store_true", help="skip building the HTML page")
    p_run.set_defaults(func=cmd_run)
    p_train = sub.add_parser("train", help="train the shared runs of 03_training_gap (also under torchrun)")
    _chapter_arguments(p_train, "03_training_gap (the chapter whose parameters define the runs)")
    p_train.set_defaults(func=cmd_train)
    p_data = sub.add_parser("data", help="download mnist, fashion_mnist or cifar10 into the data folder")
    p_data.add_argument("datasets", nargs="+", metavar="DATASET", help="mnist, fashion_mnist, cifar10")
    p_data.add_argument("--data-dir", metavar="DIR",
                        help="data folder (default: $DIFFGEN_DATA, else <repository>/data)")
    p_data.add_argument("--mirror", metavar="URL",
                        help="base URL holding DATASET/ARCHIVE (default: $DIFFGEN_DATA_MIRROR, "
                             "else the official sites)")
    p_data.set_defaults(func=cmd_data)
    from .memorization import add_arguments as memorization_arguments  # cheap: no torch

    p_mem = sub.add_parser("memorization", help="memorization index of your samples against their training set "
                                                "(report.json, report.html, gallery.png)")
    memorization_arguments(p_mem)
    p_mem.set_defaults(func=cmd_memorization)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's arguments; ``-p`` pairs in ``args.param`` (run and train only)."""
    parser = build_parser()
    rest, pairs = split_params(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(rest)
    for pair in pairs:
        if len(pair) != 2:
            parser.error(f"-p takes two arguments, NAME and VALUE, got -p {' '.join(pair)}")
    if pairs and not hasattr(args, "param"):
        parser.error(f"-p is an option of run and train, not of {args.command}")
    if hasattr(args, "param"):
        args.param = (args.param or []) + pairs
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        return args.func(args)
    except (ParamError, SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C)", file=sys.stderr)
        return 130

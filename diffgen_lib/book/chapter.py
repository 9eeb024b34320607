"""The chapter side: ``setup_chapter`` and the CLAIM/SCALE printers.

Only the standard library at module level (torch and matplotlib are imported inside the functions).
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

from .aggregate import format_claim, format_scale
from .layout import BLAS_THREAD_VARIABLES, _rel, chapter_threads
from .params import ParamError, _fmt, chapter_source, check_relations, parse_spec_source
from ..studies.numbers import sig3  # noqa: F401  (the chapters' number format, re-exported)


class ChapterParams(dict):
    """The validated parameters of a chapter: a dict that also allows ``params.n_train``.

    Extra attributes: ``chapter`` (stem), ``threads``, ``seed`` and ``torch_device`` (the
    resolved ``device`` parameter, "cpu" or "cuda", when the chapter has one).
    """

    chapter: str = ""
    threads: int = 1
    seed: int = 0
    torch_device: str | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in self.items())
        return f"ChapterParams({self.chapter}: {inner})"


def _injected_names(namespace: dict) -> dict[str, str]:
    """Names assigned in a papermill-injected cell (``# Parameters`` header), from IPython's In."""
    names: dict[str, str] = {}
    for cell in namespace.get("In", []) or []:
        if isinstance(cell, str) and cell.lstrip().startswith("# Parameters"):
            try:
                tree = ast.parse(cell)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Assign):
                    for t in node.targets:
                        if isinstance(t, ast.Name):
                            names[t.id] = ast.unparse(node.value)
    return names


def pin_threads(n: int | None = None) -> int:
    """Limit torch, OpenMP and BLAS to ``n`` threads (default :func:`layout.chapter_threads`)."""
    if n is None:
        n = chapter_threads()
    for var in BLAS_THREAD_VARIABLES:
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # can only be set once per process
        pass
    return n


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when available, else "cpu"; "cuda" without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ParamError(f"parameter 'device' is {_fmt(device)} but torch finds no CUDA device")
    return device


BOOK_RC = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",
    "figure.constrained_layout.use": True,
    "svg.hashsalt": "diffgen",
}


def setup_chapter(stem: str, namespace: dict, *, source: str | Path | None = None) -> ChapterParams:
    """Validate a chapter's parameters, pin threads, seed torch, set the plot style.

    Call it first thing after the ``parameters`` cell: ``params = setup_chapter("<stem>", globals())``.
    Raises a one-line ValueError for a value the spec does not allow or an injected parameter the
    chapter does not have (papermill itself only warns about those).
    """
    if source is not None:
        path = Path(source)
    else:  # the package's book/, else the working directory (papermill runs chapters in book/)
        path = chapter_source(stem)
        if not path.exists() and (Path.cwd() / f"{stem}.py").exists():
            path = Path.cwd() / f"{stem}.py"
    specs = parse_spec_source(path.read_text(encoding="utf-8"), _rel(path))
    for name, expr in _injected_names(namespace).items():
        if name not in specs:
            raise ParamError(
                f"unknown parameter '{name}' for chapter {stem} "
                f"(its parameters: {', '.join(specs) or 'none'}), got {name}={expr}"
            )
    params = ChapterParams()
    for name, spec in specs.items():
        if name not in namespace:
            raise ParamError(f"parameter '{name}' of chapter {stem} is not defined")
        value = spec.check(namespace[name])
        namespace[name] = value
        params[name] = value
    check_relations(specs, params)
    params.chapter = stem
    params.threads = pin_threads()
    params.seed = int(params.get("seed", 0))
    if isinstance(params.get("device"), str):
        params.torch_device = resolve_device(params["device"])
    import random

    import numpy as np
    import torch

    random.seed(params.seed)
    np.random.seed(params.seed % 2**32)
    torch.manual_seed(params.seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True

    import matplotlib

    if "ipykernel" in sys.modules:  # activate the inline backend first so its rc does not win
        import matplotlib.pyplot  # noqa: F401
    matplotlib.rcParams.update(BOOK_RC)
    return params


def format_value(value: Any) -> str:
    """A parameter or result as prose shows it: ints as they are, floats with up to 4
    significant digits, lists as "a, b and c"."""
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        items = [format_value(v) for v in value]
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return str(value)


def markdown_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A GitHub/MyST Markdown table of ``rows`` (dicts; ``columns`` in order, default the first
    row's keys); cells are printed with ``str`` (format numbers before: :func:`sig3`)."""
    if not rows:
        raise ValueError("a table needs at least one row")
    columns = list(columns or rows[0].keys())

    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def show_table(rows: list[dict], name: str, caption: str, columns: list[str] | None = None) -> None:
    """Display ``rows`` as a numbered table with a caption (a MyST ``table`` directive, label
    ``name`` for ``{numref}``), with the same table as plain text for the notebook and for nbval,
    which compares it in a checked cell."""
    from IPython.display import display

    table = markdown_table(rows, columns)
    markdown = f":::{{table}} {caption}\n:name: {name}\n:align: left\n\n{table}\n:::\n"
    display({"text/markdown": markdown, "text/plain": table}, raw=True)


def glue_values(values: dict[str, Any]) -> None:
    """Glue each value under its name (myst-nb), for ``{glue:text}`name``` in the prose, so the
    page shows the numbers the chapter ran with, never a variable name."""
    from myst_nb import glue

    for name, value in values.items():
        glue(name, format_value(value), display=False)


def claim(claim_id: str, passed: bool | str, measured: str, value: Any, criterion: str,
          interval: tuple[Any, Any] | None = None) -> None:
    """Print a CLAIM line in the book's one fixed format (for the chapter's claims cell).

    ``claim("C2", gap > 0.05, "relative gap at sigma=1.7 after 4000 steps", f"{gap:.3f}", "> 0.05")``
    prints ``CLAIM C2 PASS: relative gap at sigma=1.7 after 4000 steps = 0.123 (criterion: > 0.05)``.
    A bool is a verdict on one draw; :func:`claim_over_draws` gives the interval and the
    three-valued verdict.
    """
    print(format_claim(claim_id, passed, measured, value, criterion, interval))


def claim_over_draws(claim_id: str, measured: str, draws, comparison: str, threshold: float,
                     fmt=None, seed: int = 0, statistic: str = "mean") -> None:
    """Print a CLAIM line for a criterion ``mean <comparison> threshold`` (or the median's)
    judged on the 90% bootstrap interval over ``draws`` (seeds, reference draws, samples): PASS
    when the whole interval meets it, FAIL when none of it does, INCONCLUSIVE otherwise.
    Returns None, like ``claim``, so a chapter's last line shows nothing but the CLAIM line."""
    import numpy as np

    from ..measure.verdicts import bootstrap_interval, verdict

    fmt = fmt or sig3
    value, lo, hi = bootstrap_interval(draws, seed=seed, statistic=statistic)
    result = verdict(lo, hi, comparison, threshold)
    n = int(np.asarray(draws).size)
    claim(claim_id, result, f"{measured} ({statistic} of {n})", fmt(value),
          f"{comparison} {fmt(threshold)}", interval=(fmt(lo), fmt(hi)))


def scale(dataset: str, n_train: Any, model: str, steps: Any) -> None:
    """Print the chapter's SCALE line: ``SCALE: <dataset>, N=<n_train>, <model>, <steps>``."""
    print(format_scale(dataset, n_train, model, steps))

"""The book pipeline: parameter specs, chapter execution, HTML build and chapter helpers.

Command line (run from the repository root, inside the project's virtual environment)::

    python -m diffgen_lib.book list                      # chapters, parameters, defaults, allowed values
    python -m diffgen_lib.book build [--force] [STEM..]  # what `make book` runs
    python -m diffgen_lib.book run CHAPTER -p NAME VALUE [-p ...] [--profile NAME] [--no-html]

``build`` executes every chapter listed in ``_toc.yml`` (default parameters, papermill) into
``book/<stem>.ipynb`` unless its stamp in ``_build/stamps/`` says nothing changed, then builds the
HTML with Jupyter Book into ``_build/html``. ``run`` executes one chapter with other parameters
into ``_build/runs/<stem>-<hash>.ipynb`` and builds that page alone; the committed notebook is
never touched. Parameters are validated against the chapter's spec before anything executes.

Chapter side (first code cell after the ``parameters`` cell)::

    from diffgen_lib.book import setup_chapter, claim, scale
    params = setup_chapter("03_training_gap", globals())

Parameter spec grammar (a trailing comment on each assignment of the ``parameters`` cell)::

    n_train = 1000      # int in [50, 1797]: number of training images
    lr = 2e-3           # float in (0, 1]: Adam learning rate
    dataset = "digits"  # one of {"digits", "mnist5k"}: image dataset
    snapshots = [250]   # list of int: training steps at which snapshots are kept
    use_ema = True      # bool: keep an EMA copy of the weights

Types: ``int``, ``float`` (ints accepted), ``str``, ``bool``, ``list of int``, ``list of float``,
``list of str``; an optional range ``in [a, b]``/``(a, b]``/``[a, inf)`` (for lists it applies to
every element) with Python-evaluable bounds; or ``one of {...}``; then ``: description``.

Only the standard library is imported at module level (``setup_chapter`` imports torch and
matplotlib; the command line imports papermill and jupytext only once the parameters are valid).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tokenize
from pathlib import Path
from typing import Any, Iterable

LIB = Path(__file__).resolve().parent
ROOT = LIB.parent
BOOK = ROOT / "book"

#: pages that read the other chapters' notebooks: executed last, re-executed when any changes
AGGREGATE_PAGES = ("claims", "timings")
#: notebook cells tagged like this get ``hide-input`` in the written notebook (HTML shows outputs only)
PARAMETER_TAGS = ("parameters", "injected-parameters")
DEFAULT_THREADS = 2


class SpecError(Exception):
    """A chapter's ``parameters`` cell does not follow the spec grammar."""


class ParamError(ValueError):
    """A parameter value is not allowed (one line: name, what is allowed, what was given)."""


# --------------------------------------------------------------------------------------------
# Parameter specs
# --------------------------------------------------------------------------------------------

_TYPES = ("list of int", "list of float", "list of str", "int", "float", "str", "bool")
_NAMES = {"inf": math.inf, "pi": math.pi, "e": math.e, "True": True, "False": False, "None": None}
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Pow: lambda a, b: a**b,
    ast.Mod: lambda a, b: a % b,
}


def _eval_node(node: ast.AST) -> Any:
    """Evaluate a constant expression (numbers, strings, lists, arithmetic, inf/pi/e)."""
    if isinstance(node, ast.Expression):
        return _eval_node(node.body)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.Attribute) and node.attr == "inf":  # math.inf, np.inf
        return math.inf
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
        if len(node.args) == 1 and not node.keywords:
            return float(_eval_node(node.args[0]))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval_node(node.operand)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval_node(node.left), _eval_node(node.right))
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval_node(e) for e in node.elts]
    raise ValueError(f"not a constant expression: {ast.unparse(node)}")


def _fmt(value: Any) -> str:
    """How a value is shown in messages: Python syntax, strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _type_name(value: Any) -> str:
    return "list" if isinstance(value, list) else type(value).__name__


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One parameter of a chapter: default, type, allowed range or choices, description."""

    name: str
    default: Any
    kind: str  # one of _TYPES, or "choice"
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    low_closed: bool = True
    high_closed: bool = True
    range_text: str = ""  # as written, e.g. "[0, 2**31-1]"
    help: str = ""
    line: int = 0  # line number in the chapter source

    @property
    def allowed(self) -> str:
        """The spec as a phrase: ``int in [50, 1797]``, ``one of {"a", "b"}``."""
        if self.kind == "choice":
            return "one of {" + ", ".join(_fmt(c) for c in self.choices) + "}"
        return f"{self.kind} in {self.range_text}" if self.range_text else self.kind

    def _in_range(self, x: float) -> bool:
        if self.low is None:
            return True
        if isinstance(x, float) and math.isnan(x):
            return False
        lo_ok = x >= self.low if self.low_closed else x > self.low
        hi_ok = x <= self.high if self.high_closed else x < self.high
        return lo_ok and hi_ok

    def _scalar(self, kind: str, value: Any) -> tuple[bool, Any]:
        """(type ok, normalised value) for one scalar of type ``kind``."""
        if kind == "bool":
            return isinstance(value, bool), value
        if kind == "int":
            return isinstance(value, int) and not isinstance(value, bool), value
        if kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            return ok, float(value) if ok else value
        if kind == "str":
            return isinstance(value, str), value
        raise AssertionError(kind)

    def check(self, value: Any, given: str | None = None) -> Any:
        """Return the value (ints turned into floats for float parameters) or raise ParamError."""
        shown = given if given is not None else _fmt(value)

        def fail(reason: str = "") -> ParamError:
            extra = f" ({reason})" if reason else ""
            return ParamError(f"parameter '{self.name}' must be {self.allowed}, got {shown}{extra}")

        if self.kind == "choice":
            for choice in self.choices:
                same_type = type(choice) is type(value) or (
                    isinstance(choice, float) and type(value) is int
                )
                if same_type and choice == value:
                    return choice
            raise fail()
        if self.kind.startswith("list of "):
            element = self.kind[len("list of ") :]
            if isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list):
                raise fail(f"a {_type_name(value)}, not a list")
            out = []
            for item in value:
                ok, item = self._scalar(element, item)
                if not ok:
                    raise fail(f"element {_fmt(item)} is a {_type_name(item)}")
                if element != "str" and not self._in_range(item):
                    raise fail(f"element {_fmt(item)} is out of range")
                out.append(item)
            return out
        ok, value = self._scalar(self.kind, value)
        if not ok:
            raise fail(f"a {_type_name(value)}")
        if self.kind in ("int", "float") and not self._in_range(value):
            raise fail()
        return value

    def parse_cli(self, raw: str) -> Any:
        """Turn a ``-p NAME VALUE`` string into a value (papermill's rules, lists as in YAML)."""
        if self.kind == "str" or (
            self.kind == "choice" and all(isinstance(c, str) for c in self.choices)
        ):
            return raw
        if self.kind.startswith("list of ") or raw.strip().startswith("["):
            try:
                value = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                import yaml  # YAML flow lists: [a, b]

                try:
                    value = yaml.safe_load(raw)
                except yaml.YAMLError:
                    return raw
            return list(value) if isinstance(value, tuple) else value
        return resolve_cli_value(raw)


def resolve_cli_value(raw: str) -> Any:
    """papermill's ``-p`` conversion: True/False/None, int, float, else the string itself."""
    if raw in ("True", "true"):
        return True
    if raw in ("False", "false"):
        return False
    if raw == "None":
        return None
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def _split_top_level_comma(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_spec_comment(text: str) -> dict:
    """Parse ``int in [50, 1797]: help`` / ``one of {...}: help`` into ParamSpec fields."""
    text = text.strip()
    fields: dict[str, Any] = {}
    if text.startswith("one of"):
        rest = text[len("one of") :].lstrip()
        if not rest.startswith("{"):
            raise SpecError('expected "one of {...}"')
        for m in re.finditer(r"\}", rest):
            try:
                node = ast.parse(rest[: m.end()], mode="eval").body
            except SyntaxError:
                continue
            if isinstance(node, ast.Set):
                fields["kind"] = "choice"
                fields["choices"] = tuple(_eval_node(e) for e in node.elts)
                rest = rest[m.end() :]
                break
        else:
            raise SpecError('cannot read the set in "one of {...}"')
    else:
        for kind in _TYPES:
            if text == kind or re.match(re.escape(kind) + r"(\s|:)", text):
                break
        else:
            raise SpecError(
                "expected a type (int, float, str, bool, list of int, list of float, "
                f'list of str) or "one of {{...}}", got "{text}"'
            )
        fields["kind"] = kind
        rest = text[len(kind) :].lstrip()
        if rest.startswith("in ") or rest.startswith("in["):
            if kind in ("str", "bool", "list of str"):
                raise SpecError(f"a range needs a numeric type, not {kind}")
            rest = rest[2:].lstrip()
            if not rest or rest[0] not in "[(":
                raise SpecError('a range starts with "[" or "("')
            for m in re.finditer(r"[\])]", rest):
                if re.match(r"\s*(:|$)", rest[m.end() :]):
                    inner, closing = rest[1 : m.start()], rest[m.start()]
                    break
            else:
                raise SpecError('a range ends with "]" or ")" before the ":"')
            bounds = _split_top_level_comma(inner)
            if len(bounds) != 2:
                raise SpecError(f"a range has two bounds, got {rest[: m.end()]}")
            try:
                low, high = (_eval_node(ast.parse(b, mode="eval")) for b in bounds)
            except (SyntaxError, ValueError) as exc:
                raise SpecError(f"cannot evaluate range bounds {rest[: m.end()]}: {exc}") from None
            if not all(isinstance(b, (int, float)) for b in (low, high)) or low > high:
                raise SpecError(f"bad range {rest[: m.end()]}")
            fields.update(
                low=low, high=high, low_closed=rest[0] == "[", high_closed=closing == "]",
                range_text=f"{rest[0]}{bounds[0]}, {bounds[1]}{closing}",
            )
            rest = rest[m.end() :]
    m = re.fullmatch(r"\s*(?::\s*(.*))?", rest, flags=re.S)
    if not m:
        raise SpecError(f'unexpected text "{rest.strip()}" (the description follows a ":")')
    fields["help"] = (m.group(1) or "").strip()
    return fields


_MARKER = re.compile(r"^# %%(?!%)(.*)$")
_PARAM_TAG = re.compile(r"""tags\s*=\s*\[[^\]]*["']parameters["']""")


def _parameters_cell(source: str) -> tuple[str, int] | None:
    """The body of the first py:percent cell tagged ``parameters`` and its first line number."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        m = _MARKER.match(line)
        if m and _PARAM_TAG.search(m.group(1)):
            body = []
            for line2 in lines[i + 1 :]:
                if _MARKER.match(line2):
                    break
                body.append(line2)
            return "\n".join(body) + "\n", i + 2
    return None


def parse_spec_source(source: str, filename: str = "<chapter>") -> dict[str, ParamSpec]:
    """All parameter specs of a py:percent chapter source, in order ({} without parameters)."""
    found = _parameters_cell(source)
    if found is None:
        return {}
    body, first = found
    try:
        tree = ast.parse(body)
        comments: dict[int, str] = {}
        for tok in tokenize.generate_tokens(io.StringIO(body).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except (SyntaxError, tokenize.TokenError) as exc:
        raise SpecError(f"{filename}: the parameters cell is not valid Python: {exc}") from None
    specs: dict[str, ParamSpec] = {}
    for node in tree.body:
        where = f"{filename}:{first + node.lineno - 1}"
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value_node = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value_node = node.target, node.value
        else:
            raise SpecError(f"{where}: the parameters cell may only hold assignments NAME = VALUE")
        if not isinstance(target, ast.Name):
            raise SpecError(f"{where}: assign one plain name per line")
        name = target.id
        try:
            default = _eval_node(value_node)
        except ValueError as exc:
            raise SpecError(f"{where}: default of '{name}' must be a constant ({exc})") from None
        texts = [comments[r] for r in range(node.lineno, node.end_lineno + 1) if r in comments]
        if not texts:
            raise SpecError(
                f"{where}: parameter '{name}' has no spec comment, e.g. '# int in [1, 10]: what it is'"
            )
        errors = []
        for text in texts:
            try:
                fields = parse_spec_comment(text)
                break
            except SpecError as exc:
                errors.append(str(exc))
        else:
            raise SpecError(f"{where}: spec of '{name}' not understood: {errors[0]}")
        specs[name] = ParamSpec(name=name, default=default, line=first + node.lineno - 1, **fields)
    return specs


def chapter_source(stem: str, book_dir: Path = BOOK) -> Path:
    return Path(book_dir) / f"{stem}.py"


_SPEC_CACHE: dict[tuple[str, float], dict[str, ParamSpec]] = {}


def parse_spec(stem: str, book_dir: Path = BOOK) -> dict[str, ParamSpec]:
    """Parameter specs of chapter ``stem`` (from ``book/<stem>.py``)."""
    path = chapter_source(stem, book_dir)
    key = (str(path), path.stat().st_mtime)
    if key not in _SPEC_CACHE:
        _SPEC_CACHE[key] = parse_spec_source(path.read_text(encoding="utf-8"), _rel(path))
    return _SPEC_CACHE[key]


def validate(
    stem: str, specs: dict[str, ParamSpec], values: dict[str, Any], raw: dict[str, str] | None = None
) -> dict[str, Any]:
    """Check ``values`` (name -> value) against ``specs``; raw CLI strings only for messages."""
    out = {}
    for name, value in values.items():
        if name not in specs:
            names = ", ".join(specs) or "none"
            raise ParamError(
                f"unknown parameter '{name}' for chapter {stem} (its parameters: {names}), "
                f"got {name}={raw[name] if raw and name in raw else _fmt(value)}"
            )
        out[name] = specs[name].check(value, given=raw[name] if raw and name in raw else None)
    return out


def _rel(path: Path, root: Path = ROOT) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Chapter side: setup_chapter, CLAIM and SCALE lines
# --------------------------------------------------------------------------------------------


class ChapterParams(dict):
    """The validated parameters of a chapter: a dict that also allows ``params.n_train``.

    Extra attributes: ``chapter`` (stem), ``threads``, ``seed`` and ``torch_device`` (the
    resolved ``device`` parameter, "cpu" or "cuda", when the chapter has one).
    """

    chapter: str = ""
    threads: int = DEFAULT_THREADS
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
    """Limit torch, OpenMP and BLAS to ``n`` threads (env DIFFGEN_THREADS, default 2)."""
    if n is None:
        n = int(os.environ.get("DIFFGEN_THREADS", DEFAULT_THREADS))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
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


_CLAIM_RE = re.compile(r"^CLAIM (?P<id>C\d+[a-z]?) (?P<status>PASS|FAIL): (?P<rest>.*)$")


def format_claim(claim_id: str, passed: bool, measured: str, value: Any, criterion: str) -> str:
    """The CLAIM line: ``CLAIM <id> PASS|FAIL: <measured> = <value> (criterion: <criterion>)``."""
    line = f"CLAIM {claim_id} {'PASS' if passed else 'FAIL'}: {measured} = {value} (criterion: {criterion})"
    if "\n" in line or parse_claim_line(line) is None:
        raise ValueError(f"not a valid CLAIM line: {line!r}")
    return line


def claim(claim_id: str, passed: bool, measured: str, value: Any, criterion: str) -> None:
    """Print a CLAIM line in the book's one fixed format (for the chapter's claims cell).

    ``claim("C2", gap > 0.05, "relative gap at sigma=1.7 after 4000 steps", f"{gap:.3f}", "> 0.05")``
    prints ``CLAIM C2 PASS: relative gap at sigma=1.7 after 4000 steps = 0.123 (criterion: > 0.05)``.
    """
    print(format_claim(claim_id, bool(passed), measured, value, criterion))


def format_scale(dataset: str, n_train: Any, model: str, steps: Any) -> str:
    return f"SCALE: {dataset}, N={n_train}, {model}, {steps}"


def scale(dataset: str, n_train: Any, model: str, steps: Any) -> None:
    """Print the chapter's SCALE line: ``SCALE: <dataset>, N=<n_train>, <model>, <steps>``."""
    print(format_scale(dataset, n_train, model, steps))


@dataclasses.dataclass
class Claim:
    id: str
    passed: bool
    measured: str
    value: str
    criterion: str
    chapter: str = ""
    scale: str = ""

    @property
    def base_id(self) -> str:
        return re.match(r"C\d+", self.id).group(0)

    @property
    def line(self) -> str:
        return (
            f"CLAIM {self.id} {'PASS' if self.passed else 'FAIL'}: "
            f"{self.measured} = {self.value} (criterion: {self.criterion})"
        )


def parse_claim_line(line: str) -> Claim | None:
    """Parse ``CLAIM <id> PASS|FAIL: <measured> = <value> (criterion: <criterion>)``."""
    m = _CLAIM_RE.match(line.strip())
    if not m:
        return None
    rest = m.group("rest")
    cut = rest.rfind(" (criterion: ")
    if cut < 0 or not rest.endswith(")"):
        return None
    head, criterion = rest[:cut], rest[cut + len(" (criterion: ") : -1]
    if " = " not in head:
        return None
    measured, value = head.rsplit(" = ", 1)
    return Claim(m.group("id"), m.group("status") == "PASS", measured.strip(), value.strip(), criterion.strip())


def _stream_text(nb: dict) -> Iterable[str]:
    """Every stdout line of a notebook's outputs, in order."""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                text = out.get("text", "")
                yield from ("".join(text) if isinstance(text, list) else text).splitlines()


def claims_of_notebook(nb: dict, chapter: str) -> list[Claim]:
    """CLAIM lines of one executed notebook, each with the SCALE line printed before it."""
    claims, current_scale = [], ""
    for line in _stream_text(nb):
        if line.startswith("SCALE:"):
            current_scale = line[len("SCALE:") :].strip()
            continue
        c = parse_claim_line(line)
        if c is not None:
            c.chapter, c.scale = chapter, current_scale
            claims.append(c)
    return claims


def _read_nb(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def collect_claims(root: Path = ROOT) -> list[Claim]:
    """CLAIM lines of every chapter's committed notebook, in ``_toc.yml`` order."""
    claims: list[Claim] = []
    for stem in toc_chapters(root):
        path = Path(root) / "book" / f"{stem}.ipynb"
        if stem not in AGGREGATE_PAGES and path.exists():
            claims.extend(claims_of_notebook(_read_nb(path), stem))
    return claims


def claim_rows(paper: dict[str, dict], claims: list[Claim]) -> list[dict]:
    """One row per measured claim (grouped under the paper's claim ids, in order); a paper claim
    nobody measured yet gets a "not yet measured" row; ids the paper lacks come last."""
    rows = []
    seen = set()
    for pid, info in paper.items():
        mine = [c for c in claims if c.base_id == pid]
        dup = {c.id for c in mine if sum((d.id, d.chapter) == (c.id, c.chapter) for d in mine) > 1}
        for c in mine:
            seen.add(id(c))
            rows.append(dict(id=c.id, paper=info, claim=c, duplicate=c.id in dup))
        if not mine:
            rows.append(dict(id=pid, paper=info, claim=None, duplicate=False))
    for c in claims:
        if id(c) not in seen:
            rows.append(dict(id=c.id, paper=None, claim=c, duplicate=False))
    return rows


def claims_text(rows: list[dict]) -> str:
    """Plain-text claims table (deterministic given the notebooks; nbval compares it)."""
    out = []
    for r in rows:
        c = r["claim"]
        if c is None:
            planned = r["paper"].get("chapter", "")
            out.append(f"{r['id']:<4} not yet measured" + (f" (planned: {planned})" if planned else ""))
            continue
        status = "PASS" if c.passed else "FAIL"
        out.append(f"{r['id']:<4} {status}  {c.chapter}" + ("  [duplicate CLAIM id]" if r["duplicate"] else ""))
        out.append(f"     measured: {c.measured} = {c.value} (criterion: {c.criterion})")
        out.append(f"     scale:    {c.scale or 'no SCALE line'}")
    n_pass = sum(1 for r in rows if r["claim"] is not None and r["claim"].passed)
    n_meas = sum(1 for r in rows if r["claim"] is not None)
    out.append(f"{n_meas} claims measured, {n_pass} PASS, {n_meas - n_pass} FAIL, "
               f"{sum(1 for r in rows if r['claim'] is None)} not yet measured")
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(rows: list[dict]) -> str:
    """The claims table as MyST Markdown (chapter links are {doc} roles, checked by the build)."""
    lines = [
        "| Claim | The paper says (paper scale) | Measured here | Scale here | Result | Chapter |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, p = r["claim"], r["paper"]
        paper = f"{p['statement']} *Paper scale:* {p['paper_scale']}" if p else "(not a claim of the paper)"
        if c is None:
            planned = p.get("chapter", "")
            lines.append(f"| {r['id']} | {_md_cell(paper)} | not yet measured | | | "
                         + (_md_cell(f"planned: {planned}") if planned else "") + " |")
            continue
        result = "**PASS**" if c.passed else "**FAIL**"
        if r["duplicate"]:
            result += " (duplicate id)"
        lines.append(
            f"| {r['id']} | {_md_cell(paper)} | {_md_cell(f'{c.measured} = {c.value}')} "
            f"(criterion: {_md_cell(c.criterion)}) | {_md_cell(c.scale or '?')} | {result} "
            f"| {{doc}}`{c.chapter}` |"
        )
    return "\n".join(lines)


def collect_timings(root: Path = ROOT) -> list[dict]:
    """Execution time of every chapter's committed notebook (papermill metadata)."""
    rows = []
    for stem in toc_chapters(root):
        path = Path(root) / "book" / f"{stem}.ipynb"
        if stem in AGGREGATE_PAGES or not path.exists():
            continue
        nb = _read_nb(path)
        pm = nb.get("metadata", {}).get("papermill", {})
        cells = [
            (i, c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
            for i, c in enumerate(nb.get("cells", []))
            if c.get("cell_type") == "code"
        ]
        slow_i, slow_s = max(cells, key=lambda t: t[1]) if cells else (None, 0.0)
        rows.append(dict(
            chapter=stem, duration=pm.get("duration"), end_time=pm.get("end_time"),
            parameters=pm.get("parameters") or {}, n_cells=len(cells),
            slowest_cell=slow_i, slowest_s=slow_s,
        ))
    return rows


# --------------------------------------------------------------------------------------------
# The book: toc, chapters, stamps
# --------------------------------------------------------------------------------------------


def toc_files(root: Path = ROOT) -> list[str]:
    """Files of ``_toc.yml`` in order (root first), as written: ``book/intro``, ``book/claims``."""
    import yaml

    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            for part in entry.get("parts", []) or []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    return [str(Path(f).with_suffix("")) if Path(f).suffix in (".md", ".ipynb", ".py") else f for f in files]


def toc_chapters(root: Path = ROOT) -> list[str]:
    """Stems of the executable pages (``book/<stem>.py`` exists) in execution order:
    ``_toc.yml`` order, with the aggregate pages (claims, timings) moved last."""
    stems = [Path(f).name for f in toc_files(root) if (Path(root) / f"{f}.py").exists()]
    return [s for s in stems if s not in AGGREGATE_PAGES] + [s for s in stems if s in AGGREGATE_PAGES]


def all_chapters(book_dir: Path = BOOK) -> list[str]:
    """Every paired py:percent source in ``book/`` (in or not yet in the toc)."""
    return sorted(
        p.stem
        for p in Path(book_dir).glob("*.py")
        if "formats: ipynb,py:percent" in p.read_text(encoding="utf-8")[:2000]
    )


def resolve_chapter(name: str, book_dir: Path = BOOK) -> str:
    """``03_training_gap``, ``training_gap``, ``book/03_training_gap.py`` -> ``03_training_gap``."""
    stems = all_chapters(book_dir)
    base = Path(name).name
    for suffix in (".py", ".ipynb"):
        base = base[: -len(suffix)] if base.endswith(suffix) else base
    if base in stems:
        return base
    matches = [s for s in stems if re.sub(r"^\d+_", "", s) == base]
    if len(matches) == 1:
        return matches[0]
    raise ParamError(f"unknown chapter '{name}' (chapters: {', '.join(stems) or 'none'})")


def library_files(root: Path = ROOT) -> list[Path]:
    lib = Path(root) / "diffgen_lib"
    return sorted(p for p in lib.rglob("*.py") if "__pycache__" not in p.parts)


def stamp_key(stem: str, params: dict, root: Path = ROOT) -> str:
    """sha256 over the chapter source, its parameters, every ``diffgen_lib/**/*.py`` and the
    notebook's current content (for aggregate pages also the other chapters' notebooks)."""
    root = Path(root)
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(label.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)

    add("source", (root / "book" / f"{stem}.py").read_bytes())
    add("params", json.dumps(params, sort_keys=True, default=str).encode())
    for p in library_files(root):
        add("lib:" + p.relative_to(root).as_posix(), p.read_bytes())
    nb = root / "book" / f"{stem}.ipynb"
    add("ipynb", nb.read_bytes() if nb.exists() else b"<missing>")
    if stem in AGGREGATE_PAGES:
        for other in toc_chapters(root):
            if other not in AGGREGATE_PAGES:
                p = root / "book" / f"{other}.ipynb"
                add("chapter:" + other, p.read_bytes() if p.exists() else b"<missing>")
    return h.hexdigest()


def stamp_path(stem: str, root: Path = ROOT) -> Path:
    return Path(root) / "_build" / "stamps" / f"{stem}.sha256"


def is_up_to_date(stem: str, params: dict, root: Path = ROOT) -> bool:
    p = stamp_path(stem, root)
    nb = Path(root) / "book" / f"{stem}.ipynb"
    return nb.exists() and p.exists() and p.read_text().strip() == stamp_key(stem, params, root)


def write_stamp(stem: str, params: dict, root: Path = ROOT) -> None:
    p = stamp_path(stem, root)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(stamp_key(stem, params, root) + "\n")


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------


def kernel_environment() -> None:
    """Environment inherited by the kernels: diffgen_lib importable, threads pinned, our python3."""
    package_root = str(ROOT)  # the diffgen_lib that runs this is the one the kernels import
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if package_root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([package_root] + paths)
    threads = os.environ.setdefault("DIFFGEN_THREADS", str(DEFAULT_THREADS))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, threads)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # text progress bars in executed notebooks (widget bars would be saved as widget state)
    os.environ.setdefault("DIFFGEN_PROGRESS", "text")
    # kernelspecs of this environment first, so "python3" is this interpreter
    share = str(Path(sys.prefix) / "share" / "jupyter")
    jp = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if share not in jp:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([share] + jp)


class _Heartbeat(threading.Thread):
    """Prints every ``every`` seconds how long a chapter has run and how many cells are done."""

    def __init__(self, label: str, nb_path: Path, every: float = 30.0):
        super().__init__(daemon=True)
        self.label, self.nb_path, self.every = label, nb_path, every
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            done = total = 0
            try:
                nb = json.loads(self.nb_path.read_text(encoding="utf-8"))
                cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
                total = len(cells)
                done = sum(c["metadata"].get("papermill", {}).get("status") == "completed" for c in cells)
            except (OSError, ValueError, KeyError):
                pass
            cells_txt = f", {done}/{total} code cells" if total else ""
            print(f"      {self.label}: {time.monotonic() - self.t0:.0f} s{cells_txt}", flush=True)


def _kernel_config(ipc_dir: Path):
    """Kernels talk over IPC sockets in a private folder on Linux (no TCP ports, no
    "unencrypted TCP" warning, no socket files in the chapter's working directory)."""
    from traitlets.config import Config

    transport = os.environ.get("DIFFGEN_KERNEL_TRANSPORT", "ipc" if sys.platform.startswith("linux") else "tcp")
    if transport != "ipc":
        return Config({"KernelManager": {"transport": transport}})
    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(ipc_dir) / "kernel")}})


def execute_chapter(
    stem: str, output: Path, parameters: dict | None = None, root: Path = ROOT, *, label: str = ""
) -> None:
    """Execute ``book/<stem>.py`` with papermill into ``output`` (inputs from the .py source)."""
    import jupytext
    import nbformat
    import papermill

    root = Path(root)
    kernel_environment()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    work = root / "_build" / "exec"
    work.mkdir(parents=True, exist_ok=True)
    src_nb = work / f"{output.stem}.input.ipynb"
    tmp_out = work / f"{output.stem}.ipynb"
    nb = jupytext.read(root / "book" / f"{stem}.py")
    nbformat.write(nb, src_nb)
    beat = _Heartbeat(label or stem, tmp_out, float(os.environ.get("DIFFGEN_PROGRESS_EVERY", 30)))
    beat.start()
    ipc_dir = tempfile.mkdtemp(prefix="diffgen-ipc-")  # short path: unix sockets allow ~100 chars
    try:
        papermill.execute_notebook(
            str(src_nb),
            str(tmp_out),
            parameters=parameters or None,
            kernel_name="python3",
            cwd=str(root / "book"),
            progress_bar=False,
            log_output=False,
            record_timing=False,  # papermill's own per-cell metadata has the timings
            config=_kernel_config(ipc_dir),
        )
    finally:
        beat.stop.set()
        shutil.rmtree(ipc_dir, ignore_errors=True)
    nb = nbformat.read(tmp_out, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if any(t in tags for t in PARAMETER_TAGS) and "hide-input" not in tags:
            cell.metadata["tags"] = list(tags) + ["hide-input"]
    pm = nb.metadata.setdefault("papermill", {})
    pm["input_path"] = f"book/{stem}.py"
    pm["output_path"] = _rel(output, root)
    nb.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
    nb.metadata["jupytext"].pop("text_representation", None)
    jupytext.write(nb, output, fmt="ipynb")
    if output.parent.resolve() == (root / "book").resolve():
        os.utime(root / "book" / f"{stem}.py")  # the pair's text file stays the newer one
    if str(root.resolve()) in output.read_text(encoding="utf-8"):
        print(f"      warning: {_rel(output, root)} contains this machine's path {root.resolve()}")


def _jupyter_book() -> str:
    exe = Path(sys.executable).parent / "jupyter-book"
    return str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book")


def build_html(root: Path = ROOT, output_dir: Path | None = None, strict: bool = True) -> int:
    """``jupyter-book build <root> -q -W -n --keep-going`` (execution is off in _config.yml)."""
    cmd = [_jupyter_book(), "build", str(root), "-q"]  # -q: warnings and errors only
    if output_dir is not None:
        cmd += ["--path-output", str(output_dir)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    return subprocess.call(cmd, cwd=str(root))


def cmd_build(args: argparse.Namespace) -> int:
    root = Path(args.root)
    t_start = time.monotonic()
    stems = toc_chapters(root)
    if args.chapters:
        wanted = {resolve_chapter(c, root / "book") for c in args.chapters}
        stems = [s for s in stems if s in wanted]
    for stem in sorted(set(all_chapters(root / "book")) - set(toc_chapters(root))):
        print(f"note: book/{stem}.py is not in _toc.yml, so it is neither executed nor built", flush=True)
    failed = []
    for i, stem in enumerate(stems, 1):
        tag = f"[{i}/{len(stems)}] {stem}"
        if stem in AGGREGATE_PAGES and failed:
            print(f"{tag}: not executed (a chapter failed)", flush=True)
            continue
        if not args.force and is_up_to_date(stem, {}, root):
            print(f"{tag}: up to date, skipped", flush=True)
            continue
        print(f"{tag}: executing ...", flush=True)
        t0 = time.monotonic()
        try:
            execute_chapter(stem, root / "book" / f"{stem}.ipynb", None, root, label=stem)
        except Exception as exc:  # papermill's execution error carries the cell's traceback
            failed.append(stem)
            first = str(exc).strip().splitlines()
            print(f"{tag}: FAILED after {time.monotonic() - t0:.1f} s", flush=True)
            print("      " + "\n      ".join(first[-8:]), flush=True)
            print(f"      the failed notebook: {_rel(root / '_build' / 'exec' / f'{stem}.ipynb', root)}")
            if not args.keep_going:
                break
            continue
        write_stamp(stem, {}, root)
        print(f"{tag}: done in {time.monotonic() - t0:.1f} s", flush=True)
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
    print(f"book: done in {time.monotonic() - t_start:.1f} s", flush=True)
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


def run_config(root: Path, page_dir: Path) -> Path:
    """A _config.yml for building one run page on its own (page mode of jupyter-book)."""
    import yaml

    cfg = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8")) or {}
    cfg.pop("only_build_toc_files", None)
    cfg.pop("exclude_patterns", None)
    bib = Path(root) / "book" / "references.bib"
    if bib.exists():
        shutil.copy(bib, page_dir / "references.bib")
        cfg["bibtex_bibfiles"] = ["references.bib"]
    sphinx_cfg = cfg.setdefault("sphinx", {}).setdefault("config", {})
    static = Path(root) / "book" / "_static"
    sphinx_cfg["html_static_path"] = [str(static.resolve())] if static.exists() else []
    path = page_dir / "_config.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def build_run_page(nb_path: Path, root: Path = ROOT) -> Path | None:
    """Build the HTML of one executed run notebook; returns the page's path."""
    import nbformat

    nb_path = Path(nb_path)
    page_dir = nb_path.parent / f"{nb_path.stem}.page"
    if page_dir.exists():
        shutil.rmtree(page_dir)
    page_dir.mkdir(parents=True)
    nb = nbformat.read(nb_path, as_version=4)
    pm = nb.metadata.get("papermill", {})
    note = ", ".join(f"`{k} = {_fmt(v)}`" for k, v in (pm.get("parameters") or {}).items())
    title = next((i + 1 for i, c in enumerate(nb.cells)
                  if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), 0)
    nb.cells.insert(title, nbformat.v4.new_markdown_cell(
        f"```{{note}}\nA run with other parameters than the book's: {note or 'the defaults'}.\n```"
    ))
    if (Path(root) / "book" / "references.bib").exists():
        nb.cells.append(nbformat.v4.new_markdown_cell("## References\n\n```{bibliography}\n```"))
    nbformat.write(nb, page_dir / nb_path.name)
    cfg = run_config(root, page_dir)
    cmd = [_jupyter_book(), "build", str(page_dir / nb_path.name), "--config", str(cfg),
           "--path-output", str(page_dir)]
    res = subprocess.run(cmd, cwd=str(root), capture_output=True, text=True)
    html = page_dir / "_build" / "_page" / nb_path.stem / "html" / f"{nb_path.stem}.html"
    if res.returncode != 0 or not html.exists():
        print("\n".join((res.stdout + res.stderr).splitlines()[-30:]), file=sys.stderr)
        return None
    return html


def cmd_run(args: argparse.Namespace) -> int:
    root = Path(args.root)
    stem = resolve_chapter(args.chapter, root / "book")
    specs = parse_spec(stem, root / "book")
    values: dict[str, Any] = {}
    if args.profile:
        values.update(load_profile(args.profile, stem, specs, root))
    raw = {}
    for name, text in args.param or []:
        raw[name] = text
        values[name] = specs[name].parse_cli(text) if name in specs else resolve_cli_value(text)
    params = validate(stem, specs, values, raw)
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


def main(argv: list[str] | None = None) -> int:
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
    p_build.set_defaults(func=cmd_build)
    p_run = sub.add_parser("run", help="execute one chapter with other parameters into _build/runs/")
    p_run.add_argument("chapter", help="03_training_gap or training_gap")
    p_run.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                       help="set a parameter (papermill's value rules; lists as [1, 2])")
    p_run.add_argument("--profile", help="apply a profile of book/profiles.yml first (e.g. gpu)")
    p_run.add_argument("--no-html", action="store_true", help="skip building the HTML page")
    p_run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ParamError, SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

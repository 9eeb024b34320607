"""Chapter parameter specs: the grammar of the ``parameters`` cell's comments, parsing, validation."""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import math
import re
import tokenize
from pathlib import Path
from typing import Any

from .layout import BOOK, _rel


class SpecError(Exception):
    """A chapter's ``parameters`` cell does not follow the spec grammar."""


class ParamError(ValueError):
    """A parameter value is not allowed (one line: name, what is allowed, what was given)."""


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

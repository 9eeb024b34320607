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

from ..studies import run_parameters
from .layout import BOOK, _rel


class SpecError(Exception):
    """A chapter's ``parameters`` cell does not follow the spec grammar."""


class ParamError(ValueError):
    """A parameter value is not allowed (one line: name, what is allowed, what was given)."""


_TYPES = ("list of int", "list of float", "list of str", "int", "float", "str", "bool")
# Clauses that compare a value (each element of a list) with an expression.
_RELATIONS = {
    "at most": lambda x, b: x <= b,
    "at least": lambda x, b: x >= b,
    "above": lambda x, b: x > b,
    "below": lambda x, b: x < b,
    "containing": None,  # lists: the value of the expression is an element
}
_FLAGS = ("sorted", "may be empty")  # lists: in increasing order; [] allowed
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


def _dataset_size(name: str) -> int:
    """Images in a dataset's pool (``diffgen_lib.data``'s static table: no torch, no files)."""
    from ..data import dataset_size

    return dataset_size(name)


# Functions a clause's expression may call (see parse_spec_comment).
_FUNCTIONS = {"dataset_size": _dataset_size, "min": min, "max": max, "len": len}


def _eval_node(node: ast.AST, env: dict | None = None) -> Any:
    """Evaluate a constant expression (numbers, strings, lists, arithmetic, inf/pi/e); with
    ``env``, also its names (other parameters) and calls of :data:`_FUNCTIONS`."""
    if isinstance(node, ast.Expression):
        return _eval_node(node.body, env)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and env is not None and node.id in env:
        return env[node.id]
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.Attribute) and node.attr == "inf":  # math.inf, np.inf
        return math.inf
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
        if len(node.args) == 1 and not node.keywords:
            return float(_eval_node(node.args[0], env))
    if (env is not None and isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS and not node.keywords):
        return _FUNCTIONS[node.func.id](*(_eval_node(a, env) for a in node.args))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval_node(node.operand, env)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval_node(node.left, env), _eval_node(node.right, env))
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval_node(e, env) for e in node.elts]
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
    clauses: tuple = ()  # (word, expression text) pairs, e.g. ("at most", "n_train // 2")
    help: str = ""
    line: int = 0  # line number in the chapter source

    @property
    def allowed(self) -> str:
        """The spec as a phrase: ``int in [50, 1797]``, ``one of {"a", "b"}``, with its clauses."""
        if self.kind == "choice":
            text = "one of {" + ", ".join(_fmt(c) for c in self.choices) + "}"
        else:
            text = f"{self.kind} in {self.range_text}" if self.range_text else self.kind
        return ", ".join([text] + [f"{word} {expr}".strip() for word, expr in self.clauses])

    @property
    def may_be_empty(self) -> bool:
        return ("may be empty", "") in self.clauses

    @property
    def relations(self) -> tuple:
        """The clauses that compare with an expression (other parameters, dataset sizes)."""
        return tuple((w, e) for w, e in self.clauses if w in _RELATIONS)

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
            if not value and not self.may_be_empty:
                raise fail("an empty list")
            out = []
            for item in value:
                ok, item = self._scalar(element, item)
                if not ok:
                    raise fail(f"element {_fmt(item)} is a {_type_name(item)}")
                if element != "str" and not self._in_range(item):
                    raise fail(f"element {_fmt(item)} is out of range")
                out.append(item)
            if ("sorted", "") in self.clauses and out != sorted(out):
                raise fail("not in increasing order")
            return out
        ok, value = self._scalar(self.kind, value)
        if not ok:
            raise fail(f"a {_type_name(value)}")
        if self.kind in ("int", "float") and not self._in_range(value):
            raise fail()
        return value

    def check_relations(self, value: Any, values: dict, given: str | None = None) -> None:
        """Check the clauses that name other parameters; ``values`` holds every parameter."""
        for word, expr in self.relations:
            try:
                bound = _eval_node(ast.parse(expr, mode="eval"), values)
            except Exception as exc:  # e.g. a dataset the size table does not know
                raise ParamError(f"parameter '{self.name}': cannot evaluate {word} {expr}: {exc}") from None
            items = value if isinstance(value, list) else [value]
            if word == "containing":
                bad = None if bound in items else f"does not contain {_fmt(bound)}"
            else:
                wrong = [x for x in items if not _RELATIONS[word](x, bound)]
                what = f"element {_fmt(wrong[0])} is " if wrong and isinstance(value, list) else ""
                bad = wrong and f"{what}not {word} {_fmt(bound)} here"
            if bad:
                shown = given if given is not None else _fmt(value)
                raise ParamError(f"parameter '{self.name}' must be {self.allowed}, got {shown} ({bad})")

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


def _top_level_colon(text: str) -> int:
    """Index of the first ":" outside brackets and quotes (len(text) if there is none)."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0:
            return i
    return len(text)


def _parse_clause(text: str, kind: str) -> tuple[str, str]:
    """One clause after the type: ``at most EXPR`` -> ("at most", "EXPR"), ``sorted`` -> ("sorted", "")."""
    is_list = kind.startswith("list of ")
    if text in _FLAGS:
        if not is_list:
            raise SpecError(f'"{text}" is a clause for lists, not for {kind}')
        return text, ""
    for word in _RELATIONS:
        if text.startswith(word + " "):
            expr = text[len(word) :].strip()
            try:
                ast.parse(expr, mode="eval")
            except SyntaxError:
                raise SpecError(f'cannot read the expression of "{text}"') from None
            if word == "containing" and not is_list:
                raise SpecError(f'"containing" is a clause for lists, not for {kind}')
            if word != "containing" and kind in ("str", "bool", "list of str"):
                raise SpecError(f'"{word}" needs a numeric type, not {kind}')
            return word, expr
    raise SpecError(f'unknown clause "{text}" (clauses: at most, at least, above, below, '
                    f'containing EXPR; sorted; may be empty)')


def _parse_clauses(rest: str, kind: str) -> tuple[tuple, str]:
    """``, at most EXPR, sorted: help`` -> the clauses and what follows them (``: help``)."""
    rest = rest.lstrip()
    if not rest.startswith(","):
        return (), rest
    end = _top_level_colon(rest)
    clauses = tuple(_parse_clause(part, kind) for part in _split_top_level_comma(rest[1:end]))
    return clauses, rest[end:]


def parse_spec_comment(text: str) -> dict:
    """Parse ``int in [50, 1797], at most EXPR: help`` / ``one of {...}: help`` into ParamSpec fields."""
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
            if text == kind or re.match(re.escape(kind) + r"(\s|:|,)", text):
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
                if re.match(r"\s*(:|,|$)", rest[m.end() :]):
                    inner, closing = rest[1 : m.start()], rest[m.start()]
                    break
            else:
                raise SpecError('a range ends with "]" or ")" before the ":" (or a ",")')
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
    fields["clauses"], rest = _parse_clauses(rest, fields["kind"])
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
                if text.startswith(run_parameters.MARKER):  # declared once for every chapter
                    try:
                        text = run_parameters.spec_text(name, text)
                    except KeyError as exc:
                        raise SpecError(exc.args[0]) from None
                fields = parse_spec_comment(text)
                break
            except SpecError as exc:
                errors.append(str(exc))
        else:
            raise SpecError(f"{where}: spec of '{name}' not understood: {errors[0]}")
        specs[name] = ParamSpec(name=name, default=default, line=first + node.lineno - 1, **fields)
    for spec in specs.values():
        for word, expr in spec.relations:
            unknown = _unknown_names(expr, specs)
            if unknown:
                raise SpecError(
                    f"{filename}:{spec.line}: clause '{word} {expr}' of '{spec.name}' names "
                    f"{', '.join(unknown)}: not a parameter, nor one of {', '.join(_FUNCTIONS)}"
                )
    return specs


def _unknown_names(expr: str, specs: dict) -> list[str]:
    """Names in a clause's expression that are neither parameters nor known constants/functions."""
    known = set(specs) | set(_NAMES) | set(_FUNCTIONS) | {"float"}
    names = [n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)]
    return sorted({n for n in names if n not in known})


def chapter_source(stem: str, book_dir: Path = BOOK) -> Path:
    return Path(book_dir) / f"{stem}.py"


_PARSED_SPECS: dict[tuple[str, float], dict[str, ParamSpec]] = {}


def parse_spec(stem: str, book_dir: Path = BOOK) -> dict[str, ParamSpec]:
    """Parameter specs of chapter ``stem`` (from ``book/<stem>.py``)."""
    path = chapter_source(stem, book_dir)
    key = (str(path), path.stat().st_mtime)
    if key not in _PARSED_SPECS:
        _PARSED_SPECS[key] = parse_spec_source(path.read_text(encoding="utf-8"), _rel(path))
    return _PARSED_SPECS[key]


def validate(
    stem: str, specs: dict[str, ParamSpec], values: dict[str, Any], raw: dict[str, str] | None = None
) -> dict[str, Any]:
    """Check ``values`` (name -> value) against ``specs``, then the clauses that relate them to the
    other parameters (defaults for those not given); raw CLI strings only for messages."""
    out = {}
    for name, value in values.items():
        if name not in specs:
            names = ", ".join(specs) or "none"
            raise ParamError(
                f"unknown parameter '{name}' for chapter {stem} (its parameters: {names}), "
                f"got {name}={raw[name] if raw and name in raw else _fmt(value)}"
            )
        out[name] = specs[name].check(value, given=raw[name] if raw and name in raw else None)
    check_relations(specs, {name: spec.default for name, spec in specs.items()} | out, raw)
    return out


def check_relations(specs: dict[str, ParamSpec], values: dict[str, Any], raw: dict | None = None) -> None:
    """Check the clauses that relate parameters (``values`` holds every parameter's value)."""
    for name, spec in specs.items():
        if spec.relations:
            spec.check_relations(values[name], values, given=(raw or {}).get(name))

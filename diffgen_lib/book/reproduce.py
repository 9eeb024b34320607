""""Reproduce this figure": the command that regenerates a chapter's figures, and a Sphinx
extension that puts it, collapsed, under every figure of a chapter's page.

The command is generated from the chapter's parameter spec and the parameters its notebook was
executed with (papermill's record), never written by hand: ``python -m diffgen_lib.book run
<stem>`` with a ``-p NAME VALUE`` for each value that differs from the chapter's default, and the
same with ``--profile gpu``.
"""

from __future__ import annotations

import html
import json
import shlex
from pathlib import Path
from typing import Any

from .layout import AGGREGATE_PAGES, BOOK
from .params import _fmt, parse_spec

COMMAND = "python -m diffgen_lib.book run"


def _cli_value(value: Any) -> str:
    """A value as ``-p`` reads it back (papermill's rules; lists in Python syntax)."""
    if isinstance(value, str):
        return value
    return _fmt(value)


def reproduce_commands(stem: str, parameters: dict[str, Any] | None = None,
                       book_dir: Path = BOOK) -> list[str]:
    """The CPU command that re-executes ``stem`` with ``parameters`` and its gpu-profile variant."""
    specs = parse_spec(stem, book_dir)
    args = []
    for name, value in (parameters or {}).items():
        if name in specs and value != specs[name].default:
            args += ["-p", name, _cli_value(value)]
    base = f"{COMMAND} {stem}"
    extra = " ".join(shlex.quote(a) for a in args)
    cpu = f"{base} {extra}".strip()
    gpu = f"{base} --profile gpu {extra}".strip()
    return [cpu, gpu]


def reproduce_html(commands: list[str]) -> str:
    cpu, gpu = (html.escape(c) for c in commands)
    return (
        '<details class="reproduce-figure"><summary>Reproduce this figure</summary>'
        "<p>From the repository, in its environment (<code>make book</code> creates it), this "
        "re-executes the chapter with the parameters of this page:</p>"
        f'<pre class="reproduce-command" style="white-space: pre-wrap; overflow-wrap: anywhere">{cpu}</pre>'
        "<p>At paper-like scale on a GPU:</p>"
        f'<pre class="reproduce-command" style="white-space: pre-wrap; overflow-wrap: anywhere">{gpu}</pre></details>'
    )


def _executed_parameters(source: Path) -> dict[str, Any] | None:
    """The parameters papermill recorded in an executed notebook (None: not an executed chapter)."""
    try:
        meta = json.loads(source.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    papermill = meta.get("papermill")
    return None if papermill is None else dict(papermill.get("parameters") or {})


def _add_boxes(app, doctree) -> None:
    from docutils import nodes

    if app.builder.format != "html":
        return
    docname = app.env.docname
    stem = Path(docname).name.split("-")[0]  # a run page is named <stem>-<hash of its parameters>
    source = Path(app.srcdir) / f"{docname}.ipynb"
    if stem in AGGREGATE_PAGES or not source.exists():
        return
    parameters = _executed_parameters(source)
    if parameters is None:
        return
    try:
        commands = reproduce_commands(stem, parameters)
    except FileNotFoundError:  # a notebook that is not one of the book's chapters
        return
    box = reproduce_html(commands)
    for figure in list(doctree.findall(nodes.figure)):
        parent = figure.parent
        parent.insert(parent.index(figure) + 1, nodes.raw("", box, format="html"))


def setup(app):
    app.connect("doctree-read", _add_boxes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

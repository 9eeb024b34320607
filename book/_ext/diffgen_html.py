"""Small fixes of the built HTML pages, as a Sphinx extension (loaded by _config.yml).

* Script tags that the theme and the extensions add twice (Sphinx registers a body-only script
  once as ``None`` and once as ``''``; sphinx-thebe's ``const THEBE_JS_URL`` then throws "has
  already been declared" on every page) are kept once.
* Stylesheet links to font-awesome on a CDN, which matplotlib's JavaScript animation player puts
  into its HTML, are removed: the page reads offline, and the theme's own icon font and
  ``_static/diffgen.css`` draw the player's buttons.
* The bibliography gets author-year labels ("Karras et al., 2022"), matching the author-year
  citations in the text: formatting style ``authoryear`` (pybtex's ``plain`` with those labels).
* The pages of the 28x28 tier (book/long/) get a notice when the library has changed since they
  were executed (``diffgen_lib.book.tier``).
* nbval's marker comments (``# NBVAL_CHECK_OUTPUT``, ...) are taken out of the code cells the pages
  show; the notebooks keep them for nbval (a post-transform: every builder, cached doctrees too).
* The single-page build (``make pdf``) gets every chapter's widget state and widget scripts:
  myst-nb adds only those of the page's own document, the front page, which has no widgets.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

EXTERNAL_FONT_AWESOME = re.compile(
    r"<link\b[^>]*\bhref=[\"'](?:https?:)?//[^\"']*font-?awesome[^\"']*[\"'][^>]*>", re.I
)


def _script_key(js) -> tuple:
    attrs = tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items()))
    return (getattr(js, "filename", js) or "", getattr(js, "priority", 0), attrs)


def dedupe_scripts(scripts) -> list:
    """The scripts in their order, each (file or body, priority, attributes) once."""
    seen, out = set(), []
    for js in scripts:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            out.append(js)
    return out


def strip_external_font_awesome(html: str) -> str:
    """``html`` without ``<link>`` tags that load font-awesome from another host."""
    return EXTERNAL_FONT_AWESOME.sub("", html)


#: a line that holds only one of nbval's cell markers (nbval reads them on any line of a cell)
NBVAL_MARKER_LINE = re.compile(r"[ \t]*#[ \t]*NBVAL_[A-Z_]+[ \t]*")


def strip_test_markers(source: str) -> str:
    """``source`` without the lines that hold only an nbval marker (``# NBVAL_CHECK_OUTPUT``)."""
    lines = source.splitlines(keepends=True)
    return "".join(line for line in lines if not NBVAL_MARKER_LINE.fullmatch(line.rstrip("\r\n")))


class StripTestMarkers(SphinxPostTransform):
    """Takes nbval's marker lines out of the source that notebook code cells show."""

    default_priority = 100

    def run(self, **kwargs) -> None:
        for block in list(self.document.findall(nodes.literal_block)):
            parent = block.parent
            if not (isinstance(parent, nodes.container) and parent.get("nb_element") == "cell_code_source"):
                continue
            text = block.astext()
            shown = strip_test_markers(text)
            if shown != text:
                block.rawsource = shown  # the highlighter reads rawsource; it must equal the text
                block.children = []
                block += nodes.Text(shown)


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = dedupe_scripts(context["script_files"])
    if isinstance(context.get("body"), str):
        context["body"] = strip_external_font_awesome(context["body"])


def _single_page_notebook_scripts(app, pagename, templatename, context, doctree) -> None:
    """singlehtml: the one page also loads the notebook scripts (widget state, widget JavaScript)
    of every other document, so that the chapters' widgets render there as on their own pages."""
    if app.builder.name != "singlehtml" or pagename != app.config.root_doc:
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    for docname in sorted(app.env.all_docs):
        if docname != pagename:
            for path, kwargs in NbMetadataCollector.get_js_files(app.env, docname).values():
                app.add_js_file(path, **kwargs)  # once each: the builder skips a file it has


def _register_bibliography_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.plain import Style as PlainStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabelStyle(BaseLabelStyle):
        """Labels "Kamb and Ganguli, 2024", "Karras et al., 2022" (a, b, ... when two agree)."""

        def format_labels(self, sorted_entries):
            labels = [self.format_label(entry) for entry in sorted_entries]
            counts = {label: labels.count(label) for label in labels}
            seen: dict[str, int] = {}
            for label in labels:
                if counts[label] > 1:
                    seen[label] = seen.get(label, 0) + 1
                    yield f"{label}{chr(ord('a') + seen[label] - 1)}"
                else:
                    yield label

        def format_label(self, entry) -> str:
            from pybtex.richtext import Text

            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [Text.from_latex(" ".join(p.last_names)).render_as("text") for p in people]
            if not names:
                who = entry.fields.get("title", entry.key)[:20]
            elif len(names) == 1:
                who = names[0]
            elif len(names) == 2:
                who = f"{names[0]} and {names[1]}"
            else:
                who = f"{names[0]} et al."
            return f"{who}, {entry.fields.get('year', 'n.d.')}"

    class AuthorYearStyle(PlainStyle):
        default_label_style = "authoryear"

    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def _tier_notice(app, doctree) -> None:
    """On a page of the 28x28 tier (book/long/): a notice when the library has changed since the
    page was executed (its notebook records the library version it ran with; the current one is
    computed at build time, nothing is executed)."""
    import json
    from pathlib import Path

    docname = app.env.docname
    if not docname.startswith("book/long/"):
        return
    from diffgen_lib.book import tier

    path = Path(app.env.doc2path(docname))
    try:
        record = tier.tier_record(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return
    current = getattr(app, "_diffgen_library", None) or tier.library_version()
    app._diffgen_library = current
    text = tier.notice(record, current)
    if text is None:
        return
    box = nodes.warning("", nodes.paragraph(text=text))
    section = next(iter(doctree.findall(nodes.section)), None)
    parent = section if section is not None else doctree
    title = next((i for i, n in enumerate(parent.children) if isinstance(n, nodes.title)), -1)
    parent.insert(title + 1, box)


def setup(app):
    _register_bibliography_style()
    app.connect("doctree-read", _tier_notice)
    app.connect("html-page-context", _single_page_notebook_scripts)
    app.connect("html-page-context", _page_context, priority=900)
    app.add_post_transform(StripTestMarkers)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

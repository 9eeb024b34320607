"""Small fixes of the built HTML pages, as a Sphinx extension (loaded by _config.yml).

* Script tags that the theme and the extensions add twice (Sphinx registers a body-only script
  once as ``None`` and once as ``''``; sphinx-thebe's ``const THEBE_JS_URL`` then throws "has
  already been declared" on every page) are kept once.
* Stylesheet links to font-awesome on a CDN, which matplotlib's JavaScript animation player puts
  into its HTML, are removed: the page reads offline, and the theme's own icon font and
  ``_static/diffgen.css`` draw the player's buttons.
* The bibliography gets author-year labels ("Karras et al., 2022"), matching the author-year
  citations in the text: formatting style ``authoryear`` (pybtex's ``plain`` with those labels).
"""

from __future__ import annotations

import re

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


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = dedupe_scripts(context["script_files"])
    if isinstance(context.get("body"), str):
        context["body"] = strip_external_font_awesome(context["body"])


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


def setup(app):
    _register_bibliography_style()
    app.connect("html-page-context", _page_context, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

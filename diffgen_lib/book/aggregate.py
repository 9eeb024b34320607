"""What the aggregate pages read from the chapters' notebooks: CLAIM/SCALE lines, claims table, timings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

from ..studies import claims
from .layout import AGGREGATE_PAGES, ROOT
from .runner import longest_seconds
from .toc import toc_chapters


VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")
Claim = claims.ParsedClaim
format_claim_line = claims.format_claim_line
parse_claim_line = claims.parse_claim_line


def format_claim(claim_id: str, verdict: bool | str, measured: str, value: Any, criterion: str,
                 interval: tuple[Any, Any] | None = None) -> str:
    """The CLAIM line of a claim without controls (:func:`claims.format_claim_line`): the
    closed-form claims, whose statements cannot come out otherwise."""
    return claims.format_claim_line(claim_id, verdict, measured, str(value), criterion, interval)


def format_scale(dataset: str, n_train: Any, model: str, steps: Any) -> str:
    return f"SCALE: {dataset}, N={n_train}, {model}, {steps}"


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


TIER_SCALE = "mnist5k"  # the 28x28 tier's scale: its pages' lines of the other scales repeat the book's


def collect_claims(root: Path = ROOT) -> list[Claim]:
    """CLAIM lines of every chapter's committed notebook, in ``_toc.yml`` order, then the 28x28
    tier's lines at its own scale (book/long/), each scale marked with the date its page ran."""
    from .tier import TIER_DIR, tier_notebooks, tier_record

    claims: list[Claim] = []
    for stem in toc_chapters(root):
        path = Path(root) / "book" / f"{stem}.ipynb"
        if stem not in AGGREGATE_PAGES and path.exists():
            claims.extend(claims_of_notebook(_read_nb(path), stem))
    for path in tier_notebooks(root):
        nb = _read_nb(path)
        date = (tier_record(nb) or {}).get("date", "?")
        for c in claims_of_notebook(nb, f"{Path(TIER_DIR).name}/{path.stem}"):
            if scale_name(c.scale) == TIER_SCALE:
                c.scale = f"{c.scale} (executed {date})"
                claims.append(c)
    return claims


def claim_rows(paper: dict[str, dict], claims: list[Claim]) -> list[dict]:
    """One row per measured claim (grouped under the paper's claim ids, in order); a paper claim
    nobody measured yet gets a "not yet measured" row; ids the paper lacks come last."""
    rows = []
    seen = set()
    for pid, info in paper.items():
        mine = [c for c in claims if c.base_id == pid]
        # one line per claim id, chapter and scale (the same id at two scales is not a duplicate)
        where = [(c.id, c.chapter, c.scale) for c in mine]
        for c in mine:
            seen.add(id(c))
            rows.append(dict(id=c.id, paper=info, claim=c, duplicate=where.count((c.id, c.chapter, c.scale)) > 1))
        if not mine:
            rows.append(dict(id=pid, paper=info, claim=None, duplicate=False))
    for c in claims:
        if id(c) not in seen:
            rows.append(dict(id=c.id, paper=None, claim=c, duplicate=False))
    return rows


def tally(rows: list[dict]) -> dict[str, int]:
    """How many measured lines have each verdict, and how many paper claims nobody measured."""
    counts = {v: 0 for v in VERDICTS}
    for r in rows:
        if r["claim"] is not None:
            counts[r["claim"].verdict] += 1
    counts["not yet measured"] = sum(1 for r in rows if r["claim"] is None)
    return counts


def scale_name(scale: str) -> str:
    """The scale of a SCALE line in a few words: its dataset ("digits", "mnist5k14", ...)."""
    return scale.split(",")[0].strip() if scale else "no SCALE line"


def tallies(rows: list[dict]) -> list[dict]:
    """The two tallies: empirical claims per scale (with how many have controls that all FAIL, so
    that their test could fail), then the closed-form checks (C1, C6), which cannot come out
    otherwise. One dict per line: kind, scale, lines, PASS, FAIL, INCONCLUSIVE, controls fail."""
    out: dict[tuple, dict] = {}
    for r in rows:
        c = r["claim"]
        if c is None:
            continue
        kind = "empirical" if c.empirical else "closed-form"
        where = scale_label(c) if c.empirical else "analytic"
        t = out.setdefault((kind, where), {"kind": kind, "scale": where, "lines": 0, "controls fail": 0,
                                           **{v: 0 for v in VERDICTS}})
        t["lines"] += 1
        t[c.verdict] += 1
        t["controls fail"] += int(c.controls_fail)
    return sorted(out.values(), key=lambda t: (t["kind"] != "empirical", t["scale"]))


def tally_text(rows: list[dict]) -> str:
    """One line per tally of :func:`tallies` and the claims not yet measured."""
    lines = []
    for t in tallies(rows):
        what = (f"{t['lines']} empirical claim lines at {t['scale']}: {t['PASS']} PASS, {t['FAIL']} FAIL, "
                f"{t['INCONCLUSIVE']} INCONCLUSIVE; {t['controls fail']} with every positive control FAILing"
                if t["kind"] == "empirical" else
                f"{t['lines']} closed-form checks: {t['PASS']} PASS, {t['FAIL']} FAIL, {t['INCONCLUSIVE']} INCONCLUSIVE")
        lines.append(what)
    missing = tally(rows)["not yet measured"]
    if missing:
        lines.append(f"{missing} claims not yet measured")
    return "\n".join(lines)


def claims_text(rows: list[dict]) -> str:
    """Plain-text claims table (deterministic given the notebooks; nbval compares it)."""
    out = []
    for r in rows:
        c = r["claim"]
        if c is None:
            planned = r["paper"].get("chapter", "")
            out.append(f"{r['id']:<4} not yet measured" + (f" (planned: {planned})" if planned else ""))
            continue
        out.append(f"{r['id']:<4} {c.verdict}  {c.chapter}" + ("  [duplicate CLAIM id]" if r["duplicate"] else ""))
        out.append(f"     measured: {c.measured} = {c.value_text} (criterion: {c.criterion})")
        for what, value in c.also:
            out.append(f"     also:     {what}: {value}")
        for what, value, verdict in c.controls:
            out.append(f"     control:  {what}: {value} {verdict}")
        if c.reason:
            out.append(f"     reason:   {c.reason}")
        out.append(f"     scale:    {scale_text(c.scale)}")
    out.append(tally_text(rows))
    return "\n".join(out)


def tallies_markdown(rows: list[dict]) -> str:
    """The two tallies as a Markdown table with verdict badges."""
    lines = ["| claims | lines | " + " | ".join(verdict_badge(v) for v in VERDICTS) + " | every control FAILs |",
             "|---|---:|---:|---:|---:|---:|"]
    for t in tallies(rows):
        label = f"empirical, {t['scale']}" if t["kind"] == "empirical" else "closed-form checks (C1, C6)"
        fails = str(t["controls fail"]) if t["kind"] == "empirical" else "(no control needed)"
        lines.append(f"| {label} | {t['lines']} | " + " | ".join(str(t[v]) for v in VERDICTS) + f" | {fails} |")
    return "\n".join(lines)


_BADGE = {"PASS": "bdg-success", "FAIL": "bdg-danger", "INCONCLUSIVE": "bdg-warning"}


def verdict_badge(verdict: str) -> str:
    """A coloured verdict (sphinx-design badge role)."""
    return f"{{{_BADGE.get(verdict, 'bdg-muted')}}}`{verdict}`"


def _md_text(text: str) -> str:
    return str(text).replace("\n", " ").replace("*", "\\*")


def claims_markdown(rows: list[dict]) -> str:
    """The claims as MyST Markdown: a tally, then one block per paper claim with the paper's
    statement and number beside this book's lines (a two-column grid that stacks on a phone).
    Chapter links are {doc} roles, checked by the build."""
    parts = [tallies_markdown(rows), ""]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        base = r["claim"].base_id if r["claim"] is not None else r["id"]
        groups.setdefault(base, []).append(r)
    for base, group in groups.items():
        paper = group[0]["paper"]
        verdicts = [r["claim"].verdict for r in group if r["claim"] is not None]
        summary = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts) or "not yet measured"
        parts += [f"### {base}: {summary}", "", "::::{grid} 1 1 2 2", ":gutter: 2", "",
                  ":::{grid-item-card} The paper"]
        if paper:
            parts += [_md_text(paper["statement"]), "", f"*At paper scale:* {_md_text(paper['paper_scale'])}"]
        else:
            parts += ["(not a claim of the paper)"]
        parts += [":::", "", ":::{grid-item-card} This book"]
        where = None
        for r in group:
            c = r["claim"]
            if c is None:
                planned = (paper or {}).get("chapter", "")
                parts += [f"{verdict_badge('not yet measured')}"
                          + (f" planned in {{doc}}`{planned}`" if planned else ""), ""]
                continue
            if (c.chapter, c.scale) != where:  # each chapter and scale once, its lines below
                where = (c.chapter, c.scale)
                parts += ["", f"In {{doc}}`{c.chapter}` at {_md_text(scale_text(c.scale))}:", ""]
            dup = " (duplicate id)" if r["duplicate"] else ""
            parts += [f"- {verdict_badge(c.verdict)} **{c.id}**{dup}: {_md_text(c.measured)} = "
                      f"**{_md_text(c.value_text)}** (criterion: {_md_text(c.criterion)})"]
            for what, value in c.also:
                parts += [f"  - and {_md_text(what)}: {_md_text(value)}"]
            for what, value, verdict in c.controls:
                parts += [f"  - control, {_md_text(what)}: {_md_text(value)} {verdict_badge(verdict)}"]
            if c.reason:
                parts += [f"  - *why {c.verdict.lower()}:* {_md_text(c.reason)}"]
        parts += ["", ":::", "::::", ""]
    return "\n".join(parts)


def collect_timings(root: Path = ROOT) -> list[dict]:
    """Execution time of every chapter's committed notebook (papermill metadata) and its costliest
    recorded execution (:func:`runner.longest_seconds`: the one that computed its measurements)."""
    rows = []
    for stem in toc_chapters(root):
        path = Path(root) / "book" / f"{stem}.ipynb"
        if stem in AGGREGATE_PAGES or not path.exists():
            continue
        nb = _read_nb(path)
        pm = nb.get("metadata", {}).get("papermill", {})
        code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
        cells = [(k, c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)  # code cell k of n
                 for k, c in enumerate(code, start=1)]
        slow_i, slow_s = max(cells, key=lambda t: t[1]) if cells else (None, 0.0)
        rows.append(dict(
            chapter=stem, duration=pm.get("duration"), longest=longest_seconds(path) or None,
            end_time=pm.get("end_time"),
            threads=(nb.get("metadata", {}).get("diffgen") or {}).get("threads"),
            parameters=pm.get("parameters") or {}, n_cells=len(cells),
            slowest_cell=slow_i, slowest_s=slow_s,
        ))
    return rows


def figure_png(stem: str, name: str, root: Path = ROOT) -> str | None:
    """The PNG (base64) of the figure ``name`` (its ``mystnb.figure.name``) in a chapter's committed
    notebook, for a page that shows a chapter's figure again without recomputing it; None when the
    notebook has no such figure."""
    path = Path(root) / "book" / f"{stem}.ipynb"
    if not path.exists():
        return None
    for cell in _read_nb(path).get("cells", []):
        if (cell.get("metadata", {}).get("mystnb", {}).get("figure", {}) or {}).get("name") == name:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "image/png" in data:
                    png = data["image/png"]
                    return "".join(png) if isinstance(png, list) else png
    return None


SCALE_NAMES = {"digits": "8x8 digits", "mnist5k14": "14x14 MNIST", "mnist5k": "28x28 MNIST", "cifar10": "CIFAR-10"}


def scale_text(scale: str) -> str:
    """A SCALE line's text with its dataset's display name ("14x14 MNIST, N=1000, ...")."""
    if not scale:
        return "no SCALE line"
    name, _, rest = scale.partition(",")
    return SCALE_NAMES.get(name.strip(), name.strip()) + ("," + rest if rest else "")


def scale_label(c) -> str:
    """The column a claim line goes to on the front page: its image scale, or "closed form"."""
    if not c.empirical:
        return "closed form"
    name = scale_name(c.scale)
    return SCALE_NAMES.get(name, name)


def findings_markdown(rows: list[dict], paper: dict[str, dict]) -> str:
    """The front page's findings: one row per claim id with its verdict badge at every scale it
    was judged at (a Markdown table), then the tallies."""
    claims_ = [r["claim"] for r in rows if r["claim"] is not None]
    columns = []
    for c in claims_:
        label = scale_label(c)
        if label not in columns:
            columns.append(label)
    order = {base: i for i, base in enumerate(paper)}
    ids = sorted({c.id for c in claims_}, key=lambda i: (order.get(re.match(r"C\d+", i).group(0), 99), i))
    lines = ["| claim | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for cid in ids:
        cells = []
        for col in columns:
            mine = [c for c in claims_ if c.id == cid and scale_label(c) == col]
            cells.append(" ".join(verdict_badge(c.verdict) for c in mine) or "")
        lines.append(f"| {{doc}}`{cid} <{next(c.chapter for c in claims_ if c.id == cid)}>` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def glued(nb: dict, name: str):
    """A value a notebook glued under ``name`` (myst-nb), read back from its text form (numbers,
    lists and dicts of them); None when the notebook glued nothing under that name."""
    import ast

    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            if (out.get("metadata", {}).get("scrapbook") or {}).get("name") == name:
                data = out.get("data", {})  # a value glued with display=False has a papermill prefix
                text = next((v for k, v in data.items() if k.endswith("text/plain")), "")
                text = "".join(text) if isinstance(text, list) else text
                try:
                    return ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    return text.strip("'\"")
    return None

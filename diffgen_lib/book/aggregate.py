"""What the aggregate pages read from the chapters' notebooks: CLAIM/SCALE lines, claims table, timings."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Iterable

from .layout import AGGREGATE_PAGES, ROOT
from .toc import toc_chapters


_CLAIM_RE = re.compile(r"^CLAIM (?P<id>C\d+[a-z]?) (?P<status>PASS|FAIL|INCONCLUSIVE): (?P<rest>.*)$")
_INTERVAL_RE = re.compile(r"^(?P<value>.*?) \[90% CI (?P<lo>[^,\]]+), (?P<hi>[^\]]+)\]$")
VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")


def _verdict_word(verdict: bool | str) -> str:
    if not isinstance(verdict, str):  # a bool, numpy's too: a verdict on one draw
        return "PASS" if bool(verdict) else "FAIL"
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be True, False or one of {VERDICTS}, got {verdict!r}")
    return verdict


def format_claim(claim_id: str, verdict: bool | str, measured: str, value: Any, criterion: str,
                 interval: tuple[Any, Any] | None = None) -> str:
    """The CLAIM line: ``CLAIM <id> PASS|FAIL|INCONCLUSIVE: <measured> = <value>[ [90% CI lo,
    hi]] (criterion: <criterion>)``; ``verdict`` is a bool (a single draw) or a verdict word."""
    ci = f" [90% CI {interval[0]}, {interval[1]}]" if interval is not None else ""
    line = f"CLAIM {claim_id} {_verdict_word(verdict)}: {measured} = {value}{ci} (criterion: {criterion})"
    if "\n" in line or parse_claim_line(line) is None:
        raise ValueError(f"not a valid CLAIM line: {line!r}")
    return line


def format_scale(dataset: str, n_train: Any, model: str, steps: Any) -> str:
    return f"SCALE: {dataset}, N={n_train}, {model}, {steps}"


@dataclasses.dataclass
class Claim:
    id: str
    verdict: str
    measured: str
    value: str
    criterion: str
    chapter: str = ""
    scale: str = ""
    interval: tuple[str, str] | None = None  # the 90% interval's ends as printed; None: one draw

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    @property
    def base_id(self) -> str:
        return re.match(r"C\d+", self.id).group(0)

    @property
    def value_text(self) -> str:
        """The value with its interval, as the CLAIM line prints it."""
        return self.value + (f" [90% CI {self.interval[0]}, {self.interval[1]}]" if self.interval else "")

    @property
    def line(self) -> str:
        return (f"CLAIM {self.id} {self.verdict}: {self.measured} = {self.value_text} "
                f"(criterion: {self.criterion})")


def parse_claim_line(line: str) -> Claim | None:
    """Parse a CLAIM line (see :func:`format_claim`); None when it is not one."""
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
    interval = None
    ci = _INTERVAL_RE.match(value.strip())
    if ci:
        value, interval = ci.group("value"), (ci.group("lo").strip(), ci.group("hi").strip())
    return Claim(m.group("id"), m.group("status"), measured.strip(), value.strip(), criterion.strip(),
                 interval=interval)


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


def tally_text(rows: list[dict]) -> str:
    t = tally(rows)
    measured = sum(t[v] for v in VERDICTS)
    return (f"{measured} claims measured, {t['PASS']} PASS, {t['FAIL']} FAIL, "
            f"{t['INCONCLUSIVE']} INCONCLUSIVE, {t['not yet measured']} not yet measured")


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
        out.append(f"     scale:    {c.scale or 'no SCALE line'}")
    out.append(tally_text(rows))
    return "\n".join(out)


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
    t = tally(rows)
    parts = ["**Tally:** " + " &nbsp; ".join(
        f"{verdict_badge(v)} {t[v]}" for v in VERDICTS) + f" &nbsp; {verdict_badge('not yet measured')} "
        f"{t['not yet measured']}", ""]
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
                parts += ["", f"In {{doc}}`{c.chapter}` at {_md_text(c.scale or 'no SCALE line')}:", ""]
            dup = " (duplicate id)" if r["duplicate"] else ""
            parts += [f"- {verdict_badge(c.verdict)} **{c.id}**{dup}: {_md_text(c.measured)} = "
                      f"**{_md_text(c.value_text)}** (criterion: {_md_text(c.criterion)})"]
        parts += ["", ":::", "::::", ""]
    return "\n".join(parts)


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
            threads=(nb.get("metadata", {}).get("diffgen") or {}).get("threads"),
            parameters=pm.get("parameters") or {}, n_cells=len(cells),
            slowest_cell=slow_i, slowest_s=slow_s,
        ))
    return rows

"""What the aggregate pages read from the chapters' notebooks: CLAIM/SCALE lines, claims table, timings."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Iterable

from .layout import AGGREGATE_PAGES, ROOT
from .toc import toc_chapters


_CLAIM_RE = re.compile(r"^CLAIM (?P<id>C\d+[a-z]?) (?P<status>PASS|FAIL): (?P<rest>.*)$")


def format_claim(claim_id: str, passed: bool, measured: str, value: Any, criterion: str) -> str:
    """The CLAIM line: ``CLAIM <id> PASS|FAIL: <measured> = <value> (criterion: <criterion>)``."""
    line = f"CLAIM {claim_id} {'PASS' if passed else 'FAIL'}: {measured} = {value} (criterion: {criterion})"
    if "\n" in line or parse_claim_line(line) is None:
        raise ValueError(f"not a valid CLAIM line: {line!r}")
    return line


def format_scale(dataset: str, n_train: Any, model: str, steps: Any) -> str:
    return f"SCALE: {dataset}, N={n_train}, {model}, {steps}"


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

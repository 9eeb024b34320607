"""Claims as records: what was measured, how sure it is, against what criterion, and whether the
test could have failed.

A claim is judged on a statistic's :class:`~diffgen_lib.measure.intervals.Estimate` (value and 90%
interval) against a :class:`Criterion` fixed before the measurement. Beside it stand *positive
controls*: settings in which the claim's statement is false, by construction or by independent
evidence, measured by the same code and judged by the same criterion. The verdict rule, in one
place (:func:`decide`):

1. from the interval and the criterion: PASS (all of it meets it), FAIL (none of it does), else
   INCONCLUSIVE; a claim with several parts ("the index is low *and* the samples look like data")
   takes the weakest part;
2. a precondition that makes the test uninformative (given by the caller, e.g. "90% of the samples
   are decided before the training gap's band") gives INCONCLUSIVE with that reason;
3. an empirical claim whose controls do not all FAIL is INCONCLUSIVE: "the test cannot fail here".

:meth:`ClaimRecord.line` prints the book's CLAIM line, :func:`parse_claim_line` reads it back (the
claims page and the front page read the executed chapters' lines).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

from ..measure.intervals import Estimate
from ..measure.verdicts import ORDER, VERDICTS, verdict, worst_verdict
from . import numbers

CLOSED_FORM = ("C1", "C6")
"""Claims about closed-form properties of the analysis (the optimal denoiser, the toy model): they
cannot come out otherwise, so they are tallied apart from the empirical claims and need no control."""

CANNOT_FAIL = "the test cannot fail here"


def sig3(x: float) -> str:
    """3 significant digits; a nonzero |x| < 1e-6 prints as "<1e-6" (float round-off of an exact 0,
    :func:`numbers.sig3`), an exact 0 as "0"."""
    return numbers.sig3(x, roundoff=x != 0)


@dataclass(frozen=True)
class Criterion:
    """``statistic <comparison> threshold``, fixed before the measurement; ``note`` says where the
    threshold comes from when it is measured (e.g. "the 5% copy mixture")."""

    comparison: str
    threshold: float
    note: str = ""

    def judge(self, estimate: Optional[Estimate]) -> str:
        """The verdict of an estimate's interval; INCONCLUSIVE for a statistic not measured (None)."""
        if estimate is None:
            return "INCONCLUSIVE"
        return verdict(estimate.lo, estimate.hi, self.comparison, self.threshold)

    def text(self, fmt: Callable[[float], str] = sig3) -> str:
        return f"{self.comparison} {fmt(self.threshold)}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Part:
    """One statistic of a claim with its criterion (a claim has one or more parts, all must hold)."""

    statistic: str
    estimate: Estimate
    criterion: Criterion

    @property
    def verdict(self) -> str:
        return self.criterion.judge(self.estimate)


@dataclass(frozen=True)
class Control:
    """A positive control: the same statistics of a setting where the claim is false, judged by
    the claim's criteria (``estimates``: one per part, None for a part not measured for it)."""

    what: str
    estimates: tuple
    verdict: str

    @property
    def headline(self) -> Optional[Estimate]:
        return self.estimates[0] if self.estimates else None


def judge_control(what: str, estimates: Sequence[Optional[Estimate]], criteria: Sequence[Criterion]) -> Control:
    """A :class:`Control` judged part by part: FAIL when any part fails (the claim needs all of
    them), else the weakest part's verdict (a part not measured counts as INCONCLUSIVE)."""
    if len(estimates) != len(criteria):
        raise ValueError(f"control {what!r}: {len(estimates)} estimates for {len(criteria)} criteria")
    verdicts = [c.judge(e) for e, c in zip(estimates, criteria)]
    return Control(what, tuple(estimates), "FAIL" if "FAIL" in verdicts else worst_verdict(*verdicts))


def decide(raw: str, controls: Sequence[Control], precondition: str = "", empirical: bool = True) -> tuple:
    """(verdict, reason) by the book's rule (module docstring): a precondition, then controls that
    do not FAIL, make a claim INCONCLUSIVE; otherwise the interval's verdict ``raw`` stands."""
    if raw not in ORDER:
        raise ValueError(f"not a verdict: {raw!r}")
    reasons = []
    if precondition:
        reasons.append(precondition)
    if empirical:
        if not controls and not precondition:
            raise ValueError("an empirical claim needs at least one positive control")
        passing = [c for c in controls if c.verdict != "FAIL"]
        if passing:
            reasons.append(f"{CANNOT_FAIL} (control {'; '.join(f'{c.what} {c.verdict}' for c in passing)})")
    return ("INCONCLUSIVE", "; ".join(reasons)) if reasons else (raw, "")


@dataclass
class ClaimRecord:
    """A judged claim: its parts (statistic, estimate, criterion), its positive controls and the
    table rows its chapter shows. ``verdict`` and ``reason`` follow :func:`decide`."""

    id: str
    parts: List[Part]
    controls: List[Control] = field(default_factory=list)
    precondition: str = ""
    empirical: bool = True
    rows: List[dict] = field(default_factory=list)
    note: str = ""  # said after the measured text (e.g. the paper's statistic beside the book's)

    def __post_init__(self):
        if not self.parts:
            raise ValueError(f"claim {self.id} has no parts")
        if not re.fullmatch(r"C\d+[a-z]?", self.id):
            raise ValueError(f"not a claim id: {self.id!r}")
        if self.empirical != (base_id(self.id) not in CLOSED_FORM):
            raise ValueError(f"claim {self.id}: C1 and C6 are closed-form, the others empirical")
        self.verdict, self.reason = decide(self.raw_verdict, self.controls, self.precondition, self.empirical)

    @property
    def raw_verdict(self) -> str:
        """The verdict of the intervals alone (before controls and preconditions)."""
        return worst_verdict(*(p.verdict for p in self.parts))

    @property
    def headline(self) -> Part:
        return self.parts[0]

    def line(self, fmt: Callable[[float], str] = sig3) -> str:
        """The CLAIM line (:func:`format_claim_line`)."""
        head = self.headline
        said = "; ".join(t for t in (head.estimate.covers, self.note) if t)
        measured = head.statistic + (f" ({said})" if said else "")
        also = [(_short(p.statistic), p.estimate.text(fmt) if p.estimate else "not measured") for p in self.parts[1:]]
        criterion = " and ".join(p.criterion.text(fmt) if i == 0 else f"{_short(p.statistic)} {p.criterion.text(fmt)}"
                                 for i, p in enumerate(self.parts))
        judged = head.estimate.n > 0
        interval = None if not judged or (head.estimate.lo == head.estimate.hi == head.estimate.value
                                           and head.estimate.n == 1) else (fmt(head.estimate.lo), fmt(head.estimate.hi))
        controls = [(c.what, c.headline.text(fmt) if c.headline is not None else "not measured", c.verdict)
                    for c in self.controls]
        return format_claim_line(self.id, self.verdict, measured, fmt(head.estimate.value) if judged else "n/a",
                                 criterion, interval, controls, self.reason, also)

    def control_rows(self, fmt: Callable[[float], str] = sig3) -> List[dict]:
        """One row per setting, the claim's first, then each control: the headline statistic's value
        [interval], the other parts' (name value [interval]), the verdict by the claim's criteria."""
        def other(estimates):
            return "; ".join(f"{_short(p.statistic)} {e.text(fmt) if e is not None else 'not measured'}"
                             for p, e in zip(self.parts[1:], estimates[1:])) or "-"

        rows = [dict(setting="the claim", value=self.headline.estimate.text(fmt) if self.headline.estimate.n else "n/a",
                     **{"other parts": other([p.estimate for p in self.parts])},
                     verdict=self.verdict if self.verdict == self.raw_verdict
                     else f"{self.verdict} (by the criterion alone: {self.raw_verdict})")]
        for c in self.controls:
            rows.append(dict(setting=f"control: {c.what}",
                             value=c.headline.text(fmt) if c.headline is not None else "not measured",
                             **{"other parts": other(list(c.estimates))}, verdict=c.verdict))
        return rows


def _short(statistic: str) -> str:
    """The name of a part in a criterion or a table column: its text up to the first comma."""
    return statistic.split(",")[0].split(" (")[0]


def claim(claim_id: str, parts: Sequence[tuple], controls: Optional[Dict[str, Sequence[Optional[Estimate]]]] = None,
          precondition: str = "", rows: Optional[List[dict]] = None, note: str = "") -> ClaimRecord:
    """Build a :class:`ClaimRecord` from ``parts`` [(statistic, Estimate, Criterion), ...] and
    ``controls`` {what: [Estimate or None per part] (or one Estimate for a one-part claim)}, each
    control judged by the claim's criteria."""
    parts = [Part(s, e, c) for s, e, c in parts]
    criteria = [p.criterion for p in parts]
    judged = []
    for what, estimates in (controls or {}).items():
        if isinstance(estimates, Estimate) or estimates is None:
            estimates = [estimates]
        judged.append(judge_control(what, list(estimates), criteria))
    return ClaimRecord(claim_id, parts, judged, precondition, base_id(claim_id) not in CLOSED_FORM,
                       list(rows or []), note)


def not_judged(claim_id: str, statistic: str, criterion: Criterion, reason: str) -> ClaimRecord:
    """An INCONCLUSIVE record for a claim that cannot be judged with these parameters (one
    training-set size, fewer than two steps in a band): its value prints as "n/a"."""
    return ClaimRecord(claim_id, [Part(statistic, Estimate(float("nan"), float("nan"), float("nan"), 0), criterion)],
                       [], precondition=reason, empirical=base_id(claim_id) not in CLOSED_FORM)


def base_id(claim_id: str) -> str:
    """"C4" of "C4a"."""
    m = re.match(r"C\d+", claim_id)
    if m is None:
        raise ValueError(f"not a claim id: {claim_id!r}")
    return m.group(0)


# ----------------------------------------------------------------------------------------------
# The CLAIM line

_CLAIM_RE = re.compile(r"^CLAIM (?P<id>C\d+[a-z]?) (?P<status>PASS|FAIL|INCONCLUSIVE): (?P<rest>.*)$")
_INTERVAL_RE = re.compile(r"^(?P<value>.*?) \[90% CI (?P<lo>[^,\]]+), (?P<hi>[^\]]+)\]$")
_TAIL_RE = re.compile(r"^ \(criterion: (?P<criterion>.*?)\)(?P<tail>(?:; also .*?|; control .*?|; reason: .*)*)$")
_ALSO_RE = re.compile(r"^also (?P<what>.+): (?P<value>.+)$")
_CONTROL_RE = re.compile(r"^control (?P<what>.+): (?P<value>.+) (?P<verdict>PASS|FAIL|INCONCLUSIVE)$")


def _verdict_word(v: Union[bool, str]) -> str:
    if not isinstance(v, str):  # a bool, numpy's too: a verdict on one draw
        return "PASS" if bool(v) else "FAIL"
    if v not in VERDICTS:
        raise ValueError(f"verdict must be True, False or one of {VERDICTS}, got {v!r}")
    return v


def format_claim_line(claim_id: str, verdict_: Union[bool, str], measured: str, value: str, criterion: str,
                      interval: Optional[tuple] = None, controls: Sequence[tuple] = (), reason: str = "",
                      also: Sequence[tuple] = ()) -> str:
    """``CLAIM <id> <VERDICT>: <measured> = <value>[ [90% CI lo, hi]] (criterion: <criterion>)``,
    then ``; also <part>: <value>`` for each further part of the claim, ``; control <what>:
    <value> <VERDICT>`` per control and ``; reason: <why>`` when the verdict has one. Raises
    ValueError for a line :func:`parse_claim_line` cannot read back."""
    ci = f" [90% CI {interval[0]}, {interval[1]}]" if interval is not None else ""
    line = f"CLAIM {claim_id} {_verdict_word(verdict_)}: {measured} = {value}{ci} (criterion: {criterion})"
    for what, text in also:
        line += f"; also {what}: {text}"
    for what, text, v in controls:
        line += f"; control {what}: {text} {_verdict_word(v)}"
    if reason:
        line += f"; reason: {reason}"
    parsed = parse_claim_line(line)
    if "\n" in line or parsed is None or len(parsed.controls) != len(controls):
        raise ValueError(f"not a valid CLAIM line: {line!r}")
    return line


@dataclass
class ParsedClaim:
    """A CLAIM line read back (strings as printed)."""

    id: str
    verdict: str
    measured: str
    value: str
    criterion: str
    interval: Optional[tuple] = None
    controls: List[tuple] = field(default_factory=list)  # (what, value text, verdict)
    reason: str = ""
    chapter: str = ""
    scale: str = ""
    also: List[tuple] = field(default_factory=list)  # (part, value text): the claim's further parts

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    @property
    def base_id(self) -> str:
        return base_id(self.id)

    @property
    def empirical(self) -> bool:
        return self.base_id not in CLOSED_FORM

    @property
    def controls_fail(self) -> bool:
        """Every control FAILs (an empirical claim's test could fail); False without controls."""
        return bool(self.controls) and all(v == "FAIL" for _, _, v in self.controls)

    @property
    def value_text(self) -> str:
        return self.value + (f" [90% CI {self.interval[0]}, {self.interval[1]}]" if self.interval else "")

    @property
    def line(self) -> str:
        return format_claim_line(self.id, self.verdict, self.measured, self.value, self.criterion, self.interval,
                                 self.controls, self.reason, self.also)


def parse_claim_line(line: str) -> Optional[ParsedClaim]:
    """Read a CLAIM line (:func:`format_claim_line`); None when it is not one."""
    m = _CLAIM_RE.match(line.strip())
    if not m:
        return None
    rest = m.group("rest")
    cut = rest.rfind(" (criterion: ")
    while cut >= 0:
        t = _TAIL_RE.match(rest[cut:])
        if t:
            break
        cut = rest.rfind(" (criterion: ", 0, cut)
    if cut < 0:
        return None
    head, criterion, tail = rest[:cut], t.group("criterion"), t.group("tail")
    if " = " not in head:
        return None
    measured, value = head.rsplit(" = ", 1)
    interval = None
    ci = _INTERVAL_RE.match(value.strip())
    if ci:
        value, interval = ci.group("value"), (ci.group("lo").strip(), ci.group("hi").strip())
    controls, reason, also = [], "", []
    if tail:
        if "; reason: " in tail:
            tail, reason = tail.split("; reason: ", 1)
        pieces = re.split(r"; (?=also |control )", tail)
        for piece in [p for p in pieces if p]:
            a, c = _ALSO_RE.match(piece), _CONTROL_RE.match(piece)
            if piece.startswith("control ") and c is not None:
                controls.append((c.group("what"), c.group("value"), c.group("verdict")))
            elif piece.startswith("also ") and a is not None:
                also.append((a.group("what"), a.group("value")))
            else:
                return None
    return ParsedClaim(m.group("id"), m.group("status"), measured.strip(), value.strip(), criterion.strip(),
                       interval, controls, reason.strip(), also=also)


def replace_verdict(record: ClaimRecord, **changes) -> ClaimRecord:
    """A copy of ``record`` with fields changed and its verdict decided again."""
    return dataclasses.replace(record, **changes)

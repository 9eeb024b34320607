"""The 28x28 tier: chapters 03-06 executed with the ``long`` profile into ``book/long/``.

The tier's pages take about an hour and a half of two cores, so ``make book`` never executes
them: ``python -m diffgen_lib.book build-long`` (``make book-long``) trains the tier's runs and
executes the chapters into their own notebooks, which are committed with their outputs. Each
page records when it was executed, on what machine, how long it took and the library version it
ran with (:func:`library_version`); when the library has changed since, the HTML build puts a
notice on the page (``book/_ext/diffgen_html.py``) without executing anything.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from .layout import ROOT, _rel, available_cores

TIER = "long"
TIER_DIR = "book/long"
TIER_CHAPTERS = ("03_training_gap", "04_inference_gap", "05_trajectories", "06_factors")
TIER_TITLE = "At 28x28"
LABEL_PREFIX = "long-"


def library_version(root: Path = ROOT) -> str:
    """The first 12 hex digits of the sha256 of every ``diffgen_lib/**/*.py`` (path and content),
    the library part of the build's stamps."""
    from .stamps import library_files

    h = hashlib.sha256()
    for p in library_files(root):
        data = p.read_bytes()
        h.update(("lib:" + p.relative_to(root).as_posix()).encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()[:12]


def machine() -> str:
    """The cores this process may use and the CPU's model name, e.g. "2 cores, AMD EPYC"."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{available_cores()} cores, {model}"


def tier_record(nb: dict) -> dict | None:
    """The execution record of a tier notebook (``metadata.diffgen.tier``), or None."""
    return (nb.get("metadata", {}).get("diffgen") or {}).get("tier")


def notice(record: dict | None, current: str) -> str | None:
    """The text of the notice on a tier page whose library version is not the current one (None
    when it is, or when the page has no record)."""
    if not record or record.get("library") == current:
        return None
    return (f"This page was executed on {record.get('date', '?')} with library version {record.get('library', '?')}; "
            f"the library has changed since (now {current}), so its numbers may differ from what the current "
            f"code would compute. `make book-long` executes it again.")


def relabel(nb: dict, prefix: str = LABEL_PREFIX) -> dict:
    """The notebook with every figure, table and equation label prefixed (``fig-x`` -> ``long-fig-x``,
    in cell metadata, sources and Markdown outputs), so the tier's pages share no label with the
    default chapters they were executed from."""
    text = json.dumps(nb)
    names = set(re.findall(r'"name": "((?:fig|tbl|eq)-[A-Za-z0-9_-]+)"', text))
    names |= set(re.findall(r":name: ((?:fig|tbl)-[A-Za-z0-9_-]+)", text))
    names |= set(re.findall(r"\$\$ \((eq-[A-Za-z0-9_-]+)\)", text))
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])", prefix + name, text)
    return json.loads(text)


def header_cell(record: dict) -> dict:
    """The Markdown cell under a tier page's title: when, where, how long, which library."""
    import nbformat

    seconds = float(record["seconds"])
    took = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} minutes"
    return nbformat.v4.new_markdown_cell(
        f"```{{note}}\nThis page is the chapter executed with the `{TIER}` profile (the second scale on 28x28 MNIST "
        f"digits). Executed on {record['date']} on {record['machine']} in {took} (results already in the cache are "
        f"loaded, not computed again; README gives the times from an empty cache), library version "
        f"`{record['library']}`. `make book-long` executes it again. The text was written for the default "
        f"second scale, 14x14 MNIST digits; here the second scale is 28x28 MNIST digits (784 dimensions), as "
        f"the tables, figures and CLAIM lines say.\n```")


def finish_notebook(path: Path, seconds: float, root: Path = ROOT) -> None:
    """Relabel an executed tier notebook, record its execution and insert the header under its title."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb = nbformat.from_dict(relabel(nb))
    record = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": machine(),
              "seconds": round(float(seconds), 1), "library": library_version(root), "profile": TIER}
    nb.metadata.setdefault("diffgen", {})["tier"] = record
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), -1)
    if title >= 0:
        lines = nb.cells[title].source.split("\n")
        nb.cells[title].source = lines[0].rstrip() + f" ({TIER_TITLE})\n" + "\n".join(lines[1:])
    for cell in nb.cells:  # the profile's values, as papermill injected them: folded under the parameters cell
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            cell.metadata["tags"] = list(tags) + ["hide-input"]
    nb.cells.insert(title + 1, header_cell(record))
    nbformat.write(nb, path)


def build_tier(root: Path = ROOT, chapters=TIER_CHAPTERS) -> int:
    """Train the tier's runs, then execute its chapters with the profile into ``book/long/``,
    one after the other with every thread (the runs dominate; the chapters share their cached
    measurements). Returns 0, or 1 when a chapter failed."""
    from .cli import load_profile
    from .params import parse_spec
    from .runner import execute_chapter

    root = Path(root)
    out_dir = root / TIER_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    t_all = time.monotonic()
    train_tier_runs(root)
    print(f"tier: runs ready after {time.monotonic() - t_all:.0f} s", flush=True)
    for stem in chapters:
        specs = parse_spec(stem, root / "book")
        params = load_profile(TIER, stem, specs, root)
        out = out_dir / f"{stem}.ipynb"
        print(f"[{TIER}] {stem}: executing ...", flush=True)
        t0 = time.monotonic()
        try:
            execute_chapter(stem, out, params, root, label=f"{TIER}/{stem}")
        except Exception as exc:  # papermill's error carries the cell's traceback
            print(f"[{TIER}] {stem}: FAILED\n      " + "\n      ".join(str(exc).strip().splitlines()[-8:]), flush=True)
            return 1
        finish_notebook(out, time.monotonic() - t0, root)
        print(f"[{TIER}] {stem}: done in {time.monotonic() - t0:.0f} s -> {_rel(out, root)}", flush=True)
    print(f"tier: done in {time.monotonic() - t_all:.0f} s", flush=True)
    return 0


def train_tier_runs(root: Path = ROOT) -> None:
    """Train the tier's shared runs (the training-gap chapter's with the profile) on every core,
    one thread per run, side by side."""
    from ..studies import experiments
    from ..train import train_many
    from .chapter import pin_threads
    from .cli import load_profile
    from .params import parse_spec

    specs = parse_spec("03_training_gap", Path(root) / "book")
    values = {name: spec.default for name, spec in specs.items()} | load_profile(TIER, "03_training_gap", specs, root)
    pin_threads()
    train_many(list(experiments.shared_runs(values).values()))


def tier_notebooks(root: Path = ROOT) -> list[Path]:
    """The tier's committed notebooks, in chapter order."""
    return [p for p in (Path(root) / TIER_DIR / f"{s}.ipynb" for s in TIER_CHAPTERS) if p.exists()]

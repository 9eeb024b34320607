"""The book's chapters: ``_toc.yml`` order, paired sources in ``book/``, chapter names."""

from __future__ import annotations

import re
from pathlib import Path

from .layout import AGGREGATE_PAGES, BOOK, ROOT
from .params import ParamError


def toc_files(root: Path = ROOT) -> list[str]:
    """Files of ``_toc.yml`` in order (root first), as written: ``book/intro``, ``book/claims``."""
    import yaml

    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            for part in entry.get("parts", []) or []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    return [str(Path(f).with_suffix("")) if Path(f).suffix in (".md", ".ipynb", ".py") else f for f in files]


def toc_chapters(root: Path = ROOT) -> list[str]:
    """Stems of the executable pages (``book/<stem>.py`` exists) in execution order:
    ``_toc.yml`` order, with the aggregate pages (claims, timings) moved last."""
    stems = [Path(f).name for f in toc_files(root) if (Path(root) / f"{f}.py").exists()]
    return [s for s in stems if s not in AGGREGATE_PAGES] + [s for s in stems if s in AGGREGATE_PAGES]


def all_chapters(book_dir: Path = BOOK) -> list[str]:
    """Every paired py:percent source in ``book/`` (in or not yet in the toc)."""
    return sorted(
        p.stem
        for p in Path(book_dir).glob("*.py")
        if "formats: ipynb,py:percent" in p.read_text(encoding="utf-8")[:2000]
    )


def resolve_chapter(name: str, book_dir: Path = BOOK) -> str:
    """``03_training_gap``, ``training_gap``, ``book/03_training_gap.py`` -> ``03_training_gap``."""
    stems = all_chapters(book_dir)
    base = Path(name).name
    for suffix in (".py", ".ipynb"):
        base = base[: -len(suffix)] if base.endswith(suffix) else base
    if base in stems:
        return base
    matches = [s for s in stems if re.sub(r"^\d+_", "", s) == base]
    if len(matches) == 1:
        return matches[0]
    raise ParamError(f"unknown chapter '{name}' (chapters: {', '.join(stems) or 'none'})")

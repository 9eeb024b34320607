"""Stamps in ``_build/stamps/``: whether a chapter's committed notebook is up to date."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .layout import AGGREGATE_PAGES, ROOT
from .toc import toc_chapters


def library_files(root: Path = ROOT) -> list[Path]:
    lib = Path(root) / "diffgen_lib"
    return sorted(p for p in lib.rglob("*.py") if "__pycache__" not in p.parts)


def stamp_key(stem: str, params: dict, root: Path = ROOT) -> str:
    """sha256 over the chapter source, its parameters, every ``diffgen_lib/**/*.py`` and the
    notebook's current content (for aggregate pages also the other chapters' notebooks)."""
    root = Path(root)
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(label.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)

    add("source", (root / "book" / f"{stem}.py").read_bytes())
    add("params", json.dumps(params, sort_keys=True, default=str).encode())
    for p in library_files(root):
        add("lib:" + p.relative_to(root).as_posix(), p.read_bytes())
    nb = root / "book" / f"{stem}.ipynb"
    add("ipynb", nb.read_bytes() if nb.exists() else b"<missing>")
    if stem in AGGREGATE_PAGES:
        for other in toc_chapters(root):
            if other not in AGGREGATE_PAGES:
                p = root / "book" / f"{other}.ipynb"
                add("chapter:" + other, p.read_bytes() if p.exists() else b"<missing>")
    return h.hexdigest()


def stamp_path(stem: str, root: Path = ROOT) -> Path:
    return Path(root) / "_build" / "stamps" / f"{stem}.sha256"


def is_up_to_date(stem: str, params: dict, root: Path = ROOT) -> bool:
    p = stamp_path(stem, root)
    nb = Path(root) / "book" / f"{stem}.ipynb"
    return nb.exists() and p.exists() and p.read_text().strip() == stamp_key(stem, params, root)


def write_stamp(stem: str, params: dict, root: Path = ROOT) -> None:
    p = stamp_path(stem, root)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(stamp_key(stem, params, root) + "\n")

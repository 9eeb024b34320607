"""The HTML page of one run with other parameters than the book's (``python -m diffgen_lib.book run
--html``): the executed notebook with a note of its parameters, built on its own by Jupyter Book."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .layout import ROOT
from .params import _fmt
from .runner import _jupyter_book


def run_config(root: Path, page_dir: Path) -> Path:
    """A _config.yml for building one run page on its own (page mode of jupyter-book)."""
    import yaml

    cfg = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8")) or {}
    cfg.pop("only_build_toc_files", None)
    cfg.pop("exclude_patterns", None)
    bib = Path(root) / "book" / "references.bib"
    if bib.exists():
        shutil.copy(bib, page_dir / "references.bib")
        cfg["bibtex_bibfiles"] = ["references.bib"]
    local = cfg.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in local.items():  # the page is built from another folder
        local[name] = str((Path(root) / folder).resolve())
    sphinx_cfg = cfg.setdefault("sphinx", {}).setdefault("config", {})
    static = Path(root) / "book" / "_static"
    sphinx_cfg["html_static_path"] = [str(static.resolve())] if static.exists() else []
    path = page_dir / "_config.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def build_run_page(nb_path: Path, root: Path = ROOT) -> Path | None:
    """Build the HTML of one executed run notebook; returns the page's path."""
    import nbformat

    nb_path = Path(nb_path)
    page_dir = nb_path.parent / f"{nb_path.stem}.page"
    if page_dir.exists():
        shutil.rmtree(page_dir)
    page_dir.mkdir(parents=True)
    nb = nbformat.read(nb_path, as_version=4)
    pm = nb.metadata.get("papermill", {})
    note = ", ".join(f"`{k} = {_fmt(v)}`" for k, v in (pm.get("parameters") or {}).items())
    title = next((i + 1 for i, c in enumerate(nb.cells)
                  if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), 0)
    nb.cells.insert(title, nbformat.v4.new_markdown_cell(
        f"```{{note}}\nA run with other parameters than the book's: {note or 'the defaults'}.\n```"
    ))
    if (Path(root) / "book" / "references.bib").exists():
        nb.cells.append(nbformat.v4.new_markdown_cell("## References\n\n```{bibliography}\n```"))
    nbformat.write(nb, page_dir / nb_path.name)
    cfg = run_config(root, page_dir)
    cmd = [_jupyter_book(), "build", str(page_dir / nb_path.name), "--config", str(cfg),
           "--path-output", str(page_dir)]
    res = subprocess.run(cmd, cwd=str(root), capture_output=True, text=True)
    html = page_dir / "_build" / "_page" / nb_path.stem / "html" / f"{nb_path.stem}.html"
    if res.returncode != 0 or not html.exists():
        print("\n".join((res.stdout + res.stderr).splitlines()[-30:]), file=sys.stderr)
        return None
    return html

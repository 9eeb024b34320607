"""The whole book as one PDF (``make pdf``): Jupyter Book's single-page HTML, built from the
committed notebooks (execution is off), printed by headless Chromium into ``_build/pdf/diffgen.pdf``
and copied into the HTML site as ``_static/diffgen.pdf`` when that site is built.

Chromium prints offline: it resolves no host, and MathJax and the widget scripts are served from
the build (``book/_static/vendor``). ``--virtual-time-budget`` lets the page's scripts (MathJax
typesetting, the widgets) finish before the page is printed.

    python -m diffgen_lib.book.pdf [--root DIR] [--output FILE]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from .layout import ROOT, _rel

PDF_NAME = "diffgen.pdf"
#: where the PDF is copied in the HTML site (a URL relative to the site's root)
SITE_PDF = f"_static/{PDF_NAME}"
#: the single page, copied to the site's root: Sphinx writes it to the root document's folder
#: (book/) but links its assets (_static, _images) as if it were at the root
PRINT_PAGE = "diffgen-print.html"
#: milliseconds of (virtual) time the page's scripts get before it is printed
SCRIPT_TIME_MS = 20000
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-pdf-header-footer",
    # offline: no background requests, no updates, and no host resolves
    "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND",
)


def find_chromium() -> str:
    """The Chromium (or Chrome) executable; RuntimeError when none is installed."""
    found = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if not found:
        raise RuntimeError("make pdf needs Chromium (Debian: apt-get install chromium)")
    return found


def build_single_page(root: Path = ROOT, output_dir: Path | None = None) -> Path:
    """``jupyter-book build <root> --builder singlehtml`` into ``<output_dir>/_build/singlehtml``
    (``output_dir`` defaults to ``root``); returns the page to print (:data:`PRINT_PAGE`)."""
    from .runner import _jupyter_book
    from .toc import toc_files

    root = Path(root)
    output_dir = Path(output_dir) if output_dir is not None else root
    cmd = [_jupyter_book(), "build", str(root), "--builder", "singlehtml", "--path-output", str(output_dir), "-q"]
    res = subprocess.run(cmd, cwd=str(root), capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("the single-page build failed:\n" + (res.stdout + res.stderr)[-5000:])
    site = output_dir / "_build" / "singlehtml"
    page = site / f"{toc_files(root)[0]}.html"
    printable = site / PRINT_PAGE
    shutil.copyfile(page, printable)
    return printable


def print_to_pdf(page: Path, pdf: Path, script_time_ms: int = SCRIPT_TIME_MS, timeout: float = 600) -> Path:
    """Print the HTML file ``page`` to ``pdf`` with headless Chromium; returns ``pdf``."""
    pdf = Path(pdf).resolve()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.unlink(missing_ok=True)
    cmd = [find_chromium(), *CHROMIUM_FLAGS, f"--virtual-time-budget={script_time_ms}",
           f"--print-to-pdf={pdf}", Path(page).resolve().as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise RuntimeError(f"Chromium did not print {page} (exit code {res.returncode}):\n{res.stderr[-3000:]}")
    return pdf


def page_count(pdf: Path) -> int:
    """The number of pages of ``pdf`` (its page objects)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", Path(pdf).read_bytes()))


def build_pdf(root: Path = ROOT, pdf: Path | None = None, output_dir: Path | None = None,
              site: Path | None = None) -> Path:
    """The whole book as one PDF: the single-page build (into ``<output_dir>/_build``, default
    ``root``) printed into ``pdf`` (default ``<root>/_build/pdf/diffgen.pdf``), then copied to
    ``<site>/_static/diffgen.pdf`` when the HTML site ``site`` (default ``<root>/_build/html``) is
    built. Returns the PDF's path."""
    root = Path(root)
    pdf = Path(pdf) if pdf is not None else root / "_build" / "pdf" / PDF_NAME
    site = Path(site) if site is not None else root / "_build" / "html"
    print_to_pdf(build_single_page(root, output_dir), pdf)
    if (site / "index.html").exists():
        (site / SITE_PDF).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pdf, site / SITE_PDF)
    return pdf


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m diffgen_lib.book.pdf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's root (default: this repository)")
    parser.add_argument("--output", type=Path, default=None, help="the PDF (default: ROOT/_build/pdf/diffgen.pdf)")
    args = parser.parse_args(argv)
    try:
        pdf = build_pdf(args.root, args.output)
    except RuntimeError as exc:
        print(f"make pdf: {exc}", file=sys.stderr)
        return 1
    site = args.root / "_build" / "html" / SITE_PDF
    copied = f"; copied to {_rel(site, args.root)}" if site.exists() else ""
    print(f"PDF: {_rel(pdf, args.root)} ({page_count(pdf)} pages, {pdf.stat().st_size / 1e6:.1f} MB){copied}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The whole book as one PDF (``make pdf``, diffgen_lib/book/pdf.py), built from the committed
notebooks into a temporary folder: its first pages rendered with pdftoppm, its text, figures and
math. Without chromium or poppler-utils (pdftoppm) these tests skip, except in CI (``CI=true``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from diffgen_lib import book
from diffgen_lib.book import pdf as book_pdf

ROOT = Path(__file__).resolve().parent.parent


def require_tools() -> None:
    """Skip without chromium or poppler-utils; in CI fail instead."""
    missing = [name for name, found in (("chromium", shutil.which("chromium") or shutil.which("chromium-browser")),
                                        ("poppler-utils", shutil.which("pdftoppm"))) if not found]
    if not missing:
        return
    msg = f"{' and '.join(missing)} not found (Debian: apt-get install chromium poppler-utils)"
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{msg}; CI needs them (.ci/run installs them)")
    pytest.skip(msg)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(the PDF, the single page it was printed from)."""
    require_tools()
    out = tmp_path_factory.mktemp("pdf")
    pdf = book_pdf.build_pdf(ROOT, out / "diffgen.pdf", output_dir=out / "build", site=out / "no-site")
    return pdf, out / "build" / "_build" / "singlehtml" / book_pdf.PRINT_PAGE


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def page_title(toc_file: str) -> str:
    """The first heading of a page of the book (its notebook's, or its Markdown file's)."""
    notebook = ROOT / f"{toc_file}.ipynb"
    if notebook.exists():
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        text = "".join(next(c["source"] for c in cells if c["cell_type"] == "markdown"))
    else:
        text = (ROOT / f"{toc_file}.md").read_text(encoding="utf-8")
    return re.search(r"^# (.+)$", text, re.M).group(1).strip()


@pytest.mark.slow
def test_pdf_first_pages_render_and_are_not_blank(built, tmp_path):
    from PIL import Image

    pdf, _ = built
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "2", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2, pages
    for page in pages:
        gray = Image.open(page).convert("L")
        dark = sum(gray.histogram()[:200])  # pixels clearly darker than the white paper
        assert dark > 0.005 * gray.width * gray.height, f"{page.name}: (almost) blank"


@pytest.mark.slow
def test_pdf_holds_every_page_with_figures_and_typeset_math(built):
    pdf, page = built
    html = page.read_text(encoding="utf-8")
    text = " ".join(pdf_text(pdf).split())
    for toc_file in book.toc_files(ROOT):
        title = " ".join(page_title(toc_file).split())
        assert title in text, f"the PDF lacks the page {toc_file} ({title!r})"
    assert "NBVAL_" not in text
    # MathJax typeset every formula: the raw TeX of the page (\( ... \), \[ ... \]) is not printed
    assert "\\(" in html, "the page has inline math"
    assert "\\(" not in text and "\\[" not in text, "math was printed as TeX source: MathJax had not finished"
    figures = set(re.findall(r'src="(_images/[^"]+\.png)"', html))
    listed = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    images = len(listed.splitlines()) - 2  # two header lines
    assert figures and images >= len(figures), f"{images} images in the PDF, {len(figures)} figures on the page"
    pages = book_pdf.page_count(pdf)
    assert pages >= len(book.toc_files(ROOT))  # every chapter starts a page
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(rf"^Pages:\s+{pages}$", info, re.M), info


def test_build_pdf_copies_the_pdf_into_a_built_site(tmp_path, monkeypatch):
    printed = []

    def fake_print(page, pdf):
        Path(pdf).parent.mkdir(parents=True, exist_ok=True)
        Path(pdf).write_bytes(b"%PDF-1.4 /Type /Pages /Type /Page /Type /Page")
        printed.append(page)
        return Path(pdf)

    monkeypatch.setattr(book_pdf, "build_single_page", lambda root, output_dir: tmp_path / "page.html")
    monkeypatch.setattr(book_pdf, "print_to_pdf", fake_print)
    site = tmp_path / "_build" / "html"
    pdf = book_pdf.build_pdf(tmp_path)
    assert pdf == tmp_path / "_build" / "pdf" / "diffgen.pdf" and printed == [tmp_path / "page.html"]
    assert not site.exists(), "no site built: nothing copied"
    site.mkdir(parents=True)
    (site / "index.html").write_text("")
    book_pdf.build_pdf(tmp_path)
    assert (site / "_static" / "diffgen.pdf").read_bytes() == pdf.read_bytes()
    assert book_pdf.SITE_PDF == "_static/diffgen.pdf"
    assert book_pdf.page_count(pdf) == 2

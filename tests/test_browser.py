"""The book as a reader meets it: every page in a real (headless) Chromium, and the live explorer.

The HTML is built from the committed notebooks (no execution) and served on 127.0.0.1; the checks
live in tests/browser_check.py (see there, and its command line for a report and screenshots).
Without chromium and chromedriver these tests skip, except in CI (``CI=true``), where .ci/run
installs them and their absence is a failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import browser_check as bc

ROOT = bc.ROOT
PAGES = bc.book_pages()

pytestmark = pytest.mark.slow


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_chrome() -> None:
    """Skip without chromium/chromedriver; in CI fail instead."""
    browser, driver = bc.find_chrome()
    if browser and driver:
        return
    missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if not p)
    msg = f"{missing} not found (Debian: apt-get install chromium chromium-driver)"
    if _in_ci():
        pytest.fail(f"{msg}; CI needs them (.ci/run installs them)")
    pytest.skip(msg)


@pytest.fixture(scope="module")
def site() -> Path:
    require_chrome()
    return bc.shared_build()


@pytest.fixture(scope="module")
def base_url(site):
    with bc.serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def driver(site):
    drv = bc.start_driver()
    yield drv
    drv.quit()


# ---------------------------------------------------------------------------------------------
# every page of the book


@pytest.mark.parametrize("page, stem, params", PAGES, ids=[stem for _, stem, _ in PAGES])
def test_page_reads_well(driver, base_url, page, stem, params):
    t0 = time.monotonic()
    report = bc.check_page(driver, base_url, page, params)
    assert not report.failures, report.text()
    assert time.monotonic() - t0 < 120


def test_widgets_and_player_render_on_the_toy_chapter(driver, base_url):
    """Chapter 02's explorer: sliders from the saved widget state, and the frame player."""
    page = next(p for p, stem, _ in PAGES if stem == "02_toy_model")
    bc.set_width(driver, bc.WIDE)
    bc.load(driver, f"{base_url}/{page}", bc.Visit(base_url))
    counts = driver.execute_script(
        "return [document.querySelectorAll('.widget-slider, .jupyter-widget-slider').length,"
        " document.querySelectorAll('.animation img').length];")
    assert counts[0] >= 4, f"{counts[0]} sliders rendered, the explorer has 4"
    assert counts[1] >= 1, "no animation frame player"
    assert bc.check_widgets(driver) == [] and bc.check_animation(driver) == []


# ---------------------------------------------------------------------------------------------
# the checks catch what they are for: one deliberately broken copy of the intro page per check

PLACEHOLDER_PARAMS = ("n_train",)
DEFECTS = {
    # name: (what is injected into the article or before </body>, the check that must report it,
    #        a piece of its message)
    "raw-math": ("article", "<p>Raw math: $x^2 + y$ left as text.</p>", "math", "$x^2 + y$"),
    "external-image": ("article", '<img src="https://example.com/x.png" alt="x">', "network", "example.com"),
    "console-error": ("body", '<script>console.error("deliberate error")</script>', "console", "deliberate error"),
    "wide-pre": ("article", '<div class="cell_output docutils container"><pre style="width:3000px">wide</pre></div>',
                 "width at 1280 px", "3000"),
    "progress-bar": ("article", '<div class="cell_output docutils container"><pre>'
                     "train:  50%|#####     | 5/10 [00:01&lt;00:01]</pre></div>", "progress bar", "50%|"),
    "placeholder": ("article", '<p>The gap peaks at <code class="docutils literal notranslate">'
                    '<span class="pre">n_train</span></code>.</p>', "placeholder", "n_train"),
    "dead-drawer": ("body", "<script>window.addEventListener('load', () => document.querySelectorAll("
                    "'.primary-toggle, .secondary-toggle').forEach(b => b.replaceWith(b.cloneNode(true))));"
                    "</script>", "drawer at 390 px", "navigation"),
    "hidden-drawer": ("body", "<style>#pst-primary-sidebar, #pst-primary-sidebar-modal, .bd-sidebar-primary"
                      " { display: none !important; }</style>", "drawer at 390 px", "navigation"),
}


def write_page(site: Path, name: str, where: str = "", html: str = "") -> str:
    """A copy of the intro page with ``html`` at the end of its article (``where="article"``) or of
    its body; returns its path in the site (same depth as book/, so its links still work)."""
    text = (site / "book" / "intro.html").read_text(encoding="utf-8")
    if where:
        tag = {"article": "</article>", "body": "</body>"}[where]
        assert tag in text
        text = text.replace(tag, html + tag, 1)
    (site / "broken").mkdir(exist_ok=True)
    (site / "broken" / f"{name}.html").write_text(text, encoding="utf-8")
    return f"broken/{name}.html"


@pytest.fixture(scope="module")
def control(driver, base_url, site):
    """The unmodified copy's report."""
    return bc.check_page(driver, base_url, write_page(site, "control"), PLACEHOLDER_PARAMS)


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_checks_report_a_broken_page(driver, base_url, site, control, defect):
    where, html, check, detail = DEFECTS[defect]
    report = bc.check_page(driver, base_url, write_page(site, defect, where, html), PLACEHOLDER_PARAMS)
    assert check not in control.failures, control.text()
    assert check in report.failures, f"{defect}: [{check}] reported nothing\n{report.text()}"
    assert any(detail in item for item in report.failures[check]), report.text()


# ---------------------------------------------------------------------------------------------
# live sliders: Voila runs a notebook with the toy chapter's explorer; moving a slider redraws


EXPLORER_NOTEBOOK = {
    "cells": [{
        "cell_type": "code", "execution_count": None, "id": "explorer", "metadata": {}, "outputs": [],
        "source": "from diffgen_lib.studies import explorer\n"
                  "live = explorer.Explorer(delta=1.6, sigma=1.0, n_train=5)\n"
                  "live.widget\n",
    }],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc, timeout: float) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"voila did not listen on port {port} within {timeout} s")


@pytest.fixture
def voila_url(tmp_path):
    require_chrome()
    voila = Path(sys.executable).parent / "voila"
    if not voila.exists():
        pytest.fail("voila is not installed (requirements.txt pins it)")
    nb = tmp_path / "explorer.ipynb"
    nb.write_text(json.dumps(EXPLORER_NOTEBOOK))
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    log = open(tmp_path / "voila.log", "w")
    proc = subprocess.Popen(
        [str(voila), str(nb), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
         "--show_tracebacks=True", f"--Voila.root_dir={tmp_path}"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, proc, 60)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        print((tmp_path / "voila.log").read_text()[-3000:])


_EXPLORER_STATE_JS = """
const img = document.querySelector('.widget-image, .jupyter-widgets img');
const html = Array.from(document.querySelectorAll('.widget-html-content')).map(e => e.textContent).join(' ');
return {img: img ? img.src : null, text: html,
        sliders: document.querySelectorAll('.widget-slider .noUi-handle, .jupyter-widget-slider .noUi-handle').length,
        errors: document.body.innerText.match(/Error displaying widget[^\\n]*/g) || []};
"""


def test_live_explorer_slider_redraws(driver, voila_url):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    t0 = time.monotonic()
    bc.set_width(driver, bc.WIDE)
    driver.get(voila_url)
    wait = WebDriverWait(driver, 60, poll_frequency=0.25)
    before = wait.until(lambda d: (s := d.execute_script(_EXPLORER_STATE_JS))["img"] and "gap" in s["text"]
                        and s["sliders"] >= 4 and s)
    assert not before["errors"], before["errors"]
    handle = driver.find_elements("css selector", ".widget-slider .noUi-handle, .jupyter-widget-slider .noUi-handle")[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle)
    handle.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    after = WebDriverWait(driver, 30, poll_frequency=0.25).until(
        lambda d: (s := d.execute_script(_EXPLORER_STATE_JS))["img"] != before["img"]
        and s["text"] != before["text"] and s)
    assert after["img"] and "gap" in after["text"]
    assert not after["errors"], after["errors"]
    assert time.monotonic() - t0 < 90

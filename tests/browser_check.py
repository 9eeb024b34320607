"""Reader's-eye checks of the built book in a real (headless) Chromium.

Used by tests/test_browser.py; also a command line for screenshots and a report::

    .venv/bin/python tests/browser_check.py report [--all] [HTML_DIR] # every page, every check
    .venv/bin/python tests/browser_check.py shots OUT_DIR [HTML_DIR]  # PNGs at 1280 and 390 px

Without HTML_DIR the book is built from the committed notebooks (no execution) into a temporary
folder first. The site is served by a local ``http.server`` on 127.0.0.1; Chromium resolves no
other host, and every request it makes is recorded, so a page that needs the internet fails.

Each ``check_*`` function takes a Selenium driver on a loaded page and returns a list of
human-readable failures (empty: the page passes).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
WIDE, NARROW = 1280, 390          # viewport widths (px)
HEIGHT = 900
LOAD_TIMEOUT = 60                 # seconds for a page (and its MathJax) to settle
PROGRESS_RE = re.compile(r"\d+%\|")


# ---------------------------------------------------------------------------------------------
# Chromium, the local server and the build


def find_chrome() -> tuple[str | None, str | None]:
    """Paths of the Chromium binary and of its chromedriver (None where missing)."""
    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    return browser, shutil.which("chromedriver")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on http://127.0.0.1:<free port> from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def build_html(out_dir: Path) -> Path:
    """Build the book from the committed notebooks (execution is off) into ``out_dir``; returns
    the HTML folder. Raises RuntimeError with the build's tail on failure."""
    from diffgen_lib import book

    res = subprocess.run(
        [book._jupyter_book(), "build", str(ROOT), "--path-output", str(out_dir), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT, timeout=1200,
    )
    if res.returncode != 0:
        raise RuntimeError("jupyter-book build failed:\n" + (res.stdout + res.stderr)[-5000:])
    return Path(out_dir) / "_build" / "html"


@functools.lru_cache(maxsize=None)
def shared_build() -> Path:
    """The book built once per test session (into a temporary folder removed at exit)."""
    tmp = tempfile.mkdtemp(prefix="diffgen-html-")
    atexit.register(shutil.rmtree, tmp, True)
    return build_html(Path(tmp))


def start_driver():
    """A headless Chromium (Selenium) that logs the console and the network, and resolves no host
    but 127.0.0.1 (a request elsewhere fails at once, and is still recorded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = find_chrome()
    if not browser or not driver_path:
        raise RuntimeError("chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDE},{HEIGHT}", "--hide-scrollbars", "--no-first-run",
                "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--mute-audio", "--force-device-scale-factor=1",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(LOAD_TIMEOUT)
    driver.execute_cdp_cmd("Network.enable", {})
    return driver


def set_width(driver, width: int, height: int = HEIGHT) -> None:
    """Viewport of exactly ``width`` x ``height`` CSS pixels."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


# ---------------------------------------------------------------------------------------------
# Loading a page and what the browser recorded


@dataclass
class Visit:
    """What the browser logged while a page was loaded and checked."""

    base_url: str
    requests: list = field(default_factory=list)     # URLs requested
    bad_status: list = field(default_factory=list)   # (status, URL) with status >= 400
    failed: list = field(default_factory=list)       # (error text, URL)
    console: list = field(default_factory=list)      # SEVERE console messages


def drain_logs(driver, visit: Visit | None = None) -> None:
    """Move the browser's buffered console and network logs into ``visit`` (or drop them)."""
    perf = driver.get_log("performance")
    console = driver.get_log("browser")
    if visit is None:
        return
    urls = {}
    for entry in perf:
        msg = json.loads(entry["message"])["message"]
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            visit.requests.append(params["request"]["url"])
        elif method == "Network.responseReceived" and params["response"].get("status", 0) >= 400:
            visit.bad_status.append((params["response"]["status"], params["response"]["url"]))
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            visit.failed.append((params.get("errorText", "failed"), urls.get(params["requestId"], "?")))
    visit.console += [e["message"] for e in console if e.get("level") == "SEVERE"]


def load(driver, url: str, visit: Visit) -> None:
    """Open ``url`` as a first visit (its origin's storage cleared) and wait until the page,
    MathJax and the widget manager have settled."""
    from selenium.webdriver.support.ui import WebDriverWait

    drain_logs(driver)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
    driver.get(url)
    wait = WebDriverWait(driver, LOAD_TIMEOUT)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    driver.set_script_timeout(LOAD_TIMEOUT)
    driver.execute_async_script(_SETTLE_JS)
    drain_logs(driver, visit)


_SETTLE_JS = """
const done = arguments[arguments.length - 1];
const mj = window.MathJax && MathJax.startup && MathJax.startup.promise;
const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
const t0 = Date.now();
function widgetsReady() {
  return views === 0 || document.querySelectorAll('.jupyter-widgets, .widget-error').length > 0
         || Date.now() - t0 > 20000;
}
(mj || Promise.resolve()).catch(() => null).then(function poll() {
  if (widgetsReady()) setTimeout(done, 500); else setTimeout(poll, 200);
});
"""


# ---------------------------------------------------------------------------------------------
# The checks: each returns a list of failures


def check_network(visit: Visit) -> list[str]:
    """No request leaves 127.0.0.1 (or the page itself: data:, blob:, file:, about:); no local
    request fails (404, blocked)."""
    local = urlsplit(visit.base_url).netloc
    out = []
    for url in dict.fromkeys(visit.requests):
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about", "file", "chrome-extension"):
            continue
        if parts.netloc != local:
            out.append(f"request to another host: {url[:200]}")
    for status, url in dict.fromkeys(visit.bad_status):
        if urlsplit(url).netloc == local:
            out.append(f"HTTP {status} for {url.replace(visit.base_url, '')}")
    for error, url in dict.fromkeys(visit.failed):
        if urlsplit(url).netloc == local:
            out.append(f"request failed ({error}): {url.replace(visit.base_url, '')}")
    return out


def check_console(visit: Visit) -> list[str]:
    """No console error (SEVERE: uncaught exceptions, failed loads, console.error)."""
    return [f"console error: {m.replace(visit.base_url, '')[:300]}" for m in dict.fromkeys(visit.console)]


_PROSE_TEXT_JS = """
// visible-or-not text of the article outside code, scripts and rendered math
const skip = 'pre, code, script, style, textarea, mjx-container, .MathJax, .cell_input, svg';
const root = document.querySelector('article') || document.body;
const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
const parts = [];
let n;
while ((n = walker.nextNode())) {
  if (!n.parentElement.closest(skip)) parts.push(n.textContent);
}
return parts.join('');
"""

_MATH_JS = """
const spans = Array.from(document.querySelectorAll('.math'));
const raw = spans.filter(s => !s.querySelector('mjx-container') && /\\\\[(\\[]|\\$/.test(s.textContent));
return {
  mathjax: !!(window.MathJax && MathJax.startup),
  containers: document.querySelectorAll('mjx-container').length,
  math: spans.length,
  raw: raw.map(s => s.textContent.slice(0, 80)),
  errors: Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]')).map(
    e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
};
"""

_RAW_MATH_RES = [
    re.compile(r"\$\$.+?\$\$", re.S),
    re.compile(r"(?<![\w$])\$[^\s$](?:[^$\n]*[^\s$])?\$(?![\w$])"),
    re.compile(r"\\\(.+?\\\)", re.S),
    re.compile(r"\\\[.+?\\\]", re.S),
]


def check_math(driver) -> list[str]:
    """Math rendered by MathJax: no raw ``$...$``, ``\\(...\\)`` or ``\\[...\\]`` left in the prose,
    every math element typeset, no MathJax error."""
    out = []
    info = driver.execute_script(_MATH_JS)
    if info["math"] and not info["containers"]:
        out.append(f"{info['math']} math elements but no MathJax output (MathJax loaded: {info['mathjax']})")
    out += [f"math element not typeset: {t!r}" for t in info["raw"]]
    out += [f"MathJax error: {t!r}" for t in info["errors"]]
    text = driver.execute_script(_PROSE_TEXT_JS)
    for rx in _RAW_MATH_RES:
        out += [f"raw TeX in the text: {m.group(0)[:80]!r}" for m in rx.finditer(text)]
    return out


_WIDTH_JS = """
const article = document.querySelector('article.bd-article') || document.querySelector('article') || document.body;
document.querySelectorAll('details').forEach(d => d.open = true);   // hidden code cells too
const articleBox = article.getBoundingClientRect();
const groups = arguments[0];
const out = [];
const seen = new Set();
for (const [kind, selector] of groups) {
  for (const el of article.querySelectorAll(selector)) {
    if (Array.from(seen).some(s => s.contains(el) || el.contains(s))) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    // the theme's full-width cells may use the margin: their column is that wider box
    const wide = el.closest('.tag_full-width, .full-width');
    const col = wide ? wide.getBoundingClientRect() : articleBox;
    const scrolls = el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible'
                    && getComputedStyle(el).overflowX !== 'hidden';
    const sticksOut = r.right > col.right + 1;
    if (!scrolls && !sticksOut) continue;
    seen.add(el);
    const text = (el.innerText || el.textContent || '').split('\\n');
    const longest = text.reduce((a, b) => (b.length > a.length ? b : a), '');
    out.push({kind, scrolls, sticksOut, width: Math.round(Math.max(el.scrollWidth, r.width)),
              box: Math.round(el.clientWidth), column: Math.round(col.width),
              line: longest.slice(0, 100), tag: el.tagName.toLowerCase(), cls: el.className.toString().slice(0, 60)});
  }
}
return out;
"""

WIDTH_SELECTORS = {
    "output": "div.cell_output pre, div.cell_output .output, div.cell_output img, div.cell_output table",
    "code line": "div.cell_input pre, div.highlight pre",   # after outputs: their pre is reported once
    "display equation": "mjx-container[display], div.math",
    "table": "table",
}


def check_widths(driver) -> list[str]:
    """At the current width (meant: 1280 px) no output block, code block, display equation or
    table is wider than the article's column, nor needs a horizontal scrollbar."""
    out = []
    seen = set()
    for item in driver.execute_script(_WIDTH_JS, [list(kv) for kv in WIDTH_SELECTORS.items()]):
        key = (item["kind"], item["line"])
        if key in seen:
            continue
        seen.add(key)
        how = "sticks out of" if item["sticksOut"] else "scrolls inside"
        out.append(f"{item['kind']} ({item['tag']}.{item['cls']}) {how} the {item['column']} px column: "
                   f"content {item['width']} px in a {item['box']} px box; longest line {item['line']!r}")
    return out


def check_progress_bars(driver) -> list[str]:
    """No progress-bar line (``42%|``) in the page's text."""
    text = driver.execute_script("return (document.querySelector('article') || document.body).textContent;")
    lines = {line.strip()[:120] for line in text.splitlines() if PROGRESS_RE.search(line)}
    return [f"progress bar: {line!r}" for line in sorted(lines)]


_CODE_IN_PROSE_JS = """
return Array.from(document.querySelectorAll('article p code, article li code'))
  .filter(c => !c.closest('pre, .cell_input'))
  .map(c => [c.textContent.trim(), (c.closest('p, li').textContent || '').trim().slice(0, 160)]);
"""


def check_placeholders(driver, parameters) -> list[str]:
    """No inline code in the prose that is exactly one of the chapter's parameter names (a value
    that was never filled in, e.g. "the gap peaks at `peak_sigma`")."""
    names = set(parameters)
    return [f"placeholder `{code}` in: {context!r}"
            for code, context in driver.execute_script(_CODE_IN_PROSE_JS) if code in names]


_WIDGETS_JS = """
const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
const state = document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
let sliders = 0;
if (state) {
  try {
    const models = JSON.parse(state.textContent).state;
    sliders = Object.values(models).filter(m => /Slider/.test(m.model_name)).length;
  } catch (e) { sliders = -1; }
}
const errors = Array.from(document.querySelectorAll('.widget-error, .jupyter-widgets-view-error'))
  .map(e => e.textContent.trim().slice(0, 120));
const text = document.body.innerText;
if (/Error displaying widget/.test(text)) errors.push('Error displaying widget');
return {views, sliders, rendered: document.querySelectorAll('.jupyter-widgets').length,
        renderedSliders: document.querySelectorAll('.widget-slider, .widget-hslider, .jupyter-widget-slider').length,
        errors};
"""


def check_widgets(driver) -> list[str]:
    """Saved ipywidgets render from the page's widget state (sliders as sliders), with no error."""
    info = driver.execute_script(_WIDGETS_JS)
    if not info["views"]:
        return []
    out = [f"widget error: {e!r}" for e in dict.fromkeys(info["errors"])]
    if not info["rendered"]:
        out.append(f"{info['views']} widget views in the page, none rendered (widget manager did not run)")
    if info["sliders"] and not info["renderedSliders"]:
        out.append(f"{info['sliders']} slider models in the widget state, no slider rendered")
    return out


_ANIMATION_JS = """
const out = [];
document.querySelectorAll('.animation').forEach((anim, i) => {
  const img = anim.querySelector('img');
  const buttons = Array.from(anim.querySelectorAll('.anim-buttons button'));
  const blank = buttons.filter(b => {
    const r = b.getBoundingClientRect();
    const icon = b.querySelector('i, svg');
    const iconW = icon ? icon.getBoundingClientRect().width : 0;
    const before = icon ? getComputedStyle(icon, '::before').content : 'none';
    const hasSymbol = b.innerText.trim() !== '' || iconW >= 4 || (before && before !== 'none' && before !== 'normal' && before !== '""');
    return r.width < 10 || r.height < 10 || !hasSymbol;
  }).map(b => b.title || b.getAttribute('aria-label') || '?');
  out.push({i, hasImg: !!img, loaded: !!(img && img.complete && img.naturalWidth > 0),
            width: img ? Math.round(img.getBoundingClientRect().width) : 0,
            src: img ? img.src.slice(0, 60) : '', buttons: buttons.length, blank,
            slider: !!anim.querySelector('input[type=range]')});
});
return out;
"""


def check_animation(driver) -> list[str]:
    """A matplotlib JavaScript animation shows a frame, its buttons show a symbol, and stepping
    to the next frame changes the picture."""
    out = []
    for a in driver.execute_script(_ANIMATION_JS):
        name = f"animation {a['i'] + 1}"
        if not a["loaded"] or a["width"] < 50:
            out.append(f"{name}: no frame shown (img loaded: {a['loaded']}, width {a['width']} px)")
        if not a["buttons"] or not a["slider"]:
            out.append(f"{name}: player controls missing ({a['buttons']} buttons, slider: {a['slider']})")
        if a["blank"]:
            out.append(f"{name}: buttons without a visible symbol: {', '.join(a['blank'])}")
        if a["loaded"] and a["buttons"]:
            changed = driver.execute_script("""
                const anim = document.querySelectorAll('.animation')[arguments[0]];
                const img = anim.querySelector('img'); const before = img.src;
                const next = anim.querySelector('button[title="Next frame"]');
                if (!next) return null;
                next.click(); const after = img.src;
                const first = anim.querySelector('button[title="First frame"]'); if (first) first.click();
                return before !== after;""", a["i"])
            if changed is False:
                out.append(f"{name}: 'Next frame' does not change the picture")
    return out


_DRAWER_JS = """
// the visible toggle button of this kind, clicked; then is the drawer on screen?
const kind = arguments[0];
const done = arguments[arguments.length - 1];
const visible = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
         && r.right > 0 && r.left < innerWidth && r.bottom > 0 && r.top < innerHeight; };
const buttons = Array.from(document.querySelectorAll('.' + kind + '-toggle')).filter(visible);
if (!buttons.length) { done({button: false}); return; }
buttons[0].click();
setTimeout(() => {
  const candidates = Array.from(document.querySelectorAll(
      '#pst-' + kind + '-sidebar-modal[open], #pst-' + kind + '-sidebar, .bd-sidebar-' + kind));
  const shown = candidates.filter(el => {
    if (!visible(el)) return false;
    const r = el.getBoundingClientRect();
    if (r.width < 150 || r.height < 100) return false;
    const hit = document.elementFromPoint(Math.min(innerWidth - 1, Math.max(0, r.left + r.width / 2)),
                                          Math.min(innerHeight - 1, Math.max(0, r.top + 60)));
    return hit && el.contains(hit) && (el.innerText || '').trim().length > 0;
  });
  const info = {button: true, label: buttons[0].getAttribute('aria-label') || buttons[0].title || '',
                shown: shown.length > 0};
  document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
  document.querySelectorAll('dialog[open]').forEach(d => d.close());
  done(info);
}, 800);
"""


def check_drawers(driver) -> list[str]:
    """At the current width (meant: 390 px) the menu button opens the navigation drawer, and the
    contents button (where the page has one) opens the contents drawer."""
    out = []
    has_secondary = driver.execute_script(
        "const s = document.querySelector('#pst-secondary-sidebar');"
        "return !!(s && s.querySelector('nav, .toc-entry'));")
    for kind, name, required in (("primary", "navigation", True), ("secondary", "contents", has_secondary)):
        info = driver.execute_async_script(_DRAWER_JS, kind)
        if not info["button"]:
            if required:
                out.append(f"no visible {name} ({kind}) toggle button at this width")
        elif not info["shown"]:
            out.append(f"clicking the {name} button ({info['label']!r}) does not open the {kind} sidebar")
    return out


# ---------------------------------------------------------------------------------------------
# All checks of one page


@dataclass
class PageReport:
    page: str
    failures: dict = field(default_factory=dict)   # check name -> list of failures
    limit: int | None = 12                         # failures kept per check (None: all)

    def add(self, check: str, items) -> None:
        """Record a check's failures (the first ``limit`` of them, and how many there were)."""
        items, limit = list(items), self.limit
        if limit is not None and len(items) > limit:
            items = items[:limit] + [f"... {len(items) - limit} more ({len(items)} in all)"]
        if items:
            self.failures.setdefault(check, []).extend(items)

    def text(self) -> str:
        lines = [f"{self.page}:"]
        for check, items in self.failures.items():
            lines += [f"  [{check}] {item}" for item in items]
        return "\n".join(lines)


def check_page(driver, base_url: str, page: str, parameters=(), limit: int | None = 12) -> PageReport:
    """Every check on ``page`` (path below ``base_url``): at 1280 px, then the drawers at 390 px.
    At most ``limit`` failures are listed per check (None: all)."""
    report = PageReport(page, limit=limit)
    visit = Visit(base_url)
    url = f"{base_url}/{page}"
    set_width(driver, WIDE)
    load(driver, url, visit)
    report.add("math", check_math(driver))
    report.add("width at 1280 px", check_widths(driver))
    report.add("progress bar", check_progress_bars(driver))
    report.add("placeholder", check_placeholders(driver, parameters))
    report.add("widgets", check_widgets(driver))
    report.add("animation", check_animation(driver))
    set_width(driver, NARROW)
    load(driver, url, visit)
    report.add("drawer at 390 px", check_drawers(driver))
    drain_logs(driver, visit)
    report.add("network", check_network(visit))
    report.add("console", check_console(visit))
    set_width(driver, WIDE)
    return report


def book_pages() -> list[tuple[str, str, dict]]:
    """(page path in the site, stem, the chapter's parameter specs) for every page of the book."""
    from diffgen_lib import book

    pages = []
    for f in book.toc_files(ROOT):
        stem = Path(f).name
        params = book.parse_spec(stem) if (ROOT / f"{f}.py").exists() else {}
        pages.append((f"{f}.html", stem, params))
    return pages


# ---------------------------------------------------------------------------------------------
# Screenshots


def screenshot(driver, path: Path, full_page: bool = True, max_height: int = 16000) -> None:
    """PNG of the current page: the whole page (up to ``max_height`` px) or the first screen."""
    import base64

    params = {"format": "png"}
    if full_page:
        metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        params.update(captureBeyondViewport=True,
                      clip={"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1})
    data = driver.execute_cdp_cmd("Page.captureScreenshot", params)["data"]
    Path(path).write_bytes(base64.b64decode(data))


def take_shots(driver, base_url: str, out_dir: Path) -> list[Path]:
    """Full-page screenshots of every page at 1280 and 390 px, and of the opened navigation
    drawer at 390 px, into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = []
    for page, stem, _ in book_pages():
        for width in (WIDE, NARROW):
            set_width(driver, width)
            load(driver, f"{base_url}/{page}", Visit(base_url))
            path = out_dir / f"{stem}-{width}.png"
            screenshot(driver, path)
            shots.append(path)
    set_width(driver, NARROW)
    load(driver, f"{base_url}/{book_pages()[1][0]}", Visit(base_url))
    driver.execute_script("const b = Array.from(document.querySelectorAll('.primary-toggle'))"
                          ".find(b => b.getBoundingClientRect().width > 0); if (b) b.click();")
    time.sleep(0.8)
    shots.append(out_dir / f"drawer-{NARROW}.png")
    screenshot(driver, shots[-1], full_page=False)
    set_width(driver, WIDE)
    return shots


def _main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("report", "shots") or (argv[0] == "shots" and len(argv) < 2):
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    limit = None if "--all" in rest else 12
    rest = [a for a in rest if a != "--all"]
    out_dir = Path(rest.pop(0)) if cmd == "shots" else None
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(rest[0]) if rest else build_html(Path(tmp))
        driver = start_driver()
        try:
            with serve(html) as base:
                if cmd == "shots":
                    for p in take_shots(driver, base, out_dir):
                        print(p)
                    return 0
                failed = 0
                for page, _, params in book_pages():
                    t0 = time.monotonic()
                    rep = check_page(driver, base, page, params, limit=limit)
                    failed += bool(rep.failures)
                    print(rep.text() if rep.failures else f"{page}: ok", f"({time.monotonic() - t0:.1f} s)")
                return 1 if failed else 0
        finally:
            driver.quit()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(_main(sys.argv[1:]))

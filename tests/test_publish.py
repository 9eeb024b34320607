"""Launching and publishing the book: _config.yml's repository and launch buttons, the links they
give the built chapter pages, the notebook download, Binder's environment, CITATION.cff and the
GitHub Pages workflow. Fast and offline (the HTML build is shared with tests/test_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

import browser_check as bc
from diffgen_lib import book

ROOT = bc.ROOT
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NOTEBOOK_PAGES = [f for f in book.toc_files(ROOT) if (ROOT / f"{f}.ipynb").exists()]


def is_https_url(url) -> bool:
    parts = urlsplit(str(url))
    return parts.scheme == "https" and bool(parts.netloc) and " " not in str(url)


def github_repo() -> tuple[str, str]:
    """(owner, name) of the repository _config.yml names."""
    m = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)/?", CONFIG["repository"]["url"])
    assert m, f"repository.url must be https://github.com/OWNER/NAME, got {CONFIG['repository']['url']!r}"
    return m.group(1), m.group(2)


def test_config_names_the_repository_and_launch_services():
    repo = CONFIG["repository"]
    github_repo()
    assert repo.get("branch") == "main"
    assert str(repo.get("path_to_book", "")).strip("./") == "", "the book is at the repository's root"
    launch = CONFIG["launch_buttons"]
    assert is_https_url(launch["colab_url"]) and "colab.research.google.com" in launch["colab_url"]
    assert is_https_url(launch["binderhub_url"]) and "mybinder.org" in launch["binderhub_url"]
    assert launch.get("notebook_interface") == "jupyterlab"
    assert CONFIG["html"].get("use_repository_button") is True
    assert CONFIG["sphinx"]["config"]["html_theme_options"].get("use_download_button") is True


@pytest.fixture(scope="module")
def site() -> Path:
    return bc.shared_build()


@pytest.mark.slow
@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=[Path(f).name for f in NOTEBOOK_PAGES])
def test_chapter_page_launches_and_downloads_its_notebook(site, page):
    html = (site / f"{page}.html").read_text(encoding="utf-8")
    owner, name = github_repo()
    branch = CONFIG["repository"]["branch"]
    colab = f"{CONFIG['launch_buttons']['colab_url'].rstrip('/')}/github/{owner}/{name}/blob/{branch}/{page}.ipynb"
    binder = (f"{CONFIG['launch_buttons']['binderhub_url'].rstrip('/')}/v2/gh/{owner}/{name}/{branch}"
              f"?urlpath=lab/tree/{page}.ipynb")
    assert f'href="{colab}"' in html, f"{page}: no Colab link {colab}"
    assert f'href="{binder}"' in html, f"{page}: no Binder link {binder}"
    # the download button offers the executed notebook, copied into the site
    m = re.search(r'href="([^"]*_sources/[^"]*\.ipynb)"', html)
    assert m, f"{page}: no .ipynb download link"
    target = (site / page).parent / m.group(1)
    assert target.resolve().read_bytes() == (ROOT / f"{page}.ipynb").read_bytes()


def test_binder_environment_is_cpu_only_and_pins_torch():
    req = (ROOT / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in req
    assert "-r ../requirements.txt" in req
    assert re.search(r"^torch==2\.13\.0$", (ROOT / "requirements.txt").read_text(), re.M)
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "diffgen-repo.pth" in post.read_text()


def test_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    for key in ("cff-version", "message", "title", "authors", "type", "repository-code"):
        assert cff.get(key), f"CITATION.cff: {key} missing"
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["authors"] == [{"name": "The diffgen authors"}]
    assert cff["repository-code"] == CONFIG["repository"]["url"]
    licence = [p for p in ROOT.iterdir() if p.name.upper().startswith(("LICENSE", "LICENCE", "COPYING"))]
    assert bool(licence) == ("license" in cff), "CITATION.cff names a license exactly when the repository has one"
    paper = [r for r in cff.get("references", []) if "2603.13419" in str(r)]
    assert len(paper) == 1, "the paper belongs under references"
    ref = paper[0]
    assert ref["year"] == 2026 and ref["title"].startswith("Diffusion Models Generalize")
    assert [a["family-names"] for a in ref["authors"]] == ["Kaiser", "Kollmann"]
    assert all("name" in a or "family-names" in a for a in cff["authors"] + ref["authors"])


def test_pages_workflow_builds_and_deploys_the_book():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as true
    assert "push" in on and "workflow_dispatch" in on
    assert wf["permissions"].get("pages") == "write" and wf["permissions"].get("id-token") == "write"
    steps = [s for job in wf["jobs"].values() for s in job.get("steps", [])]
    runs = [s.get("run", "") for s in steps]
    uses = {s.get("uses", "").split("@")[0]: s for s in steps if "uses" in s}
    assert any(re.search(r"(^|\s)make book(\s|$)", r) for r in runs), "the workflow must run `make book`"
    assert "actions/configure-pages" in uses
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "_build/html"
    assert "actions/deploy-pages" in uses
    deploy = next(j for j in wf["jobs"].values() if any("deploy-pages" in s.get("uses", "") for s in j["steps"]))
    assert deploy["environment"]["name"] == "github-pages"

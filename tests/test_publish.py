"""Launching and publishing the book: _config.yml's repository (the one place it is written) and
launch buttons, the links they give the built chapter pages (none while no repository is set), the
chapters' install cell, the notebook download, Binder's environment, CITATION.cff and the GitHub
Pages workflow. Fast and offline (the HTML build is shared with tests/test_browser.py)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

import browser_check as bc
from diffgen_lib import book
from diffgen_lib.book.layout import PLACEHOLDER_REPOSITORIES, repository_url

ROOT = bc.ROOT
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
#: the project's repository, or None while _config.yml names none
REPOSITORY = repository_url(ROOT)
NOTEBOOK_PAGES = [f for f in book.toc_files(ROOT) if (ROOT / f"{f}.ipynb").exists()]
CHAPTER_SOURCES = sorted((ROOT / "book").glob("0*.py"))


def is_https_url(url) -> bool:
    parts = urlsplit(str(url))
    return parts.scheme == "https" and bool(parts.netloc) and " " not in str(url)


def github_repo() -> tuple[str, str]:
    """(owner, name) of the repository _config.yml names."""
    m = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)/?", REPOSITORY)
    assert m, f"repository.url must be https://github.com/OWNER/NAME, got {REPOSITORY!r}"
    return m.group(1), m.group(2)


def test_repository_url_reads_config(tmp_path):
    for text, expected in [
        ('repository:\n  url: ""\n', None),
        ("repository:\n  url:\n", None),
        ("title: x\n", None),
        (f"repository:\n  url: {PLACEHOLDER_REPOSITORIES[0]}/\n", None),
        ("repository:\n  url: https://github.com/someone/diffgen/\n", "https://github.com/someone/diffgen"),
    ]:
        (tmp_path / "_config.yml").write_text(text)
        assert repository_url(tmp_path) == expected, text


def test_config_names_the_repository_and_launch_services():
    repo = CONFIG["repository"]
    assert repo.get("branch") == "main"
    assert str(repo.get("path_to_book", "")).strip("./") == "", "the book is at the repository's root"
    assert CONFIG["sphinx"]["config"]["html_theme_options"].get("use_download_button") is True
    if REPOSITORY is None:  # the pages must not link to an address nobody owns
        assert repo.get("url") == "", "no repository: repository.url is empty, not a placeholder"
        assert "launch_buttons" not in CONFIG, "Colab and Binder buttons need the repository"
        for button in ("use_repository_button", "use_issues_button", "use_edit_page_button"):
            assert not CONFIG["html"].get(button), f"html.{button} needs the repository"
        return
    github_repo()
    launch = CONFIG["launch_buttons"]
    assert is_https_url(launch["colab_url"]) and "colab.research.google.com" in launch["colab_url"]
    assert is_https_url(launch["binderhub_url"]) and "mybinder.org" in launch["binderhub_url"]
    assert launch.get("notebook_interface") == "jupyterlab"
    assert CONFIG["html"].get("use_repository_button") is True


def install_cell(path: Path) -> str:
    """The source of a chapter's install cell (the one that looks for diffgen_lib)."""
    import jupytext

    cells = [c.source for c in jupytext.read(path).cells
             if c.cell_type == "code" and 'find_spec("diffgen_lib")' in c.source]
    assert len(cells) == 1, f"{path.name}: one install cell"
    return cells[0]


def test_chapters_share_one_install_cell_that_names_no_address():
    cells = {path.name: install_cell(path) for path in CHAPTER_SOURCES}
    assert len(set(cells.values())) == 1, "every chapter has the same install cell"
    cell = next(iter(cells.values()))
    assert "://" not in cell, "the install cell reads the address from _config.yml"
    assert "_config.yml" in cell


@pytest.mark.parametrize("config, installs", [
    ('repository:\n  url: ""\n', False),
    (None, False),  # a notebook opened alone (Colab): no _config.yml next to it
    ("repository:\n  url: https://example.org/diffgen.git\n", True),
])
def test_install_cell_acts_only_without_diffgen_lib(tmp_path, monkeypatch, capsys, config, installs):
    cell = install_cell(CHAPTER_SOURCES[0])
    (tmp_path / "book").mkdir()
    if config is not None:
        (tmp_path / "_config.yml").write_text(config)
    monkeypatch.chdir(tmp_path / "book")
    monkeypatch.setattr(sys, "path", list(sys.path))
    commands = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kwargs: commands.append(cmd))
    exec(compile(cell, "install cell", "exec"), {})  # diffgen_lib importable: does nothing
    assert commands == [] and capsys.readouterr().out == ""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "diffgen_lib" else find_spec(name, *args))
    exec(compile(cell, "install cell", "exec"), {})
    out = capsys.readouterr().out
    if installs:
        assert commands[0][:2] == ["git", "clone"] and "https://example.org/diffgen.git" in commands[0]
        assert commands[1][1:4] == ["-m", "pip", "install"] and out == ""
    else:  # nothing from the network; one line says what to do
        assert commands == []
        assert out.count("\n") == 1 and "set repository.url in _config.yml" in out


@pytest.fixture(scope="module")
def site() -> Path:
    return bc.shared_build()


@pytest.mark.slow
@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=[Path(f).name for f in NOTEBOOK_PAGES])
def test_chapter_page_launches_and_downloads_its_notebook(site, page):
    html = (site / f"{page}.html").read_text(encoding="utf-8")
    if REPOSITORY is None:
        for address in ("colab.research.google.com", "mybinder.org", *PLACEHOLDER_REPOSITORIES):
            assert address not in html, f"{page}: links {address} though no repository is set"
    else:
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


def test_strip_test_markers_keeps_everything_but_nbval_marker_lines():
    spec = importlib.util.spec_from_file_location("diffgen_html", ROOT / "book" / "_ext" / "diffgen_html.py")
    diffgen_html = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diffgen_html)
    source = "# NBVAL_CHECK_OUTPUT\nx = 1  # NBVAL_SKIP stays: code on the line\n#NBVAL_IGNORE_OUTPUT\n# a comment\nprint(x)"
    assert diffgen_html.strip_test_markers(source) == "x = 1  # NBVAL_SKIP stays: code on the line\n# a comment\nprint(x)"
    assert diffgen_html.strip_test_markers("print(1)\n") == "print(1)\n"


@pytest.mark.slow
def test_pages_show_no_nbval_markers(site):
    """nbval reads ``# NBVAL_CHECK_OUTPUT`` in the notebooks; the pages do not show it."""
    for page in book.toc_files(ROOT):
        html = (site / f"{page}.html").read_text(encoding="utf-8")
        assert "NBVAL_" not in html, f"{page}: shows an nbval marker"


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
    for key in ("cff-version", "message", "title", "authors", "type"):
        assert cff.get(key), f"CITATION.cff: {key} missing"
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["authors"] == [{"name": "The diffgen authors"}]
    licence = [p for p in ROOT.iterdir() if p.name.upper().startswith(("LICENSE", "LICENCE", "COPYING"))]
    assert bool(licence) == ("license" in cff), "CITATION.cff names a license exactly when the repository has one"
    paper = [r for r in cff.get("references", []) if "2603.13419" in str(r)]
    assert len(paper) == 1, "the paper belongs under references"
    ref = paper[0]
    assert ref["year"] == 2026 and ref["title"].startswith("Diffusion Models Generalize")
    assert [a["family-names"] for a in ref["authors"]] == ["Kaiser", "Kollmann"]
    assert all("name" in a or "family-names" in a for a in cff["authors"] + ref["authors"])


def test_citation_cff_names_the_repository_of_config():
    """CITATION.cff's address is _config.yml's repository.url, or none while that is empty."""
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff.get("repository-code") == REPOSITORY
    if REPOSITORY is None:
        own = yaml.safe_dump({k: v for k, v in cff.items() if k != "references"})
        assert not re.search(r"github\.(com|io)", own), "CITATION.cff names an address _config.yml does not"


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

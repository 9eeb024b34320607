# diffgen — the two commands are `make book` and `make test` (see README.md).
#
#   make book    execute the changed chapters (papermill) and build the HTML into _build/html
#   make book-long  the 28x28 tier: chapters 03-06 with the long profile into book/long/
#   make test    unit tests, the chapter notebooks under nbval, and an HTML build check, one test
#                file or notebook per core (pytest-xdist), the longest notebooks first
#   make vendor  re-fetch the vendored MathJax / widget JavaScript from the npm registry
#   make lab     open a chapter in JupyterLab with live widgets (LAB_FILE=book/02_toy_model.ipynb)
#   make pages   check the built pages in headless Chromium (a report); make shots: screenshots
#   make pdf     the whole book as one PDF (_build/pdf/diffgen.pdf, from the committed notebooks),
#                copied into the site as _build/html/_static/diffgen.pdf when that is built
#   make clean   remove _build (stamps, runs, HTML); make distclean also removes .venv
#
# Both main targets create .venv (python3.11) and install requirements.txt, then the test-only
# requirements-test.txt, into it; they re-install only when either file changes (the sha256 of
# the two concatenated is kept in .venv/.requirements.sha256).

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
REQ_STAMP := $(VENV)/.requirements.sha256
# the stamp hashes both files, concatenated in this order
REQUIREMENTS := requirements.txt requirements-test.txt

# Every core by default: the cores this process may run on (DIFFGEN_THREADS=N to use fewer). They
# decide how many runs, chapters and test files go side by side, never a run's own thread count,
# so the numbers are the same on every machine.
CORES := $(shell nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
TEST_WORKERS ?= $(or $(DIFFGEN_THREADS),$(CORES))
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# idle OpenMP threads sleep rather than spin (bit-identical numbers; far faster when processes share cores)
export OMP_WAIT_POLICY ?= PASSIVE
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# vendored JavaScript (book/_static/vendor), pinned
MATHJAX_VERSION := 3.2.2
HTML_MANAGER_VERSION := 1.0.15
REQUIREJS_VERSION := 2.3.8

# `make lab`: the notebook JupyterLab opens (the paired .py opens as a notebook too: jupytext)
LAB_FILE ?= book/02_toy_model.ipynb
# `make shots`: where the screenshots go
SHOTS ?= _build/shots

.PHONY: book book-long test venv vendor lab pages shots clean distclean pdf

book: venv
	$(PY) -m diffgen_lib.book build

# the 28x28 tier (about an hour and a half on two cores): its runs, chapters 03-06 with the long
# profile into book/long/ (committed with their outputs), then the HTML
book-long: venv
	$(PY) -m diffgen_lib.book build-long

test: venv
	@mkdir -p _build; rc=0; \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder || rc=$$?; \
	echo $$rc > _build/pytest-exit-code; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit code 5): that is a failure" >&2; fi; \
	exit $$rc

venv:
	@set -e; req=$$(cat $(REQUIREMENTS) | sha256sum | cut -d' ' -f1); \
	if [ -x $(PY) ] && [ "$$(cat $(REQ_STAMP) 2>/dev/null)" = "$$req" ]; then exit 0; fi; \
	echo "==> $(VENV): installing $(REQUIREMENTS)"; \
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV); \
	$(PY) -m pip install --quiet -r requirements.txt; \
	$(PY) -m pip install --quiet -r requirements-test.txt -c requirements.txt; \
	site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	echo "$(CURDIR)" > "$$site/diffgen-repo.pth"; \
	echo "$$req" > $(REQ_STAMP)

lab: venv
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_FILE)

# both use _build/html when `make book` built it, else build it from the committed notebooks
pages: venv
	$(PY) tests/browser_check.py report $(if $(wildcard _build/html/index.html),_build/html)

shots: venv
	$(PY) tests/browser_check.py shots $(SHOTS) $(if $(wildcard _build/html/index.html),_build/html)

# Jupyter Book's single-page HTML printed by headless Chromium (offline); diffgen_lib/book/pdf.py
pdf: venv
	$(PY) -m diffgen_lib.book.pdf

vendor:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cd "$$tmp" && npm pack --silent mathjax@$(MATHJAX_VERSION) \
	  @jupyter-widgets/html-manager@$(HTML_MANAGER_VERSION) requirejs@$(REQUIREJS_VERSION) >/dev/null; \
	for f in *.tgz; do mkdir -p "x/$${f%.tgz}"; tar xzf "$$f" -C "x/$${f%.tgz}"; done; \
	cd "$(CURDIR)"; dst=book/_static/vendor; rm -rf $$dst; mkdir -p $$dst/mathjax $$dst/widgets; \
	cp "$$tmp"/x/mathjax-*/package/es5/tex-svg-full.js "$$tmp"/x/mathjax-*/package/LICENSE $$dst/mathjax/; \
	hm="$$tmp"/x/jupyter-widgets-html-manager-$(HTML_MANAGER_VERSION)/package/dist; \
	cp $$hm/embed-amd.js $$hm/*.woff $$hm/*.woff2 $$dst/widgets/; \
	cp $$hm/embed.js.LICENSE.txt $$dst/widgets/embed-amd.js.LICENSE.txt; \
	cp "$$tmp"/x/requirejs-*/package/require.js $$dst/widgets/; \
	{ echo "Vendored from the npm registry by 'make vendor' (do not edit by hand):"; \
	  echo "  mathjax@$(MATHJAX_VERSION)  es5/tex-svg-full.js             Apache-2.0 (mathjax/LICENSE)"; \
	  echo "  @jupyter-widgets/html-manager@$(HTML_MANAGER_VERSION)  dist/embed-amd.js + fonts  BSD-3-Clause (bundled licenses: widgets/embed-amd.js.LICENSE.txt)"; \
	  echo "  requirejs@$(REQUIREJS_VERSION)  require.js                      MIT (header of require.js)"; \
	  echo "Served from the built site: _config.yml sets mathjax_path and nb_ipywidgets_js to them."; \
	} > $$dst/VENDOR.txt; \
	(cd $$dst && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum > SHA256SUMS); \
	echo "vendored into $$dst:"; du -sh $$dst

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV)

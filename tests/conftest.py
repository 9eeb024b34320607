"""Test settings shared by the unit tests and the nbval-run chapter notebooks.

Set before any kernel starts, so every notebook kernel inherits them: threads pinned to 2 for
bit-reproducible numbers, and the repository importable as ``diffgen_lib``.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("DIFFGEN_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ["DIFFGEN_THREADS"])
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads sleep (same numbers)
os.environ.setdefault("DIFFGEN_EXECUTION", "batch")  # the chapters run as `make book` runs them
# no progress bars in the re-executed notebooks: a widget bar in a checked cell is an output the
# committed notebook (whose bars went to a file) does not have
os.environ.setdefault("DIFFGEN_PROGRESS", "off")
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if str(ROOT) not in _paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + _paths)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def pytest_collection_finish(session):
    """Before nbval runs the chapter notebooks, train the runs they train (with their default
    parameters) side by side and longest first, as ``make book`` does before executing them; the
    notebooks then load the runs from the cache. Nothing happens when no chapter was collected."""
    book = ROOT / "book"
    stems = sorted({Path(str(item.fspath)).stem for item in session.items
                    if Path(str(item.fspath)).suffix == ".ipynb" and Path(str(item.fspath)).parent == book})
    if not stems or session.config.option.collectonly:
        return
    from diffgen_lib.book.cli import train_chapter_runs

    train_chapter_runs(ROOT, stems)  # a run that fails to train fails its chapter's cells as well

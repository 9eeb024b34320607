"""Progress bars (:mod:`diffgen_lib.progress`): off, in a file or on the terminal."""

import pytest

from diffgen_lib import progress


def test_progress_modes(monkeypatch):
    monkeypatch.setenv("DIFFGEN_PROGRESS", "off")
    assert list(progress.progress_bar(range(3))) == [0, 1, 2]
    monkeypatch.setenv("DIFFGEN_PROGRESS", "file")
    monkeypatch.delenv("DIFFGEN_PROGRESS_FILE", raising=False)
    bar = progress.progress_bar(range(2), leave=False)  # no file named: silent
    assert bar.disable and bar.leave and list(bar) == [0, 1]
    monkeypatch.setenv("DIFFGEN_PROGRESS", "fancy")
    with pytest.raises(ValueError, match="DIFFGEN_PROGRESS"):
        progress.progress_bar(range(2))


def test_file_progress_stays_out_of_the_output(tmp_path, monkeypatch, capsys):
    log = tmp_path / "progress.log"
    monkeypatch.setenv("DIFFGEN_PROGRESS", "file")
    monkeypatch.setenv("DIFFGEN_PROGRESS_FILE", str(log))
    assert progress.last_progress_line(log) == ""
    assert list(progress.progress_bar(range(5), desc="counting")) == list(range(5))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    last = progress.last_progress_line(log)
    assert last.startswith("counting: 100%") and "5/5" in last

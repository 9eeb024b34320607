"""Progress bars that suit where the code runs, and never end up in a saved page.

``DIFFGEN_PROGRESS`` chooses: ``auto`` (default; widget bars in a live Jupyter, text in a
terminal), ``file`` (what the book's executed notebooks use: plain text bars appended to the file
named by ``DIFFGEN_PROGRESS_FILE``, whose last line the book runner shows in the terminal, so the
executed notebook keeps no bar), or ``off``.

Bars are always left in place when they finish (``leave=True``): a widget bar that closes itself
leaves a dead widget reference in a saved notebook ("model not found" under Voila).
"""

from __future__ import annotations

import os

MODES = ("auto", "file", "off")


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar in the mode set by ``DIFFGEN_PROGRESS`` (see the module docstring)."""
    mode = os.environ.get("DIFFGEN_PROGRESS", "auto")
    if mode not in MODES:
        raise ValueError(f"DIFFGEN_PROGRESS must be one of {MODES}, got {mode!r}")
    kwargs["leave"] = True
    if mode == "off" or (mode == "file" and not os.environ.get("DIFFGEN_PROGRESS_FILE")):
        kwargs["disable"] = True
    if mode == "auto":
        from tqdm.auto import tqdm

        return tqdm(iterable, **kwargs)
    from tqdm.std import tqdm

    if kwargs.get("disable"):
        return tqdm(iterable, **kwargs)
    stream = open(os.environ["DIFFGEN_PROGRESS_FILE"], "a", encoding="utf-8", buffering=1)
    kwargs.update(file=stream, ascii=True, mininterval=2.0, ncols=80)
    bar = tqdm(iterable, **kwargs)
    close = bar.close

    def close_with_stream():
        close()
        stream.close()

    bar.close = close_with_stream
    return bar


def last_progress_line(path: str | os.PathLike) -> str:
    """The newest bar state written to a progress file ('' when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    states = [s.strip() for s in tail.replace("\r", "\n").split("\n") if s.strip()]
    return states[-1] if states else ""

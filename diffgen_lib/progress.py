"""Progress bars that suit where the code runs.

``DIFFGEN_PROGRESS`` chooses: ``auto`` (default; widget bars in a live Jupyter, text in a
terminal), ``text`` (plain text bars, updated at most every few seconds: what the book's
executed notebooks keep, so a saved page shows how long each step took without storing a
widget per bar), or ``off``.
"""

from __future__ import annotations

import os

MODES = ("auto", "text", "off")


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar in the mode set by ``DIFFGEN_PROGRESS`` (see the module docstring)."""
    mode = os.environ.get("DIFFGEN_PROGRESS", "auto")
    if mode not in MODES:
        raise ValueError(f"DIFFGEN_PROGRESS must be one of {MODES}, got {mode!r}")
    if mode == "off":
        kwargs["disable"] = True
    if mode == "auto":
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm

        kwargs.setdefault("mininterval", 5.0)
        kwargs.setdefault("ascii", True)
        kwargs["leave"] = True  # a saved page keeps the finished bar
    return tqdm(iterable, **kwargs)

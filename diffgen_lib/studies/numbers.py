"""How the chapters' tables and prose print numbers: three significant digits, round-off of an
exact 0 marked as such, a mean with its range over seeds."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def sig3(x: float, roundoff: bool = False) -> str:
    """``x`` with 3 significant digits, so checked outputs stay stable across reruns; with
    ``roundoff``, |x| < 1e-6 (float round-off of an exact 0) prints as "<1e-6"."""
    return "<1e-6" if roundoff and abs(x) < 1e-6 else f"{x:.3g}"


def mean_and_range(values: Sequence[float]) -> str:
    """"mean (smallest .. largest)" of ``values``, each with 3 significant digits."""
    return f"{sig3(np.mean(values))} ({sig3(min(values))} .. {sig3(max(values))})"


def sig3_list(values: Sequence[float]) -> str:
    """The values with 3 significant digits, separated by spaces."""
    return " ".join(sig3(v) for v in values)

"""Seeds: every random draw of the measurements comes from one of the named streams below.

A :class:`Stream` maps (set seed s, item i) to the seed ``base + s * stride + i`` of item i's own
CPU generator (:func:`diffgen_lib.diffusion.per_sample_noise`, after EDM's
``StackedRandomGenerator``): an image's noise does not depend on how many images are drawn with
it, on the batch size or on the device. ``stride`` is a prime above any set size, so the sets of
one stream never share a seed, and the bases keep the streams apart.

A :class:`DrawStream` is a seeded numpy generator for index draws (reference subsets, bootstrap
weights), told apart from the other draws of the same seed by its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

STRIDE = 1_000_003  # prime, above any set size


@dataclass(frozen=True)
class Stream:
    """Item i of set s uses the seed ``base + s * stride + i``."""

    base: int
    stride: int = STRIDE

    def seed(self, s: int = 0, i: int = 0) -> int:
        return self.base + int(s) * self.stride + int(i)

    def seeds(self, n: int, s: int = 0, start: int = 0) -> List[int]:
        """The seeds of items ``start .. start + n - 1`` of set ``s``."""
        first = self.seed(s, start)
        return list(range(first, first + int(n)))


# Per-image noise (torch CPU generators)
SAMPLES = Stream(0)                   # the sampler's initial noise: sample i of sample set s
GUIDED_SAMPLES = Stream(1_000_000)    # guided samples: sample i of sample set s (= SAMPLES.seed(s + 1, i - 3)
                                      # for i >= 3: guided and unguided sets share noise, on other networks)
GAUSSIAN = Stream(7_000_000_000)      # samples of the Gaussian fitted to the training pixels
EVALUATION_NOISE = Stream(20_260_313)  # the gap curves' noisy images: evaluation image j (train, then val)
RECONSTRUCTION = Stream(31_337, stride=10_000_000)  # calibration images re-noised: train image j in set 0, val in set 1
TRAJECTORY_NOISE = Stream(424_242, stride=7_919)    # noisy reference j at sampler step k of seed s: item 100_003 k + j
TRAJECTORY_STEP = 100_003             # the item offset of one sampler step in TRAJECTORY_NOISE


@dataclass(frozen=True)
class DrawStream:
    """numpy generators seeded ``[seed, 7919, *path, *more]``."""

    path: tuple = ()

    def generator(self, seed: int, *more: int) -> np.random.Generator:
        return np.random.default_rng([int(seed), 7919, *self.path, *(int(m) for m in more)])


REFERENCE_DRAWS = DrawStream()        # train and val references, null and copier of a reference draw
COPIER_DRAWS = DrawStream((1,))       # the training images a copier returns
EXCHANGE_DRAWS = DrawStream((2,))     # the stand-in training sets of the exchanged null (draw e: more = e)
CHECK_BOOTSTRAP = DrawStream((3,))    # bootstrap weights of the memorization check

"""The book's Fréchet distance against torchmetrics' ``FrechetInceptionDistance``.

torchmetrics (a test dependency, ``requirements-test.txt``) is given an identity feature
module, so both compute the FD of the same raw feature vectors: torchmetrics with its own
moments and the eigenvalues of S1 S2, the book with NumPy (or torch on a device) and the
eigenvalues of S1^(1/2) S2 S1^(1/2).
"""

import numpy as np
import pytest
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from diffgen_lib.measure import metrics

torch.set_num_threads(2)


class IdentityFeatures(nn.Module):
    """Returns its input: the "images" fed to torchmetrics are already feature vectors."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features  # read by torchmetrics instead of probing a dummy image

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def two_gaussian_sets(d: int, n: int = 500, seed: int = 0):
    """Two float64 feature sets (n, d) drawn from Gaussians with different means and covariances."""
    rng = np.random.default_rng(seed)
    mix_a, mix_b = rng.normal(size=(d, d)) / np.sqrt(d), rng.normal(size=(d, d)) / np.sqrt(d)
    a = rng.normal(size=(n, d)) @ mix_a + rng.normal(scale=0.5, size=d)
    b = 1.3 * rng.normal(size=(n, d)) @ mix_b + rng.normal(scale=0.5, size=d)
    return a, b


def torchmetrics_fd(a: np.ndarray, b: np.ndarray) -> float:
    fid = FrechetInceptionDistance(feature=IdentityFeatures(a.shape[1]), normalize=True)
    fid.update(torch.from_numpy(a), real=True)  # float64 in, so the result stays float64
    fid.update(torch.from_numpy(b), real=False)
    return float(fid.compute())


@pytest.mark.parametrize("d", [16, 64])
def test_fd_matches_torchmetrics(d):
    a, b = two_gaussian_sets(d, seed=d)
    reference = torchmetrics_fd(a, b)
    assert reference > 1.0  # the two sets really differ
    assert metrics.frechet_distance(a, b) == pytest.approx(reference, rel=1e-6)
    assert metrics.frechet_distance(a, b, device="cpu") == pytest.approx(reference, rel=1e-6)


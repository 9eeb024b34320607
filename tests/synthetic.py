"""Synthetic image sets for the tests of the calibrated statistics."""

import torch


def gaussian_mixture(n, seed, d=16, k=5):
    """n points of a k-component Gaussian mixture in d dimensions, as (n, 1, 4, 4) images, with labels."""
    g = torch.Generator().manual_seed(1234)  # the same centres for every call
    centres = torch.randn(k, d, generator=g) * 2.0
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % k
    x = centres[labels] + 0.6 * torch.randn(n, d, generator=g)
    return x.reshape(n, 1, 4, 4), labels

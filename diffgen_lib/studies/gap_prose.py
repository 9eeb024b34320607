"""The training-gap chapter's sentences that quote its measurements (Markdown text, the chapter
displays it): the EMA beside the raw weights, the errors at the peak through training, the network
beside the memorizer, the reconstructions, the spacing of the training images, the widths' sizes,
the two scales and the summary."""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import numpy as np

from ..measure.evaluation import GapCurves
from .numbers import sig3
from .training_gap import Reconstructions, Spacing


def ema_text(raw: Dict, ema: Dict, seeds: Sequence[int]) -> str:
    """The EMA's peak and end ratio against the raw weights' (``raw``, ``ema``: the "c3" draws of
    :func:`gap_study.seed_statistics`), means over ``seeds``."""
    raw_pk, ema_pk = (np.mean([d[s]["peak"] for s in seeds]) for d in (raw, ema))
    raw_er, ema_er = (np.mean([d[s]["end_ratio"] for s in seeds]) for d in (raw, ema))
    return (f"At the last snapshot the EMA's gap peaks at {ema_pk:.3g} (mean over the seeds) against "
            f"{raw_pk:.3g} for the raw weights, and its gap at the ends of the $\\sigma$ range is "
            f"{ema_er:.3g} of its peak against {raw_er:.3g}. The claims below read the raw weights, as they "
            f"were fixed before the EMA was measured; the table gives the EMA's statistics beside them.")


def validation_trend(val_error: np.ndarray, steps: np.ndarray) -> str:
    """Whether the validation error (per snapshot) turns upward, and after which step, or still falls."""
    best = int(np.argmin(val_error))
    if best < len(val_error) - 1:
        return "turns upward after step {} (its minimum, {:.3g}; {:.3g} at the last step)".format(
            steps[best], val_error[best], val_error[-1])
    return "is still falling at the last step ({:.3g})".format(val_error[-1])


def peak_time_text(curves: GapCurves, peak_gaps: np.ndarray, k: int, sd: float) -> str:
    """The errors at the last snapshot's peak (sigma index ``k``) through training."""
    sig = curves.sigmas
    return (f"In this run the peak of the last snapshot's gap lies at $\\sigma$ = {sig[k]:.3g}, "
            f"{sig[k] / sd:.3g} $\\sigma_\\mathrm{{data}}$, with a relative gap of {peak_gaps[-1]:.3g}. "
            f"There the training error falls from {curves.train_error[0, k]:.3g} to "
            f"{curves.train_error[-1, k]:.3g} over the run, while the validation error "
            f"{validation_trend(curves.val_error[:, k], curves.steps)}. "
            f"The peak gap of the snapshots goes {', '.join(f'{g:.3g}' for g in peak_gaps)}.")


def memorizer_text(curves: GapCurves, optimal: GapCurves, j: int) -> str:
    """The network's last snapshot against the optimal denoiser at sigma index ``j``."""
    sig, opt_tr, opt_va = curves.sigmas, optimal.train_error[0], optimal.val_error[0]
    return (f"At the peak noise level $\\sigma$ = {sig[j]:.3g} the network's training error is "
            f"{curves.train_error[-1, j]:.3g} against the memorizer's {sig3(opt_tr[j], roundoff=True)}, and its "
            f"validation error {curves.val_error[-1, j]:.3g} against the memorizer's {opt_va[j]:.3g}: "
            f"the network's relative gap is {curves.gap[-1, j]:.3g}, the memorizer's "
            + (f"{optimal.gap[0, j]:.3g}" if opt_tr[j] > 1e-12 else "infinite (its training error is 0)") +
            f". The network overfits, but it is still far from the memorizer: it "
            f"denoises validation images {opt_va[j] / curves.val_error[-1, j]:.3g} times better "
            f"than the optimal denoiser of its training set does.")


def reconstruction_text(recon: Reconstructions, recon_opt: Reconstructions, name: str = "optimal") -> str:
    """How the reconstructions move from the first snapshot to the last."""
    s0, s1 = recon.steps[0], recon.steps[-1]
    return (f"From step {s0} to step {s1} the reconstructions of training images move from "
            f"{recon.train_own[s0]:.3g} to {recon.train_own[s1]:.3g} (per pixel, squared) from their own "
            f"image, those of validation images from {recon.val_own[s0]:.3g} to {recon.val_own[s1]:.3g}; the "
            f"validation reconstructions are {recon.val_nn[s1]:.3g} from the nearest training image "
            f"(the optimal denoiser: {sig3(recon_opt.val_nn[name], roundoff=True)}, it returns training images).")


def spacing_text(sp: Spacing, peak_sigma: float) -> str:
    """The spacing of the training images and the resolve level against the peak's sigma."""
    sd = sp.sigma_data
    return (f"Here the median distance from a validation image to its nearest training image is "
            f"{sp.val_nn:.3g}, {sp.val_per_pixel:.3g} per pixel ({sp.val_per_pixel / sd:.3g} "
            f"$\\sigma_\\mathrm{{data}}$), and the resolve level is $\\sigma_\\mathrm{{res}}$ = "
            f"{sp.resolve_sigma:.3g}; the network's gap peaks at $\\sigma$ = {peak_sigma:.3g}, a factor "
            f"{peak_sigma / sp.resolve_sigma:.3g} from $\\sigma_\\mathrm{{res}}$ and "
            f"{peak_sigma / sp.val_per_pixel:.3g} from the per-pixel spacing.")


def widths_text(n_params: Mapping[int, int]) -> str:
    """The parameter counts the widths span (``n_params[width]``)."""
    return (f"The widths {', '.join(map(str, sorted(n_params)))} span a factor of "
            f"{max(n_params.values()) / min(n_params.values()):.3g} in parameter count "
            f"({min(n_params.values()):,} to {max(n_params.values()):,}); wider networks cost time this CPU-sized chapter "
            "does not have; the `gpu` profile compares DDPM++-sized networks of 11M, 25M and 45M parameters instead.")


def scales_text(sizes: Sequence[str], peak_ratios: Sequence[float], resolve_ratios: Sequence[float],
                scale2_n_train: int, n_seeds: int) -> str:
    """The second scale's peak and resolve level (in sigma_data) against the first's; ``sizes``,
    ``peak_ratios``, ``resolve_ratios``: (first scale, second scale)."""
    (size1, size2), (pk1, pk2), (res1, res2) = sizes, peak_ratios, resolve_ratios
    return (f"At {size2} the gap peaks at {sig3(pk2)} $\\sigma_\\mathrm{{data}}$ "
            f"({size1}: {sig3(pk1)}) and single images resolve below "
            f"{sig3(res2)} $\\sigma_\\mathrm{{data}}$ "
            f"({size1}: {sig3(res1)}): the second scale moves both towards the noise "
            f"levels where the paper's peak sits. The claims below judge C2a and C3 on the run with "
            f"{scale2_n_train} training images over its {n_seeds} training seeds, and C2b, which needs several "
            f"widths, only at {size1}; the next chapters judge inference at both scales.")


def summary_text(peak_gap: float, peak_sigma: float, sd: float, steps: int, batch_size: int, n_train: int,
                 sp: Spacing) -> str:
    """The last snapshot's peak against the training budget and the spacing of the training images."""
    epochs = steps * batch_size / n_train
    return (f"Here the last snapshot's gap peaks at {peak_gap:.3g} at $\\sigma$ = {peak_sigma:.3g} "
            f"= {peak_sigma / sd:.3g} $\\sigma_\\mathrm{{data}}$ ($\\sigma_\\mathrm{{data}}$ = {sd:.3g}), after "
            f"{steps} steps of {batch_size} images, {epochs:.3g} epochs of the {n_train} training images. The peak "
            f"sits at the scale of the spacing of the training images (per-pixel nearest-neighbour distance "
            f"{sp.val_per_pixel:.3g}, resolve level {sp.resolve_sigma:.3g}), which for these digits is "
            f"{sp.val_per_pixel / sd:.3g} $\\sigma_\\mathrm{{data}}$.")

"""``python -m diffgen_lib.book memorization``: the memorization check of anyone's samples
(:func:`diffgen_lib.measure.memorization_check.check_memorization`) as a command, and its report:
``report.json`` for machines, ``gallery.png`` (the samples nearest the training set above their
nearest training images) and a short self-contained ``report.html`` for people.

    python -m diffgen_lib.book memorization SAMPLES --train TRAIN --heldout HELDOUT
        [--features pixels|FILE.pt] [--out DIR] [--draws N] [--seed S] [--n-ref N]

Bad input (shapes that do not match, too few held-out images, NaN or infinite values, an empty
folder, a feature file that does not load) stops with one line and exit code 2 before anything
is computed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Dict

import numpy as np

from ..measure.memorization_check import MemorizationReport, _as_images, _fmt, check_memorization, validate

FEATURE_KINDS = ("torchscript", "inception", "dinov2")


def write_report(report: MemorizationReport, samples, train, out_dir) -> Dict[str, Path]:
    """``report.json``, ``gallery.png`` and a self-contained ``report.html`` (the gallery embedded)
    in ``out_dir`` (created); returns their paths. ``samples`` and ``train`` are the images the
    report was computed from (ImageSet, tensors or arrays), for the gallery."""
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "gallery": out / "gallery.png", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    write_gallery(report, samples, train, paths["gallery"])
    paths["html"].write_text(report_html(report, paths["gallery"].read_bytes()), encoding="utf-8")
    return paths


def _display(images) -> np.ndarray:
    """(N, H, W, C) in [0, 1] for imshow from images in [-1, 1] ((N, C, H, W) or (N, D))."""
    x, _, _ = _as_images(images, "images")
    a = x.numpy().astype(np.float64)
    if a.ndim == 2:
        side = math.isqrt(a.shape[1])
        a = a.reshape(len(a), 1, side, side) if side * side == a.shape[1] else a.reshape(len(a), 1, 1, -1)
    a = a[:, :3] if a.shape[1] >= 3 else a[:, :1]
    return np.clip((a.transpose(0, 2, 3, 1) + 1.0) / 2.0, 0.0, 1.0)


def write_gallery(report: MemorizationReport, samples, train, path, columns: int = 8) -> None:
    """The samples nearest the training set (``report.closest``), each above its nearest training
    image, with the ratio d1/d2 under it; grey or RGB."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    s_idx, t_idx = report.closest["samples"], report.closest["train"]
    shown_s, shown_t = _display(_take(samples, s_idx)), _display(_take(train, t_idx))
    n = len(s_idx)
    cols = min(columns, n)
    blocks = math.ceil(n / cols)
    h, w = shown_s.shape[1:3]
    aspect = h / max(w, 1) if w > 1 else 0.25
    fig, axes = plt.subplots(2 * blocks, cols, figsize=(1.3 * cols, 2 * blocks * 1.3 * max(aspect, 0.25) + 0.5),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for j in range(n):
        b, c = divmod(j, cols)
        for row, img in ((2 * b, shown_s[j]), (2 * b + 1, shown_t[j])):
            ax = axes[row, c]
            if img.shape[2] == 1:
                ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
            else:
                ax.imshow(img, interpolation="nearest", aspect="auto")
        axes[2 * b, c].set_title(f"sample {s_idx[j]}", fontsize=7)
        axes[2 * b + 1, c].set_title(f"train {t_idx[j]}, d1/d2 {report.closest['ratio'][j]:.2f}", fontsize=6)
    fig.suptitle("samples nearest the training set (top) and their nearest training images (below)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _take(images, idx):
    import torch

    from ..measure.sample_files import ImageSet

    x = images.images if isinstance(images, ImageSet) else images
    return x[torch.as_tensor(idx, dtype=torch.long)] if isinstance(x, torch.Tensor) else np.asarray(x)[np.asarray(idx)]


def report_html(report: MemorizationReport, gallery_png: bytes) -> str:
    """A self-contained HTML page of the report (no external assets)."""
    import base64
    import html

    e = html.escape
    q = report.quality.text(_fmt) if report.quality is not None else "not measured"
    ct = report.c_t
    ct_text = (f"{ct['value']:.3g} ({ct['cells_used']} of {ct['cells']} cells)" if ct.get("value") is not None
               else "not computed")
    rows = [
        ("memorization index (nearest-neighbour gap, pixels)", f"{report.index.text(_fmt)}",
         "0: as far from the training set as fresh images; 1: as close as copies"),
        ("nearest-neighbour gap: samples / fresh / copies",
         " / ".join(_fmt(report.nn_gap[k].value) for k in ("model", "null", "copier")), "(d_val - d_train) / d_val"),
        ("copy-equivalent fraction", f"{report.copy_equivalent:.1%}", "exact copies in a set with the same index"),
        ("copy mixtures (fraction: index)", ", ".join(f"{p:g}: {_fmt(v)}" for p, v in report.mixture.items()), ""),
        ("copy fraction (d1/d2 &lt; 1/3)", f"{report.copy_fraction:.1%} (fresh images {report.null_copy_fraction:.1%})",
         "Gu et al. 2023; Yoon et al. 2023"),
        (f"quality index ({e(report.features)})", q, "0: fresh images; 1: a Gaussian fitted to the training images"),
        (f"C_T ({e(str(ct.get('space', '')))})", ct_text,
         "Meehan et al. 2020: about N(0, 1) for fresh data, &lt;&lt; 0 copying"),
        ("inputs", f"{report.n_samples} samples, {report.n_train} training, {report.n_heldout} held-out images of "
                   f"shape {tuple(report.image_shape)}",
         ", ".join(f"{k} {v}" for k, v in report.source_ranges.items())),
        ("references", f"{report.n_draws} draws of {report.n_ref} images (share of the training set "
                       f"{report.dilution:.3g}{', class-matched' if report.class_matched else ''})",
         f"seed {report.seed}"),
    ]
    table = "\n".join(f"<tr><th>{a}</th><td>{e(b)}</td><td>{c}</td></tr>" for a, b, c in rows)
    png = base64.b64encode(gallery_png).decode("ascii")
    notes = "".join(f"<p>Note: {e(n)}.</p>\n" for n in report.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Memorization check</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.45}}
table{{border-collapse:collapse}}
th,td{{border-bottom:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}
th{{font-weight:normal;color:#333}}td:last-child{{color:#666;font-size:.9em}}img{{max-width:100%}}</style></head>
<body><h1>Memorization check</h1>
<p><strong>{e(report.verdict_text)}</strong></p>
{notes}<table>{table}</table>
<h2>What the numbers mean</h2>
<p>Every statistic of the samples is put next to the same statistic of fresh images (held-out images
outside the val reference) and of exact copies of the training set, computed by the same code at the
same number of images and against the same references. The memorization index places the samples'
nearest-neighbour gap (how much nearer they lie to a training reference than to an equally large
reference of held-out images) between fresh images (0) and copies (1), once per reference draw; the
interval is a 90% percentile bootstrap over the draws. A set made of a fraction p of exact copies and
fresh images otherwise has an index of about p: the copy-equivalent fraction reads the index on that
scale. The copy fraction counts samples whose nearest training image is less than a third as far as
the second nearest (the ratio test of Gu et al. 2023 and Yoon et al. 2023). C_T is the data-copying
test of Meehan, Chaudhuri &amp; Dasgupta (2020): per k-means cell, a Mann-Whitney test of the samples'
distances to the training set against held-out images'; strongly negative values mean copying.
The quality index puts the samples' mean distance to their nearest held-out image between fresh images (0)
and a Gaussian fitted to the training images (1): a low memorization index says the samples are new,
not that they look like data.</p>
<h2>The samples nearest the training set</h2>
<p>Each sample above its nearest training image (pixels), with the ratio d1/d2 of the distances to
the nearest and the second-nearest training image.</p>
<img alt="samples nearest the training set and their nearest training images" src="data:image/png;base64,{png}">
</body></html>
"""


# ----------------------------------------------------------------------------------------------
# Command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``python -m diffgen_lib.book memorization`` (cheap: nothing heavy imported)."""
    parser.description = ("The book's calibrated memorization index of generated samples against their training "
                           "set, with held-out images as fresh data. Images: .npy/.npz files or folders of .png; "
                           "values in [0, 1] (floats), 0..255 (uint8) or [-1, 1] (floats with a negative value). "
                           "An .npz may hold an integer array 'labels' (train and held-out: class-matched references).")
    parser.add_argument("samples", metavar="SAMPLES", help="the generated images (.npy, .npz or a folder of .png)")
    parser.add_argument("--train", required=True, metavar="TRAIN", help="the training images the model was trained on")
    parser.add_argument("--heldout", required=True, metavar="HELDOUT",
                        help="images of the same distribution the model never saw (fresh data)")
    parser.add_argument("--features", default="pixels", metavar="pixels|FILE.pt",
                        help="feature space of the quality index and C_T: pixels (default) or a TorchScript network "
                             "file (the index is always in pixels)")
    parser.add_argument("--feature-kind", default="torchscript", choices=FEATURE_KINDS,
                        help="preprocessing of the feature network: torchscript (images in [-1, 1] as they are; "
                             "default), inception (FID's Inception-v3) or dinov2")
    parser.add_argument("--out", default="memorization_report", metavar="DIR",
                        help="folder of report.json, report.html and gallery.png (default: ./memorization_report)")
    parser.add_argument("--draws", type=int, default=5, metavar="N", help="reference draws (default 5)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the draws (default 0)")
    parser.add_argument("--n-ref", type=int, default=1000, metavar="N",
                        help="size of the train and val references (default 1000, at most the training set)")


def _load_features(value: str, kind: str):
    """"pixels", or the feature network of a TorchScript file (BadInput when it does not load)."""
    from ..measure.sample_files import BadInput, load_feature_network

    if value == "pixels":
        return "pixels"
    path = Path(value).expanduser()
    if not path.exists() and path.suffix.lower() not in (".pt", ".pth", ".ts", ".jit", ".torchscript"):
        raise BadInput(f"--features must be \"pixels\" or a TorchScript file (.pt), got {value!r}")
    return load_feature_network(path, kind=kind)


def run(args: argparse.Namespace) -> int:
    """The command: load, validate (exit 2 with one line on bad input, before any computation),
    check, write the report, print a summary."""
    from ..measure.sample_files import BadInput, load_images

    try:
        images = {name: load_images(getattr(args, name)) for name in ("samples", "train", "heldout")}
        feats = _load_features(args.features, args.feature_kind)
        labelled = [name for name in ("train", "heldout") if images[name].labels is not None]
        if len(labelled) == 1:  # labels on one side only: references drawn without them
            images = {k: (v if k not in labelled else _without_labels(v)) for k, v in images.items()}
        validate(images["samples"], images["train"], images["heldout"], feats, args.draws, args.n_ref)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(labelled) == 1:
        print(f"note: only the {labelled[0]} images have labels; the references are drawn without them",
              file=sys.stderr)
    t0 = time.perf_counter()
    report = check_memorization(images["samples"], images["train"], images["heldout"], feats, n_draws=args.draws,
                                seed=args.seed, n_ref=args.n_ref, progress=True)
    paths = write_report(report, images["samples"], images["train"], args.out)
    for line in report.summary_lines():
        print(line)
    print(f"report ({time.perf_counter() - t0:.1f} s): {paths['html']} (and report.json, gallery.png)")
    return 0


def _without_labels(image_set):
    from dataclasses import replace

    return replace(image_set, labels=None)


def main(argv=None) -> int:
    """``python -m diffgen_lib.measure.memorization_check`` = ``python -m diffgen_lib.book memorization``."""
    parser = argparse.ArgumentParser(prog="python -m diffgen_lib.book memorization")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())


def export_run(run, out_dir, n_samples: int = 300, n_steps: int = 32, seed: int = 0) -> Dict[str, Path]:
    """Write one of the book's runs as the command reads it: ``samples.npz`` (the last snapshot's
    samples of sample seed ``seed``, the inference chapter's sample set), ``train.npz`` and
    ``heldout.npz`` (images in [-1, 1] with their labels: the training set and the held-out pool
    of the inference chapter's references)."""
    from ..measure import inference
    from ..measure.references import heldout_pool

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = inference.snapshot_sampler_record(run, max(run.snapshots), n_samples, n_steps, seed)
    held, held_labels = heldout_pool(run)
    paths = {"samples": out / "samples.npz", "train": out / "train.npz", "heldout": out / "heldout.npz"}
    np.savez(paths["samples"], samples=record["final"].numpy())
    np.savez(paths["train"], images=run.splits.train.images.numpy(), labels=run.splits.train.labels.numpy())
    np.savez(paths["heldout"], images=held.numpy(), labels=held_labels.numpy())
    return paths


def export_book_run(dataset: str, n_train: int, out_dir, steps: int = 6000, n_samples: int = 300,
                    n_steps: int = 32, seed: int = 0) -> Dict[str, Path]:
    """:func:`export_run` of the book's run of ``dataset`` with ``n_train`` training images and
    ``steps`` steps (the second scale's recipe; loaded from the cache, trained when missing)."""
    from ..studies import experiments
    from ..train import train

    return export_run(train(experiments.gap_run(dataset=dataset, n_train=n_train, steps=steps)), out_dir, n_samples,
                      n_steps, seed)

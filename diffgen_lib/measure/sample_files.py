"""Loading and checking a user's image arrays for the memorization check: generated samples,
their training set and held-out images, from ``.npy`` / ``.npz`` files or folders of ``.png``
images, converted to the book's convention (float32 images in [-1, 1]); and a feature network
from a TorchScript file. Every problem with the inputs raises :class:`BadInput` with a one-line
message that names the input and the problem.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

Tensor = torch.Tensor
PathLike = Union[str, os.PathLike]
NPZ_PREFERRED = ("samples", "images", "x", "arr_0")  # which array of an .npz, in this order
NPZ_LABELS = "labels"  # an .npz array of this name holds one integer label per image


class BadInput(ValueError):
    """An input file or array the memorization check cannot use; the message is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class ImageSet:
    """Images as float32 in [-1, 1], (N, C, H, W) or (N, D); ``source_range`` is the range the
    file's values were taken to be in: "uint8" (0..255), "uint16" (0..65535, 16-bit PNG),
    "[0, 1]" or "[-1, 1]"; ``labels``: one integer class label per image (int64, (N,)) when the
    file is an ``.npz`` with an array named "labels", else None."""

    images: Tensor
    source_range: str
    path: Path
    labels: Optional[np.ndarray] = None


def load_images(path: PathLike) -> ImageSet:
    """Images from ``path``: a ``.npy`` file, a ``.npz`` file or a folder of ``.png`` images.

    - ``.npz`` with several arrays: the first of "samples", "images", "x", "arr_0" that it has,
      else its only array besides "labels". An array named "labels" (integers, one per image)
      is returned as :attr:`ImageSet.labels`.
    - Array layouts: (N, D) features or flattened images; (N, H, W) grayscale; (N, C, H, W)
      with C in {1, 3}, or channels last (N, H, W, C) with C in {1, 3} (as most samplers save
      them), moved first.
    - A folder: its ``*.png`` files sorted by name, all of one size, read with Pillow (which
      matplotlib needs, so it is installed with it): grayscale -> 1 channel, RGB(A) -> 3
      channels with alpha dropped; when every image of the folder has equal R, G and B (a
      grayscale image saved in colour, as ``matplotlib.pyplot.imsave(..., cmap="gray")``
      writes), 1 channel.
    - Values: uint8 is 0..255; otherwise values in [0, 1] are taken as [0, 1], values in
      [-1, 1] with a negative one as [-1, 1]; both mapped to [-1, 1]. Anything else raises
      :class:`BadInput`. NaN and infinite values are left for :func:`check_inputs` to report.
    """
    path = Path(path).expanduser()
    labels = None
    if path.is_dir():
        array, source_range = _read_png_folder(path)
    elif not path.exists():
        raise BadInput(f"{path}: no such file or folder")
    elif path.suffix.lower() == ".npy":
        array, source_range = _read_npy(path), None
    elif path.suffix.lower() == ".npz":
        (array, labels), source_range = _read_npz(path), None
    elif path.suffix.lower() == ".png":
        raise BadInput(f"{path}: give the folder that holds the .png images, not one image")
    else:
        raise BadInput(f"{path}: unsupported file type {path.suffix!r}; use .npy, .npz or a folder of .png images")
    if len(array) == 0:
        raise BadInput(f"{path}: holds no images (an array of shape {tuple(array.shape)})")
    array = _channels_first(array, path)
    if source_range is None:
        source_range = _value_range(array, path)
    if labels is not None:
        labels = _check_labels(labels, len(array), path)
    return ImageSet(_to_unit_range(array, source_range), source_range, path, labels)


def check_inputs(samples, train, heldout, n_heldout_needed: int = 2) -> None:
    """Raise :class:`BadInput` (one line) unless the three image sets (tensors, arrays or
    :class:`ImageSet`) can be compared: none empty and each with at least 2 images; one
    per-image shape for all three; no NaN or infinite value; at least ``n_heldout_needed``
    held-out images."""
    sets = {"samples": samples, "train": train, "heldout": heldout}
    shapes = {}
    for name, x in sets.items():
        x = x.images if isinstance(x, ImageSet) else x
        shape = tuple(x.shape)
        if len(shape) == 0 or shape[0] == 0 or int(np.prod(shape)) == 0:
            raise BadInput(f"{name} is empty (shape {shape})")
        if shape[0] < 2:
            raise BadInput(f"{name} has {shape[0]} image; at least 2 are needed")
        shapes[name] = shape[1:]
    if len(set(shapes.values())) > 1:
        described = ", ".join(f"{name} {s}" for name, s in shapes.items())
        raise BadInput(f"the images differ in shape: {described} (per image)")
    for name, x in sets.items():
        x = x.images if isinstance(x, ImageSet) else x
        x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        if x.is_floating_point() or x.is_complex():
            n_nan = int(torch.isnan(x).sum())
            n_inf = int(torch.isinf(x).sum())
            if n_nan or n_inf:
                parts = [f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (n_inf, "infinite")) if n]
                raise BadInput(f"{name} has {' and '.join(parts)} values")
    n_heldout = len(heldout.images if isinstance(heldout, ImageSet) else heldout)
    if n_heldout < n_heldout_needed:
        raise BadInput(f"{n_heldout_needed} held-out images are needed, {n_heldout} were given")


def load_feature_network(path: PathLike, kind: str = "inception", device="auto", batch_size: int = 64):
    """:class:`~diffgen_lib.features.PretrainedFeatures` of a TorchScript file (``kind`` as
    there: "inception", "dinov2" or "torchscript"); a missing file, a file that does not load
    as TorchScript or a bad setting raises :class:`BadInput` with one line. Pickled modules are
    not loaded (that would run code from the file)."""
    from ..features import PretrainedFeatures

    try:
        return PretrainedFeatures(path, kind=kind, device=device, batch_size=batch_size, allow_pickle=False)
    except FileNotFoundError:
        raise BadInput(f"feature network {str(path)!r}: no such file") from None
    except (ValueError, RuntimeError, OSError) as exc:
        msg = _first_line(exc)
        bad_file = re.search(r"is not a TorchScript file \((.*?)(?:\. |\)|$)", msg)
        if bad_file:  # load_network's message, less its advice on pickles (not loaded here)
            msg = (f"not a TorchScript file ({bad_file.group(1)}); save the network with "
                   "torch.jit.script(net).save(path) or torch.jit.trace")
        raise BadInput(f"feature network {str(path)!r}: {msg}") from None


# ----------------------------------------------------------------------------------------------
# Reading


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise BadInput(f"{path}: not a readable .npy array ({_first_line(exc)})") from None


def _read_npz(path: Path):
    """(the images' array, the "labels" array or None)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if not names:
                raise BadInput(f"{path}: the .npz file holds no arrays")
            if names == [NPZ_LABELS]:  # its only array: taken as the images, as before labels
                return archive[NPZ_LABELS], None
            others = [n for n in names if n != NPZ_LABELS]
            chosen = next((n for n in NPZ_PREFERRED if n in others), others[0] if len(others) == 1 else None)
            if chosen is None:
                raise BadInput(f"{path}: holds the arrays {names}; name the images one of "
                               f"{list(NPZ_PREFERRED)} or save them alone (with \"{NPZ_LABELS}\" if any)")
            return archive[chosen], (archive[NPZ_LABELS] if NPZ_LABELS in names else None)
    except BadInput:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise BadInput(f"{path}: not a readable .npz archive ({_first_line(exc)})") from None


def _read_png_folder(folder: Path):
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise BadInput(f"{folder}: the folder holds no .png images")
    images, sixteen_bit = [], None
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                mode = im.mode
                if mode in ("I;16", "I;16B", "I;16L", "I"):
                    a = np.asarray(im).astype(np.uint16)[..., None]
                    is16 = True
                elif mode in ("1", "L", "LA"):
                    a, is16 = np.asarray(im.convert("L"))[..., None], False
                else:
                    a, is16 = np.asarray(im.convert("RGB")), False
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise BadInput(f"{f}: not a readable PNG image ({_first_line(exc)})") from None
        if sixteen_bit is None:
            sixteen_bit = is16
        elif sixteen_bit != is16:
            raise BadInput(f"{folder}: mixes 8-bit and 16-bit PNG images ({files[0].name}, {f.name})")
        images.append(a)
    size = images[0].shape[:2]
    for f, a in zip(files, images):
        if a.shape[:2] != size:
            raise BadInput(f"{folder}: images differ in size: {files[0].name} is {size[1]}x{size[0]}, "
                           f"{f.name} is {a.shape[1]}x{a.shape[0]}")
    if any(a.shape[2] == 1 for a in images):  # some grayscale: all become grayscale or it is an error
        images = [a if a.shape[2] == 1 else _gray_or_none(a, folder, f) for f, a in zip(files, images)]
    elif all((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all() for a in images):
        images = [a[..., :1] for a in images]
    array = np.stack(images)  # (N, H, W, C)
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2)), "uint16" if sixteen_bit else "uint8"


def _check_labels(labels: np.ndarray, n_images: int, path: Path) -> np.ndarray:
    """The "labels" array of an .npz as int64 (N,), or BadInput: one integer per image."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n_images:
        raise BadInput(f"{path}: \"{NPZ_LABELS}\" has shape {labels.shape}; expected one label per image, "
                       f"({n_images},)")
    if np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_:
        return labels.astype(np.int64)
    if np.issubdtype(labels.dtype, np.floating) and np.isfinite(labels).all() and (labels == np.round(labels)).all():
        return labels.astype(np.int64)
    raise BadInput(f"{path}: \"{NPZ_LABELS}\" must hold integer class labels, got an array of dtype {labels.dtype}")


def _gray_or_none(a: np.ndarray, folder: Path, f: Path) -> np.ndarray:
    if (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all():
        return a[..., :1]
    raise BadInput(f"{folder}: mixes grayscale and colour images ({f.name} is colour)")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# ----------------------------------------------------------------------------------------------
# Layout and value range


def _channels_first(a: np.ndarray, path: Path) -> np.ndarray:
    """(N, D), (N, H, W) -> (N, 1, H, W), (N, C, H, W) or (N, H, W, C) -> (N, C, H, W)."""
    if a.ndim == 2:
        return a
    if a.ndim == 3:
        return a[:, None]
    if a.ndim == 4:
        if a.shape[1] in (1, 3):
            return a
        if a.shape[3] in (1, 3):
            return np.ascontiguousarray(a.transpose(0, 3, 1, 2))
        raise BadInput(f"{path}: cannot tell the channels of an array of shape {a.shape}; expected "
                       "(N, C, H, W) or (N, H, W, C) with C = 1 or 3")
    raise BadInput(f"{path}: expected an array (N, D), (N, H, W) or (N, C, H, W) of images, got shape {a.shape}")


OVERSHOOT = 1.5  # floats with a negative value are read as [-1, 1] images, overshooting to at most this


def _value_range(a: np.ndarray, path: Path) -> str:
    """The range the values of an array are in: "uint8", "[0, 1]" or "[-1, 1]" (or BadInput)."""
    if a.dtype == np.uint8:
        return "uint8"
    if a.dtype == np.bool_:
        return "[0, 1]"
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise BadInput(f"{path}: images must be numbers, got an array of dtype {a.dtype}")
    finite = a[np.isfinite(a)] if np.issubdtype(a.dtype, np.floating) else a
    if finite.size == 0:
        return "[0, 1]"  # nothing to tell from; check_inputs reports the NaN / infinite values
    lo, hi = float(finite.min()), float(finite.max())
    if 0.0 <= lo and hi <= 1.0:
        return "[0, 1]"
    if -OVERSHOOT <= lo < 0.0 and hi <= OVERSHOOT:
        return "[-1, 1]"  # a diffusion sampler's output is not clipped: it may overshoot [-1, 1] a little
    hint = (" (0..255 images: save them as uint8)" if lo >= 0 and hi <= 255
            else "")
    raise BadInput(f"{path}: values from {lo:.4g} to {hi:.4g} in a {a.dtype} array are not images in "
                   f"[0, 1], [-1, 1] or uint8 0..255{hint}")


def _to_unit_range(a: np.ndarray, source_range: str) -> Tensor:
    """float32 tensor in [-1, 1] from values in ``source_range``."""
    if source_range == "uint8":
        return torch.from_numpy(a.astype(np.float32) / np.float32(127.5) - np.float32(1.0))
    if source_range == "uint16":
        return torch.from_numpy((a.astype(np.float64) / 32767.5 - 1.0).astype(np.float32))
    x = a.astype(np.float32)
    if source_range == "[0, 1]":
        return torch.from_numpy(x * np.float32(2.0) - np.float32(1.0))
    return torch.from_numpy(x)

"""Loading a user's sample files (npy, npz, PNG folders), their value ranges, and the one-line
errors of bad inputs."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from diffgen_lib.measure.sample_files import (BadInput, ImageSet, check_inputs, load_feature_network,  # noqa: E402
                                              load_images)

torch.set_num_threads(2)


def _unit(shape, seed=0):
    """Images in [0, 1] on the uint8 grid (so that every format stores them exactly)."""
    return np.random.default_rng(seed).integers(0, 256, size=shape).astype(np.float32) / 255


def _one_line(exc_info, *words):
    msg = str(exc_info.value)
    assert "\n" not in msg
    for w in words:
        assert w.lower() in msg.lower(), msg


# ----------------------------------------------------------------------------------------------
# Formats


def test_npy_nchw_and_nhwc(tmp_path):
    x = _unit((5, 3, 4, 6))
    np.save(tmp_path / "a.npy", x)
    got = load_images(tmp_path / "a.npy")
    assert isinstance(got, ImageSet) and got.source_range == "[0, 1]" and got.path == tmp_path / "a.npy"
    assert got.images.dtype == torch.float32 and got.images.shape == (5, 3, 4, 6)
    torch.testing.assert_close(got.images, torch.from_numpy(2 * x - 1))
    np.save(tmp_path / "b.npy", x.transpose(0, 2, 3, 1))  # channels last
    torch.testing.assert_close(load_images(tmp_path / "b.npy").images, got.images)


def test_npy_grayscale_and_features(tmp_path):
    np.save(tmp_path / "g.npy", _unit((4, 5, 5)))
    assert load_images(tmp_path / "g.npy").images.shape == (4, 1, 5, 5)
    np.save(tmp_path / "f.npy", _unit((4, 7)))
    assert load_images(tmp_path / "f.npy").images.shape == (4, 7)


def test_npz_array_choice(tmp_path):
    a, b = _unit((3, 1, 4, 4), 1), _unit((3, 1, 4, 4), 2)
    np.savez(tmp_path / "pref.npz", labels=np.arange(3), images=a, x=b)  # "images" before "x"
    got = load_images(tmp_path / "pref.npz")
    torch.testing.assert_close(got.images, torch.from_numpy(2 * a - 1))
    np.testing.assert_array_equal(got.labels, np.arange(3))
    np.savez(tmp_path / "only.npz", whatever=b)
    torch.testing.assert_close(load_images(tmp_path / "only.npz").images, torch.from_numpy(2 * b - 1))
    np.savez(tmp_path / "default.npz", a)  # arr_0
    torch.testing.assert_close(load_images(tmp_path / "default.npz").images, torch.from_numpy(2 * a - 1))
    np.savez(tmp_path / "ambiguous.npz", foo=a, bar=b)
    with pytest.raises(BadInput) as e:
        load_images(tmp_path / "ambiguous.npz")
    _one_line(e, "foo", "bar", "samples")


def test_npz_labels(tmp_path):
    a = _unit((4, 1, 3, 3), 5)
    np.savez(tmp_path / "pref.npz", labels=np.array([3, 1, 0, 1], dtype=np.int32), images=a)
    got = load_images(tmp_path / "pref.npz")
    assert got.labels.dtype == np.int64
    np.testing.assert_array_equal(got.labels, [3, 1, 0, 1])
    torch.testing.assert_close(got.images, torch.from_numpy(2 * a - 1))
    np.savez(tmp_path / "other.npz", whatever=a, labels=np.arange(4.0))  # the only array besides labels
    got = load_images(tmp_path / "other.npz")
    np.testing.assert_array_equal(got.labels, np.arange(4))
    torch.testing.assert_close(got.images, torch.from_numpy(2 * a - 1))
    # no labels: None, as for .npy files and PNG folders
    np.savez(tmp_path / "none.npz", images=a)
    assert load_images(tmp_path / "none.npz").labels is None
    np.save(tmp_path / "a.npy", a)
    assert load_images(tmp_path / "a.npy").labels is None
    for name, labels, words in (("short", np.arange(3), ("labels", "(4,)")),
                                ("float", np.array([0.5, 1, 2, 3]), ("labels", "integer")),
                                ("2d", np.zeros((4, 2), dtype=int), ("labels", "(4, 2)"))):
        np.savez(tmp_path / f"{name}.npz", images=a, labels=labels)
        with pytest.raises(BadInput) as e:
            load_images(tmp_path / f"{name}.npz")
        _one_line(e, *words)


def test_png_folder_rgb_gray_and_rgba(tmp_path):
    rgb = _unit((3, 6, 5, 3), 3)
    folder = tmp_path / "rgb"
    folder.mkdir()
    for i, img in enumerate(rgb[::-1]):  # written in reverse under names that sort forwards
        plt.imsave(folder / f"img_{2 - i:03d}.png", img)  # RGBA file: alpha is dropped
    got = load_images(folder)
    assert got.source_range == "uint8" and got.images.shape == (3, 3, 6, 5)
    torch.testing.assert_close(got.images, torch.from_numpy(2 * rgb - 1).permute(0, 3, 1, 2))

    gray = _unit((2, 4, 4), 4)
    folder = tmp_path / "gray"
    folder.mkdir()
    for i, img in enumerate(gray):  # a colour map writes RGBA with R = G = B
        plt.imsave(folder / f"{i}.png", img, cmap="gray", vmin=0, vmax=1)
    got = load_images(folder)
    assert got.images.shape == (2, 1, 4, 4)
    # the colour map's lookup table rounds to within one grey level
    torch.testing.assert_close(got.images[:, 0], torch.from_numpy(2 * gray - 1), atol=2.5 / 255, rtol=0)


def test_png_folder_true_grayscale(tmp_path):
    from PIL import Image

    folder = tmp_path / "L"
    folder.mkdir()
    pix = np.array([[0, 128], [255, 7]], dtype=np.uint8)
    Image.fromarray(pix, mode="L").save(folder / "a.png")
    Image.fromarray(pix[::-1].copy(), mode="L").save(folder / "b.png")
    got = load_images(folder)
    assert got.images.shape == (2, 1, 2, 2)
    torch.testing.assert_close(got.images[0, 0], torch.from_numpy(pix / 127.5 - 1).float())


# ----------------------------------------------------------------------------------------------
# Value ranges


def test_value_ranges(tmp_path):
    u8 = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    np.save(tmp_path / "u8.npy", u8)
    got = load_images(tmp_path / "u8.npy")
    assert got.source_range == "uint8"
    torch.testing.assert_close(got.images, torch.tensor([[-1.0, 1.0], [-0.6, -0.2]]))

    pm = np.array([[-1.0, 0.5], [0.0, 1.0]])
    np.save(tmp_path / "pm.npy", pm)
    got = load_images(tmp_path / "pm.npy")
    assert got.source_range == "[-1, 1]"
    torch.testing.assert_close(got.images, torch.from_numpy(pm).float())

    zo = np.array([[0.0, 0.25], [0.5, 1.0]])
    np.save(tmp_path / "zo.npy", zo)
    got = load_images(tmp_path / "zo.npy")
    assert got.source_range == "[0, 1]"
    torch.testing.assert_close(got.images, torch.tensor([[-1.0, -0.5], [0.0, 1.0]]))


@pytest.mark.parametrize("values, words", [
    (np.array([[0.0, 255.0], [3.0, 4.0]]), ("255", "uint8")),   # 0..255 as floats
    (np.array([[-2.0, 0.5], [0.0, 1.0]]), ("-2",)),             # below -1
    (np.array([[0.0, 1.5], [0.0, 1.0]]), ("1.5",)),             # above 1
])
def test_bad_value_ranges(tmp_path, values, words):
    np.save(tmp_path / "bad.npy", values)
    with pytest.raises(BadInput) as e:
        load_images(tmp_path / "bad.npy")
    _one_line(e, *words)


# ----------------------------------------------------------------------------------------------
# Bad inputs


def test_bad_files(tmp_path):
    with pytest.raises(BadInput) as e:
        load_images(tmp_path / "missing.npy")
    _one_line(e, "no such file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput) as e:
        load_images(tmp_path / "empty")
    _one_line(e, "no .png")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(BadInput) as e:
        load_images(tmp_path / "x.txt")
    _one_line(e, "unsupported")
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(BadInput) as e:
        load_images(tmp_path / "junk.npy")
    _one_line(e, "npy")
    np.save(tmp_path / "none.npy", np.zeros((0, 3, 4, 4), dtype=np.float32))
    with pytest.raises(BadInput) as e:
        load_images(tmp_path / "none.npy")
    _one_line(e, "no images")


def test_png_folder_of_different_sizes(tmp_path):
    plt.imsave(tmp_path / "a.png", _unit((4, 4, 3)))
    plt.imsave(tmp_path / "b.png", _unit((5, 4, 3)))
    with pytest.raises(BadInput) as e:
        load_images(tmp_path)
    _one_line(e, "size", "a.png", "b.png")


def test_check_inputs():
    x = torch.zeros(4, 1, 3, 3)
    check_inputs(x, x, x, n_heldout_needed=4)
    check_inputs(ImageSet(x, "[-1, 1]", None), x.numpy(), x, n_heldout_needed=2)
    cases = [
        ((torch.zeros(4, 3, 3, 3), x, x, 2), ("shape", "samples", "(3, 3, 3)", "(1, 3, 3)")),
        ((x, x, x, 10), ("10", "4", "held-out")),
        ((x, torch.zeros(0, 1, 3, 3), x, 2), ("train", "empty")),
        ((x, x, torch.zeros(1, 1, 3, 3), 1), ("heldout", "at least 2")),
    ]
    nan = x.clone()
    nan[0, 0, 0, :2] = float("nan")
    nan[1, 0, 0, 0] = float("inf")
    cases.append(((x, nan, x, 2), ("train", "2 NaN", "1 infinite")))
    for args, words in cases:
        with pytest.raises(BadInput) as e:
            check_inputs(*args)
        _one_line(e, *words)


def test_nan_passes_loading_and_is_reported(tmp_path):
    a = _unit((3, 2))
    a[0, 0] = np.nan
    np.save(tmp_path / "n.npy", a)
    got = load_images(tmp_path / "n.npy")
    assert got.source_range == "[0, 1]"
    with pytest.raises(BadInput) as e:
        check_inputs(got, torch.zeros(3, 2), torch.zeros(3, 2))
    _one_line(e, "samples", "1 NaN")


def test_load_feature_network(tmp_path):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    with warnings.catch_warnings():  # TorchScript is deprecated; the feature networks ship in it
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(tmp_path / "net.pt"))
    feats = load_feature_network(tmp_path / "net.pt", kind="torchscript", device="cpu")
    assert feats(torch.zeros(3, 3, 2, 2)).shape == (3, 2)
    (tmp_path / "junk.pt").write_bytes(b"not a network")
    with pytest.raises(BadInput) as e:
        load_feature_network(tmp_path / "junk.pt", kind="torchscript", device="cpu")
    _one_line(e, "junk.pt", "torchscript")
    with pytest.raises(BadInput) as e:
        load_feature_network(tmp_path / "missing.pt", kind="torchscript", device="cpu")
    _one_line(e, "no such file")
    with pytest.raises(BadInput) as e:
        load_feature_network(tmp_path / "net.pt", kind="resnet", device="cpu")
    _one_line(e, "kind")


def test_samples_that_overshoot_minus_one_to_one_are_read_as_such(tmp_path):
    """A diffusion sampler's output is not clipped: floats a little outside [-1, 1] with negative
    values are [-1, 1] images, kept as they are."""
    a = np.linspace(-1.04, 1.1, 2 * 16).reshape(2, 1, 4, 4).astype(np.float32)
    np.save(tmp_path / "s.npy", a)
    images = load_images(tmp_path / "s.npy")
    assert images.source_range == "[-1, 1]" and np.allclose(images.images.numpy(), a)
    np.save(tmp_path / "far.npy", a * 3)
    with pytest.raises(BadInput, match="not images"):
        load_images(tmp_path / "far.npy")

"""The memorization check for anyone's samples (diffgen_lib.measure.memorization_check): the index
of fresh draws, copies and a copy mixture, the quality index, C_T, the same numbers as the book's
Calibration, the report files and the command with its one-line errors."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from diffgen_lib import features
from diffgen_lib.book import cli
from diffgen_lib.book import memorization as cmd
from diffgen_lib.measure import calibration, memorization_check as mc, statistics
from diffgen_lib.measure.references import GaussianFit
from diffgen_lib.measure.sample_files import BadInput

N_TRAIN, N_HELDOUT, N_GEN, DRAWS = 200, 1000, 200, 3


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small tensors: one thread is faster (and the numbers do not depend on it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def blobs(n, seed, k=5):
    """n draws of a mixture of k Gaussian blobs in 64 dimensions (fixed centres), squashed into
    [-1, 1] and shaped as (n, 1, 8, 8) images; and their blob labels."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).normal(scale=1.5, size=(k, 64))
    labels = rng.integers(0, k, n)
    x = np.tanh((centres[labels] + 0.7 * rng.normal(size=(n, 64))) / 2)
    return torch.from_numpy(x.astype(np.float32)).reshape(n, 1, 8, 8), labels


class ReluFeatures:
    """A fixed random ReLU layer: a nonlinear feature space, in which the FD sees more than the
    means and covariances a fitted Gaussian matches."""

    name = "relu"

    def __init__(self):
        self.w = torch.from_numpy(np.random.default_rng(7).normal(size=(64, 32)).astype(np.float32))

    def __call__(self, images):
        return torch.relu(images.reshape(len(images), -1) @ self.w).numpy()


@pytest.fixture(scope="module")
def data():
    train, _ = blobs(N_TRAIN, 1)
    heldout, _ = blobs(N_HELDOUT, 2)
    return train, heldout


@pytest.fixture(scope="module")
def fresh(data):
    train, heldout = data
    samples = blobs(N_GEN, 3)[0]
    return samples, mc.check_memorization(samples, train, heldout, ReluFeatures(), n_draws=DRAWS)


@pytest.fixture(scope="module")
def copies(data):
    train, heldout = data
    samples = train[torch.from_numpy(np.random.default_rng(4).integers(0, N_TRAIN, N_GEN))]
    return samples, mc.check_memorization(samples, train, heldout, n_draws=DRAWS)


# ----------------------------------------------------------------------------------------------
# The numbers


def test_fresh_draws_are_like_fresh_images(fresh):
    _, r = fresh
    assert r.index.contains(0.0), r.index
    assert r.index.hi < r.mixture[0.05]
    assert r.copy_equivalent < 0.05
    assert abs(r.quality.value) < 0.25, r.quality
    assert abs(r.c_t["value"]) < 2.5 and r.c_t["cells_used"] >= 1
    assert r.copy_fraction == 0.0
    assert r.verdict_text.startswith("The samples are about as far from the training set as fresh images")
    assert "relu" in r.verdict_text


def test_copies_have_index_one(copies):
    _, r = copies
    assert r.index.value == pytest.approx(1.0, abs=1e-9)
    assert r.index.lo == pytest.approx(1.0, abs=1e-9) and r.index.hi == pytest.approx(1.0, abs=1e-9)
    assert r.copy_equivalent == pytest.approx(1.0, abs=1e-9)
    assert r.copy_fraction == 1.0 and r.null_copy_fraction < 0.05
    assert r.c_t["value"] < -3
    assert "as close as copies of the training set" in r.verdict_text
    # the gallery's nearest pairs are exact copies
    assert r.closest["distance"] == [0.0] * len(r.closest["distance"])


def test_copies_look_like_data(copies):
    """Copies of training images are as far from held-out images as fresh images are: quality about
    0 on the scale where the fitted Gaussian (further from every held-out image) is 1."""
    _, r = copies
    assert r.quality_scale["ok"] and r.quality is not None and abs(r.quality.value) < 0.25


def test_ten_percent_copies(data):
    train, heldout = data
    k = N_GEN // 10
    samples = torch.cat([train[torch.from_numpy(np.random.default_rng(5).choice(N_TRAIN, k, replace=False))],
                         blobs(N_GEN - k, 6)[0]])
    r = mc.check_memorization(samples, train, heldout, n_draws=DRAWS)
    assert r.index.value == pytest.approx(0.1, abs=0.05)
    assert r.copy_equivalent == pytest.approx(0.1, abs=0.05)
    assert r.index.lo > 0
    assert "closer to the training set than fresh images; as close as a set with" in r.verdict_text


def test_fitted_gaussian_samples_have_quality_one(data):
    train, heldout = data
    samples = GaussianFit(train).sample(N_GEN, seed=11)  # another draw than the scale's own (seed 0)
    r = mc.check_memorization(samples, train, heldout, ReluFeatures(), n_draws=DRAWS)
    assert r.quality.value == pytest.approx(1.0, abs=0.25)
    assert r.index.value < 0.05
    assert "as unlike the data as a Gaussian fitted to the training images" in r.verdict_text


def test_same_numbers_as_the_book_calibration(data, fresh):
    """check_memorization is the book's Calibration: the same per-draw index, null and copier."""
    train, heldout = data
    samples, r = fresh
    zeros_t, zeros_h = np.zeros(N_TRAIN, np.int64), np.zeros(N_HELDOUT, np.int64)
    cal = calibration.Calibration(train, zeros_t, heldout, zeros_h, {"pixels": features.PixelFeatures()}, N_GEN,
                                  1000, DRAWS, seed=0)
    model, ref = cal.model_statistics(samples), cal.calibration_statistics()
    expected = statistics.memorization_index(model["pixels/nn_gap"], ref["null"]["pixels/nn_gap"],
                                              ref["copier"]["pixels/nn_gap"])
    np.testing.assert_array_equal(r.index_draws, expected)
    assert r.index.value == pytest.approx(float(expected.mean()), rel=1e-12)
    np.testing.assert_array_equal([r.nn_gap["null"].value, r.nn_gap["copier"].value],
                                  [ref["null"]["pixels/nn_gap"].mean(), ref["copier"]["pixels/nn_gap"].mean()])
    assert r.copy_fraction == model["copy_fraction"][0]


def test_labels_and_validation(data):
    train, heldout = data
    _, lt = blobs(N_TRAIN, 1)
    with pytest.raises(BadInput, match="train images only"):
        mc.check_memorization(train[:50], train, heldout, train_labels=lt)
    with pytest.raises(BadInput, match="unknown features"):
        mc.check_memorization(train[:50], train, heldout, features="dino")
    with pytest.raises(BadInput, match=r"300 held-out images are needed, 250 were given"):
        mc.check_memorization(train[:50], train, heldout[:250])
    # a smaller reference needs fewer held-out images
    mc.validate(train[:50], train, heldout[:250], n_ref=150)


def test_report_files(tmp_path, copies, data):
    samples, r = copies
    paths = cmd.write_report(r, samples, data[0], tmp_path / "out")
    doc = json.loads(paths["json"].read_text())
    assert doc["index"]["value"] == pytest.approx(1.0) and doc["n_samples"] == N_GEN
    assert doc["quality"] is not None and set(doc["mixture"]) == {f"{p:g}" for p in calibration.MIXTURE_FRACTIONS}
    assert paths["gallery"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = paths["html"].read_text()
    assert "data:image/png;base64," in html and "Meehan" in html and "Gu et al. 2023" in html
    assert "src=\"http" not in html and "href=" not in html  # self-contained


# ----------------------------------------------------------------------------------------------
# The command


def _save_inputs(folder, n_train=150, n_heldout=300, n_gen=100):
    folder.mkdir(parents=True, exist_ok=True)
    tr, lt = blobs(n_train, 1)
    he, lh = blobs(n_heldout, 2)
    np.save(folder / "samples.npy", blobs(n_gen, 3)[0].numpy())
    np.savez(folder / "train.npz", images=tr.numpy(), labels=lt)
    np.savez(folder / "heldout.npz", images=he.numpy(), labels=lh)
    return folder / "samples.npy", folder / "train.npz", folder / "heldout.npz"


def _command(*args):
    env = dict(os.environ, DIFFGEN_PROGRESS="off", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "diffgen_lib.book", "memorization", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow  # a fresh interpreter imports torch, sklearn and matplotlib: 4-10 s
def test_command_writes_the_report(tmp_path):
    s, t, h = _save_inputs(tmp_path / "in")
    out = tmp_path / "report"
    res = _command(s, "--train", t, "--heldout", h, "--out", out, "--draws", 2, "--seed", 1)
    assert res.returncode == 0, res.stderr
    for name in ("report.json", "report.html", "gallery.png"):
        assert (out / name).is_file()
    doc = json.loads((out / "report.json").read_text())
    assert doc["class_matched"] and doc["n_draws"] == 2 and doc["seed"] == 1
    assert doc["source_ranges"] == {"samples": "[-1, 1]", "train": "[-1, 1]", "heldout": "[-1, 1]"}
    lines = res.stdout.strip().splitlines()
    assert 6 <= len(lines) <= 10 and "memorization index" in res.stdout and "report.html" in lines[-1]


def test_command_bad_input_exits_2(tmp_path):
    s, t, _ = _save_inputs(tmp_path, n_heldout=120)
    res = _command(s, "--train", t, "--heldout", tmp_path / "heldout.npz")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith("error: 250 held-out images are needed")


def _bad_cases(tmp_path):
    s, t, h = _save_inputs(tmp_path)
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((20, 1, 4, 4), np.float32))
    nan = tmp_path / "nan.npy"
    x = blobs(100, 3)[0].numpy()
    x[3, 0, 2, 2] = np.nan
    np.save(nan, x)
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.pt").write_bytes(b"not a network")
    few = tmp_path / "few.npy"
    np.save(few, blobs(200, 2)[0].numpy())
    return {
        "shapes": ([small, "--train", t, "--heldout", h], ("shape", "(1, 4, 4)", "(1, 8, 8)")),
        "too few held-out": ([s, "--train", t, "--heldout", few], ("250 held-out images are needed", "200")),
        "nan": ([nan, "--train", t, "--heldout", h], ("samples", "1 NaN")),
        "empty folder": ([tmp_path / "empty", "--train", t, "--heldout", h], ("empty", "no .png")),
        "bad feature file": ([s, "--train", t, "--heldout", h, "--features", tmp_path / "junk.pt"],
                             ("junk.pt", "TorchScript")),
        "missing feature file": ([s, "--train", t, "--heldout", h, "--features", tmp_path / "none.pt"],
                                 ("none.pt", "no such file")),
        "unknown features": ([s, "--train", t, "--heldout", h, "--features", "dino"], ("--features", "dino")),
    }


@pytest.mark.parametrize("case", ["shapes", "too few held-out", "nan", "empty folder", "bad feature file",
                                  "missing feature file", "unknown features"])
def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys, case):
    args, words = _bad_cases(tmp_path)[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript's deprecation
        assert cli.main(["memorization", *map(str, args)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: "), err
    for w in words:
        assert w.lower() in err.lower(), err


def test_feature_network_file(tmp_path):
    """A TorchScript feature network: the quality index and C_T in its features."""
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(tmp_path / "net.pt"))
        feats = cmd._load_features(str(tmp_path / "net.pt"), "torchscript")
    train, heldout = blobs(150, 1)[0], blobs(300, 2)[0]
    r = mc.check_memorization(blobs(100, 3)[0], train, heldout, feats, n_draws=2)
    assert r.features == "torchscript (net.pt)" and r.c_t["space"] == "torchscript"
    assert r.quality_scale["space"] == "torchscript"


def test_gallery_of_rgb_and_flat_images(tmp_path):
    """The gallery shows RGB images in colour and (N, D) rows with a square D as grey images."""
    from types import SimpleNamespace

    report = SimpleNamespace(closest={"samples": [0, 2, 1], "train": [1, 0, 3], "ratio": [0.0, 0.2, 0.5]})
    rgb = torch.rand(4, 3, 6, 5) * 2 - 1
    cmd.write_gallery(report, rgb, rgb, tmp_path / "rgb.png")
    flat = np.random.default_rng(0).uniform(-1, 1, (4, 49)).astype(np.float32)
    cmd.write_gallery(report, flat, flat, tmp_path / "flat.png")
    assert cmd._display(rgb).shape == (4, 6, 5, 3) and cmd._display(flat).shape == (4, 7, 7, 1)
    for name in ("rgb.png", "flat.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"

"""The ``data`` command against a local HTTP server that serves tiny archives made here.

Every test replaces the download table (mirrors and checksums) with the local server and the
tiny archives' own MD5s: no test touches the internet.
"""

import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import pickle
import socket
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from diffgen_lib import data, fetch
from diffgen_lib.book import cli

torch.set_num_threads(2)


# ----------------------------------------------------------------------------------------------
# Tiny archives in the official formats


def idx_bytes(array) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def mnist_archives(n_train=30, n_test=10, seed=0) -> dict:
    """{archive name: gzipped bytes} of the four IDX files."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_train + n_test, 28, 28), dtype=np.uint8)
    labels = np.arange(n_train + n_test) % 10
    arrays = (images[:n_train], labels[:n_train], images[n_train:], labels[n_train:])
    return {f"{name}.gz": gzip.compress(idx_bytes(a), mtime=0) for name, a in zip(data.IDX_FILES, arrays)}


def cifar_archive(per_batch=4, seed=0) -> bytes:
    """A cifar-10-python.tar.gz with the official member names and pickled batches."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        def add(name, payload):
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

        for name in data.CIFAR_FILES:
            batch = {b"data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
                     b"labels": rng.integers(0, 10, size=per_batch).tolist(), b"batch_label": name.encode()}
            add(name, pickle.dumps(batch, protocol=2))
        add("batches.meta", pickle.dumps({b"label_names": [b"airplane"] * 10}, protocol=2))
    return buffer.getvalue()


def md5(payload: bytes) -> str:
    return hashlib.md5(payload).hexdigest()


# ----------------------------------------------------------------------------------------------
# A local server and the download table pointed at it


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the server's folder; paths in ``truncated`` announce their full length but stop
    halfway."""

    def __init__(self, *args, truncated=(), **kwargs):
        self.truncated = truncated
        super().__init__(*args, **kwargs)

    def do_GET(self):
        if self.path not in self.truncated:
            return super().do_GET()
        payload = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[:len(payload) // 2])

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local mirror: ``server.put(dataset, archive, bytes)`` serves ``/<dataset>/<archive>``."""
    served = tmp_path / "served"
    served.mkdir()
    truncated = set()
    handler = functools.partial(Handler, directory=str(served), truncated=truncated)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()

    class Mirror:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        truncate = truncated

        @staticmethod
        def put(dataset, name, payload):
            (served / dataset).mkdir(exist_ok=True)
            (served / dataset / name).write_bytes(payload)

    yield Mirror
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_port():
    """A localhost port that refuses connections (bound, not listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def serve_mnist(monkeypatch, server, dataset="mnist", archives=None, md5s=None):
    """Serve tiny IDX archives and make the table expect their MD5s (or ``md5s``)."""
    archives = archives or mnist_archives()
    for name, payload in archives.items():
        server.put(dataset, name, payload)
    md5s = md5s or {name: md5(payload) for name, payload in archives.items()}
    source = fetch.SOURCES[dataset]
    table = tuple(dataclasses.replace(a, md5=md5s[a.name]) for a in source.archives)
    monkeypatch.setitem(fetch.SOURCES, dataset, dataclasses.replace(
        source, archives=table, mirrors=(f"{server.url}/{dataset}/",)))
    return archives


def serve_cifar(monkeypatch, server, payload=None, expected_md5=None):
    payload = payload or cifar_archive()
    server.put("cifar10", "cifar-10-python.tar.gz", payload)
    source = fetch.SOURCES["cifar10"]
    archive = dataclasses.replace(source.archives[0], md5=expected_md5 or md5(payload))
    monkeypatch.setitem(fetch.SOURCES, "cifar10", dataclasses.replace(
        source, archives=(archive,), mirrors=(f"{server.url}/cifar10/",)))
    return payload


def files_under(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def run_data(*args) -> int:
    return cli.main(["data", *args])


# ----------------------------------------------------------------------------------------------
# Tests


def test_official_table_matches_the_loaders_layout():
    assert set(fetch.SOURCES) == {"mnist", "fashion_mnist", "cifar10"}
    for name, source in fetch.SOURCES.items():
        assert source.mirrors and all(m.startswith(("https://", "http://")) and m.endswith("/")
                                      for m in source.mirrors)
        assert all(len(a.md5) == 32 and int(a.md5, 16) >= 0 for a in source.archives)
        files = [f for a in source.archives for f in a.files]
        assert tuple(files) == (data.CIFAR_FILES if name == "cifar10" else data.IDX_FILES)
    assert fetch.SOURCES["cifar10"].archives[0].md5 == "c58f30108f718f92721af3b95e74349a"
    assert fetch.SOURCES["mnist"].folder == "MNIST/raw"
    assert fetch.SOURCES["fashion_mnist"].folder == "FashionMNIST/raw"


def test_cifar10_download_verify_extract_then_no_op(tmp_path, server, monkeypatch, capsys):
    serve_cifar(monkeypatch, server)
    root = tmp_path / "data"
    assert run_data("cifar10", "--data-dir", str(root)) == 0
    out, err = capsys.readouterr()
    assert "MD5 verified" in out
    assert "cifar-10-python.tar.gz: 100%" in err  # the progress bar, on stderr
    expected = sorted(f"cifar-10-batches-py/{n}" for n in data.CIFAR_FILES + ("batches.meta",))
    assert files_under(root) == expected  # no archive and no temporary file left
    pool = data.load_pool("cifar10", root=root)
    assert pool.images.shape == (24, 3, 32, 32) and pool.labels.shape == (24,)

    assert run_data("cifar10", "--data-dir", str(root)) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines() == [f"data: cifar10 is already in {root / 'cifar-10-batches-py'}, "
                                        "nothing to download"]
    assert err == ""


@pytest.mark.parametrize("dataset, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_download_extract_and_load(tmp_path, server, monkeypatch, capsys, dataset, folder):
    archives = serve_mnist(monkeypatch, server, dataset)
    monkeypatch.setenv("DIFFGEN_DATA", str(tmp_path / "data"))  # the loaders' default root
    assert run_data(dataset) == 0
    raw = tmp_path / "data" / folder / "raw"
    assert files_under(raw) == sorted(data.IDX_FILES)
    for name in data.IDX_FILES:
        assert (raw / name).read_bytes() == gzip.decompress(archives[f"{name}.gz"])
    assert data.read_idx(raw / "train-images-idx3-ubyte").shape == (30, 28, 28)
    pool = data.load_pool(dataset, root=tmp_path / "data")
    assert pool.images.shape == (40, 1, 28, 28)
    assert pool.labels.tolist() == [i % 10 for i in range(40)]
    capsys.readouterr()
    assert run_data(dataset) == 0
    assert capsys.readouterr().out.count("\n") == 1  # one line: already there


def test_only_missing_files_are_downloaded_and_gz_counts_as_present(tmp_path, server, monkeypatch, capsys):
    archives = serve_mnist(monkeypatch, server)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(archives["train-images-idx3-ubyte.gz"])
    (raw / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(archives["t10k-labels-idx1-ubyte.gz"]))
    assert fetch.fetch("mnist", tmp_path, log=print)
    out = capsys.readouterr().out
    assert out.count("MD5 verified") == 2
    assert files_under(raw) == sorted(["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
    assert data.load_pool("mnist", root=tmp_path).images.shape == (40, 1, 28, 28)


def test_checksum_mismatch_is_one_line_and_keeps_nothing(tmp_path, server, monkeypatch, capsys):
    serve_cifar(monkeypatch, server, expected_md5="0" * 32)
    root = tmp_path / "data"
    assert run_data("cifar10", "--data-dir", str(root)) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: data cifar10: could not get cifar-10-python.tar.gz (")
    assert f"differs from the published {'0' * 32}" in err and "nothing was kept" in err
    assert not root.exists()  # nor the folders made for the download


def test_unreachable_server_is_one_line(tmp_path, closed_port, capsys):
    root = tmp_path / "data"
    assert run_data("mnist", "--data-dir", str(root), "--mirror", f"http://127.0.0.1:{closed_port}") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: data mnist: could not get train-images-idx3-ubyte.gz (http://127.0.0.1:")
    assert "unreachable" in err[0] and "refused" in err[0]
    assert not root.exists()


def test_missing_file_on_the_mirror_is_an_http_error(tmp_path, server, capsys):
    root = tmp_path / "data"
    root.mkdir()
    assert run_data("cifar10", "--data-dir", str(root), "--mirror", server.url) == 1
    assert "HTTP 404 File not found" in capsys.readouterr().err
    assert list(root.iterdir()) == []


def test_truncated_download_keeps_nothing(tmp_path, server, monkeypatch, capsys):
    payload = serve_cifar(monkeypatch, server)
    server.truncate.add("/cifar10/cifar-10-python.tar.gz")
    assert run_data("cifar10", "--data-dir", str(tmp_path / "data")) == 1
    err = capsys.readouterr().err
    assert f"incomplete download ({len(payload) // 2} of {len(payload)} bytes)" in err
    assert not (tmp_path / "data").exists()


def test_interrupted_download_keeps_nothing(tmp_path, server, monkeypatch, capsys):
    serve_cifar(monkeypatch, server)

    class InterruptingBar(fetch.tqdm):
        def update(self, n=1):
            raise KeyboardInterrupt

    monkeypatch.setattr(fetch, "tqdm", InterruptingBar)
    root = tmp_path / "data"
    with pytest.raises(KeyboardInterrupt):
        fetch.fetch("cifar10", root, log=print)
    assert not root.exists()
    assert run_data("cifar10", "--data-dir", str(root)) == 130
    assert "interrupted; no partial file was kept" in capsys.readouterr().err
    assert not root.exists()


def test_next_mirror_is_tried_and_env_mirror_is_used(tmp_path, server, monkeypatch, closed_port, capsys):
    serve_cifar(monkeypatch, server)
    source = fetch.SOURCES["cifar10"]
    monkeypatch.setitem(fetch.SOURCES, "cifar10", dataclasses.replace(
        source, mirrors=(f"http://127.0.0.1:{closed_port}/", *source.mirrors)))
    assert fetch.fetch("cifar10", tmp_path / "a")
    assert f"from {server.url}/cifar10/cifar-10-python.tar.gz" in capsys.readouterr().out

    monkeypatch.setenv(fetch.MIRROR_ENV, server.url + "/")  # overrides the table's mirrors
    monkeypatch.setitem(fetch.SOURCES, "cifar10", dataclasses.replace(
        source, mirrors=(f"http://127.0.0.1:{closed_port}/",)))
    assert fetch.fetch("cifar10", tmp_path / "b")


def test_a_verified_archive_already_in_place_is_used(tmp_path, monkeypatch, closed_port):
    payload = cifar_archive()
    source = fetch.SOURCES["cifar10"]
    archive = dataclasses.replace(source.archives[0], md5=md5(payload))
    monkeypatch.setitem(fetch.SOURCES, "cifar10", dataclasses.replace(
        source, archives=(archive,), mirrors=(f"http://127.0.0.1:{closed_port}/",)))
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "cifar-10-python.tar.gz").write_bytes(payload)
    assert fetch.fetch("cifar10", tmp_path, log=print)  # no network needed
    assert "cifar-10-python.tar.gz" not in files_under(tmp_path)
    assert data.load_pool("cifar10", root=tmp_path).images.shape == (24, 3, 32, 32)


def test_unknown_dataset_exits_2(capsys):
    assert run_data("imagenet") == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown dataset 'imagenet'; the data command downloads: mnist, fashion_mnist, cifar10")

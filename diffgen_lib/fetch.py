"""Download MNIST, Fashion-MNIST and CIFAR-10 into the data folder that :mod:`diffgen_lib.data` reads.

``python -m diffgen_lib.book data mnist fashion_mnist cifar10`` calls :func:`command`. Each
official archive is downloaded (a progress bar on stderr) into a hidden temporary file next to
its destination, checked against its published MD5 (the checksums torchvision uses), renamed into
place and extracted into the layout of :mod:`diffgen_lib.data`; the archive is then removed. A
dataset whose files are all there is left alone. Nothing partial is left behind: a failed or
interrupted download or extraction deletes its temporary file.

The base URLs are each dataset's official mirrors, tried in order, unless a mirror is given
(``--mirror URL`` or ``$DIFFGEN_DATA_MIRROR``): it holds ``<mirror>/<dataset>/<archive>``, e.g.
``<mirror>/cifar10/cifar-10-python.tar.gz``; ``file://`` URLs work too.

Nothing else in the package downloads.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sys
import secrets
import tarfile
import urllib.error
import urllib.request
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Optional, Sequence, Tuple

from tqdm import tqdm

from . import data

MIRROR_ENV = "DIFFGEN_DATA_MIRROR"
TIMEOUT_S = 60  # per connection attempt and per read
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download, checksum or extraction failure, with a one-line message."""


@dataclass(frozen=True)
class Archive:
    """One file on the server, its published MD5 and the files it yields in the dataset's folder."""

    name: str
    md5: str
    files: Tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """Where a dataset's archives come from and the folder (under the data root) they go to."""

    folder: str
    mirrors: Tuple[str, ...]  # base URLs ending in "/", tried in order
    archives: Tuple[Archive, ...]


def _idx_archives(md5s: Sequence[str]) -> Tuple[Archive, ...]:
    """The four gzipped IDX files, in the order of ``data.IDX_FILES``."""
    return tuple(Archive(f"{name}.gz", md5, (name,)) for name, md5 in zip(data.IDX_FILES, md5s))


SOURCES = {
    "mnist": Source(
        "MNIST/raw",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        _idx_archives(("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                       "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    "fashion_mnist": Source(
        "FashionMNIST/raw",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        _idx_archives(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                       "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
    "cifar10": Source(
        "cifar-10-batches-py",
        ("https://www.cs.toronto.edu/~kriz/",),
        (Archive("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", data.CIFAR_FILES),)),
}
"""Dataset name (as the ``data`` command takes it) -> its source. The MNIST datasets also serve
``mnist14`` / ``fashion_mnist14`` (the same files, pooled when loaded)."""


# ----------------------------------------------------------------------------------------------
# The command


def command(datasets: Sequence[str], data_dir: Optional[os.PathLike] = None,
            mirror: Optional[str] = None) -> int:
    """Fetch each dataset; exit code 0 (done or already there), 1 (a download, checksum or
    extraction failed), 2 (unknown dataset name) or 130 (interrupted)."""
    unknown = [name for name in datasets if name not in SOURCES]
    if unknown:
        print(f"error: unknown dataset {', '.join(map(repr, unknown))}; "
              f"the data command downloads: {', '.join(SOURCES)}", file=sys.stderr)
        return 2
    for name in datasets:
        try:
            fetch(name, data_dir, mirror)
        except FetchError as exc:
            print(f"error: data {name}: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"error: data {name}: interrupted; no partial file was kept", file=sys.stderr)
            return 130
    return 0


def fetch(name: str, root: Optional[os.PathLike] = None, mirror: Optional[str] = None,
          log: Callable[[str], None] = print) -> bool:
    """Download, verify and extract one dataset into ``root`` (default: the loaders' data root).

    Returns False when its files were all there already (nothing is downloaded), else True.
    Raises :class:`FetchError` with a one-line message on any failure.
    """
    source = SOURCES[name]
    root = Path(root) if root is not None else data.default_data_root()
    folder = root / source.folder
    missing = [a for a in source.archives if not all(_present(folder, f, a) for f in a.files)]
    if not missing:
        log(f"data: {name} is already in {folder}, nothing to download")
        return False
    bases = _mirrors(name, source, mirror)
    with _folder(folder):
        for archive in missing:
            path = folder / archive.name
            if not (path.is_file() and _md5_of(path) == archive.md5):
                url = download(archive, [base + archive.name for base in bases], path)
                log(f"data: {name}: {archive.name} from {url}, MD5 verified")
            extracted = extract(archive, path, root, source.folder)
            path.unlink()
            log(f"data: {name}: {', '.join(extracted)} -> {folder}")
    return True


def _present(folder: Path, name: str, archive: Archive) -> bool:
    """The loaders read an IDX file plain or still gzipped (its archive itself)."""
    return (folder / name).is_file() or (archive.name == f"{name}.gz" and (folder / archive.name).is_file())


def _mirrors(name: str, source: Source, mirror: Optional[str]) -> Tuple[str, ...]:
    mirror = mirror or os.environ.get(MIRROR_ENV)
    return (f"{mirror.rstrip('/')}/{name}/",) if mirror else source.mirrors


# ----------------------------------------------------------------------------------------------
# Download and verify


def download(archive: Archive, urls: Sequence[str], dest: Path) -> str:
    """Download the archive from the first URL that works and gives the published MD5, to a
    temporary file renamed to ``dest`` once verified; returns that URL."""
    failures = []
    for url in urls:
        try:
            _download_verified(url, dest, archive.md5)
            return url
        except FetchError as exc:
            failures.append(f"{url}: {exc}")
    raise FetchError(f"could not get {archive.name} ({'; '.join(failures)}); nothing was kept")


def _download_verified(url: str, dest: Path, md5: str) -> None:
    digest, received = hashlib.md5(), 0
    with _atomic_file(dest) as out:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=dest.name, file=sys.stderr) as bar:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
        except urllib.error.HTTPError as exc:
            exc.close()
            raise FetchError(f"HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise FetchError(f"unreachable ({exc.reason})") from None
        except (OSError, HTTPException) as exc:
            raise FetchError(f"download failed ({type(exc).__name__}: {exc})") from None
        if total is not None and received != total:
            raise FetchError(f"incomplete download ({received} of {total} bytes)")
        if digest.hexdigest() != md5:
            raise FetchError(f"MD5 {digest.hexdigest()} differs from the published {md5}")


def _md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """A hidden temporary file in ``dest``'s folder, renamed to ``dest`` when the block succeeds
    and deleted when it raises anything (KeyboardInterrupt included)."""
    tmp = dest.parent / f".{dest.name}.{secrets.token_hex(4)}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _folder(folder: Path) -> Iterator[None]:
    """Create ``folder`` (and its parents) for the block; the ones it created are removed again
    if the block fails and leaves them empty."""
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for path in created:  # innermost first
            try:
                path.rmdir()
            except OSError:
                break
        raise


# ----------------------------------------------------------------------------------------------
# Extract


def extract(archive: Archive, path: Path, root: Path, folder: str) -> list:
    """Write the files of a verified archive into ``root / folder``; returns their names.

    A ``.tar.gz`` holds ``<folder>/<file>`` members (only regular files directly in that folder
    are written); a plain ``.gz`` holds the one file it yields.
    """
    try:
        if archive.name.endswith(".tar.gz"):
            return _extract_tar(archive, path, root / folder, folder)
        with gzip.open(path, "rb") as src, _atomic_file(root / folder / archive.files[0]) as out:
            shutil.copyfileobj(src, out, CHUNK)
        return list(archive.files)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise FetchError(f"cannot extract {archive.name} ({exc})") from None


def _extract_tar(archive: Archive, path: Path, dest: Path, folder: str) -> list:
    with tarfile.open(path, "r:gz") as tar:
        prefix, members = f"{folder}/", {}
        for member in tar.getmembers():
            name = member.name[len(prefix):] if member.name.startswith(prefix) else ""
            if member.isfile() and name and "/" not in name and name not in (".", ".."):
                members[name] = member
        missing = [name for name in archive.files if name not in members]
        if missing:
            raise FetchError(f"{archive.name} lacks {folder}/{', '.join(missing)}")
        for name, member in members.items():
            with tar.extractfile(member) as src, _atomic_file(dest / name) as out:
                shutil.copyfileobj(src, out, CHUNK)
    return sorted(members)

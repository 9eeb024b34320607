"""An on-disk cache of computed results: folder, keys, checked atomic files.

Folder: ``$DIFFGEN_CACHE``, or ``<repository root>/.cache/diffgen``, or ``~/.cache/diffgen``
when the repository is not writable. Keys are sha256 hashes of sorted JSON, so equal inputs
give equal keys on every machine. Each file holds a magic header, the sha256 of its payload
and the payload (``torch.save`` of tensors, numbers, strings, lists and dicts); it is written
to a temporary file in the same folder, fsynced and renamed into place, so a reader sees the
old file or the new one, never half of one. A file whose checksum does not match raises
:class:`CorruptCacheEntry`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Optional

import torch

MAGIC = b"DIFFGEN-CACHE-1\n"


class CorruptCacheEntry(Exception):
    """A cache file that is truncated, altered or not a cache file."""


def repo_root() -> Path:
    """The folder that holds the ``diffgen_lib`` package."""
    return Path(__file__).resolve().parent.parent


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
        return True
    except OSError:
        return False


def cache_dir() -> Path:
    """The cache folder (created if needed); see the module docstring for the order of choices."""
    env = os.environ.get("DIFFGEN_CACHE")
    if env:
        folder = Path(env).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    folder = repo_root() / ".cache" / "diffgen"
    if _writable(folder):
        return folder
    folder = Path.home() / ".cache" / "diffgen"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stable_hash(obj: Any) -> str:
    """sha256 hex digest of ``obj`` as sorted, compact JSON (tuples become lists)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def sources(*relative: str) -> list:
    """The package's files ``relative`` (paths under ``diffgen_lib/``, e.g. "measure/metrics.py"):
    the modules whose code decides a cached result."""
    package = Path(__file__).resolve().parent
    return [package / name for name in relative]


def source_hash(paths: Iterable[os.PathLike]) -> str:
    """sha256 of the contents of source files, so that editing one of them changes cache keys."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.hexdigest()


def write_checked(path: os.PathLike, obj: Any) -> None:
    """Save ``obj`` with a checksum, atomically (temporary file, fsync, os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    payload = buffer.getvalue()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + hashlib.sha256(payload).digest() + payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def read_checked(path: os.PathLike, map_location: Optional[str] = "cpu") -> Any:
    """Load a file written by :func:`write_checked`; :class:`CorruptCacheEntry` if it fails its check."""
    data = Path(path).read_bytes()
    head = len(MAGIC) + 32
    if len(data) < head or not data.startswith(MAGIC):
        raise CorruptCacheEntry(f"{path}: not a diffgen cache file or truncated")
    payload = data[head:]
    if hashlib.sha256(payload).digest() != data[len(MAGIC):head]:
        raise CorruptCacheEntry(f"{path}: checksum mismatch")
    try:
        return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as exc:  # checksum matched but the payload does not load
        raise CorruptCacheEntry(f"{path}: {exc}") from exc


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def cached_result(kind: str, key: Any, compute, sources: Iterable[os.PathLike] = ()) -> Any:
    """Return ``compute()``, stored on disk under a key made of ``kind``, ``key`` (JSON-able),
    the library version and the source of ``sources`` (the modules whose code decides the result).

    The value must be what :func:`write_checked` can store (tensors, numbers, strings, lists,
    dicts). A corrupt entry is reported and recomputed.
    """
    from . import __version__

    digest = stable_hash({"kind": kind, "key": key, "version": __version__,
                          "source": source_hash(sources)})
    path = cache_dir() / "results" / f"{kind}-{digest[:24]}.pt"
    value = _read_or_none(path)
    if value is not None:
        return value
    with computed_once(path):  # another process may have computed it while this one waited
        value = _read_or_none(path)
        if value is None:
            value = compute()
            write_checked(path, value)
    return value


def _read_or_none(path: Path) -> Any:
    """The entry at ``path``, or None when there is none (a corrupt one is reported and removed)."""
    if not path.exists():
        return None
    try:
        return read_checked(path)
    except CorruptCacheEntry as exc:
        import warnings

        warnings.warn(f"recomputing a corrupt cache entry: {exc}", RuntimeWarning, stacklevel=3)
        path.unlink(missing_ok=True)
        return None


@contextmanager
def computed_once(path: os.PathLike):
    """Hold an exclusive lock for the cache entry ``path`` while it is computed, so that processes
    working side by side (the runs and notebooks of one build) compute a shared entry once: the others wait, then
    read it. Inside, check again whether the entry exists. The lock files stay in ``locks/`` of the
    cache folder (removing them would race); where ``fcntl`` is missing (Windows) there is no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: each process computes for itself
        yield
        return
    lock = cache_dir() / "locks" / (Path(path).name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

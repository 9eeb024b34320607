"""Chapter execution with papermill (kernel environment, progress heartbeat) and the HTML build."""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..progress import last_progress_line
from .layout import BLAS_THREAD_VARIABLES, PARAMETER_TAGS, ROOT, _rel, book_threads, chapter_threads


def kernel_environment() -> None:
    """Environment inherited by the kernels: diffgen_lib importable, threads pinned, our python3."""
    package_root = str(ROOT)  # the diffgen_lib that runs this is the one the kernels import
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if package_root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([package_root] + paths)
    threads = os.environ.setdefault("DIFFGEN_THREADS", str(book_threads()))
    for var in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(var, threads)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # idle OpenMP threads sleep instead of spinning: with two processes on two cores, spinning
    # threads slow both about tenfold; the numbers are bit-identical either way
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # a batch run: the saved page has no kernel behind its widgets (see explorer.interactive_session)
    os.environ.setdefault("DIFFGEN_EXECUTION", "batch")
    # progress bars go to a file the heartbeat reads, never into the executed notebook
    os.environ.setdefault("DIFFGEN_PROGRESS", "file")
    # kernelspecs of this environment first, so "python3" is this interpreter
    share = str(Path(sys.prefix) / "share" / "jupyter")
    jp = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if share not in jp:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([share] + jp)


class _Heartbeat(threading.Thread):
    """Prints every ``every`` seconds how long a chapter has run, how many cells are done and
    the chapter's newest progress-bar state (from its progress file)."""

    def __init__(self, label: str, nb_path: Path, every: float = 30.0, progress_file: Path | None = None):
        super().__init__(daemon=True)
        self.label, self.nb_path, self.every = label, nb_path, every
        self.progress_file = progress_file
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            done = total = 0
            try:
                nb = json.loads(self.nb_path.read_text(encoding="utf-8"))
                cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
                total = len(cells)
                done = sum(c["metadata"].get("papermill", {}).get("status") == "completed" for c in cells)
            except (OSError, ValueError, KeyError):
                pass
            cells_txt = f", {done}/{total} code cells" if total else ""
            bar = last_progress_line(self.progress_file) if self.progress_file else ""
            bar_txt = f", {bar}" if bar else ""
            print(f"      {self.label}: {time.monotonic() - self.t0:.0f} s{cells_txt}{bar_txt}", flush=True)


def _kernel_config(ipc_dir: Path):
    """Kernels talk over IPC sockets in a private folder on Linux (no TCP ports, no
    "unencrypted TCP" warning, no socket files in the chapter's working directory)."""
    from traitlets.config import Config

    transport = os.environ.get("DIFFGEN_KERNEL_TRANSPORT", "ipc" if sys.platform.startswith("linux") else "tcp")
    if transport != "ipc":
        return Config({"KernelManager": {"transport": transport}})
    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(ipc_dir) / "kernel")}})


@functools.cache
def _quiet_shutdown_kernel_manager():
    """The kernel manager papermill runs chapters with: jupyter_client's, except that shutting the
    kernel down sends only the shutdown request. jupyter_client first interrupts the kernel
    (SIGINT), and when that lands inside a message handler ipykernel logs "[IPKernelApp] ERROR |
    KeyboardInterrupt caught in kernel." after a chapter that ran fine. A cell's error still
    fails the chapter (papermill raises it); a kernel that ignores the request is still killed."""
    from jupyter_client import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:  # an interrupt asked for, not one on the way out
                await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


def execute_chapter(
    stem: str, output: Path, parameters: dict | None = None, root: Path = ROOT, *, label: str = "",
    threads: int | None = None,
) -> None:
    """Execute ``book/<stem>.py`` with papermill into ``output`` (inputs from the .py source).
    ``threads``: the threads its kernel computes with (``DIFFGEN_CHAPTER_THREADS``; default
    ``DIFFGEN_THREADS``), recorded in the notebook's metadata."""
    import jupytext
    import nbformat
    import papermill

    root = Path(root)
    kernel_environment()
    if threads is not None:  # this process's environment is the kernel's
        os.environ["DIFFGEN_CHAPTER_THREADS"] = str(threads)
        for var in BLAS_THREAD_VARIABLES:
            os.environ[var] = str(threads)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    work = root / "_build" / "exec"
    work.mkdir(parents=True, exist_ok=True)
    src_nb = work / f"{output.stem}.input.ipynb"
    tmp_out = work / f"{output.stem}.ipynb"
    nb = jupytext.read(root / "book" / f"{stem}.py")
    nbformat.write(nb, src_nb)
    progress_file = work / f"{output.stem}.progress.log"
    progress_file.unlink(missing_ok=True)
    os.environ["DIFFGEN_PROGRESS_FILE"] = str(progress_file)  # the kernel inherits it
    beat = _Heartbeat(label or stem, tmp_out, float(os.environ.get("DIFFGEN_PROGRESS_EVERY", 30)),
                      progress_file)
    beat.start()
    ipc_dir = tempfile.mkdtemp(prefix="diffgen-ipc-")  # short path: unix sockets allow ~100 chars
    try:
        papermill.execute_notebook(
            str(src_nb),
            str(tmp_out),
            parameters=parameters or None,
            kernel_name="python3",
            cwd=str(root / "book"),
            progress_bar=False,
            log_output=False,
            record_timing=False,  # papermill's own per-cell metadata has the timings
            config=_kernel_config(ipc_dir),
            kernel_manager_class=_quiet_shutdown_kernel_manager(),
        )
    finally:
        beat.stop.set()
        shutil.rmtree(ipc_dir, ignore_errors=True)
    nb = nbformat.read(tmp_out, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if any(t in tags for t in PARAMETER_TAGS) and "hide-input" not in tags:
            tags = list(tags) + ["hide-input"]
        if widest_image(cell) > COLUMN_PX and "full-width" not in tags:
            tags = list(tags) + ["full-width"]
        if tags:
            cell.metadata["tags"] = tags
    pm = nb.metadata.setdefault("papermill", {})
    pm["input_path"] = f"book/{stem}.py"
    pm["output_path"] = _rel(output, root)
    nb.metadata["diffgen"] = {"threads": chapter_threads(),
                              "longest_seconds": max(float(pm.get("duration") or 0.0), longest_seconds(output))}
    nb.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
    nb.metadata["jupytext"].pop("text_representation", None)
    jupytext.write(nb, output, fmt="ipynb")
    if output.parent.resolve() == (root / "book").resolve():
        os.utime(root / "book" / f"{stem}.py")  # the pair's text file stays the newer one
    if str(root.resolve()) in output.read_text(encoding="utf-8"):
        print(f"      warning: {_rel(output, root)} contains this machine's path {root.resolve()}")


def longest_seconds(notebook: Path) -> float:
    """The longest execution recorded in an executed notebook: its ``diffgen.longest_seconds``
    (kept over executions) or papermill's duration of the last one; 0 when unknown. A chapter that
    computes its measurements takes far longer than one that loads them from the cache, so this is
    what it costs in a cold build."""
    try:
        meta = json.loads(Path(notebook).read_text(encoding="utf-8"))["metadata"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0
    values = [meta.get("diffgen", {}).get("longest_seconds"), meta.get("papermill", {}).get("duration")]
    return max([float(v) for v in values if isinstance(v, (int, float))], default=0.0)


def recorded_seconds(stem: str, root: Path = ROOT) -> float:
    """What ``book/<stem>.ipynb`` costs, as recorded (:func:`longest_seconds`), or infinity when
    unknown: the build executes the costliest chapters first."""
    return longest_seconds(Path(root) / "book" / f"{stem}.ipynb") or float("inf")


def _execute_in_worker(stem: str, root: str, threads: int, results) -> None:
    """One chapter in a worker process of :func:`execute_side_by_side`; sends (seconds, None), or
    (seconds, the error's text) when it failed, through the pipe ``results``. Ctrl-C is the
    parent's to handle (it stops the workers)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    t0 = time.monotonic()
    try:
        execute_chapter(stem, Path(root) / "book" / f"{stem}.ipynb", None, Path(root), label=stem, threads=threads)
    except Exception as exc:  # papermill's execution error carries the cell's traceback
        results.send((time.monotonic() - t0, str(exc)))
    else:
        results.send((time.monotonic() - t0, None))
    results.close()


def execute_side_by_side(stems: list[str], root: Path, jobs: int, threads: int, stop_on_failure: bool = True):
    """Execute the chapters ``stems`` ``jobs`` at a time, each in its own process with a kernel
    on ``threads`` threads, starting them in the order given (longest first finishes soonest);
    yields (stem, seconds, error text or None) as each finishes. After a failure with
    ``stop_on_failure`` no further chapter starts; on Ctrl-C (or when the caller stops early) the
    running ones are stopped. The numbers do not depend on the thread count
    (tests/test_thread_invariance.py), so side by side they are those of one after the other."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch threads
    pending, running = list(stems), {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                stem = pending.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                worker = context.Process(target=_execute_in_worker, args=(stem, str(root), threads, sender),
                                         name=f"chapter {stem}")
                worker.start()
                sender.close()  # the worker holds the other end: EOF here when it exits
                running[stem] = (worker, receiver)
            ready = wait([receiver for _, receiver in running.values()])
            for stem in [s for s, (_, receiver) in running.items() if receiver in ready]:
                worker, receiver = running.pop(stem)
                try:
                    seconds, error = receiver.recv()
                except EOFError:  # it died before it could say (killed, out of memory)
                    worker.join()
                    seconds, error = float("nan"), f"the process executing it exited with code {worker.exitcode}"
                worker.join()
                if error is not None and stop_on_failure:
                    pending.clear()
                yield stem, seconds, error
    finally:
        for worker, _ in running.values():
            worker.terminate()  # its kernel notices that its parent is gone and exits
        for worker, _ in running.values():
            worker.join()


#: a PNG wider than the page's text column (px at the book's 100 dpi) is shrunk to fit it, and
#: its text with it: such a figure's cell gets the ``full-width`` tag (136% of the column);
#: wider than FULL_WIDTH_PX, its text would still render below about 9 pt (a test checks)
COLUMN_PX = 750
FULL_WIDTH_PX = 1020


def png_width(data: str) -> int:
    """Width in pixels of a base64-encoded PNG (from its IHDR chunk)."""
    head = base64.b64decode(data[:44])  # 33 bytes: signature, IHDR length and type, width, height
    return int.from_bytes(head[16:20], "big")


def widest_image(cell) -> int:
    """The widest PNG output of a notebook cell (0 when it has none)."""
    widths = [png_width(out["data"]["image/png"]) for out in cell.get("outputs", [])
              if "image/png" in out.get("data", {})]
    return max(widths, default=0)


def _jupyter_book() -> str:
    exe = Path(sys.executable).parent / "jupyter-book"
    return str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book")


def build_html(root: Path = ROOT, output_dir: Path | None = None, strict: bool = True) -> int:
    """``jupyter-book build <root> -q -W -n --keep-going`` (execution is off in _config.yml)."""
    cmd = [_jupyter_book(), "build", str(root), "-q"]  # -q: warnings and errors only
    if output_dir is not None:
        cmd += ["--path-output", str(output_dir)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    return subprocess.call(cmd, cwd=str(root))

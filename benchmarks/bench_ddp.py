"""Data-parallel training on the CPU: one process against two gloo processes (DDP).

    python benchmarks/bench_ddp.py [--steps 200]

For the default U-Net (``TrainConfig()``) and the MLP it trains ``--steps`` steps (no cache) as
1 process x 1 thread, 1 process x 2 threads and 2 processes x 1 thread (``torchrun
--standalone``, gloo), and prints steps/s and samples/s (global batch) as a markdown table.
Timings are those :func:`diffgen_lib.train.train` measures (the training loop, not the start).
Timings on a shared machine vary; run it on an idle one with at least two cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = {"unet (default)": dict(), "mlp": dict(model="mlp", batch_size=128, lr=1e-3)}
SETTINGS = [(1, 1), (1, 2), (2, 1)]  # (processes, threads per process)


def worker(name: str, steps: int, threads: int) -> None:
    """Train one config in this process (one rank of a launch, or alone); rank 0 prints JSON."""
    import torch

    from diffgen_lib import distributed
    from diffgen_lib.runs import TrainConfig
    from diffgen_lib.train import train

    torch.set_num_threads(threads)
    config = dataclasses.replace(TrainConfig(**CONFIGS[name]), max_steps=steps, device="cpu")
    run = train(config, progress=False, cache=False)
    if distributed.is_main():
        print("RESULT " + json.dumps({"steps_per_second": run.steps_per_second,
                                      "batch": config.batch_size}), flush=True)
    distributed.shutdown()


def launch(name: str, steps: int, processes: int, threads: int) -> dict:
    args = [str(Path(__file__).resolve()), "--worker", name, "--steps", str(steps),
            "--threads", str(threads)]
    if processes > 1:
        args = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                str(processes)] + args
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable] + args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} {processes}x{threads} failed:\n{proc.stderr[-3000:]}")
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.steps, args.threads)

    import torch

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {args.steps} steps per run\n")
    print("| config | processes x threads | batch per process | steps/s | samples/s | vs 1x1 |")
    print("|---|---|---|---|---|---|")
    for name in CONFIGS:
        base = None
        for processes, threads in SETTINGS:
            result = launch(name, args.steps, processes, threads)
            sps, batch = result["steps_per_second"], result["batch"]
            base = base or sps
            print(f"| {name} | {processes} x {threads} | {batch // processes} | {sps:.1f} | "
                  f"{sps * batch:.0f} | {sps / base:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

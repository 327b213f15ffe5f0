#!/usr/bin/python3
"""PyTorch's side of bench/FocalLoss.Bench's loss table (Debian python3-torch 1.13, python3-torchvision 0.14).

For every N and thread count: torchvision.ops.sigmoid_focal_loss (alpha 0.25, gamma 2, mean) and PyTorch's fused
F.binary_cross_entropy_with_logits (mean), forward (no_grad, ending in .item()) and forward+backward, float32
logits 4 * randn(N) and 30 % positive 0/1 targets; the two run interleaved rep by rep after warm-up, at least
5 reps and MIN_SECONDS, medians in ms. Prints one JSON object per row.
Usage: /usr/bin/python3 bench/focal_pytorch.py SIZES THREADS MIN_SECONDS   e.g. 10000,100000 1,2 1
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
import torchvision


def step(loss, x, backward):
    if not backward:
        with torch.no_grad():
            loss().item()
        return
    x.grad = None
    value = loss()
    value.backward()
    value.item()


def measure(actions, min_seconds):
    for _ in range(2):
        for a in actions:
            a()
    times = [[] for _ in actions]
    start = time.perf_counter()
    while len(times[0]) < 5 or (time.perf_counter() - start < min_seconds and len(times[0]) < 200):
        for k, a in enumerate(actions):
            t0 = time.perf_counter()
            a()
            times[k].append((time.perf_counter() - t0) * 1000)
    return [sorted(v)[len(v) // 2] for v in times]


def main():
    sizes = [int(v) for v in sys.argv[1].split(",")]
    threads = [int(v) for v in sys.argv[2].split(",")]
    min_seconds = float(sys.argv[3])
    for n in sizes:
        for th in threads:
            torch.set_num_threads(th)
            for backward in (False, True):
                torch.manual_seed(1)
                x = (torch.randn(n) * 4).requires_grad_(backward)
                t = (torch.rand(n) < 0.3).float()
                tv = lambda: step(lambda: torchvision.ops.sigmoid_focal_loss(x, t, 0.25, 2.0, "mean"), x, backward)
                bce = lambda: step(lambda: F.binary_cross_entropy_with_logits(x, t), x, backward)
                tv_ms, bce_ms = measure([tv, bce], min_seconds)
                print(json.dumps({"n": n, "threads": th, "backward": backward, "torchvision_ms": tv_ms, "bce_ms": bce_ms,
                                  "torch": torch.__version__, "torchvision": torchvision.__version__}), flush=True)


def peak_mib(n):
    """Peak extra resident memory of one forward+backward of torchvision's loss at N (2 threads), as the C# bench measures it."""
    def status(field):
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith(field + ":"))
    torch.set_num_threads(2)
    torch.manual_seed(1)
    x = (torch.randn(n) * 4).requires_grad_(True)
    t = (torch.rand(n) < 0.3).float()
    def once():
        x.grad = None
        value = torchvision.ops.sigmoid_focal_loss(x, t, 0.25, 2.0, "mean")
        value.backward()
        value.item()
        x.grad = None
    once()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    once()
    return (status("VmHWM") - before) / 1024


if __name__ == "__main__":
    # Peak memory first, before the timings leave freed blocks in the heap; not under retained-memory tunables.
    if "GLIBC_TUNABLES" not in __import__("os").environ:
        print(json.dumps({"peak_mib": peak_mib(max(int(v) for v in sys.argv[1].split(",")))}), flush=True)
    main()

#!/usr/bin/python3
"""The seed experiment's training loop in PyTorch eager mode, for bench/FocalLoss.Bench seed-loop.

Same data rule, model, initialisation, probability-form focal loss (alpha 0.25, gamma 2, batch sum),
momentum SGD 0.005/0.9, batch 16, 10 epochs = 6,250 steps; manual index permutation (no DataLoader),
one loss.item() a step; 1 intra-op thread. Prints one JSON line: steps per second of each repeat and
the learned w, b. Usage: /usr/bin/python3 bench/seed_loop_pytorch.py [repeats]   (Debian python3-torch)
"""
import json
import sys
import time

import torch


def run(seed):
    g = torch.Generator().manual_seed(seed)
    x64 = torch.rand(10000, 1, dtype=torch.float64, generator=g) * 20 - 10
    y = ((2 * x64 + 3) > 0).float().squeeze(1)
    x = x64.float()
    torch.manual_seed(seed)
    fc = torch.nn.Linear(1, 1)
    torch.nn.init.normal_(fc.weight, 0, 0.02)
    torch.nn.init.normal_(fc.bias, 0, 0.02)
    opt = torch.optim.SGD(fc.parameters(), lr=0.005, momentum=0.9)
    shuffle = torch.Generator().manual_seed(seed + 1)
    steps = 0
    start = time.perf_counter()
    for _ in range(10):
        perm = torch.randperm(10000, generator=shuffle)
        for s in range(0, 10000, 16):
            idx = perm[s:s + 16]
            p = torch.sigmoid(fc(x[idx]).squeeze(-1))
            t = y[idx]
            at = 0.25 * t + 0.75 * (1 - t)
            pt = p * t + (1 - p) * (1 - t)
            loss = (-at * (1 - pt) ** 2 * torch.log(pt)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            steps += 1
    elapsed = time.perf_counter() - start
    return steps / elapsed, fc.weight.item(), fc.bias.item()


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(1)
    results = [run(seed) for seed in range(repeats)]
    print(json.dumps({"torch": torch.__version__, "steps_per_second": [r[0] for r in results],
                      "w": [r[1] for r in results], "b": [r[2] for r in results]}))


if __name__ == "__main__":
    main()

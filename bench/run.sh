#!/usr/bin/env bash
# Runs the sigmoid_focal_loss benchmark twice, with glibc's default allocator and with an allocator that
# keeps freed memory (this VM pays about 15 us per freshly touched 4 KiB page, and glibc returns large
# freed blocks to the kernel by default, so every new large tensor is page-faulted in again).
# Writes bench/results/sigmoid-focal-loss-{default,retained}.md. Extra arguments go to the bench.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
dotnet build bench/FocalLoss.Bench -c Release -nologo -v quiet
dotnet run -c Release --no-build --project bench/FocalLoss.Bench -- "$@" | tee bench/results/sigmoid-focal-loss-default.md
GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1099511627776 \
  dotnet run -c Release --no-build --project bench/FocalLoss.Bench -- "$@" | tee bench/results/sigmoid-focal-loss-retained.md
dotnet run -c Release --no-build --project bench/FocalLoss.Bench -- seed-loop | tee bench/results/seed-loop.md

#!/usr/bin/env bash
# Runs the loss benchmark twice, with glibc's default allocator and with freed memory retained
# (FOCAL_RETAIN_FREED_MEMORY=1: this VM pays about 15 us per freshly touched 4 KiB page, and glibc returns large
# freed blocks to the kernel by default, so every new large tensor is page-faulted in again), each time with
# PyTorch's rows (bench/focal_pytorch.py, Debian's python3-torch, installed here when missing) timed in the same
# invocation under the same allocator setting; then the seed-loop benchmark.
# Writes bench/results/sigmoid-focal-loss-{default,retained}.md, seed-loop.md and kernel-bdn.md. Extra arguments go to the loss bench
# (--sizes and --threads also reach the PyTorch script).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
if ! /usr/bin/python3 -c "import torch, torchvision" >/dev/null 2>&1; then
  echo "installing Debian's python3-torch and python3-torchvision (the reference rows)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch python3-torchvision
fi
sizes=10000,100000,1000000,10000000; threads=1,2; seconds=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --sizes) sizes="${args[$((i + 1))]}" ;;
    --threads) threads="${args[$((i + 1))]}" ;;
    --min-seconds) seconds="${args[$((i + 1))]}" ;;
  esac
done
dotnet build bench/FocalLoss.Bench -c Release -nologo -v quiet
rows=$(mktemp); trap 'rm -f "$rows"' EXIT
# glibc's default allocator
/usr/bin/python3 bench/focal_pytorch.py "$sizes" "$threads" "$seconds" > "$rows"
dotnet run -c Release --no-build --project bench/FocalLoss.Bench -- --pytorch "$rows" "$@" | tee bench/results/sigmoid-focal-loss-default.md
# freed memory retained: the same glibc tunables for PyTorch as the workbench's opt-in sets for itself
GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1099511627776 \
  /usr/bin/python3 bench/focal_pytorch.py "$sizes" "$threads" "$seconds" > "$rows"
FOCAL_RETAIN_FREED_MEMORY=1 \
  dotnet run -c Release --no-build --project bench/FocalLoss.Bench -- --pytorch "$rows" "$@" | tee bench/results/sigmoid-focal-loss-retained.md
dotnet run -c Release --no-build --project bench/FocalLoss.Bench -- seed-loop | tee bench/results/seed-loop.md
# BenchmarkDotNet micro-benchmarks of the kernel (fused / composite ratios, in-process, ShortRun); the summary table only
dotnet run -c Release --no-build --project bench/FocalLoss.Bench -- kernel > "$rows" 2>&1
{ echo "# BenchmarkDotNet: fused sigmoid focal loss kernel against the composite (forward+backward, float32, 1 thread)"; echo; echo '```';
  sed -n '/^BenchmarkDotNet v/,/^\/\/ \* Legends \*/p' "$rows" | grep -v '^// \*'; echo '```'; } | tee bench/results/kernel-bdn.md

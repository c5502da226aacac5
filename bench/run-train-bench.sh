#!/usr/bin/env bash
# Training step: Fathom (bench_train_step) against PyTorch CPU (bench/train_step_torch.py, Debian's python3-torch)
# on the same Llama shape and batch (default: fathom-tiny's shape, 8 x 256 tokens), alternating ROUNDS times so both
# see the same machine load; each run prints its median step time over REPS steps after a warm-up.
# Debian 12's OpenBLAS (0.3.21) does not recognise newer Xeons and would give PyTorch its SSE2 kernels; PyTorch runs
# with OPENBLAS_CORETYPE set to the AVX-512 (or AVX2) kernels, the same choice Fathom's nn::blas_setup makes.
#   BUILD=build THREADS=2 REPS=5 ROUNDS=2 bash bench/run-train-bench.sh [extra shape arguments for both]
set -euo pipefail
BUILD=${BUILD:-build}
THREADS=${THREADS:-2}
REPS=${REPS:-5}
ROUNDS=${ROUNDS:-2}
if [ ! -x "$BUILD/bench/bench_train_step" ]; then
  echo "run-train-bench.sh: build first (cmake --build $BUILD --target bench_train_step)" >&2
  exit 1
fi
core=Haswell
grep -q avx512bw /proc/cpuinfo && core=SkylakeX
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS threads, $(date -u +%F)"
for r in $(seq "$ROUNDS"); do
  "$BUILD/bench/bench_train_step" --threads "$THREADS" -r "$REPS" "$@"
  OPENBLAS_CORETYPE=$core /usr/bin/python3 "$(dirname "$0")/train_step_torch.py" --threads "$THREADS" -r "$REPS" "$@"
done

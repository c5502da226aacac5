#!/usr/bin/env bash
# Whole-model benchmark (`make bench`): synthesises untrained tinyllama-1.1b models (F32 and F16) into
# $BUILD/models if they are missing, quantises the F32 one to $QTYPES, then runs `fathom bench` on each,
# llama-bench style.
#   BUILD=build THREADS=2 REPS=3 N_PROMPT=512 N_GEN=128 bash bench/run-bench.sh [extra fathom bench flags, e.g. --json]
set -euo pipefail

BUILD=${BUILD:-build}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
N_PROMPT=${N_PROMPT:-512}
N_GEN=${N_GEN:-128}
FATHOM="$BUILD/fathom"

if [ ! -x "$FATHOM" ]; then
  echo "run-bench.sh: $FATHOM not found; build first (make build)" >&2
  exit 1
fi
mkdir -p "$BUILD/models"

for type in f32 f16; do
  model="$BUILD/models/tinyllama-1.1b-$type.gguf"
  if [ ! -f "$model" ]; then
    echo "synthesising $model (untrained random weights)" >&2
    "$FATHOM" synth --arch llama --shape tinyllama-1.1b --type "$type" --seed 1 -o "$model" >&2
  fi
done

# Quantised versions, from the F32 model (as a user would quantise a full-precision checkpoint).
QTYPES=${QTYPES:-q8_0 q4_0 q4_1 q4_k_m}
for type in $QTYPES; do
  model="$BUILD/models/tinyllama-1.1b-$type.gguf"
  if [ ! -f "$model" ]; then
    echo "quantising $model" >&2
    "$FATHOM" quantize "$BUILD/models/tinyllama-1.1b-f32.gguf" "$model" --type "$type" -t "$THREADS" >&2
  fi
done

for type in f32 f16 $QTYPES; do
  model="$BUILD/models/tinyllama-1.1b-$type.gguf"
  echo "## tinyllama-1.1b $type (synthetic, untrained): fathom bench -m $model -p $N_PROMPT -n $N_GEN -t $THREADS -r $REPS $*"
  "$FATHOM" bench -m "$model" -p "$N_PROMPT" -n "$N_GEN" -t "$THREADS" -r "$REPS" "$@"
  echo
done

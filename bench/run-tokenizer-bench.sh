#!/usr/bin/env bash
# Tokenizer benchmarks (part of `make bench`): `fathom tokenizer train` on >= 10 MB of text, then the encoding speed
# of every vocabulary in ../shared/testdata/tokenizers and of the trained one on English prose (one thread, a fresh
# tokenizer per repetition).
# The texts come from the machine's own Debian documentation, so nothing is downloaded:
#   prose: /usr/share/common-licenses/* then README*/NEWS* under /usr/share/doc (gunzipped), invalid UTF-8 dropped,
#          first $PROSE_MB MB;
#   train: /usr/share/doc/*/changelog*.gz, first $TRAIN_MB MB.
#   BUILD=build REPS=5 PROSE_MB=4 TRAIN_MB=12 THREADS=2 bash bench/run-tokenizer-bench.sh
set -euo pipefail

BUILD=${BUILD:-build}
REPS=${REPS:-5}
PROSE_MB=${PROSE_MB:-4}
TRAIN_MB=${TRAIN_MB:-12}
THREADS=${THREADS:-2}
VOCABS=${VOCABS:-../shared/testdata/tokenizers}
WORK="$BUILD/bench-text"
mkdir -p "$WORK"

if [ ! -x "$BUILD/bench/bench_tokenizer" ] || [ ! -x "$BUILD/fathom" ]; then
  echo "run-tokenizer-bench.sh: build first (make build)" >&2
  exit 1
fi

prose="$WORK/prose-${PROSE_MB}mb.txt"
if [ ! -s "$prose" ]; then
  { cat /usr/share/common-licenses/* 2>/dev/null
    find /usr/share/doc \( -name 'README*' -o -name 'NEWS*' \) -type f | LC_ALL=C sort | while read -r f; do
      case "$f" in *.gz) zcat "$f" 2>/dev/null ;; *.html|*.htm|*.png|*.svg) ;; *) cat "$f" ;; esac
    done; } | iconv -c -f utf-8 -t utf-8 | head -c $((PROSE_MB * 1000000)) > "$prose" || true
fi
train="$WORK/train-${TRAIN_MB}mb.txt"
if [ ! -s "$train" ]; then
  find /usr/share/doc -name 'changelog*.gz' | LC_ALL=C sort | xargs zcat 2>/dev/null | head -c $((TRAIN_MB * 1000000)) > "$train" || true
fi

echo "## train: fathom tokenizer train --vocab-size 32000 -t $THREADS on $(wc -c < "$train") bytes, $REPS runs"
for i in $(seq "$REPS"); do
  /usr/bin/time -f "wall %e s, peak RSS %M KB" "$BUILD/fathom" tokenizer train --vocab-size 32000 -t "$THREADS" \
    --out "$WORK/trained.gguf" "$train" 2>&1 | tail -n 2 | tr '\n' ' '
  echo
done

echo "## encode: $(wc -c < "$prose") bytes of prose, 1 thread, median of $REPS"
if [ -d "$VOCABS" ]; then
  "$BUILD/bench/bench_tokenizer" -r "$REPS" "$prose" "$VOCABS"/ggml-vocab-*.gguf "$WORK/trained.gguf"
else
  echo "($VOCABS not present: only the trained tokenizer)"
  "$BUILD/bench/bench_tokenizer" -r "$REPS" "$prose" "$WORK/trained.gguf"
fi


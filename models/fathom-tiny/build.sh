#!/usr/bin/env bash
# The whole fathom-tiny recipe, deterministic for the same package versions and thread count:
#   corpus (fetch-corpus.sh: Debian packages via apt-get download) -> `fathom data prepare` (clean, de-duplicate,
#   split) -> `fathom tokenizer train` (byte-level BPE, 8192 tokens, on the training split only) -> token shards ->
#   `fathom train --config train.json` -> F16 GGUF.
# Usage: build.sh WORK_DIR [FATHOM_BINARY]   (WORK_DIR holds everything it makes; a rerun continues training from
#        WORK_DIR/run/checkpoint.gguf when one exists)
set -euo pipefail
if [[ $# -lt 1 || $1 == -* ]]; then
    echo "usage: $0 WORK_DIR [FATHOM_BINARY]" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mkdir -p "$1" && cd "$1" && pwd)
fathom=${2:-$here/../../build/fathom}
[[ $fathom == /* ]] || fathom=$PWD/$fathom
threads=${THREADS:-2}
export LC_ALL=C.UTF-8

[[ -s $work/corpus/SOURCES.tsv ]] || bash "$here/fetch-corpus.sh" "$work/corpus"
cd "$work"
if [[ ! -s data0/train.jsonl ]]; then
    "$fathom" data prepare corpus/text/*.txt -o data0 -t "$threads"
fi
if [[ ! -s tokenizer.gguf ]]; then
    /usr/bin/python3 -c '
import json, sys
with open("data0/train.jsonl", encoding="utf-8") as f, open("tokenizer-train.txt", "w", encoding="utf-8") as o:
    for line in f:
        o.write(json.loads(line)["text"] + "\n\n")
'
    "$fathom" tokenizer train --vocab-size 8192 --out tokenizer.gguf -t "$threads" tokenizer-train.txt
fi
if [[ ! -s data/train-00000.bin ]]; then
    "$fathom" data prepare corpus/text/*.txt -o data -t "$threads" --tokenizer tokenizer.gguf
fi
cp "$here/train.json" train.json
resume=()
[[ -s run/checkpoint.gguf ]] && resume=(--resume)
"$fathom" train --config train.json -t "$threads" "${resume[@]}"
"$fathom" quantize run/model.gguf fathom-tiny-f16.gguf --type f16
ls -la "$work"/fathom-tiny-*.gguf

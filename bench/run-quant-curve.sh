#!/usr/bin/env bash
# Size against quality: uniform types (each with and without an imatrix, the 4-bit ones also with AWQ-style scaling)
# and --plan auto at several budgets, every
# file evaluated against the unquantised model on held-out text (perplexity, KL divergence, top-1, BLEU-4 /
# ROUGE-L of greedy continuations), into one JSON and one HTML report with the sensitivity heat map.
#   bench/run-quant-curve.sh MODEL CALIB.txt HELDOUT.txt OUT_DIR
# Environment: FATHOM (binary, default build/fathom), THREADS (2), CHUNKS (perplexity chunks, 0 = all), GEN_ITEMS (32),
# PLAN_CHUNKS (calibration chunks per sensitivity measurement, 4), BUDGETS ("4.25 4.5 5 5.5 6.5 8.5").
set -euo pipefail
if [[ $# -ne 4 ]]; then
    echo "usage: $0 MODEL CALIB.txt HELDOUT.txt OUT_DIR" >&2
    exit 2
fi
model=$1 calib=$2 held=$3 out=$4
fathom=${FATHOM:-build/fathom}
threads=${THREADS:-2}
chunks=${CHUNKS:-0}
gen_items=${GEN_ITEMS:-32}
plan_chunks=${PLAN_CHUNKS:-4}
budgets=${BUDGETS:-4.25 4.5 5 5.5 6.5 8.5}
mkdir -p "$out"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $threads threads, $(date -u +%F)"

"$fathom" calibrate -m "$model" --data "$calib" -o "$out/imatrix.gguf" -t "$threads"
models=() labels=()
for t in q4_0 q4_1 iq4_nl iq4_xs q4_k q5_0 q5_1 q5_k q6_k q8_0; do
    "$fathom" quantize "$model" "$out/$t.gguf" --type "$t" -t "$threads" > /dev/null
    models+=("$out/$t.gguf") labels+=("$t")
    if [[ $t != q8_0 ]]; then
        "$fathom" quantize "$model" "$out/$t-im.gguf" --type "$t" --imatrix "$out/imatrix.gguf" -t "$threads" > /dev/null
        models+=("$out/$t-im.gguf") labels+=("$t+imatrix")
    fi
    if [[ $t == q4_0 || $t == q4_k || $t == iq4_xs ]]; then
        "$fathom" quantize "$model" "$out/$t-awq.gguf" --type "$t" --imatrix "$out/imatrix.gguf" --awq -t "$threads" \
            > /dev/null
        models+=("$out/$t-awq.gguf") labels+=("$t+imatrix+awq")
    fi
done
first=1
for b in $budgets; do
    if [[ $first == 1 ]]; then
        "$fathom" quantize "$model" "$out/plan-$b.gguf" --plan auto --target-bpw "$b" --calib "$calib" \
            --calib-chunks "$plan_chunks" --imatrix "$out/imatrix.gguf" --plan-out "$out/plan.json" -t "$threads" > /dev/null
        first=0
    else
        "$fathom" quantize "$model" "$out/plan-$b.gguf" --plan auto --target-bpw "$b" --sensitivity "$out/plan.json" \
            --imatrix "$out/imatrix.gguf" -t "$threads" > /dev/null
    fi
    models+=("$out/plan-$b.gguf") labels+=("plan $b")
done

args=(-m "$model" --label reference)
for i in "${!models[@]}"; do args+=(-m "${models[$i]}" --label "${labels[$i]}"); done
"$fathom" eval "${args[@]}" --ref "$model" --text "$held" --chunks "$chunks" --gen-text "$held" \
    --gen-items "$gen_items" -t "$threads" --sensitivity "$out/plan.json" --json "$out/curve.json" \
    --html "$out/curve.html" --title "Size against quality: $(basename "$model")"
/usr/bin/python3 - "$out/curve.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
ref = rows[0]
print("| model | bits/weight | PPL | PPL vs ref | KLD mean | top-1 % | BLEU-4 | BLEU vs ref |")
print("|---|---|---|---|---|---|---|---|")
b0 = ref["generation"]["bleu4"]
for r in rows:
    p, g = r["perplexity"], r["generation"]
    q = p.get("reference", {})
    print(f"| {r['model']['label']} | {r['model']['bits_per_weight']:.3f} | {p['ppl']:.3f} | "
          f"{q.get('ppl_change_pct', 0):+.2f} % | {q.get('kld_mean', 0):.5f} | {100 * q.get('top1_agreement', 1):.2f} | "
          f"{100 * g['bleu4']:.2f} | {100 * (g['bleu4'] / b0 - 1) if b0 else 0:+.2f} % |")
PY

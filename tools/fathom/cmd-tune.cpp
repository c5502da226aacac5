// `fathom tune -m BASE --data FILE... -o ADAPTER`: LoRA fine-tuning on a frozen base model.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.h"

namespace fathom_cli {

namespace {

const char* const k_usage =
    "fathom tune -m BASE --data FILE [--data FILE] -o ADAPTER.gguf [--val FILE] [--rank R] [--alpha A] "
    "[--targets q,k,v,o,gate,up,down] [--steps N] [-b N] [--seq-len N] [--grad-accum N] [--lr X] [--warmup N] "
    "[--seed N] [-t N]";

void check(fathom_status s) {
    if (s != FATHOM_OK) throw cli_error(fathom_last_error());
}

struct progress_state {
    bool tty = false;
};

void on_progress(const fathom_train_progress* p, void* user) {
    const progress_state* st = static_cast<const progress_state*>(user);
    const bool last = p->step == p->total_steps;
    if (!st->tty && !(p->step == 1 || last || p->step % 10 == 0 || !std::isnan(p->val_loss))) return;
    std::string val = std::isnan(p->val_loss) ? "" : "  val " + format_fixed(p->val_loss, 4);
    std::fprintf(stderr, "%sstep %lld/%lld  loss %.4f%s  lr %.2e  %.0f tok/s%s", st->tty ? "\r" : "",
                 static_cast<long long>(p->step), static_cast<long long>(p->total_steps), double(p->loss), val.c_str(),
                 double(p->lr), p->tokens_per_s, st->tty && !last ? "   " : "\n");
    std::fflush(stderr);
}

}  // namespace

int cmd_tune(int argc, char** argv) {
    std::string base, out, targets, field = "text";
    std::vector<std::string> data, val;
    int32_t rank = 8, threads = 0;
    float alpha = 16.0f, lr = 1e-3f, val_fraction = 0.1f;
    int64_t steps = 200, batch = 4, seq_len = 128, accum = 1, warmup = 10;
    uint64_t seed = 1;
    arg_parser ap(k_usage,
                  "Trains a LoRA adapter on a frozen base model and writes it as a LoRA GGUF (for 'fathom run --lora' "
                  "and llama.cpp). The base may be F32, F16, BF16 or quantised (QLoRA-style: it stays quantised). "
                  "Training files are .jsonl (one {\"text\": ...} per line) or plain text with blank-line separated "
                  "documents, tokenized with the base's own tokenizer. Prints the validation loss of the base and of "
                  "the base with the adapter.");
    ap.option("-m,--model", "BASE", "base model file or folder (required)", &base);
    ap.option("--data", "FILE", "training file (repeatable; at least one)", &data);
    ap.option("--val", "FILE", "validation file (repeatable); default: --val-fraction of the documents", &val);
    ap.option("--val-fraction", "F", "documents held out for validation without --val; default 0.1", &val_fraction);
    ap.option("--text-field", "NAME", "JSONL field holding the text; default text", &field);
    ap.option("-o,--out", "FILE", "adapter GGUF to write (required)", &out);
    ap.option("--rank", "R", "adapter rank; default 8", &rank);
    ap.option("--alpha", "A", "LoRA alpha (the update is scaled by alpha / rank); default 16", &alpha);
    ap.option("--targets", "LIST", "weights to adapt, of q,k,v,o,gate,up,down; default all", &targets);
    ap.option("--steps", "N", "optimizer steps; default 200", &steps);
    ap.option("-b,--batch-size", "N", "sequences per step; default 4", &batch);
    ap.option("--seq-len", "N", "tokens per sequence; default 128", &seq_len);
    ap.option("--grad-accum", "N", "micro-batches per step; default 1", &accum);
    ap.option("--lr", "X", "peak learning rate (warmup, then cosine to lr/10); default 1e-3", &lr);
    ap.option("--warmup", "N", "warmup steps; default 10", &warmup);
    ap.option("--seed", "N", "seed of the adapter init, split and batches; default 1", &seed);
    ap.option("-t,--threads", "N", "threads; default physical cores", &threads);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (base.empty()) throw ap.error("-m BASE is required");
    if (data.empty()) throw ap.error("--data FILE is required");
    if (out.empty()) throw ap.error("-o ADAPTER is required");

    std::vector<const char*> dp, vp;
    for (const auto& d : data) dp.push_back(d.c_str());
    for (const auto& v : val) vp.push_back(v.c_str());
    fathom_tune_options o;
    fathom_tune_options_init(&o);
    o.base = base.c_str();
    o.data = dp.data();
    o.n_data = int32_t(dp.size());
    o.val_data = vp.empty() ? nullptr : vp.data();
    o.n_val_data = int32_t(vp.size());
    o.val_fraction = val_fraction;
    o.text_field = field.c_str();
    o.out_path = out.c_str();
    o.rank = rank;
    o.alpha = alpha;
    o.targets = targets.empty() ? nullptr : targets.c_str();
    o.steps = steps;
    o.batch_size = batch;
    o.seq_len = seq_len;
    o.grad_accum = accum;
    o.lr = lr;
    o.warmup = warmup;
    o.seed = seed;
    o.n_threads = threads;
    progress_state st;
    st.tty = isatty(STDERR_FILENO) != 0;
    o.progress = on_progress;
    o.progress_user_data = &st;
    fathom_tune_result r;
    r.struct_size = sizeof r;
    check(fathom_tune(&o, &r));
    std::printf("validation loss: base %.4f (ppl %.2f) -> with adapter %.4f (ppl %.2f)\n", r.val_loss_before,
                std::exp(r.val_loss_before), r.val_loss_after, std::exp(r.val_loss_after));
    std::printf("adapter: %s, %lld parameters, %.2f MiB (%.2f %% of the base's %.2f MiB); %lld training and %lld "
                "validation tokens\n",
                out.c_str(), static_cast<long long>(r.adapter_params), double(r.adapter_bytes) / 1048576.0,
                r.base_bytes ? 100.0 * double(r.adapter_bytes) / double(r.base_bytes) : 0.0,
                double(r.base_bytes) / 1048576.0, static_cast<long long>(r.train_tokens),
                static_cast<long long>(r.val_tokens));
    return 0;
}

}  // namespace fathom_cli

// C entry point for LoRA fine-tuning (fathom_tune).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "api/c-api-internal.h"
#include "core/error.h"
#include "fathom/fathom.h"
#include "train/tune.h"

using namespace fathom;
using namespace fathom::capi;

namespace {

const char* const k_fn = "fathom_tune";

std::vector<std::string> list(const char* const* items, int32_t n, const char* field) {
    if (n < 0) fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": " + field + ": negative count");
    if (n > 0 && !items) fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": " + field + " is NULL");
    std::vector<std::string> out;
    for (int32_t i = 0; i < n; ++i) {
        if (!items[i]) fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": " + field + "[" + std::to_string(i) + "] is NULL");
        out.emplace_back(items[i]);
    }
    return out;
}

}  // namespace

extern "C" void fathom_tune_options_init(fathom_tune_options* opts) {
    if (!opts) return;
    *opts = fathom_tune_options{};
    opts->struct_size = sizeof *opts;
    opts->val_fraction = 0.1;
    opts->rank = 8;
    opts->alpha = 16.0f;
    opts->steps = 200;
    opts->batch_size = 4;
    opts->seq_len = 128;
    opts->grad_accum = 1;
    opts->lr = 1e-3;
    opts->warmup = 10;
    opts->weight_decay = 0.0;
    opts->grad_clip = 1.0;
    opts->seed = 1;
}

extern "C" fathom_status fathom_tune(const fathom_tune_options* opts, fathom_tune_result* result) {
    return guarded([&] {
        require(opts, k_fn, "opts");
        fathom_tune_options o;
        fathom_tune_options_init(&o);
        read_struct(opts, &o, sizeof o, k_fn, "fathom_tune_options");
        require(o.base, k_fn, "base");
        require(o.out_path, k_fn, "out_path");
        train::tune_params p;
        p.base = o.base;
        p.data = list(o.data, o.n_data, "data");
        if (p.data.empty()) fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": data: no training files");
        p.val_data = list(o.val_data, o.n_val_data, "val_data");
        p.val_fraction = o.val_fraction;
        if (o.text_field) p.text_field = o.text_field;
        p.out = o.out_path;
        p.lora.rank = o.rank;
        p.lora.alpha = o.alpha;
        if (o.targets) {
            p.lora.targets.clear();
            std::string t = o.targets;
            size_t b = 0;
            while (b <= t.size()) {
                size_t e = t.find(',', b);
                if (e == std::string::npos) e = t.size();
                p.lora.targets.push_back(t.substr(b, e - b));
                b = e + 1;
            }
        }
        p.steps = o.steps;
        p.batch_size = o.batch_size;
        p.seq_len = o.seq_len;
        p.grad_accum = o.grad_accum;
        p.lr = o.lr;
        p.warmup = o.warmup;
        p.weight_decay = o.weight_decay;
        p.grad_clip = o.grad_clip;
        p.seed = o.seed;
        if (o.n_threads < 0) fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": n_threads is negative");
        p.n_threads = o.n_threads;
        if (o.progress) {
            p.on_step = [&](int64_t step, int64_t steps, double loss, double val, double lr, double tps) {
                fathom_train_progress c{};
                c.struct_size = sizeof c;
                c.step = step;
                c.total_steps = steps;
                c.loss = float(loss);
                c.val_loss = float(val);
                c.lr = float(lr);
                c.grad_norm = NAN;
                c.tokens_per_s = tps;
                c.logged = 1;
                c.out_dir = o.out_path;
                o.progress(&c, o.progress_user_data);
            };
        }
        const train::tune_result r = train::run_tune(p);
        if (result) {
            fathom_tune_result out{};
            out.struct_size = sizeof out;
            out.val_loss_before = r.val_loss_before;
            out.val_loss_after = r.val_loss_after;
            out.train_tokens = r.train_tokens;
            out.val_tokens = r.val_tokens;
            out.adapter_params = r.adapter_params;
            out.adapter_bytes = r.adapter_bytes;
            out.base_bytes = r.base_bytes;
            write_struct(result, &out, sizeof out, k_fn, "fathom_tune_result");
        }
    });
}

// C entry point for training a model from a JSON run configuration (fathom_train).
#include <cmath>
#include <cstdio>
#include <string>

#include "api/c-api-internal.h"
#include "core/error.h"
#include "fathom/fathom.h"
#include "train/trainer.h"

using namespace fathom;
using namespace fathom::capi;

namespace {

const char* const k_fn = "fathom_train";

}  // namespace

extern "C" void fathom_train_options_init(fathom_train_options* opts) {
    if (!opts) return;
    *opts = fathom_train_options{};
    opts->struct_size = sizeof *opts;
    opts->config_path = nullptr;
    opts->n_threads = 0;
    opts->resume = 0;
    opts->progress = nullptr;
    opts->progress_user_data = nullptr;
    opts->stop_after = 0;
    opts->should_stop = nullptr;
}

extern "C" fathom_status fathom_train(const fathom_train_options* opts) {
    return guarded([&] {
        require(opts, k_fn, "opts");
        fathom_train_options o;
        fathom_train_options_init(&o);
        read_struct(opts, &o, sizeof o, k_fn, "fathom_train_options");
        require(o.config_path, k_fn, "config_path");
        if (!*o.config_path) fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": config_path is empty");
        if (o.n_threads < 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": n_threads " + std::to_string(o.n_threads) +
                                                  " is negative");
        if (o.stop_after < 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": stop_after " + std::to_string(o.stop_after) +
                                                  " is negative");

        const train::run_config cfg = train::load_run_config(o.config_path);
        train::run_options ro;
        ro.n_threads = o.n_threads;
        ro.resume = o.resume != 0;
        ro.stop_after = o.stop_after;
        if (o.progress) {
            ro.on_progress = [&](const train::progress& p) {
                fathom_train_progress c{};
                c.struct_size = sizeof c;
                c.step = p.step;
                c.total_steps = p.total_steps;
                c.loss = p.loss;
                c.val_loss = float(p.val_loss);
                c.lr = float(p.lr);
                c.grad_norm = float(p.grad_norm);
                c.tokens_per_s = p.tokens_per_s;
                c.elapsed_s = p.elapsed_s;
                c.eta_s = p.eta_s;
                c.logged = p.logged ? 1 : 0;
                c.out_dir = cfg.out.c_str();
                o.progress(&c, o.progress_user_data);
            };
        }
        if (o.should_stop) ro.should_stop = [&] { return o.should_stop(o.progress_user_data) != 0; };
        const train::run_result r = train::run_training(cfg, ro);
        char line[512];
        if (r.model_path.empty())
            std::snprintf(line, sizeof line, "train: stopped after step %lld; checkpoint %s",
                          static_cast<long long>(r.step), r.checkpoint_path.c_str());
        else
            std::snprintf(line, sizeof line, "train: %lld steps, loss %.4f, val loss %.4f; model %s",
                          static_cast<long long>(r.step), double(r.train_loss), r.val_loss, r.model_path.c_str());
        capi::log(FATHOM_LOG_INFO, line);
    });
}

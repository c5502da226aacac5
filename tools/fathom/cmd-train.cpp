// `fathom train --config FILE`: trains a model from a JSON run configuration, with a progress bar on a terminal.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "cli.h"
#include "fathom/fathom.h"

namespace fathom_cli {

namespace {

const char* const k_usage = "fathom train --config FILE [--resume] [-t N] [--stop-after N]";

const char* const k_description =
    "Trains a Llama-family model on token shards (from 'fathom data prepare') as the JSON config says, and writes "
    "OUT/log.jsonl, OUT/checkpoint.gguf and OUT/model.gguf (loadable by 'fathom run -m'). Config keys (relative paths "
    "are relative to the config file):\n"
    "  model            {n_ctx, n_embd, n_layer, n_head, n_head_kv, n_ff, norm_eps, rope_theta, tie_embeddings}\n"
    "                   a new model (n_vocab from the tokenizer); or\n"
    "  init_from        a model file to continue training\n"
    "  tokenizer        GGUF with tokenizer metadata (e.g. from 'fathom tokenizer train')\n"
    "  train_data       shard files or folders of *.bin;   val_data  likewise (optional)\n"
    "  batch_size, seq_len, grad_accum (1), steps, out      (required but grad_accum)\n"
    "  lr (1e-3), min_lr (lr/10), warmup (0), weight_decay (0.1), beta1 (0.9), beta2 (0.95), eps (1e-8),\n"
    "  grad_clip (1.0, 0 = off), seed (1), threads (0 = cores), eval_every (0 = at the end), eval_batches (8),\n"
    "  checkpoint_every (0 = at the end), log_every (10), name (general.name), resume (false)";

void check(fathom_status s) {
    if (s != FATHOM_OK) throw cli_error(fathom_last_error());
}

std::string format_duration(double s) {
    if (!std::isfinite(s) || s < 0) return "?";
    const long long t = static_cast<long long>(s + 0.5);
    char buf[32];
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%llds", t);
    return buf;
}

struct display {
    bool tty = false;
    bool drawn = false;                // a bar line is on screen (needs a newline before other output)
    std::chrono::steady_clock::time_point last_draw{};
    float last_val = NAN;              // latest validation loss
    int64_t step = 0, total = 0;
    std::string out_dir;

    void bar(const fathom_train_progress* p) {
        const int width = 24;
        const int fill = p->total_steps > 0 ? int(double(width) * double(p->step) / double(p->total_steps)) : 0;
        std::string b(size_t(fill), '=');
        if (fill < width) b += '>';
        b.resize(size_t(width), ' ');
        std::string val = std::isnan(last_val) ? "-" : format_fixed(last_val, 4);
        std::fprintf(stderr, "\r[%s] %lld/%lld  loss %.4f  val %s  %s tok/s  ETA %s   ", b.c_str(),
                     static_cast<long long>(p->step), static_cast<long long>(p->total_steps), double(p->loss),
                     val.c_str(), format_count(p->tokens_per_s).c_str(), format_duration(p->eta_s).c_str());
        std::fflush(stderr);
        drawn = true;
    }

    void on(const fathom_train_progress* p) {
        step = p->step;
        total = p->total_steps;
        out_dir = p->out_dir ? p->out_dir : "";
        if (!std::isnan(p->val_loss)) last_val = p->val_loss;
        if (tty) {
            const auto now = std::chrono::steady_clock::now();
            if (p->step == p->total_steps || !std::isnan(p->val_loss) || now - last_draw > std::chrono::milliseconds(100)) {
                bar(p);
                last_draw = now;
            }
            return;
        }
        if (p->logged)
            std::fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.3g  grad_norm %.3f  %.0f tok/s  elapsed %s  ETA %s\n",
                         static_cast<long long>(p->step), static_cast<long long>(p->total_steps), double(p->loss),
                         double(p->lr), double(p->grad_norm), p->tokens_per_s, format_duration(p->elapsed_s).c_str(),
                         format_duration(p->eta_s).c_str());
        if (!std::isnan(p->val_loss))
            std::fprintf(stderr, "step %lld/%lld  val_loss %.4f  val_ppl %.2f\n", static_cast<long long>(p->step),
                         static_cast<long long>(p->total_steps), double(p->val_loss), std::exp(double(p->val_loss)));
    }

    void end_line() {
        if (drawn) std::fputc('\n', stderr);
        drawn = false;
    }
};

void on_progress(const fathom_train_progress* p, void* user) { static_cast<display*>(user)->on(p); }

// Ctrl-C (SIGINT) or SIGTERM: the step in flight finishes, a checkpoint is written and the command exits 130.
// The handlers reset themselves, so a second signal ends the process at once.
volatile sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }
int32_t should_stop(void*) { return g_interrupted ? 1 : 0; }

struct signal_guard {
    struct sigaction old_int {}, old_term {};
    signal_guard() {
        g_interrupted = 0;
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }
    ~signal_guard() {
        sigaction(SIGINT, &old_int, nullptr);
        sigaction(SIGTERM, &old_term, nullptr);
    }
    signal_guard(const signal_guard&) = delete;
    signal_guard& operator=(const signal_guard&) = delete;
};

}  // namespace

int cmd_train(int argc, char** argv) {
    std::string config;
    bool resume = false;
    int32_t n_threads = 0;
    int64_t stop_after = 0;
    arg_parser ap(k_usage, k_description);
    ap.option("-c,--config", "FILE", "JSON run configuration (required)", &config);
    ap.flag("--resume", "continue from OUT/checkpoint.gguf (same losses as an uninterrupted run)", &resume);
    ap.option("-t,--threads", "N", "threads; default the config's threads (0 = physical cores)", &n_threads);
    ap.option("--stop-after", "N", "stop after step N, writing a checkpoint (resume later with --resume)", &stop_after);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (config.empty()) throw ap.error("missing --config FILE");
    if (n_threads < 0) throw ap.error("-t: " + std::to_string(n_threads) + " is negative");
    if (stop_after < 0) throw ap.error("--stop-after: " + std::to_string(stop_after) + " is negative");

    display d;
    d.tty = ::isatty(2) == 1;
    fathom_train_options o;
    fathom_train_options_init(&o);
    o.config_path = config.c_str();
    o.n_threads = n_threads;
    o.resume = resume ? 1 : 0;
    o.stop_after = stop_after;
    o.progress = on_progress;
    o.progress_user_data = &d;
    o.should_stop = should_stop;
    fathom_status s;
    {
        signal_guard guard;
        s = fathom_train(&o);
    }
    d.end_line();
    check(s);

    if (d.total == 0) {  // a resumed run that was already complete
        std::printf("nothing left to train (the checkpoint is at the last step)\n");
        return 0;
    }
    const std::string sep = d.out_dir.empty() || d.out_dir.back() == '/' ? "" : "/";
    if (d.step < d.total) {
        std::printf("%s after step %lld of %lld; checkpoint: %s%scheckpoint.gguf (continue with --resume)\n",
                    g_interrupted ? "interrupted" : "stopped", static_cast<long long>(d.step),
                    static_cast<long long>(d.total), d.out_dir.c_str(), sep.c_str());
        return g_interrupted ? 130 : 0;
    }
    if (!std::isnan(d.last_val))
        std::printf("final validation loss %.4f, perplexity %.2f\n", double(d.last_val), std::exp(double(d.last_val)));
    else
        std::printf("no validation data\n");
    if (!d.out_dir.empty()) std::printf("model: %s%smodel.gguf\n", d.out_dir.c_str(), sep.c_str());
    return 0;
}

}  // namespace fathom_cli

// `fathom bench`: llama-bench-style whole-model speed test (prefill of p tokens, then n single-token decodes).
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

namespace {

struct series {
    std::string name;  // "pp512", "tg128"
    int64_t n_prompt = 0, n_gen = 0;
    std::vector<double> ns;  // wall time per run
    std::vector<double> ts;  // tokens per second per run

    double mean() const {
        double s = 0;
        for (double x : ts) s += x;
        return ts.empty() ? 0.0 : s / double(ts.size());
    }
    double sd() const {  // sample standard deviation, as llama-bench reports
        if (ts.size() < 2) return 0.0;
        const double m = mean();
        double s = 0;
        for (double x : ts) s += (x - m) * (x - m);
        return std::sqrt(s / double(ts.size() - 1));
    }
};

uint64_t peak_rss_bytes() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return uint64_t(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

// Deterministic token ids in [0, n_vocab) (splitmix64).
struct token_source {
    uint64_t state = 0x5eed;
    int32_t next(int64_t n_vocab) {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return int32_t((z ^ (z >> 31)) % uint64_t(n_vocab));
    }
};

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int cmd_bench(int argc, char** argv) {
    std::string model_path;
    int64_t n_prompt = 512, n_gen = 128;
    int32_t threads = 0, reps = 5;
    bool json = false, no_warmup = false;
    arg_parser ap("fathom bench -m MODEL [-p 512] [-n 128] [-t N] [-r 5] [--json]",
                  "Each repetition starts a fresh sequence, runs a prefill of -p random tokens in one batch (timed),\n"
                  "then -n single-token decodes (timed). Reports tokens/s as mean +- sd over the repetitions.");
    ap.option("-m,--model", "MODEL", "GGUF file or Hugging Face folder (required)", &model_path);
    ap.option("-p,--n-prompt", "N", "prompt tokens per run; 0 = skip the prefill test (default 512)", &n_prompt);
    ap.option("-n,--n-gen", "N", "generated tokens per run; 0 = skip the decode test (default 128)", &n_gen);
    ap.option("-t,--threads", "N", "threads; 0 = physical cores (default 0)", &threads);
    ap.option("-r,--repetitions", "R", "runs to average (default 5)", &reps);
    ap.flag("--json", "print JSON instead of a Markdown table", &json);
    ap.flag("--no-warmup", "skip the untimed warm-up run", &no_warmup);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (model_path.empty()) throw ap.error("missing -m MODEL");
    if (n_prompt < 0 || n_gen < 0) throw ap.error("-p and -n must be >= 0");
    if (n_prompt == 0 && n_gen == 0) throw ap.error("-p and -n are both 0: nothing to measure");
    if (reps < 1) throw ap.error("-r: must be >= 1");
    if (threads < 0) throw ap.error("-t: must be >= 0");

    fathom::model m(model_path);
    const fathom_model_info info = m.info();
    if (n_prompt + n_gen > (int64_t(1) << 31) - 1) throw ap.error("-p + -n is too large");
    fathom_session_options so = fathom::default_session_options();
    so.n_ctx = n_prompt + n_gen;
    so.n_batch = n_prompt > 0 ? n_prompt : 1;
    so.n_threads = threads;
    fathom::session s(m, so);

    token_source src;
    std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
    std::vector<int32_t> one(1);
    auto run_once = [&](series* pp, series* tg, int64_t gen) {
        s.truncate(0, 0);
        if (n_prompt > 0) {
            for (auto& t : prompt) t = src.next(info.n_vocab);
            const double t0 = now_seconds();
            s.decode(prompt);
            const double dt = now_seconds() - t0;
            if (pp) {
                pp->ns.push_back(dt * 1e9);
                pp->ts.push_back(double(n_prompt) / dt);
            }
        }
        if (gen > 0) {
            const double t0 = now_seconds();
            for (int64_t i = 0; i < gen; ++i) {
                one[0] = src.next(info.n_vocab);
                s.decode(one);
            }
            const double dt = now_seconds() - t0;
            if (tg) {
                tg->ns.push_back(dt * 1e9);
                tg->ts.push_back(double(gen) / dt);
            }
        }
    };
    if (!no_warmup) run_once(nullptr, nullptr, n_gen > 0 ? 1 : 0);
    series pp{"pp" + std::to_string(n_prompt), n_prompt, 0, {}, {}};
    series tg{"tg" + std::to_string(n_gen), 0, n_gen, {}, {}};
    for (int32_t r = 0; r < reps; ++r) run_once(&pp, &tg, n_gen);
    const uint64_t rss = peak_rss_bytes();

    // Label like llama-bench's: "llama 1.1B F16", type = the type holding most tensor bytes.
    std::map<std::string, uint64_t> type_bytes;
    for (int64_t i = 0, n = m.tensor_count(); i < n; ++i) {
        const fathom_tensor_info t = m.tensor(i);
        type_bytes[t.type_name] += t.n_bytes;
    }
    std::string main_type;
    uint64_t most = 0;
    for (const auto& [t, b] : type_bytes)
        if (b > most) most = b, main_type = t;
    for (auto& c : main_type) c = char(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    const double np = double(info.n_params);
    const std::string size_class = np >= 1e9   ? format_fixed(np / 1e9, 1) + "B"
                                   : np >= 1e6 ? format_fixed(np / 1e6, 0) + "M"
                                               : format_fixed(np / 1e3, 0) + "K";
    const std::string label = std::string(info.architecture) + " " + size_class + " " + main_type;
    const std::string isa = fathom::isa_name();
    const int n_threads_used = s.n_threads();

    std::vector<const series*> tests;
    if (n_prompt > 0) tests.push_back(&pp);
    if (n_gen > 0) tests.push_back(&tg);

    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const series* t : tests) {
            out.push_back({{"model_filename", model_path},
                           {"model_type", label},
                           {"model_size", info.n_tensor_bytes},
                           {"model_n_params", info.n_params},
                           {"file_size", info.file_bytes},
                           {"backend", "CPU"},
                           {"isa", isa},
                           {"n_threads", n_threads_used},
                           {"test", t->name},
                           {"n_prompt", t->n_prompt},
                           {"n_gen", t->n_gen},
                           {"repetitions", reps},
                           {"avg_ts", t->mean()},
                           {"stddev_ts", t->sd()},
                           {"samples_ts", t->ts},
                           {"samples_ns", t->ns},
                           {"peak_rss_bytes", rss},
                           {"fathom_version", fathom::version()}});
        }
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("| model | size | params | backend | threads | test | t/s |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
    for (const series* t : tests)
        std::printf("| %s | %s | %s | CPU | %d | %s | %.2f ± %.2f |\n", label.c_str(),
                    format_bytes(info.n_tensor_bytes).c_str(), format_count(np).c_str(), n_threads_used,
                    t->name.c_str(), t->mean(), t->sd());
    std::printf("\nisa: %s, peak RSS: %s, repetitions: %d\n", isa.c_str(), format_bytes(rss).c_str(), reps);
    return 0;
}

}  // namespace fathom_cli

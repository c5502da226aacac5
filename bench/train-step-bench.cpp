// Training step benchmark: forward + backward of the trainable Llama decoder (train::train_model) at a given shape
// and batch, median of repetitions after one warm-up step; prints tokens/s. Pair with bench/train_step_torch.py
// (the same model and batch in PyTorch) through bench/run-train-bench.sh.
//   bench_train_step [--vocab V] [--ctx N] [--embd C] [--layers L] [--heads H] [--kv-heads K] [--ff F]
//                    [-b B] [-t T] [-r REPS] [--threads N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "train/model.h"

namespace {

using namespace fathom;

int64_t arg_int(int argc, char** argv, const char* name, int64_t def) {
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
    return def;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        train::train_config c;  // fathom-tiny's shape by default
        c.n_vocab = arg_int(argc, argv, "--vocab", 8192);
        c.n_ctx = arg_int(argc, argv, "--ctx", 512);
        c.n_embd = arg_int(argc, argv, "--embd", 384);
        c.n_layer = arg_int(argc, argv, "--layers", 6);
        c.n_head = arg_int(argc, argv, "--heads", 6);
        c.n_head_kv = arg_int(argc, argv, "--kv-heads", 2);
        c.n_ff = arg_int(argc, argv, "--ff", 1024);
        const int64_t b = arg_int(argc, argv, "-b", 8), t = arg_int(argc, argv, "-t", 256);
        const int reps = int(arg_int(argc, argv, "-r", 5));
        const int threads = int(arg_int(argc, argv, "--threads", 2));
        train::train_model m(c);
        m.init_random(1);
        std::vector<int32_t> tok(size_t(b * t)), tgt(size_t(b * t));
        for (size_t i = 0; i < tok.size(); ++i) {
            tok[i] = int32_t((i * 7919) % size_t(c.n_vocab));
            tgt[i] = int32_t((i * 104729 + 1) % size_t(c.n_vocab));
        }
        thread_pool pool(threads);
        std::vector<double> fwd, bwd;
        for (int r = 0; r <= reps; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            m.forward(pool, tok.data(), tgt.data(), b, t);
            const auto t1 = std::chrono::steady_clock::now();
            m.zero_grad();
            m.backward(pool);
            const auto t2 = std::chrono::steady_clock::now();
            if (r == 0) continue;  // warm-up
            fwd.push_back(std::chrono::duration<double>(t1 - t0).count());
            bwd.push_back(std::chrono::duration<double>(t2 - t1).count());
        }
        auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        std::vector<double> step(fwd.size());
        for (size_t i = 0; i < fwd.size(); ++i) step[i] = fwd[i] + bwd[i];
        const double s = median(step);
        std::printf("fathom  params %lld  batch %lldx%lld  threads %d  forward %.3f s  backward %.3f s  step %.3f s  "
                    "%.0f tokens/s\n",
                    static_cast<long long>(c.n_params()), static_cast<long long>(b), static_cast<long long>(t), threads,
                    median(fwd), median(bwd), s, double(b * t) / s);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_train_step: %s\n", e.what());
        return 1;
    }
}

// Token sampler: penalties, top-k, temperature softmax, top-p, min-p and a seeded draw (own PRNG, reproducible).
#pragma once
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fathom {

// xoshiro256** seeded through splitmix64: the same seed gives the same stream on every platform and libstdc++.
class xoshiro256 {
public:
    explicit xoshiro256(uint64_t seed = 0) { reseed(seed); }
    void reseed(uint64_t seed);
    uint64_t next();
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)

private:
    uint64_t s_[4];
};

constexpr uint64_t k_seed_random = ~uint64_t(0);  // ask for a seed from std::random_device and the clock

struct sampler_params {
    float temperature = 0.8f;       // <= 0: greedy
    int32_t top_k = 40;             // <= 0: off
    float top_p = 0.95f;            // >= 1: off
    float min_p = 0.05f;            // <= 0: off
    float repeat_penalty = 1.0f;    // 1: off
    float frequency_penalty = 0.0f;
    float presence_penalty = 0.0f;
    int32_t penalty_last_n = 64;    // 0: no penalties, -1: the whole history
    uint64_t seed = k_seed_random;
};

class sampler {
public:
    // Throws ERRC_INVALID_ARGUMENT for NaN/negative parameters that have no meaning (e.g. repeat_penalty <= 0).
    explicit sampler(const sampler_params& params);

    // Picks a token from n_vocab logits (not modified). Penalties use the accepted-token window.
    // Order: penalties, top-k, softmax(logits / T), top-p, min-p, draw. Temperature <= 0 returns the argmax.
    int32_t sample(const float* logits, int64_t n_vocab);
    // Records a token in the penalty window.
    void accept(int32_t token);
    // Clears the history and restarts the PRNG from the seed.
    void reset();

    uint64_t seed() const { return seed_; }
    const sampler_params& params() const { return params_; }

    // Applies the repetition/frequency/presence penalties in place to logits[0, n_vocab) (exposed for tests).
    void apply_penalties(float* logits, int64_t n_vocab) const;
    // The candidate set the draw would use, as (token, probability) pairs summing to 1 (exposed for tests;
    // uses the same code path as sample(), minus the draw). Temperature must be > 0.
    std::vector<std::pair<int32_t, double>> distribution(const float* logits, int64_t n_vocab);

private:
    struct cand {
        float logit;
        int32_t token;
        double w;  // unnormalised probability exp((logit - max) / T)
    };
    // Candidate order: higher logit first, then lower token id (strict, so every sort is deterministic).
    static bool better(const cand& a, const cand& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
    }
    const float* penalised(const float* logits, int64_t n_vocab);
    // Decides the kept set and returns its total weight. Either `dense_` (every token i with w_[i] >= dense_min_w_
    // is kept; no sort was needed) or the list cand_.
    double build_candidates(const float* logits, int64_t n_vocab);
    void top_p_cut(double target);  // keeps the smallest prefix of cand_ (in `better` order) reaching target

    sampler_params params_;
    uint64_t seed_;
    xoshiro256 rng_;
    std::deque<int32_t> history_;               // the window (bounded by penalty_last_n unless -1)
    std::unordered_map<int32_t, int32_t> counts_;  // occurrences of each token in the window
    std::vector<float> work_;                   // penalised copy of the logits
    std::vector<cand> cand_, sorted_;
    std::vector<float> w_;                      // dense weights exp((logit - max) / T)
    std::vector<uint32_t> bin_;                 // bucket of each candidate (top-p on large sets)
    bool dense_ = false;
    float dense_min_w_ = 0.0f;
};

}  // namespace fathom

// Token sampler: penalties over a window of accepted tokens, then top-k / temperature / top-p / min-p and a draw.
#include "runtime/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "core/error.h"

namespace fathom {

namespace {

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void check_param(bool ok, const char* name, double value, const char* rule) {
    if (!ok)
        fail(errc::ERRC_INVALID_ARGUMENT,
             std::string("sampler: ") + name + " " + rule + " (got " + std::to_string(value) + ")");
}

}  // namespace

void xoshiro256::reseed(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) s = splitmix64(x);
}

uint64_t xoshiro256::next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

sampler::sampler(const sampler_params& p) : params_(p) {
    check_param(!std::isnan(p.temperature), "temperature", p.temperature, "must be a number");
    check_param(!std::isnan(p.top_p), "top_p", p.top_p, "must be a number");
    check_param(!std::isnan(p.min_p) && p.min_p <= 1.0f, "min_p", p.min_p, "must be at most 1");
    check_param(p.repeat_penalty > 0.0f && std::isfinite(p.repeat_penalty), "repeat_penalty", p.repeat_penalty,
                "must be > 0");
    check_param(std::isfinite(p.frequency_penalty), "frequency_penalty", p.frequency_penalty, "must be finite");
    check_param(std::isfinite(p.presence_penalty), "presence_penalty", p.presence_penalty, "must be finite");
    check_param(p.penalty_last_n >= -1, "penalty_last_n", p.penalty_last_n, "must be >= -1");
    seed_ = p.seed;
    if (seed_ == k_seed_random) {
        std::random_device rd;
        uint64_t t = uint64_t(std::chrono::high_resolution_clock::now().time_since_epoch().count());
        seed_ = ((uint64_t(rd()) << 32) ^ uint64_t(rd()) ^ t) & 0x7fffffffffffffffull;
    }
    rng_.reseed(seed_);
}

void sampler::accept(int32_t token) {
    if (params_.penalty_last_n == 0) return;
    history_.push_back(token);
    ++counts_[token];
    if (params_.penalty_last_n > 0 && history_.size() > size_t(params_.penalty_last_n)) {
        int32_t old = history_.front();
        history_.pop_front();
        auto it = counts_.find(old);
        if (--it->second == 0) counts_.erase(it);
    }
}

void sampler::reset() {
    history_.clear();
    counts_.clear();
    rng_.reseed(seed_);
}

void sampler::apply_penalties(float* logits, int64_t n_vocab) const {
    const float rp = params_.repeat_penalty, fp = params_.frequency_penalty, pp = params_.presence_penalty;
    for (const auto& [token, count] : counts_) {
        if (token < 0 || token >= n_vocab) continue;
        float& l = logits[token];
        if (rp != 1.0f) l = l > 0.0f ? l / rp : l * rp;
        l -= float(count) * fp + (count > 0 ? pp : 0.0f);
    }
}

const float* sampler::penalised(const float* logits, int64_t n_vocab) {
    const bool active = params_.penalty_last_n != 0 && !counts_.empty() &&
                        (params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                         params_.presence_penalty != 0.0f);
    if (!active) return logits;
    work_.assign(logits, logits + n_vocab);
    apply_penalties(work_.data(), n_vocab);
    return work_.data();
}

double sampler::build_candidates(const float* l, int64_t n) {
    const double inv_t = 1.0 / double(params_.temperature);
    const double min_w = params_.min_p > 0.0f ? double(params_.min_p) : 0.0;  // w = p / p_max
    cand_.clear();
    double sum = 0.0;  // normaliser of the distribution top-p is measured against
    bool sorted = false;

    if (params_.top_k > 0 && params_.top_k < n) {
        // Heap-select the k best (min-heap on the order, so the worst kept candidate is on top).
        const size_t k = size_t(params_.top_k);
        auto worse = better_logit;
        for (int64_t i = 0; i < n; ++i) {
            if (std::isnan(l[i])) continue;
            cand c{l[i], int32_t(i), 0.0};
            if (cand_.size() < k) {
                cand_.push_back(c);
                std::push_heap(cand_.begin(), cand_.end(), worse);
            } else if (better_logit(c, cand_.front())) {
                std::pop_heap(cand_.begin(), cand_.end(), worse);
                cand_.back() = c;
                std::push_heap(cand_.begin(), cand_.end(), worse);
            }
        }
        std::sort(cand_.begin(), cand_.end(), better_logit);
        if (cand_.empty() || !(cand_[0].logit > -std::numeric_limits<float>::infinity())) return 0.0;
        const double mx = cand_[0].logit;
        for (auto& c : cand_) {
            c.w = std::exp((double(c.logit) - mx) * inv_t);
            sum += c.w;
        }
        sorted = true;
        // min-p: the kept set is a prefix of the sorted candidates (w_max = 1).
        size_t keep = 1;
        while (keep < cand_.size() && cand_[keep].w >= min_w && cand_[keep].w > 0.0) ++keep;
        cand_.resize(keep);
    } else {
        float mx = -std::numeric_limits<float>::infinity();
        int32_t arg = 0;
        for (int64_t i = 0; i < n; ++i)
            if (l[i] > mx) mx = l[i], arg = int32_t(i);
        if (!(mx > -std::numeric_limits<float>::infinity())) return 0.0;
        const float inv_tf = float(inv_t);
        for (int64_t i = 0; i < n; ++i) {
            const float w = std::exp((l[i] - mx) * inv_tf);
            if (!(w > 0.0f)) continue;  // underflow, -inf or NaN
            sum += double(w);
            if (double(w) >= min_w) cand_.push_back(cand{l[i], int32_t(i), double(w)});
        }
        if (cand_.empty()) cand_.push_back(cand{mx, arg, 1.0});
    }

    // top-p: keep the smallest prefix (by probability) whose mass reaches top_p of the total. Min-p and top-p both
    // keep prefixes of one order, so applying top-p to the min-p survivors gives their intersection.
    if (params_.top_p < 1.0f && cand_.size() > 1) {
        const double target = double(params_.top_p) * sum;
        size_t k = sorted ? cand_.size() : std::min<size_t>(cand_.size(), 64);
        for (;;) {
            if (!sorted)
                std::partial_sort(cand_.begin(), cand_.begin() + std::ptrdiff_t(k), cand_.end(),
                                  better_w);
            double cum = 0.0;
            size_t cut = 0;
            for (size_t j = 0; j < k; ++j) {
                cum += cand_[j].w;
                if (cum >= target) {
                    cut = j + 1;
                    break;
                }
            }
            if (cut) {
                cand_.resize(cut);
                break;
            }
            if (k == cand_.size()) break;
            k = std::min(cand_.size(), k * 8);
        }
    }
    double mass = 0.0;
    for (const auto& c : cand_) mass += c.w;
    return mass;
}

std::vector<std::pair<int32_t, double>> sampler::distribution(const float* logits, int64_t n_vocab) {
    if (!logits || n_vocab <= 0) fail(errc::ERRC_INVALID_ARGUMENT, "sampler: empty logits");
    if (!(params_.temperature > 0.0f)) fail(errc::ERRC_INVALID_ARGUMENT, "sampler: distribution needs temperature > 0");
    const double mass = build_candidates(penalised(logits, n_vocab), n_vocab);
    std::vector<std::pair<int32_t, double>> out;
    for (const auto& c : cand_) out.emplace_back(c.token, mass > 0.0 ? c.w / mass : 1.0 / double(cand_.size()));
    return out;
}

int32_t sampler::sample(const float* logits, int64_t n_vocab) {
    if (!logits) fail(errc::ERRC_INVALID_ARGUMENT, "sampler: logits is null");
    if (n_vocab <= 0 || n_vocab > std::numeric_limits<int32_t>::max())
        fail(errc::ERRC_INVALID_ARGUMENT, "sampler: n_vocab " + std::to_string(n_vocab) + " is out of range");
    const float* l = penalised(logits, n_vocab);
    if (!(params_.temperature > 0.0f)) {
        int32_t best = 0;
        for (int64_t i = 1; i < n_vocab; ++i)
            if (l[i] > l[best] || std::isnan(l[best])) best = int32_t(i);
        return best;
    }
    const double mass = build_candidates(l, n_vocab);
    if (cand_.empty()) return 0;  // every logit was -inf or NaN
    if (!(mass > 0.0)) return cand_[0].token;
    const double u = rng_.uniform() * mass;
    double cum = 0.0;
    for (const auto& c : cand_) {
        cum += c.w;
        if (u < cum) return c.token;
    }
    return cand_.back().token;
}

}  // namespace fathom

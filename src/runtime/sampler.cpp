// Token sampler: penalties over a window of accepted tokens, then top-k / temperature / top-p / min-p and a draw.
#include "runtime/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "core/error.h"
#include "kernels/kernels.h"

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
    constexpr float k_neg_inf = -std::numeric_limits<float>::infinity();
    const double inv_t = 1.0 / double(params_.temperature);
    const float min_w = params_.min_p > 0.0f ? params_.min_p : 0.0f;  // w = p / p_max, and w_max = 1
    cand_.clear();
    dense_ = false;

    if (params_.top_k > 0 && params_.top_k < n) {
        // Heap-select the k best: a heap whose front is the worst kept candidate. Scanning in token order, a later
        // token with an equal logit is never better, so once the heap is full a strict '>' test suffices.
        const size_t k = size_t(params_.top_k);
        int64_t i = 0;
        for (; i < n && cand_.size() < k; ++i) {
            if (std::isnan(l[i])) continue;
            cand_.push_back(cand{l[i], int32_t(i), 0.0});
            std::push_heap(cand_.begin(), cand_.end(), better);
        }
        float thr = cand_.empty() ? k_neg_inf : cand_.front().logit;
        for (; i < n; ++i) {
            if (l[i] > thr) {
                std::pop_heap(cand_.begin(), cand_.end(), better);
                cand_.back() = cand{l[i], int32_t(i), 0.0};
                std::push_heap(cand_.begin(), cand_.end(), better);
                thr = cand_.front().logit;
            }
        }
        std::sort(cand_.begin(), cand_.end(), better);
        if (cand_.empty() || !(cand_[0].logit > k_neg_inf)) return 0.0;
        const double mx = cand_[0].logit;
        double sum = 0.0;
        for (auto& c : cand_) {
            c.w = std::exp((double(c.logit) - mx) * inv_t);
            sum += c.w;
        }
        size_t keep = 1;  // min-p keeps a prefix of the sorted candidates
        while (keep < cand_.size() && cand_[keep].w >= double(min_w) && cand_[keep].w > 0.0) ++keep;
        cand_.resize(keep);
        if (params_.top_p < 1.0f) top_p_cut(double(params_.top_p) * sum);
    } else {
        // Whole vocabulary: weights with the vectorised kernels, then a cut without sorting where possible.
        const kernels::table& kt = kernels::active();
        w_.resize(size_t(n));
        float mx = kt.max_f32(l, n);
        double sum = 0.0;
        bool ok = mx > k_neg_inf && std::isfinite(mx);
        if (ok) {
            std::memcpy(w_.data(), l, size_t(n) * sizeof(float));
            kt.scale_f32(float(inv_t), w_.data(), n);
            ok = std::isfinite(kt.exp_sub_sum_f32(w_.data(), float(double(mx) * inv_t), w_.data(), n));
            if (ok) {  // re-add in double: the float sum drifts enough over 150k terms to move the top-p cut
                double acc[4] = {0.0, 0.0, 0.0, 0.0};
                int64_t i = 0;
                for (; i + 4 <= n; i += 4)
                    for (int j = 0; j < 4; ++j) acc[j] += double(w_[size_t(i + j)]);
                for (; i < n; ++i) acc[0] += double(w_[size_t(i)]);
                sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
                ok = sum > 0.0;
            }
        }
        if (!ok) {  // NaN or infinite logits: the careful scalar way (NaN weighs 0)
            mx = k_neg_inf;
            for (int64_t i = 0; i < n; ++i)
                if (l[i] > mx && std::isfinite(l[i])) mx = l[i];
            if (!(mx > k_neg_inf)) return 0.0;
            sum = 0.0;
            for (int64_t i = 0; i < n; ++i) {
                const double w = std::isfinite(l[i]) ? std::exp((double(l[i]) - mx) * inv_t) : 0.0;
                w_[size_t(i)] = float(w);
                sum += w;
            }
        }
        if (params_.top_p >= 1.0f) {
            dense_ = true;
            dense_min_w_ = min_w;
            if (min_w <= 0.0f) return sum;
            double mass = 0.0;
            for (int64_t i = 0; i < n; ++i)
                if (w_[size_t(i)] >= min_w) mass += double(w_[size_t(i)]);
            return mass;
        }
        for (int64_t i = 0; i < n; ++i) {
            const float w = w_[size_t(i)];
            if (w >= min_w && w > 0.0f) cand_.push_back(cand{l[i], int32_t(i), double(w)});
        }
        top_p_cut(double(params_.top_p) * sum);
    }
    double mass = 0.0;
    for (const auto& c : cand_) mass += c.w;
    return mass;
}

// Keeps the smallest prefix of cand_ in `better` order whose weight reaches target (all of it if none does).
// Min-p and top-p both keep prefixes of that order, so cutting the min-p survivors gives their intersection.
// Large sets are bucketed by logit first, so only the bucket holding the cut is sorted.
void sampler::top_p_cut(double target) {
    if (cand_.size() <= 1) return;
    auto walk = [&](std::vector<cand>& v, size_t begin, size_t end, double& cum) -> size_t {  // cut index or 0
        for (size_t j = begin; j < end; ++j) {
            cum += v[j].w;
            if (cum >= target) return j + 1;
        }
        return 0;
    };
    double cum = 0.0;
    if (cand_.size() <= 2048) {
        std::sort(cand_.begin(), cand_.end(), better);
        if (size_t cut = walk(cand_, 0, cand_.size(), cum)) cand_.resize(cut);
        return;
    }
    float hi = cand_[0].logit, lo = cand_[0].logit;
    for (const auto& c : cand_) hi = std::max(hi, c.logit), lo = std::min(lo, c.logit);
    constexpr size_t k_bins = 4096;
    const double scale = hi > lo ? double(k_bins) / (double(hi) - double(lo)) : 0.0;
    std::vector<size_t> start(k_bins + 1, 0);
    std::vector<double> bin_mass(k_bins, 0.0);
    bin_.resize(cand_.size());
    for (size_t j = 0; j < cand_.size(); ++j) {  // bin 0 holds the highest logits
        const size_t b = std::min(k_bins - 1, size_t((double(hi) - double(cand_[j].logit)) * scale));
        bin_[j] = uint32_t(b);
        ++start[b + 1];
        bin_mass[b] += cand_[j].w;
    }
    for (size_t b = 0; b < k_bins; ++b) start[b + 1] += start[b];
    sorted_.resize(cand_.size());
    {
        std::vector<size_t> fill(start.begin(), start.end() - 1);
        for (size_t j = 0; j < cand_.size(); ++j) sorted_[fill[bin_[j]]++] = cand_[j];
    }
    size_t cut = sorted_.size();
    for (size_t b = 0; b < k_bins; ++b) {
        if (start[b] == start[b + 1]) continue;
        if (cum + bin_mass[b] < target) {  // the whole bucket is kept
            cum += bin_mass[b];
            continue;
        }
        std::sort(sorted_.begin() + std::ptrdiff_t(start[b]), sorted_.begin() + std::ptrdiff_t(start[b + 1]), better);
        if (size_t c = walk(sorted_, start[b], start[b + 1], cum)) {
            cut = c;
            break;
        }
    }
    sorted_.resize(cut);
    cand_.swap(sorted_);
}

std::vector<std::pair<int32_t, double>> sampler::distribution(const float* logits, int64_t n_vocab) {
    if (!logits || n_vocab <= 0) fail(errc::ERRC_INVALID_ARGUMENT, "sampler: empty logits");
    if (!(params_.temperature > 0.0f)) fail(errc::ERRC_INVALID_ARGUMENT, "sampler: distribution needs temperature > 0");
    const double mass = build_candidates(penalised(logits, n_vocab), n_vocab);
    std::vector<std::pair<int32_t, double>> out;
    if (dense_) {
        for (int64_t i = 0; i < n_vocab; ++i) {
            const float w = w_[size_t(i)];
            if (w >= dense_min_w_ && w > 0.0f) out.emplace_back(int32_t(i), double(w) / mass);
        }
        return out;
    }
    for (const auto& c : cand_) out.emplace_back(c.token, mass > 0.0 ? c.w / mass : 1.0 / double(cand_.size()));
    return out;
}

int32_t sampler::sample(const float* logits, int64_t n_vocab) {
    if (!logits) fail(errc::ERRC_INVALID_ARGUMENT, "sampler: logits is null");
    if (n_vocab <= 0 || n_vocab > std::numeric_limits<int32_t>::max())
        fail(errc::ERRC_INVALID_ARGUMENT, "sampler: n_vocab " + std::to_string(n_vocab) + " is out of range");
    const float* l = penalised(logits, n_vocab);
    if (!(params_.temperature > 0.0f)) {  // greedy: first index of the maximum
        const float mx = kernels::active().max_f32(l, n_vocab);
        for (int64_t i = 0; i < n_vocab; ++i)
            if (l[i] == mx) return int32_t(i);
        int32_t best = 0;  // NaNs confused the vector max: scalar scan ignoring them
        for (int64_t i = 1; i < n_vocab; ++i)
            if (l[i] > l[best] || std::isnan(l[best])) best = int32_t(i);
        return best;
    }
    const double mass = build_candidates(l, n_vocab);
    const double u = rng_.uniform() * mass;
    double cum = 0.0;
    if (dense_) {
        int32_t last = 0;
        for (int64_t i = 0; i < n_vocab; ++i) {
            const float w = w_[size_t(i)];
            if (!(w >= dense_min_w_ && w > 0.0f)) continue;
            cum += double(w);
            last = int32_t(i);
            if (u < cum) return last;
        }
        return last;
    }
    if (cand_.empty()) return 0;  // every logit was -inf or NaN
    if (!(mass > 0.0)) return cand_[0].token;
    for (const auto& c : cand_) {
        cum += c.w;
        if (u < cum) return c.token;
    }
    return cand_.back().token;
}

}  // namespace fathom

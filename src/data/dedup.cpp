// Duplicate detection for data preparation (see dedup.h): hashing, MinHash signatures and the LSH index.
#include "data/dedup.h"

#include <cmath>
#include <cstring>

namespace fathom::data {

uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

uint64_t hash_bytes(const void* data, size_t size, uint64_t seed) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    uint64_t h = mix64(seed ^ (uint64_t(size) * 0x9e3779b97f4a7c15ull));
    while (size >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
        p += 8;
        size -= 8;
    }
    if (size) {
        uint64_t w = 0;
        for (size_t i = 0; i < size; ++i) w |= uint64_t(p[i]) << (8 * i);
        h = mix64(h ^ w ^ 0x5bd1e9955bd1e995ull);
    }
    return mix64(h);
}

minhasher::minhasher(uint64_t seed) : seed_(seed) {
    uint64_t s = mix64(seed ^ 0x6d696e68617368ull);  // "minhash"
    for (int j = 0; j < k_minhash_size; ++j) {
        s += 0x9e3779b97f4a7c15ull;
        a_[j] = mix64(s) | 1;
        s += 0x9e3779b97f4a7c15ull;
        b_[j] = mix64(s);
    }
}

void minhasher::signature(std::string_view key, uint64_t* sig) const {
    for (int j = 0; j < k_minhash_size; ++j) sig[j] = UINT64_MAX;
    // Word hashes, then shingle hashes (order-sensitive combination of k_shingle_words word hashes).
    std::vector<uint64_t> words;
    size_t b = 0;
    while (b < key.size()) {
        size_t e = key.find(' ', b);
        if (e == std::string_view::npos) e = key.size();
        if (e > b) words.push_back(hash_bytes(key.data() + b, e - b, seed_));
        b = e + 1;
    }
    const auto update = [&](uint64_t x) {
        for (int j = 0; j < k_minhash_size; ++j) {
            const uint64_t v = a_[j] * x + b_[j];
            sig[j] = v < sig[j] ? v : sig[j];
        }
    };
    if (words.size() < size_t(k_shingle_words)) {
        for (uint64_t w : words) update(w);  // a set: repeated words give the same minimum
        return;
    }
    for (size_t i = 0; i + k_shingle_words <= words.size(); ++i) {
        uint64_t h = 0x7368696e676c65ull;  // "shingle"
        for (int k = 0; k < k_shingle_words; ++k) h = mix64(h ^ words[i + size_t(k)]) + uint64_t(k);
        update(h);
    }
}

double minhash_similarity(const uint64_t* a, const uint64_t* b) {
    int eq = 0;
    for (int j = 0; j < k_minhash_size; ++j) eq += a[j] == b[j];
    return double(eq) / double(k_minhash_size);
}

near_dup_index::near_dup_index(double threshold) : threshold_(threshold) {
    for (int r = 1; r <= k_minhash_size / 2; ++r) {
        const int b = k_minhash_size / r;
        const double p = 1.0 - std::pow(1.0 - std::pow(threshold, r), b);
        if (p >= 0.99) {
            rows_ = r;
            bands_ = b;
        }
    }
}

uint64_t near_dup_index::band_key(const uint64_t* sig, int band) const {
    return hash_bytes(sig + size_t(band) * size_t(rows_), size_t(rows_) * sizeof(uint64_t), uint64_t(band));
}

bool near_dup_index::contains_similar(const uint64_t* sig) {
    ++query_;
    for (int band = 0; band < bands_; ++band) {
        const auto it = buckets_.find(band_key(sig, band));
        if (it == buckets_.end()) continue;
        for (uint32_t id : it->second) {
            if (seen_[id] == query_) continue;
            seen_[id] = query_;
            if (minhash_similarity(sig, sigs_.data() + size_t(id) * k_minhash_size) >= threshold_) return true;
        }
    }
    return false;
}

void near_dup_index::insert(const uint64_t* sig) {
    const uint32_t id = uint32_t(size());
    sigs_.insert(sigs_.end(), sig, sig + k_minhash_size);
    seen_.push_back(0);
    for (int band = 0; band < bands_; ++band) buckets_[band_key(sig, band)].push_back(id);
}

}  // namespace fathom::data

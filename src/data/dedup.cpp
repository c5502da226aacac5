// Duplicate detection for data preparation (see dedup.h): hashing, MinHash signatures and the LSH index.
#include "data/dedup.h"

#include <cmath>
#include <cstring>

namespace fathom::data {

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
    // Word hashes, then shingle hashes (order-sensitive combination of k_shingle_words word hashes).
    std::vector<uint64_t> words;
    size_t b = 0;
    while (b < key.size()) {
        size_t e = key.find(' ', b);
        if (e == std::string_view::npos) e = key.size();
        if (e > b) words.push_back(hash_bytes(key.data() + b, e - b, seed_));
        b = e + 1;
    }
    std::vector<uint64_t> shingles;
    if (words.size() < size_t(k_shingle_words)) {
        shingles = words;  // a set: repeated words give the same minimum
    } else {
        shingles.resize(words.size() + 1 - k_shingle_words);
        for (size_t i = 0; i < shingles.size(); ++i) {
            uint64_t h = 0x7368696e676c65ull;  // "shingle"
            for (int k = 0; k < k_shingle_words; ++k) h = mix64(h ^ words[i + size_t(k)]) + uint64_t(k);
            shingles[i] = h;
        }
    }
    // Per hash function, the minimum over the shingles (four independent minima to shorten the dependency chain).
    const size_t n = shingles.size(), n4 = n & ~size_t(3);
    const uint64_t* x = shingles.data();
    for (int j = 0; j < k_minhash_size; ++j) {
        const uint64_t a = a_[j], c = b_[j];
        uint64_t m0 = UINT64_MAX, m1 = UINT64_MAX, m2 = UINT64_MAX, m3 = UINT64_MAX;
        for (size_t i = 0; i < n4; i += 4) {
            const uint64_t v0 = a * x[i] + c, v1 = a * x[i + 1] + c, v2 = a * x[i + 2] + c, v3 = a * x[i + 3] + c;
            m0 = v0 < m0 ? v0 : m0;
            m1 = v1 < m1 ? v1 : m1;
            m2 = v2 < m2 ? v2 : m2;
            m3 = v3 < m3 ? v3 : m3;
        }
        for (size_t i = n4; i < n; ++i) {
            const uint64_t v = a * x[i] + c;
            m0 = v < m0 ? v : m0;
        }
        m0 = m1 < m0 ? m1 : m0;
        m2 = m3 < m2 ? m3 : m2;
        sig[j] = m2 < m0 ? m2 : m0;
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

void near_dup_index::band_keys(const uint64_t* sig, uint64_t* keys) const {
    for (int band = 0; band < bands_; ++band)
        keys[band] = hash_bytes(sig + size_t(band) * size_t(rows_), size_t(rows_) * sizeof(uint64_t), uint64_t(band));
}

bool near_dup_index::contains_similar(const uint64_t* sig) {
    uint64_t keys[k_minhash_size];
    band_keys(sig, keys);
    return contains_similar(sig, keys);
}

void near_dup_index::insert(const uint64_t* sig) {
    uint64_t keys[k_minhash_size];
    band_keys(sig, keys);
    insert(sig, keys);
}

size_t near_dup_index::find_slot(uint64_t key) const {
    const size_t mask = slot_keys_.size() - 1;
    size_t i = size_t(mix64(key)) & mask;
    while (slot_heads_[i] != UINT32_MAX && slot_keys_[i] != key) i = (i + 1) & mask;
    return i;
}

void near_dup_index::grow() {
    std::vector<uint64_t> keys = std::move(slot_keys_);
    std::vector<uint32_t> heads = std::move(slot_heads_);
    const size_t size = keys.empty() ? size_t(1) << 12 : keys.size() * 2;
    slot_keys_.assign(size, 0);
    slot_heads_.assign(size, UINT32_MAX);
    for (size_t i = 0; i < keys.size(); ++i)
        if (heads[i] != UINT32_MAX) {
            const size_t j = find_slot(keys[i]);
            slot_keys_[j] = keys[i];
            slot_heads_[j] = heads[i];
        }
}

bool near_dup_index::contains_similar(const uint64_t* sig, const uint64_t* keys) {
    if (slot_keys_.empty()) return false;
    ++query_;
    for (int band = 0; band < bands_; ++band) {
        for (uint32_t e = slot_heads_[find_slot(keys[band])]; e != UINT32_MAX; e = entries_[e].next) {
            const uint32_t id = entries_[e].id;
            if (seen_[id] == query_) continue;
            seen_[id] = query_;
            if (minhash_similarity(sig, sigs_.data() + size_t(id) * k_minhash_size) >= threshold_) return true;
        }
    }
    return false;
}

void near_dup_index::insert(const uint64_t* sig, const uint64_t* keys) {
    const uint32_t id = uint32_t(size());
    sigs_.insert(sigs_.end(), sig, sig + k_minhash_size);
    seen_.push_back(0);
    for (int band = 0; band < bands_; ++band) {
        if (2 * (n_used_ + 1) > slot_keys_.size()) grow();
        const size_t i = find_slot(keys[band]);
        if (slot_heads_[i] == UINT32_MAX) {
            slot_keys_[i] = keys[band];
            ++n_used_;
        }
        entries_.push_back({id, slot_heads_[i]});
        slot_heads_[i] = uint32_t(entries_.size() - 1);
    }
}

}  // namespace fathom::data

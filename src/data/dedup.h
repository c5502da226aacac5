// Duplicate detection for data preparation: 64-bit text hashing, exact-duplicate keys, MinHash signatures over word
// 5-gram shingles and an LSH index that finds earlier documents above a Jaccard-similarity threshold.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace fathom::data {

// 64-bit hash of bytes (stable across runs and machines of the same byte order).
uint64_t hash_bytes(const void* data, size_t size, uint64_t seed);
// Bijective 64-bit mixer (the splitmix64 finaliser).
inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

constexpr int k_minhash_size = 128;  // hash functions per signature
constexpr int k_shingle_words = 5;   // words per shingle

// MinHash over the word 5-grams of a dedup_key() (words separated by single spaces); a text with fewer than 5 words
// uses its set of words. Signature entry j is the minimum over shingles s of a_j * h(s) + b_j (mod 2^64), with odd
// a_j and b_j drawn from the seed.
class minhasher {
public:
    explicit minhasher(uint64_t seed);
    // Fills sig[0 .. k_minhash_size). An empty key gives all entries UINT64_MAX.
    void signature(std::string_view key, uint64_t* sig) const;

private:
    uint64_t seed_;
    uint64_t a_[k_minhash_size], b_[k_minhash_size];
};

// Estimated Jaccard similarity: the fraction of equal entries.
double minhash_similarity(const uint64_t* a, const uint64_t* b);

// LSH banding over signatures: `bands` bands of `rows` entries; two documents are candidates when any band is
// equal. rows is the largest value for which a pair exactly at the threshold becomes a candidate with probability
// >= 0.99; candidates are then checked with minhash_similarity.
class near_dup_index {
public:
    explicit near_dup_index(double threshold);  // threshold in (0, 1]
    // True when an inserted signature has estimated similarity >= threshold.
    bool contains_similar(const uint64_t* sig);
    void insert(const uint64_t* sig);
    // The same with the band keys computed beforehand (band_keys fills bands() values; safe from any thread).
    void band_keys(const uint64_t* sig, uint64_t* keys) const;
    bool contains_similar(const uint64_t* sig, const uint64_t* keys);
    void insert(const uint64_t* sig, const uint64_t* keys);
    int rows() const { return rows_; }
    int bands() const { return bands_; }
    int64_t size() const { return int64_t(sigs_.size() / k_minhash_size); }

private:
    double threshold_;
    int rows_ = 1, bands_ = k_minhash_size;
    struct entry {
        uint32_t id;    // inserted signature
        uint32_t next;  // next entry of the same bucket, or UINT32_MAX
    };
    // Open-addressing table (linear probing, power-of-two size, at most half full): band key -> first entry of
    // its chain in entries_; an empty slot has head UINT32_MAX.
    size_t find_slot(uint64_t key) const;
    void grow();
    std::vector<uint64_t> slot_keys_;
    std::vector<uint32_t> slot_heads_;
    size_t n_used_ = 0;
    std::vector<uint64_t> sigs_;   // inserted signatures, k_minhash_size each
    std::vector<entry> entries_;
    std::vector<uint32_t> seen_;                           // per id: the query that last checked it
    uint32_t query_ = 0;
};

}  // namespace fathom::data

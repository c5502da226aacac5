// Tiled online-softmax attention over the F32 KV cache (see attention.h for the layout).
#include "nn/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "kernels/kernels.h"
#include "nn/matmul.h"

#if defined(FATHOM_HAVE_BLAS)
#include <cblas.h>
#endif

namespace fathom::nn {
namespace {

constexpr int64_t k_key_block = 128;       // keys per score block
constexpr int64_t k_tile_rows = 128;       // target query rows (tokens x group heads) per work item
// From this many query rows in a tile, block products go through sgemm (when built with BLAS): measured 1.8x
// faster than the kernel table's dot-product tiles for 512-token prefills (head_dim 64), which pay a horizontal
// sum per score. Decode tiles (one token's GQA group) stay on the kernel table.
constexpr int64_t k_blas_min_rows = 32;
constexpr int64_t k_min_split_keys = 256;  // never split a key range into chunks shorter than this

// One work item: query tokens [t0, t0+nt) of a sequence, one KV head, keys [k0, k1).
struct work_unit {
    int32_t seq;
    int32_t kvh;
    int64_t t0, nt;
    int64_t k0, k1;
    int64_t slot;  // partial-result slot, or -1 to write normalised output directly
};

// A (sequence, KV head, tile) whose key range was split over n_split consecutive partial slots.
struct merge_item {
    int32_t seq;
    int32_t kvh;
    int64_t t0, nt;
    int64_t slot0, n_split;
};

struct geometry {
    int64_t group, tile_tokens, max_rows, head_dim, n_ctx;
    size_t thread_floats() const {
        return size_t(max_rows) * size_t(3 * head_dim + 2 * k_key_block + 2);
    }
    size_t slot_floats() const { return size_t(max_rows) * size_t(head_dim + 2); }
};

// s (R x nk, row stride B) = qt (R x D) . K[j0 .. j0+nk)^T
void block_scores(const kernels::table& kt, bool blas, const float* k, int64_t nk, const float* qt, int64_t R,
                  int64_t D, float* s) {
#if defined(FATHOM_HAVE_BLAS)
    if (blas) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(R), int(nk), int(D), 1.0f, qt, int(D), k, int(D), 0.0f,
                    s, int(k_key_block));
        return;
    }
#endif
    (void)blas;
    kt.matmul_rows_f32(k, size_t(D) * sizeof(float), nk, qt, D, R, s, k_key_block, D);
}

// acc (R x D) += p (R x nk, row stride B) . V[j0 .. j0+nk), with V given transposed (vt rows of stride n_ctx).
void block_values(const kernels::table& kt, bool blas, const float* vt, int64_t n_ctx, int64_t nk, const float* p,
                  int64_t R, int64_t D, float* acc, float* tmp) {
#if defined(FATHOM_HAVE_BLAS)
    if (blas) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(R), int(D), int(nk), 1.0f, p, int(k_key_block), vt,
                    int(n_ctx), 1.0f, acc, int(D));
        return;
    }
#endif
    (void)blas;
    kt.matmul_rows_f32(vt, size_t(n_ctx) * sizeof(float), D, p, k_key_block, R, tmp, D, nk);
    kt.axpy_f32(1.0f, tmp, acc, R * D);
}

void run_unit(const kernels::table& kt, const geometry& g, const attention_seq& sq, const work_unit& u,
              const float* q, int64_t ldq, float* out, int64_t ldo, float* buf, float* partial) {
    const int64_t G = g.group, D = g.head_dim, R = u.nt * G, B = k_key_block;
    float* qt = buf;                   // (R, D) queries, pre-scaled
    float* s = qt + g.max_rows * D;    // (R, B) scores of one key block
    float* p = s + g.max_rows * B;     // (R, B) exp(score - running max), zero where masked
    float* acc = p + g.max_rows * B;   // (R, D) unnormalised output
    float* tmp = acc + g.max_rows * D; // (R, D) this block's p . V
    float* m = tmp + g.max_rows * D;   // (R) running max
    float* l = m + g.max_rows;         // (R) running sum

    const float scale = 1.0f / std::sqrt(float(D));
    for (int64_t i = 0; i < u.nt; ++i) {
        const float* src = q + int64_t(sq.rows[u.t0 + i]) * ldq + int64_t(u.kvh) * G * D;
        float* dst = qt + i * G * D;
        for (int64_t e = 0; e < G * D; ++e) dst[e] = src[e] * scale;
    }
    std::fill(acc, acc + R * D, 0.0f);
    std::fill(m, m + R, -std::numeric_limits<float>::infinity());
    std::fill(l, l + R, 0.0f);

    const float* k = sq.k + int64_t(u.kvh) * g.n_ctx * D;
    const float* vt = sq.vt + int64_t(u.kvh) * D * g.n_ctx;
    const int64_t pos_first = sq.pos0 + u.t0;  // position of the tile's first token
    const bool blas = R >= k_blas_min_rows;
    for (int64_t j0 = u.k0; j0 < u.k1; j0 += B) {
        const int64_t j1 = std::min(j0 + B, u.k1), nk = j1 - j0;
        block_scores(kt, blas, k + j0 * D, nk, qt, R, D, s);
        for (int64_t r = 0; r < R; ++r) {
            const int64_t pos = pos_first + r / G;
            const int64_t nv = std::min(j1, pos + 1) - j0;  // keys of this block visible to row r
            float* pr = p + r * B;
            if (nv <= 0) {
                std::memset(pr, 0, size_t(nk) * sizeof(float));
                continue;
            }
            const float* sr = s + r * B;
            const float m_new = std::max(m[r], kt.max_f32(sr, nv));
            const float alpha = std::exp(m[r] - m_new);  // 0 on the first visible block (m = -inf)
            const float sum = kt.exp_sub_sum_f32(sr, m_new, pr, nv);
            if (nv < nk) std::memset(pr + nv, 0, size_t(nk - nv) * sizeof(float));
            if (alpha != 1.0f) kt.scale_f32(alpha, acc + r * D, D);
            l[r] = l[r] * alpha + sum;
            m[r] = m_new;
        }
        block_values(kt, blas, vt + j0, g.n_ctx, nk, p, R, D, acc, tmp);
    }

    if (u.slot >= 0) {
        float* dst = partial + size_t(u.slot) * g.slot_floats();
        std::memcpy(dst, acc, size_t(R * D) * sizeof(float));
        std::memcpy(dst + g.max_rows * D, m, size_t(R) * sizeof(float));
        std::memcpy(dst + g.max_rows * D + g.max_rows, l, size_t(R) * sizeof(float));
        return;
    }
    for (int64_t r = 0; r < R; ++r) {
        float* o = out + int64_t(sq.rows[u.t0 + r / G]) * ldo + (int64_t(u.kvh) * G + r % G) * D;
        const float inv = 1.0f / l[r];  // l >= 1: key 0 is visible to every row
        const float* a = acc + r * D;
        for (int64_t e = 0; e < D; ++e) o[e] = a[e] * inv;
    }
}

void merge(const geometry& g, const attention_seq& sq, const merge_item& it, const float* partial, float* out,
           int64_t ldo) {
    const int64_t G = g.group, D = g.head_dim, R = it.nt * G;
    for (int64_t r = 0; r < R; ++r) {
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t c = 0; c < it.n_split; ++c) {
            const float* sl = partial + size_t(it.slot0 + c) * g.slot_floats();
            if (sl[g.max_rows * D + g.max_rows + r] > 0) mx = std::max(mx, sl[g.max_rows * D + r]);
        }
        float* o = out + int64_t(sq.rows[it.t0 + r / G]) * ldo + (int64_t(it.kvh) * G + r % G) * D;
        std::fill(o, o + D, 0.0f);
        float total = 0;
        for (int64_t c = 0; c < it.n_split; ++c) {
            const float* sl = partial + size_t(it.slot0 + c) * g.slot_floats();
            const float lc = sl[g.max_rows * D + g.max_rows + r];
            if (!(lc > 0)) continue;
            const float w = std::exp(sl[g.max_rows * D + r] - mx);
            total += lc * w;
            const float* a = sl + r * D;
            for (int64_t e = 0; e < D; ++e) o[e] += w * a[e];
        }
        const float inv = 1.0f / total;
        for (int64_t e = 0; e < D; ++e) o[e] *= inv;
    }
}

}  // namespace

void attention(thread_pool& pool, const attention_dims& d, const attention_seq* seqs, int64_t n_seqs, const float* q,
               int64_t ldq, float* out, int64_t ldo, attention_scratch& scratch) {
    const kernels::table& kt = kernels::active();
    blas_setup();  // sgemm runs inside our own threads, single-threaded, with the CPU's own kernels
    geometry g;
    g.group = d.n_head / d.n_head_kv;
    g.tile_tokens = std::max<int64_t>(1, k_tile_rows / g.group);
    g.max_rows = g.tile_tokens * g.group;
    g.head_dim = d.head_dim;
    g.n_ctx = d.n_ctx;
    const int n_threads = pool.size();

    // Work items, later tiles (more keys) first so the dynamic schedule ends with the short ones.
    int64_t n_base = 0, max_keys = 0;
    for (int64_t s = 0; s < n_seqs; ++s) {
        if (seqs[s].n_tok <= 0) continue;
        n_base += d.n_head_kv * ((seqs[s].n_tok + g.tile_tokens - 1) / g.tile_tokens);
        max_keys = std::max(max_keys, seqs[s].pos0 + seqs[s].n_tok);
    }
    if (n_base == 0) return;
    int64_t split = 1;  // key chunks per item, when items alone cannot keep the threads busy
    if (n_base < 2 * int64_t(n_threads))
        split = std::max<int64_t>(1, std::min((2 * n_threads + n_base - 1) / n_base, max_keys / k_min_split_keys));

    std::vector<work_unit> units;
    std::vector<merge_item> merges;
    units.reserve(size_t(n_base * split));
    int64_t n_slots = 0;
    for (int64_t s = 0; s < n_seqs; ++s) {
        const attention_seq& sq = seqs[s];
        if (sq.n_tok <= 0) continue;
        const int64_t n_tiles = (sq.n_tok + g.tile_tokens - 1) / g.tile_tokens;
        for (int64_t tile = n_tiles - 1; tile >= 0; --tile) {
            const int64_t t0 = tile * g.tile_tokens, nt = std::min(g.tile_tokens, sq.n_tok - t0);
            const int64_t n_keys = sq.pos0 + t0 + nt;  // keys visible to the tile's last token
            const int64_t n_split = std::max<int64_t>(1, std::min(split, n_keys / k_min_split_keys));
            for (int64_t h = 0; h < d.n_head_kv; ++h) {
                if (n_split == 1) {
                    units.push_back({int32_t(s), int32_t(h), t0, nt, 0, n_keys, -1});
                    continue;
                }
                int64_t chunk = (n_keys + n_split - 1) / n_split;
                chunk = (chunk + k_key_block - 1) / k_key_block * k_key_block;
                const int64_t slot0 = n_slots;
                for (int64_t k0 = 0; k0 < n_keys; k0 += chunk)
                    units.push_back({int32_t(s), int32_t(h), t0, nt, k0, std::min(n_keys, k0 + chunk), n_slots++});
                merges.push_back({int32_t(s), int32_t(h), t0, nt, slot0, n_slots - slot0});
            }
        }
    }

    if (scratch.per_thread.size() < size_t(n_threads)) scratch.per_thread.resize(size_t(n_threads));
    for (auto& b : scratch.per_thread)
        if (b.size() < g.thread_floats()) b.resize(g.thread_floats());
    if (scratch.partial.size() < size_t(n_slots) * g.slot_floats())
        scratch.partial.resize(size_t(n_slots) * g.slot_floats());
    float* partial = scratch.partial.data();

    pool.parallel_for(int64_t(units.size()), 1, [&](int64_t b, int64_t e, int t) {
        float* buf = scratch.per_thread[size_t(t)].data();
        for (int64_t i = b; i < e; ++i)
            run_unit(kt, g, seqs[units[size_t(i)].seq], units[size_t(i)], q, ldq, out, ldo, buf, partial);
    });
    if (!merges.empty()) {
        pool.parallel_for(int64_t(merges.size()), 1, [&](int64_t b, int64_t e, int) {
            for (int64_t i = b; i < e; ++i)
                merge(g, seqs[merges[size_t(i)].seq], merges[size_t(i)], partial, out, ldo);
        });
    }
}

}  // namespace fathom::nn

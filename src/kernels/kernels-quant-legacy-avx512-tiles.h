// Register tiles of the AVX-512 legacy quantised matmuls (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL x Q8_0/Q8_1), shared by
// kernels-quant-legacy-avx512.cpp (maddubs dot products) and kernels-quant-legacy-avx512-vnni.cpp (vpdpbusd).
// Everything here has internal linkage, so each including file gets its own copy compiled with its own ISA flags.
//
// Layout: one ZMM register holds one 32-element block of two weight rows, [row a | row b]; the activation block is
// broadcast to both halves. A tile is 2P rows x T tokens: per block, each row pair's codes are unpacked once and
// used for T tokens; each token's activation block once for P row pairs. The dot policy D supplies the integer
// block dot products (16 int32 lanes, lanes 0..7 summing to row a's, 8..15 to row b's), see the including files.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels {
namespace {
namespace ql512 {

using quant::QK;

inline uint64_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// OFFSET: unsigned codes, value = d * (code - offset); MIN: unsigned codes, value = d * code + m;
// SIGNED: signed codes, value = d * code.
enum class wkind { OFFSET, MIN, SIGNED };

// The weight codes of a row pair as the dot policy wants them (u: the unsigned operand; neg: SIGNED codes' signs
// where the policy needs them).
struct prepared {
    __m512i u;
    __mmask64 neg;
};

// 16 bytes of nibbles of rows a and b -> [a: elements 0..31 | b: elements 0..31]; elements 0..15 are the low
// nibbles, 16..31 the high ones. With HI16 the high nibbles are left in place (16 * code), which saves the shift;
// the tile then scales those lanes by 1/16 (exact) and the activation correction by 16.
template <bool HI16 = false>
inline __m512i nibbles2(const uint8_t* qa, const uint8_t* qb) {
    const __m512i v = _mm512_mask_broadcast_i32x4(_mm512_broadcast_i32x4(load128(qa)), 0xFF00, load128(qb));
    if constexpr (HI16) {  // 128-bit chunks 0 and 2 keep the low nibbles, 1 and 3 the high ones
        constexpr int64_t lo = 0x0F0F0F0F0F0F0F0F, hi = int64_t(0xF0F0F0F0F0F0F0F0);
        return _mm512_and_si512(v, _mm512_set_epi64(hi, hi, lo, lo, hi, hi, lo, lo));
    }
    // 128-bit chunks 1 and 3 (16-bit lanes 8..15 and 24..31) take the high nibbles.
    return _mm512_and_si512(_mm512_mask_srli_epi16(v, __mmask32(0xFF00FF00u), v, 4), _mm512_set1_epi8(0x0F));
}
// Adds 16 to the codes whose fifth bit is set (bit j of qh is element j's).
inline __m512i fifth2(__m512i nib, uint32_t qha, uint32_t qhb) {
    const __mmask64 k = _cvtu64_mask64(uint64_t(qha) | (uint64_t(qhb) << 32));
    return _mm512_mask_add_epi8(nib, k, nib, _mm512_set1_epi8(0x10));
}

struct w_q4_0 {
    static constexpr size_t bytes = sizeof(quant::block_q4_0);
    static constexpr wkind kind = wkind::OFFSET;
    static constexpr int offset = 8;
    static constexpr bool hi16_ok = true;
    template <bool HI16>
    static __m512i codes(const uint8_t* a, const uint8_t* b) { return nibbles2<HI16>(a + 2, b + 2); }
};
struct w_q4_1 {
    static constexpr size_t bytes = sizeof(quant::block_q4_1);
    static constexpr wkind kind = wkind::MIN;
    static constexpr int offset = 0;
    static constexpr bool hi16_ok = true;
    template <bool HI16>
    static __m512i codes(const uint8_t* a, const uint8_t* b) { return nibbles2<HI16>(a + 4, b + 4); }
};
struct w_q5_0 {
    static constexpr size_t bytes = sizeof(quant::block_q5_0);
    static constexpr wkind kind = wkind::OFFSET;
    static constexpr int offset = 16;
    static constexpr bool hi16_ok = false;
    template <bool>
    static __m512i codes(const uint8_t* a, const uint8_t* b) {
        return fifth2(nibbles2(a + 6, b + 6), load_u32(a + 2), load_u32(b + 2));
    }
};
struct w_q5_1 {
    static constexpr size_t bytes = sizeof(quant::block_q5_1);
    static constexpr wkind kind = wkind::MIN;
    static constexpr int offset = 0;
    static constexpr bool hi16_ok = false;
    template <bool>
    static __m512i codes(const uint8_t* a, const uint8_t* b) {
        return fifth2(nibbles2(a + 8, b + 8), load_u32(a + 4), load_u32(b + 4));
    }
};
struct w_q8_0 {
    static constexpr size_t bytes = sizeof(quant::block_q8_0);
    static constexpr wkind kind = wkind::SIGNED;
    static constexpr int offset = 0;
    static constexpr bool hi16_ok = false;
    template <bool>
    static __m512i codes(const uint8_t* a, const uint8_t* b) {
        return _mm512_mask_broadcast_i64x4(_mm512_broadcast_i64x4(load256(a + 2)), 0xF0, load256(b + 2));
    }
};
struct w_iq4_nl {
    static constexpr size_t bytes = sizeof(quant::block_iq4_nl);
    static constexpr wkind kind = wkind::SIGNED;
    static constexpr int offset = 0;
    static constexpr bool hi16_ok = false;
    template <bool>
    static __m512i codes(const uint8_t* a, const uint8_t* b) {
        const __m512i levels = _mm512_broadcast_i32x4(load128(reinterpret_cast<const uint8_t*>(quant::k_iq4nl)));
        return _mm512_shuffle_epi8(levels, nibbles2(a + 2, b + 2));
    }
};

// Sums of rows (a0|a1) and (b0|b1), each half of 8 lanes: -> [sum a0, sum a1, sum b0, sum b1].
inline __m128 reduce4(__m512 a, __m512 b) {
    __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));  // one row per 128-bit chunk
    s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_castps512_ps128(
        _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), s));
}

// y[0..k) (+)= v[0..k), k <= 4.
inline void store_rows(float* y, __m128 v, int k, bool add) {
    const __mmask8 m = __mmask8((1u << k) - 1u);
    if (add) v = _mm_add_ps(v, _mm_maskz_loadu_ps(m, y));
    _mm_mask_storeu_ps(y, m, v);
}

// Prefetching: while a row tile runs, it prefetches the next tile's rows into L2, block for block (about one
// prefetch per 64-byte line). One tile ahead is far enough to cover DRAM latency at any row length, and L2 holds it;
// the L1 streamer brings the current rows in from L2. Measured single-thread decode from DRAM rose from about 5 to
// 10-12 GB/s (next-tile T1 beat prefetching 1-8 KB ahead along the rows with T0 or T1).
struct pf_rows {
    const uint8_t* p = nullptr;  // first row to prefetch (null: none)
    int n = 0;                   // rows
};
// The tile after rows [r, r + tile) of n_rows.
inline pf_rows next_rows(const uint8_t* w, size_t rb, int64_t r, int tile, int64_t n_rows) {
    if (r + tile >= n_rows) return {};
    return {w + size_t(r + tile) * rb, int(std::min<int64_t>(tile, n_rows - r - tile))};
}
// Row pairs per decode tile (8 rows: the activation work and the scale conversion are shared by more rows).
constexpr int k_decode_pairs = 4;
// Row pairs per tile with more tokens (4 rows x 4 tokens: measured 5-10 % faster than 8 x 4, which spills).
constexpr int k_prefill_pairs = 2;
template <class W>
constexpr int64_t prefetch_every() { return W::bytes >= 64 ? 1 : int64_t(64 / W::bytes); }

// Activation blocks prepared once per call (per chunk of blocks and group of tokens) and shared by every row tile:
// entry e = block * group + token holds the F32 scale dx, the F32 block sum sx (Q8_1), and the integer correction
// lanes the dot policy adds to the block's products (see D::correction).
constexpr int k_prep_entries = 1024;
struct act_prep {
    alignas(64) int32_t corr[k_prep_entries][8];
    float dx[k_prep_entries];
    float sx[k_prep_entries];
};

inline float half_to_float(const uint8_t* p) { return _cvtsh_ss(uint16_t(load_u16(p))); }

// Whether a weight type's codes keep their high nibbles in place under dot policy D (only where products do not
// pass through int16: 16 * 15 * 127 * 2 would saturate maddubs).
template <class D, class W>
constexpr bool use_hi16() { return D::wide_products && W::hi16_ok; }

// Fills entries for blocks [0, nb) of tokens [0, g) of the activation rows at x (stride xrb).
template <class D, class W>
void prepare_activations(const uint8_t* x, size_t xrb, int64_t nb, int g, act_prep& ap) {
    constexpr bool has_min = W::kind == wkind::MIN;
    constexpr size_t xbytes = has_min ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    constexpr size_t xqs = has_min ? 4 : 2;
    // The per-byte bias whose dot product with x is subtracted: the code offset (x16 on kept high nibbles), or the
    // policy's bias for signed codes.
    constexpr int bias = W::kind == wkind::SIGNED ? D::signed_bias : W::offset;
    constexpr int bias_hi = use_hi16<D, W>() ? 16 * bias : bias;
    const __m256i bias_v = _mm256_set_m128i(_mm_set1_epi8(char(bias_hi)), _mm_set1_epi8(char(bias)));
    for (int t = 0; t < g; ++t) {
        const uint8_t* xt = x + size_t(t) * xrb;
        for (int64_t b = 0; b < nb; ++b) {
            const uint8_t* blk = xt + size_t(b) * xbytes;
            const size_t e = size_t(b) * size_t(g) + size_t(t);
            ap.dx[e] = half_to_float(blk);
            if constexpr (has_min) ap.sx[e] = half_to_float(blk + 2);
            if constexpr (D::template needs_correction<W::kind>())
                _mm256_store_si256(reinterpret_cast<__m256i*>(ap.corr[e]), D::correction(load256(blk + xqs), bias_v));
        }
    }
}

// 2P weight rows x T tokens over nb blocks; rows past n_valid repeat the last valid row (computed, not stored).
// ap entries: block b, token t of this tile at b * g + t0 + t. y (+)= results when add. Prefetches pf's rows.
template <class D, class W, int P, int T>
void tile(const uint8_t* w, size_t rb, int n_valid, const uint8_t* x, size_t xrb, const act_prep& ap, int g, int t0,
          int64_t nb, float* y, int64_t ldy, bool add, pf_rows pf) {
    static_assert(P == 1 || P == 2 || P == 4, "row pairs per tile");
    static_assert(T >= 1 && T <= 4, "tokens per tile");
    constexpr int R = 2 * P;
    constexpr wkind K = W::kind;
    constexpr bool has_min = K == wkind::MIN;
    constexpr bool corr = D::template needs_correction<K>();
    constexpr bool hi16 = use_hi16<D, W>();
    constexpr size_t xbytes = has_min ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    constexpr size_t xqs = has_min ? 4 : 2;
    // Weight scales of a block: halves h[r] = d(row r), or for MIN h[2r] = d, h[2r + 1] = m (one 32-bit copy per
    // row), converted to F32 lanes of ws by one instruction.
    constexpr int dl = has_min ? 2 : 1;  // lane of d(row r) = dl * r
    constexpr int n_halves = dl * R;

    const uint8_t* wr[R];
    for (int r = 0; r < R; ++r) wr[r] = w + size_t(std::min(r, n_valid - 1)) * rb;
    const uint8_t* xt[T];
    for (int t = 0; t < T; ++t) xt[t] = x + size_t(t) * xrb;
    const uint8_t* pr[R];
    for (int r = 0; r < R; ++r) pr[r] = pf.p ? pf.p + size_t(std::min(r, pf.n - 1)) * rb : nullptr;

    // With hi16 the high-nibble quarters of a row pair (lanes 4..7, 12..15) take the scale / 16. When the halves
    // fit in 8 lanes, the converted scales are duplicated into lanes 8..15 and that copy is scaled by 1/16 (dup);
    // otherwise the 1/16 copy is a second register (permutex2var).
    constexpr bool dup = hi16 && n_halves <= 8;
    const __m512 k16 = _mm512_setr_ps(1, 1, 1, 1, 1, 1, 1, 1, 0.0625f, 0.0625f, 0.0625f, 0.0625f, 0.0625f, 0.0625f,
                                      0.0625f, 0.0625f);
    // Row pair p's scale lanes: [row 2p x8 | row 2p+1 x8], high-nibble quarters from the 1/16 copy.
    __m512i pair_idx[P];
    for (int p = 0; p < P; ++p) {
        const int a = dl * 2 * p, b = dl * (2 * p + 1);
        const int ah = !hi16 ? a : dup ? 8 + a : 16 + a, bh = !hi16 ? b : dup ? 8 + b : 16 + b;
        pair_idx[p] = _mm512_setr_epi32(a, a, a, a, ah, ah, ah, ah, b, b, b, b, bh, bh, bh, bh);
    }

    __m512 acc[P][T];
    __m512 macc[T];  // MIN: lane 2r + 1 accumulates m(row r) * s(token) over the blocks
    for (int t = 0; t < T; ++t) {
        macc[t] = _mm512_setzero_ps();
        for (int p = 0; p < P; ++p) acc[p][t] = _mm512_setzero_ps();
    }
    constexpr int64_t pf_every = prefetch_every<W>();
    int64_t pf_count = 0;
    for (int64_t b = 0; b < nb; ++b) {
        const size_t wo = size_t(b) * W::bytes, xo = size_t(b) * xbytes;
        const size_t e0 = size_t(b) * size_t(g) + size_t(t0);
        // Weight scales: halves packed in GPRs (d per row, or d and m per row for MIN), converted by one
        // instruction. (Scalar stores and one vector load instead stall on store forwarding: half the speed.)
        uint64_t q[4] = {0, 0, 0, 0};
        for (int r = 0; r < R; ++r) {
            if constexpr (has_min) q[r / 2] |= uint64_t(load_u32(wr[r] + wo)) << (32 * (r % 2));
            else q[r / 4] |= load_u16(wr[r] + wo) << (16 * (r % 4));
        }
        const __m128i h8 = _mm_set_epi64x(int64_t(q[1]), int64_t(q[0]));
        const __m512 ws = dup             ? _mm512_cvtph_ps(_mm256_broadcastsi128_si256(h8))
                          : n_halves <= 8 ? _mm512_castps256_ps512(_mm256_cvtph_ps(h8))
                                          : _mm512_cvtph_ps(_mm256_set_epi64x(int64_t(q[3]), int64_t(q[2]),
                                                                              int64_t(q[1]), int64_t(q[0])));
        __m512i xv[T], cv[T];
        for (int t = 0; t < T; ++t) {
            xv[t] = _mm512_broadcast_i64x4(load256(xt[t] + xo + xqs));
            cv[t] = corr ? _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(ap.corr[e0 + t])))
                         : _mm512_setzero_si512();
        }
        // One token: dx folded into the row scales before they are spread over the row pairs.
        __m512 wsx = ws;
        if constexpr (dup) wsx = _mm512_mul_ps(wsx, T == 1 ? _mm512_mul_ps(k16, _mm512_set1_ps(ap.dx[e0])) : k16);
        else if constexpr (T == 1) wsx = _mm512_mul_ps(wsx, _mm512_set1_ps(ap.dx[e0]));
        const __m512 wsx16 = hi16 && !dup ? _mm512_mul_ps(wsx, _mm512_set1_ps(0.0625f)) : wsx;
        for (int p = 0; p < P; ++p) {
            const prepared pw = D::template prepare<K>(W::template codes<hi16>(wr[2 * p] + wo, wr[2 * p + 1] + wo));
            const __m512 dw = hi16 && !dup ? _mm512_permutex2var_ps(wsx, pair_idx[p], wsx16)
                                           : _mm512_permutexvar_ps(pair_idx[p], wsx);
            for (int t = 0; t < T; ++t) {
                const __m512i s = D::template dot<K>(pw, xv[t], cv[t]);
                const __m512 scale = T == 1 ? dw : _mm512_mul_ps(dw, _mm512_set1_ps(ap.dx[e0 + t]));
                acc[p][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc[p][t]);
            }
        }
        if constexpr (has_min)
            for (int t = 0; t < T; ++t) macc[t] = _mm512_fmadd_ps(ws, _mm512_set1_ps(ap.sx[e0 + t]), macc[t]);
        if (pf.p && ++pf_count == pf_every) {
            pf_count = 0;
            for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(pr[r] + wo), _MM_HINT_T1);
        }
    }
    for (int t = 0; t < T; ++t) {
        float* yt = y + t * ldy;
        for (int q = 0; q < (R + 3) / 4; ++q) {  // groups of 4 rows
            const int k = std::min(4, n_valid - 4 * q);
            if (k <= 0) break;
            __m128 v = reduce4(acc[2 * q][t], P > 2 * q + 1 ? acc[(2 * q + 1) % P][t] : _mm512_setzero_ps());
            if constexpr (has_min) {
                const int m0 = 8 * q + 1;  // lanes 2r + 1 of rows 4q .. 4q + 3
                const __m512 mv = _mm512_permutexvar_ps(
                    _mm512_setr_epi32(m0, m0 + 2, m0 + 4, m0 + 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), macc[t]);
                v = _mm_add_ps(v, _mm512_castps512_ps128(mv));
            }
            store_rows(yt + 4 * q, v, k, add);
        }
    }
}

// Token tiles of up to 4 tokens over a prepared group of g tokens (x: the group's first row), one tile of 2P rows;
// the first token tile prefetches pf.
template <class D, class W, int P>
inline void token_tiles(const uint8_t* w, size_t rb, int n_valid, const uint8_t* x, size_t xrb, const act_prep& ap,
                        int g, int64_t nb, float* y, int64_t ldy, bool add, pf_rows pf) {
    int t = 0;
    for (; t + 4 <= g; t += 4)
        tile<D, W, P, 4>(w, rb, n_valid, x + size_t(t) * xrb, xrb, ap, g, t, nb, y + t * ldy, ldy, add,
                         t == 0 ? pf : pf_rows{});
    const uint8_t* xt = x + size_t(t) * xrb;
    float* yt = y + t * ldy;
    const pf_rows p = t == 0 ? pf : pf_rows{};
    switch (g - t) {
        case 3: tile<D, W, P, 3>(w, rb, n_valid, xt, xrb, ap, g, t, nb, yt, ldy, add, p); break;
        case 2: tile<D, W, P, 2>(w, rb, n_valid, xt, xrb, ap, g, t, nb, yt, ldy, add, p); break;
        case 1: tile<D, W, P, 1>(w, rb, n_valid, xt, xrb, ap, g, t, nb, yt, ldy, add, p); break;
        default: break;
    }
}

// Row tiles of 2P rows (the tail in tiles of 2) over one prepared chunk; each prefetches the next tile's rows when
// prefetch. Decode (g = 1) runs one-token tiles only.
template <class D, class W, int P>
inline void row_tiles(const uint8_t* w, size_t rb, int64_t n_rows, const uint8_t* x, size_t xrb, const act_prep& ap,
                      int g, int64_t nb, float* y, int64_t ldy, bool add, bool prefetch) {
    int64_t r = 0;
    const auto pf = [&](int64_t r0, int tile) { return prefetch ? next_rows(w, rb, r0, tile, n_rows) : pf_rows{}; };
    if (g == 1) {
        for (; r + 2 * P <= n_rows; r += 2 * P)
            tile<D, W, P, 1>(w + size_t(r) * rb, rb, 2 * P, x, xrb, ap, 1, 0, nb, y + r, ldy, add, pf(r, 2 * P));
        for (; r < n_rows; r += 2)
            tile<D, W, 1, 1>(w + size_t(r) * rb, rb, int(std::min<int64_t>(2, n_rows - r)), x, xrb, ap, 1, 0, nb,
                             y + r, ldy, add, pf(r, 2));
        return;
    }
    for (; r + 2 * P <= n_rows; r += 2 * P)
        token_tiles<D, W, P>(w + size_t(r) * rb, rb, 2 * P, x, xrb, ap, g, nb, y + r, ldy, add, pf(r, 2 * P));
    for (; r < n_rows; r += 2)
        token_tiles<D, W, 1>(w + size_t(r) * rb, rb, int(std::min<int64_t>(2, n_rows - r)), x, xrb, ap, g, nb, y + r,
                             ldy, add, pf(r, 2));
}

// The matmul_rows_q entry. Blocks are walked in chunks and tokens in groups whose activation entries fit act_prep
// (on the stack): up to 4 tokens in one group over chunks of >= 256 blocks (decode: each row streamed in one pass
// for n <= 32768), more tokens in groups of 16 over chunks of 64 blocks, so a row tile's chunk stays in L1 while
// the group's token tiles pass over it.
template <class D, class W>
void matmul_rows_q(const void* w, size_t w_row_bytes, int64_t n_rows, const void* xq, size_t xq_row_bytes,
                   int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    constexpr size_t xbytes = W::kind == wkind::MIN ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    if (n_rows <= 0 || n_tok <= 0) return;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xq);
    const int64_t nb = n / QK;
    const int g_max = n_tok <= 4 ? int(n_tok) : 16;
    const int64_t chunk = n_tok <= 4 ? k_prep_entries / g_max : k_prep_entries / 16;
    act_prep ap;
    for (int64_t b0 = 0;;) {
        const int64_t len = std::min(chunk, nb - b0);
        const bool add = b0 > 0;
        const uint8_t* wc = wb + size_t(b0) * W::bytes;
        for (int64_t t0 = 0; t0 < n_tok; t0 += g_max) {
            const int g = int(std::min<int64_t>(g_max, n_tok - t0));
            const uint8_t* xg = xb + size_t(t0) * xq_row_bytes + size_t(b0) * xbytes;
            prepare_activations<D, W>(xg, xq_row_bytes, len, g, ap);
            if (n_tok == 1)
                row_tiles<D, W, k_decode_pairs>(wc, w_row_bytes, n_rows, xg, xq_row_bytes, ap, g, len, y, ldy, add,
                                                true);
            else
                row_tiles<D, W, k_prefill_pairs>(wc, w_row_bytes, n_rows, xg, xq_row_bytes, ap, g, len, y + t0 * ldy,
                                                 ldy, add, t0 == 0);
        }
        b0 += len;
        if (b0 >= nb) break;
    }
}

template <class D>
void fill_matmuls(table& t) {
    t.matmul_rows_q4_0 = matmul_rows_q<D, w_q4_0>;
    t.matmul_rows_q4_1 = matmul_rows_q<D, w_q4_1>;
    t.matmul_rows_q5_0 = matmul_rows_q<D, w_q5_0>;
    t.matmul_rows_q5_1 = matmul_rows_q<D, w_q5_1>;
    t.matmul_rows_q8_0 = matmul_rows_q<D, w_q8_0>;
    t.matmul_rows_iq4_nl = matmul_rows_q<D, w_iq4_nl>;
}

}  // namespace ql512
}  // namespace
}  // namespace fathom::kernels

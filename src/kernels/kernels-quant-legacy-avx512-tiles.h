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
// nibbles, 16..31 the high ones.
inline __m512i nibbles2(const uint8_t* qa, const uint8_t* qb) {
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(load128(qa))),
                                         _mm256_broadcastsi128_si256(load128(qb)), 1);
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
    static __m512i codes(const uint8_t* a, const uint8_t* b) { return nibbles2(a + 2, b + 2); }
};
struct w_q4_1 {
    static constexpr size_t bytes = sizeof(quant::block_q4_1);
    static constexpr wkind kind = wkind::MIN;
    static constexpr int offset = 0;
    static __m512i codes(const uint8_t* a, const uint8_t* b) { return nibbles2(a + 4, b + 4); }
};
struct w_q5_0 {
    static constexpr size_t bytes = sizeof(quant::block_q5_0);
    static constexpr wkind kind = wkind::OFFSET;
    static constexpr int offset = 16;
    static __m512i codes(const uint8_t* a, const uint8_t* b) {
        return fifth2(nibbles2(a + 6, b + 6), load_u32(a + 2), load_u32(b + 2));
    }
};
struct w_q5_1 {
    static constexpr size_t bytes = sizeof(quant::block_q5_1);
    static constexpr wkind kind = wkind::MIN;
    static constexpr int offset = 0;
    static __m512i codes(const uint8_t* a, const uint8_t* b) {
        return fifth2(nibbles2(a + 8, b + 8), load_u32(a + 4), load_u32(b + 4));
    }
};
struct w_q8_0 {
    static constexpr size_t bytes = sizeof(quant::block_q8_0);
    static constexpr wkind kind = wkind::SIGNED;
    static constexpr int offset = 0;
    static __m512i codes(const uint8_t* a, const uint8_t* b) {
        return _mm512_inserti64x4(_mm512_castsi256_si512(load256(a + 2)), load256(b + 2), 1);
    }
};
struct w_iq4_nl {
    static constexpr size_t bytes = sizeof(quant::block_iq4_nl);
    static constexpr wkind kind = wkind::SIGNED;
    static constexpr int offset = 0;
    static __m512i codes(const uint8_t* a, const uint8_t* b) {
        const __m512i levels = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::k_iq4nl)));
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

// Software prefetch distance along each weight row (bytes); prefetches are issued about once per 64-byte line.
constexpr size_t k_prefetch_bytes = 2048;
template <class W>
constexpr int64_t prefetch_every() { return W::bytes >= 64 ? 1 : int64_t(64 / W::bytes); }

// 2P weight rows x T tokens over nb blocks; rows past n_valid repeat the last valid row (computed, not stored).
// y (+)= results when add. Prefetches the weight rows ahead when prefetch.
template <class D, class W, int P, int T>
void tile(const uint8_t* w, size_t rb, int n_valid, const uint8_t* x, size_t xrb, int64_t nb, float* y, int64_t ldy,
          bool add, bool prefetch) {
    static_assert(P == 1 || P == 2 || P == 4, "row pairs per tile");
    static_assert(T >= 1 && T <= 4, "tokens per tile");
    constexpr int R = 2 * P;
    constexpr wkind K = W::kind;
    constexpr bool has_min = K == wkind::MIN;
    constexpr size_t xbytes = has_min ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    constexpr size_t xqs = has_min ? 4 : 2;
    constexpr int moff = R <= 4 ? 4 : 8;  // lane of row 0's min in the weight-scale vector

    const uint8_t* wr[R];
    for (int r = 0; r < R; ++r) wr[r] = w + size_t(std::min(r, n_valid - 1)) * rb;
    const uint8_t* xt[T];
    for (int t = 0; t < T; ++t) xt[t] = x + size_t(t) * xrb;

    __m512 acc[P][T];
    __m512 macc[T];  // MIN: lane moff + r accumulates m(row r) * s(token) over the blocks
    for (int t = 0; t < T; ++t) {
        macc[t] = _mm512_setzero_ps();
        for (int p = 0; p < P; ++p) acc[p][t] = _mm512_setzero_ps();
    }
    constexpr int64_t pf_every = prefetch_every<W>();
    int64_t pf_count = 0;
    for (int64_t b = 0; b < nb; ++b) {
        const size_t wo = size_t(b) * W::bytes, xo = size_t(b) * xbytes;
        // Scales as F32 by one conversion each: ws = [d(rows)..., m(rows)...], xsc = [dx(tokens) 0..3, sx 4..7].
        __m512 ws;
        {
            uint64_t wd[2] = {0, 0}, wm[2] = {0, 0};
            for (int r = 0; r < R; ++r) {
                wd[r / 4] |= load_u16(wr[r] + wo) << (16 * (r % 4));
                if constexpr (has_min) wm[r / 4] |= load_u16(wr[r] + wo + 2) << (16 * (r % 4));
            }
            if constexpr (R <= 4)
                ws = _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_set_epi64x(int64_t(wm[0]), int64_t(wd[0]))));
            else
                ws = _mm512_cvtph_ps(_mm256_set_epi64x(int64_t(wm[1]), int64_t(wm[0]), int64_t(wd[1]), int64_t(wd[0])));
        }
        uint64_t xd = 0, xs = 0;
        for (int t = 0; t < T; ++t) {
            xd |= load_u16(xt[t] + xo) << (16 * t);
            if constexpr (has_min) xs |= load_u16(xt[t] + xo + 2) << (16 * t);
        }
        const __m512 xsc = _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_set_epi64x(int64_t(xs), int64_t(xd))));

        __m512i xv[T], corr[T];
        __m512 dx[T];
        for (int t = 0; t < T; ++t) {
            xv[t] = _mm512_broadcast_i64x4(load256(xt[t] + xo + xqs));
            corr[t] = D::template correction<K, W::offset>(xv[t]);
            dx[t] = _mm512_permutexvar_ps(_mm512_set1_epi32(t), xsc);
        }
        for (int p = 0; p < P; ++p) {
            const prepared pw = D::template prepare<K>(W::codes(wr[2 * p] + wo, wr[2 * p + 1] + wo));
            const __m512 dw = _mm512_permutexvar_ps(
                _mm512_setr_epi32(2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p + 1, 2 * p + 1,
                                  2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1),
                ws);
            for (int t = 0; t < T; ++t) {
                const __m512i s = D::template dot<K>(pw, xv[t], corr[t]);
                acc[p][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, dx[t]), acc[p][t]);
            }
        }
        if constexpr (has_min)
            for (int t = 0; t < T; ++t)
                macc[t] = _mm512_fmadd_ps(ws, _mm512_permutexvar_ps(_mm512_set1_epi32(4 + t), xsc), macc[t]);
        if (prefetch && ++pf_count == pf_every) {
            pf_count = 0;
            for (int r = 0; r < R; ++r)
                _mm_prefetch(reinterpret_cast<const char*>(wr[r] + wo + k_prefetch_bytes), _MM_HINT_T0);
        }
    }
    for (int t = 0; t < T; ++t) {
        float* yt = y + t * ldy;
        for (int q = 0; q < (R + 3) / 4; ++q) {  // groups of 4 rows
            const int k = std::min(4, n_valid - 4 * q);
            if (k <= 0) break;
            __m128 v = reduce4(acc[2 * q][t], P > 2 * q + 1 ? acc[(2 * q + 1) % P][t] : _mm512_setzero_ps());
            if constexpr (has_min) {
                // lanes moff + 4q .. moff + 4q + 3
                const __m512 mv = _mm512_permutexvar_ps(
                    _mm512_setr_epi32(moff + 4 * q, moff + 4 * q + 1, moff + 4 * q + 2, moff + 4 * q + 3, 0, 0, 0, 0, 0,
                                      0, 0, 0, 0, 0, 0, 0),
                    macc[t]);
                v = _mm_add_ps(v, _mm512_castps512_ps128(mv));
            }
            store_rows(yt + 4 * q, v, k, add);
        }
    }
}

// With more than one token tile, rows are walked in chunks of this many blocks (partial sums added into y) so a
// tile's weight rows stay in L1 while every token tile passes over them.
constexpr int64_t k_chunk_blocks = 64;

template <class D, class W, int P, int T_MAX>
inline void token_tiles(const uint8_t* w, size_t rb, int n_valid, const uint8_t* x, size_t xrb, int64_t n_tok,
                        int64_t nb, float* y, int64_t ldy, bool add) {
    int64_t t = 0;
    for (; t + T_MAX <= n_tok; t += T_MAX)
        tile<D, W, P, T_MAX>(w, rb, n_valid, x + size_t(t) * xrb, xrb, nb, y + t * ldy, ldy, add, t == 0);
    const bool pf = t == 0;
    switch (n_tok - t) {
        case 3: tile<D, W, P, 3>(w, rb, n_valid, x + size_t(t) * xrb, xrb, nb, y + t * ldy, ldy, add, pf); break;
        case 2: tile<D, W, P, 2>(w, rb, n_valid, x + size_t(t) * xrb, xrb, nb, y + t * ldy, ldy, add, pf); break;
        case 1: tile<D, W, P, 1>(w, rb, n_valid, x + size_t(t) * xrb, xrb, nb, y + t * ldy, ldy, add, pf); break;
        default: break;
    }
}

// The matmul_rows_q entry: decode (one token) in tiles of 4 rows; otherwise 4 rows x 4 tokens over chunks of blocks.
template <class D, class W>
void matmul_rows_q(const void* w, size_t w_row_bytes, int64_t n_rows, const void* xq, size_t xq_row_bytes,
                   int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    constexpr size_t xbytes = W::kind == wkind::MIN ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xq);
    const int64_t nb = n / QK;
    if (n_rows <= 0 || n_tok <= 0) return;
    constexpr int T_MAX = 4;
    const int64_t chunk = n_tok > T_MAX ? k_chunk_blocks : nb;
    for (int64_t b0 = 0;;) {
        const int64_t len = std::min(chunk, nb - b0);
        const bool add = b0 > 0;
        const uint8_t* wc = wb + size_t(b0) * W::bytes;
        const uint8_t* xc = xb + size_t(b0) * xbytes;
        for (int64_t r = 0; r < n_rows; r += 4) {
            const int nv = int(std::min<int64_t>(4, n_rows - r));
            if (nv > 2)
                token_tiles<D, W, 2, T_MAX>(wc + size_t(r) * w_row_bytes, w_row_bytes, nv, xc, xq_row_bytes, n_tok,
                                            len, y + r, ldy, add);
            else
                token_tiles<D, W, 1, T_MAX>(wc + size_t(r) * w_row_bytes, w_row_bytes, nv, xc, xq_row_bytes, n_tok,
                                            len, y + r, ldy, add);
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

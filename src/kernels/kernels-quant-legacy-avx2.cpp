// AVX2 legacy quantised kernels: Q8_0 / Q8_1 activation quantisers and register-tiled matmuls of Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, IQ4_NL weights with INT8 activations (one 32-element block per YMM register, maddubs + madd dot
// products, one float scale multiply per block pair).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels::avx2 {

namespace {

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

// ---- activation quantisers (bit-exact with quant::quantize_row: d = amax / 127, q = round-to-even(x / d))

// One block of 32: writes the codes, returns d and the sum of the codes. As the reference: NaN inputs are left out
// of max|x|, and a code that is NaN (from non-finite input) becomes 0, codes are clamped to [-127, 127].
inline float quantize_block_q8(const float* x, int8_t* qs, int32_t* sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(x + 8 * i);
    // maxps returns its second operand when either is NaN: NaN lanes of x never reach the running maximum
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) m = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), m);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 idv = _mm256_set1_ps(id), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) {
        __m256 s = _mm256_mul_ps(v[i], idv);
        s = _mm256_and_ps(s, _mm256_cmp_ps(s, s, _CMP_ORD_Q));                 // NaN -> 0
        q[i] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(s, lo), hi));  // MXCSR default: to nearest even
    }
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
    *sum = _mm_cvtsi128_si32(s4);
    // packs interleave the 128-bit lanes: [q0lo q1lo q2lo q3lo | q0hi q1hi q2hi q3hi] in 4-byte groups
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    const __m256i ordered = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), ordered);
    return d;
}

inline uint16_t to_half(float f) { return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

void quantize_row_q8_0(const float* x, void* y, int64_t n) {
    uint8_t* out = static_cast<uint8_t*>(y);
    for (int64_t b = 0; b < n / QK; ++b, out += sizeof(quant::block_q8_0)) {
        int32_t sum;
        const float d = quantize_block_q8(x + b * QK, reinterpret_cast<int8_t*>(out + 2), &sum);
        const uint16_t h = to_half(d);
        std::memcpy(out, &h, 2);
    }
}

void quantize_row_q8_1(const float* x, void* y, int64_t n) {
    uint8_t* out = static_cast<uint8_t*>(y);
    for (int64_t b = 0; b < n / QK; ++b, out += sizeof(quant::block_q8_1)) {
        int32_t sum;
        const float d = quantize_block_q8(x + b * QK, reinterpret_cast<int8_t*>(out + 4), &sum);
        const uint16_t h[2] = {to_half(d), to_half(d * float(sum))};
        std::memcpy(out, h, 4);
    }
}

// ---- weight policies: the 32 codes of one block in element order in a YMM register, and where its scales are.
// kind OFFSET: unsigned codes, value = d * (code - offset); MIN: unsigned codes, value = d * code + m;
// SIGNED: signed codes, value = d * code.
enum class wkind { OFFSET, MIN, SIGNED };

// 16 bytes of nibbles -> 32 codes: low nibbles are elements 0..15, high nibbles 16..31.
inline __m256i nibbles(const uint8_t* qs) {
    const __m128i q = load128(qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
}
// 32 bits -> 0x10 in byte j where bit j is set.
inline __m256i fifth_bits(uint32_t qh) {
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(int(qh)),
                                               _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                                                  0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

struct w_q4_0 {
    static constexpr size_t bytes = sizeof(quant::block_q4_0);
    static constexpr wkind kind = wkind::OFFSET;
    static constexpr int offset = 8;
    static __m256i codes(const uint8_t* p) { return nibbles(p + 2); }
};
struct w_q4_1 {
    static constexpr size_t bytes = sizeof(quant::block_q4_1);
    static constexpr wkind kind = wkind::MIN;
    static constexpr int offset = 0;
    static __m256i codes(const uint8_t* p) { return nibbles(p + 4); }
};
struct w_q5_0 {
    static constexpr size_t bytes = sizeof(quant::block_q5_0);
    static constexpr wkind kind = wkind::OFFSET;
    static constexpr int offset = 16;
    static __m256i codes(const uint8_t* p) { return _mm256_or_si256(nibbles(p + 6), fifth_bits(load_u32(p + 2))); }
};
struct w_q5_1 {
    static constexpr size_t bytes = sizeof(quant::block_q5_1);
    static constexpr wkind kind = wkind::MIN;
    static constexpr int offset = 0;
    static __m256i codes(const uint8_t* p) { return _mm256_or_si256(nibbles(p + 8), fifth_bits(load_u32(p + 4))); }
};
struct w_q8_0 {
    static constexpr size_t bytes = sizeof(quant::block_q8_0);
    static constexpr wkind kind = wkind::SIGNED;
    static constexpr int offset = 0;
    static __m256i codes(const uint8_t* p) { return load256(p + 2); }
};
struct w_iq4_nl {
    static constexpr size_t bytes = sizeof(quant::block_iq4_nl);
    static constexpr wkind kind = wkind::SIGNED;
    static constexpr int offset = 0;
    static __m256i codes(const uint8_t* p) {
        const __m128i lv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::k_iq4nl));
        return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(lv), nibbles(p + 2));
    }
};

// ---- dot products of one block pair as 8 int32 lanes (their sum is the exact code dot product).
// maddubs multiplies unsigned by signed bytes and adds pairs into int16 (saturating): unsigned codes (< 32) times
// activations (|q| <= 127) stay far below the limit; signed codes use |w| times sign(w)*x, at most 2*128*127.
struct prepared_w {
    __m256i u;  // unsigned operand: the codes, or |codes| for SIGNED
    __m256i s;  // SIGNED: the codes (their signs), else unused
};
template <wkind K>
inline prepared_w prepare(__m256i c) {
    if constexpr (K == wkind::SIGNED) return {_mm256_sign_epi8(c, c), c};
    else return {c, c};
}
// Per activation block: -offset * sum(x) spread over 8 lanes (OFFSET kinds), else zero.
template <wkind K, int OFF>
inline __m256i correction(__m256i x) {
    if constexpr (K == wkind::OFFSET) {
        const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(OFF), x), _mm256_set1_epi16(1));
        return _mm256_sub_epi32(_mm256_setzero_si256(), s);
    } else {
        return _mm256_setzero_si256();
    }
}
template <wkind K>
inline __m256i dot(const prepared_w& w, __m256i x, __m256i corr) {
    const __m256i ones = _mm256_set1_epi16(1);
    if constexpr (K == wkind::SIGNED) {
        return _mm256_madd_epi16(_mm256_maddubs_epi16(w.u, _mm256_sign_epi8(x, w.s)), ones);
    } else if constexpr (K == wkind::OFFSET) {
        return _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(w.u, x), ones), corr);
    } else {
        return _mm256_madd_epi16(_mm256_maddubs_epi16(w.u, x), ones);
    }
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
// Four 8-lane sums -> [sum a, sum b, sum c, sum d].
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);  // [a01 a23 b01 b23 | a45 a67 b45 b67] ...
    const __m256 abcd = _mm256_hadd_ps(ab, cd);                          // [a b c d (low halves) | a b c d (high)]
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// Software prefetch distance along each weight row (bytes), and how many blocks apart the prefetches are issued so
// that about one is issued per 64-byte line.
constexpr size_t k_prefetch_bytes = 1536;
template <class W>
constexpr int64_t prefetch_every() { return W::bytes >= 64 ? 1 : int64_t(64 / W::bytes); }

// With more token tiles than one, the rows are walked in chunks of this many blocks (partial sums added into y) so
// the weight rows of a tile stay in L1 while every token tile passes over them.
constexpr int64_t k_chunk_blocks = 64;

// R weight rows x T tokens over nb blocks. Rows beyond n_valid repeat the last valid row (computed, not stored).
template <class W, int R, int T>
void tile(const uint8_t* w, size_t rb, int n_valid, const uint8_t* x, size_t xrb, int64_t nb, float* y, int64_t ldy,
          bool add, bool prefetch) {
    constexpr bool has_min = W::kind == wkind::MIN;
    constexpr size_t xbytes = has_min ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    constexpr size_t xqs = has_min ? 4 : 2;
    const uint8_t* wr[R];
    for (int r = 0; r < R; ++r) wr[r] = w + size_t(std::min(r, n_valid - 1)) * rb;
    const uint8_t* xt[T];
    for (int t = 0; t < T; ++t) xt[t] = x + size_t(t) * xrb;

    __m256 acc[R][T];
    __m128 macc[T];  // MIN kinds: sum over blocks of m(row) * s(token), rows in lanes
    for (int t = 0; t < T; ++t) {
        macc[t] = _mm_setzero_ps();
        for (int r = 0; r < R; ++r) acc[r][t] = _mm256_setzero_ps();
    }
    constexpr int64_t pf_every = prefetch_every<W>();
    int64_t pf_count = 0;
    for (int64_t b = 0; b < nb; ++b) {
        const size_t wo = size_t(b) * W::bytes, xo = size_t(b) * xbytes;
        // Scales: weight d (and m) of the R rows, activation d (and s) of the T tokens, as F32 via one conversion.
        uint64_t wd = 0, wm = 0, xd = 0, xs = 0;
        for (int r = 0; r < R; ++r) {
            wd |= load_u16(wr[r] + wo) << (16 * r);
            if constexpr (has_min) wm |= load_u16(wr[r] + wo + 2) << (16 * r);
        }
        for (int t = 0; t < T; ++t) {
            xd |= load_u16(xt[t] + xo) << (16 * t);
            if constexpr (has_min) xs |= load_u16(xt[t] + xo + 2) << (16 * t);
        }
        const __m256 ws = _mm256_cvtph_ps(_mm_set_epi64x(int64_t(wm), int64_t(wd)));  // [d0..d3, m0..m3]
        const __m256 xsc = _mm256_cvtph_ps(_mm_set_epi64x(int64_t(xs), int64_t(xd)));  // [dx0..dx3, sx0..sx3]

        prepared_w pw[R];
        for (int r = 0; r < R; ++r) pw[r] = prepare<W::kind>(W::codes(wr[r] + wo));
        for (int t = 0; t < T; ++t) {
            const __m256i xv = load256(xt[t] + xo + xqs);
            const __m256i corr = correction<W::kind, W::offset>(xv);
            const __m256 dx = _mm256_permutevar8x32_ps(xsc, _mm256_set1_epi32(t));
            for (int r = 0; r < R; ++r) {
                const __m256 dw = _mm256_permutevar8x32_ps(ws, _mm256_set1_epi32(r));
                const __m256i s = dot<W::kind>(pw[r], xv, corr);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, dx), acc[r][t]);
            }
            if constexpr (has_min) {
                const __m128 sx = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(xsc, _mm256_set1_epi32(4 + t)));
                macc[t] = _mm_fmadd_ps(_mm256_extractf128_ps(ws, 1), sx, macc[t]);
            }
        }
        if (prefetch && ++pf_count == pf_every) {
            pf_count = 0;
            for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(wr[r] + wo + k_prefetch_bytes), _MM_HINT_T0);
        }
    }
    for (int t = 0; t < T; ++t) {
        float* yt = y + t * ldy;
        if constexpr (R == 4) {
            __m128 s = _mm_add_ps(hsum4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]), macc[t]);
            alignas(16) float v[4];
            _mm_store_ps(v, s);
            for (int r = 0; r < n_valid; ++r) yt[r] = (add ? yt[r] : 0.0f) + v[r];
        } else {
            alignas(16) float m[4];
            _mm_store_ps(m, macc[t]);
            for (int r = 0; r < n_valid; ++r) yt[r] = (add ? yt[r] : 0.0f) + (hsum(acc[r][t]) + m[r]);
        }
    }
}

// Token tiles of up to T_MAX tokens for R rows.
template <class W, int R, int T_MAX>
inline void token_tiles(const uint8_t* w, size_t rb, int n_valid, const uint8_t* x, size_t xrb, int64_t n_tok,
                        int64_t nb, float* y, int64_t ldy, bool add) {
    int64_t t = 0;
    for (; t + T_MAX <= n_tok; t += T_MAX)
        tile<W, R, T_MAX>(w, rb, n_valid, x + size_t(t) * xrb, xrb, nb, y + t * ldy, ldy, add, t == 0);
    const bool pf = t == 0;
    switch (n_tok - t) {
        case 3: tile<W, R, 3>(w, rb, n_valid, x + size_t(t) * xrb, xrb, nb, y + t * ldy, ldy, add, pf); break;
        case 2: tile<W, R, 2>(w, rb, n_valid, x + size_t(t) * xrb, xrb, nb, y + t * ldy, ldy, add, pf); break;
        case 1: tile<W, R, 1>(w, rb, n_valid, x + size_t(t) * xrb, xrb, nb, y + t * ldy, ldy, add, pf); break;
        default: break;
    }
}

template <class W>
void matmul_rows_q(const void* w, size_t w_row_bytes, int64_t n_rows, const void* xq, size_t xq_row_bytes,
                   int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    constexpr size_t xbytes = W::kind == wkind::MIN ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xq);
    const int64_t nb = n / QK;
    if (n_rows <= 0 || n_tok <= 0) return;
    if (n_tok == 1) {
        // Decode: 4 rows per tile, no chunking.
        for (int64_t r = 0; r < n_rows; r += 4)
            tile<W, 4, 1>(wb + size_t(r) * w_row_bytes, w_row_bytes, int(std::min<int64_t>(4, n_rows - r)), xb,
                          xq_row_bytes, nb, y + r, ldy, false, true);
        return;
    }
    constexpr int T_MAX = 4;
    const int64_t chunk = n_tok > T_MAX ? k_chunk_blocks : nb;
    for (int64_t b0 = 0;;) {
        const int64_t len = std::min(chunk, nb - b0);
        const bool add = b0 > 0;
        const uint8_t* wc = wb + size_t(b0) * W::bytes;
        const uint8_t* xc = xb + size_t(b0) * xbytes;
        for (int64_t r = 0; r < n_rows; r += 2) {
            const int nv = int(std::min<int64_t>(2, n_rows - r));
            token_tiles<W, 2, T_MAX>(wc + size_t(r) * w_row_bytes, w_row_bytes, nv, xc, xq_row_bytes, n_tok, len,
                                     y + r, ldy, add);
        }
        b0 += len;
        if (b0 >= nb) break;
    }
}

}  // namespace

void fill_quant_legacy(table& t) {
    t.quantize_row_q8_0 = quantize_row_q8_0;
    t.quantize_row_q8_1 = quantize_row_q8_1;
    t.matmul_rows_q4_0 = matmul_rows_q<w_q4_0>;
    t.matmul_rows_q4_1 = matmul_rows_q<w_q4_1>;
    t.matmul_rows_q5_0 = matmul_rows_q<w_q5_0>;
    t.matmul_rows_q5_1 = matmul_rows_q<w_q5_1>;
    t.matmul_rows_q8_0 = matmul_rows_q<w_q8_0>;
    t.matmul_rows_iq4_nl = matmul_rows_q<w_iq4_nl>;
}

}  // namespace fathom::kernels::avx2

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
    static __m256i codes(const uint8_t* p) { return _mm256_or_si256(nibbles(p + 8), fifth_bits(load_u32(p + 4))); }
};
struct w_q8_0 {
    static constexpr size_t bytes = sizeof(quant::block_q8_0);
    static constexpr wkind kind = wkind::SIGNED;
    static __m256i codes(const uint8_t* p) { return load256(p + 2); }
};
struct w_iq4_nl {
    static constexpr size_t bytes = sizeof(quant::block_iq4_nl);
    static constexpr wkind kind = wkind::SIGNED;
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
// Per activation block of an OFFSET kind: 8 lanes summing to -offset * sum(x), grouped as dot() groups products.
template <int OFF>
inline __m256i correction(__m256i x) {
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(OFF), x), _mm256_set1_epi16(1));
    return _mm256_sub_epi32(_mm256_setzero_si256(), s);
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

// Four 8-lane sums -> [sum a, sum b, sum c, sum d].
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);  // [a01 a23 b01 b23 | a45 a67 b45 b67] ...
    const __m256 abcd = _mm256_hadd_ps(ab, cd);                          // [a b c d (low halves) | a b c d (high)]
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// Prefetching: a row tile prefetches the next tile's rows into L2, block for block (about one prefetch per 64-byte
// line): one tile ahead covers DRAM latency at any row length (see kernels-quant-legacy-avx512-tiles.h).
struct pf_rows {
    const uint8_t* p = nullptr;  // first row to prefetch (null: none)
    int n = 0;                   // rows
};
inline pf_rows next_rows(const uint8_t* w, size_t rb, int64_t r, int tile, int64_t n_rows) {
    if (r + tile >= n_rows) return {};
    return {w + size_t(r + tile) * rb, int(std::min<int64_t>(tile, n_rows - r - tile))};
}
template <class W>
constexpr int64_t prefetch_every() { return W::bytes >= 64 ? 1 : int64_t(64 / W::bytes); }

// Activation blocks prepared once per call (per chunk of blocks and group of tokens) and shared by every row tile:
// entry e = block * group + token holds the F32 scale dx, the F32 block sum sx (Q8_1) and the correction lanes.
constexpr int k_prep_entries = 1024;
struct act_prep {
    alignas(32) int32_t corr[k_prep_entries][8];
    float dx[k_prep_entries];
    float sx[k_prep_entries];
};

inline float half_to_float(const uint8_t* p) { return _cvtsh_ss(uint16_t(load_u16(p))); }

template <class W>
void prepare_activations(const uint8_t* x, size_t xrb, int64_t nb, int g, act_prep& ap) {
    constexpr bool has_min = W::kind == wkind::MIN;
    constexpr size_t xbytes = has_min ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    constexpr size_t xqs = has_min ? 4 : 2;
    for (int t = 0; t < g; ++t) {
        const uint8_t* xt = x + size_t(t) * xrb;
        for (int64_t b = 0; b < nb; ++b) {
            const uint8_t* blk = xt + size_t(b) * xbytes;
            const size_t e = size_t(b) * size_t(g) + size_t(t);
            ap.dx[e] = half_to_float(blk);
            if constexpr (has_min) ap.sx[e] = half_to_float(blk + 2);
            if constexpr (W::kind == wkind::OFFSET)
                _mm256_store_si256(reinterpret_cast<__m256i*>(ap.corr[e]), correction<W::offset>(load256(blk + xqs)));
        }
    }
}

// R weight rows x T tokens over nb blocks; rows past n_valid repeat the last valid row (computed, not stored).
// ap entries: block b, token t of this tile at b * g + t0 + t. y (+)= results when add. Prefetches pf's rows.
template <class W, int R, int T>
void tile(const uint8_t* w, size_t rb, int n_valid, const uint8_t* x, size_t xrb, const act_prep& ap, int g, int t0,
          int64_t nb, float* y, int64_t ldy, bool add, pf_rows pf) {
    static_assert(R == 2 || R == 4, "rows per tile");
    static_assert(T >= 1 && T <= 4, "tokens per tile");
    constexpr wkind K = W::kind;
    constexpr bool has_min = K == wkind::MIN;
    constexpr size_t xbytes = has_min ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    constexpr size_t xqs = has_min ? 4 : 2;
    const uint8_t* wr[R];
    const uint8_t* pr[R];
    for (int r = 0; r < R; ++r) {
        wr[r] = w + size_t(std::min(r, n_valid - 1)) * rb;
        pr[r] = pf.p ? pf.p + size_t(std::min(r, pf.n - 1)) * rb : nullptr;
    }
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
        const size_t e0 = size_t(b) * size_t(g) + size_t(t0);
        // Weight scales (d and, for MIN, m of the R rows) packed as halves in GPRs, converted by one instruction.
        uint64_t wd = 0, wm = 0;
        for (int r = 0; r < R; ++r) {
            wd |= load_u16(wr[r] + wo) << (16 * r);
            if constexpr (has_min) wm |= load_u16(wr[r] + wo + 2) << (16 * r);
        }
        const __m256 ws = has_min ? _mm256_cvtph_ps(_mm_set_epi64x(int64_t(wm), int64_t(wd)))  // [d0..d3, m0..m3]
                                  : _mm256_castps128_ps256(_mm_cvtph_ps(_mm_cvtsi64_si128(int64_t(wd))));
        // One token: dx folded into the row scales once.
        const __m256 wsx = T == 1 ? _mm256_mul_ps(ws, _mm256_set1_ps(ap.dx[e0])) : ws;

        prepared_w pw[R];
        for (int r = 0; r < R; ++r) pw[r] = prepare<K>(W::codes(wr[r] + wo));
        for (int t = 0; t < T; ++t) {
            const __m256i xv = load256(xt[t] + xo + xqs);
            const __m256i corr = K == wkind::OFFSET
                                     ? _mm256_load_si256(reinterpret_cast<const __m256i*>(ap.corr[e0 + t]))
                                     : _mm256_setzero_si256();
            for (int r = 0; r < R; ++r) {
                const __m256 dw = _mm256_permutevar8x32_ps(wsx, _mm256_set1_epi32(r));
                const __m256 scale = T == 1 ? dw : _mm256_mul_ps(dw, _mm256_set1_ps(ap.dx[e0 + t]));
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot<K>(pw[r], xv, corr)), scale, acc[r][t]);
            }
            if constexpr (has_min)
                macc[t] = _mm_fmadd_ps(_mm256_extractf128_ps(ws, 1), _mm_set1_ps(ap.sx[e0 + t]), macc[t]);
        }
        if (pf.p && ++pf_count == pf_every) {
            pf_count = 0;
            for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(pr[r] + wo), _MM_HINT_T1);
        }
    }
    for (int t = 0; t < T; ++t) {
        float* yt = y + t * ldy;
        const __m128 s = R == 4 ? hsum4(acc[0][t], acc[1 % R][t], acc[2 % R][t], acc[3 % R][t])
                                : hsum4(acc[0][t], acc[1 % R][t], _mm256_setzero_ps(), _mm256_setzero_ps());
        alignas(16) float v[4];
        _mm_store_ps(v, _mm_add_ps(s, macc[t]));
        for (int r = 0; r < n_valid; ++r) yt[r] = (add ? yt[r] : 0.0f) + v[r];
    }
}

// Token tiles of up to 4 tokens over a prepared group of g tokens, one tile of R rows; the first prefetches pf.
template <class W, int R>
inline void token_tiles(const uint8_t* w, size_t rb, int n_valid, const uint8_t* x, size_t xrb, const act_prep& ap,
                        int g, int64_t nb, float* y, int64_t ldy, bool add, pf_rows pf) {
    int t = 0;
    for (; t + 4 <= g; t += 4)
        tile<W, R, 4>(w, rb, n_valid, x + size_t(t) * xrb, xrb, ap, g, t, nb, y + t * ldy, ldy, add,
                      t == 0 ? pf : pf_rows{});
    const uint8_t* xt = x + size_t(t) * xrb;
    float* yt = y + t * ldy;
    const pf_rows p = t == 0 ? pf : pf_rows{};
    switch (g - t) {
        case 3: tile<W, R, 3>(w, rb, n_valid, xt, xrb, ap, g, t, nb, yt, ldy, add, p); break;
        case 2: tile<W, R, 2>(w, rb, n_valid, xt, xrb, ap, g, t, nb, yt, ldy, add, p); break;
        case 1: tile<W, R, 1>(w, rb, n_valid, xt, xrb, ap, g, t, nb, yt, ldy, add, p); break;
        default: break;
    }
}

// The matmul_rows_q entry. Blocks in chunks and tokens in groups whose activation entries fit act_prep (on the
// stack): up to 4 tokens in one group over chunks of >= 256 blocks, more in groups of 16 over chunks of 64 blocks.
// Decode runs 4-row tiles, more tokens 2 rows x 4 tokens (sixteen YMM registers).
template <class W>
void matmul_rows_q(const void* w, size_t w_row_bytes, int64_t n_rows, const void* xq, size_t xq_row_bytes,
                   int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    constexpr size_t xbytes = W::kind == wkind::MIN ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    if (n_rows <= 0 || n_tok <= 0) return;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xq);
    const int64_t nb = n / QK;
    const int g_max = n_tok <= 4 ? int(n_tok) : 16;
    const int64_t chunk = k_prep_entries / g_max;
    act_prep ap;
    for (int64_t b0 = 0;;) {
        const int64_t len = std::min(chunk, nb - b0);
        const bool add = b0 > 0;
        const uint8_t* wc = wb + size_t(b0) * W::bytes;
        for (int64_t t0 = 0; t0 < n_tok; t0 += g_max) {
            const int g = int(std::min<int64_t>(g_max, n_tok - t0));
            const uint8_t* xg = xb + size_t(t0) * xq_row_bytes + size_t(b0) * xbytes;
            prepare_activations<W>(xg, xq_row_bytes, len, g, ap);
            const bool prefetch = t0 == 0;
            const auto pf = [&](int64_t r, int tile) {
                return prefetch ? next_rows(wc, w_row_bytes, r, tile, n_rows) : pf_rows{};
            };
            float* yg = y + t0 * ldy;
            if (g == 1) {
                for (int64_t r = 0; r < n_rows; r += 4)
                    tile<W, 4, 1>(wc + size_t(r) * w_row_bytes, w_row_bytes, int(std::min<int64_t>(4, n_rows - r)),
                                  xg, xq_row_bytes, ap, 1, 0, len, yg + r, ldy, add, pf(r, 4));
            } else {
                for (int64_t r = 0; r < n_rows; r += 2)
                    token_tiles<W, 2>(wc + size_t(r) * w_row_bytes, w_row_bytes, int(std::min<int64_t>(2, n_rows - r)),
                                      xg, xq_row_bytes, ap, g, len, yg + r, ldy, add, pf(r, 2));
            }
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

// AVX2 K-quant kernels: Q8_K activation quantiser and Q4_K / Q5_K / Q6_K / IQ4_XS weights times Q8_K activations.
// Each weight super-block is unpacked once into u8 codes plus per-element-pair int16 scales, then multiplied with up
// to four tokens: _mm256_maddubs_epi16 (u8 x s8, pair sums never saturate for these code ranges) and
// _mm256_madd_epi16 against the scales give exact int32 sums of sc_j * q * x; one float step per super-block.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels::avx2 {

namespace {

using quant::QK_K;
constexpr size_t X_BYTES = sizeof(quant::block_q8_k);
constexpr size_t X_D = offsetof(quant::block_q8_k, d);
constexpr size_t X_QS = offsetof(quant::block_q8_k, qs);
constexpr size_t X_BS = offsetof(quant::block_q8_k, bsums);

inline float load_f16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}
inline float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline __m256i loadu(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// int16 element j of each 128-bit lane of v, broadcast across that lane.
template <int J>
inline __m256i bcast16(__m256i v) {
    return _mm256_shuffle_epi8(v, _mm256_set1_epi16(int16_t(((2 * J + 1) << 8) | (2 * J))));
}
// Lane 0 gets int16 element J of v's lane 0, lane 1 gets element J + 1 of v's lane 1.
template <int J>
inline __m256i bcast16_pair(__m256i v) {
    const __m128i lo = _mm_set1_epi16(int16_t(((2 * J + 1) << 8) | (2 * J)));
    const __m128i hi = _mm_set1_epi16(int16_t(((2 * J + 3) << 8) | (2 * J + 2)));
    return _mm256_shuffle_epi8(v, _mm256_set_m128i(hi, lo));
}

// One weight super-block, unpacked: q[c] holds elements 32c .. 32c+31 as u8 (IQ4_XS: |level|, sign in sg[c]);
// s[c] the int16 multiplier of each element pair (its sub-block scale).
struct wblock {
    __m256i q[8];
    __m256i s[8];
    __m256i sg[8];
    __m256i aux;  // Q4_K/Q5_K: mins m_j at int16 positions 2j, 2j+1; Q6_K: 32 * scale per 16-element group
    float d, dmin;
};

// Q4_K / Q5_K 6-bit scales and mins: xmm int16 [sc0..sc7] and int16 pairs [m0 m0 m1 m1 .. m7 m7] (as ymm).
// With the 12 bytes as dwords a, b, c: sc0..3 = a & 63, m0..3 = b & 63, sc4..7 = (c & 15) | (a >> 6) << 4,
// m4..7 = (c >> 4) | (b >> 6) << 4, byte by byte.
inline void unpack_scale_min(const uint8_t* s, __m128i* sc16, __m256i* mins) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));  // a, b, c (+ 4 bytes of qs)
    const __m128i pv = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0));        // [a, c, b, c]
    const __m128i qv = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));        // [a, a, b, b]
    const __m128i lo = _mm_and_si128(_mm_srlv_epi32(pv, _mm_setr_epi32(0, 0, 0, 4)),
                                     _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
    const __m128i hi = _mm_and_si128(_mm_srli_epi32(qv, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    const __m128i sm = _mm_or_si128(lo, hi);  // bytes sc0..7, m0..7
    *sc16 = _mm_cvtepu8_epi16(sm);
    *mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));
}

inline void scale_vectors_32(__m128i sc16, wblock& w) {  // 8 sub-blocks of 32: one scale per vector
    const __m256i s = _mm256_broadcastsi128_si256(sc16);
    w.s[0] = bcast16<0>(s);
    w.s[1] = bcast16<1>(s);
    w.s[2] = bcast16<2>(s);
    w.s[3] = bcast16<3>(s);
    w.s[4] = bcast16<4>(s);
    w.s[5] = bcast16<5>(s);
    w.s[6] = bcast16<6>(s);
    w.s[7] = bcast16<7>(s);
}

// The fifth bit of Q5_K: bit B of each qh byte moved to bit 4.
template <int B>
inline __m256i bit_to_4(__m256i h) {
    const __m256i m = _mm256_set1_epi8(0x10);
    if constexpr (B <= 4)
        return _mm256_and_si256(_mm256_slli_epi16(h, 4 - B), m);
    else
        return _mm256_and_si256(_mm256_srli_epi16(h, B - 4), m);
}

struct q4_k {
    static constexpr size_t block_bytes = sizeof(quant::block_q4_k);
    static constexpr bool has_min = true, has_bias = false, is_signed = false;
    static void prep(const uint8_t* p, wblock& w) {
        using B = quant::block_q4_k;
        w.d = load_f16(p + offsetof(B, d));
        w.dmin = load_f16(p + offsetof(B, dmin));
        __m128i sc16;
        unpack_scale_min(p + offsetof(B, scales), &sc16, &w.aux);
        scale_vectors_32(sc16, w);
        const uint8_t* qs = p + offsetof(B, qs);
        const __m256i m4 = _mm256_set1_epi8(0x0F);
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
            const __m256i v = loadu(qs + 32 * c);
            w.q[2 * c] = _mm256_and_si256(v, m4);
            w.q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        }
    }
};

struct q5_k {
    static constexpr size_t block_bytes = sizeof(quant::block_q5_k);
    static constexpr bool has_min = true, has_bias = false, is_signed = false;
    static void prep(const uint8_t* p, wblock& w) {
        using B = quant::block_q5_k;
        w.d = load_f16(p + offsetof(B, d));
        w.dmin = load_f16(p + offsetof(B, dmin));
        __m128i sc16;
        unpack_scale_min(p + offsetof(B, scales), &sc16, &w.aux);
        scale_vectors_32(sc16, w);
        const uint8_t* qs = p + offsetof(B, qs);
        const __m256i h = loadu(p + offsetof(B, qh));
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        __m256i v = loadu(qs);
        w.q[0] = _mm256_or_si256(_mm256_and_si256(v, m4), bit_to_4<0>(h));
        w.q[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), bit_to_4<1>(h));
        v = loadu(qs + 32);
        w.q[2] = _mm256_or_si256(_mm256_and_si256(v, m4), bit_to_4<2>(h));
        w.q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), bit_to_4<3>(h));
        v = loadu(qs + 64);
        w.q[4] = _mm256_or_si256(_mm256_and_si256(v, m4), bit_to_4<4>(h));
        w.q[5] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), bit_to_4<5>(h));
        v = loadu(qs + 96);
        w.q[6] = _mm256_or_si256(_mm256_and_si256(v, m4), bit_to_4<6>(h));
        w.q[7] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), bit_to_4<7>(h));
    }
};

struct q6_k {
    static constexpr size_t block_bytes = sizeof(quant::block_q6_k);
    static constexpr bool has_min = false, has_bias = true, is_signed = false;
    static void prep(const uint8_t* p, wblock& w) {
        using B = quant::block_q6_k;
        w.d = load_f16(p + offsetof(B, d));
        w.dmin = 0.0f;
        const __m256i sc16 =
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + offsetof(B, scales))));
        w.aux = _mm256_slli_epi16(sc16, 5);  // q - 32: the -32 term is 32 * scale * (group sum of x)
        const __m256i s_lo = _mm256_permute4x64_epi64(sc16, 0x44), s_hi = _mm256_permute4x64_epi64(sc16, 0xEE);
        // Vector v covers 16-element groups 2v (lane 0) and 2v + 1 (lane 1).
        w.s[0] = bcast16_pair<0>(s_lo);
        w.s[1] = bcast16_pair<2>(s_lo);
        w.s[2] = bcast16_pair<4>(s_lo);
        w.s[3] = bcast16_pair<6>(s_lo);
        w.s[4] = bcast16_pair<0>(s_hi);
        w.s[5] = bcast16_pair<2>(s_hi);
        w.s[6] = bcast16_pair<4>(s_hi);
        w.s[7] = bcast16_pair<6>(s_hi);
        const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
            const __m256i l0 = loadu(p + offsetof(B, ql) + 64 * h), l1 = loadu(p + offsetof(B, ql) + 64 * h + 32);
            const __m256i hb = loadu(p + offsetof(B, qh) + 32 * h);
            w.q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
            w.q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
            w.q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m30));
            w.q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                             _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
        }
    }
};

struct iq4_xs {
    static constexpr size_t block_bytes = sizeof(quant::block_iq4_xs);
    static constexpr bool has_min = false, has_bias = false, is_signed = true;
    static void prep(const uint8_t* p, wblock& w) {
        using B = quant::block_iq4_xs;
        w.d = load_f16(p + offsetof(B, d));
        w.dmin = 0.0f;
        uint16_t sh;
        std::memcpy(&sh, p + offsetof(B, scales_h), 2);
        // ls_j = (4 bits of scales_l at 4j) | (2 bits of scales_h at 2j) << 4; scale = ls_j - 32.
        const __m256i lo =
            _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(int(load_u32(p + offsetof(B, scales_l)))),
                                               _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                             _mm256_set1_epi32(0xF));
        const __m256i hi =
            _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(sh), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                             _mm256_set1_epi32(3));
        const __m256i ls = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
        // int16 [s0..s3 s0..s3 | s4..s7 s4..s7] -> [s0..s7] in both lanes
        const __m256i s16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(ls, ls), 0x88);
        w.s[0] = bcast16<0>(s16);
        w.s[1] = bcast16<1>(s16);
        w.s[2] = bcast16<2>(s16);
        w.s[3] = bcast16<3>(s16);
        w.s[4] = bcast16<4>(s16);
        w.s[5] = bcast16<5>(s16);
        w.s[6] = bcast16<6>(s16);
        w.s[7] = bcast16<7>(s16);
        const __m256i levels =
            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::k_iq4nl)));
        const __m256i shift = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4), m4 = _mm256_set1_epi8(0x0F);
        const uint8_t* qs = p + offsetof(B, qs);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
            // 16 bytes in both lanes: low nibbles (elements 0..15) in lane 0, high nibbles (16..31) in lane 1
            const __m256i v =
                _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * j)));
            const __m256i lv = _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srlv_epi32(v, shift), m4));
            w.sg[j] = lv;
            w.q[j] = _mm256_abs_epi8(lv);
        }
    }
};

// sc-weighted products of weight vector c with 32 activation codes, added to acc (int32 x 8).
template <class Q>
inline __m256i dot(const wblock& w, int c, const uint8_t* xqs, __m256i acc) {
    __m256i x = loadu(xqs);
    if constexpr (Q::is_signed) x = _mm256_sign_epi8(x, w.sg[c]);  // |w| * (x * sign(w)); levels are never 0
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w.q[c], x), w.s[c]));
}

constexpr int PF_LINES = 4;  // cache lines prefetched per weight block (the largest block, Q6_K, spans 4)
constexpr int PF_ROWS = 4;   // prefetch distance in rows

// One weight row times T tokens; y[t*ldy] = result for token t. x0 points at the first token's activation row.
template <class Q, int T>
void row_tile(const uint8_t* row, const uint8_t* pf, const uint8_t* x0, size_t xrb, int64_t nb, float* y, int64_t ldy) {
    __m256 facc[T];
    for (int t = 0; t < T; ++t) facc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* pfb = pf + size_t(b) * Q::block_bytes;
        for (int l = 0; l < PF_LINES; ++l) _mm_prefetch(reinterpret_cast<const char*>(pfb + 64 * l), _MM_HINT_T0);
        wblock w;
        Q::prep(row + size_t(b) * Q::block_bytes, w);
        const uint8_t* xb = x0 + size_t(b) * X_BYTES;
        __m256i acc[T];
        for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c)
            for (int t = 0; t < T; ++t) acc[t] = dot<Q>(w, c, xb + size_t(t) * xrb + X_QS + 32 * c, acc[t]);
        for (int t = 0; t < T; ++t) {
            const uint8_t* xt = xb + size_t(t) * xrb;
            const float dx = load_f32(xt + X_D);
            if constexpr (Q::has_bias) acc[t] = _mm256_sub_epi32(acc[t], _mm256_madd_epi16(w.aux, loadu(xt + X_BS)));
            facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[t]), _mm256_set1_ps(w.d * dx), facc[t]);
            if constexpr (Q::has_min)
                facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(w.aux, loadu(xt + X_BS))),
                                          _mm256_set1_ps(-w.dmin * dx), facc[t]);
        }
    }
    for (int t = 0; t < T; ++t) y[t * ldy] = hsum(facc[t]);
}

// Rows outer, token tiles of 4 inner: a row's weights stay in L1 while every token tile uses them.
template <class Q>
void matmul_rows(const void* w, size_t w_row_bytes, int64_t n_rows, const void* xq, size_t xq_row_bytes, int64_t n_tok,
                 float* y, int64_t ldy, int64_t n) {
    const int64_t nb = n / QK_K;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xq);
    for (int64_t r = 0; r < n_rows; ++r) {
        const uint8_t* row = wb + size_t(r) * w_row_bytes;
        const uint8_t* pf = row + PF_ROWS * w_row_bytes;  // rows ahead (prefetch never faults)
        int64_t t = 0;
        for (; t + 8 <= n_tok; t += 8)
            row_tile<Q, 8>(row, pf, xb + size_t(t) * xq_row_bytes, xq_row_bytes, nb, y + t * ldy + r, ldy);
        if (t + 4 <= n_tok) {
            row_tile<Q, 4>(row, pf, xb + size_t(t) * xq_row_bytes, xq_row_bytes, nb, y + t * ldy + r, ldy);
            t += 4;
        }
        const uint8_t* xt = xb + size_t(t) * xq_row_bytes;
        switch (n_tok - t) {
            case 3:
                row_tile<Q, 3>(row, pf, xt, xq_row_bytes, nb, y + t * ldy + r, ldy);
                break;
            case 2:
                row_tile<Q, 2>(row, pf, xt, xq_row_bytes, nb, y + t * ldy + r, ldy);
                break;
            case 1:
                row_tile<Q, 1>(row, pf, xt, xq_row_bytes, nb, y + t * ldy + r, ldy);
                break;
            default:
                break;
        }
    }
}

// Q8_K: d = max|x| / 127, q = round-to-nearest-even(x / d) clamped to [-127, 127], bsums over 16-element groups.
void quantize_row_q8_k(const float* x, void* vy, int64_t n) {
    uint8_t* out = static_cast<uint8_t*>(vy);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K, out += X_BYTES) {
        __m256 amax = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8) amax = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), amax);
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float d = _mm_cvtss_f32(m) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const __m256 vid = _mm256_set1_ps(id), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
        // Clamped as floats, as the reference does, so x * id = +-inf (d subnormal) also gives +-127.
        auto code = [&](const float* p) {
            return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(p), vid), lo), hi));
        };
        __m256i part[8];  // per 32 codes: int32 sums of 4-code runs (lanes 0-3: first group, 4-7: second)
        for (int j = 0; j < 8; ++j) {
            const float* xj = x + 32 * j;
            const __m256i a = code(xj), b = code(xj + 8), c = code(xj + 16), e = code(xj + 24);
            const __m256i q = _mm256_permutevar8x32_epi32(
                _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, e)), perm);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + X_QS + 32 * j), q);
            part[j] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
        }
        std::memcpy(out + X_D, &d, 4);
        // [g0 g2 g4 g6 | g1 g3 g5 g7] and [g8 .. g14 | g9 .. g15] -> int16 g0 .. g15
        const __m256i s0 = _mm256_hadd_epi32(_mm256_hadd_epi32(part[0], part[1]), _mm256_hadd_epi32(part[2], part[3]));
        const __m256i s1 = _mm256_hadd_epi32(_mm256_hadd_epi32(part[4], part[5]), _mm256_hadd_epi32(part[6], part[7]));
        const __m256i p16 = _mm256_packs_epi32(s0, s1);  // [g0 g2 .. g14 | g1 g3 .. g15]
        const __m128i ev = _mm256_castsi256_si128(p16), od = _mm256_extracti128_si256(p16, 1);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + X_BS), _mm_unpacklo_epi16(ev, od));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + X_BS + 16), _mm_unpackhi_epi16(ev, od));
    }
}

}  // namespace

void fill_quant_k(table& t) {
    t.quantize_row_q8_k = quantize_row_q8_k;
    t.matmul_rows_q4_k = matmul_rows<q4_k>;
    t.matmul_rows_q5_k = matmul_rows<q5_k>;
    t.matmul_rows_q6_k = matmul_rows<q6_k>;
    t.matmul_rows_iq4_xs = matmul_rows<iq4_xs>;
}

}  // namespace fathom::kernels::avx2

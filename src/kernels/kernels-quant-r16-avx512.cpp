// AVX-512 (F/BW/VL/DQ) R16 kernels: the activation panel quantiser (bit-exact with the scalar one) and the 16-row
// interleaved Q4_0 / Q4_1 / Q8_0 / IQ4_NL / Q4_K / IQ4_XS / Q6_K matmuls. One ZMM holds 4 code bytes of each of a
// group's 16 rows, so lane r of every int32 / F32 vector is row r; dot products by maddubs + madd against 4 broadcast
// activation bytes, each unpacked weight vector reused for all tokens of a panel.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() and then trip -Wuninitialized (GCC PR105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <climits>
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels::avx512 {

namespace {

using quant::QK;
constexpr size_t k_pb = k_r16_panel_block_bytes;

inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
inline __m512i load512(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __m512i bcast32(const uint8_t* p) { return _mm512_set1_epi32(int(load_u32(p))); }
// An opaque step in an integer accumulation chain: the compiler may not reassociate the adds across it. Without it
// GCC rebalances each block's chain of maddubs sums into a tree, keeps every product live at once and spills.
inline void chain(__m512i& v) { __asm__("" : "+v"(v)); }

// ---- activation panel quantiser

inline float hmax(__m512 v) {
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_cvtss_f32(v);
}
inline int32_t hsum_epi32(__m512i v) {
    __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s4);
}

// As the scalar reference, per token and block: amax = max|x| with NaN left out (maxps returns its second operand
// when either is NaN), d = amax / 127, id = 127 / amax (0 when amax is 0), code = round-to-nearest-even(x * id)
// converted to int32 and cut to 8 bits, which is what the reference's int8_t(nearbyint(.)) compiles to on x86: a
// product that is NaN or outside the int32 range (only from non-finite input or an infinite id) gives code 0.
void quantize_panel_q8(const float* x, int64_t ldx, int64_t n_tok, void* panel, int64_t n, int32_t sum_mode) {
    uint8_t* p = static_cast<uint8_t*>(panel);
    const int64_t nb = n / QK;
    const int nt = int(std::clamp<int64_t>(n_tok, 0, k_r16_panel));
    const __m512i bad = _mm512_set1_epi32(INT_MIN);
    for (int64_t b = 0; b < nb; ++b) {
        uint8_t* pb = p + size_t(b) * k_pb;
        for (int t = 0; t < nt; ++t) {
            const float* xb = x + t * ldx + b * QK;
            const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
            const __m512 m = _mm512_max_ps(_mm512_abs_ps(v1), _mm512_max_ps(_mm512_abs_ps(v0), _mm512_setzero_ps()));
            const float amax = hmax(m);
            const float d = amax / 127.0f;
            const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
            const __m512 idv = _mm512_set1_ps(id);
            __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, idv));  // MXCSR default: to nearest even
            __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, idv));
            q0 = _mm512_maskz_mov_epi32(_mm512_cmpneq_epi32_mask(q0, bad), q0);
            q1 = _mm512_maskz_mov_epi32(_mm512_cmpneq_epi32_mask(q1, bad), q1);
            const int32_t sum = hsum_epi32(_mm512_add_epi32(q0, q1));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(pb + 32 * t), _mm512_cvtepi32_epi8(q0));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(pb + 32 * t + 16), _mm512_cvtepi32_epi8(q1));
            std::memcpy(pb + 256 + 4 * t, &d, 4);
            if (sum_mode == k_r16_sum_halves) {
                const int32_t lo = hsum_epi32(q0);
                const int16_t h[2] = {int16_t(lo), int16_t(sum - lo)};
                std::memcpy(pb + 288 + 4 * t, h, 4);
            } else if (sum_mode > 0) {
                const int32_t s = -sum_mode * sum;
                std::memcpy(pb + 288 + 4 * t, &s, 4);
            } else {
                const float s = d * float(sum);
                std::memcpy(pb + 288 + 4 * t, &s, 4);
            }
        }
        for (int t = nt; t < k_r16_panel; ++t) {
            std::memset(pb + 32 * t, 0, 32);
            std::memset(pb + 256 + 4 * t, 0, 4);
            std::memset(pb + 288 + 4 * t, 0, 4);
        }
    }
}

// ---- matmuls

enum class r16 { Q4_0, Q4_1, Q8_0, IQ4_NL };

template <r16 K>
constexpr size_t block_bytes() { return K == r16::Q8_0 ? 544 : K == r16::Q4_1 ? 320 : 288; }
template <r16 K>
constexpr size_t code_offset() { return K == r16::Q4_1 ? 64 : 32; }

// maddubs multiplies unsigned by signed bytes and adds pairs into int16 with saturation.
// Q4_0 / Q4_1: nibble codes 0..15 times activation codes (|q| <= 127, 128 allowed): a pair is at most 3840, so the
// eight maddubs of a block add up in int16 (at most 30720) before one madd to int32. The Q4_0 offset comes from the
// panel's sum word (-8 * sum of the codes).
// Q8_0 / IQ4_NL: the signed weight value w (codes XOR 0x80, or the IQ4_NL level) as |w| times x negated where w < 0;
// a pair is at most 2 * 128 * 127 (activation codes must stay within +-127, as the quantiser writes them), and each
// maddubs goes through madd to int32 at once. The panel's sum word is not needed.
template <r16 K, int T>
void panel_tile(const uint8_t* wg, const uint8_t* xp, int64_t nb, float* y, int64_t ldy, __mmask16 rows,
                const uint8_t* pf) {
    constexpr size_t bb = block_bytes<K>();
    constexpr size_t co = code_offset<K>();
    const __m512i ones = _mm512_set1_epi16(1);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = wg + size_t(b) * bb;
        const uint8_t* xb = xp + size_t(b) * k_pb;
        if (pf) {
            for (size_t o = 0; o < bb; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(pf + size_t(b) * bb + o), _MM_HINT_T1);
        }
        __m512i isum[T];
        if constexpr (K == r16::Q4_0 || K == r16::Q4_1) {
            for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
            for (int j = 0; j < 4; ++j) {
                const __m512i v = load512(blk + co + 64 * j);
                const __m512i lo = _mm512_and_si512(v, m4);
                const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                for (int t = 0; t < T; ++t) {
                    const __m512i pl = _mm512_maddubs_epi16(lo, bcast32(xb + 32 * t + 4 * j));
                    const __m512i ph = _mm512_maddubs_epi16(hi, bcast32(xb + 32 * t + 16 + 4 * j));
                    isum[t] = _mm512_add_epi16(isum[t], _mm512_add_epi16(pl, ph));
                    chain(isum[t]);
                }
            }
            for (int t = 0; t < T; ++t) {
                isum[t] = _mm512_madd_epi16(isum[t], ones);
                if constexpr (K == r16::Q4_0) isum[t] = _mm512_add_epi32(isum[t], bcast32(xb + 288 + 4 * t));
            }
        } else if constexpr (K == r16::Q8_0) {
            for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
            const __m512i flip = _mm512_set1_epi8(char(0x80));
            for (int j = 0; j < 8; ++j) {
                const __m512i w = _mm512_xor_si512(load512(blk + co + 64 * j), flip);
                const __m512i a = _mm512_abs_epi8(w);
                const __mmask64 neg = _mm512_movepi8_mask(w);
                for (int t = 0; t < T; ++t) {
                    const __m512i xv = bcast32(xb + 32 * t + 4 * j);
                    const __m512i xs = _mm512_mask_sub_epi8(xv, neg, _mm512_setzero_si512(), xv);
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_madd_epi16(_mm512_maddubs_epi16(a, xs), ones));
                    chain(isum[t]);
                }
            }
        } else {
            for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
            const __m512i levels = _mm512_broadcast_i32x4(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::k_iq4nl)));
            for (int j = 0; j < 4; ++j) {
                const __m512i v = load512(blk + co + 64 * j);
                const __m512i wl = _mm512_shuffle_epi8(levels, _mm512_and_si512(v, m4));
                const __m512i wh = _mm512_shuffle_epi8(levels, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
                const __m512i al = _mm512_abs_epi8(wl), ah = _mm512_abs_epi8(wh);
                const __mmask64 nl = _mm512_movepi8_mask(wl), nh = _mm512_movepi8_mask(wh);
                for (int t = 0; t < T; ++t) {
                    const __m512i xl = bcast32(xb + 32 * t + 4 * j);
                    const __m512i xh = bcast32(xb + 32 * t + 16 + 4 * j);
                    const __m512i sl = _mm512_mask_sub_epi8(xl, nl, _mm512_setzero_si512(), xl);
                    const __m512i sh = _mm512_mask_sub_epi8(xh, nh, _mm512_setzero_si512(), xh);
                    const __m512i pl = _mm512_madd_epi16(_mm512_maddubs_epi16(al, sl), ones);
                    const __m512i ph = _mm512_madd_epi16(_mm512_maddubs_epi16(ah, sh), ones);
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(pl, ph));
                    chain(isum[t]);
                }
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
        for (int t = 0; t < T; ++t) {
            const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(load_f32(xb + 256 + 4 * t)));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), scale, acc[t]);
        }
        if constexpr (K == r16::Q4_1) {
            const __m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32)));
            for (int t = 0; t < T; ++t)
                acc[t] = _mm512_fmadd_ps(dm, _mm512_set1_ps(load_f32(xb + 288 + 4 * t)), acc[t]);
        }
    }
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * ldy, rows, acc[t]);
}

// Groups of 16 rows, each over every panel (its weights stay in L1/L2 for the panels after the first), each panel
// block by block. The first panel of a group prefetches the next group's weights into L2, block for block (one group
// ahead covers DRAM latency in decode; L1 would not hold a group of a long row).
template <r16 K>
void matmul_r16(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    if (n_rows <= 0 || n_tok <= 0) return;
    constexpr size_t bb = block_bytes<K>();
    const int64_t nb = n / QK;
    const int64_t groups = (n_rows + k_r16_rows - 1) / k_r16_rows;
    const size_t group_bytes = size_t(nb) * bb, panel_bytes = size_t(nb) * k_pb;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xp);
    for (int64_t g = 0; g < groups; ++g) {
        const uint8_t* wg = wb + size_t(g) * group_bytes;
        const int64_t valid = std::min<int64_t>(k_r16_rows, n_rows - g * k_r16_rows);
        const __mmask16 rows = __mmask16((1u << valid) - 1u);
        const uint8_t* next = g + 1 < groups ? wg + group_bytes : nullptr;
        for (int64_t t0 = 0; t0 < n_tok; t0 += k_r16_panel) {
            const uint8_t* xpan = xb + size_t(t0 / k_r16_panel) * panel_bytes;
            float* yp = y + t0 * ldy + g * k_r16_rows;
            const uint8_t* pf = t0 == 0 ? next : nullptr;
            switch (std::min<int64_t>(k_r16_panel, n_tok - t0)) {
                case 1: panel_tile<K, 1>(wg, xpan, nb, yp, ldy, rows, pf); break;
                case 2: panel_tile<K, 2>(wg, xpan, nb, yp, ldy, rows, pf); break;
                case 3: panel_tile<K, 3>(wg, xpan, nb, yp, ldy, rows, pf); break;
                case 4: panel_tile<K, 4>(wg, xpan, nb, yp, ldy, rows, pf); break;
                case 5: panel_tile<K, 5>(wg, xpan, nb, yp, ldy, rows, pf); break;
                case 6: panel_tile<K, 6>(wg, xpan, nb, yp, ldy, rows, pf); break;
                case 7: panel_tile<K, 7>(wg, xpan, nb, yp, ldy, rows, pf); break;
                default: panel_tile<K, 8>(wg, xpan, nb, yp, ldy, rows, pf); break;
            }
        }
    }
}

// ---- Q4_K: 2368-byte super-blocks of 256 elements per group (layout in kernels.h)

constexpr size_t k_q4k_block = 2368;

// 16 unsigned bytes (a sub-block's scales or mins of the 16 rows) as F32 times f.
inline __m512 u8x16_times(const uint8_t* p, __m512 f) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm512_mul_ps(f, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)));
}

// Sub-block j (HI: odd, the high nibbles of its chunk) of super-block blk times T tokens of the activation block xj,
// added into acc: d * scale_j * d_x * sum(code * x) - dmin * min_j * (d_x * sum(x)). Nibble codes 0..15 times
// activation codes (|q| <= 128): an int16 lane adds 2 products per maddubs, at most 2 * 15 * 128 = 3840, and the 8
// words of a sub-block add up to at most 30720 before one madd to int32: exact.
template <int T, bool HI>
inline void q4k_sub_block(const uint8_t* blk, int j, const uint8_t* xj, __m512 d, __m512 dmin, __m512 (&acc)[T]) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i ones = _mm512_set1_epi16(1);
    const uint8_t* codes = blk + 320 + 512 * (j / 2);
    __m512i isum[T];
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
    for (int w = 0; w < 8; ++w) {
        const __m512i v = load512(codes + 64 * w);
        const __m512i q = HI ? _mm512_and_si512(_mm512_srli_epi16(v, 4), m4) : _mm512_and_si512(v, m4);
        for (int t = 0; t < T; ++t) {
            isum[t] = _mm512_add_epi16(isum[t], _mm512_maddubs_epi16(q, bcast32(xj + 32 * t + 4 * w)));
            chain(isum[t]);
        }
    }
    const __m512 sc = u8x16_times(blk + 64 + 16 * j, d);
    const __m512 mn = u8x16_times(blk + 192 + 16 * j, dmin);
    for (int t = 0; t < T; ++t) {
        const __m512 s = _mm512_cvtepi32_ps(_mm512_madd_epi16(isum[t], ones));
        acc[t] = _mm512_fmadd_ps(s, _mm512_mul_ps(sc, _mm512_set1_ps(load_f32(xj + 256 + 4 * t))), acc[t]);
        acc[t] = _mm512_fnmadd_ps(mn, _mm512_set1_ps(load_f32(xj + 288 + 4 * t)), acc[t]);
    }
}

// One group times T tokens of a panel, all nsb super-blocks; each sub-block's nibbles unpacked once for the T tokens.
template <int T>
void panel_tile_q4_k(const uint8_t* wg, const uint8_t* xp, int64_t nsb, float* y, int64_t ldy, __mmask16 rows,
                     const uint8_t* pf) {
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * k_q4k_block;
        if (pf) {
            for (size_t o = 0; o < k_q4k_block; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(pf + size_t(sb) * k_q4k_block + o), _MM_HINT_T1);
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32)));
        const uint8_t* xs = xp + size_t(sb) * 8 * k_pb;
        for (int c = 0; c < 4; ++c) {
            q4k_sub_block<T, false>(blk, 2 * c, xs + size_t(2 * c) * k_pb, d, dmin, acc);
            q4k_sub_block<T, true>(blk, 2 * c + 1, xs + size_t(2 * c + 1) * k_pb, d, dmin, acc);
        }
    }
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * ldy, rows, acc[t]);
}

// ---- IQ4_XS: 2208-byte super-blocks of 256 elements per group (layout in kernels.h)

constexpr size_t k_iq4xs_block = 2208;

// One group times T tokens of a panel, all nsb super-blocks. Per 32-element sub-block j the IQ4_NL tile's work: the
// signed level w as |w| times x negated where w < 0 (a pair is at most 2 * 127 * 127, so each maddubs goes through
// madd to int32 at once; the panel's sum word is not needed), scaled by d * (ls_j - 32) * d_x.
template <int T>
void panel_tile_iq4_xs(const uint8_t* wg, const uint8_t* xp, int64_t nsb, float* y, int64_t ldy, __mmask16 rows,
                       const uint8_t* pf) {
    const __m512i ones = _mm512_set1_epi16(1);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i levels = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::k_iq4nl)));
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * k_iq4xs_block;
        if (pf) {
            for (size_t o = 0; o < k_iq4xs_block; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(pf + size_t(sb) * k_iq4xs_block + o), _MM_HINT_T1);
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
        for (int j = 0; j < 8; ++j) {
            const uint8_t* codes = blk + 160 + 256 * j;
            const uint8_t* xj = xp + size_t(sb * 8 + j) * k_pb;
            __m512i isum[T];
            for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
            for (int w = 0; w < 4; ++w) {
                const __m512i v = load512(codes + 64 * w);
                const __m512i wl = _mm512_shuffle_epi8(levels, _mm512_and_si512(v, m4));
                const __m512i wh = _mm512_shuffle_epi8(levels, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
                const __m512i al = _mm512_abs_epi8(wl), ah = _mm512_abs_epi8(wh);
                const __mmask64 nl = _mm512_movepi8_mask(wl), nh = _mm512_movepi8_mask(wh);
                for (int t = 0; t < T; ++t) {
                    const __m512i xl = bcast32(xj + 32 * t + 4 * w);
                    const __m512i xh = bcast32(xj + 32 * t + 16 + 4 * w);
                    const __m512i sl = _mm512_mask_sub_epi8(xl, nl, _mm512_setzero_si512(), xl);
                    const __m512i sh = _mm512_mask_sub_epi8(xh, nh, _mm512_setzero_si512(), xh);
                    const __m512i pl = _mm512_madd_epi16(_mm512_maddubs_epi16(al, sl), ones);
                    const __m512i ph = _mm512_madd_epi16(_mm512_maddubs_epi16(ah, sh), ones);
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(pl, ph));
                    chain(isum[t]);
                }
            }
            const __m128i ls = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 32 + 16 * j));
            const __m512 sc =
                _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(ls), _mm512_set1_epi32(32))));
            for (int t = 0; t < T; ++t) {
                const __m512 f = _mm512_mul_ps(sc, _mm512_set1_ps(load_f32(xj + 256 + 4 * t)));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), f, acc[t]);
            }
        }
    }
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * ldy, rows, acc[t]);
}

// ---- Q6_K: 3360-byte super-blocks of 256 elements per group (layout in kernels.h)

constexpr size_t k_q6k_block = 3360;

// 16 int8 values (one byte per row) a and b as int16 pairs per int32 lane: (a_r, b_r) for row r.
inline __m512i i8_pairs(__m128i a, __m128i b) {
    const __m256i ab = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(a, b)),
                                               _mm_unpackhi_epi8(a, b), 1);
    return _mm512_cvtepi8_epi16(ab);
}

// Panel block pbk (0..7) of super-block blk: the low (HI false) or high nibbles of chunk pbk / 2, i.e. 16-element
// sub-blocks j0 = 2 * pbk (code words 0-3) and j0 + 1 (words 4-7), times T tokens of the activation block xj, added
// into acc. Codes 0..63 (the nibble, with the word's two high bits moved to bits 4-5) times activation codes
// (|q| <= 128): a maddubs pair is at most 2 * 63 * 128 = 16128, so two words add up in int16 (at most 32256); madd
// then multiplies that by the row's int16 sub-block scale instead of ones, so the block's integer sum is
// sum_j scale_j * sum(code * x), at most 32 * 63 * 128 * 128 in size. It starts from
// -32 * (scale_j0 * sum(x[0..16)) + scale_j0+1 * sum(x[16..32))): one madd of the row's two scales times -32 against
// the panel's two int16 half sums. One F32 multiply by d * d_x per block.
template <int T, bool HI>
inline void q6k_block(const uint8_t* blk, int pbk, const uint8_t* xj, __m512 d, __m512 (&acc)[T]) {
    constexpr int k_or_and = 0xEC;  // vpternlog: (A & C) | B
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i m30 = _mm512_set1_epi8(0x30);
    const uint8_t* chunk = blk + 288 + 768 * (pbk / 2);
    const int j0 = 2 * pbk;
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 32 + 16 * j0));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 48 + 16 * j0));
    const __m512i sc0 = i8_pairs(a, a), sc1 = i8_pairs(b, b);
    const __m512i bias = _mm512_sub_epi16(_mm512_setzero_si512(), _mm512_slli_epi16(i8_pairs(a, b), 5));
    __m512i s[T];
    for (int t = 0; t < T; ++t) s[t] = _mm512_madd_epi16(bias, bcast32(xj + 288 + 4 * t));
    for (int p = 0; p < 4; ++p) {  // code words 2p and 2p + 1; their high bits share one 64-byte row of bytes
        const __m512i v0 = load512(chunk + 128 * p), v1 = load512(chunk + 128 * p + 64);
        const __m512i hq = load512(chunk + 512 + 64 * p);
        __m512i c0, c1;
        if constexpr (HI) {
            c0 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v0, 4), _mm512_and_si512(_mm512_slli_epi16(hq, 2), m30),
                                           m4, k_or_and);  // high bits 2-3
            c1 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v1, 4), _mm512_and_si512(_mm512_srli_epi16(hq, 2), m30),
                                           m4, k_or_and);  // high bits 6-7
        } else {
            c0 = _mm512_ternarylogic_epi32(v0, _mm512_and_si512(_mm512_slli_epi16(hq, 4), m30), m4, k_or_and);
            c1 = _mm512_ternarylogic_epi32(v1, _mm512_and_si512(hq, m30), m4, k_or_and);  // bits 0-1, 4-5
        }
        const __m512i sc = p < 2 ? sc0 : sc1;
        for (int t = 0; t < T; ++t) {
            const __m512i m = _mm512_add_epi16(_mm512_maddubs_epi16(c0, bcast32(xj + 32 * t + 8 * p)),
                                               _mm512_maddubs_epi16(c1, bcast32(xj + 32 * t + 8 * p + 4)));
            s[t] = _mm512_add_epi32(s[t], _mm512_madd_epi16(m, sc));
            chain(s[t]);
        }
    }
    for (int t = 0; t < T; ++t) {
        const __m512 f = _mm512_mul_ps(d, _mm512_set1_ps(load_f32(xj + 256 + 4 * t)));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), f, acc[t]);
    }
}

// One group times T tokens of a panel, all nsb super-blocks; each chunk's codes are unpacked twice (low nibbles,
// then high nibbles), each time once for the T tokens.
template <int T>
void panel_tile_q6_k(const uint8_t* wg, const uint8_t* xp, int64_t nsb, float* y, int64_t ldy, __mmask16 rows,
                     const uint8_t* pf) {
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * k_q6k_block;
        if (pf) {
            for (size_t o = 0; o < k_q6k_block; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(pf + size_t(sb) * k_q6k_block + o), _MM_HINT_T1);
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
        const uint8_t* xs = xp + size_t(sb) * 8 * k_pb;
        for (int c = 0; c < 4; ++c) {
            q6k_block<T, false>(blk, 2 * c, xs + size_t(2 * c) * k_pb, d, acc);
            q6k_block<T, true>(blk, 2 * c + 1, xs + size_t(2 * c + 1) * k_pb, d, acc);
        }
    }
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * ldy, rows, acc[t]);
}

// ---- the super-block driver (Q4_K, IQ4_XS, Q6_K)

// The tiles of one super-block type: its bytes per 256-element super-block and run<T> = its panel tile.
struct q4_k_tiles {
    static constexpr size_t bytes = k_q4k_block;
    template <int T>
    static void run(const uint8_t* wg, const uint8_t* xp, int64_t nsb, float* y, int64_t ldy, __mmask16 rows,
                    const uint8_t* pf) {
        panel_tile_q4_k<T>(wg, xp, nsb, y, ldy, rows, pf);
    }
};
struct iq4_xs_tiles {
    static constexpr size_t bytes = k_iq4xs_block;
    template <int T>
    static void run(const uint8_t* wg, const uint8_t* xp, int64_t nsb, float* y, int64_t ldy, __mmask16 rows,
                    const uint8_t* pf) {
        panel_tile_iq4_xs<T>(wg, xp, nsb, y, ldy, rows, pf);
    }
};
struct q6_k_tiles {
    static constexpr size_t bytes = k_q6k_block;
    template <int T>
    static void run(const uint8_t* wg, const uint8_t* xp, int64_t nsb, float* y, int64_t ldy, __mmask16 rows,
                    const uint8_t* pf) {
        panel_tile_q6_k<T>(wg, xp, nsb, y, ldy, rows, pf);
    }
};

// As matmul_r16 above, per 256-element super-block.
template <class K>
void matmul_r16_super(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy,
                      int64_t n) {
    if (n_rows <= 0 || n_tok <= 0) return;
    const int64_t nsb = n / quant::QK_K;
    const int64_t groups = (n_rows + k_r16_rows - 1) / k_r16_rows;
    const size_t group_bytes = size_t(nsb) * K::bytes, panel_bytes = size_t(n / QK) * k_pb;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xp);
    for (int64_t g = 0; g < groups; ++g) {
        const uint8_t* wg = wb + size_t(g) * group_bytes;
        const int64_t valid = std::min<int64_t>(k_r16_rows, n_rows - g * k_r16_rows);
        const __mmask16 rows = __mmask16((1u << valid) - 1u);
        const uint8_t* next = g + 1 < groups ? wg + group_bytes : nullptr;
        for (int64_t t0 = 0; t0 < n_tok; t0 += k_r16_panel) {
            const uint8_t* xpan = xb + size_t(t0 / k_r16_panel) * panel_bytes;
            float* yp = y + t0 * ldy + g * k_r16_rows;
            const uint8_t* pf = t0 == 0 ? next : nullptr;
            switch (std::min<int64_t>(k_r16_panel, n_tok - t0)) {
                case 1: K::template run<1>(wg, xpan, nsb, yp, ldy, rows, pf); break;
                case 2: K::template run<2>(wg, xpan, nsb, yp, ldy, rows, pf); break;
                case 3: K::template run<3>(wg, xpan, nsb, yp, ldy, rows, pf); break;
                case 4: K::template run<4>(wg, xpan, nsb, yp, ldy, rows, pf); break;
                case 5: K::template run<5>(wg, xpan, nsb, yp, ldy, rows, pf); break;
                case 6: K::template run<6>(wg, xpan, nsb, yp, ldy, rows, pf); break;
                case 7: K::template run<7>(wg, xpan, nsb, yp, ldy, rows, pf); break;
                default: K::template run<8>(wg, xpan, nsb, yp, ldy, rows, pf); break;
            }
        }
    }
}

}  // namespace

void fill_quant_r16(table& t) {
    t.quantize_panel_q8 = quantize_panel_q8;
    t.matmul_r16_q4_0 = matmul_r16<r16::Q4_0>;
    t.matmul_r16_q4_1 = matmul_r16<r16::Q4_1>;
    t.matmul_r16_q8_0 = matmul_r16<r16::Q8_0>;
    t.matmul_r16_iq4_nl = matmul_r16<r16::IQ4_NL>;
    t.matmul_r16_q4_k = matmul_r16_super<q4_k_tiles>;
    t.matmul_r16_iq4_xs = matmul_r16_super<iq4_xs_tiles>;
    t.matmul_r16_q6_k = matmul_r16_super<q6_k_tiles>;
}

}  // namespace fathom::kernels::avx512

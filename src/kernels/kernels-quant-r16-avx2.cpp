// AVX2 (+FMA, F16C) R16 kernels: the activation panel quantiser (bit-exact with the scalar one) and the 16-row
// interleaved Q4_0 / Q4_1 / Q8_0 / IQ4_NL / Q4_K / IQ4_XS / Q6_K matmuls. A YMM holds 4 code bytes of 8 rows (half a
// group), so lane r of every int32 / F32 vector is one row; dot products by maddubs + madd against 4 broadcast
// activation bytes, each unpacked weight vector reused for up to 4 tokens of a panel (sixteen YMM registers).
#include <immintrin.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels::avx2 {

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
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i bcast32(const uint8_t* p) { return _mm256_set1_epi32(int(load_u32(p))); }
// An opaque step in an integer accumulation chain: the compiler may not reassociate the adds across it. Without it
// GCC rebalances each block's chain of maddubs sums into a tree, keeps every product live at once and spills.
inline void chain(__m256i& v) { __asm__("" : "+x"(v)); }

// ---- activation panel quantiser

// As the scalar reference, per token and block: amax = max|x| with NaN left out (maxps returns its second operand
// when either is NaN), d = amax / 127, id = 127 / amax (0 when amax is 0), code = round-to-nearest-even(x * id)
// converted to int32 and cut to 8 bits, which is what the reference's int8_t(nearbyint(.)) compiles to on x86: a
// product that is NaN or outside the int32 range (only from non-finite input or an infinite id) gives code 0.
void quantize_panel_q8(const float* x, int64_t ldx, int64_t n_tok, void* panel, int64_t n, int32_t sum_mode) {
    uint8_t* p = static_cast<uint8_t*>(panel);
    const int64_t nb = n / QK;
    const int nt = int(std::clamp<int64_t>(n_tok, 0, k_r16_panel));
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i bad = _mm256_set1_epi32(INT_MIN);
    for (int64_t b = 0; b < nb; ++b) {
        uint8_t* pb = p + size_t(b) * k_pb;
        for (int t = 0; t < nt; ++t) {
            const float* xb = x + t * ldx + b * QK;
            __m256 v[4];
            for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(xb + 8 * i);
            __m256 m = _mm256_setzero_ps();
            for (int i = 0; i < 4; ++i) m = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), m);
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
            const float amax = _mm_cvtss_f32(m4);
            const float d = amax / 127.0f;
            const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
            const __m256 idv = _mm256_set1_ps(id);
            __m256i q[4];
            for (int i = 0; i < 4; ++i) {
                q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], idv));  // MXCSR default: to nearest even
                q[i] = _mm256_andnot_si256(_mm256_cmpeq_epi32(q[i], bad), q[i]);
            }
            const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
            const int32_t sum = _mm_cvtsi128_si32(s4);
            // every code is within [-127, 127] now, so the saturating packs are exact; they interleave the 128-bit
            // lanes as [q0lo q1lo q2lo q3lo | q0hi q1hi q2hi q3hi] in 4-byte groups
            const __m256i p8 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(pb + 32 * t),
                                _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
            std::memcpy(pb + 256 + 4 * t, &d, 4);
            if (sum_mode == k_r16_sum_halves) {
                const __m256i sl = _mm256_add_epi32(q[0], q[1]);
                __m128i l4 = _mm_add_epi32(_mm256_castsi256_si128(sl), _mm256_extracti128_si256(sl, 1));
                l4 = _mm_add_epi32(l4, _mm_shuffle_epi32(l4, _MM_SHUFFLE(1, 0, 3, 2)));
                l4 = _mm_add_epi32(l4, _mm_shuffle_epi32(l4, _MM_SHUFFLE(2, 3, 0, 1)));
                const int32_t lo = _mm_cvtsi128_si32(l4);
                const int16_t h[2] = {int16_t(lo), int16_t(sum - lo)};
                std::memcpy(pb + 288 + 4 * t, h, 4);
            } else if (sum_mode > 0) {
                const int32_t sw = -sum_mode * sum;
                std::memcpy(pb + 288 + 4 * t, &sw, 4);
            } else {
                const float sw = d * float(sum);
                std::memcpy(pb + 288 + 4 * t, &sw, 4);
            }
        }
        for (int t = nt; t < k_r16_panel; ++t) {
            std::memset(pb + 32 * t, 0, 32);
            std::memset(pb + 256 + 4 * t, 0, 4);
            std::memset(pb + 288 + 4 * t, 0, 4);
        }
    }
}

// Writes T token rows of the outputs of H halves from h0 (rows 8h..8h+7 of the group; only those below valid).
template <int H, int T>
inline void store_tile(float* y, int64_t ldy, int h0, int valid, const __m256 (&acc)[H][T]) {
    for (int h = 0; h < H; ++h) {
        const int rows = std::min(8, valid - 8 * (h0 + h));
        float* yh = y + 8 * (h0 + h);
        if (rows >= 8) {
            for (int t = 0; t < T; ++t) _mm256_storeu_ps(yh + t * ldy, acc[h][t]);
        } else {
            const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            for (int t = 0; t < T; ++t) _mm256_maskstore_ps(yh + t * ldy, mask, acc[h][t]);
        }
    }
}

// ---- matmuls

enum class r16 { Q4_0, Q4_1, Q8_0, IQ4_NL };

template <r16 K>
constexpr size_t block_bytes() { return K == r16::Q8_0 ? 544 : K == r16::Q4_1 ? 320 : 288; }
template <r16 K>
constexpr size_t code_offset() { return K == r16::Q4_1 ? 64 : 32; }

// H halves of a group (8 rows each, starting at half h0) times T tokens of a panel (starting at slot t0).
// maddubs multiplies unsigned by signed bytes and adds pairs into int16 with saturation.
// Q4_0 / Q4_1: nibble codes 0..15 times activation codes (|q| <= 127, 128 allowed): a pair is at most 3840, so the
// eight maddubs of a block add up in int16 (at most 30720) before one madd to int32. The Q4_0 offset comes from the
// panel's sum word (-8 * sum of the codes).
// Q8_0 / IQ4_NL: the signed weight value w (codes XOR 0x80, or the IQ4_NL level) as |w| times sign(x, w); a pair
// is at most 2 * 128 * 127 (activation codes must stay within +-127, as the quantiser writes them), and each maddubs
// goes through madd to int32 at once. The panel's sum word is not needed.
// One 32-element block of IQ4_NL codes (4 x 64 B words, half h of the group at codes + 32 h) times T tokens of the
// panel block xb, added into isum. The levels reach -127, which maddubs' unsigned operand cannot hold, so the signs
// move onto the activations and maddubs sees |level|; every sum stays exact. Used by the IQ4_NL and IQ4_XS tiles.
template <int H, int T>
inline void iq4nl_block_sums(const uint8_t* codes, const uint8_t* xb, __m256i levels, __m256i m4, __m256i ones,
                             __m256i (&isum)[H][T]) {
    for (int j = 0; j < 4; ++j) {
        __m256i wl[H], wh[H], al[H], ah[H];
        for (int h = 0; h < H; ++h) {
            const __m256i v = load256(codes + 64 * j + 32 * h);
            wl[h] = _mm256_shuffle_epi8(levels, _mm256_and_si256(v, m4));
            wh[h] = _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
            al[h] = _mm256_abs_epi8(wl[h]);
            ah[h] = _mm256_abs_epi8(wh[h]);
        }
        for (int t = 0; t < T; ++t) {
            const __m256i xl = bcast32(xb + 32 * t + 4 * j);
            const __m256i xh = bcast32(xb + 32 * t + 16 + 4 * j);
            for (int h = 0; h < H; ++h) {
                const __m256i pl = _mm256_maddubs_epi16(al[h], _mm256_sign_epi8(xl, wl[h]));
                const __m256i ph = _mm256_maddubs_epi16(ah[h], _mm256_sign_epi8(xh, wh[h]));
                const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(pl, ones), _mm256_madd_epi16(ph, ones));
                isum[h][t] = _mm256_add_epi32(isum[h][t], s);
                chain(isum[h][t]);
            }
        }
    }
}

template <r16 K, int H, int T>
void tile(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nb, float* y, int64_t ldy, int valid,
          const uint8_t* pf) {
    constexpr size_t bb = block_bytes<K>();
    constexpr size_t co = code_offset<K>();
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc[H][T];
    for (int h = 0; h < H; ++h)
        for (int t = 0; t < T; ++t) acc[h][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = wg + size_t(b) * bb;
        const uint8_t* codes = blk + co + 32 * h0;
        const uint8_t* xb = xp + size_t(b) * k_pb + 32 * t0;        // codes of token slot t0
        const uint8_t* xd = xp + size_t(b) * k_pb + 256 + 4 * t0;  // its scale, then (+32) its sum word
        if (pf) {
            for (size_t o = 0; o < bb; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(pf + size_t(b) * bb + o), _MM_HINT_T1);
        }
        __m256i isum[H][T];
        for (int h = 0; h < H; ++h)
            for (int t = 0; t < T; ++t) isum[h][t] = _mm256_setzero_si256();
        if constexpr (K == r16::Q4_0 || K == r16::Q4_1) {
            for (int j = 0; j < 4; ++j) {
                __m256i lo[H], hi[H];
                for (int h = 0; h < H; ++h) {
                    const __m256i v = load256(codes + 64 * j + 32 * h);
                    lo[h] = _mm256_and_si256(v, m4);
                    hi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                }
                for (int t = 0; t < T; ++t) {
                    const __m256i xl = bcast32(xb + 32 * t + 4 * j);
                    const __m256i xh = bcast32(xb + 32 * t + 16 + 4 * j);
                    for (int h = 0; h < H; ++h) {
                        const __m256i pl = _mm256_maddubs_epi16(lo[h], xl);
                        const __m256i ph = _mm256_maddubs_epi16(hi[h], xh);
                        isum[h][t] = _mm256_add_epi16(isum[h][t], _mm256_add_epi16(pl, ph));
                        chain(isum[h][t]);
                    }
                }
            }
            for (int t = 0; t < T; ++t) {
                const __m256i corr = K == r16::Q4_0 ? bcast32(xd + 32 + 4 * t) : _mm256_setzero_si256();
                for (int h = 0; h < H; ++h) {
                    isum[h][t] = _mm256_madd_epi16(isum[h][t], ones);
                    if constexpr (K == r16::Q4_0) isum[h][t] = _mm256_add_epi32(isum[h][t], corr);
                }
            }
        } else if constexpr (K == r16::Q8_0) {
            const __m256i flip = _mm256_set1_epi8(char(0x80));
            for (int j = 0; j < 8; ++j) {
                __m256i w[H], a[H];
                for (int h = 0; h < H; ++h) {
                    w[h] = _mm256_xor_si256(load256(codes + 64 * j + 32 * h), flip);
                    a[h] = _mm256_abs_epi8(w[h]);
                }
                for (int t = 0; t < T; ++t) {
                    const __m256i xv = bcast32(xb + 32 * t + 4 * j);
                    for (int h = 0; h < H; ++h) {
                        const __m256i p = _mm256_maddubs_epi16(a[h], _mm256_sign_epi8(xv, w[h]));
                        isum[h][t] = _mm256_add_epi32(isum[h][t], _mm256_madd_epi16(p, ones));
                        chain(isum[h][t]);
                    }
                }
            }
        } else {
            const __m256i levels =
                _mm256_broadcastsi128_si256(load128(reinterpret_cast<const uint8_t*>(quant::k_iq4nl)));
            iq4nl_block_sums<H, T>(codes, xb, levels, m4, ones, isum);
        }
        __m256 dw[H];
        for (int h = 0; h < H; ++h) dw[h] = _mm256_cvtph_ps(load128(blk + 16 * (h0 + h)));
        for (int t = 0; t < T; ++t) {
            const __m256 dx = _mm256_set1_ps(load_f32(xd + 4 * t));
            for (int h = 0; h < H; ++h)
                acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[h][t]), _mm256_mul_ps(dw[h], dx), acc[h][t]);
        }
        if constexpr (K == r16::Q4_1) {
            for (int h = 0; h < H; ++h) {
                const __m256 dm = _mm256_cvtph_ps(load128(blk + 32 + 16 * (h0 + h)));
                for (int t = 0; t < T; ++t)
                    acc[h][t] = _mm256_fmadd_ps(dm, _mm256_set1_ps(load_f32(xd + 32 + 4 * t)), acc[h][t]);
            }
        }
    }
    store_tile<H, T>(y, ldy, h0, valid, acc);
}

// Up to 4 tokens of a panel (starting at slot t0) over the half h0 of a group.
template <r16 K>
void half_tokens(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int nt, int64_t nb, float* y, int64_t ldy,
                 int valid, const uint8_t* pf) {
    float* yt = y + t0 * ldy;
    switch (nt) {
        case 1: tile<K, 1, 1>(wg, h0, xp, t0, nb, yt, ldy, valid, pf); break;
        case 2: tile<K, 1, 2>(wg, h0, xp, t0, nb, yt, ldy, valid, pf); break;
        case 3: tile<K, 1, 3>(wg, h0, xp, t0, nb, yt, ldy, valid, pf); break;
        default: tile<K, 1, 4>(wg, h0, xp, t0, nb, yt, ldy, valid, pf); break;
    }
}

// Groups of 16 rows, each over every panel (its weights stay in L1/L2 for the panels after the first), each panel
// block by block: one token takes both halves of the group at once, more tokens go in tiles of up to 4 tokens over
// one half. The first pass over a group prefetches the next group's weights into L2, block for block (one group ahead
// covers DRAM latency in decode; L1 would not hold a group of a long row).
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
        const int valid = int(std::min<int64_t>(k_r16_rows, n_rows - g * k_r16_rows));
        const int halves = valid > 8 ? 2 : 1;
        const uint8_t* next = g + 1 < groups ? wg + group_bytes : nullptr;
        for (int64_t p0 = 0; p0 < n_tok; p0 += k_r16_panel) {
            const uint8_t* xpan = xb + size_t(p0 / k_r16_panel) * panel_bytes;
            float* yp = y + p0 * ldy + g * k_r16_rows;
            const int nt = int(std::min<int64_t>(k_r16_panel, n_tok - p0));
            const uint8_t* pf = p0 == 0 ? next : nullptr;
            if (nt == 1) {
                if (halves == 2) tile<K, 2, 1>(wg, 0, xpan, 0, nb, yp, ldy, valid, pf);
                else tile<K, 1, 1>(wg, 0, xpan, 0, nb, yp, ldy, valid, pf);
                continue;
            }
            for (int h = 0; h < halves; ++h) {
                half_tokens<K>(wg, h, xpan, 0, std::min(nt, 4), nb, yp, ldy, valid, h == 0 ? pf : nullptr);
                if (nt > 4) half_tokens<K>(wg, h, xpan, 4, nt - 4, nb, yp, ldy, valid, nullptr);
            }
        }
    }
}

// ---- Q4_K: 2368-byte super-blocks of 256 elements per group (layout in kernels.h)

constexpr size_t k_q4k_block = 2368;

// The nibbles of sub-block j of a Q4_K super-block for 8 rows (half h): 8 words of 4 codes each, low nibbles of its
// chunk's code bytes for even j, high nibbles for odd j.
template <bool HI>
inline __m256i q4k_nibbles(const uint8_t* p, __m256i m4) {
    const __m256i v = load256(p);
    return HI ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) : _mm256_and_si256(v, m4);
}
// 8 unsigned bytes (a half's scales or mins of one sub-block) as F32 times f.
inline __m256 u8x8_times(const uint8_t* p, __m256 f) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_mul_ps(f, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)));
}

// Sub-block j (HI: odd) of super-block blk for H halves from h0 times T tokens (slots t0..) of the activation block xj,
// added into acc: d * scale_j * d_x * sum(code * x) - dmin * min_j * (d_x * sum(x)). Nibble codes 0..15 times
// activation codes (|q| <= 128): an int16 lane adds 2 products per maddubs, at most 2 * 15 * 128 = 3840, and the 8
// words of a sub-block add up to at most 30720 before one madd to int32: exact.
template <int H, int T, bool HI>
inline void q4k_sub_block(const uint8_t* blk, int j, int h0, const uint8_t* xj, int t0, const __m256 (&d)[H],
                          const __m256 (&dmin)[H], __m256 (&acc)[H][T]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    const uint8_t* codes = blk + 320 + 512 * (j / 2) + 32 * h0;
    const uint8_t* xb = xj + 32 * t0;
    const uint8_t* xd = xj + 256 + 4 * t0;
    __m256i isum[H][T];
    for (int h = 0; h < H; ++h)
        for (int t = 0; t < T; ++t) isum[h][t] = _mm256_setzero_si256();
    for (int w = 0; w < 8; ++w) {
        __m256i q[H];
        for (int h = 0; h < H; ++h) q[h] = q4k_nibbles<HI>(codes + 64 * w + 32 * h, m4);
        for (int t = 0; t < T; ++t) {
            const __m256i xv = bcast32(xb + 32 * t + 4 * w);
            for (int h = 0; h < H; ++h) {
                isum[h][t] = _mm256_add_epi16(isum[h][t], _mm256_maddubs_epi16(q[h], xv));
                chain(isum[h][t]);
            }
        }
    }
    for (int h = 0; h < H; ++h) {
        const __m256 sc = u8x8_times(blk + 64 + 16 * j + 8 * (h0 + h), d[h]);
        const __m256 mn = u8x8_times(blk + 192 + 16 * j + 8 * (h0 + h), dmin[h]);
        for (int t = 0; t < T; ++t) {
            const __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(isum[h][t], ones));
            acc[h][t] = _mm256_fmadd_ps(s, _mm256_mul_ps(sc, _mm256_set1_ps(load_f32(xd + 4 * t))), acc[h][t]);
            acc[h][t] = _mm256_fnmadd_ps(mn, _mm256_set1_ps(load_f32(xd + 32 + 4 * t)), acc[h][t]);
        }
    }
}

// H halves of a group (from h0) times T tokens of a panel (from slot t0), all nsb super-blocks. Each sub-block's
// nibbles are unpacked once for the T tokens (the two sub-blocks of a chunk read its code bytes once each).
template <int H, int T>
void tile_q4_k(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy, int valid,
               const uint8_t* pf) {
    __m256 acc[H][T];
    for (int h = 0; h < H; ++h)
        for (int t = 0; t < T; ++t) acc[h][t] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * k_q4k_block;
        if (pf) {
            for (size_t o = 0; o < k_q4k_block; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(pf + size_t(sb) * k_q4k_block + o), _MM_HINT_T1);
        }
        __m256 d[H], dmin[H];
        for (int h = 0; h < H; ++h) {
            d[h] = _mm256_cvtph_ps(load128(blk + 16 * (h0 + h)));
            dmin[h] = _mm256_cvtph_ps(load128(blk + 32 + 16 * (h0 + h)));
        }
        const uint8_t* xs = xp + size_t(sb) * 8 * k_pb;
        for (int c = 0; c < 4; ++c) {
            q4k_sub_block<H, T, false>(blk, 2 * c, h0, xs + size_t(2 * c) * k_pb, t0, d, dmin, acc);
            q4k_sub_block<H, T, true>(blk, 2 * c + 1, h0, xs + size_t(2 * c + 1) * k_pb, t0, d, dmin, acc);
        }
    }
    store_tile<H, T>(y, ldy, h0, valid, acc);
}

// ---- IQ4_XS: 2208-byte super-blocks of 256 elements per group (layout in kernels.h)

constexpr size_t k_iq4xs_block = 2208;

// H halves of a group (from h0) times T tokens of a panel (from slot t0), all nsb super-blocks. Per 32-element
// sub-block j the IQ4_NL tile's work: the signed level w as |w| times sign(x, w) (a pair is at most 2 * 127 * 127, so
// each maddubs goes through madd to int32 at once; the panel's sum word is not needed), scaled by
// d * (ls_j - 32) * d_x.
template <int H, int T>
void tile_iq4_xs(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy,
                 int valid, const uint8_t* pf) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i levels = _mm256_broadcastsi128_si256(load128(reinterpret_cast<const uint8_t*>(quant::k_iq4nl)));
    __m256 acc[H][T];
    for (int h = 0; h < H; ++h)
        for (int t = 0; t < T; ++t) acc[h][t] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * k_iq4xs_block;
        if (pf) {
            for (size_t o = 0; o < k_iq4xs_block; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(pf + size_t(sb) * k_iq4xs_block + o), _MM_HINT_T1);
        }
        __m256 d[H];
        for (int h = 0; h < H; ++h) d[h] = _mm256_cvtph_ps(load128(blk + 16 * (h0 + h)));
        for (int j = 0; j < 8; ++j) {
            const uint8_t* codes = blk + 160 + 256 * j + 32 * h0;
            const uint8_t* xj = xp + size_t(sb * 8 + j) * k_pb;
            const uint8_t* xb = xj + 32 * t0;
            const uint8_t* xd = xj + 256 + 4 * t0;
            __m256i isum[H][T];
            for (int h = 0; h < H; ++h)
                for (int t = 0; t < T; ++t) isum[h][t] = _mm256_setzero_si256();
            iq4nl_block_sums<H, T>(codes, xb, levels, m4, ones, isum);
            for (int h = 0; h < H; ++h) {
                const __m128i ls = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 32 + 16 * j + 8 * (h0 + h)));
                const __m256i sc = _mm256_sub_epi32(_mm256_cvtepu8_epi32(ls), _mm256_set1_epi32(32));
                const __m256 f = _mm256_mul_ps(d[h], _mm256_cvtepi32_ps(sc));
                for (int t = 0; t < T; ++t) {
                    const __m256 fx = _mm256_mul_ps(f, _mm256_set1_ps(load_f32(xd + 4 * t)));
                    acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[h][t]), fx, acc[h][t]);
                }
            }
        }
    }
    store_tile<H, T>(y, ldy, h0, valid, acc);
}

// ---- Q6_K: 3360-byte super-blocks of 256 elements per group (layout in kernels.h)

constexpr size_t k_q6k_block = 3360;

// Panel block pbk (0..7) of super-block blk: the low (HI false) or high nibbles of chunk pbk / 2, i.e. 16-element
// sub-blocks j0 = 2 * pbk (code words 0-3) and j0 + 1 (words 4-7), for H halves (from h0) times T tokens (from slot
// t0) of the activation block xj, added into acc. Codes 0..63 (the nibble, with the word's two high bits moved to
// bits 4-5) times activation codes (|q| <= 128): a maddubs pair is at most 2 * 63 * 128 = 16128, so two words add
// up in int16 (at most 32256); madd then multiplies that by the int16 sub-block scale of the row instead of ones,
// so the block's integer sum is sum_j scale_j * sum(code * x), at most 32 * 63 * 128 * 128 in size. It starts from
// -32 * (scale_j0 * sum(x[0..16)) + scale_j0+1 * sum(x[16..32))): one more madd of the row's pair of scales times
// 32 against the panel's two int16 half sums. One F32 multiply by d * d_x per block.
template <int H, int T, bool HI>
inline void q6k_block(const uint8_t* blk, int pbk, int h0, const uint8_t* xj, int t0, const __m256 (&d)[H],
                      __m256 (&acc)[H][T]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m30 = _mm256_set1_epi8(0x30);
    const uint8_t* chunk = blk + 288 + 768 * (pbk / 2) + 32 * h0;
    const uint8_t* xb = xj + 32 * t0;
    const uint8_t* xd = xj + 256 + 4 * t0;
    const int j0 = 2 * pbk;
    __m256i sc0[H], sc1[H], s[H][T];
    for (int h = 0; h < H; ++h) {
        const __m128i a = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 32 + 16 * j0 + 8 * (h0 + h)));
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 48 + 16 * j0 + 8 * (h0 + h)));
        sc0[h] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, a));  // lane r: (scale_j0, scale_j0) of row r
        sc1[h] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(b, b));
        // lane r: (-32 * scale_j0, -32 * scale_j0+1), at most 4096 in size
        const __m256i bias = _mm256_sub_epi16(_mm256_setzero_si256(),
                                              _mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b)), 5));
        for (int t = 0; t < T; ++t) s[h][t] = _mm256_madd_epi16(bias, bcast32(xd + 32 + 4 * t));
    }
    for (int p = 0; p < 4; ++p) {  // code words 2p and 2p + 1; their high bits share one 64-byte row of bytes
        __m256i c0[H], c1[H];
        for (int h = 0; h < H; ++h) {
            const uint8_t* q = chunk + 32 * h;
            const __m256i v0 = load256(q + 128 * p), v1 = load256(q + 128 * p + 64);
            const __m256i hq = load256(q + 512 + 64 * p);
            __m256i l0, l1, b0, b1;
            if constexpr (HI) {
                l0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), m4);
                l1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), m4);
                b0 = _mm256_and_si256(_mm256_slli_epi16(hq, 2), m30);  // bits 2-3
                b1 = _mm256_and_si256(_mm256_srli_epi16(hq, 2), m30);  // bits 6-7
            } else {
                l0 = _mm256_and_si256(v0, m4);
                l1 = _mm256_and_si256(v1, m4);
                b0 = _mm256_and_si256(_mm256_slli_epi16(hq, 4), m30);  // bits 0-1
                b1 = _mm256_and_si256(hq, m30);                         // bits 4-5
            }
            c0[h] = _mm256_or_si256(l0, b0);
            c1[h] = _mm256_or_si256(l1, b1);
        }
        for (int t = 0; t < T; ++t) {
            const __m256i x0 = bcast32(xb + 32 * t + 8 * p);
            const __m256i x1 = bcast32(xb + 32 * t + 8 * p + 4);
            for (int h = 0; h < H; ++h) {
                const __m256i m = _mm256_add_epi16(_mm256_maddubs_epi16(c0[h], x0), _mm256_maddubs_epi16(c1[h], x1));
                s[h][t] = _mm256_add_epi32(s[h][t], _mm256_madd_epi16(m, p < 2 ? sc0[h] : sc1[h]));
                chain(s[h][t]);
            }
        }
    }
    for (int h = 0; h < H; ++h)
        for (int t = 0; t < T; ++t) {
            const __m256 f = _mm256_mul_ps(d[h], _mm256_set1_ps(load_f32(xd + 4 * t)));
            acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[h][t]), f, acc[h][t]);
        }
}

// H halves of a group (from h0) times T tokens of a panel (from slot t0), all nsb super-blocks; each chunk's codes
// are unpacked twice (low nibbles, then high nibbles), each time once for the T tokens.
template <int H, int T>
void tile_q6_k(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy, int valid,
               const uint8_t* pf) {
    __m256 acc[H][T];
    for (int h = 0; h < H; ++h)
        for (int t = 0; t < T; ++t) acc[h][t] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * k_q6k_block;
        if (pf) {
            for (size_t o = 0; o < k_q6k_block; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(pf + size_t(sb) * k_q6k_block + o), _MM_HINT_T1);
        }
        __m256 d[H];
        for (int h = 0; h < H; ++h) d[h] = _mm256_cvtph_ps(load128(blk + 16 * (h0 + h)));
        const uint8_t* xs = xp + size_t(sb) * 8 * k_pb;
        for (int c = 0; c < 4; ++c) {
            q6k_block<H, T, false>(blk, 2 * c, h0, xs + size_t(2 * c) * k_pb, t0, d, acc);
            q6k_block<H, T, true>(blk, 2 * c + 1, h0, xs + size_t(2 * c + 1) * k_pb, t0, d, acc);
        }
    }
    store_tile<H, T>(y, ldy, h0, valid, acc);
}

// ---- the super-block driver (Q4_K, IQ4_XS, Q6_K)

// The tiles of one super-block type: its bytes per 256-element super-block and run<H, T> = its tile.
struct q4_k_tiles {
    static constexpr size_t bytes = k_q4k_block;
    template <int H, int T>
    static void run(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy,
                    int valid, const uint8_t* pf) {
        tile_q4_k<H, T>(wg, h0, xp, t0, nsb, y, ldy, valid, pf);
    }
};
struct iq4_xs_tiles {
    static constexpr size_t bytes = k_iq4xs_block;
    template <int H, int T>
    static void run(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy,
                    int valid, const uint8_t* pf) {
        tile_iq4_xs<H, T>(wg, h0, xp, t0, nsb, y, ldy, valid, pf);
    }
};
struct q6_k_tiles {
    static constexpr size_t bytes = k_q6k_block;
    template <int H, int T>
    static void run(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy,
                    int valid, const uint8_t* pf) {
        tile_q6_k<H, T>(wg, h0, xp, t0, nsb, y, ldy, valid, pf);
    }
};

template <class K>
void half_tokens_super(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int nt, int64_t nsb, float* y,
                       int64_t ldy, int valid, const uint8_t* pf) {
    float* yt = y + t0 * ldy;
    switch (nt) {
        case 1: K::template run<1, 1>(wg, h0, xp, t0, nsb, yt, ldy, valid, pf); break;
        case 2: K::template run<1, 2>(wg, h0, xp, t0, nsb, yt, ldy, valid, pf); break;
        case 3: K::template run<1, 3>(wg, h0, xp, t0, nsb, yt, ldy, valid, pf); break;
        default: K::template run<1, 4>(wg, h0, xp, t0, nsb, yt, ldy, valid, pf); break;
    }
}

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
        const int valid = int(std::min<int64_t>(k_r16_rows, n_rows - g * k_r16_rows));
        const int halves = valid > 8 ? 2 : 1;
        const uint8_t* next = g + 1 < groups ? wg + group_bytes : nullptr;
        for (int64_t p0 = 0; p0 < n_tok; p0 += k_r16_panel) {
            const uint8_t* xpan = xb + size_t(p0 / k_r16_panel) * panel_bytes;
            float* yp = y + p0 * ldy + g * k_r16_rows;
            const int nt = int(std::min<int64_t>(k_r16_panel, n_tok - p0));
            const uint8_t* pf = p0 == 0 ? next : nullptr;
            if (nt == 1) {
                if (halves == 2) K::template run<2, 1>(wg, 0, xpan, 0, nsb, yp, ldy, valid, pf);
                else K::template run<1, 1>(wg, 0, xpan, 0, nsb, yp, ldy, valid, pf);
                continue;
            }
            for (int h = 0; h < halves; ++h) {
                half_tokens_super<K>(wg, h, xpan, 0, std::min(nt, 4), nsb, yp, ldy, valid, h == 0 ? pf : nullptr);
                if (nt > 4) half_tokens_super<K>(wg, h, xpan, 4, nt - 4, nsb, yp, ldy, valid, nullptr);
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

}  // namespace fathom::kernels::avx2

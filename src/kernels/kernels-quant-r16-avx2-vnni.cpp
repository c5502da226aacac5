// AVX-VNNI (256-bit VEX vpdpbusd) R16 kernels (Q4_0, Q4_1, Q8_0, IQ4_NL, Q4_K, IQ4_XS, Q6_K), on top of the AVX2
// table: a YMM holds 4 code bytes of 8 rows (half a 16-row group, one int32 lane per row), and each vpdpbusd adds four
// unsigned weight code x signed activation code products of those 8 rows for one token, against the token's 4
// activation bytes broadcast from the panel. Integer sums restart at each 32-element block or sub-block (seeded with
// the panel's -bias * sum(codes) word for Q4_0, Q8_0, IQ4_NL and IQ4_XS, with -32 times its half sums for Q6_K) and
// are scaled into F32 accumulators by d_w * d_x. The panel quantiser is inherited from the AVX2 table.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels::avx2_vnni {

namespace {

using quant::QK;
constexpr size_t k_pb = k_r16_panel_block_bytes;

inline float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i bcast32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}
// vpdpbusd: s += sum over the 4 bytes of each lane of u8(w) * s8(x). Every product is at most 255 * 128 in size, so
// a block's sums (at most 32 products, plus the seed) are exact in int32.
inline __m256i dot(__m256i s, __m256i w, __m256i x) { return _mm256_dpbusd_avx_epi32(s, w, x); }

// Writes T token rows of the 8 outputs of half h (rows 8h..8h+7 of the group; only those below valid).
template <int T>
inline void store_half(float* y, int64_t ldy, int h, int valid, const __m256 (&acc)[T]) {
    const int rows = std::min(8, valid - 8 * h);
    float* yh = y + 8 * h;
    if (rows >= 8) {
        for (int t = 0; t < T; ++t) _mm256_storeu_ps(yh + t * ldy, acc[t]);
    } else {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int t = 0; t < T; ++t) _mm256_maskstore_ps(yh + t * ldy, mask, acc[t]);
    }
}

// ---- Q4_0, Q4_1, Q8_0, IQ4_NL

enum class r16 { Q4_0, Q4_1, Q8_0, IQ4_NL };

template <r16 K>
constexpr size_t block_bytes() { return K == r16::Q8_0 ? 544 : K == r16::Q4_1 ? 320 : 288; }
template <r16 K>
constexpr size_t code_offset() { return K == r16::Q4_1 ? 64 : 32; }

// H halves of a group (from half h0) times T tokens of a panel (from slot t0), all nb blocks. Unsigned weight codes:
// Q4_0 / Q4_1 nibbles 0..15, Q8_0 codes + 128 (as stored), IQ4_NL level + 128 by a byte shuffle. The Q4_0 / Q8_0 /
// IQ4_NL sums start from the panel's sum word (-8 or -128 times the sum of the activation codes), which removes the
// bias; Q4_1 adds m * (d_x * sum(codes)) in F32 instead. pf: the next group, prefetched into L2 block by block.
template <r16 K, int H, int T>
void tile(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nb, float* y, int64_t ldy, int valid,
          const uint8_t* pf) {
    constexpr size_t bb = block_bytes<K>();
    constexpr size_t co = code_offset<K>();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i lut = _mm256_setzero_si256();
    if constexpr (K == r16::IQ4_NL) {
        alignas(16) uint8_t v[16];
        for (int i = 0; i < 16; ++i) v[i] = uint8_t(quant::k_iq4nl[i] + 128);
        lut = _mm256_broadcastsi128_si256(load128(v));
    }
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
        __m256i s[H][T];
        for (int t = 0; t < T; ++t) {
            const __m256i seed = K == r16::Q4_1 ? _mm256_setzero_si256() : bcast32(xd + 32 + 4 * t);
            for (int h = 0; h < H; ++h) s[h][t] = seed;
        }
        if constexpr (K == r16::Q8_0) {
            for (int j = 0; j < 8; ++j) {
                __m256i v[H];
                for (int h = 0; h < H; ++h) v[h] = load256(codes + 64 * j + 32 * h);
                for (int t = 0; t < T; ++t) {
                    const __m256i xv = bcast32(xb + 32 * t + 4 * j);
                    for (int h = 0; h < H; ++h) s[h][t] = dot(s[h][t], v[h], xv);
                }
            }
        } else {
            for (int j = 0; j < 4; ++j) {
                __m256i lo[H], hi[H];
                for (int h = 0; h < H; ++h) {
                    const __m256i v = load256(codes + 64 * j + 32 * h);
                    lo[h] = _mm256_and_si256(v, m4);
                    hi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                    if constexpr (K == r16::IQ4_NL) {
                        lo[h] = _mm256_shuffle_epi8(lut, lo[h]);
                        hi[h] = _mm256_shuffle_epi8(lut, hi[h]);
                    }
                }
                for (int t = 0; t < T; ++t) {
                    const __m256i xl = bcast32(xb + 32 * t + 4 * j);
                    const __m256i xh = bcast32(xb + 32 * t + 16 + 4 * j);
                    for (int h = 0; h < H; ++h) s[h][t] = dot(dot(s[h][t], lo[h], xl), hi[h], xh);
                }
            }
        }
        __m256 dw[H];
        for (int h = 0; h < H; ++h) dw[h] = _mm256_cvtph_ps(load128(blk + 16 * (h0 + h)));
        for (int t = 0; t < T; ++t) {
            const __m256 dx = _mm256_set1_ps(load_f32(xd + 4 * t));
            for (int h = 0; h < H; ++h)
                acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[h][t]), _mm256_mul_ps(dw[h], dx), acc[h][t]);
        }
        if constexpr (K == r16::Q4_1) {
            for (int h = 0; h < H; ++h) {
                const __m256 dm = _mm256_cvtph_ps(load128(blk + 32 + 16 * (h0 + h)));
                for (int t = 0; t < T; ++t)
                    acc[h][t] = _mm256_fmadd_ps(dm, _mm256_set1_ps(load_f32(xd + 32 + 4 * t)), acc[h][t]);
            }
        }
    }
    for (int h = 0; h < H; ++h) store_half<T>(y, ldy, h0 + h, valid, acc[h]);
}

// ---- Q4_K: 2368-byte super-blocks of 256 elements per group (layout in kernels.h)

constexpr size_t k_q4k_block = 2368;

// 8 unsigned bytes (a half's scales or mins of one sub-block) as F32 times f.
inline __m256 u8x8_times(const uint8_t* p, __m256 f) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_mul_ps(f, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)));
}

// H halves of a group (from h0) times T tokens of a panel (from slot t0), all nsb super-blocks. Per sub-block j
// (chunk j / 2, low nibbles for even j, high for odd): the nibbles of each code word are unpacked once for the T
// tokens, the exact integer sum is scaled by d * scale_j * d_x, and dmin * min_j * (d_x * sum(codes_x)) subtracted.
template <int H, int T>
void tile_q4_k(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy, int valid,
               const uint8_t* pf) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
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
        for (int j = 0; j < 8; ++j) {
            const uint8_t* codes = blk + 320 + 512 * (j / 2) + 32 * h0;
            const uint8_t* xj = xp + size_t(sb * 8 + j) * k_pb;
            const uint8_t* xb = xj + 32 * t0;
            const uint8_t* xd = xj + 256 + 4 * t0;
            __m256i s[H][T];
            for (int h = 0; h < H; ++h)
                for (int t = 0; t < T; ++t) s[h][t] = _mm256_setzero_si256();
            for (int w = 0; w < 8; ++w) {
                __m256i q[H];
                for (int h = 0; h < H; ++h) {
                    const __m256i v = load256(codes + 64 * w + 32 * h);
                    q[h] = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(v, 4) : v, m4);
                }
                for (int t = 0; t < T; ++t) {
                    const __m256i xv = bcast32(xb + 32 * t + 4 * w);
                    for (int h = 0; h < H; ++h) s[h][t] = dot(s[h][t], q[h], xv);
                }
            }
            for (int h = 0; h < H; ++h) {
                const __m256 sc = u8x8_times(blk + 64 + 16 * j + 8 * (h0 + h), d[h]);
                const __m256 mn = u8x8_times(blk + 192 + 16 * j + 8 * (h0 + h), dmin[h]);
                for (int t = 0; t < T; ++t) {
                    const __m256 f = _mm256_mul_ps(sc, _mm256_set1_ps(load_f32(xd + 4 * t)));
                    acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[h][t]), f, acc[h][t]);
                    acc[h][t] = _mm256_fnmadd_ps(mn, _mm256_set1_ps(load_f32(xd + 32 + 4 * t)), acc[h][t]);
                }
            }
        }
    }
    for (int h = 0; h < H; ++h) store_half<T>(y, ldy, h0 + h, valid, acc[h]);
}

// ---- IQ4_XS: 2208-byte super-blocks of 256 elements per group (layout in kernels.h)

constexpr size_t k_iq4xs_block = 2208;

// H halves of a group (from h0) times T tokens of a panel (from slot t0), all nsb super-blocks. Per 32-element
// sub-block j the IQ4_NL tile's work (codes level + 128 by a byte shuffle, sums seeded with the panel's -128 * sum
// word), scaled by d * (ls_j - 32) * d_x.
template <int H, int T>
void tile_iq4_xs(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy,
                 int valid, const uint8_t* pf) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    alignas(16) uint8_t lv[16];
    for (int i = 0; i < 16; ++i) lv[i] = uint8_t(quant::k_iq4nl[i] + 128);
    const __m256i lut = _mm256_broadcastsi128_si256(load128(lv));
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
            __m256i s[H][T];
            for (int t = 0; t < T; ++t) {
                const __m256i seed = bcast32(xd + 32 + 4 * t);
                for (int h = 0; h < H; ++h) s[h][t] = seed;
            }
            for (int w = 0; w < 4; ++w) {
                __m256i lo[H], hi[H];
                for (int h = 0; h < H; ++h) {
                    const __m256i v = load256(codes + 64 * w + 32 * h);
                    lo[h] = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, m4));
                    hi[h] = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
                }
                for (int t = 0; t < T; ++t) {
                    const __m256i xl = bcast32(xb + 32 * t + 4 * w);
                    const __m256i xh = bcast32(xb + 32 * t + 16 + 4 * w);
                    for (int h = 0; h < H; ++h) s[h][t] = dot(dot(s[h][t], lo[h], xl), hi[h], xh);
                }
            }
            for (int h = 0; h < H; ++h) {
                const __m128i ls = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 32 + 16 * j + 8 * (h0 + h)));
                const __m256i sc = _mm256_sub_epi32(_mm256_cvtepu8_epi32(ls), _mm256_set1_epi32(32));
                const __m256 f = _mm256_mul_ps(d[h], _mm256_cvtepi32_ps(sc));
                for (int t = 0; t < T; ++t) {
                    const __m256 fx = _mm256_mul_ps(f, _mm256_set1_ps(load_f32(xd + 4 * t)));
                    acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[h][t]), fx, acc[h][t]);
                }
            }
        }
    }
    for (int h = 0; h < H; ++h) store_half<T>(y, ldy, h0 + h, valid, acc[h]);
}

// ---- Q6_K: 3360-byte super-blocks of 256 elements per group (layout in kernels.h)

constexpr size_t k_q6k_block = 3360;

// H halves of a group (from h0) times T tokens of a panel (from slot t0), all nsb super-blocks. Each 64-element chunk
// is walked twice: its low nibbles (panel block 2c) and its high nibbles (panel block 2c + 1). A code word is the
// nibble with the word's two high bits moved to bits 4-5 (0..63); words 0-3 are 16-element sub-block j0 = 2 * (panel
// block) and words 4-7 sub-block j0 + 1. The two sub-blocks go side by side (word w with word w + 4), so each token
// has two independent vpdpbusd chains; each sum starts from -32 times the panel's half sum of its activation codes,
// and the pair is scaled by d * scale_j, added, and scaled by d_x. bench_quant_r16_bench on the shared 2-core VM,
// medians, GOP/s, one sub-block at a time (T integer sums per half, fewer spills) -> side by side: 64 tokens
// 2048x2048 about 90 -> 110, 2048x5632 81 -> 111; 8 tokens 2048x2048 67-87 -> 107-117; 1 token (DRAM) 15-23 -> 23-25.
template <int H, int T>
void tile_q6_k(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy, int valid,
               const uint8_t* pf) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m30 = _mm256_set1_epi8(0x30);
    __m256 acc[H][T];
    for (int h = 0; h < H; ++h)
        for (int t = 0; t < T; ++t) acc[h][t] = _mm256_setzero_ps();
    alignas(32) int32_t seed[2][8];
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * k_q6k_block;
        if (pf) {
            for (size_t o = 0; o < k_q6k_block; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(pf + size_t(sb) * k_q6k_block + o), _MM_HINT_T1);
        }
        __m256 d[H];
        for (int h = 0; h < H; ++h) d[h] = _mm256_cvtph_ps(load128(blk + 16 * (h0 + h)));
        for (int c = 0; c < 4; ++c) {
            const uint8_t* chunk = blk + 288 + 768 * c + 32 * h0;
#pragma GCC unroll 2
            for (int half = 0; half < 2; ++half) {
                const int pbk = 2 * c + half;  // panel block within the super-block
                const uint8_t* xj = xp + size_t(sb * 8 + pbk) * k_pb;
                const uint8_t* xb = xj + 32 * t0;
                const uint8_t* xd = xj + 256 + 4 * t0;
                {  // -32 * the two int16 half sums of every token slot
                    const __m256i hs = load256(xj + 288);
                    const __m256i lo = _mm256_srai_epi32(_mm256_slli_epi32(hs, 16), 16);
                    const __m256i hi = _mm256_srai_epi32(hs, 16);
                    _mm256_store_si256(reinterpret_cast<__m256i*>(seed[0]),
                                       _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(lo, 5)));
                    _mm256_store_si256(reinterpret_cast<__m256i*>(seed[1]),
                                       _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(hi, 5)));
                }
                // Read the seeds back as memory broadcasts (load ports) rather than register shuffles.
                __asm__("" : : "r"(seed) : "memory");
                __m256i s0[H][T], s1[H][T];
                for (int t = 0; t < T; ++t) {
                    const __m256i a0 = bcast32(reinterpret_cast<const uint8_t*>(&seed[0][t0 + t]));
                    const __m256i a1 = bcast32(reinterpret_cast<const uint8_t*>(&seed[1][t0 + t]));
                    for (int h = 0; h < H; ++h) {
                        s0[h][t] = a0;
                        s1[h][t] = a1;
                    }
                }
#pragma GCC unroll 4
                for (int w = 0; w < 4; ++w) {
                    __m256i q0[H], q1[H];
                    for (int h = 0; h < H; ++h) {
                        const __m256i v0 = load256(chunk + 64 * w + 32 * h);
                        const __m256i v1 = load256(chunk + 64 * (w + 4) + 32 * h);
                        const __m256i hq0 = load256(chunk + 512 + 64 * (w / 2) + 32 * h);
                        const __m256i hq1 = load256(chunk + 512 + 64 * (w / 2 + 2) + 32 * h);
                        const int sh = 4 * (w % 2) + 2 * half;  // the code's high bits in the high-bit byte
                        auto hbits = [&](__m256i hq) {
                            if (sh == 0) return _mm256_and_si256(_mm256_slli_epi16(hq, 4), m30);
                            if (sh == 2) return _mm256_and_si256(_mm256_slli_epi16(hq, 2), m30);
                            if (sh == 4) return _mm256_and_si256(hq, m30);
                            return _mm256_and_si256(_mm256_srli_epi16(hq, 2), m30);
                        };
                        q0[h] = _mm256_or_si256(_mm256_and_si256(half ? _mm256_srli_epi16(v0, 4) : v0, m4), hbits(hq0));
                        q1[h] = _mm256_or_si256(_mm256_and_si256(half ? _mm256_srli_epi16(v1, 4) : v1, m4), hbits(hq1));
                    }
                    for (int t = 0; t < T; ++t) {
                        const __m256i x0 = bcast32(xb + 32 * t + 4 * w);
                        const __m256i x1 = bcast32(xb + 32 * t + 16 + 4 * w);
                        for (int h = 0; h < H; ++h) {
                            s0[h][t] = dot(s0[h][t], q0[h], x0);
                            s1[h][t] = dot(s1[h][t], q1[h], x1);
                        }
                    }
                }
                for (int h = 0; h < H; ++h) {
                    auto sf = [&](int j) {
                        const __m128i sc =
                            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 32 + 16 * j + 8 * (h0 + h)));
                        return _mm256_mul_ps(d[h], _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));
                    };
                    const __m256 f0 = sf(2 * pbk), f1 = sf(2 * pbk + 1);
                    for (int t = 0; t < T; ++t) {
                        const __m256 u = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s1[h][t]), f1,
                                                         _mm256_mul_ps(_mm256_cvtepi32_ps(s0[h][t]), f0));
                        acc[h][t] = _mm256_fmadd_ps(u, _mm256_set1_ps(load_f32(xd + 4 * t)), acc[h][t]);
                    }
                }
            }
        }
    }
    for (int h = 0; h < H; ++h) store_half<T>(y, ldy, h0 + h, valid, acc[h]);
}

// ---- drivers

// The tiles of one weight kind: Q4_0 .. IQ4_NL by tile<K, H, T>, Q4_K, IQ4_XS and Q6_K by their own tiles.
template <r16 K>
struct legacy_tiles {
    static constexpr size_t bytes_per_32 = block_bytes<K>();
    static constexpr int64_t block = QK;
    static constexpr bool both_halves = K == r16::Q8_0;
    template <int H, int T>
    static void run(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nb, float* y, int64_t ldy,
                    int valid, const uint8_t* pf) {
        tile<K, H, T>(wg, h0, xp, t0, nb, y, ldy, valid, pf);
    }
};
struct q4_k_tiles {
    static constexpr size_t bytes_per_32 = k_q4k_block / 8;
    static constexpr int64_t block = quant::QK_K;
    static constexpr bool both_halves = false;
    template <int H, int T>
    static void run(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy,
                    int valid, const uint8_t* pf) {
        tile_q4_k<H, T>(wg, h0, xp, t0, nsb, y, ldy, valid, pf);
    }
};

struct iq4_xs_tiles {
    static constexpr size_t bytes_per_32 = k_iq4xs_block / 8;
    static constexpr int64_t block = quant::QK_K;
    static constexpr bool both_halves = false;
    template <int H, int T>
    static void run(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy,
                    int valid, const uint8_t* pf) {
        tile_iq4_xs<H, T>(wg, h0, xp, t0, nsb, y, ldy, valid, pf);
    }
};
struct q6_k_tiles {
    static constexpr size_t bytes_per_32 = k_q6k_block / 8;
    static constexpr int64_t block = quant::QK_K;
    static constexpr bool both_halves = false;
    template <int H, int T>
    static void run(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int64_t nsb, float* y, int64_t ldy,
                    int valid, const uint8_t* pf) {
        tile_q6_k<H, T>(wg, h0, xp, t0, nsb, y, ldy, valid, pf);
    }
};

// Up to 4 tokens of a panel (from slot t0) over half h0 of a group.
template <class K>
void half_tokens(const uint8_t* wg, int h0, const uint8_t* xp, int t0, int nt, int64_t nb, float* y, int64_t ldy,
                 int valid, const uint8_t* pf) {
    float* yt = y + t0 * ldy;
    switch (nt) {
        case 1: K::template run<1, 1>(wg, h0, xp, t0, nb, yt, ldy, valid, pf); break;
        case 2: K::template run<1, 2>(wg, h0, xp, t0, nb, yt, ldy, valid, pf); break;
        case 3: K::template run<1, 3>(wg, h0, xp, t0, nb, yt, ldy, valid, pf); break;
        default: K::template run<1, 4>(wg, h0, xp, t0, nb, yt, ldy, valid, pf); break;
    }
}

// Groups of 16 rows, each over every panel (its weights stay in L1/L2 for the panels after the first), each panel
// block by block: one token takes both halves of the group at once; more tokens go in tiles of up to 4 tokens over
// one half (4 integer sums, 4 F32 accumulators and the unpacked weights fit the sixteen YMM registers), or, for Q8_0
// (both_halves: no unpacking, so the weight loads dominate), in tiles of 2 tokens over both halves. Medians of 3 on
// the shared 2-core VM, 64 / 256 tokens, GOP/s 1x4 -> 2x2 tiles: Q8_0 2048x2048 217 -> 241, 212 -> 241, 5632x2048
// 200 -> 236, 208 -> 234, 2048x5632 201 -> 200, 196 -> 189; Q4_0 156 -> 154, 155 -> 149, 180 -> 151, 218 -> 167,
// 215 -> 210, 200 -> 196; Q4_K 184 -> 158, 186 -> 161, 181 -> 136, 180 -> 162, 146 -> 161, 180 -> 154. The first
// pass over a group prefetches the next group's weights into L2, block for block (one group ahead covers DRAM latency
// in decode).
template <class K>
void matmul_r16(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    if (n_rows <= 0 || n_tok <= 0) return;
    const int64_t nb = n / K::block;
    const int64_t groups = (n_rows + k_r16_rows - 1) / k_r16_rows;
    const size_t group_bytes = size_t(n / QK) * K::bytes_per_32, panel_bytes = size_t(n / QK) * k_pb;
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
                if (halves == 2) K::template run<2, 1>(wg, 0, xpan, 0, nb, yp, ldy, valid, pf);
                else K::template run<1, 1>(wg, 0, xpan, 0, nb, yp, ldy, valid, pf);
                continue;
            }
            if (K::both_halves && halves == 2) {
                for (int t = 0; t < nt; t += 2) {
                    const uint8_t* tpf = t == 0 ? pf : nullptr;
                    if (nt - t >= 2) K::template run<2, 2>(wg, 0, xpan, t, nb, yp + t * ldy, ldy, valid, tpf);
                    else K::template run<2, 1>(wg, 0, xpan, t, nb, yp + t * ldy, ldy, valid, tpf);
                }
                continue;
            }
            for (int h = 0; h < halves; ++h) {
                half_tokens<K>(wg, h, xpan, 0, std::min(nt, 4), nb, yp, ldy, valid, h == 0 ? pf : nullptr);
                if (nt > 4) half_tokens<K>(wg, h, xpan, 4, nt - 4, nb, yp, ldy, valid, nullptr);
            }
        }
    }
}

}  // namespace

void fill_quant_r16(table& t) {
    t.matmul_r16_q4_0 = matmul_r16<legacy_tiles<r16::Q4_0>>;
    t.matmul_r16_q4_1 = matmul_r16<legacy_tiles<r16::Q4_1>>;
    t.matmul_r16_q8_0 = matmul_r16<legacy_tiles<r16::Q8_0>>;
    t.matmul_r16_iq4_nl = matmul_r16<legacy_tiles<r16::IQ4_NL>>;
    t.matmul_r16_q4_k = matmul_r16<q4_k_tiles>;
    t.matmul_r16_iq4_xs = matmul_r16<iq4_xs_tiles>;
    t.matmul_r16_q6_k = matmul_r16<q6_k_tiles>;
}

}  // namespace fathom::kernels::avx2_vnni

// AVX-512 VNNI R16 kernels (Q4_0, Q4_1, Q8_0, IQ4_NL, Q4_K, IQ4_XS, Q6_K): 16 interleaved weight rows fill one zmm (one int32 lane per row), each vpdpbusd adds
// four code products of all 16 rows for one token, with the token's four activation bytes broadcast from the panel.
// Up to 8 tokens share every unpacked weight vector; integer sums restart at each 32-element block (seeded with the
// panel's -bias * sum(codes) word) and are scaled into F32 accumulators by d_w * d_x. The panel quantiser is
// inherited from the AVX-512 table.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() and then trip -Wuninitialized (GCC PR105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels::avx512_vnni {

namespace {

enum class r16 { Q4_0, Q4_1, Q8_0, IQ4_NL };

// Decode prefetch distance: 1536 bytes (5-6 blocks) ahead. Measured on tinyllama Q4_0, 1 thread, tg32: 13.0 and
// 10.8 t/s without, 14.1 and 16.3 t/s with (row-layout kernels 14.5-15.2 t/s in the same minutes).
constexpr size_t k_prefetch = 1536;

template <r16 K>
constexpr size_t block_bytes() {
    return K == r16::Q8_0 ? 544 : K == r16::Q4_1 ? 320 : 288;
}

// Opaque steps in the Q4_K tile's chains (integer sums and F32 accumulators): without them GCC 12 keeps the 8-token
// tile's accumulators on the stack across each 64-element chunk (51 stack accesses in tile_q4_k<8>, 24 with them).
// bench_quant_r16_bench on the shared 2-core development VM, medians of 8 alternating runs, GOP/s without -> with:
// 64 tokens 2048x2048 188 -> 197, 2048x5632 167 -> 204, 5632x2048 159 -> 181; 256 tokens 177 -> 191, 173 -> 202,
// 170 -> 191. The Q4_0 tiles measured the same with and without, so they go without.
inline void chain(__m512i& v) { __asm__("" : "+v"(v)); }
inline void chain(__m512& v) { __asm__("" : "+v"(v)); }

inline __m512i bcast32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// One 16-row group times NT (1..8) tokens of one panel, all nb blocks; writes NT rows of 16 outputs (mask = valid
// rows).
template <r16 K, int NT>
void tile(const uint8_t* wg, const uint8_t* xp, int64_t nb, float* y, int64_t ldy, __mmask16 mask) {
    constexpr size_t BB = block_bytes<K>();
    constexpr size_t code_off = K == r16::Q4_1 ? 64 : 32;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i lut = _mm512_setzero_si512();
    if constexpr (K == r16::IQ4_NL) {
        alignas(16) int8_t v[16];
        for (int i = 0; i < 16; ++i) v[i] = int8_t(quant::k_iq4nl[i] + 128);
        lut = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(v)));
    }
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = wg + size_t(b) * BB;
        const uint8_t* xb = xp + size_t(b) * k_r16_panel_block_bytes;
        const uint8_t* codes = blk + code_off;
        if constexpr (NT <= 2) {  // decode: weights stream from memory once; ask for them well ahead
            for (size_t o = 0; o < BB; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(blk + k_prefetch + o), _MM_HINT_T0);
        }
        __m512i s[NT];
        for (int t = 0; t < NT; ++t) {
            if constexpr (K == r16::Q4_1) s[t] = _mm512_setzero_si512();
            else s[t] = bcast32(xb + 288 + 4 * t);
        }
        if constexpr (K == r16::Q8_0) {
            for (int j = 0; j < 8; ++j) {
                const __m512i v = _mm512_loadu_si512(codes + 64 * j);
                for (int t = 0; t < NT; ++t) s[t] = _mm512_dpbusd_epi32(s[t], v, bcast32(xb + 32 * t + 4 * j));
            }
        } else {
            for (int j = 0; j < 4; ++j) {
                const __m512i v = _mm512_loadu_si512(codes + 64 * j);
                __m512i lo = _mm512_and_si512(v, m4);
                __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                if constexpr (K == r16::IQ4_NL) {
                    lo = _mm512_shuffle_epi8(lut, lo);
                    hi = _mm512_shuffle_epi8(lut, hi);
                }
                for (int t = 0; t < NT; ++t) {
                    s[t] = _mm512_dpbusd_epi32(s[t], lo, bcast32(xb + 32 * t + 4 * j));
                    s[t] = _mm512_dpbusd_epi32(s[t], hi, bcast32(xb + 32 * t + 16 + 4 * j));
                }
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
        if constexpr (K == r16::Q4_1) {
            const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32)));
            for (int t = 0; t < NT; ++t) {
                float dx, sx;
                std::memcpy(&dx, xb + 256 + 4 * t, 4);
                std::memcpy(&sx, xb + 288 + 4 * t, 4);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc[t]);
                acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(sx), acc[t]);
            }
        } else {
            for (int t = 0; t < NT; ++t) {
                float dx;
                std::memcpy(&dx, xb + 256 + 4 * t, 4);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * ldy, mask, acc[t]);
}

// Runs a type's tiles (tiles[nt] for a panel of nt tokens; each tile walks all of a group's blocks of unit_elems
// elements and unit_bytes bytes) over every 16-row group and 8-token panel.
using tile_fn = void (*)(const uint8_t*, const uint8_t*, int64_t, float*, int64_t, __mmask16);
void run_tiles(const tile_fn* tiles, int64_t unit_elems, size_t unit_bytes, const void* w, int64_t n_rows,
               const void* xp, int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    const int64_t units = n / unit_elems;
    const int64_t groups = (n_rows + k_r16_rows - 1) / k_r16_rows;
    const size_t group_bytes = size_t(units) * unit_bytes;
    const size_t panel_bytes = size_t(n / quant::QK) * k_r16_panel_block_bytes;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xp);
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t rows = n_rows - g * k_r16_rows;
        const __mmask16 mask = rows >= 16 ? __mmask16(0xffff) : __mmask16((1u << rows) - 1u);
        for (int64_t t0 = 0; t0 < n_tok; t0 += k_r16_panel) {
            const int64_t nt = n_tok - t0 < k_r16_panel ? n_tok - t0 : k_r16_panel;
            tiles[nt](wb + size_t(g) * group_bytes, xb + size_t(t0 / k_r16_panel) * panel_bytes, units,
                      y + t0 * ldy + g * k_r16_rows, ldy, mask);
        }
    }
}

template <r16 K>
void matmul_r16(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    static constexpr tile_fn tiles[9] = {nullptr,       tile<K, 1>, tile<K, 2>, tile<K, 3>, tile<K, 4>,
                                         tile<K, 5>,    tile<K, 6>, tile<K, 7>, tile<K, 8>};
    run_tiles(tiles, quant::QK, block_bytes<K>(), w, n_rows, xp, n_tok, y, ldy, n);
}

// Q4_K: one 16-row group times NT tokens. Per 64-element chunk, each 64-byte code load gives sub-block 2c (low
// nibbles) and 2c+1 (high nibbles); the two integer sums per token are scaled by d * scale_j * d_x, and the minimum
// term dmin * min_j * (d_x * sum(codes_x)) is subtracted, per sub-block.
template <int NT>
void tile_q4_k(const uint8_t* wg, const uint8_t* xp, int64_t nsb, float* y, int64_t ldy, __mmask16 mask) {
    constexpr size_t BB = 2368;
    constexpr size_t PB = k_r16_panel_block_bytes;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * BB;
        if constexpr (NT <= 2) {
            for (size_t o = 0; o < BB; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(blk + k_prefetch + o), _MM_HINT_T0);
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32)));
        for (int c = 0; c < 4; ++c) {
            const uint8_t* codes = blk + 320 + 512 * c;
            const uint8_t* x0 = xp + size_t(sb * 8 + 2 * c) * PB;  // sub-block 2c
            const uint8_t* x1 = x0 + PB;                            // sub-block 2c + 1
            __m512i s0[NT], s1[NT];
            for (int t = 0; t < NT; ++t) s0[t] = s1[t] = _mm512_setzero_si512();
            for (int w = 0; w < 8; ++w) {
                const __m512i v = _mm512_loadu_si512(codes + 64 * w);
                const __m512i lo = _mm512_and_si512(v, m4);
                const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                for (int t = 0; t < NT; ++t) {
                    s0[t] = _mm512_dpbusd_epi32(s0[t], lo, bcast32(x0 + 32 * t + 4 * w));
                    s1[t] = _mm512_dpbusd_epi32(s1[t], hi, bcast32(x1 + 32 * t + 4 * w));
                    chain(s0[t]);
                    chain(s1[t]);
                }
            }
            const int j0 = 2 * c, j1 = 2 * c + 1;
            auto u8x16 = [](const uint8_t* p) {
                return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
            };
            const __m512 sc0 = _mm512_mul_ps(d, u8x16(blk + 64 + 16 * j0));
            const __m512 sc1 = _mm512_mul_ps(d, u8x16(blk + 64 + 16 * j1));
            const __m512 mn0 = _mm512_mul_ps(dmin, u8x16(blk + 192 + 16 * j0));
            const __m512 mn1 = _mm512_mul_ps(dmin, u8x16(blk + 192 + 16 * j1));
            for (int t = 0; t < NT; ++t) {
                float dx0, sx0, dx1, sx1;
                std::memcpy(&dx0, x0 + 256 + 4 * t, 4);
                std::memcpy(&sx0, x0 + 288 + 4 * t, 4);
                std::memcpy(&dx1, x1 + 256 + 4 * t, 4);
                std::memcpy(&sx1, x1 + 288 + 4 * t, 4);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0[t]), _mm512_mul_ps(sc0, _mm512_set1_ps(dx0)), acc[t]);
                acc[t] = _mm512_fnmadd_ps(mn0, _mm512_set1_ps(sx0), acc[t]);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1[t]), _mm512_mul_ps(sc1, _mm512_set1_ps(dx1)), acc[t]);
                acc[t] = _mm512_fnmadd_ps(mn1, _mm512_set1_ps(sx1), acc[t]);
                chain(acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * ldy, mask, acc[t]);
}

// IQ4_XS: one 16-row group times NT tokens; per 32-element sub-block j the IQ4_NL tile's work (LUT codes + 128,
// sums seeded with the panel's -128 * sum word), scaled by d * (ls_j - 32) * d_x.
template <int NT>
void tile_iq4_xs(const uint8_t* wg, const uint8_t* xp, int64_t nsb, float* y, int64_t ldy, __mmask16 mask) {
    constexpr size_t BB = 2208;
    constexpr size_t PB = k_r16_panel_block_bytes;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    alignas(16) int8_t lv[16];
    for (int i = 0; i < 16; ++i) lv[i] = int8_t(quant::k_iq4nl[i] + 128);
    const __m512i lut = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(lv)));
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * BB;
        if constexpr (NT <= 2) {
            for (size_t o = 0; o < BB; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(blk + k_prefetch + o), _MM_HINT_T0);
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
        for (int j = 0; j < 8; ++j) {
            const uint8_t* codes = blk + 160 + 256 * j;
            const uint8_t* xb = xp + size_t(sb * 8 + j) * PB;
            // Decode (NT <= 2): low and high nibbles into separate sums, halving each vpdpbusd dependency chain.
            constexpr bool split = NT <= 2;
            __m512i s[NT], s2[NT];
            for (int t = 0; t < NT; ++t) {
                s[t] = bcast32(xb + 288 + 4 * t);
                s2[t] = _mm512_setzero_si512();
            }
            for (int w = 0; w < 4; ++w) {
                const __m512i v = _mm512_loadu_si512(codes + 64 * w);
                const __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m4));
                const __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
                for (int t = 0; t < NT; ++t) {
                    s[t] = _mm512_dpbusd_epi32(s[t], lo, bcast32(xb + 32 * t + 4 * w));
                    if constexpr (split) s2[t] = _mm512_dpbusd_epi32(s2[t], hi, bcast32(xb + 32 * t + 16 + 4 * w));
                    else s[t] = _mm512_dpbusd_epi32(s[t], hi, bcast32(xb + 32 * t + 16 + 4 * w));
                }
            }
            if constexpr (split)
                for (int t = 0; t < NT; ++t) s[t] = _mm512_add_epi32(s[t], s2[t]);
            const __m512i ls = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 32 + 16 * j)));
            const __m512 sc = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(ls, _mm512_set1_epi32(32))));
            for (int t = 0; t < NT; ++t) {
                float dx;
                std::memcpy(&dx, xb + 256 + 4 * t, 4);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(sc, _mm512_set1_ps(dx)), acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * ldy, mask, acc[t]);
}

// Q6_K: one 16-row group times NT tokens. Each 64-element chunk is walked twice: its low nibbles (panel block 2c)
// then its high nibbles (panel block 2c + 1). Per word the 6-bit codes are the nibble with the word's two high bits
// moved to bits 4-5; words 0-3 (16-element sub-block 2b of panel block b) and 4-7 (sub-block 2b + 1) sum apart,
// seeded with -32 times the panel's half sums, and are scaled by d * scale_j, then by d_x.
template <int NT>
void tile_q6_k(const uint8_t* wg, const uint8_t* xp, int64_t nsb, float* y, int64_t ldy, __mmask16 mask) {
    constexpr size_t BB = 3360;
    constexpr size_t PB = k_r16_panel_block_bytes;
    constexpr int k_or_and = 0xEC;  // vpternlog: (A & C) | B
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i m30 = _mm512_set1_epi8(0x30);
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    alignas(32) int32_t seed[2][8];
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = wg + size_t(sb) * BB;
        if constexpr (NT <= 2) {
            for (size_t o = 0; o < BB; o += 64)
                _mm_prefetch(reinterpret_cast<const char*>(blk + k_prefetch + o), _MM_HINT_T0);
        }
        for (int c = 0; c < 4; ++c) {
            const uint8_t* chunk = blk + 288 + 768 * c;
#pragma GCC unroll 2
            for (int half = 0; half < 2; ++half) {
                const int pbk = 2 * c + half;  // panel block within the super-block
                const uint8_t* xb = xp + size_t(sb * 8 + pbk) * PB;
                {
                    const __m256i hs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 288));
                    const __m256i lo = _mm256_srai_epi32(_mm256_slli_epi32(hs, 16), 16);
                    const __m256i hi = _mm256_srai_epi32(hs, 16);
                    _mm256_store_si256(reinterpret_cast<__m256i*>(seed[0]),
                                       _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(lo, 5)));
                    _mm256_store_si256(reinterpret_cast<__m256i*>(seed[1]),
                                       _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(hi, 5)));
                }
                // Read the seeds back as memory broadcasts (load ports) rather than GCC's register shuffles (port 5).
                __asm__("" : : "r"(seed) : "memory");
                __m512i s0[NT], s1[NT];
                for (int t = 0; t < NT; ++t) {
                    s0[t] = bcast32(reinterpret_cast<const uint8_t*>(&seed[0][t]));
                    s1[t] = bcast32(reinterpret_cast<const uint8_t*>(&seed[1][t]));
                }
#pragma GCC unroll 8
                for (int w = 0; w < 8; ++w) {
                    const __m512i v = _mm512_loadu_si512(chunk + 64 * w);
                    const __m512i hq = _mm512_loadu_si512(chunk + 512 + 64 * (w / 2));
                    const int sh = 4 * (w % 2) + 2 * half;  // the code's high bits in hq; moved to bits 4-5
                    __m512i hb;
                    if (sh == 0) hb = _mm512_and_si512(_mm512_slli_epi16(hq, 4), m30);
                    else if (sh == 2) hb = _mm512_and_si512(_mm512_slli_epi16(hq, 2), m30);
                    else if (sh == 4) hb = _mm512_and_si512(hq, m30);
                    else hb = _mm512_and_si512(_mm512_srli_epi16(hq, 2), m30);
                    const __m512i low = half ? _mm512_srli_epi16(v, 4) : v;
                    const __m512i code = _mm512_ternarylogic_epi32(low, hb, m4, k_or_and);
                    const uint8_t* xw = xb + 4 * w;
                    for (int t = 0; t < NT; ++t) {
                        if (w < 4) s0[t] = _mm512_dpbusd_epi32(s0[t], code, bcast32(xw + 32 * t));
                        else s1[t] = _mm512_dpbusd_epi32(s1[t], code, bcast32(xw + 32 * t));
                        chain(s0[t]);
                        chain(s1[t]);
                    }
                }
                auto scale = [&](int j) {
                    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
                    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                                                _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 32 + 16 * j)))));
                };
                const __m512 sf0 = scale(2 * pbk), sf1 = scale(2 * pbk + 1);
                for (int t = 0; t < NT; ++t) {
                    float dx;
                    std::memcpy(&dx, xb + 256 + 4 * t, 4);
                    const __m512 u = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1[t]), sf1,
                                                     _mm512_mul_ps(_mm512_cvtepi32_ps(s0[t]), sf0));
                    acc[t] = _mm512_fmadd_ps(u, _mm512_set1_ps(dx), acc[t]);
                    chain(acc[t]);
                }
            }
        }
    }
    for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * ldy, mask, acc[t]);
}

void matmul_r16_q4_k(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy,
                     int64_t n) {
    static constexpr tile_fn tiles[9] = {nullptr,       tile_q4_k<1>, tile_q4_k<2>, tile_q4_k<3>, tile_q4_k<4>,
                                               tile_q4_k<5>,  tile_q4_k<6>, tile_q4_k<7>, tile_q4_k<8>};
    run_tiles(tiles, quant::QK_K, 2368, w, n_rows, xp, n_tok, y, ldy, n);
}

void matmul_r16_iq4_xs(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy,
                       int64_t n) {
    static constexpr tile_fn tiles[9] = {nullptr,         tile_iq4_xs<1>, tile_iq4_xs<2>,
                                               tile_iq4_xs<3>,  tile_iq4_xs<4>, tile_iq4_xs<5>,
                                               tile_iq4_xs<6>,  tile_iq4_xs<7>, tile_iq4_xs<8>};
    run_tiles(tiles, quant::QK_K, 2208, w, n_rows, xp, n_tok, y, ldy, n);
}

void matmul_r16_q6_k(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy,
                     int64_t n) {
    static constexpr tile_fn tiles[9] = {nullptr,      tile_q6_k<1>, tile_q6_k<2>, tile_q6_k<3>, tile_q6_k<4>,
                                         tile_q6_k<5>, tile_q6_k<6>, tile_q6_k<7>, tile_q6_k<8>};
    run_tiles(tiles, quant::QK_K, 3360, w, n_rows, xp, n_tok, y, ldy, n);
}

}  // namespace

void fill_quant_r16(table& t) {
    t.matmul_r16_q4_0 = matmul_r16<r16::Q4_0>;
    t.matmul_r16_q4_1 = matmul_r16<r16::Q4_1>;
    t.matmul_r16_q8_0 = matmul_r16<r16::Q8_0>;
    t.matmul_r16_iq4_nl = matmul_r16<r16::IQ4_NL>;
    t.matmul_r16_q4_k = matmul_r16_q4_k;
    t.matmul_r16_iq4_xs = matmul_r16_iq4_xs;
    t.matmul_r16_q6_k = matmul_r16_q6_k;
}

}  // namespace fathom::kernels::avx512_vnni

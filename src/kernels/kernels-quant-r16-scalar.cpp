// Scalar R16 kernels: the activation panel quantiser and the 16-row interleaved Q4_0 / Q4_1 / Q8_0 / IQ4_NL / Q4_K /
// IQ4_XS / Q6_K matmuls written straight from the layout in kernels.h; the oracle the SIMD versions are tested against.
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels::scalar {

namespace {

constexpr int64_t QK = quant::QK;

inline float half_at(const uint8_t* p, int64_t i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return fathom::f16_to_f32(h);
}

void quantize_panel_q8(const float* x, int64_t ldx, int64_t n_tok, void* panel, int64_t n, int32_t sum_mode) {
    uint8_t* p = static_cast<uint8_t*>(panel);
    const int64_t nb = n / QK;
    std::memset(p, 0, size_t(nb) * k_r16_panel_block_bytes);
    for (int64_t b = 0; b < nb; ++b) {
        uint8_t* pb = p + size_t(b) * k_r16_panel_block_bytes;
        for (int64_t t = 0; t < n_tok; ++t) {
            const float* xb = x + t * ldx + b * QK;
            float amax = 0.0f;
            for (int64_t i = 0; i < QK; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
            const float d = amax / 127.0f;
            const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
            int8_t* q = reinterpret_cast<int8_t*>(pb + 32 * t);
            int32_t sum = 0;
            for (int64_t i = 0; i < QK; ++i) {
                // Finite x give |x * id| <= 127. A NaN or out-of-int32 product (non-finite input, or an infinite id
                // from a subnormal max) gives code 0, as the SIMD conversions' "integer indefinite" result is mapped.
                const float v = xb[i] * id;
                q[i] = std::fabs(v) < 2147483648.0f ? int8_t(int32_t(std::nearbyint(v))) : int8_t(0);
                sum += q[i];
            }
            std::memcpy(pb + 256 + 4 * t, &d, 4);
            if (sum_mode == k_r16_sum_halves) {
                int32_t lo = 0;
                for (int64_t i = 0; i < QK / 2; ++i) lo += q[i];
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
    }
}

// Unsigned code of element i (0..31) of row r in a block's code area, as the kernels read it.
enum class r16 { Q4_0, Q4_1, Q8_0, IQ4_NL };

template <r16 K>
int code_at(const uint8_t* codes, int r, int i) {
    if constexpr (K == r16::Q8_0) {
        return codes[64 * (i / 4) + 4 * r + (i % 4)];
    } else {
        const int j = (i % 16) / 4;
        const uint8_t byte = codes[64 * j + 4 * r + (i % 4)];
        const int nib = i < 16 ? (byte & 15) : (byte >> 4);
        if constexpr (K == r16::IQ4_NL) return quant::k_iq4nl[nib] + 128;
        else return nib;
    }
}

template <r16 K>
void matmul_r16(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    constexpr size_t block = K == r16::Q8_0 ? 544 : K == r16::Q4_1 ? 320 : 288;
    constexpr size_t code_off = K == r16::Q4_1 ? 64 : 32;
    const int64_t nb = n / QK;
    const int64_t groups = (n_rows + k_r16_rows - 1) / k_r16_rows;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xp);
    for (int64_t g = 0; g < groups; ++g) {
        const uint8_t* wg = wb + size_t(g) * size_t(nb) * block;
        for (int64_t t = 0; t < n_tok; ++t) {
            const uint8_t* xpan = xb + size_t(t / k_r16_panel) * size_t(nb) * k_r16_panel_block_bytes;
            const int64_t ts = t % k_r16_panel;
            for (int r = 0; r < k_r16_rows; ++r) {
                const int64_t row = g * k_r16_rows + r;
                if (row >= n_rows) break;
                float acc = 0.0f;
                for (int64_t b = 0; b < nb; ++b) {
                    const uint8_t* blk = wg + size_t(b) * block;
                    const uint8_t* xblk = xpan + size_t(b) * k_r16_panel_block_bytes;
                    const int8_t* q = reinterpret_cast<const int8_t*>(xblk + 32 * ts);
                    float dx;
                    std::memcpy(&dx, xblk + 256 + 4 * ts, 4);
                    int32_t isum = 0;
                    for (int i = 0; i < QK; ++i) isum += code_at<K>(blk + code_off, r, i) * int32_t(q[i]);
                    const float dw = half_at(blk, r);
                    if constexpr (K == r16::Q4_1) {
                        float s;
                        std::memcpy(&s, xblk + 288 + 4 * ts, 4);
                        acc += float(isum) * (dw * dx) + half_at(blk + 32, r) * s;
                    } else {
                        int32_t corr;
                        std::memcpy(&corr, xblk + 288 + 4 * ts, 4);
                        acc += float(isum + corr) * (dw * dx);
                    }
                }
                y[t * ldy + row] = acc;
            }
        }
    }
}

// The 256-element super-block types (Q4_K, IQ4_XS): every output is the sum over super-blocks sb and sub-blocks j of
// sub(blk, r, j, xblk, ts), the contribution of row r's sub-block j (32 elements) with panel block xblk, token slot ts.
template <size_t BLOCK, class SubBlock>
void matmul_r16_super(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy,
                      int64_t n, SubBlock sub) {
    const int64_t nsb = n / quant::QK_K, nb = n / QK;
    const int64_t groups = (n_rows + k_r16_rows - 1) / k_r16_rows;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xp);
    for (int64_t g = 0; g < groups; ++g) {
        const uint8_t* wg = wb + size_t(g) * size_t(nsb) * BLOCK;
        for (int64_t t = 0; t < n_tok; ++t) {
            const uint8_t* xpan = xb + size_t(t / k_r16_panel) * size_t(nb) * k_r16_panel_block_bytes;
            const int64_t ts = t % k_r16_panel;
            for (int r = 0; r < k_r16_rows; ++r) {
                const int64_t row = g * k_r16_rows + r;
                if (row >= n_rows) break;
                float acc = 0.0f;
                for (int64_t sb = 0; sb < nsb; ++sb)
                    for (int j = 0; j < 8; ++j)
                        acc += sub(wg + size_t(sb) * BLOCK, r, j, xpan + size_t(sb * 8 + j) * k_r16_panel_block_bytes,
                                   ts);
                y[t * ldy + row] = acc;
            }
        }
    }
}

// Q4_K: 2368-byte super-blocks (layout in kernels.h): d * scale_j * code - dmin * min_j.
void matmul_r16_q4_k(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy,
                     int64_t n) {
    matmul_r16_super<2368>(w, n_rows, xp, n_tok, y, ldy, n,
                           [](const uint8_t* blk, int r, int j, const uint8_t* xblk, int64_t ts) {
                               const int8_t* q = reinterpret_cast<const int8_t*>(xblk + 32 * ts);
                               float dx, sx;
                               std::memcpy(&dx, xblk + 256 + 4 * ts, 4);
                               std::memcpy(&sx, xblk + 288 + 4 * ts, 4);
                               const uint8_t* chunk = blk + 320 + 512 * (j / 2);
                               int32_t isum = 0;
                               for (int i = 0; i < QK; ++i) {
                                   const uint8_t byte = chunk[64 * (i / 4) + 4 * r + (i % 4)];
                                   const int code = (j % 2) ? (byte >> 4) : (byte & 15);
                                   isum += code * int32_t(q[i]);
                               }
                               const float d = half_at(blk, r), dmin = half_at(blk + 32, r);
                               const float sc = float(blk[64 + 16 * j + r]), mn = float(blk[192 + 16 * j + r]);
                               return float(isum) * (d * sc * dx) - dmin * mn * sx;
                           });
}

// IQ4_XS: 2208-byte super-blocks (layout in kernels.h): d * (ls_j - 32) * level, codes read as level + 128 with the
// panel's -128 * sum word.
void matmul_r16_iq4_xs(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy,
                       int64_t n) {
    matmul_r16_super<2208>(w, n_rows, xp, n_tok, y, ldy, n,
                           [](const uint8_t* blk, int r, int j, const uint8_t* xblk, int64_t ts) {
                               const int8_t* q = reinterpret_cast<const int8_t*>(xblk + 32 * ts);
                               float dx;
                               int32_t isum;
                               std::memcpy(&dx, xblk + 256 + 4 * ts, 4);
                               std::memcpy(&isum, xblk + 288 + 4 * ts, 4);
                               const uint8_t* codes = blk + 160 + 256 * j;
                               for (int i = 0; i < QK; ++i) isum += code_at<r16::IQ4_NL>(codes, r, i) * int32_t(q[i]);
                               const float sc = float(int(blk[32 + 16 * j + r]) - 32);
                               return float(isum) * (half_at(blk, r) * sc * dx);
                           });
}

// Q6_K: 3360-byte super-blocks (layout in kernels.h): d * scale * (code - 32) per 16-element sub-block; panel block
// j holds sub-blocks 2j and 2j + 1. The bias is applied to each code here, not through the panel's half sums.
void matmul_r16_q6_k(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy,
                     int64_t n) {
    matmul_r16_super<3360>(w, n_rows, xp, n_tok, y, ldy, n,
                           [](const uint8_t* blk, int r, int j, const uint8_t* xblk, int64_t ts) {
                               const int8_t* q = reinterpret_cast<const int8_t*>(xblk + 32 * ts);
                               float dx;
                               std::memcpy(&dx, xblk + 256 + 4 * ts, 4);
                               const uint8_t* chunk = blk + 288 + 768 * (j / 2);
                               const int half = j % 2;  // low or high nibbles of the chunk's words
                               int32_t isum[2] = {0, 0};
                               for (int i = 0; i < QK; ++i) {
                                   const int w = i / 4;
                                   const int low4 = (chunk[64 * w + 4 * r + i % 4] >> (4 * half)) & 15;
                                   const int high2 = (chunk[512 + 64 * (w / 2) + 4 * r + i % 4] >> (4 * (w % 2) + 2 * half)) & 3;
                                   isum[i / 16] += ((low4 | high2 << 4) - 32) * int32_t(q[i]);
                               }
                               const float d = half_at(blk, r);
                               const float s0 = float(int8_t(blk[32 + 16 * (2 * j) + r]));
                               const float s1 = float(int8_t(blk[32 + 16 * (2 * j + 1) + r]));
                               return (float(isum[0]) * s0 + float(isum[1]) * s1) * (d * dx);
                           });
}

}  // namespace

void fill_quant_r16(table& t) {
    t.quantize_panel_q8 = quantize_panel_q8;
    t.matmul_r16_q4_0 = matmul_r16<r16::Q4_0>;
    t.matmul_r16_q4_1 = matmul_r16<r16::Q4_1>;
    t.matmul_r16_q8_0 = matmul_r16<r16::Q8_0>;
    t.matmul_r16_iq4_nl = matmul_r16<r16::IQ4_NL>;
    t.matmul_r16_q4_k = matmul_r16_q4_k;
    t.matmul_r16_iq4_xs = matmul_r16_iq4_xs;
    t.matmul_r16_q6_k = matmul_r16_q6_k;
}

}  // namespace fathom::kernels::scalar

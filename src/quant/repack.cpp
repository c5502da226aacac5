// R16 repacking of Q4_0 / Q4_1 / Q8_0 / IQ4_NL / Q4_K / IQ4_XS / Q6_K weights into 16-row interleaved groups, and back.
#include "quant/repack.h"

#include <cstring>

#include "quant/blocks.h"

namespace fathom::quant {

namespace {

constexpr int64_t k_rows = 16;

struct r16_form {
    size_t src_block = 0;   // GGUF block bytes
    size_t dst_block = 0;   // R16 block bytes (16 rows)
    int n_halves = 0;       // F16 words per row in the GGUF block header (d, or d and m)
    int n_words = 0;        // 4-byte code words per row per block
    bool flip = false;      // codes stored XOR 0x80
};

r16_form form_of(dtype w) {
    switch (w) {
        case dtype::DTYPE_Q4_0: return {sizeof(block_q4_0), 288, 1, 4, false};
        case dtype::DTYPE_IQ4_NL: return {sizeof(block_iq4_nl), 288, 1, 4, false};
        case dtype::DTYPE_Q4_1: return {sizeof(block_q4_1), 320, 2, 4, false};
        case dtype::DTYPE_Q8_0: return {sizeof(block_q8_0), 544, 1, 8, true};
        default: return {};
    }
}

// ---- Q4_K: 256-element super-blocks (see kernels.h): 16 d, 16 dmin, 8x16 scales, 8x16 mins, 4 chunks of 512 B.
constexpr size_t k_q4k_r16 = 2368;

// The 6-bit scale and min of sub-block j from a Q4_K block's 12 packed bytes, and back.
void q4k_scale_min(const uint8_t* q, int j, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}
void q4k_pack_scales(const uint8_t* sc, const uint8_t* m, uint8_t* q) {
    for (int j = 0; j < 4; ++j) {
        q[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = uint8_t((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        q[j + 8] = uint8_t((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
    }
}

void repack_q4_k(const uint8_t* s, size_t row_bytes, int64_t n_rows, int64_t n, uint8_t* d) {
    const int64_t nb = n / QK_K, groups = (n_rows + k_rows - 1) / k_rows;
    for (int64_t g = 0; g < groups; ++g)
        for (int64_t r = 0; r < k_rows && g * k_rows + r < n_rows; ++r) {
            const uint8_t* sr = s + size_t(g * k_rows + r) * row_bytes;
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t* sb = sr + size_t(b) * sizeof(block_q4_k);
                uint8_t* db = d + (size_t(g) * size_t(nb) + size_t(b)) * k_q4k_r16;
                std::memcpy(db + 2 * r, sb, 2);            // d
                std::memcpy(db + 32 + 2 * r, sb + 2, 2);   // dmin
                for (int j = 0; j < 8; ++j) q4k_scale_min(sb + 4, j, db + 64 + 16 * j + r, db + 192 + 16 * j + r);
                const uint8_t* qs = sb + 4 + K_SCALE_SIZE;
                for (int c = 0; c < 4; ++c)
                    for (int w = 0; w < 8; ++w)
                        std::memcpy(db + 320 + 512 * c + 64 * w + 4 * r, qs + 32 * c + 4 * w, 4);
            }
        }
}

void unpack_q4_k_row(const uint8_t* p, int64_t row, int64_t n, uint8_t* o) {
    const int64_t nb = n / QK_K, g = row / k_rows, r = row % k_rows;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* pb = p + (size_t(g) * size_t(nb) + size_t(b)) * k_q4k_r16;
        uint8_t* ob = o + size_t(b) * sizeof(block_q4_k);
        std::memcpy(ob, pb + 2 * r, 2);
        std::memcpy(ob + 2, pb + 32 + 2 * r, 2);
        uint8_t sc[8], m[8];
        for (int j = 0; j < 8; ++j) {
            sc[j] = pb[64 + 16 * j + r];
            m[j] = pb[192 + 16 * j + r];
        }
        q4k_pack_scales(sc, m, ob + 4);
        uint8_t* qs = ob + 4 + K_SCALE_SIZE;
        for (int c = 0; c < 4; ++c)
            for (int w = 0; w < 8; ++w) std::memcpy(qs + 32 * c + 4 * w, pb + 320 + 512 * c + 64 * w + 4 * r, 4);
    }
}

// ---- IQ4_XS: 256-element super-blocks (see kernels.h): 16 d, 8x16 6-bit scales, 8 sub-blocks of 4 x 64 B codes.
constexpr size_t k_iq4xs_r16 = 2208;

void repack_iq4_xs(const uint8_t* s, size_t row_bytes, int64_t n_rows, int64_t n, uint8_t* d) {
    const int64_t nb = n / QK_K, groups = (n_rows + k_rows - 1) / k_rows;
    for (int64_t g = 0; g < groups; ++g)
        for (int64_t r = 0; r < k_rows && g * k_rows + r < n_rows; ++r) {
            const uint8_t* sr = s + size_t(g * k_rows + r) * row_bytes;
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t* sb = sr + size_t(b) * sizeof(block_iq4_xs);
                uint8_t* db = d + (size_t(g) * size_t(nb) + size_t(b)) * k_iq4xs_r16;
                std::memcpy(db + 2 * r, sb, 2);  // d
                const unsigned sh = unsigned(sb[2]) | unsigned(sb[3]) << 8;
                for (int j = 0; j < 8; ++j)
                    db[32 + 16 * j + r] = uint8_t(((sb[4 + j / 2] >> (4 * (j % 2))) & 0xF) | (((sh >> (2 * j)) & 3) << 4));
                const uint8_t* qs = sb + 8;
                for (int j = 0; j < 8; ++j)
                    for (int w = 0; w < 4; ++w) std::memcpy(db + 160 + 256 * j + 64 * w + 4 * r, qs + 16 * j + 4 * w, 4);
            }
        }
}

void unpack_iq4_xs_row(const uint8_t* p, int64_t row, int64_t n, uint8_t* o) {
    const int64_t nb = n / QK_K, g = row / k_rows, r = row % k_rows;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* pb = p + (size_t(g) * size_t(nb) + size_t(b)) * k_iq4xs_r16;
        uint8_t* ob = o + size_t(b) * sizeof(block_iq4_xs);
        std::memcpy(ob, pb + 2 * r, 2);
        unsigned sh = 0;
        std::memset(ob + 4, 0, 4);
        for (int j = 0; j < 8; ++j) {
            const unsigned ls = pb[32 + 16 * j + r];
            ob[4 + j / 2] = uint8_t(ob[4 + j / 2] | ((ls & 0xF) << (4 * (j % 2))));
            sh |= (ls >> 4) << (2 * j);
        }
        ob[2] = uint8_t(sh & 0xFF);
        ob[3] = uint8_t(sh >> 8);
        uint8_t* qs = ob + 8;
        for (int j = 0; j < 8; ++j)
            for (int w = 0; w < 4; ++w) std::memcpy(qs + 16 * j + 4 * w, pb + 160 + 256 * j + 64 * w + 4 * r, 4);
    }
}

// ---- Q6_K: 256-element super-blocks (see kernels.h): 16 d, 16x16 int8 scales, 4 chunks of 512 B low bits + 256 B
// high bits.
constexpr size_t k_q6k_r16 = 3360;

// The 6-bit code of element e (< 256) of a GGUF Q6_K block (ql: low 4 bits, qh: high 2 bits; each 128-element half
// uses 64 ql and 32 qh bytes: elements l, l+32, l+64, l+96 share ql[l], ql[l+32] (low, low, high, high nibble) and
// qh[l] (bits 0-1, 2-3, 4-5, 6-7)).
int q6k_code(const block_q6_k& b, int e) {
    const int h = e / 128, k = e % 128, l = k % 32, q = k / 32;
    const uint8_t lo = b.ql[64 * h + l + 32 * (q & 1)];
    const int low4 = q < 2 ? (lo & 15) : (lo >> 4);
    return low4 | (((b.qh[32 * h + l] >> (2 * q)) & 3) << 4);
}
void q6k_set_code(block_q6_k& b, int e, int code) {
    const int h = e / 128, k = e % 128, l = k % 32, q = k / 32;
    uint8_t& lo = b.ql[64 * h + l + 32 * (q & 1)];
    lo = q < 2 ? uint8_t((lo & 0xF0) | (code & 15)) : uint8_t((lo & 0x0F) | ((code & 15) << 4));
    uint8_t& hi = b.qh[32 * h + l];
    hi = uint8_t((hi & ~(3u << (2 * q))) | (unsigned(code >> 4) << (2 * q)));
}

// Where element e (< 256) of row r lives in a repacked super-block: its low-bit byte and nibble, its high-bit byte
// and shift.
struct q6k_place {
    size_t lo_byte;
    int lo_shift;
    size_t hi_byte;
    int hi_shift;
};
q6k_place q6k_where(int r, int e) {
    const int c = e / 64, k = e % 64, half = k / 32, w = (k % 32) / 4, i = k % 4;
    const size_t chunk = 288 + 768 * size_t(c);
    return {chunk + size_t(64 * w + 4 * r + i), 4 * half, chunk + 512 + size_t(64 * (w / 2) + 4 * r + i),
            4 * (w % 2) + 2 * half};
}

void repack_q6_k(const uint8_t* s, size_t row_bytes, int64_t n_rows, int64_t n, uint8_t* d) {
    const int64_t nb = n / QK_K, groups = (n_rows + k_rows - 1) / k_rows;
    for (int64_t g = 0; g < groups; ++g)
        for (int64_t r = 0; r < k_rows && g * k_rows + r < n_rows; ++r) {
            const uint8_t* sr = s + size_t(g * k_rows + r) * row_bytes;
            for (int64_t b = 0; b < nb; ++b) {
                block_q6_k blk;
                std::memcpy(&blk, sr + size_t(b) * sizeof(block_q6_k), sizeof blk);
                uint8_t* db = d + (size_t(g) * size_t(nb) + size_t(b)) * k_q6k_r16;
                std::memcpy(db + 2 * r, &blk.d, 2);
                for (int j = 0; j < 16; ++j) db[32 + 16 * j + r] = uint8_t(blk.scales[j]);
                for (int e = 0; e < QK_K; ++e) {
                    const int code = q6k_code(blk, e);
                    const q6k_place at = q6k_where(int(r), e);
                    db[at.lo_byte] = uint8_t(db[at.lo_byte] | ((code & 15) << at.lo_shift));
                    db[at.hi_byte] = uint8_t(db[at.hi_byte] | ((code >> 4) << at.hi_shift));
                }
            }
        }
}

void unpack_q6_k_row(const uint8_t* p, int64_t row, int64_t n, uint8_t* o) {
    const int64_t nb = n / QK_K, g = row / k_rows, r = row % k_rows;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* pb = p + (size_t(g) * size_t(nb) + size_t(b)) * k_q6k_r16;
        block_q6_k blk;
        std::memset(&blk, 0, sizeof blk);
        std::memcpy(&blk.d, pb + 2 * r, 2);
        for (int j = 0; j < 16; ++j) blk.scales[j] = int8_t(pb[32 + 16 * j + r]);
        for (int e = 0; e < QK_K; ++e) {
            const q6k_place at = q6k_where(int(r), e);
            q6k_set_code(blk, e, ((pb[at.lo_byte] >> at.lo_shift) & 15) | (((pb[at.hi_byte] >> at.hi_shift) & 3) << 4));
        }
        std::memcpy(o + size_t(b) * sizeof(block_q6_k), &blk, sizeof blk);
    }
}

}  // namespace

size_t r16_block_bytes(dtype w) {
    if (w == dtype::DTYPE_Q4_K) return k_q4k_r16 / 8;
    if (w == dtype::DTYPE_IQ4_XS) return k_iq4xs_r16 / 8;
    if (w == dtype::DTYPE_Q6_K) return k_q6k_r16 / 8;
    return form_of(w).dst_block;
}

size_t r16_bytes(dtype w, int64_t n_rows, int64_t n) {
    const int64_t groups = (n_rows + k_rows - 1) / k_rows;
    return size_t(groups) * size_t(n / QK) * r16_block_bytes(w);
}

void repack_r16(dtype w, const void* src, size_t row_bytes, int64_t n_rows, int64_t n, void* dst) {
    if (w == dtype::DTYPE_Q4_K || w == dtype::DTYPE_IQ4_XS || w == dtype::DTYPE_Q6_K) {
        std::memset(dst, 0, r16_bytes(w, n_rows, n));
        const uint8_t* s = static_cast<const uint8_t*>(src);
        uint8_t* d = static_cast<uint8_t*>(dst);
        if (w == dtype::DTYPE_Q4_K) repack_q4_k(s, row_bytes, n_rows, n, d);
        else if (w == dtype::DTYPE_IQ4_XS) repack_iq4_xs(s, row_bytes, n_rows, n, d);
        else repack_q6_k(s, row_bytes, n_rows, n, d);
        return;
    }
    const r16_form f = form_of(w);
    const int64_t nb = n / QK, groups = (n_rows + k_rows - 1) / k_rows;
    const uint8_t* s = static_cast<const uint8_t*>(src);
    uint8_t* d = static_cast<uint8_t*>(dst);
    std::memset(d, 0, r16_bytes(w, n_rows, n));
    const size_t hdr = size_t(f.n_halves) * 2;
    for (int64_t g = 0; g < groups; ++g) {
        for (int64_t r = 0; r < k_rows; ++r) {
            const int64_t row = g * k_rows + r;
            if (row >= n_rows) break;
            const uint8_t* sr = s + size_t(row) * row_bytes;
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t* sb = sr + size_t(b) * f.src_block;
                uint8_t* db = d + (size_t(g) * size_t(nb) + size_t(b)) * f.dst_block;
                for (int h = 0; h < f.n_halves; ++h) std::memcpy(db + size_t(h) * 32 + size_t(r) * 2, sb + 2 * h, 2);
                uint8_t* codes = db + size_t(f.n_halves) * 32;
                for (int j = 0; j < f.n_words; ++j)
                    for (int i = 0; i < 4; ++i) {
                        const uint8_t c = sb[hdr + size_t(4 * j + i)];
                        codes[size_t(64 * j + 4 * r + i)] = f.flip ? uint8_t(c ^ 0x80u) : c;
                    }
            }
        }
    }
}

void unpack_r16_row(dtype w, const void* packed, int64_t row, int64_t n, void* dst) {
    if (w == dtype::DTYPE_Q4_K) {
        unpack_q4_k_row(static_cast<const uint8_t*>(packed), row, n, static_cast<uint8_t*>(dst));
        return;
    }
    if (w == dtype::DTYPE_IQ4_XS) {
        unpack_iq4_xs_row(static_cast<const uint8_t*>(packed), row, n, static_cast<uint8_t*>(dst));
        return;
    }
    if (w == dtype::DTYPE_Q6_K) {
        unpack_q6_k_row(static_cast<const uint8_t*>(packed), row, n, static_cast<uint8_t*>(dst));
        return;
    }
    const r16_form f = form_of(w);
    const int64_t nb = n / QK, g = row / k_rows, r = row % k_rows;
    const uint8_t* p = static_cast<const uint8_t*>(packed);
    uint8_t* o = static_cast<uint8_t*>(dst);
    const size_t hdr = size_t(f.n_halves) * 2;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* pb = p + (size_t(g) * size_t(nb) + size_t(b)) * f.dst_block;
        uint8_t* ob = o + size_t(b) * f.src_block;
        for (int h = 0; h < f.n_halves; ++h) std::memcpy(ob + 2 * h, pb + size_t(h) * 32 + size_t(r) * 2, 2);
        const uint8_t* codes = pb + size_t(f.n_halves) * 32;
        for (int j = 0; j < f.n_words; ++j)
            for (int i = 0; i < 4; ++i) {
                const uint8_t c = codes[size_t(64 * j + 4 * r + i)];
                ob[hdr + size_t(4 * j + i)] = f.flip ? uint8_t(c ^ 0x80u) : c;
            }
    }
}

}  // namespace fathom::quant

// R16 repacking of Q4_0 / Q4_1 / Q8_0 / IQ4_NL weights into 16-row interleaved groups, and back.
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

}  // namespace

size_t r16_block_bytes(dtype w) { return form_of(w).dst_block; }

size_t r16_bytes(dtype w, int64_t n_rows, int64_t n) {
    const r16_form f = form_of(w);
    const int64_t groups = (n_rows + k_rows - 1) / k_rows;
    return size_t(groups) * size_t(n / QK) * f.dst_block;
}

void repack_r16(dtype w, const void* src, size_t row_bytes, int64_t n_rows, int64_t n, void* dst) {
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

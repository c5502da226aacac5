// Element types (numbered as GGML/GGUF does) and scalar F16/BF16 conversions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace fathom {

// Numeric values are the GGML type ids stored in GGUF files.
enum class dtype : uint32_t {
    DTYPE_F32 = 0,
    DTYPE_F16 = 1,
    DTYPE_Q4_0 = 2,
    DTYPE_Q4_1 = 3,
    DTYPE_Q5_0 = 6,
    DTYPE_Q5_1 = 7,
    DTYPE_Q8_0 = 8,
    DTYPE_Q8_1 = 9,
    DTYPE_Q2_K = 10,
    DTYPE_Q3_K = 11,
    DTYPE_Q4_K = 12,
    DTYPE_Q5_K = 13,
    DTYPE_Q6_K = 14,
    DTYPE_Q8_K = 15,
    DTYPE_IQ4_NL = 20,
    DTYPE_I8 = 24,
    DTYPE_I16 = 25,
    DTYPE_I32 = 26,
    DTYPE_I64 = 27,
    DTYPE_F64 = 28,
    DTYPE_IQ4_XS = 23,
    DTYPE_BF16 = 30,
};

struct dtype_traits {
    const char* name;     // "f32", "f16", "q4_0", ...
    int64_t block_size;   // elements per block (1 for plain types)
    size_t type_size;     // bytes per block
};

// Returns false for ids this build does not know.
bool dtype_known(uint32_t id);
const dtype_traits& dtype_info(dtype t);  // t must be known
inline const char* dtype_name(dtype t) { return dtype_info(t).name; }
// Parses "f32", "f16", "bf16", ... (case-insensitive); returns false if unknown.
bool dtype_from_name(const std::string& name, dtype* out);

// Bytes for a row of n elements; throws ERRC_FORMAT if n is not a multiple of the block size or overflows.
size_t dtype_row_bytes(dtype t, int64_t n);

// ---- scalar conversions (kernels have vectorised versions) ----
inline float bf16_to_f32(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline uint16_t f32_to_bf16(float f) {  // round to nearest even, NaN kept quiet
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // round to nearest even, overflow to inf

}  // namespace fathom

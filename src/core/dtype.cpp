// Element type table and scalar F16 conversion.
#include "core/dtype.h"

#include <cctype>
#include <limits>

#include "core/error.h"

namespace fathom {

namespace {
struct entry {
    uint32_t id;
    dtype_traits traits;
};
const entry k_types[] = {
    {0, {"f32", 1, 4}},        {1, {"f16", 1, 2}},       {2, {"q4_0", 32, 18}},
    {3, {"q4_1", 32, 20}},     {6, {"q5_0", 32, 22}},    {7, {"q5_1", 32, 24}},
    {8, {"q8_0", 32, 34}},     {9, {"q8_1", 32, 36}},    {10, {"q2_k", 256, 84}},
    {11, {"q3_k", 256, 110}},  {12, {"q4_k", 256, 144}}, {13, {"q5_k", 256, 176}},
    {14, {"q6_k", 256, 210}},  {15, {"q8_k", 256, 292}}, {20, {"iq4_nl", 32, 18}},
    {23, {"iq4_xs", 256, 136}}, {24, {"i8", 1, 1}},      {25, {"i16", 1, 2}},
    {26, {"i32", 1, 4}},       {27, {"i64", 1, 8}},      {28, {"f64", 1, 8}},
    {30, {"bf16", 1, 2}},
};
const entry* lookup(uint32_t id) {
    for (const auto& e : k_types)
        if (e.id == id) return &e;
    return nullptr;
}
}  // namespace

bool dtype_known(uint32_t id) { return lookup(id) != nullptr; }

const dtype_traits& dtype_info(dtype t) {
    const entry* e = lookup(uint32_t(t));
    if (!e) fail(errc::ERRC_UNSUPPORTED, "unknown tensor type id " + std::to_string(uint32_t(t)));
    return e->traits;
}

bool dtype_from_name(const std::string& name, dtype* out) {
    std::string lower;
    for (char c : name) lower += char(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& e : k_types) {
        if (lower == e.traits.name) {
            *out = dtype(e.id);
            return true;
        }
    }
    return false;
}

size_t dtype_row_bytes(dtype t, int64_t n) {
    const dtype_traits& tr = dtype_info(t);
    if (n < 0 || n % tr.block_size != 0)
        fail(errc::ERRC_FORMAT, std::string("row of ") + std::to_string(n) + " elements is not a multiple of the " +
                                    tr.name + " block size " + std::to_string(tr.block_size));
    uint64_t blocks = uint64_t(n) / uint64_t(tr.block_size);
    if (blocks > std::numeric_limits<size_t>::max() / tr.type_size)
        fail(errc::ERRC_FORMAT, "row size overflows");
    return size_t(blocks * tr.type_size);
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                mant <<= 1;
                ++e;
            } while ((mant & 0x400u) == 0);
            mant &= 0x3ffu;
            u = sign | uint32_t(127 - 15 - e) << 23 | mant << 13;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | mant << 13;
    } else {
        u = sign | (exp + 112u) << 23 | mant << 13;
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
    if (abs >= 0x477ff000u) {  // rounds to >= 65520 -> inf
        return uint16_t(sign | 0x7c00u);
    }
    if (abs < 0x38800000u) {  // result is subnormal or zero
        if (abs < 0x33000000u) return uint16_t(sign);  // < 2^-25 rounds to 0
        uint32_t e = abs >> 23;
        uint32_t m = (abs & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e;  // 14..24 for this range
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) ++half;
        return uint16_t(sign | half);
    }
    uint32_t r = abs + 0xfffu + ((abs >> 13) & 1u);  // round to nearest even at bit 13
    r -= 0x38000000u;  // rebias exponent 127 -> 15
    return uint16_t(sign | (r >> 13));
}

}  // namespace fathom

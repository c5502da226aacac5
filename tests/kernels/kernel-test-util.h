// Shared helpers for the kernel tests: random data, weight encoding, double-precision reference products.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/kernels.h"

namespace fathom::test {

inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

inline size_t elem_size(dtype t) { return t == dtype::DTYPE_F32 ? 4 : 2; }

// Encodes values as weight type t (F32/F16/BF16) into bytes; `decoded` receives the exactly representable values.
inline std::vector<uint8_t> encode(dtype t, const std::vector<float>& v, std::vector<float>* decoded) {
    std::vector<uint8_t> out(v.size() * elem_size(t));
    if (decoded) decoded->resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        float d = v[i];
        if (t == dtype::DTYPE_F32) {
            std::memcpy(&out[i * 4], &d, 4);
        } else {
            uint16_t h = t == dtype::DTYPE_F16 ? fathom::f32_to_f16(v[i]) : fathom::f32_to_bf16(v[i]);
            d = t == dtype::DTYPE_F16 ? fathom::f16_to_f32(h) : fathom::bf16_to_f32(h);
            std::memcpy(&out[i * 2], &h, 2);
        }
        if (decoded) (*decoded)[i] = d;
    }
    return out;
}

// Tables the host supports, scalar first.
inline std::vector<const kernels::table*> host_tables() {
    std::vector<const kernels::table*> v;
    for (kernels::isa i : {kernels::isa::ISA_SCALAR, kernels::isa::ISA_AVX2, kernels::isa::ISA_AVX2_VNNI,
                           kernels::isa::ISA_AVX512, kernels::isa::ISA_AVX512_VNNI, kernels::isa::ISA_NEON})
        if (const kernels::table* t = kernels::for_isa(i)) v.push_back(t);
    return v;
}

inline const char* type_name(dtype t) { return fathom::dtype_name(t); }

}  // namespace fathom::test

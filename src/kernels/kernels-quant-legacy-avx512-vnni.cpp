// AVX-512 VNNI legacy quantised kernels: matmuls of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL weights with INT8
// activations, dot products by vpdpbusd (unsigned x signed bytes into int32; tiles in
// kernels-quant-legacy-avx512-tiles.h). The activation quantisers are inherited from the AVX-512 table.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() and then trip -Wuninitialized (GCC PR105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "kernels/kernels-quant-legacy-avx512-tiles.h"

namespace fathom::kernels::avx512_vnni {

namespace {

using ql512::prepared;
using ql512::wkind;

// vpdpbusd takes the weight codes as the unsigned operand. Signed codes are biased by 128 (c ^ 0x80 = c + 128), so
// every kind but MIN reads as dot(c + bias, x) with bias 8, 16 (Q4_0, Q5_0: value = code - bias) or 128 (SIGNED);
// the accumulator starts at -bias * sum(x), computed once per activation block and shared by all row pairs.
// No int16 intermediate: nothing saturates.
struct dot_vnni {
    template <wkind K>
    static prepared prepare(__m512i c) {
        if constexpr (K == wkind::SIGNED) return {_mm512_xor_si512(c, _mm512_set1_epi8(char(0x80))), 0};
        else return {c, 0};
    }
    static constexpr bool wide_products = true;  // int32 sums of four products: nothing saturates
    static constexpr int signed_bias = 128;
    template <wkind K>
    static constexpr bool needs_correction() { return K != wkind::MIN; }
    static __m256i correction(__m256i x, __m256i bias) {
        const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, x);
        return _mm256_sub_epi32(_mm256_setzero_si256(), s);
    }
    template <wkind K>
    static __m512i dot(const prepared& w, __m512i x, __m512i corr) {
        return _mm512_dpbusd_epi32(corr, w.u, x);
    }
};

}  // namespace

void fill_quant_legacy(table& t) { ql512::fill_matmuls<dot_vnni>(t); }

}  // namespace fathom::kernels::avx512_vnni

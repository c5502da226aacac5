// AVX-512 VNNI K-quant kernels: Q4_K / Q5_K / Q6_K / IQ4_XS weights times Q8_K activations with vpdpbusd (the body is
// kernels-quant-k-avx512-impl.h; the Q8_K quantiser is inherited from the AVX-512 table).
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() and then trip -Wuninitialized (GCC PR105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels::avx512_vnni {

namespace {
constexpr bool k_vnni = true;
#include "kernels/kernels-quant-k-avx512-impl.h"
}  // namespace

void fill_quant_k(table& t) {
    t.matmul_rows_q4_k = qk::matmul_rows<qk::q4_k>;
    t.matmul_rows_q5_k = qk::matmul_rows<qk::q5_k>;
    t.matmul_rows_q6_k = qk::matmul_rows<qk::q6_k>;
    t.matmul_rows_iq4_xs = qk::matmul_rows<qk::iq4_xs>;
}

}  // namespace fathom::kernels::avx512_vnni

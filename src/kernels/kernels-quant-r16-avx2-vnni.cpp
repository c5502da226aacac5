// AVX-VNNI (256-bit VEX vpdpbusd) R16 kernels, on top of the AVX2 table.
#include "kernels/kernels.h"

namespace fathom::kernels::avx2_vnni {

// No AVX-VNNI R16 kernels yet: the entries stay the AVX2 ones.
void fill_quant_r16(table&) {}

}  // namespace fathom::kernels::avx2_vnni

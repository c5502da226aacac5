// AVX512-VNNI R16 kernels (interleaved 16-row quantised weights x INT8 activation panels).
#include "kernels/kernels.h"

namespace fathom::kernels::avx512_vnni {

// No avx512-vnni R16 kernels yet: the entries stay those of the level below.
void fill_quant_r16(table&) {}

}  // namespace fathom::kernels::avx512_vnni

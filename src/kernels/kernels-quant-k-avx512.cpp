// Quantised k kernels for avx512 (being written: no entries filled yet, so the table inherits the level below).
#include "kernels/kernels.h"

namespace fathom::kernels::avx512 {

void fill_quant_k(table& t) { (void)t; }

}  // namespace fathom::kernels::avx512

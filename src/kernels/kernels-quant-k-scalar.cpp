// Quantised k kernels for scalar (being written: no entries filled yet, so the table inherits the level below).
#include "kernels/kernels.h"

namespace fathom::kernels::scalar {

void fill_quant_k(table& t) { (void)t; }

}  // namespace fathom::kernels::scalar

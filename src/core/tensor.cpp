// Tensor view construction and aligned buffer allocation.
#include "core/tensor.h"

#include <cstring>

#include "core/error.h"

namespace fathom {

tensor_view make_view(dtype t, const void* data, std::initializer_list<int64_t> ne) {
    tensor_view v;
    v.type = t;
    v.data = data;
    v.n_dims = int(ne.size());
    int i = 0;
    for (int64_t n : ne) v.ne[i++] = n;
    const dtype_traits& tr = dtype_info(t);
    v.nb[0] = tr.type_size;
    v.nb[1] = dtype_row_bytes(t, v.ne[0]);
    for (int d = 2; d < k_max_dims; ++d) v.nb[d] = v.nb[d - 1] * size_t(v.ne[d - 1]);
    return v;
}

void aligned_buffer::reset(size_t bytes) {
    std::free(p_);
    p_ = nullptr;
    n_ = 0;
    if (bytes == 0) return;
    size_t rounded = (bytes + 63) & ~size_t(63);
    if (rounded < bytes) fail(errc::ERRC_OUT_OF_MEMORY, "allocation size overflows");
    p_ = std::aligned_alloc(64, rounded);
    if (!p_) fail(errc::ERRC_OUT_OF_MEMORY, "out of memory allocating " + std::to_string(bytes) + " bytes");
    std::memset(p_, 0, rounded);
    n_ = bytes;
}

}  // namespace fathom

// Tensor view construction and aligned buffer allocation.
#include "core/tensor.h"

#include <cstring>
#include <sys/mman.h>

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

void aligned_buffer::release() noexcept {
    if (mapped_) ::munmap(p_, mapped_);
    else std::free(p_);
    p_ = nullptr;
    n_ = 0;
    mapped_ = 0;
}

void aligned_buffer::reset(size_t bytes) {
    release();
    if (bytes == 0) return;
    size_t rounded = (bytes + 63) & ~size_t(63);
    if (rounded < bytes) fail(errc::ERRC_OUT_OF_MEMORY, "allocation size overflows");
    if (rounded >= (size_t(1) << 20)) {
        // Page-aligned (so 64-byte aligned) and already zero.
        void* p = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            fail(errc::ERRC_OUT_OF_MEMORY, "out of memory allocating " + std::to_string(bytes) + " bytes");
        p_ = p;
        mapped_ = rounded;
    } else {
        p_ = std::aligned_alloc(64, rounded);
        if (!p_) fail(errc::ERRC_OUT_OF_MEMORY, "out of memory allocating " + std::to_string(bytes) + " bytes");
        std::memset(p_, 0, rounded);
    }
    n_ = bytes;
}

}  // namespace fathom

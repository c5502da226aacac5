// Tensor views (type, shape, byte strides over memory owned elsewhere) and aligned owning buffers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>

#include "core/dtype.h"

namespace fathom {

constexpr int k_max_dims = 4;

// A non-owning view. Dimensions are GGUF/GGML order: ne[0] is the innermost (contiguous) one.
// A weight matrix used as y = W x with W of HF shape (out, in) has ne = {in, out}; row r starts at data + r*nb[1].
struct tensor_view {
    dtype type = dtype::DTYPE_F32;
    int n_dims = 0;
    int64_t ne[k_max_dims] = {1, 1, 1, 1};
    size_t nb[k_max_dims] = {0, 0, 0, 0};  // byte strides; nb[0] = element size (block size for block types)
    const void* data = nullptr;

    int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
    const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + size_t(r) * nb[1]; }
};

// Makes a contiguous view; ne given innermost first.
tensor_view make_view(dtype t, const void* data, std::initializer_list<int64_t> ne);

// 64-byte aligned, zero-filled memory. Move-only. Large buffers (>= 1 MiB) come from anonymous mmap, so their pages
// are zero and committed only when first touched: a KV cache sized for a long context costs nothing until used.
class aligned_buffer {
public:
    aligned_buffer() = default;
    explicit aligned_buffer(size_t bytes) { reset(bytes); }
    aligned_buffer(aligned_buffer&& o) noexcept
        : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)), mapped_(std::exchange(o.mapped_, 0)) {}
    aligned_buffer& operator=(aligned_buffer&& o) noexcept {
        if (this != &o) {
            release();
            p_ = std::exchange(o.p_, nullptr);
            n_ = std::exchange(o.n_, 0);
            mapped_ = std::exchange(o.mapped_, 0);
        }
        return *this;
    }
    aligned_buffer(const aligned_buffer&) = delete;
    aligned_buffer& operator=(const aligned_buffer&) = delete;
    ~aligned_buffer() { release(); }

    // Reallocates (contents are not kept); zero-filled. Throws ERRC_OUT_OF_MEMORY.
    void reset(size_t bytes);
    void* data() { return p_; }
    const void* data() const { return p_; }
    template <class T> T* as() { return static_cast<T*>(p_); }
    template <class T> const T* as() const { return static_cast<const T*>(p_); }
    size_t size() const { return n_; }

private:
    void release() noexcept;
    void* p_ = nullptr;
    size_t n_ = 0;
    size_t mapped_ = 0;  // length of the anonymous mapping, 0 when p_ came from aligned_alloc
};

}  // namespace fathom

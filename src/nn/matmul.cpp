// matmul() against weights of any supported type: kernel-table GEMV/small-GEMM or OpenBLAS sgemm panels for prefill;
// quantised weights through the integer kernels with activations quantised on the fly.
#include "nn/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/kernels.h"
#include "quant/quant.h"
#include "quant/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#if defined(FATHOM_HAVE_BLAS)
#include <cblas.h>
#include <cstdlib>
#include <strings.h>
extern "C" {
void openblas_set_num_threads(int num_threads);
// OpenBLAS DYNAMIC_ARCH internals, weak so that a BLAS without them still links (they are then null).
char* openblas_get_corename(void) __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
void blas_thread_shutdown_(void) __attribute__((weak));
}
#endif

namespace fathom::nn {

namespace {

// Output rows are handed out in blocks of this many (a multiple of every micro-kernel's row count).
constexpr int64_t k_row_block = 16;
// Kernel path: tokens per matmul_rows call and rows per sub-block, so a sub-block of weights stays in L2
// while every token tile passes over it.
constexpr int64_t k_tok_tile = 64;
constexpr int64_t k_sub_rows = 64;
// From this many tokens on, the BLAS path is used. Measured crossover on 2048x2048 (1 and 2 threads): F32 between
// 24 and 48 tokens; F16/BF16, which pay a conversion to F32 first, between 48 and 128.
constexpr int64_t k_blas_min_tokens_f32 = 32;
constexpr int64_t k_blas_min_tokens_16bit = 64;
// A positive value overrides the per-type defaults (set_blas_min_tokens).
std::atomic<int64_t> g_blas_min_tokens_override{0};
// Quantised weights: from this many tokens on, dequantised panels through sgemm. Measured on tinyllama at 256-512
// tokens, 2 threads: the legacy types' integer tiles (Q4_0 71 t/s) lose to sgemm panels (86 t/s), the K-quant
// tiles (Q4_K_M 63-72 t/s) beat them (43-44 t/s), so K-quants and IQ4_XS never take the panels.
// FATHOM_QUANT_BLAS_MIN=N sets one threshold for every quantised type (0 disables the panels) for measurements.
constexpr int64_t k_never = int64_t(1) << 40;
const int64_t g_quant_blas_env = [] {
    const char* e = std::getenv("FATHOM_QUANT_BLAS_MIN");
    if (!e) return int64_t(-1);
    const long v = std::strtol(e, nullptr, 10);
    return v > 0 ? int64_t(v) : k_never;
}();
int64_t quant_blas_min_tokens(dtype w) {
    if (g_quant_blas_env >= 0) return g_quant_blas_env;
    const bool k_family = w == dtype::DTYPE_Q4_K || w == dtype::DTYPE_Q5_K || w == dtype::DTYPE_Q6_K ||
                          w == dtype::DTYPE_IQ4_XS;
    return k_family ? k_never : 64;
}

struct shape {
    int64_t n_in = 0, n_out = 0;
    size_t row_bytes = 0;
};

shape weight_shape(const io::tensor_entry& w) {
    if (w.ne.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "tensor '" + w.name + "': matmul weight has no dimensions");
    shape s;
    s.n_in = w.ne[0];
    s.n_out = 1;
    for (size_t d = 1; d < w.ne.size(); ++d) s.n_out *= w.ne[d];
    s.row_bytes = dtype_row_bytes(w.type, s.n_in);
    return s;
}

void add_bias(const float* bias, float* y, int64_t ldy, int64_t n_tok, int64_t r0, int64_t r1) {
    for (int64_t t = 0; t < n_tok; ++t) {
        float* yt = y + t * ldy;
        for (int64_t r = r0; r < r1; ++r) yt[r] += bias[r];
    }
}

void matmul_kernel_path(thread_pool& pool, kernels::matmul_rows_fn fn, const uint8_t* w, const shape& s,
                        const float* x, int64_t ldx, int64_t n_tok, float* y, int64_t ldy, const float* bias) {
    const int64_t n_blocks = (s.n_out + k_row_block - 1) / k_row_block;
    // Chunks of at least ~64 KiB of weights x tokens, so small products are not spread over threads for nothing.
    const uint64_t block_work = uint64_t(std::max<size_t>(1, s.row_bytes)) * k_row_block * uint64_t(n_tok);
    const int64_t grain = std::max<int64_t>(1, int64_t(65536 / block_work));
    pool.parallel_for(n_blocks, grain, [&](int64_t b0, int64_t b1, int) {
        const int64_t r_begin = b0 * k_row_block, r_end = std::min(s.n_out, b1 * k_row_block);
        const int64_t sub = n_tok > k_tok_tile ? k_sub_rows : r_end - r_begin;
        for (int64_t r0 = r_begin; r0 < r_end; r0 += sub) {
            const int64_t nr = std::min(sub, r_end - r0);
            for (int64_t t0 = 0; t0 < n_tok; t0 += k_tok_tile) {
                const int64_t nt = std::min(k_tok_tile, n_tok - t0);
                fn(w + size_t(r0) * s.row_bytes, s.row_bytes, nr, x + t0 * ldx, ldx, nt, y + t0 * ldy + r0, ldy,
                   s.n_in);
            }
        }
        if (bias) add_bias(bias, y, ldy, n_tok, r_begin, r_end);
    });
}

// Quantised weights: activations are quantised once per call, row by row, to the weight type's INT8 partner
// (quant::vec_dot_type), then the integer kernels run over row blocks x token tiles as in the float kernel path.
void matmul_quant_path(thread_pool& pool, const kernels::table& k, kernels::matmul_rows_q_fn fn, dtype w_type,
                       const uint8_t* w, const shape& s, const float* x, int64_t ldx, int64_t n_tok, float* y,
                       int64_t ldy, const float* bias) {
    const dtype act = quant::vec_dot_type(w_type);
    const kernels::quantize_row_fn quantize = kernels::quantize_row_for(k, act);
    if (!quantize)
        fail(errc::ERRC_UNSUPPORTED, std::string("no activation quantiser for ") + dtype_name(act) + " (weights " +
                                         dtype_name(w_type) + ")");
    const size_t arb = dtype_row_bytes(act, s.n_in);
    thread_local std::vector<uint8_t> xq_buf;  // the calling thread's; the pool's workers only read it
    if (xq_buf.size() < arb * size_t(n_tok)) xq_buf.resize(arb * size_t(n_tok));
    uint8_t* xq = xq_buf.data();
    if (n_tok >= 8) {
        pool.parallel_for(n_tok, 4, [&](int64_t t0, int64_t t1, int) {
            for (int64_t t = t0; t < t1; ++t) quantize(x + t * ldx, xq + size_t(t) * arb, s.n_in);
        });
    } else {
        for (int64_t t = 0; t < n_tok; ++t) quantize(x + t * ldx, xq + size_t(t) * arb, s.n_in);
    }
    const int64_t n_blocks = (s.n_out + k_row_block - 1) / k_row_block;
    const uint64_t block_work = uint64_t(std::max<size_t>(1, s.row_bytes)) * k_row_block * uint64_t(n_tok);
    const int64_t grain = std::max<int64_t>(1, int64_t(65536 / block_work));
    pool.parallel_for(n_blocks, grain, [&](int64_t b0, int64_t b1, int) {
        const int64_t r_begin = b0 * k_row_block, r_end = std::min(s.n_out, b1 * k_row_block);
        const int64_t sub = n_tok > k_tok_tile ? k_sub_rows : r_end - r_begin;
        for (int64_t r0 = r_begin; r0 < r_end; r0 += sub) {
            const int64_t nr = std::min(sub, r_end - r0);
            for (int64_t t0 = 0; t0 < n_tok; t0 += k_tok_tile) {
                const int64_t nt = std::min(k_tok_tile, n_tok - t0);
                fn(w + size_t(r0) * s.row_bytes, s.row_bytes, nr, xq + size_t(t0) * arb, arb, nt, y + t0 * ldy + r0,
                   ldy, s.n_in);
            }
        }
        if (bias) add_bias(bias, y, ldy, n_tok, r_begin, r_end);
    });
}

// R16 weights: activations are quantised into 8-token panels (in parallel), then each thread takes chunks of 16-row
// groups and runs them over token slices of k_r16_tok_slice tokens, so a slice's panels stay in L2 (128 tokens x
// 5632 inputs = 0.9 MB) while the group's weights stay in L1/L2 across the slice's panels.
constexpr int64_t k_r16_tok_slice = 128;

void matmul_r16_path(thread_pool& pool, const kernels::table& k, kernels::matmul_r16_fn fn, dtype w_type,
                     const uint8_t* w, const shape& s, const float* x, int64_t ldx, int64_t n_tok, float* y,
                     int64_t ldy, const float* bias) {
    const int32_t sum_mode = kernels::r16_sum_mode(w_type);
    const int64_t nb = s.n_in / quant::QK_R16;
    const size_t panel_bytes = size_t(nb) * kernels::k_r16_panel_block_bytes;
    const int64_t n_panels = (n_tok + kernels::k_r16_panel - 1) / kernels::k_r16_panel;
    thread_local aligned_buffer xp_buf;  // the calling thread's; the pool's workers only read it
    if (xp_buf.size() < panel_bytes * size_t(n_panels)) xp_buf.reset(panel_bytes * size_t(n_panels));
    uint8_t* xp = xp_buf.as<uint8_t>();
    auto quantize = [&](int64_t p0, int64_t p1, int) {
        for (int64_t p = p0; p < p1; ++p) {
            const int64_t t0 = p * kernels::k_r16_panel;
            const int64_t nt = std::min(kernels::k_r16_panel, n_tok - t0);
            k.quantize_panel_q8(x + t0 * ldx, ldx, nt, xp + size_t(p) * panel_bytes, s.n_in, sum_mode);
        }
    };
    if (n_panels > 1) pool.parallel_for(n_panels, 1, quantize);
    else quantize(0, n_panels, 0);

    const size_t group_bytes = size_t(nb) * quant::r16_block_bytes(w_type);
    const int64_t n_groups = (s.n_out + kernels::k_r16_rows - 1) / kernels::k_r16_rows;
    // Decode: a few large contiguous chunks per thread (streaming); prefill: smaller chunks for balance.
    const int64_t parts = int64_t(pool.size()) * (n_tok >= kernels::k_r16_panel ? 8 : 2);
    const int64_t grain = std::max<int64_t>(1, n_groups / parts);
    pool.parallel_for(n_groups, grain, [&](int64_t g0, int64_t g1, int) {
        const int64_t r0 = g0 * kernels::k_r16_rows, r1 = std::min(s.n_out, g1 * kernels::k_r16_rows);
        for (int64_t t0 = 0; t0 < n_tok; t0 += k_r16_tok_slice) {
            const int64_t nt = std::min(k_r16_tok_slice, n_tok - t0);
            fn(w + size_t(g0) * group_bytes, r1 - r0, xp + size_t(t0 / kernels::k_r16_panel) * panel_bytes, nt,
               y + t0 * ldy + r0, ldy, s.n_in);
        }
        if (bias) add_bias(bias, y, ldy, n_tok, r0, r1);
    });
}

#if defined(FATHOM_HAVE_BLAS)
// Largest row panel per sgemm call, and the n_in slice of converted (F16/BF16, unaligned F32) panels: 1024 x 256
// F32 = 1 MiB, so a converted slice is still in L2 when sgemm packs it. Before slicing, converted panels were
// limited to 1 MiB by rows (32 rows at n_in = 5632), and OpenBLAS re-packed X for every one of them: F16 prefill
// ran at ~0.8x F32; with slices it runs at F32's speed.
constexpr int64_t k_panel_max_rows = 1024;
constexpr int64_t k_conv_cols = 256;

// OpenBLAS 0.3.21 (Debian 12) does not know newer Xeon models (e.g. family 6 model 207) and falls back to its
// SSE2 "Prescott" kernels, 5x slower than its AVX-512 ones. When that happened and the CPU has AVX-512 / AVX2
// (CPUID + XGETBV), re-run its core selection with OPENBLAS_CORETYPE set. A user-set OPENBLAS_CORETYPE is kept.
void fix_openblas_core() {
    if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    if (std::getenv("OPENBLAS_CORETYPE")) return;
    const char* core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott") != 0) return;
    const kernels::cpu_features& f = kernels::detect_cpu();
    const char* want = nullptr;
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.os_avx512) want = "SkylakeX";
    else if (f.avx2 && f.fma && f.os_avx) want = "Haswell";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 0);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
}

// OpenBLAS starts its own worker threads when it is loaded, and they poll with sched_yield for about 0.1 s before
// sleeping. Fathom only calls it single-threaded from its own pool, so stop them at start-up: on a 2-core machine
// they took a core from the pool and a 6-token llama-125m prompt right after loading ran 4x slower (128 -> 32 ms).
// Later threaded calls (none with one thread) would start them again.
struct blas_threads_off {
    blas_threads_off() {
        openblas_set_num_threads(1);
        if (blas_thread_shutdown_) blas_thread_shutdown_();
    }
};
const blas_threads_off g_blas_threads_off;

}  // namespace

void blas_setup() {
    static std::once_flag once;
    std::call_once(once, [] {
        fix_openblas_core();
        openblas_set_num_threads(1);
    });
}

namespace {

// Rows of W per sgemm call for F32 weights fed directly: larger panels amortise OpenBLAS's packing of X (measured:
// 128-row panels ran ~20% slower than 1024-row ones at 512 tokens x 2048). Every thread gets at least one panel.
int64_t panel_rows(int64_t n_out, int n_threads, int64_t max_rows) {
    const int64_t per_thread = (n_out + n_threads - 1) / n_threads;
    const int64_t even = (per_thread + k_row_block - 1) / k_row_block * k_row_block;
    return std::max<int64_t>(k_row_block, std::min(max_rows, even));
}

// Converts rows [r0, r0+nr), columns [c0, c0+nc) of W to F32 into dst (nr x nc, contiguous).
void convert_panel(const kernels::table& k, dtype type, const uint8_t* w, const shape& s, int64_t r0, int64_t nr,
                   int64_t c0, int64_t nc, float* dst) {
    if (quant::is_quantized(type)) {  // c0 and nc are multiples of the block size
        const dtype_traits& tr = dtype_info(type);
        for (int64_t r = 0; r < nr; ++r)
            quant::dequantize_row(type, w + size_t(r0 + r) * s.row_bytes + size_t(c0 / tr.block_size) * tr.type_size,
                                  dst + r * nc, nc);
        return;
    }
    const size_t esz = type == dtype::DTYPE_F32 ? 4 : 2;
    for (int64_t r = 0; r < nr; ++r) {
        const uint8_t* src = w + size_t(r0 + r) * s.row_bytes + size_t(c0) * esz;
        float* d = dst + r * nc;
        switch (type) {
            case dtype::DTYPE_F32: std::memcpy(d, src, size_t(nc) * 4); break;
            case dtype::DTYPE_F16: k.f16_to_f32(reinterpret_cast<const uint16_t*>(src), d, nc); break;
            case dtype::DTYPE_BF16: k.bf16_to_f32(reinterpret_cast<const uint16_t*>(src), d, nc); break;
            default: break;  // quantised types are handled below
        }
    }
}

void matmul_blas_path(thread_pool& pool, const kernels::table& k, dtype type, const uint8_t* w, const shape& s,
                      const float* x, int64_t ldx, int64_t n_tok, float* y, int64_t ldy, const float* bias) {
    blas_setup();
    // F32 weights at a float-aligned address feed sgemm directly; anything else goes through converted panels.
    const bool direct = type == dtype::DTYPE_F32 && (reinterpret_cast<uintptr_t>(w) % alignof(float)) == 0;
    const int64_t prow = panel_rows(s.n_out, pool.size(), k_panel_max_rows);
    // Converted panels are sliced along n_in as well (pcol columns): a slice stays in L2 between conversion and
    // sgemm, and the row panel stays tall, so OpenBLAS packs each column slice of X once per row panel.
    const int64_t pcol = direct ? s.n_in : std::min(s.n_in, k_conv_cols);
    const int64_t n_panels = (s.n_out + prow - 1) / prow;
    pool.parallel_for(n_panels, 1, [&](int64_t p0, int64_t p1, int) {
        thread_local std::vector<float> scratch;
        for (int64_t p = p0; p < p1; ++p) {
            const int64_t r0 = p * prow, nr = std::min(prow, s.n_out - r0);
            if (direct) {
                const float* wp = reinterpret_cast<const float*>(w + size_t(r0) * s.row_bytes);
                // Y[:, r0:r0+nr] = X (n_tok x n_in) * Wp^T (n_in x nr)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n_tok), int(nr), int(s.n_in), 1.0f, x,
                            int(ldx), wp, int(s.n_in), 0.0f, y + r0, int(ldy));
            } else {
                const size_t need = size_t(nr) * size_t(pcol);
                if (scratch.size() < need) scratch.resize(need);
                for (int64_t c0 = 0; c0 < s.n_in; c0 += pcol) {
                    const int64_t nc = std::min(pcol, s.n_in - c0);
                    convert_panel(k, type, w, s, r0, nr, c0, nc, scratch.data());
                    // Y[:, r0:r0+nr] (+)= X[:, c0:c0+nc] * Wp[:, c0:c0+nc]^T
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n_tok), int(nr), int(nc), 1.0f,
                                x + c0, int(ldx), scratch.data(), int(nc), c0 == 0 ? 0.0f : 1.0f, y + r0, int(ldy));
                }
            }
            if (bias) add_bias(bias, y, ldy, n_tok, r0, r0 + nr);
        }
    });
}
#endif

}  // namespace

#if !defined(FATHOM_HAVE_BLAS)
void blas_setup() {}
#endif

void matmul(thread_pool& pool, const io::tensor_entry& w, const float* x, int64_t ldx, int64_t n_tok, float* y,
            int64_t ldy, const float* bias) {
    const kernels::table& k = kernels::active();
    if (w.layout == io::weight_layout::WEIGHT_LAYOUT_R16) {
        kernels::matmul_r16_fn rfn = kernels::matmul_r16_for(k, w.type);
        if (!rfn || !k.quantize_panel_q8)
            fail(errc::ERRC_UNSUPPORTED, "tensor '" + w.name + "': no R16 kernel for weight type " + dtype_name(w.type));
        const shape s = weight_shape(w);
        if (n_tok <= 0 || s.n_out <= 0) return;
        matmul_r16_path(pool, k, rfn, w.type, static_cast<const uint8_t*>(w.data), s, x, ldx, n_tok, y, ldy, bias);
        return;
    }
    if (kernels::matmul_rows_q_fn qfn = kernels::matmul_rows_q_for(k, w.type)) {
        const shape s = weight_shape(w);
        if (n_tok <= 0 || s.n_out <= 0) return;
#if defined(FATHOM_HAVE_BLAS)
        if (n_tok >= blas_min_tokens(w.type) && s.n_in % k_conv_cols % dtype_info(w.type).block_size == 0) {
            matmul_blas_path(pool, k, w.type, static_cast<const uint8_t*>(w.data), s, x, ldx, n_tok, y, ldy, bias);
            return;
        }
#endif
        matmul_quant_path(pool, k, qfn, w.type, static_cast<const uint8_t*>(w.data), s, x, ldx, n_tok, y, ldy, bias);
        return;
    }
    kernels::matmul_rows_fn fn = kernels::matmul_rows_for(k, w.type);
    if (!fn)
        fail(errc::ERRC_UNSUPPORTED,
             "tensor '" + w.name + "': no matmul kernel for weight type " +
                 (dtype_known(uint32_t(w.type)) ? std::string(dtype_name(w.type))
                                                : "id " + std::to_string(uint32_t(w.type))));
    const shape s = weight_shape(w);
    if (n_tok <= 0 || s.n_out <= 0) return;
    const uint8_t* wb = static_cast<const uint8_t*>(w.data);
#if defined(FATHOM_HAVE_BLAS)
    if (n_tok >= blas_min_tokens(w.type) && s.n_in > 0) {
        matmul_blas_path(pool, k, w.type, wb, s, x, ldx, n_tok, y, ldy, bias);
        return;
    }
#endif
    matmul_kernel_path(pool, fn, wb, s, x, ldx, n_tok, y, ldy, bias);
}

namespace {
// Drops the process's pages of [p, p + n) when they belong to a read-only file mapping (only whole pages inside the
// range): the data lives on in the repacked copy, and the file stays mapped for the other tensors.
void release_mapped_range(const io::model_file& f, const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    for (const auto& m : f.maps) {
        if (!m || b < m->data() || b + n > m->data() + m->size()) continue;
        const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
        const uintptr_t lo = (uintptr_t(b) + page - 1) / page * page, hi = (uintptr_t(b) + n) / page * page;
        if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
        return;
    }
}
std::atomic<bool> g_repack_enabled{[] {
    const char* e = std::getenv("FATHOM_REPACK");
    return !(e && std::strcmp(e, "0") == 0);
}()};
}  // namespace

void set_repack_enabled(bool on) { g_repack_enabled.store(on, std::memory_order_relaxed); }

bool prepare_weight(io::model_file& f, const io::tensor_entry* bound) {
    if (!bound || !g_repack_enabled.load(std::memory_order_relaxed)) return false;
    io::tensor_entry& t = f.tensors[size_t(bound - f.tensors.data())];
    if (t.layout == io::weight_layout::WEIGHT_LAYOUT_R16) return true;
    const kernels::table& k = kernels::active();
    const kernels::matmul_r16_fn fn = kernels::matmul_r16_for(k, t.type);
    if (!fn || !k.quantize_panel_q8 || t.ne.size() < 2) return false;
    // A SIMD level that only inherited the scalar oracle for this type keeps the row layout and its SIMD kernels.
    const kernels::table* scalar = kernels::for_isa(kernels::isa::ISA_SCALAR);
    if (k.level != kernels::isa::ISA_SCALAR && scalar && fn == kernels::matmul_r16_for(*scalar, t.type)) return false;
    const shape s = weight_shape(t);
    if (s.n_in % quant::QK_R16 != 0 || s.n_out <= 0) return false;
    auto buf = std::make_shared<aligned_buffer>(quant::r16_bytes(t.type, s.n_out, s.n_in));
    quant::repack_r16(t.type, t.data, s.row_bytes, s.n_out, s.n_in, buf->data());
    release_mapped_range(f, t.data, size_t(t.nbytes));
    t.data = buf->data();
    t.layout = io::weight_layout::WEIGHT_LAYOUT_R16;
    f.owned.push_back(std::move(buf));
    return true;
}

void set_blas_min_tokens(int64_t n) { g_blas_min_tokens_override.store(n > 0 ? n : 0, std::memory_order_relaxed); }
int64_t blas_min_tokens(dtype w) {
    const int64_t o = g_blas_min_tokens_override.load(std::memory_order_relaxed);
    if (o > 0) return o;
    if (w == dtype::DTYPE_F32) return k_blas_min_tokens_f32;
    if (w == dtype::DTYPE_F16 || w == dtype::DTYPE_BF16) return k_blas_min_tokens_16bit;
    return quant_blas_min_tokens(w);
}
int64_t blas_min_tokens() {
    return std::max(blas_min_tokens(dtype::DTYPE_F32),
                    std::max(blas_min_tokens(dtype::DTYPE_F16), blas_min_tokens(dtype::DTYPE_BF16)));
}

void get_row_f32(const io::tensor_entry& w, int64_t row, float* out) {
    const shape s = weight_shape(w);
    if (row < 0 || row >= s.n_out)
        fail(errc::ERRC_INVALID_ARGUMENT,
             "tensor '" + w.name + "': row " + std::to_string(row) + " out of range (" + std::to_string(s.n_out) + " rows)");
    if (w.layout == io::weight_layout::WEIGHT_LAYOUT_R16) {
        thread_local std::vector<uint8_t> tmp;
        tmp.resize(s.row_bytes);
        quant::unpack_r16_row(w.type, w.data, row, s.n_in, tmp.data());
        quant::dequantize_row(w.type, tmp.data(), out, s.n_in);
        return;
    }
    const uint8_t* src = static_cast<const uint8_t*>(w.data) + size_t(row) * s.row_bytes;
    const kernels::table& k = kernels::active();
    switch (w.type) {
        case dtype::DTYPE_F32: std::memcpy(out, src, size_t(s.n_in) * 4); break;
        case dtype::DTYPE_F16: k.f16_to_f32(reinterpret_cast<const uint16_t*>(src), out, s.n_in); break;
        case dtype::DTYPE_BF16: k.bf16_to_f32(reinterpret_cast<const uint16_t*>(src), out, s.n_in); break;
        default:
            if (quant::is_quantized(w.type)) {
                quant::dequantize_row(w.type, src, out, s.n_in);
                break;
            }
            fail(errc::ERRC_UNSUPPORTED, "tensor '" + w.name + "': get_row_f32 does not support weight type " +
                                             (dtype_known(uint32_t(w.type)) ? std::string(dtype_name(w.type))
                                                                            : "id " + std::to_string(uint32_t(w.type))));
    }
}

}  // namespace fathom::nn

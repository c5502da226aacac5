// Kernel dispatch: CPU feature detection (CPUID + XGETBV on x86), per-ISA tables filled once, the active table.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#define FATHOM_KERNELS_X86 1
#include <cpuid.h>
#elif defined(__aarch64__)
#define FATHOM_KERNELS_ARM 1
#endif

namespace fathom::kernels {

namespace scalar {
void fill_table_scalar(table& t);
}
#if defined(FATHOM_KERNELS_X86)
namespace avx2 {
void fill_table_avx2(table& t);
}
namespace avx512 {
void fill_table_avx512(table& t);
}
#elif defined(FATHOM_KERNELS_ARM)
namespace neon {
void fill_table_neon(table& t);
}
#endif

const char* isa_name(isa i) {
    switch (i) {
        case isa::ISA_SCALAR: return "scalar";
        case isa::ISA_AVX2: return "avx2";
        case isa::ISA_AVX512: return "avx512";
        case isa::ISA_AVX512_VNNI: return "avx512_vnni";
        case isa::ISA_NEON: return "neon";
        case isa::ISA_AVX2_VNNI: return "avx2_vnni";
    }
    return "unknown";
}

namespace {

#if defined(FATHOM_KERNELS_X86)
// XGETBV is encoded directly so this file needs no -mxsave.
uint64_t read_xcr0() {
    uint32_t eax = 0, edx = 0;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return (uint64_t(edx) << 32) | eax;
}
#endif

cpu_features detect() {
    cpu_features f;
#if defined(FATHOM_KERNELS_X86)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
    const unsigned max_leaf = a;
    if (max_leaf < 1) return f;
    __cpuid_count(1, 0, a, b, c, d);
    const bool osxsave = (c >> 27) & 1u;
    const bool avx = (c >> 28) & 1u;
    f.fma = (c >> 12) & 1u;
    f.f16c = (c >> 29) & 1u;
    if (osxsave && avx) {
        const uint64_t xcr0 = read_xcr0();
        f.os_avx = (xcr0 & 0x6u) == 0x6u;          // XMM + YMM state
        f.os_avx512 = (xcr0 & 0xe6u) == 0xe6u;     // + opmask, ZMM0-15 upper halves, ZMM16-31
    }
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f.avx2 = (b >> 5) & 1u;
        f.avx512f = (b >> 16) & 1u;
        f.avx512dq = (b >> 17) & 1u;
        f.avx512bw = (b >> 30) & 1u;
        f.avx512vl = (b >> 31) & 1u;
        f.avx512_vnni = (c >> 11) & 1u;
        const unsigned max_sub = a;
        if (max_sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            f.avx_vnni = (a >> 4) & 1u;
            f.avx512_bf16 = (a >> 5) & 1u;
        }
    }
    // Without OS support the instructions fault: report them as absent.
    if (!f.os_avx) f.avx2 = f.fma = f.f16c = f.avx_vnni = false;
    if (!f.os_avx512) f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512_vnni = f.avx512_bf16 = false;
#elif defined(FATHOM_KERNELS_ARM)
    f.neon = true;
#endif
    return f;
}

struct tables {
    table scalar_t;
    table avx2_t, avx2_vnni_t, avx512_t, vnni_t, neon_t;
    bool has_avx2 = false, has_avx2_vnni = false, has_avx512 = false, has_vnni = false, has_neon = false;

    // Each level starts as a copy of the level below, so an entry a level does not fill is inherited.
    tables() {
        scalar::fill_table_scalar(scalar_t);
        scalar::fill_quant_legacy(scalar_t);
        scalar::fill_quant_k(scalar_t);
        scalar::fill_quant_r16(scalar_t);
        const cpu_features& f = detect_cpu();
        (void)f;
#if defined(FATHOM_KERNELS_X86)
        if (f.avx2 && f.fma && f.f16c && f.os_avx) {
            avx2_t = scalar_t;
            avx2::fill_table_avx2(avx2_t);
            avx2::fill_quant_legacy(avx2_t);
            avx2::fill_quant_k(avx2_t);
            avx2::fill_quant_r16(avx2_t);
            avx2_t.level = isa::ISA_AVX2;
            has_avx2 = true;
            if (f.avx_vnni) {
                avx2_vnni_t = avx2_t;
                avx2_vnni::fill_quant_r16(avx2_vnni_t);
                avx2_vnni_t.level = isa::ISA_AVX2_VNNI;
                has_avx2_vnni = true;
            }
            if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.os_avx512) {
                avx512_t = avx2_t;
                avx512::fill_table_avx512(avx512_t);
                avx512::fill_quant_legacy(avx512_t);
                avx512::fill_quant_k(avx512_t);
                avx512::fill_quant_r16(avx512_t);
                avx512_t.level = isa::ISA_AVX512;
                has_avx512 = true;
                if (f.avx512_vnni) {
                    vnni_t = avx512_t;
                    avx512_vnni::fill_quant_legacy(vnni_t);
                    avx512_vnni::fill_quant_k(vnni_t);
                    avx512_vnni::fill_quant_r16(vnni_t);
                    vnni_t.level = isa::ISA_AVX512_VNNI;
                    has_vnni = true;
                }
            }
        }
#elif defined(FATHOM_KERNELS_ARM)
        if (f.neon) {
            neon_t = scalar_t;
            neon::fill_table_neon(neon_t);
            neon_t.level = isa::ISA_NEON;
            has_neon = true;
        }
#endif
    }

    const table* get(isa i) const {
        switch (i) {
            case isa::ISA_SCALAR: return &scalar_t;
            case isa::ISA_AVX2: return has_avx2 ? &avx2_t : nullptr;
            case isa::ISA_AVX512: return has_avx512 ? &avx512_t : nullptr;
            case isa::ISA_AVX512_VNNI: return has_vnni ? &vnni_t : nullptr;
            case isa::ISA_NEON: return has_neon ? &neon_t : nullptr;
            case isa::ISA_AVX2_VNNI: return has_avx2_vnni ? &avx2_vnni_t : nullptr;
        }
        return nullptr;
    }

    const table* best() const {
        for (isa i : {isa::ISA_AVX512_VNNI, isa::ISA_AVX512, isa::ISA_AVX2_VNNI, isa::ISA_AVX2, isa::ISA_NEON})
            if (const table* t = get(i)) return t;
        return &scalar_t;
    }
};

const tables& all_tables() {
    static const tables t;
    return t;
}

std::atomic<const table*> g_active{nullptr};

const table* initial_active() {
    const tables& ts = all_tables();
    const table* best = ts.best();
    const char* env = std::getenv("FATHOM_ISA");
    if (!env || !*env) return best;
    std::string want(env);
    for (isa i : {isa::ISA_SCALAR, isa::ISA_AVX2, isa::ISA_AVX2_VNNI, isa::ISA_AVX512, isa::ISA_AVX512_VNNI,
                  isa::ISA_NEON}) {
        if (want == isa_name(i)) {
            if (const table* t = ts.get(i)) return t;
            std::fprintf(stderr, "fathom: FATHOM_ISA=%s is not available on this CPU/build; using %s\n", env,
                         isa_name(best->level));
            return best;
        }
    }
    std::fprintf(stderr, "fathom: unknown FATHOM_ISA=%s (expected scalar, avx2, avx2_vnni, avx512, avx512_vnni or neon); using %s\n",
                 env, isa_name(best->level));
    return best;
}

}  // namespace

const cpu_features& detect_cpu() {
    static const cpu_features f = detect();
    return f;
}

const table& active() {
    const table* t = g_active.load(std::memory_order_acquire);
    if (t) return *t;
    static const table* const first = initial_active();  // thread-safe, runs once
    const table* expected = nullptr;
    g_active.compare_exchange_strong(expected, first, std::memory_order_acq_rel);
    return *g_active.load(std::memory_order_acquire);
}

const table* for_isa(isa i) { return all_tables().get(i); }

bool set_active(isa i) {
    const table* t = for_isa(i);
    if (!t) return false;
    g_active.store(t, std::memory_order_release);
    return true;
}

matmul_rows_q_fn matmul_rows_q_for(const table& t, dtype w) {
    switch (w) {
        case dtype::DTYPE_Q4_0: return t.matmul_rows_q4_0;
        case dtype::DTYPE_Q4_1: return t.matmul_rows_q4_1;
        case dtype::DTYPE_Q5_0: return t.matmul_rows_q5_0;
        case dtype::DTYPE_Q5_1: return t.matmul_rows_q5_1;
        case dtype::DTYPE_Q8_0: return t.matmul_rows_q8_0;
        case dtype::DTYPE_IQ4_NL: return t.matmul_rows_iq4_nl;
        case dtype::DTYPE_Q4_K: return t.matmul_rows_q4_k;
        case dtype::DTYPE_Q5_K: return t.matmul_rows_q5_k;
        case dtype::DTYPE_Q6_K: return t.matmul_rows_q6_k;
        case dtype::DTYPE_IQ4_XS: return t.matmul_rows_iq4_xs;
        default: return nullptr;
    }
}

quantize_row_fn quantize_row_for(const table& t, dtype act) {
    switch (act) {
        case dtype::DTYPE_Q8_0: return t.quantize_row_q8_0;
        case dtype::DTYPE_Q8_1: return t.quantize_row_q8_1;
        case dtype::DTYPE_Q8_K: return t.quantize_row_q8_k;
        default: return nullptr;
    }
}

matmul_r16_fn matmul_r16_for(const table& t, dtype w) {
    switch (w) {
        case dtype::DTYPE_Q4_0: return t.matmul_r16_q4_0;
        case dtype::DTYPE_Q4_1: return t.matmul_r16_q4_1;
        case dtype::DTYPE_Q8_0: return t.matmul_r16_q8_0;
        case dtype::DTYPE_IQ4_NL: return t.matmul_r16_iq4_nl;
        case dtype::DTYPE_Q4_K: return t.matmul_r16_q4_k;
        case dtype::DTYPE_IQ4_XS: return t.matmul_r16_iq4_xs;
        case dtype::DTYPE_Q6_K: return t.matmul_r16_q6_k;
        default: return nullptr;
    }
}

int32_t r16_sum_mode(dtype w) {
    switch (w) {
        case dtype::DTYPE_Q4_0: return 8;
        case dtype::DTYPE_Q4_1:
        case dtype::DTYPE_Q4_K: return 0;
        case dtype::DTYPE_Q8_0:
        case dtype::DTYPE_IQ4_NL:
        case dtype::DTYPE_IQ4_XS: return 128;
        case dtype::DTYPE_Q6_K: return k_r16_sum_halves;
        default: return -1;
    }
}

matmul_rows_fn matmul_rows_for(const table& t, dtype w) {
    switch (w) {
        case dtype::DTYPE_F32: return t.matmul_rows_f32;
        case dtype::DTYPE_F16: return t.matmul_rows_f16;
        case dtype::DTYPE_BF16: return t.matmul_rows_bf16;
        default: return nullptr;
    }
}

}  // namespace fathom::kernels

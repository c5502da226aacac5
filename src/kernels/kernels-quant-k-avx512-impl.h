// Body of the AVX-512 K-quant kernels, shared by kernels-quant-k-avx512.cpp (BW: vpmaddubsw + vpmaddwd) and
// kernels-quant-k-avx512-vnni.cpp (vpdpbusd). Each includes it inside its own ISA namespace after defining
// `constexpr bool k_vnni`, so the two copies are compiled with their own flags and never merged by the linker.
//
// Lane order. A super-block of 256 codes is processed as 4 zmm vectors m = 0..3. Dword lane i = 4L + k (L: 128-bit
// lane, k: dword within it) of vector m holds elements 64k + 16L + 4m .. +3, so over the 4 vectors lane i collects
// the 16-element group g(i) = 4k + L. For the activations this is a 4x4 dword transpose inside each 128-bit lane
// (done once per token and super-block into a stack buffer, the "prepass"); for the weights it is folded into the
// unpacking (vpermt2d picks the source dwords). Every lane then belongs to one sub-block, so 4 vpdpbusd accumulate a
// whole super-block into one register, and one multiply by the per-lane float scale d_w * sc finishes it.
// Offsets are exact integer corrections from the group sums (bsums): Q6_K codes are q - 32, IQ4_XS levels are
// stored + 128 under VNNI; Q4_K/Q5_K mins are one float FMA against -d_x * bsums.
//
// Not a standalone header: it expects <immintrin.h>, <cstring>, kernels/kernels.h and quant/blocks.h included and is
// included inside namespace fathom::kernels::<isa>.

namespace qk {

using quant::QK_K;
constexpr size_t X_BYTES = sizeof(quant::block_q8_k);
constexpr size_t X_D = offsetof(quant::block_q8_k, d);
constexpr size_t X_QS = offsetof(quant::block_q8_k, qs);
constexpr size_t X_BS = offsetof(quant::block_q8_k, bsums);

inline float load_f16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}
inline float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline __m512i loadu(const void* p) { return _mm512_loadu_si512(p); }

// ---- lane-order index tables (i = 4L + k)
struct alignas(64) idx16 {
    int32_t v[16];
};
template <class F>
constexpr idx16 gen(F f) {
    idx16 r{};
    for (int i = 0; i < 16; ++i) r.v[i] = f(i / 4, i % 4);
    return r;
}
inline __m512i ld(const idx16& t) { return _mm512_load_si512(t.v); }

inline constexpr idx16 k_group = gen([](int L, int k) { return 4 * k + L; });            // 16-element group
inline constexpr idx16 k_sub32 = gen([](int L, int k) { return 2 * k + L / 2; });        // 32-element sub-block
inline constexpr idx16 k_halves = gen([](int L, int) { return L / 2; });                 // 0 x 8, 1 x 8
inline constexpr idx16 k_sub32_m = gen([](int L, int k) { return 8 + 2 * k + L / 2; });  // its min (after scales)
// Q4_K / Q5_K: qs dword 8k + 4(L%2) + m, high nibble for L >= 2
template <int M>
inline constexpr idx16 k_q4_dw = gen([](int L, int k) { return 8 * k + 4 * (L % 2) + M; });
// Q5_K: qh dword 4(L%2) + m, bit 2k + L/2 rotated to bit 4
template <int M>
inline constexpr idx16 k_q5_hdw = gen([](int L, int) { return 4 * (L % 2) + M; });
inline constexpr idx16 k_q5_rot = gen([](int L, int k) { return (4 - (2 * k + L / 2)) & 31; });
// Q6_K: ql dword 16(k/2) + 4L + m (high nibble for odd k); qh dword 8(k/2) + 4(L%2) + m, bits 4(k%2) + 2(L/2)
template <int M>
inline constexpr idx16 k_q6_ldw = gen([](int L, int k) { return 16 * (k / 2) + 4 * L + M; });
template <int M>
inline constexpr idx16 k_q6_hdw = gen([](int L, int k) { return 8 * (k / 2) + 4 * (L % 2) + M; });
inline constexpr idx16 k_q6_rot = gen([](int L, int k) { return (4 - (4 * (k % 2) + 2 * (L / 2))) & 31; });
// IQ4_XS: qs dword 8k + 4(L/2) + m, high nibble for odd L; scale bits of sub-block j = 2k + L/2
template <int M>
inline constexpr idx16 k_iq4_dw = gen([](int L, int k) { return 8 * k + 4 * (L / 2) + M; });
inline constexpr idx16 k_iq4_sl = gen([](int L, int k) { return 4 * (2 * k + L / 2); });
inline constexpr idx16 k_iq4_sh = gen([](int L, int k) { return 2 * (2 * k + L / 2); });

// ---- activations: one token's super-block in lane order
struct alignas(64) xblk {
    int8_t qs[QK_K];
    int32_t aux[16];  // int: -offset * group sum (Q6_K, IQ4_XS under VNNI); float: -d_x * group sum (Q4_K, Q5_K)
    float d;
    uint8_t pad[60];
};
static_assert(sizeof(xblk) == 384, "xblk layout");

// Integer lane sums start from the bit pattern of 1.5 * 2^23: for |sum| < 2^22 the float with bits MAGIC_BITS + sum
// is exactly 1.5 * 2^23 + sum, so one float subtraction converts (port 0 or 5) instead of vcvtdq2ps (port 0 only,
// where vpdpbusd runs). Every lane sum here is below 2^22: at most 16 * 255 * 127 plus a group-sum offset term.
constexpr float MAGIC = 12582912.0f;
constexpr int32_t MAGIC_BITS = 0x4B400000;

enum class aux_kind { AUX_NONE, AUX_OFFSET, AUX_MIN };

template <aux_kind AUX, int OFFSET>
inline void prepass(const uint8_t* x, xblk& o) {
    const __m512i a = loadu(x + X_QS), b = loadu(x + X_QS + 64), c = loadu(x + X_QS + 128), d = loadu(x + X_QS + 192);
    const __m512i t0 = _mm512_unpacklo_epi32(a, b), t1 = _mm512_unpackhi_epi32(a, b);
    const __m512i t2 = _mm512_unpacklo_epi32(c, d), t3 = _mm512_unpackhi_epi32(c, d);
    _mm512_store_si512(o.qs, _mm512_unpacklo_epi64(t0, t2));
    _mm512_store_si512(o.qs + 64, _mm512_unpackhi_epi64(t0, t2));
    _mm512_store_si512(o.qs + 128, _mm512_unpacklo_epi64(t1, t3));
    _mm512_store_si512(o.qs + 192, _mm512_unpackhi_epi64(t1, t3));
    const float dx = load_f32(x + X_D);
    o.d = dx;
    if constexpr (AUX != aux_kind::AUX_NONE) {
        const __m512i bs = _mm512_permutexvar_epi32(
            ld(k_group), _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + X_BS))));
        if constexpr (AUX == aux_kind::AUX_OFFSET)
            _mm512_store_si512(o.aux, _mm512_add_epi32(_mm512_mullo_epi32(bs, _mm512_set1_epi32(-OFFSET)),
                                                       _mm512_set1_epi32(MAGIC_BITS)));
        else
            _mm512_store_ps(o.aux, _mm512_mul_ps(_mm512_cvtepi32_ps(bs), _mm512_set1_ps(-dx)));
    }
}

// ---- weights: one row's super-block in lane order
struct wblk {
    __m512i q[4];      // u8 codes
    __mmask64 neg[4];  // IQ4_XS without VNNI: lanes whose level is negative (q holds |level|)
    __m512 dsc;        // d * sub-block scale, per lane
    __m512 dm;         // Q4_K/Q5_K: dmin * sub-block min, per lane
};

// Q4_K / Q5_K scales: 12 bytes -> floats [sc0..7, m0..7], then spread to lanes.
inline void scales_k4(const uint8_t* p, const uint8_t* s, wblk& w) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));  // a, b, c (+ 4 bytes of qs)
    const __m128i pv = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0));        // [a, c, b, c]
    const __m128i qv = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));        // [a, a, b, b]
    const __m128i lo = _mm_and_si128(_mm_srlv_epi32(pv, _mm_setr_epi32(0, 0, 0, 4)),
                                     _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
    const __m128i hi = _mm_and_si128(_mm_srli_epi32(qv, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    // [d, dmin] (f16) spread to [d x 8, dmin x 8]; the products d * sc and dmin * m are exact in float.
    const __m512 dd = _mm512_permutexvar_ps(
        ld(k_halves), _mm512_zextps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(int(load_u32(p))))));
    const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_or_si128(lo, hi))), dd);
    w.dsc = _mm512_permutexvar_ps(ld(k_sub32), f);
    w.dm = _mm512_permutexvar_ps(ld(k_sub32_m), f);
}

template <int M>
inline __m512i q4_codes(__m512i q0, __m512i q1) {
    const __m512i v = _mm512_permutex2var_epi32(q0, ld(k_q4_dw<M>), q1);
    return _mm512_and_si512(_mm512_mask_srli_epi32(v, 0xFF00, v, 4), _mm512_set1_epi8(0x0F));
}

struct q4_k {
    static constexpr size_t block_bytes = sizeof(quant::block_q4_k);
    static constexpr aux_kind aux = aux_kind::AUX_MIN;
    static constexpr int offset = 0;
    static constexpr bool sign_trick = false;
    static constexpr int i16_sums = 4;  // vpmaddubsw results summed in int16 before vpmaddwd: 4 * 2 * 15 * 127
    static void prep(const uint8_t* p, wblk& w) {
        using B = quant::block_q4_k;
        scales_k4(p + offsetof(B, d), p + offsetof(B, scales), w);
        const __m512i q0 = loadu(p + offsetof(B, qs)), q1 = loadu(p + offsetof(B, qs) + 64);
        w.q[0] = q4_codes<0>(q0, q1);
        w.q[1] = q4_codes<1>(q0, q1);
        w.q[2] = q4_codes<2>(q0, q1);
        w.q[3] = q4_codes<3>(q0, q1);
    }
};

template <int M>
inline __m512i q5_high(__m512i h) {
    const __m512i v = _mm512_permutexvar_epi32(ld(k_q5_hdw<M>), h);
    return _mm512_and_si512(_mm512_rolv_epi32(v, ld(k_q5_rot)), _mm512_set1_epi8(0x10));
}

struct q5_k {
    static constexpr size_t block_bytes = sizeof(quant::block_q5_k);
    static constexpr aux_kind aux = aux_kind::AUX_MIN;
    static constexpr int offset = 0;
    static constexpr bool sign_trick = false;
    static constexpr int i16_sums = 4;  // 4 * 2 * 31 * 127 = 31496 < 32768
    static void prep(const uint8_t* p, wblk& w) {
        using B = quant::block_q5_k;
        scales_k4(p + offsetof(B, d), p + offsetof(B, scales), w);
        const __m512i q0 = loadu(p + offsetof(B, qs)), q1 = loadu(p + offsetof(B, qs) + 64);
        const __m512i h =
            _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + offsetof(B, qh))));
        w.q[0] = _mm512_or_si512(q4_codes<0>(q0, q1), q5_high<0>(h));
        w.q[1] = _mm512_or_si512(q4_codes<1>(q0, q1), q5_high<1>(h));
        w.q[2] = _mm512_or_si512(q4_codes<2>(q0, q1), q5_high<2>(h));
        w.q[3] = _mm512_or_si512(q4_codes<3>(q0, q1), q5_high<3>(h));
    }
};

template <int M>
inline __m512i q6_codes(__m512i l0, __m512i l1, __m512i h) {
    __m512i lo = _mm512_permutex2var_epi32(l0, ld(k_q6_ldw<M>), l1);
    lo = _mm512_and_si512(_mm512_mask_srli_epi32(lo, 0xAAAA, lo, 4), _mm512_set1_epi8(0x0F));
    const __m512i hi = _mm512_rolv_epi32(_mm512_permutexvar_epi32(ld(k_q6_hdw<M>), h), ld(k_q6_rot));
    return _mm512_or_si512(lo, _mm512_and_si512(hi, _mm512_set1_epi8(0x30)));
}

struct q6_k {
    static constexpr size_t block_bytes = sizeof(quant::block_q6_k);
    static constexpr aux_kind aux = aux_kind::AUX_OFFSET;
    static constexpr int offset = 32;
    static constexpr bool sign_trick = false;
    static constexpr int i16_sums = 2;  // 2 * 2 * 63 * 127 = 32004 < 32768
    static void prep(const uint8_t* p, wblk& w) {
        using B = quant::block_q6_k;
        const __m512i sc = _mm512_permutexvar_epi32(
            ld(k_group),
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + offsetof(B, scales)))));
        w.dsc = _mm512_mul_ps(_mm512_cvtepi32_ps(sc), _mm512_set1_ps(load_f16(p + offsetof(B, d))));
        w.dm = _mm512_setzero_ps();
        const __m512i l0 = loadu(p + offsetof(B, ql)), l1 = loadu(p + offsetof(B, ql) + 64);
        const __m512i h = loadu(p + offsetof(B, qh));
        w.q[0] = q6_codes<0>(l0, l1, h);
        w.q[1] = q6_codes<1>(l0, l1, h);
        w.q[2] = q6_codes<2>(l0, l1, h);
        w.q[3] = q6_codes<3>(l0, l1, h);
    }
};

struct alignas(16) bytes16 {
    uint8_t v[16];
};
constexpr bytes16 make_iq4_levels() {
    bytes16 r{};
    for (int i = 0; i < 16; ++i) {
        const int v = quant::k_iq4nl[i];
        r.v[i] = uint8_t(k_vnni ? v + 128 : (v < 0 ? -v : v));
    }
    return r;
}
inline constexpr bytes16 k_iq4_levels = make_iq4_levels();

// IQ4_XS: VNNI multiplies u8 level + 128 (the offset comes back through the group sums); BW keeps |level| and
// negates the activation where the level is negative (k_iq4nl is negative exactly for nibbles 0..7), so every
// vpmaddubsw pair sum stays within 2 * 127 * 127.
template <int M>
inline __m512i iq4_codes(__m512i q0, __m512i q1, __m512i table, __mmask64* neg) {
    __m512i v = _mm512_permutex2var_epi32(q0, ld(k_iq4_dw<M>), q1);
    v = _mm512_and_si512(_mm512_mask_srli_epi32(v, 0xF0F0, v, 4), _mm512_set1_epi8(0x0F));
    if constexpr (!k_vnni) *neg = _mm512_testn_epi8_mask(v, _mm512_set1_epi8(8));
    (void)neg;
    return _mm512_shuffle_epi8(table, v);
}

struct iq4_xs {
    static constexpr size_t block_bytes = sizeof(quant::block_iq4_xs);
    static constexpr aux_kind aux = k_vnni ? aux_kind::AUX_OFFSET : aux_kind::AUX_NONE;
    static constexpr int offset = k_vnni ? 128 : 0;
    static constexpr bool sign_trick = !k_vnni;
    static constexpr int i16_sums = 1;  // 2 * 127 * 127 = 32258: no room for a second pair
    static void prep(const uint8_t* p, wblk& w) {
        using B = quant::block_iq4_xs;
        uint16_t sh;
        std::memcpy(&sh, p + offsetof(B, scales_h), 2);
        const __m512i lo = _mm512_and_si512(
            _mm512_srlv_epi32(_mm512_set1_epi32(int(load_u32(p + offsetof(B, scales_l)))), ld(k_iq4_sl)),
            _mm512_set1_epi32(0xF));
        const __m512i hi =
            _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(sh), ld(k_iq4_sh)), _mm512_set1_epi32(3));
        const __m512i ls = _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32));
        w.dsc = _mm512_mul_ps(_mm512_cvtepi32_ps(ls), _mm512_set1_ps(load_f16(p + offsetof(B, d))));
        w.dm = _mm512_setzero_ps();
        const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(k_iq4_levels.v)));
        const __m512i q0 = loadu(p + offsetof(B, qs)), q1 = loadu(p + offsetof(B, qs) + 64);
        w.q[0] = iq4_codes<0>(q0, q1, table, &w.neg[0]);
        w.q[1] = iq4_codes<1>(q0, q1, table, &w.neg[1]);
        w.q[2] = iq4_codes<2>(q0, q1, table, &w.neg[2]);
        w.q[3] = iq4_codes<3>(q0, q1, table, &w.neg[3]);
    }
};

// acc += the products of a whole super-block, 4-byte lane by 4-byte lane (exact: no int16 saturation for the code
// ranges used here). VNNI: 4 vpdpbusd. BW: vpmaddubsw pair sums, Q::i16_sums of them added in int16, then vpmaddwd.
template <class Q>
inline __m512i dot_block(__m512i acc, const wblk& w, const xblk& x) {
    __m512i xv[4];
    for (int m = 0; m < 4; ++m) xv[m] = _mm512_load_si512(x.qs + 64 * m);
    if constexpr (k_vnni) {
        for (int m = 0; m < 4; ++m) acc = _mm512_dpbusd_epi32(acc, w.q[m], xv[m]);
        return acc;
    } else {
        const __m512i ones = _mm512_set1_epi16(1);
        __m512i p[4];
        for (int m = 0; m < 4; ++m) {
            if constexpr (Q::sign_trick) xv[m] = _mm512_mask_sub_epi8(xv[m], w.neg[m], _mm512_setzero_si512(), xv[m]);
            p[m] = _mm512_maddubs_epi16(w.q[m], xv[m]);
        }
        if constexpr (Q::i16_sums == 4) {
            const __m512i s = _mm512_add_epi16(_mm512_add_epi16(p[0], p[1]), _mm512_add_epi16(p[2], p[3]));
            return _mm512_add_epi32(acc, _mm512_madd_epi16(s, ones));
        } else if constexpr (Q::i16_sums == 2) {
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_add_epi16(p[0], p[1]), ones));
            return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_add_epi16(p[2], p[3]), ones));
        } else {
            for (int m = 0; m < 4; ++m) acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p[m], ones));
            return acc;
        }
    }
}

constexpr int PF_LINES = 4;  // cache lines per weight super-block (Q6_K spans 4)
constexpr int PF_ROWS = 8;   // prefetch distance in rows (one row is 1 to 5 KiB at the usual widths)

// Horizontal sums of T accumulators, to y[t * ldy] (stored when `first`, else added). For 8 and 16 tokens a
// transposing tree (128-bit chunk shuffles, then in-chunk unpacks) sums all vectors at once.
template <int T>
__attribute__((always_inline)) inline void store_sums(const __m512 (&v)[T], float* y, int64_t ldy, bool first) {
    alignas(64) float s[16];
    if constexpr (T == 8 || T == 16) {
        // Level 1: pair (a, b) -> [a chunks 0+2, 1+3 | b chunks 0+2, 1+3].
        __m512 c[T / 2];
        for (int k = 0; k < T / 2; ++k)
            c[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                                 _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xEE));
        // Level 2: chunk q of e[j] holds 4 partial sums of v[4j + q].
        __m512 e[T / 4];
        for (int j = 0; j < T / 4; ++j)
            e[j] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * j], c[2 * j + 1], 0x88),
                                 _mm512_shuffle_f32x4(c[2 * j], c[2 * j + 1], 0xDD));
        // Level 3: lanes (q, 0) and (q, 2) of g hold halves of v[q], lanes (q, 1) and (q, 3) of v[4 + q] (g2: + 8).
        const __m512 g = _mm512_add_ps(_mm512_unpacklo_ps(e[0], e[1]), _mm512_unpackhi_ps(e[0], e[1]));
        if constexpr (T == 16) {
            const __m512 g2 = _mm512_add_ps(_mm512_unpacklo_ps(e[2], e[3]), _mm512_unpackhi_ps(e[2], e[3]));
            const __m512d gd = _mm512_castps_pd(g), g2d = _mm512_castps_pd(g2);
            // Level 4: lane 4q + k holds v[4k + q]; transposed back so that lane t holds v[t].
            const __m512 sum = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(gd, g2d)),
                                             _mm512_castpd_ps(_mm512_unpackhi_pd(gd, g2d)));
            _mm512_store_ps(s, _mm512_permutexvar_ps(ld(k_group), sum));
        } else {
            // lane 4q = v[q], lane 4q + 1 = v[4 + q]
            const __m512 sum = _mm512_add_ps(g, _mm512_permute_ps(g, 0x4E));
            const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
            _mm512_store_ps(s, _mm512_permutexvar_ps(idx, sum));
        }
    } else {
        for (int t = 0; t < T; ++t) s[t] = _mm512_reduce_add_ps(v[t]);
    }
    for (int t = 0; t < T; ++t) y[t * ldy] = first ? s[t] : y[t * ldy] + s[t];
}

// R weight rows times T tokens over the pb super-blocks of a panel. xs: prepass blocks [t * pb + b]. The row r
// result for token t goes to y[t * ldy + r]: stored when `first`, else added. pf: bytes ahead to prefetch.
template <class Q, int R, int T>
void tile(const uint8_t* row, size_t wrb, size_t pf, const xblk* xs, int64_t pb, float* y, int64_t ldy, bool first) {
    __m512 facc[R][T];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) facc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < pb; ++b) {
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const uint8_t* p = row + size_t(r) * wrb + size_t(b) * Q::block_bytes;
            for (int l = 0; l < PF_LINES; ++l)
                _mm_prefetch(reinterpret_cast<const char*>(p + pf + 64 * l), _MM_HINT_T0);
            wblk w;
            Q::prep(p, w);
#pragma GCC unroll 16
            for (int t = 0; t < T; ++t) {
                const xblk& x = xs[t * pb + b];
                __m512i acc = Q::aux == aux_kind::AUX_OFFSET ? _mm512_load_si512(x.aux) : _mm512_set1_epi32(MAGIC_BITS);
                acc = dot_block<Q>(acc, w, x);
                const __m512 v = _mm512_sub_ps(_mm512_castsi512_ps(acc), _mm512_set1_ps(MAGIC));  // exact int -> float
                facc[r][t] = _mm512_fmadd_ps(v, _mm512_mul_ps(w.dsc, _mm512_set1_ps(x.d)), facc[r][t]);
                if constexpr (Q::aux == aux_kind::AUX_MIN)
                    facc[r][t] = _mm512_fmadd_ps(w.dm, _mm512_load_ps(x.aux), facc[r][t]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) store_sums<T>(facc[r], y + r, ldy, first);
}

constexpr int BUF_BLOCKS = 128;  // prepass buffer: 128 x 384 bytes = 48 KiB of stack
constexpr int TOK_GROUP = 16;    // tokens per prefill tile (each weight super-block is unpacked once per 16 tokens)
constexpr int ROW_CHUNK = 128;   // prefill: rows whose weight panel stays in L2 while token groups pass over it

template <class Q>
void prepass_range(const uint8_t* xq, size_t xrb, int64_t t0, int64_t nt, int64_t b0, int64_t pb, xblk* buf) {
    for (int64_t t = 0; t < nt; ++t) {
        const uint8_t* x = xq + size_t(t0 + t) * xrb + size_t(b0) * X_BYTES;
        for (int64_t b = 0; b < pb; ++b) prepass<Q::aux, Q::offset>(x + size_t(b) * X_BYTES, buf[t * pb + b]);
    }
}

// nt tokens (<= TOK_GROUP) of one row: tiles of 16, 8, 4, 2, 1 tokens.
template <class Q>
void row_tokens(const uint8_t* row, size_t pf, const xblk* buf, int64_t pb, int64_t nt, float* y, int64_t ldy,
                bool first) {
    int64_t t = 0;
    if (nt - t >= 16) {
        tile<Q, 1, 16>(row, 0, pf, buf + t * pb, pb, y + t * ldy, ldy, first);
        t += 16;
    }
    if (nt - t >= 8) {
        tile<Q, 1, 8>(row, 0, pf, buf + t * pb, pb, y + t * ldy, ldy, first);
        t += 8;
    }
    if (nt - t >= 4) {
        tile<Q, 1, 4>(row, 0, pf, buf + t * pb, pb, y + t * ldy, ldy, first);
        t += 4;
    }
    if (nt - t >= 2) {
        tile<Q, 1, 2>(row, 0, pf, buf + t * pb, pb, y + t * ldy, ldy, first);
        t += 2;
    }
    if (nt - t >= 1) tile<Q, 1, 1>(row, 0, pf, buf + t * pb, pb, y + t * ldy, ldy, first);
}

template <class Q>
void matmul_rows(const void* w, size_t w_row_bytes, int64_t n_rows, const void* xq, size_t xq_row_bytes, int64_t n_tok,
                 float* y, int64_t ldy, int64_t n) {
    const int64_t nb = n / QK_K;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xq);
    xblk buf[BUF_BLOCKS];
    if (n_tok == 1) {
        // Decode: the whole row (up to BUF_BLOCKS super-blocks) in one panel, 4 rows at a time, prefetching PF_ROWS
        // rows ahead.
        for (int64_t b0 = 0; b0 < nb; b0 += BUF_BLOCKS) {
            const int64_t pb = nb - b0 < BUF_BLOCKS ? nb - b0 : BUF_BLOCKS;
            prepass_range<Q>(xb, xq_row_bytes, 0, 1, b0, pb, buf);
            const uint8_t* p0 = wb + size_t(b0) * Q::block_bytes;
            int64_t r = 0;
            for (; r + 4 <= n_rows; r += 4)
                tile<Q, 4, 1>(p0 + size_t(r) * w_row_bytes, w_row_bytes, PF_ROWS * w_row_bytes, buf, pb, y + r, ldy,
                              b0 == 0);
            for (; r < n_rows; ++r)
                tile<Q, 1, 1>(p0 + size_t(r) * w_row_bytes, w_row_bytes, PF_ROWS * w_row_bytes, buf, pb, y + r, ldy,
                              b0 == 0);
        }
        return;
    }
    // Prefill: row chunks, then panels of super-blocks, then token groups; the chunk's weight panel is read from
    // memory for the first token group and from cache for the rest.
    const int64_t panel = BUF_BLOCKS / TOK_GROUP;
    for (int64_t r0 = 0; r0 < n_rows; r0 += ROW_CHUNK) {
        const int64_t rc = n_rows - r0 < ROW_CHUNK ? n_rows - r0 : ROW_CHUNK;
        for (int64_t b0 = 0; b0 < nb; b0 += panel) {
            const int64_t pb = nb - b0 < panel ? nb - b0 : panel;
            for (int64_t t0 = 0; t0 < n_tok; t0 += TOK_GROUP) {
                const int64_t nt = n_tok - t0 < TOK_GROUP ? n_tok - t0 : TOK_GROUP;
                prepass_range<Q>(xb, xq_row_bytes, t0, nt, b0, pb, buf);
                for (int64_t r = r0; r < r0 + rc; ++r)
                    row_tokens<Q>(wb + size_t(r) * w_row_bytes + size_t(b0) * Q::block_bytes, PF_ROWS * w_row_bytes,
                                  buf, pb, nt, y + t0 * ldy + r, ldy, b0 == 0);
            }
        }
    }
}

}  // namespace qk

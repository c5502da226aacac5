// Whole-model quantisation (`fathom quantize`): per-tensor type choice (mixes, overrides, block-size fallbacks),
// rows quantised in parallel, GGUF streamed out one tensor at a time.
#include "quant/quantize-model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/thread-pool.h"
#include "quant/imatrix.h"
#include "quant/quant.h"

namespace fathom::quant {

namespace {

bool ends_with(const std::string& s, const char* suffix) {
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool is_float(dtype t) { return t == dtype::DTYPE_F32 || t == dtype::DTYPE_F16 || t == dtype::DTYPE_BF16; }

// Layer index of "blk.N.*", or -1.
int64_t layer_of(const std::string& name) {
    if (name.compare(0, 4, "blk.") != 0) return -1;
    int64_t v = 0;
    size_t i = 4;
    if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
    while (i < name.size() && name[i] >= '0' && name[i] <= '9') v = v * 10 + (name[i++] - '0');
    return v;
}

// The layers that get more bits in the _M mixes: the first and last eighth, and every third one in between.
bool more_bits(int64_t layer, int64_t n_layer) {
    if (layer < 0 || n_layer <= 0) return false;
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

dtype parse_type(const std::string& name, const std::string& what) {
    dtype t;
    if (!dtype_from_name(name, &t) || !(is_float(t) || (can_quantize(t) && t != dtype::DTYPE_Q8_1 &&
                                                        t != dtype::DTYPE_Q8_K)))
        fail(errc::ERRC_INVALID_ARGUMENT,
             what + ": unknown type '" + name +
                 "' (q4_0, q4_1, q5_0, q5_1, q8_0, iq4_nl, q4_k, q5_k, q6_k, iq4_xs, f16, bf16, f32, or the mixes "
                 "q4_k_m, q4_k_s, q5_k_m, q5_k_s)");
    return t;
}

bool is_mix(const std::string& s) { return s == "q4_k_m" || s == "q4_k_s" || s == "q5_k_m" || s == "q5_k_s"; }

// When the row length is not a multiple of the type's block, a nearby type that fits (as llama.cpp does).
std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

bool glob_match(const std::string& p, const std::string& s) {
    size_t pi = 0, si = 0, star = std::string::npos, mark = 0;
    while (si < s.size()) {
        if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
            ++pi;
            ++si;
        } else if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (star != std::string::npos) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*') ++pi;
    return pi == p.size();
}

int32_t gguf_file_type(const std::string& type_or_mix) {
    static const std::map<std::string, int32_t> k = {
        {"f32", 0},     {"f16", 1},     {"q4_0", 2},    {"q4_1", 3},    {"q8_0", 7},     {"q5_0", 8},
        {"q5_1", 9},    {"q4_k_s", 14}, {"q4_k_m", 15}, {"q5_k_s", 16}, {"q5_k_m", 17},  {"q6_k", 18},
        {"iq4_nl", 25}, {"iq4_xs", 30}, {"bf16", 32},   {"q4_k", 15},   {"q5_k", 17}};
    auto it = k.find(lower(type_or_mix));
    return it == k.end() ? -1 : it->second;
}

dtype fallback_type(dtype t, int64_t n_in) {
    auto fits = [&](dtype x) { return n_in % dtype_info(x).block_size == 0; };
    if (fits(t)) return t;
    dtype alt = dtype::DTYPE_F16;
    switch (t) {
        case dtype::DTYPE_Q4_K: alt = dtype::DTYPE_Q5_0; break;
        case dtype::DTYPE_Q5_K: alt = dtype::DTYPE_Q5_1; break;
        case dtype::DTYPE_Q6_K: alt = dtype::DTYPE_Q8_0; break;
        case dtype::DTYPE_IQ4_XS: alt = dtype::DTYPE_IQ4_NL; break;
        default: break;
    }
    return fits(alt) ? alt : dtype::DTYPE_F16;
}

dtype choose_type(const quantize_params& p, const io::tensor_entry& t, int64_t n_layer, bool* fallback) {
    if (fallback) *fallback = false;
    if (t.ne.size() < 2) return dtype::DTYPE_F32;  // norms, biases, rope_freqs
    for (const auto& [pat, ty] : p.overrides)
        if (glob_match(pat, t.name)) {
            const dtype want = parse_type(lower(ty), "--tensor-type " + pat);
            const dtype got = fallback_type(want, t.ne[0]);
            if (fallback) *fallback = got != want;
            return got;
        }
    const std::string mix = lower(p.type);
    const bool output = t.name == "output.weight";
    const int64_t layer = layer_of(t.name);
    const bool v_or_down = ends_with(t.name, ".attn_v.weight") || ends_with(t.name, ".ffn_down.weight");
    dtype want;
    if (mix == "q4_k_m") {
        want = output ? dtype::DTYPE_Q6_K
                      : (v_or_down && more_bits(layer, n_layer) ? dtype::DTYPE_Q6_K : dtype::DTYPE_Q4_K);
    } else if (mix == "q5_k_m") {
        want = output ? dtype::DTYPE_Q6_K
                      : (v_or_down && more_bits(layer, n_layer) ? dtype::DTYPE_Q6_K : dtype::DTYPE_Q5_K);
    } else if (mix == "q4_k_s") {
        const bool early_down = ends_with(t.name, ".ffn_down.weight") && layer >= 0 && layer < n_layer / 8;
        want = output ? dtype::DTYPE_Q6_K : early_down ? dtype::DTYPE_Q5_K : dtype::DTYPE_Q4_K;
    } else if (mix == "q5_k_s") {
        want = output ? dtype::DTYPE_Q6_K : dtype::DTYPE_Q5_K;
    } else {
        want = parse_type(mix, "type");
        // As llama.cpp does, a low-bit file keeps its output head at 6 bits (it decides every token's logits).
        if (output && !is_float(want) && want != dtype::DTYPE_Q8_0 && want != dtype::DTYPE_Q6_K &&
            t.ne[0] % QK_K == 0)
            want = dtype::DTYPE_Q6_K;
    }
    const dtype got = fallback_type(want, t.ne[0]);
    if (fallback) *fallback = got != want;
    return got;
}

void convert_tensor(const io::tensor_entry& t, dtype out_type, const float* imp, int64_t heads, thread_pool& pool,
                    uint8_t* buf) {
    const int64_t row_len = t.ne.size() >= 2 ? t.ne[0] : t.nelements();
    const int64_t rows = t.nelements() / std::max<int64_t>(1, row_len);
    const size_t sb = dtype_row_bytes(t.type, row_len), db = dtype_row_bytes(out_type, row_len);
    const uint8_t* s = static_cast<const uint8_t*>(t.data);
    pool.parallel_for(rows, 8, [&](int64_t r0, int64_t r1, int) {
        std::vector<float> row(static_cast<size_t>(row_len)), wrow(imp ? size_t(row_len) : 0);
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t from = heads ? io::hf_permuted_source_row(r, rows, heads) : r;
            const uint8_t* sr = s + size_t(from) * sb;
            uint8_t* dr = buf + size_t(r) * db;
            if (t.type == out_type) {
                std::memcpy(dr, sr, db);
                continue;
            }
            switch (t.type) {
                case dtype::DTYPE_F32: std::memcpy(row.data(), sr, size_t(row_len) * 4); break;
                case dtype::DTYPE_F16:
                case dtype::DTYPE_BF16:
                    for (int64_t i = 0; i < row_len; ++i) {
                        uint16_t h;
                        std::memcpy(&h, sr + 2 * i, 2);
                        row[size_t(i)] = t.type == dtype::DTYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
                    }
                    break;
                default: dequantize_row(t.type, sr, row.data(), row_len); break;
            }
            switch (out_type) {
                case dtype::DTYPE_F32: std::memcpy(dr, row.data(), size_t(row_len) * 4); break;
                case dtype::DTYPE_F16:
                case dtype::DTYPE_BF16:
                    for (int64_t i = 0; i < row_len; ++i) {
                        const uint16_t h = out_type == dtype::DTYPE_F16 ? f32_to_f16(row[size_t(i)])
                                                                        : f32_to_bf16(row[size_t(i)]);
                        std::memcpy(dr + 2 * i, &h, 2);
                    }
                    break;
                default:
                    if (imp) {
                        // As llama.cpp weights imatrix data: importance times the element's magnitude against the
                        // row's spread, so large weights of important columns are kept best.
                        double ss = 0;
                        for (int64_t i = 0; i < row_len; ++i) ss += double(row[size_t(i)]) * row[size_t(i)];
                        const float sigma2 = float(ss / double(row_len));
                        for (int64_t i = 0; i < row_len; ++i)
                            wrow[size_t(i)] = imp[i] * std::sqrt(sigma2 + row[size_t(i)] * row[size_t(i)]);
                    }
                    quantize_row(out_type, row.data(), dr, row_len, imp ? wrow.data() : nullptr);
                    break;
            }
        }
    });
}

quantize_result quantize_model(const io::model_file& src, const std::string& out, const quantize_params& p) {
    const std::string mix = lower(p.type);
    if (!is_mix(mix)) parse_type(mix, "type");
    for (const auto& [pat, ty] : p.overrides) {
        if (pat.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "--tensor-type: empty pattern");
        parse_type(lower(ty), "--tensor-type " + pat);
    }
    int64_t n_layer = 0;
    if (const io::meta_value* a = src.find("general.architecture"); a && a->type == io::gguf_type::GGUF_STRING)
        if (const io::meta_value* b = src.find(a->s + ".block_count")) n_layer = b->as_int(a->s + ".block_count");

    io::model_file dst;
    dst.path = out;
    dst.alignment = 32;
    size_t insert_at = 0;
    for (const auto& kv : src.meta) {
        if (kv.first == "fathom.rope.hf_order" || kv.first == "general.file_type" || kv.first == "general.alignment" ||
            kv.first == "general.quantization_version" || kv.first == "fathom.quantize.type")
            continue;
        dst.meta.push_back(kv);
        if (kv.first.compare(0, 8, "general.") == 0) insert_at = dst.meta.size();
    }
    std::vector<std::pair<std::string, io::meta_value>> added = {
        {"general.quantization_version", io::meta_value::u32(2)}};
    const int32_t ft = gguf_file_type(mix);
    if (ft >= 0) added.push_back({"general.file_type", io::meta_value::u32(uint32_t(ft))});
    dst.meta.insert(dst.meta.begin() + std::ptrdiff_t(insert_at), added.begin(), added.end());
    dst.meta.push_back({"fathom.quantize.type", io::meta_value::str(mix)});
    dst.index();

    quantize_result res;
    std::map<std::string, int64_t> per_type;
    std::vector<int64_t> heads(src.tensors.size(), 0);
    for (size_t k = 0; k < src.tensors.size(); ++k) {
        const io::tensor_entry& t = src.tensors[k];
        if (!is_float(t.type) && !is_quantized(t.type))
            fail(errc::ERRC_UNSUPPORTED, src.path + ": tensor '" + t.name + "': cannot read type " + dtype_name(t.type));
        if (!is_float(t.type) && !p.allow_requantize)
            fail(errc::ERRC_INVALID_ARGUMENT, src.path + ": tensor '" + t.name + "' is already " + dtype_name(t.type) +
                                                  "; quantise from an F32/F16/BF16 model (or allow requantising)");
        bool fb = false;
        io::tensor_entry o;
        o.name = t.name;
        o.ne = t.ne;
        o.type = choose_type(p, t, n_layer, &fb);
        const int64_t row_len = t.ne.size() >= 2 ? t.ne[0] : t.nelements();
        o.nbytes = uint64_t(dtype_row_bytes(o.type, row_len)) * uint64_t(t.nelements() / std::max<int64_t>(1, row_len));
        heads[k] = io::hf_permute_heads(src, t);
        res.bytes_in += t.nbytes;
        res.bytes_out += o.nbytes;
        res.n_weights += t.nelements();
        res.n_quantized += is_quantized(o.type) ? 1 : 0;
        res.n_fallback += fb ? 1 : 0;
        ++per_type[dtype_name(o.type)];
        dst.tensors.push_back(std::move(o));
    }
    dst.index();
    for (const auto& [name, n] : per_type) res.tensors_per_type.emplace_back(name, n);

    // Importance per tensor, checked against the row length before anything is written.
    std::vector<std::vector<float>> importance(src.tensors.size());
    if (p.importance) {
        for (size_t k = 0; k < src.tensors.size(); ++k) {
            const io::tensor_entry& t = src.tensors[k];
            if (!is_quantized(dst.tensors[k].type) || t.type == dst.tensors[k].type) continue;
            std::vector<float> v = p.importance->importance(t.name);
            if (v.empty()) continue;
            if (t.ne.size() < 2 || int64_t(v.size()) != t.ne[0])
                fail(errc::ERRC_INVALID_ARGUMENT, "importance data for '" + t.name + "' has " + std::to_string(v.size()) +
                                                      " columns, the tensor's rows have " + std::to_string(t.ne[0]) +
                                                      " (an imatrix of another model?)");
            importance[k] = std::move(v);
            ++res.n_importance;
        }
    }

    thread_pool pool(p.n_threads);
    io::write_gguf_streaming(out, dst, [&](size_t k, uint8_t* buf) {
        convert_tensor(src.tensors[k], dst.tensors[k].type, importance[k].empty() ? nullptr : importance[k].data(),
                       heads[k], pool, buf);
    });
    return res;
}

}  // namespace fathom::quant

// LoRA adapters: reading and validating llama.cpp's LoRA GGUF files, the low-rank product of the forward pass, and
// merging adapters into a base model file.
#include "models/lora.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "kernels/kernels.h"
#include "nn/matmul.h"
#include "quant/quant.h"
#include "train/ops.h"

namespace fathom {
namespace {

// From this many tokens on, the low-rank product runs as two sgemm calls (measured faster from 2 tokens on); a single
// token takes dot products and axpys on the calling thread (no pool dispatch).
constexpr int64_t k_gemm_tokens = 2;
// Multiply-adds below which the B step of lora_apply stays on the calling thread.
constexpr int64_t k_parallel_fmas = 32768;

const char* const k_linear_names[k_lora_targets] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                                    "ffn_gate", "ffn_up", "ffn_down"};

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_str(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

// "blk.N.<linear>.weight" -> layer and target; false for any other name.
bool parse_weight_name(const std::string& name, int64_t* layer, lora_target* target) {
    if (name.compare(0, 4, "blk.") != 0) return false;
    size_t i = 4;
    int64_t v = 0;
    if (i >= name.size() || name[i] < '0' || name[i] > '9') return false;
    while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
        v = v * 10 + (name[i++] - '0');
        if (v > (int64_t(1) << 30)) return false;
    }
    if (i >= name.size() || name[i] != '.') return false;
    const std::string rest = name.substr(i + 1);
    for (int k = 0; k < k_lora_targets; ++k)
        if (rest == std::string(k_linear_names[k]) + ".weight") {
            *layer = v;
            *target = lora_target(k);
            return true;
        }
    return false;
}

const std::string& meta_string(const io::model_file& f, const std::string& key, const std::string& what) {
    const io::meta_value* v = f.find(key);
    if (!v) fail(errc::ERRC_FORMAT, f.path + ": key '" + key + "' is missing (" + what + ")");
    if (v->type != io::gguf_type::GGUF_STRING)
        fail(errc::ERRC_FORMAT, f.path + ": key '" + key + "': expected a string, found " + io::gguf_type_name(v->type));
    return v->s;
}

// The F32 copy of an adapter tensor (F32, F16 or BF16).
std::vector<float> to_f32(const io::model_file& f, const io::tensor_entry& t) {
    const int64_t n = t.nelements();
    std::vector<float> out(static_cast<size_t>(n));
    const uint8_t* p = static_cast<const uint8_t*>(t.data);
    switch (t.type) {
        case dtype::DTYPE_F32: std::memcpy(out.data(), p, size_t(n) * sizeof(float)); break;
        case dtype::DTYPE_F16:
        case dtype::DTYPE_BF16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                out[size_t(i)] = t.type == dtype::DTYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
            }
            break;
        default:
            fail(errc::ERRC_UNSUPPORTED, f.path + ": tensor '" + t.name + "': type " + dtype_name(t.type) +
                                             " is not supported for LoRA tensors (expected f32, f16 or bf16)");
    }
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(out[size_t(i)]))
            fail(errc::ERRC_FORMAT, f.path + ": tensor '" + t.name + "': element " + std::to_string(i) +
                                        " is not a finite number");
    return out;
}

std::shared_ptr<lora_adapter> load_impl(const io::model_file& f, const io::model_file& base, const std::string& arch) {
    auto ad = std::make_shared<lora_adapter>();
    ad->path = f.path;
    const std::string& type = meta_string(f, "general.type", "a LoRA adapter has general.type \"adapter\"");
    if (type != "adapter")
        fail(errc::ERRC_FORMAT, f.path + ": key 'general.type' is \"" + type + "\", expected \"adapter\" (is this a model "
                                         "rather than a LoRA adapter?)");
    const std::string& atype = meta_string(f, "adapter.type", "expected \"lora\"");
    if (atype != "lora")
        fail(errc::ERRC_UNSUPPORTED, f.path + ": key 'adapter.type' is \"" + atype + "\", only \"lora\" is supported");
    const std::string& aarch = meta_string(f, "general.architecture", "the base model's architecture");
    if (aarch != arch)
        fail(errc::ERRC_INVALID_ARGUMENT, f.path + ": key 'general.architecture' is \"" + aarch +
                                              "\" but the base model " + base.path + " is \"" + arch + "\"");
    if (const io::meta_value* a = f.find("adapter.lora.alpha")) {
        const bool numeric = a->type != io::gguf_type::GGUF_STRING && a->type != io::gguf_type::GGUF_ARRAY &&
                             a->type != io::gguf_type::GGUF_BOOL;
        if (!numeric)
            fail(errc::ERRC_FORMAT, f.path + ": key 'adapter.lora.alpha': expected a number, found " +
                                        io::gguf_type_name(a->type));
        const double v = a->type == io::gguf_type::GGUF_FLOAT32 || a->type == io::gguf_type::GGUF_FLOAT64 ? a->f
                         : a->type == io::gguf_type::GGUF_UINT8 || a->type == io::gguf_type::GGUF_UINT16 ||
                                 a->type == io::gguf_type::GGUF_UINT32 || a->type == io::gguf_type::GGUF_UINT64
                             ? double(a->u)
                             : double(a->i);
        if (!std::isfinite(v) || v < 0 || v > 1e30)
            fail(errc::ERRC_FORMAT, f.path + ": key 'adapter.lora.alpha': " + std::to_string(v) +
                                        " is not a finite number >= 0");
        ad->alpha = float(v);
    }
    if (const io::meta_value* o = base.find("fathom.rope.hf_order"); o && o->type == io::gguf_type::GGUF_BOOL && o->u)
        fail(errc::ERRC_UNSUPPORTED, f.path + ": the base " + base.path +
                                         " keeps Hugging Face Q/K order; convert it to GGUF (fathom convert) before "
                                         "applying LoRA adapters");

    for (const io::tensor_entry& t : f.tensors) {
        const bool is_a = ends_with(t.name, ".lora_a"), is_b = ends_with(t.name, ".lora_b");
        if (!is_a && !is_b)
            fail(errc::ERRC_FORMAT, f.path + ": tensor '" + t.name + "' is not a LoRA tensor (expected names ending "
                                             "in .lora_a or .lora_b)");
        const std::string wname = t.name.substr(0, t.name.size() - 7);
        const std::string other = wname + (is_a ? ".lora_b" : ".lora_a");
        const io::tensor_entry* pair = f.find_tensor(other);
        if (!pair)
            fail(errc::ERRC_FORMAT, f.path + ": tensor '" + t.name + "' has no matching '" + other + "'");
        if (is_b) continue;  // checked with its A
        const io::tensor_entry& a = t;
        const io::tensor_entry& b = *pair;
        lora_weight w;
        w.name = wname;
        if (!parse_weight_name(wname, &w.layer, &w.target))
            fail(errc::ERRC_UNSUPPORTED, f.path + ": tensor '" + t.name + "': adapting '" + wname +
                                             "' is not supported (only blk.N.attn_q/attn_k/attn_v/attn_output/"
                                             "ffn_gate/ffn_up/ffn_down.weight)");
        const io::tensor_entry* bw = base.find_tensor(wname);
        if (!bw)
            fail(errc::ERRC_INVALID_ARGUMENT, f.path + ": tensor '" + t.name + "': the base model " + base.path +
                                                  " has no tensor '" + wname + "'");
        if (bw->ne.size() != 2)
            fail(errc::ERRC_INVALID_ARGUMENT, f.path + ": tensor '" + t.name + "': base tensor '" + wname + "' has shape " +
                                                  shape_str(bw->ne) + ", not 2-D");
        w.n_in = bw->ne[0];
        w.n_out = bw->ne[1];
        if (a.ne.size() != 2 || a.ne[0] != w.n_in || a.ne[1] < 1)
            fail(errc::ERRC_INVALID_ARGUMENT, f.path + ": tensor '" + a.name + "': shape " + shape_str(a.ne) +
                                                  " does not fit base tensor '" + wname + "' " + shape_str(bw->ne) +
                                                  " (expected [" + std::to_string(w.n_in) + ", rank])");
        w.rank = a.ne[1];
        if (b.ne.size() != 2 || b.ne[0] != w.rank || b.ne[1] != w.n_out)
            fail(errc::ERRC_INVALID_ARGUMENT, f.path + ": tensor '" + b.name + "': shape " + shape_str(b.ne) +
                                                  " expected [" + std::to_string(w.rank) + ", " +
                                                  std::to_string(w.n_out) + "] (rank of '" + a.name +
                                                  "', rows of base tensor '" + wname + "')");
        if (w.rank > w.n_in || w.rank > w.n_out)
            fail(errc::ERRC_INVALID_ARGUMENT, f.path + ": tensor '" + a.name + "': rank " + std::to_string(w.rank) +
                                                  " exceeds the base weight's dimensions " + shape_str(bw->ne));
        w.a = to_f32(f, a);
        const std::vector<float> bm = to_f32(f, b);  // (n_out, rank)
        w.bt.assign(size_t(w.rank * w.n_out), 0.0f);
        for (int64_t o = 0; o < w.n_out; ++o)
            for (int64_t r = 0; r < w.rank; ++r) w.bt[size_t(r * w.n_out + o)] = bm[size_t(o * w.rank + r)];
        ad->weights.push_back(std::move(w));
    }
    if (ad->weights.empty()) fail(errc::ERRC_FORMAT, f.path + ": has no LoRA tensors (*.lora_a / *.lora_b)");
    return ad;
}

}  // namespace

std::shared_ptr<lora_adapter> lora_adapter::load(const std::string& path, const llama_model& model) {
    return load(io::read_gguf(path), model);
}

std::shared_ptr<lora_adapter> lora_adapter::load(const io::model_file& adapter, const llama_model& model) {
    return load_impl(adapter, model.file, model.hp.arch);
}

std::shared_ptr<lora_adapter> lora_adapter::load(const io::model_file& adapter, const io::model_file& base) {
    const io::meta_value* a = base.find("general.architecture");
    if (!a || a->type != io::gguf_type::GGUF_STRING)
        fail(errc::ERRC_FORMAT, base.path + ": key 'general.architecture' is missing or not a string");
    return load_impl(adapter, base, a->s);
}

void lora_adapter::check_fits(const llama_model& model) const {
    for (const lora_weight& w : weights) {
        const io::tensor_entry* t = model.file.find_tensor(w.name);
        if (!t || t->ne.size() != 2 || t->ne[0] != w.n_in || t->ne[1] != w.n_out || w.layer >= model.hp.n_layer)
            fail(errc::ERRC_INVALID_ARGUMENT,
                 path + ": tensor '" + w.name + ".lora_a': adapts a [" + std::to_string(w.n_in) + ", " +
                     std::to_string(w.n_out) + "] weight, but the model " + model.file.path +
                     (t ? " has shape " + shape_str(t->ne) : std::string(" has no such tensor")));
    }
}

void lora_apply(thread_pool& pool, const lora_term* terms, size_t n_terms, const float* x, int64_t ldx, int64_t n_tok,
                float* y, int64_t ldy, int64_t n_in, int64_t n_out, float* tmp) {
    if (n_tok <= 0) return;
    const kernels::table& kt = kernels::active();
    for (size_t k = 0; k < n_terms; ++k) {
        const lora_term& T = terms[k];
        if (n_tok >= k_gemm_tokens) {
            train::gemm(pool, false, true, n_tok, T.rank, n_in, 1.0f, x, ldx, T.a, n_in, 0.0f, tmp, T.rank);
            train::gemm(pool, false, false, n_tok, n_out, T.rank, T.scale, tmp, T.rank, T.bt, n_out, 1.0f, y, ldy);
            continue;
        }
        // One token (decode): x A^T on this thread, then y += (scale x A^T) Bt over column slices.
        for (int64_t t = 0; t < n_tok; ++t)
            for (int64_t r = 0; r < T.rank; ++r)
                tmp[t * T.rank + r] = T.scale * kt.dot_f32(x + t * ldx, T.a + r * n_in, n_in);
        const int64_t per_col = n_tok * T.rank;
        const int64_t grain = std::max<int64_t>(64, (k_parallel_fmas / per_col + 15) / 16 * 16);
        pool.parallel_for(n_out, grain, [&](int64_t j0, int64_t j1, int) {
            for (int64_t t = 0; t < n_tok; ++t)
                for (int64_t r = 0; r < T.rank; ++r)
                    kt.axpy_f32(tmp[t * T.rank + r], T.bt + r * n_out + j0, y + t * ldy + j0, j1 - j0);
        });
    }
}

namespace {

bool is_float_type(dtype t) { return t == dtype::DTYPE_F32 || t == dtype::DTYPE_F16 || t == dtype::DTYPE_BF16; }

bool writable_type(dtype t) {
    return is_float_type(t) || (quant::can_quantize(t) && t != dtype::DTYPE_Q8_1 && t != dtype::DTYPE_Q8_K);
}

}  // namespace

lora_merge_result lora_merge(const io::model_file& base, const std::vector<lora_merge_input>& adapters,
                             const std::string& out, const lora_merge_params& params) {
    if (adapters.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "lora merge: no adapters given");
    if (const io::meta_value* o = base.find("fathom.rope.hf_order"); o && o->type == io::gguf_type::GGUF_BOOL && o->u)
        fail(errc::ERRC_UNSUPPORTED, base.path + ": keeps Hugging Face Q/K order; convert it to GGUF (fathom convert) "
                                                 "before merging LoRA adapters");
    {
        std::error_code ec;
        if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(out, base.path, ec))
            fail(errc::ERRC_INVALID_ARGUMENT, out + ": is the base model itself; write the merged model elsewhere");
    }
    dtype forced = dtype::DTYPE_F32;
    const bool force = !params.type.empty();
    if (force && (!dtype_from_name(params.type, &forced) || !writable_type(forced)))
        fail(errc::ERRC_INVALID_ARGUMENT, "lora merge: type: unknown type '" + params.type +
                                              "' (f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, iq4_nl, q4_k, q5_k, "
                                              "q6_k, iq4_xs)");
    // Every base tensor's terms: (weight, scale * alpha / rank).
    std::map<std::string, std::vector<std::pair<const lora_weight*, float>>> terms;
    for (size_t i = 0; i < adapters.size(); ++i) {
        const lora_merge_input& in = adapters[i];
        if (!in.adapter) fail(errc::ERRC_INVALID_ARGUMENT, "lora merge: adapter " + std::to_string(i) + " is null");
        if (!std::isfinite(in.scale))
            fail(errc::ERRC_INVALID_ARGUMENT, "lora merge: " + in.adapter->path + ": scale is not a finite number");
        for (const lora_weight& w : in.adapter->weights) {
            const io::tensor_entry* t = base.find_tensor(w.name);
            if (!t || t->ne.size() != 2 || t->ne[0] != w.n_in || t->ne[1] != w.n_out)
                fail(errc::ERRC_INVALID_ARGUMENT, in.adapter->path + ": tensor '" + w.name +
                                                      ".lora_a': does not fit the base " + base.path);
            if (in.scale != 0.0f) terms[w.name].emplace_back(&w, in.scale * in.adapter->base_scale(w));
        }
    }

    io::model_file dst;
    dst.path = out;
    dst.alignment = base.alignment;
    for (const auto& kv : base.meta) {
        if (kv.first == "general.alignment") continue;
        if (force && kv.first == "general.file_type") continue;  // may no longer describe the file
        dst.meta.push_back(kv);
    }
    lora_merge_result res;
    std::vector<uint8_t> merged(base.tensors.size(), 0);
    for (size_t k = 0; k < base.tensors.size(); ++k) {
        const io::tensor_entry& t = base.tensors[k];
        if (t.layout != io::weight_layout::WEIGHT_LAYOUT_ROWS)
            fail(errc::ERRC_INVALID_ARGUMENT, base.path + ": tensor '" + t.name + "' is repacked; merge from the file");
        io::tensor_entry o;
        o.name = t.name;
        o.ne = t.ne;
        o.type = t.type;
        o.nbytes = t.nbytes;
        auto it = terms.find(t.name);
        if (it != terms.end()) {
            if (!is_float_type(t.type) && !quant::is_quantized(t.type))
                fail(errc::ERRC_UNSUPPORTED, base.path + ": tensor '" + t.name + "': cannot read type " +
                                                 dtype_name(t.type) + " to merge into");
            o.type = force ? forced : t.type;
            if (!writable_type(o.type))
                fail(errc::ERRC_UNSUPPORTED, base.path + ": tensor '" + t.name + "': cannot write type " +
                                                 dtype_name(o.type) + " (give --type)");
            if (t.ne[0] % dtype_info(o.type).block_size != 0)
                fail(errc::ERRC_INVALID_ARGUMENT, base.path + ": tensor '" + t.name + "': rows of " +
                                                      std::to_string(t.ne[0]) + " do not fit " + dtype_name(o.type) +
                                                      " blocks of " + std::to_string(dtype_info(o.type).block_size));
            o.nbytes = uint64_t(dtype_row_bytes(o.type, t.ne[0])) * uint64_t(t.ne[1]);
            merged[k] = 1;
            ++res.n_merged;
        } else {
            ++res.n_copied;
        }
        dst.tensors.push_back(std::move(o));
    }
    dst.index();

    thread_pool pool(params.n_threads);
    const kernels::table& kt = kernels::active();
    io::write_gguf_streaming(out, dst, [&](size_t k, uint8_t* buf) {
        const io::tensor_entry& t = base.tensors[k];
        if (!merged[k]) {
            std::memcpy(buf, t.data, size_t(t.nbytes));
            return;
        }
        const io::tensor_entry& o = dst.tensors[k];
        const auto& tk = terms.at(t.name);
        const int64_t n_in = t.ne[0], n_out = t.ne[1];
        const size_t db = dtype_row_bytes(o.type, n_in);
        pool.parallel_for(n_out, 8, [&](int64_t r0, int64_t r1, int) {
            std::vector<float> row(static_cast<size_t>(n_in));
            for (int64_t r = r0; r < r1; ++r) {
                nn::get_row_f32(t, r, row.data());
                for (const auto& [w, s] : tk)  // row r of B A is sum over k of B[r][k] A[k]
                    for (int64_t j = 0; j < w->rank; ++j)
                        kt.axpy_f32(s * w->bt[size_t(j * n_out + r)], w->a.data() + j * n_in, row.data(), n_in);
                uint8_t* dr = buf + size_t(r) * db;
                switch (o.type) {
                    case dtype::DTYPE_F32: std::memcpy(dr, row.data(), size_t(n_in) * sizeof(float)); break;
                    case dtype::DTYPE_F16:
                    case dtype::DTYPE_BF16:
                        for (int64_t i = 0; i < n_in; ++i) {
                            const uint16_t h = o.type == dtype::DTYPE_F16 ? f32_to_f16(row[size_t(i)])
                                                                          : f32_to_bf16(row[size_t(i)]);
                            std::memcpy(dr + 2 * i, &h, 2);
                        }
                        break;
                    default: quant::quantize_row(o.type, row.data(), dr, n_in); break;
                }
            }
        });
    });
    return res;
}

}  // namespace fathom

#include "quant/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "core/thread-pool.h"
#include "eval/evaluate.h"
#include "models/llama.h"
#include "quant/blocks.h"
#include "quant/imatrix.h"
#include "quant/quant.h"
#include "quant/quantize-model.h"

namespace fathom::quant {

namespace {

using json = nlohmann::json;

bool is_float_type(dtype t) { return t == dtype::DTYPE_F32 || t == dtype::DTYPE_F16 || t == dtype::DTYPE_BF16; }

double type_bits(dtype t) { return is_float_type(t) ? 8.0 * double(dtype_info(t).type_size) : bits_per_weight(t); }

bool fits(dtype t, int64_t row_len) { return row_len % dtype_info(t).block_size == 0; }

struct cand {
    dtype type;
    double bits, kld;
};

// Candidates of one tensor sorted by bits, dominated ones (as many bits or more for no less divergence) removed.
std::vector<cand> frontier(const tensor_sensitivity& t) {
    std::vector<cand> c;
    for (const auto& [ty, k] : t.kld) c.push_back({ty, type_bits(ty) * double(t.n_elements), k});
    std::sort(c.begin(), c.end(), [](const cand& a, const cand& b) { return a.bits < b.bits || (a.bits == b.bits && a.kld < b.kld); });
    std::vector<cand> f;
    for (const cand& x : c)
        if (f.empty() || x.kld < f.back().kld) {
            if (!f.empty() && x.bits == f.back().bits) f.back() = x;
            else f.push_back(x);
        }
    return f;
}

}  // namespace

std::vector<dtype> default_plan_types() {
    using D = dtype;
    return {D::DTYPE_Q4_0, D::DTYPE_Q4_1, D::DTYPE_Q5_0, D::DTYPE_Q5_1, D::DTYPE_IQ4_NL, D::DTYPE_Q4_K,
            D::DTYPE_Q5_K, D::DTYPE_Q6_K, D::DTYPE_IQ4_XS, D::DTYPE_Q8_0, D::DTYPE_F16};
}

sensitivity_result measure_sensitivity(const io::model_file& src, const std::vector<int32_t>& tokens, int32_t bos,
                                       const sensitivity_options& opts,
                                       const std::function<void(int64_t, int64_t)>& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (opts.types.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "sensitivity: no candidate types");
    for (dtype t : opts.types)
        if (!is_float_type(t) && !can_quantize(t))
            fail(errc::ERRC_INVALID_ARGUMENT, std::string("sensitivity: cannot quantise to ") + dtype_name(t));
    std::vector<size_t> measured;
    for (size_t k = 0; k < src.tensors.size(); ++k) {
        const io::tensor_entry& t = src.tensors[k];
        if (t.ne.size() < 2) continue;
        if (!is_float_type(t.type))
            fail(errc::ERRC_INVALID_ARGUMENT, src.path + ": tensor '" + t.name + "' is " + dtype_name(t.type) +
                                                  "; measure sensitivity on the F32 / F16 / BF16 model");
        measured.push_back(k);
    }
    const std::unique_ptr<llama_model> ref = llama_model::load(src);
    eval::ppl_options po;
    po.n_ctx = opts.n_ctx;
    po.max_chunks = opts.max_chunks;
    po.n_threads = opts.n_threads;
    const eval::scored_logprobs ref_lp = eval::reference_logprobs(*ref, tokens, bos, po);

    sensitivity_result r;
    r.types = opts.types;
    r.n_ctx = opts.n_ctx;
    r.n_chunks = ref_lp.n_chunks;
    int64_t total = 0;
    for (size_t k : measured)
        for (dtype ty : opts.types) total += (ty != src.tensors[k].type && fits(ty, src.tensors[k].ne[0])) ? 1 : 0;
    int64_t done = 0;
    thread_pool pool(opts.n_threads);
    for (size_t k : measured) {
        const io::tensor_entry& t = src.tensors[k];
        tensor_sensitivity ts;
        ts.name = t.name;
        ts.n_elements = t.nelements();
        const std::vector<float> imp = opts.importance ? opts.importance->importance(t.name) : std::vector<float>{};
        const float* ip = int64_t(imp.size()) == t.ne[0] ? imp.data() : nullptr;
        for (dtype ty : opts.types) {
            if (ty == t.type) {
                ts.kld.emplace_back(ty, 0.0);  // the source itself
                continue;
            }
            if (!fits(ty, t.ne[0])) continue;
            io::model_file m = src;
            io::tensor_entry& e = m.tensors[k];
            const size_t bytes = dtype_row_bytes(ty, t.ne[0]) * size_t(t.nelements() / t.ne[0]);
            auto buf = std::make_shared<aligned_buffer>(bytes);
            convert_tensor(t, ty, is_float_type(ty) ? nullptr : ip, 0, pool, static_cast<uint8_t*>(buf->data()));
            e.type = ty;
            e.data = buf->data();
            e.nbytes = bytes;
            m.owned.push_back(std::move(buf));
            const std::unique_ptr<llama_model> q = llama_model::load(std::move(m));
            ts.kld.emplace_back(ty, eval::mean_kld(*q, tokens, bos, po, ref_lp));
            if (progress) progress(++done, total);
        }
        r.tensors.push_back(std::move(ts));
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

json to_json(const sensitivity_result& s) {
    json types = json::array();
    for (dtype t : s.types) types.push_back(dtype_name(t));
    json tensors = json::array();
    for (const tensor_sensitivity& t : s.tensors) {
        json k = json::object();
        for (const auto& [ty, v] : t.kld) k[dtype_name(ty)] = v;
        tensors.push_back({{"name", t.name}, {"n_elements", t.n_elements}, {"kld", k}});
    }
    return {{"types", types}, {"n_ctx", s.n_ctx}, {"chunks", s.n_chunks}, {"seconds", s.seconds}, {"tensors", tensors}};
}

sensitivity_result sensitivity_from_json(const json& j, const std::string& what) {
    auto bad = [&](const std::string& m) { fail(errc::ERRC_FORMAT, what + ": " + m); };
    if (!j.is_object() || !j.contains("types") || !j["types"].is_array() || !j.contains("tensors") ||
        !j["tensors"].is_array())
        bad("expected an object with \"types\" and \"tensors\" arrays");
    sensitivity_result s;
    for (const json& t : j["types"]) {
        dtype d;
        if (!t.is_string() || !dtype_from_name(t.get<std::string>(), &d)) bad("types: unknown type " + t.dump());
        s.types.push_back(d);
    }
    if (j.contains("n_ctx") && j["n_ctx"].is_number_integer()) s.n_ctx = j["n_ctx"].get<int64_t>();
    if (j.contains("chunks") && j["chunks"].is_number_integer()) s.n_chunks = j["chunks"].get<int64_t>();
    for (const json& t : j["tensors"]) {
        if (!t.is_object() || !t.contains("name") || !t["name"].is_string() || !t.contains("n_elements") ||
            !t["n_elements"].is_number_integer() || t["n_elements"].get<int64_t>() <= 0 || !t.contains("kld") ||
            !t["kld"].is_object())
            bad("tensors: each needs \"name\", a positive \"n_elements\" and a \"kld\" object");
        tensor_sensitivity ts;
        ts.name = t["name"].get<std::string>();
        ts.n_elements = t["n_elements"].get<int64_t>();
        for (const auto& [k, v] : t["kld"].items()) {
            dtype d;
            if (!dtype_from_name(k, &d)) bad("tensor '" + ts.name + "': unknown type \"" + k + "\"");
            if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
                bad("tensor '" + ts.name + "': kld of " + k + " must be a non-negative number");
            ts.kld.emplace_back(d, v.get<double>());
        }
        if (ts.kld.empty()) bad("tensor '" + ts.name + "': no candidates");
        s.tensors.push_back(std::move(ts));
    }
    return s;
}

plan_result make_plan(const sensitivity_result& s, const io::model_file& src, const plan_options& opts) {
    if (!(opts.target_bpw > 0) && !(opts.max_kld > 0))
        fail(errc::ERRC_INVALID_ARGUMENT, "plan: give a target bits per weight or a maximum KL divergence");
    // Tensors not in the plan keep (as quantize_model writes them) F32 when 1-D, their own type otherwise.
    double total_elements = 0, fixed_bits = 0;
    for (const io::tensor_entry& t : src.tensors) {
        total_elements += double(t.nelements());
        const bool planned = std::any_of(s.tensors.begin(), s.tensors.end(),
                                         [&](const tensor_sensitivity& x) { return x.name == t.name; });
        if (!planned) fixed_bits += (t.ne.size() < 2 ? 32.0 : type_bits(t.type)) * double(t.nelements());
    }
    for (const tensor_sensitivity& t : s.tensors)
        if (!src.find_tensor(t.name)) fail(errc::ERRC_INVALID_ARGUMENT, "plan: the model has no tensor '" + t.name + "'");
    std::vector<std::vector<cand>> f;
    for (const tensor_sensitivity& t : s.tensors) f.push_back(frontier(t));

    double min_bits = fixed_bits, max_bits = fixed_bits, max_bits_kld = 0;
    for (const auto& c : f) min_bits += c.front().bits, max_bits += c.back().bits, max_bits_kld += c.back().kld;

    // Multiple-choice knapsack by dynamic programming over the bit budget in k_units steps: best[c] is the least
    // summed divergence of the tensors so far within c units. Costs are rounded up, so every answer fits; the
    // rounding gives away at most one unit per tensor.
    constexpr int64_t k_units = 1 << 16;
    double range;  // bits the units span (beyond the fixed tensors)
    if (opts.target_bpw > 0) {
        const double budget = opts.target_bpw * total_elements;
        if (min_bits > budget * (1 + 1e-12)) {
            char b[160];
            std::snprintf(b, sizeof b, "plan: %.3f bits per weight cannot be reached; the smallest candidates give %.3f",
                          opts.target_bpw, min_bits / total_elements);
            fail(errc::ERRC_INVALID_ARGUMENT, b);
        }
        range = budget - fixed_bits;
    } else {
        if (max_bits_kld > opts.max_kld) {
            char b[160];
            std::snprintf(b, sizeof b, "plan: KL divergence %.6g cannot be reached; the largest candidates give %.6g",
                          opts.max_kld, max_bits_kld);
            fail(errc::ERRC_INVALID_ARGUMENT, b);
        }
        range = max_bits - fixed_bits;
    }
    const double unit = range > 0 ? range / double(k_units) : 1.0;
    std::vector<double> best(size_t(k_units) + 1, 0.0), next(best.size());
    std::vector<std::vector<uint8_t>> choice(f.size(), std::vector<uint8_t>(best.size(), 0));
    for (size_t i = 0; i < f.size(); ++i) {
        std::fill(next.begin(), next.end(), INFINITY);
        for (size_t j = 0; j < f[i].size(); ++j) {
            const int64_t cost = int64_t(std::ceil(f[i][j].bits / unit - 1e-9));
            for (int64_t c = cost; c <= k_units; ++c) {
                const double v = best[size_t(c - cost)] + f[i][j].kld;
                if (v < next[size_t(c)]) next[size_t(c)] = v, choice[i][size_t(c)] = uint8_t(j);
            }
        }
        best.swap(next);
    }
    int64_t at = k_units;
    if (!(opts.target_bpw > 0)) {  // the fewest units whose divergence fits
        at = 0;
        while (at < k_units && !(best[size_t(at)] <= opts.max_kld)) ++at;
    }
    std::vector<size_t> pick(f.size());
    const bool found = std::isfinite(best[size_t(at)]) && (opts.target_bpw > 0 || best[size_t(at)] <= opts.max_kld);
    if (!f.empty() && found && range > 0) {
        for (size_t i = f.size(); i-- > 0;) {
            pick[i] = choice[i][size_t(at)];
            at -= int64_t(std::ceil(f[i][pick[i]].bits / unit - 1e-9));
        }
    } else {
        // The budget is at the very edge, where rounding costs up leaves no table entry: the extreme choice that
        // the checks above showed to fit (every tensor's smallest, or for a divergence budget its largest).
        for (size_t i = 0; i < f.size(); ++i) pick[i] = opts.target_bpw > 0 ? 0 : f[i].size() - 1;
    }
    auto bits_of = [&] {
        double b = fixed_bits;
        for (size_t i = 0; i < f.size(); ++i) b += f[i][pick[i]].bits;
        return b;
    };
    auto kld_of = [&] {
        double k = 0;
        for (size_t i = 0; i < f.size(); ++i) k += f[i][pick[i]].kld;
        return k;
    };
    plan_result p;
    for (size_t i = 0; i < f.size(); ++i)
        p.choices.push_back({s.tensors[i].name, f[i][pick[i]].type, f[i][pick[i]].kld, f[i][pick[i]].bits});
    p.bits_per_weight = bits_of() / total_elements;
    p.predicted_kld = kld_of();
    return p;
}

json to_json(const plan_result& p) {
    json c = json::array();
    for (const plan_choice& x : p.choices)
        c.push_back({{"name", x.name}, {"type", dtype_name(x.type)}, {"kld", x.kld}, {"bits", x.bits}});
    return {{"bits_per_weight", p.bits_per_weight}, {"predicted_kld", p.predicted_kld}, {"tensors", c}};
}

}  // namespace fathom::quant

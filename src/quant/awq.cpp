#include "quant/awq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "core/thread-pool.h"
#include "quant/imatrix.h"
#include "quant/quant.h"
#include "quant/quantize-model.h"

namespace fathom::quant {

namespace {

// A tensor's values as F32 (rows of ne[0]).
std::vector<float> to_f32(const io::tensor_entry& t, const std::string& path) {
    std::vector<float> v(static_cast<size_t>(t.nelements()));
    const uint8_t* p = static_cast<const uint8_t*>(t.data);
    switch (t.type) {
        case dtype::DTYPE_F32: std::memcpy(v.data(), p, v.size() * 4); break;
        case dtype::DTYPE_F16:
        case dtype::DTYPE_BF16:
            for (size_t i = 0; i < v.size(); ++i) {
                uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                v[i] = t.type == dtype::DTYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
            }
            break;
        default:
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": tensor '" + t.name + "' is " + dtype_name(t.type) +
                                                  "; AWQ scaling needs the F32 / F16 / BF16 model");
    }
    return v;
}

// Importance-weighted squared error, as the original input sees it, of quantising weight w (rows x n) scaled by s
// per column; imp is the original input's mean squared activation.
double scaled_error(const std::vector<float>& w, int64_t n, const std::vector<float>& s, const std::vector<float>& imp,
                    dtype type, thread_pool& pool) {
    const int64_t rows = int64_t(w.size()) / n;
    std::vector<double> part(size_t(pool.size()), 0.0);
    pool.parallel_for(rows, 4, [&](int64_t r0, int64_t r1, int tid) {
        std::vector<float> x(static_cast<size_t>(n)), back(static_cast<size_t>(n)), wimp(static_cast<size_t>(n));
        std::vector<uint8_t> q(dtype_row_bytes(type, n));
        for (int64_t j = 0; j < n; ++j) wimp[size_t(j)] = imp[size_t(j)] / (s[size_t(j)] * s[size_t(j)]);
        double e = 0;
        for (int64_t r = r0; r < r1; ++r) {
            const float* row = w.data() + r * n;
            for (int64_t j = 0; j < n; ++j) x[size_t(j)] = row[j] * s[size_t(j)];
            quantize_row(type, x.data(), q.data(), n, wimp.data());
            dequantize_row(type, q.data(), back.data(), n);
            for (int64_t j = 0; j < n; ++j) {
                const double d = double(back[size_t(j)]) / s[size_t(j)] - row[j];
                e += double(imp[size_t(j)]) * d * d;
            }
        }
        part[size_t(tid)] += e;
    });
    double sum = 0;
    for (double v : part) sum += v;
    return sum;
}

// s_j = imp_j^(alpha/2), scaled to geometric mean 1 (channels with no signal keep 1).
std::vector<float> scales(const std::vector<float>& imp, double alpha) {
    std::vector<float> s(imp.size(), 1.0f);
    double log_sum = 0;
    int64_t n = 0;
    for (size_t j = 0; j < imp.size(); ++j)
        if (imp[j] > 0) {
            s[j] = float(std::pow(double(imp[j]), alpha / 2));
            log_sum += std::log(double(s[j]));
            ++n;
        }
    const float g = n ? float(std::exp(log_sum / double(n))) : 1.0f;
    for (size_t j = 0; j < imp.size(); ++j)
        if (imp[j] > 0) s[j] = std::clamp(s[j] / g, 1e-2f, 1e2f);
    return s;
}

}  // namespace

awq_result awq_scale(const io::model_file& src, const imatrix& im, dtype type, int32_t n_threads) {
    if (!can_quantize(type)) fail(errc::ERRC_INVALID_ARGUMENT, std::string("awq: cannot quantise to ") + dtype_name(type));
    awq_result res;
    res.model = src;
    res.importance = im;
    thread_pool pool(n_threads);
    int64_t n_layer = 0;
    while (src.find_tensor("blk." + std::to_string(n_layer) + ".attn_norm.weight")) ++n_layer;
    auto need = [&](const std::string& name) -> const io::tensor_entry& {
        const io::tensor_entry* t = src.find_tensor(name);
        if (!t) fail(errc::ERRC_INVALID_ARGUMENT, src.path + ": awq: no tensor '" + name + "'");
        return *t;
    };
    // Replaces tensor `name` of the result with F32 values.
    auto put = [&](const std::string& name, const std::vector<float>& v) {
        for (io::tensor_entry& t : res.model.tensors) {
            if (t.name != name) continue;
            auto buf = std::make_shared<aligned_buffer>(v.size() * sizeof(float));
            std::memcpy(buf->data(), v.data(), v.size() * sizeof(float));
            t.type = dtype::DTYPE_F32;
            t.data = buf->data();
            t.nbytes = v.size() * sizeof(float);
            res.model.owned.push_back(std::move(buf));
        }
    };
    for (int64_t l = 0; l < n_layer; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        const struct {
            std::string producer;
            std::vector<std::string> readers;
            bool producer_rows;  // the producer is a weight whose rows make the channels (ffn_up), else a norm vector
        } groups[] = {
            {b + "attn_norm.weight", {b + "attn_q.weight", b + "attn_k.weight", b + "attn_v.weight"}, false},
            {b + "ffn_norm.weight", {b + "ffn_gate.weight", b + "ffn_up.weight"}, false},
            {b + "ffn_up.weight", {b + "ffn_down.weight"}, true},
        };
        for (const auto& g : groups) {
            const std::vector<float> imp = im.importance(g.readers[0]);
            const int64_t n = need(g.readers[0]).ne[0];
            if (int64_t(imp.size()) != n)
                fail(errc::ERRC_INVALID_ARGUMENT, src.path + ": awq: the imatrix has no entry of " + std::to_string(n) +
                                                      " columns for '" + g.readers[0] + "'");
            const dtype qt = fallback_type(type, n);  // as quantize_model will write these rows
            std::vector<std::vector<float>> w;
            // ffn_up is both a reader (of the FFN norm) and the producer here: read its current (scaled) values.
            for (const std::string& r : g.readers) w.push_back(to_f32(*res.model.find_tensor(r), src.path));
            awq_group out;
            out.produced_by = g.producer;
            out.weights = g.readers;
            double best_err = -1, best_alpha = 0;
            for (int k = 0; k <= 10; ++k) {
                const double alpha = 0.1 * k;
                const std::vector<float> s = scales(imp, alpha);
                double e = 0;
                for (const auto& wi : w) e += is_quantized(qt) ? scaled_error(wi, n, s, imp, qt, pool) : 0.0;
                if (k == 0) out.err_before = e;
                if (best_err < 0 || e < best_err) best_err = e, best_alpha = alpha;
            }
            out.alpha = best_alpha;
            out.err_after = best_err;
            if (best_alpha > 0) {
                const std::vector<float> s = scales(imp, best_alpha);
                for (size_t i = 0; i < w.size(); ++i) {
                    std::vector<float>& wi = w[i];
                    for (size_t r = 0; r < wi.size() / size_t(n); ++r)
                        for (int64_t j = 0; j < n; ++j) wi[r * size_t(n) + size_t(j)] *= s[size_t(j)];
                    put(g.readers[i], wi);
                    auto it = res.importance.entries.find(g.readers[i]);
                    if (it != res.importance.entries.end())
                        for (int64_t j = 0; j < n; ++j) it->second.sum2[size_t(j)] /= s[size_t(j)] * s[size_t(j)];
                }
                std::vector<float> p = to_f32(*res.model.find_tensor(g.producer), src.path);
                const int64_t pn = need(g.producer).ne[0];
                if (g.producer_rows) {  // row j of ffn_up makes channel j
                    for (int64_t j = 0; j < n; ++j)
                        for (int64_t c = 0; c < pn; ++c) p[size_t(j * pn + c)] /= s[size_t(j)];
                } else {
                    for (int64_t j = 0; j < n; ++j) p[size_t(j)] /= s[size_t(j)];
                }
                put(g.producer, p);
            }
            res.groups.push_back(std::move(out));
        }
    }
    res.model.index();
    return res;
}

}  // namespace fathom::quant

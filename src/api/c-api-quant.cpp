// C ABI: fathom_quantize (whole-model quantisation to GGUF) and fathom_calibrate (importance data for it).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "api/c-api-internal.h"
#include "core/error.h"
#include <nlohmann/json.hpp>

#include "quant/awq.h"
#include "quant/imatrix.h"
#include "quant/quant.h"
#include "quant/plan.h"
#include "quant/quantize-model.h"

using namespace fathom;
using namespace fathom::capi;

extern "C" void fathom_quantize_options_init(fathom_quantize_options* opts) {
    if (!opts) return;
    *opts = fathom_quantize_options{};
    opts->struct_size = sizeof *opts;
    opts->type = "q4_k_m";
    opts->tensor_types = nullptr;
    opts->n_tensor_types = 0;
    opts->n_threads = 0;
    opts->allow_requantize = 0;
    opts->imatrix_path = nullptr;
    opts->awq = 0;
}

extern "C" fathom_status fathom_quantize(const char* src, const char* dst, const fathom_quantize_options* opts,
                                         fathom_quantize_stats* stats) {
    return guarded([&] {
        const char* fn = "fathom_quantize";
        require(src, fn, "src");
        require(dst, fn, "dst");
        fathom_quantize_options o;
        fathom_quantize_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_quantize_options");
        if (stats) {  // validate before doing any work
            size_t n;
            std::memcpy(&n, stats, sizeof n);
            if (n < sizeof(size_t) || n > sizeof(fathom_quantize_stats))
                fail(errc::ERRC_INVALID_ARGUMENT,
                     std::string(fn) + ": fathom_quantize_stats.struct_size " + std::to_string(n) + " is invalid");
        }
        if (!o.type || !*o.type) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": type is empty");
        if (o.n_threads < 0) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_threads must be >= 0");
        if (o.n_tensor_types < 0 || (o.n_tensor_types > 0 && !o.tensor_types))
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": tensor_types is NULL or n_tensor_types < 0");
        quant::quantize_params p;
        p.type = o.type;
        p.n_threads = o.n_threads;
        p.allow_requantize = o.allow_requantize != 0;
        for (int32_t i = 0; i < o.n_tensor_types; ++i) {
            const char* e = o.tensor_types[i];
            if (!e) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": tensor_types[" + std::to_string(i) + "] is NULL");
            const std::string s = e;
            const size_t eq = s.rfind('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
                fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": tensor type override '" + s +
                                                      "' is not PATTERN=TYPE");
            p.overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
        }
        quant::imatrix im;
        if (o.imatrix_path && *o.imatrix_path) {
            im = quant::read_imatrix(o.imatrix_path);
            p.importance = &im;
        }
        if (o.awq && !p.importance)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": awq needs imatrix_path (the channels' importance)");
        const auto t0 = std::chrono::steady_clock::now();
        const io::model_file f = io::load_model_file(src);
        quant::awq_result awq;
        if (o.awq) {
            dtype t;
            const std::string ty = o.type;
            if (!dtype_from_name(ty, &t) || !quant::can_quantize(t))
                t = ty.rfind("q5", 0) == 0 ? dtype::DTYPE_Q5_K : dtype::DTYPE_Q4_K;  // a mix: its main type
            awq = quant::awq_scale(f, im, t, o.n_threads);
            p.importance = &awq.importance;
            int changed = 0;
            for (const quant::awq_group& g : awq.groups) changed += g.alpha > 0 ? 1 : 0;
            char line[256];
            std::snprintf(line, sizeof line, "awq: %d of %zu channel groups scaled", changed, awq.groups.size());
            log(FATHOM_LOG_INFO, line);
        }
        const quant::quantize_result r = quant::quantize_model(o.awq ? awq.model : f, dst, p);
        fathom_quantize_stats st{};
        st.struct_size = sizeof st;
        st.bytes_in = r.bytes_in;
        st.bytes_out = r.bytes_out;
        st.n_weights = r.n_weights;
        st.bits_per_weight = r.bits_per_weight();
        st.n_tensors = int64_t(f.tensors.size());
        st.n_quantized = r.n_quantized;
        st.n_fallback = r.n_fallback;
        st.n_importance = r.n_importance;
        st.seconds = seconds_since(t0);
        char line[512];
        std::snprintf(line, sizeof line, "quantized %s -> %s (%s): %.2f bits per weight in %.2f s", src, dst, o.type,
                      st.bits_per_weight, st.seconds);
        log(FATHOM_LOG_INFO, line);
        if (stats) write_struct(stats, &st, sizeof st, fn, "fathom_quantize_stats");
    });
}

namespace {

// The calibration files (n >= 1), concatenated with a newline between them; errors name the file.
std::string read_calibration_text(const char* const* files, int32_t n, const char* fn) {
    std::string text;
    for (int32_t i = 0; i < n; ++i) {
        if (!files[i]) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": data[" + std::to_string(i) + "] is NULL");
        std::ifstream in(files[i], std::ios::binary);
        if (!in) fail(errc::ERRC_IO, std::string(files[i]) + ": cannot open (calibration data)");
        std::ostringstream ss;
        ss << in.rdbuf();
        if (in.bad()) fail(errc::ERRC_IO, std::string(files[i]) + ": read failed");
        if (!text.empty() && text.back() != '\n') text += '\n';
        text += ss.str();
    }
    return text;
}

// Calibration chunk length when none is given: 512, or the model's context if shorter.
int64_t default_chunk(const llama_model& m) { return std::min<int64_t>(512, m.hp.n_ctx_train > 0 ? m.hp.n_ctx_train : 512); }

}  // namespace

extern "C" void fathom_calibrate_options_init(fathom_calibrate_options* opts) {
    if (!opts) return;
    *opts = fathom_calibrate_options{};
    opts->struct_size = sizeof *opts;
}

extern "C" fathom_status fathom_calibrate(const fathom_model* model, const fathom_calibrate_options* opts,
                                         const char* out_path) {
    return guarded([&] {
        const char* fn = "fathom_calibrate";
        require(model, fn, "model");
        require(opts, fn, "opts");
        require(out_path, fn, "out_path");
        fathom_calibrate_options o;
        fathom_calibrate_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_calibrate_options");
        if (o.n_data < 1 || !o.data) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": no data files");
        if (o.n_ctx < 0 || o.max_chunks < 0 || o.n_threads < 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_ctx, max_chunks and n_threads must be >= 0");
        if (model->vocab_only) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": " + model->path + " has no weights");
        const text::tokenizer& tok = tokenizer_of(model);
        const std::string text = read_calibration_text(o.data, o.n_data, fn);
        const llama_model& m = *model->m;
        quant::calibrate_options co;
        co.n_ctx = o.n_ctx > 0 ? o.n_ctx : default_chunk(m);
        co.max_chunks = o.max_chunks;
        co.n_threads = o.n_threads;
        const std::vector<int32_t> tokens = tok.encode(text, true, false);
        std::function<void(int64_t, int64_t)> progress;
        if (o.progress) progress = [&](int64_t d, int64_t t) { o.progress(d, t, o.progress_user_data); };
        const auto t0 = std::chrono::steady_clock::now();
        quant::imatrix im = quant::calibrate(m, tokens, tok.add_bos() ? tok.bos() : -1, co, progress);
        im.datasets.assign(o.data, o.data + o.n_data);
        quant::write_imatrix(out_path, im);
        char line[512];
        std::snprintf(line, sizeof line, "calibrated %s: %lld chunks of %lld tokens, %zu weights, %.2f s -> %s",
                      model->path.c_str(), static_cast<long long>(im.chunk_count), static_cast<long long>(im.chunk_size),
                      im.entries.size(), seconds_since(t0), out_path);
        log(FATHOM_LOG_INFO, line);
    });
}

struct fathom_plan_result {
    std::string json_text;
};

extern "C" void fathom_plan_options_init(fathom_plan_options* opts) {
    if (!opts) return;
    *opts = fathom_plan_options{};
    opts->struct_size = sizeof *opts;
    opts->max_chunks = 4;
}

extern "C" fathom_status fathom_quantize_plan(const char* src, const fathom_plan_options* opts,
                                              fathom_plan_result** out) {
    return guarded([&] {
        const char* fn = "fathom_quantize_plan";
        require(src, fn, "src");
        require(opts, fn, "opts");
        require(out, fn, "out");
        *out = nullptr;
        fathom_plan_options o;
        fathom_plan_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_plan_options");
        if (o.n_ctx < 0 || o.max_chunks < 0 || o.n_threads < 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_ctx, max_chunks and n_threads must be >= 0");
        if (!(o.target_bpw > 0) && !(o.max_kld > 0))
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": give target_bpw or max_kld");
        if (!o.sensitivity_json && (o.n_data < 1 || !o.data))
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": no calibration data");
        const io::model_file f = io::load_model_file(src);
        quant::sensitivity_result sens;
        if (o.sensitivity_json) {
            const nlohmann::json j = nlohmann::json::parse(o.sensitivity_json, nullptr, false);
            if (j.is_discarded()) fail(errc::ERRC_FORMAT, std::string(fn) + ": sensitivity_json is not valid JSON");
            sens = quant::sensitivity_from_json(j.contains("sensitivity") ? j["sensitivity"] : j, "sensitivity_json");
        } else {
            quant::sensitivity_options so;
            if (o.types && *o.types) {
                so.types.clear();
                std::string list = o.types;
                size_t at = 0;
                while (at <= list.size()) {
                    const size_t c = std::min(list.find(',', at), list.size());
                    const std::string name = list.substr(at, c - at);
                    dtype d;
                    if (!dtype_from_name(name, &d))
                        fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": types: unknown type '" + name + "'");
                    so.types.push_back(d);
                    at = c + 1;
                }
            }
            quant::imatrix im;
            if (o.imatrix_path && *o.imatrix_path) {
                im = quant::read_imatrix(o.imatrix_path);
                so.importance = &im;
            }
            // The model's tokenizer turns the calibration text into tokens.
            const std::unique_ptr<llama_model> m = llama_model::load(f);
            const text::tokenizer tok(m->file);
            const std::string text = read_calibration_text(o.data, o.n_data, fn);
            so.n_ctx = o.n_ctx > 0 ? o.n_ctx : default_chunk(*m);
            so.max_chunks = o.max_chunks;
            so.n_threads = o.n_threads;
            std::function<void(int64_t, int64_t)> progress;
            if (o.progress) progress = [&](int64_t d, int64_t t) { o.progress(d, t, o.progress_user_data); };
            sens = quant::measure_sensitivity(f, tok.encode(text, true, false), tok.add_bos() ? tok.bos() : -1, so,
                                              progress);
        }
        quant::plan_options po;
        po.target_bpw = o.target_bpw;
        po.max_kld = o.target_bpw > 0 ? 0 : o.max_kld;
        const quant::plan_result plan = quant::make_plan(sens, f, po);
        auto r = std::make_unique<fathom_plan_result>();
        r->json_text = nlohmann::json{{"plan", quant::to_json(plan)}, {"sensitivity", quant::to_json(sens)}}.dump(2);
        *out = r.release();
    });
}

extern "C" const char* fathom_plan_result_json(const fathom_plan_result* result) {
    return result ? result->json_text.c_str() : "";
}

extern "C" void fathom_plan_result_free(fathom_plan_result* result) { delete result; }

// C ABI: fathom_quantize (whole-model quantisation to GGUF).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "api/c-api-internal.h"
#include "core/error.h"
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
        const auto t0 = std::chrono::steady_clock::now();
        const io::model_file f = io::load_model_file(src);
        const quant::quantize_result r = quant::quantize_model(f, dst, p);
        fathom_quantize_stats st{};
        st.struct_size = sizeof st;
        st.bytes_in = r.bytes_in;
        st.bytes_out = r.bytes_out;
        st.n_weights = r.n_weights;
        st.bits_per_weight = r.bits_per_weight();
        st.n_tensors = int64_t(f.tensors.size());
        st.n_quantized = r.n_quantized;
        st.n_fallback = r.n_fallback;
        st.seconds = seconds_since(t0);
        char line[512];
        std::snprintf(line, sizeof line, "quantized %s -> %s (%s): %.2f bits per weight in %.2f s", src, dst, o.type,
                      st.bits_per_weight, st.seconds);
        log(FATHOM_LOG_INFO, line);
        if (stats) write_struct(stats, &st, sizeof st, fn, "fathom_quantize_stats");
    });
}

// C ABI: LoRA adapters (fathom_lora_load / _free, fathom_session_set_lora, fathom_lora_merge).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "api/c-api-internal.h"
#include "core/error.h"
#include "models/lora.h"

using namespace fathom;
using namespace fathom::capi;

struct fathom_lora {
    std::shared_ptr<const lora_adapter> a;
};

extern "C" fathom_status fathom_lora_load(const fathom_model* model, const char* path, fathom_lora** out) {
    return guarded([&] {
        const char* fn = "fathom_lora_load";
        require(model, fn, "model");
        require(path, fn, "path");
        require(out, fn, "out");
        if (model->vocab_only)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": the model was loaded with vocab_only (no weights)");
        auto l = std::make_unique<fathom_lora>();
        l->a = lora_adapter::load(std::string(path), *model->m);
        int64_t n_params = 0;
        for (const lora_weight& w : l->a->weights) n_params += int64_t(w.a.size() + w.bt.size());
        char line[512];
        std::snprintf(line, sizeof line, "loaded LoRA adapter %s: %zu weights, %lld parameters, alpha %g", path,
                      l->a->weights.size(), (long long)n_params, double(l->a->alpha));
        log(FATHOM_LOG_INFO, line);
        *out = l.release();
    });
}

extern "C" void fathom_lora_free(fathom_lora* lora) { delete lora; }

extern "C" fathom_status fathom_session_set_lora(fathom_session* session, const fathom_lora* const* adapters,
                                                 const float* scales, int32_t n) {
    return guarded([&] {
        const char* fn = "fathom_session_set_lora";
        require(session, fn, "session");
        if (n < 0) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n must be >= 0 (got " + std::to_string(n) + ")");
        if (n > 0) require(adapters, fn, "adapters");
        std::vector<session_lora> v(static_cast<size_t>(n));
        for (int32_t i = 0; i < n; ++i) {
            if (!adapters[i])
                fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": adapters[" + std::to_string(i) + "] is NULL");
            v[size_t(i)].adapter = adapters[i]->a;
            v[size_t(i)].scale = scales ? scales[i] : 1.0f;
            if (!std::isfinite(v[size_t(i)].scale))
                fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": scales[" + std::to_string(i) +
                                                      "] is not a finite number");
        }
        session->s->set_lora(v);
    });
}

extern "C" void fathom_lora_merge_options_init(fathom_lora_merge_options* opts) {
    if (!opts) return;
    *opts = fathom_lora_merge_options{};
    opts->struct_size = sizeof *opts;
    opts->adapters = nullptr;
    opts->scales = nullptr;
    opts->n_adapters = 0;
    opts->type = nullptr;
    opts->n_threads = 0;
}

extern "C" fathom_status fathom_lora_merge(const char* base_path, const char* dst_path,
                                           const fathom_lora_merge_options* opts) {
    return guarded([&] {
        const char* fn = "fathom_lora_merge";
        require(base_path, fn, "base_path");
        require(dst_path, fn, "dst_path");
        require(opts, fn, "opts");
        fathom_lora_merge_options o;
        fathom_lora_merge_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_lora_merge_options");
        if (o.n_adapters < 1)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_adapters must be >= 1 (got " +
                                                  std::to_string(o.n_adapters) + ")");
        require(o.adapters, fn, "adapters");
        if (o.n_threads < 0) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_threads must be >= 0");
        const auto t0 = std::chrono::steady_clock::now();
        const io::model_file base = io::load_model_file(base_path);
        std::vector<lora_merge_input> in(static_cast<size_t>(o.n_adapters));
        for (int32_t i = 0; i < o.n_adapters; ++i) {
            if (!o.adapters[i])
                fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": adapters[" + std::to_string(i) + "] is NULL");
            in[size_t(i)].scale = o.scales ? o.scales[i] : 1.0f;
            if (!std::isfinite(in[size_t(i)].scale))
                fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": scales[" + std::to_string(i) +
                                                      "] is not a finite number");
            in[size_t(i)].adapter = lora_adapter::load(io::read_gguf(o.adapters[i]), base);
        }
        lora_merge_params p;
        p.type = o.type ? o.type : "";
        p.n_threads = o.n_threads;
        const lora_merge_result r = lora_merge(base, in, dst_path, p);
        char line[512];
        std::snprintf(line, sizeof line, "merged %d adapter(s) into %s -> %s: %lld tensors merged, %lld copied in %.2f s",
                      int(o.n_adapters), base_path, dst_path, (long long)r.n_merged, (long long)r.n_copied,
                      seconds_since(t0));
        log(FATHOM_LOG_INFO, line);
    });
}

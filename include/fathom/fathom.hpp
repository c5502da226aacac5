// Header-only C++17 wrapper over the Fathom C API (fathom.h): RAII handles and a throwing fathom::error.
#pragma once

#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fathom/fathom.h"

namespace fathom {
// The inline namespace keeps these names distinct from the library's internal ones at link level.
inline namespace cxx_api {

// Thrown by every wrapper when a C call fails; carries the status and fathom_last_error()'s message.
class error : public std::runtime_error {
public:
    error(fathom_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    fathom_status status() const noexcept { return status_; }

private:
    fathom_status status_;
};

// Throws fathom::error for any status other than FATHOM_OK.
inline void check(fathom_status status) {
    if (status != FATHOM_OK) throw error(status, fathom_last_error());
}

// ---- defaults for the C options structs
inline fathom_model_options default_model_options() {
    fathom_model_options o;
    fathom_model_options_init(&o);
    return o;
}
inline fathom_session_options default_session_options() {
    fathom_session_options o;
    fathom_session_options_init(&o);
    return o;
}
inline fathom_sampler_options default_sampler_options() {
    fathom_sampler_options o;
    fathom_sampler_options_init(&o);
    return o;
}
inline fathom_generate_options default_generate_options() {
    fathom_generate_options o;
    fathom_generate_options_init(&o);
    return o;
}
inline fathom_convert_options default_convert_options() {
    fathom_convert_options o;
    fathom_convert_options_init(&o);
    return o;
}
inline fathom_synth_options default_synth_options() {
    fathom_synth_options o;
    fathom_synth_options_init(&o);
    return o;
}

// ---- unique_ptr deleters for code that wants the raw handles
struct model_deleter {
    void operator()(fathom_model* p) const noexcept { fathom_model_free(p); }
};
struct session_deleter {
    void operator()(fathom_session* p) const noexcept { fathom_session_free(p); }
};
struct sampler_deleter {
    void operator()(fathom_sampler* p) const noexcept { fathom_sampler_free(p); }
};
using model_ptr = std::unique_ptr<fathom_model, model_deleter>;
using session_ptr = std::unique_ptr<fathom_session, session_deleter>;
using sampler_ptr = std::unique_ptr<fathom_sampler, sampler_deleter>;

inline std::string version() { return fathom_version(); }
inline std::string isa_name() { return fathom_isa_name(); }
inline void set_isa(const std::string& name) { check(fathom_isa_set(name.c_str())); }

// One turn of a conversation for chat_render: role "system", "user", "assistant", ...
struct chat_message {
    std::string role;
    std::string content;
};

// Names of the built-in chat templates ("llama2", "llama3", "chatml", ...).
inline std::vector<std::string> chat_builtin_templates() {
    std::vector<std::string> names;
    const std::string list = fathom_chat_builtin_templates();
    size_t b = 0;
    while (b < list.size()) {
        size_t e = list.find(',', b);
        if (e == std::string::npos) e = list.size();
        std::string n = list.substr(b, e - b);
        const size_t first = n.find_first_not_of(' ');
        if (first != std::string::npos) names.push_back(n.substr(first, n.find_last_not_of(' ') - first + 1));
        b = e + 1;
    }
    return names;
}

namespace detail {
// Runs fathom_chat_render with the two-call size convention.
inline std::string chat_render(const fathom_model* m, const char* tmpl, const std::vector<chat_message>& messages,
                               bool add_generation_prompt) {
    std::vector<fathom_chat_message> msgs(messages.size());
    for (size_t i = 0; i < messages.size(); ++i) msgs[i] = {messages[i].role.c_str(), messages[i].content.c_str()};
    const size_t unset = ~size_t(0);
    size_t len = unset;  // the first call only asks for the size
    fathom_status st = fathom_chat_render(m, tmpl, msgs.data(), int64_t(msgs.size()), add_generation_prompt, nullptr,
                                          0, &len);
    if (st != FATHOM_ERR_INVALID_ARGUMENT || len == unset) {
        check(st);
        return std::string();
    }
    std::string out(len + 1, '\0');
    check(fathom_chat_render(m, tmpl, msgs.data(), int64_t(msgs.size()), add_generation_prompt, out.data(),
                             out.size(), &len));
    out.resize(len);
    return out;
}
}  // namespace detail

// Renders a conversation with a built-in template name or Jinja source, without a model (bos/eos_token are empty).
inline std::string chat_render(const std::string& tmpl, const std::vector<chat_message>& messages,
                               bool add_generation_prompt = true) {
    return detail::chat_render(nullptr, tmpl.c_str(), messages, add_generation_prompt);
}

// A loaded model. Must outlive the sessions created from it.
class model {
public:
    explicit model(const std::string& path, const fathom_model_options& opts = default_model_options()) {
        fathom_model* m = nullptr;
        check(fathom_model_load(path.c_str(), &opts, &m));
        p_.reset(m);
    }

    fathom_model* get() const noexcept { return p_.get(); }

    fathom_model_info info() const {
        fathom_model_info i;
        std::memset(&i, 0, sizeof i);
        i.struct_size = sizeof i;
        check(fathom_model_get_info(get(), &i));
        return i;
    }

    int64_t meta_count() const {
        int64_t n = 0;
        check(fathom_model_meta_count(get(), &n));
        return n;
    }
    std::string meta_key(int64_t index) const {
        const char* s = nullptr;
        check(fathom_model_meta_key(get(), index, &s));
        return s;
    }
    std::string meta_type(int64_t index) const {
        const char* s = nullptr;
        check(fathom_model_meta_type(get(), index, &s));
        return s;
    }
    // Display form of the value ("\"llama\"", "[32000 x string]", "2048").
    std::string meta_value(int64_t index) const {
        const char* s = nullptr;
        check(fathom_model_meta_value(get(), index, &s));
        return s;
    }
    // Index of `key`, or -1.
    int64_t meta_find(const std::string& key) const {
        int64_t i = -1;
        check(fathom_model_meta_find(get(), key.c_str(), &i));
        return i;
    }
    // Typed lookups by key: std::nullopt when absent; fathom::error when present with another type.
    std::optional<std::string> meta_string(const std::string& key) const {
        const int64_t i = meta_find(key);
        if (i < 0) return std::nullopt;
        const char* s = nullptr;
        check(fathom_model_meta_string(get(), i, &s));
        return std::string(s);
    }
    std::optional<int64_t> meta_int(const std::string& key) const {
        const int64_t i = meta_find(key);
        if (i < 0) return std::nullopt;
        int64_t v = 0;
        check(fathom_model_meta_int(get(), i, &v));
        return v;
    }
    std::optional<double> meta_float(const std::string& key) const {
        const int64_t i = meta_find(key);
        if (i < 0) return std::nullopt;
        double v = 0;
        check(fathom_model_meta_float(get(), i, &v));
        return v;
    }
    std::optional<int64_t> meta_array_length(const std::string& key) const {
        const int64_t i = meta_find(key);
        if (i < 0) return std::nullopt;
        int64_t v = 0;
        check(fathom_model_meta_array_length(get(), i, &v));
        return v;
    }

    int64_t tensor_count() const {
        int64_t n = 0;
        check(fathom_model_tensor_count(get(), &n));
        return n;
    }
    fathom_tensor_info tensor(int64_t index) const {
        fathom_tensor_info t;
        std::memset(&t, 0, sizeof t);
        t.struct_size = sizeof t;
        check(fathom_model_tensor_info(get(), index, &t));
        return t;
    }
    // Index of the tensor called `name`, or -1.
    int64_t tensor_find(const std::string& name) const {
        int64_t i = -1;
        check(fathom_model_tensor_find(get(), name.c_str(), &i));
        return i;
    }

    bool has_tokenizer() const {
        int has = 0;
        check(fathom_model_has_tokenizer(get(), &has));
        return has != 0;
    }
    // add_special: BOS/EOS as the vocabulary asks; parse_special: control tokens written as text become ids.
    std::vector<int32_t> tokenize(const std::string& text, bool add_special = true, bool parse_special = false) const {
        std::vector<int32_t> ids(text.size() + 4);
        int64_t n = 0;
        fathom_status st = fathom_tokenize(get(), text.data(), text.size(), add_special, parse_special, ids.data(),
                                           int64_t(ids.size()), &n);
        if (st == FATHOM_ERR_INVALID_ARGUMENT && n > int64_t(ids.size())) {  // needed more room: ask again
            ids.resize(size_t(n));
            st = fathom_tokenize(get(), text.data(), text.size(), add_special, parse_special, ids.data(), n, &n);
        }
        check(st);
        ids.resize(size_t(n));
        return ids;
    }
    std::string token_piece(int32_t token) const {
        const char* p = nullptr;
        check(fathom_token_to_piece(get(), token, &p));
        return p;
    }
    std::string detokenize(const std::vector<int32_t>& tokens) const {
        const size_t unset = ~size_t(0);
        size_t len = unset;  // the first call only asks for the size
        fathom_status st = fathom_detokenize(get(), tokens.data(), int64_t(tokens.size()), nullptr, 0, &len);
        if (st != FATHOM_ERR_INVALID_ARGUMENT || len == unset) {
            check(st);
            return std::string();
        }
        std::string out(len + 1, '\0');
        check(fathom_detokenize(get(), tokens.data(), int64_t(tokens.size()), out.data(), out.size(), &len));
        out.resize(len);
        return out;
    }
    // True if the token ends a generation (EOS, end-of-turn tokens; see fathom_token_is_eog).
    bool is_eog(int32_t token) const {
        int eog = 0;
        check(fathom_token_is_eog(get(), token, &eog));
        return eog != 0;
    }
    // Renders a conversation into prompt text with the model's own chat template (tmpl = nullptr), a built-in
    // template name or Jinja source; bos_token / eos_token come from the model's vocabulary.
    std::string chat_render(const std::vector<chat_message>& messages, bool add_generation_prompt = true,
                            const char* tmpl = nullptr) const {
        return detail::chat_render(get(), tmpl, messages, add_generation_prompt);
    }

private:
    model_ptr p_;
};

// KV cache and scratch for running a model; one thread at a time.
class session {
public:
    explicit session(const model& m, const fathom_session_options& opts = default_session_options()) {
        fathom_session* s = nullptr;
        check(fathom_session_create(m.get(), &opts, &s));
        p_.reset(s);
    }

    fathom_session* get() const noexcept { return p_.get(); }

    int64_t n_ctx() const {
        int64_t n = 0;
        check(fathom_session_n_ctx(get(), &n));
        return n;
    }
    int32_t n_threads() const {
        int32_t n = 0;
        check(fathom_session_n_threads(get(), &n));
        return n;
    }
    // Runs a batch as described by the C struct (its struct_size is set here).
    void decode(fathom_batch batch) {
        batch.struct_size = sizeof batch;
        check(fathom_session_decode(get(), &batch));
    }
    // Appends tokens to sequence `seq`, keeping the last token's logits.
    void decode(const std::vector<int32_t>& tokens, int32_t seq = 0) {
        std::vector<int32_t> seqs(tokens.size(), seq);
        fathom_batch b;
        std::memset(&b, 0, sizeof b);
        b.n_tokens = int64_t(tokens.size());
        b.tokens = tokens.data();
        b.seq = seqs.data();
        decode(b);
    }
    int64_t n_logits() const {
        int64_t n = 0;
        check(fathom_session_n_logits(get(), &n));
        return n;
    }
    // Logits (n_vocab floats) of the i-th kept row of the last decode; -1 = the last one.
    const float* logits(int64_t i = -1) const {
        const float* l = nullptr;
        check(fathom_session_logits(get(), i, &l));
        return l;
    }
    int32_t seq_len(int32_t seq = 0) const {
        int32_t n = 0;
        check(fathom_session_seq_len(get(), seq, &n));
        return n;
    }
    void truncate(int32_t seq, int32_t pos) { check(fathom_session_truncate(get(), seq, pos)); }

private:
    session_ptr p_;
};

// Token sampler with penalty history and its own PRNG.
class sampler {
public:
    explicit sampler(const fathom_sampler_options& opts = default_sampler_options()) {
        fathom_sampler* s = nullptr;
        check(fathom_sampler_create(&opts, &s));
        p_.reset(s);
    }

    fathom_sampler* get() const noexcept { return p_.get(); }

    int32_t sample(const float* logits, int64_t n_vocab) {
        int32_t t = 0;
        check(fathom_sampler_sample(get(), logits, n_vocab, &t));
        return t;
    }
    void accept(int32_t token) { check(fathom_sampler_accept(get(), token)); }
    void reset() { check(fathom_sampler_reset(get())); }
    uint64_t seed() const {
        uint64_t s = 0;
        check(fathom_sampler_seed(get(), &s));
        return s;
    }

private:
    sampler_ptr p_;
};

// Called with each generated token; return true to stop after it.
using token_callback = std::function<bool(int32_t token)>;

// Runs the prompt and generates (see fathom_generate). An exception thrown by on_token stops generation and is
// rethrown here after the C call returns.
inline fathom_generate_stats generate(session& s, sampler& smp, const std::vector<int32_t>& prompt,
                                      const fathom_generate_options& opts, const token_callback& on_token) {
    struct ctx_t {
        const token_callback* cb;
        std::exception_ptr err;
    } ctx{&on_token, nullptr};
    auto trampoline = [](int32_t token, void* user) -> int {
        auto* c = static_cast<ctx_t*>(user);
        try {
            return (*c->cb)(token) ? 1 : 0;
        } catch (...) {
            c->err = std::current_exception();
            return 1;
        }
    };
    fathom_generate_stats st;
    std::memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    const fathom_status status = fathom_generate(s.get(), smp.get(), prompt.data(), int64_t(prompt.size()), &opts,
                                                 on_token ? +trampoline : nullptr, &ctx, &st);
    if (ctx.err) std::rethrow_exception(ctx.err);
    check(status);
    return st;
}

// As above, with stop strings (they replace opts.stop_strings): generation ends when the generated text contains one;
// tokens whose text could still start one are passed to on_token only once it cannot (see fathom_generate).
inline fathom_generate_stats generate(session& s, sampler& smp, const std::vector<int32_t>& prompt,
                                      fathom_generate_options opts, const std::vector<std::string>& stop_strings,
                                      const token_callback& on_token) {
    std::vector<const char*> stops(stop_strings.size());
    for (size_t i = 0; i < stop_strings.size(); ++i) stops[i] = stop_strings[i].c_str();
    opts.stop_strings = stops.empty() ? nullptr : stops.data();
    opts.n_stop_strings = int32_t(stops.size());
    return generate(s, smp, prompt, opts, on_token);
}

// Converts a Hugging Face folder (or GGUF file) to GGUF with 2-D weights of `type`.
inline void convert(const std::string& src, const std::string& dst, fathom_type type = FATHOM_TYPE_F16) {
    fathom_convert_options o = default_convert_options();
    o.type = type;
    check(fathom_convert(src.c_str(), dst.c_str(), &o));
}

// Writes a random-weight model of a named shape (see fathom_synth).
inline void synth(const fathom_synth_options& opts, const std::string& out_path) {
    check(fathom_synth(&opts, out_path.c_str()));
}

inline fathom_eval_options default_eval_options() {
    fathom_eval_options o;
    fathom_eval_options_init(&o);
    return o;
}

// Evaluates a model (see fathom_eval); returns the result as JSON text. opts.reference may point at another model.
inline std::string evaluate(const model& m, const fathom_eval_options& opts = default_eval_options()) {
    fathom_eval_result* r = nullptr;
    check(fathom_eval(m.get(), &opts, &r));
    std::string json = fathom_eval_result_json(r);
    fathom_eval_result_free(r);
    return json;
}

// Writes the HTML report of JSON results (see fathom_eval_report_html).
inline void eval_report_html(const std::vector<std::string>& results_json, const std::string& title,
                             const std::string& out_path) {
    std::vector<const char*> p(results_json.size());
    for (size_t i = 0; i < p.size(); ++i) p[i] = results_json[i].c_str();
    check(fathom_eval_report_html(p.data(), int32_t(p.size()), title.c_str(), out_path.c_str()));
}

inline fathom_train_options default_train_options() {
    fathom_train_options o;
    fathom_train_options_init(&o);
    return o;
}

// Trains as the JSON config at opts.config_path says (see fathom_train).
inline void train(const fathom_train_options& opts) { check(fathom_train(&opts)); }

inline fathom_tune_options default_tune_options() {
    fathom_tune_options o;
    fathom_tune_options_init(&o);
    return o;
}

// Trains a LoRA adapter on a frozen base (see fathom_tune) and returns the before / after validation losses.
inline fathom_tune_result tune(const fathom_tune_options& opts) {
    fathom_tune_result r;
    std::memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    check(fathom_tune(&opts, &r));
    return r;
}

// Writes base_path with LoRA adapters merged (scales empty = all 1; type "" = each base tensor's own type).
inline void lora_merge(const std::string& base_path, const std::string& dst_path, const std::vector<std::string>& adapters,
                       const std::vector<float>& scales = {}, const std::string& type = "", int32_t n_threads = 0) {
    if (!scales.empty() && scales.size() != adapters.size()) throw error(FATHOM_ERR_INVALID_ARGUMENT, "lora_merge: one scale per adapter");
    std::vector<const char*> a(adapters.size());
    for (size_t i = 0; i < a.size(); ++i) a[i] = adapters[i].c_str();
    fathom_lora_merge_options o;
    fathom_lora_merge_options_init(&o);
    o.adapters = a.data();
    o.n_adapters = int32_t(a.size());
    o.scales = scales.empty() ? nullptr : scales.data();
    o.type = type.c_str();
    o.n_threads = n_threads;
    check(fathom_lora_merge(base_path.c_str(), dst_path.c_str(), &o));
}

}  // namespace cxx_api
}  // namespace fathom

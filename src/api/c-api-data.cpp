// C entry points for preparing training data (fathom_data_prepare): options, the tokenizer bridge, stats.
#include <memory>
#include <string>
#include <vector>

#include "api/c-api-internal.h"
#include "core/error.h"
#include "data/prepare.h"
#include "fathom/fathom.h"

using namespace fathom;
using namespace fathom::capi;

namespace {

const char* const k_fn = "fathom_data_prepare";

[[noreturn]] void bad(const std::string& field, const std::string& problem) {
    fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": " + field + ": " + problem);
}

struct model_deleter {
    void operator()(fathom_model* m) const { fathom_model_free(m); }
};

// Throws the C API's last error (keeping its status) when s is not FATHOM_OK.
void check(fathom_status s, const std::string& context) {
    if (s != FATHOM_OK) fail(errc(int(s)), context + fathom_last_error());
}

// Encodes through fathom_tokenize (plain text: no special tokens added, control-token text not parsed).
void encode(const fathom_model* m, std::string_view text, std::vector<int32_t>& ids) {
    ids.resize(text.size() + 16);
    int64_t n = 0;
    fathom_status s = fathom_tokenize(m, text.data(), text.size(), 0, 0, ids.data(), int64_t(ids.size()), &n);
    if (s == FATHOM_ERR_INVALID_ARGUMENT && n > int64_t(ids.size())) {
        ids.resize(size_t(n));
        s = fathom_tokenize(m, text.data(), text.size(), 0, 0, ids.data(), int64_t(ids.size()), &n);
    }
    check(s, "data prepare: tokenize: ");
    ids.resize(size_t(n));
}

fathom_data_prepare_stats to_stats(const data::prepare_report& r) {
    fathom_data_prepare_stats s{};
    s.struct_size = sizeof s;
    s.n_docs_read = r.docs_read;
    s.n_kept_train = r.kept_train;
    s.n_kept_val = r.kept_val;
    s.n_empty = r.removed[data::DROP_REASON_EMPTY];
    s.n_too_short = r.removed[data::DROP_REASON_TOO_SHORT];
    s.n_too_long = r.removed[data::DROP_REASON_TOO_LONG];
    s.n_low_alnum = r.removed[data::DROP_REASON_LOW_ALNUM];
    s.n_exact_duplicate = r.removed[data::DROP_REASON_EXACT_DUPLICATE];
    s.n_near_duplicate = r.removed[data::DROP_REASON_NEAR_DUPLICATE];
    s.n_bad_json_line = r.bad_json_lines;
    s.n_invalid_utf8 = r.invalid_utf8;
    s.bytes_total = r.bytes_total;
    s.bytes_in = r.bytes_in;
    s.chars_in = r.chars_in;
    s.chars_out = r.chars_out;
    s.n_tokens_train = r.tokens_train;
    s.n_tokens_val = r.tokens_val;
    s.n_shards_train = int64_t(r.shards_train.size());
    s.n_shards_val = int64_t(r.shards_val.size());
    s.seconds = r.seconds;
    return s;
}

}  // namespace

extern "C" void fathom_data_prepare_options_init(fathom_data_prepare_options* opts) {
    if (!opts) return;
    *opts = fathom_data_prepare_options{};
    opts->struct_size = sizeof *opts;
    const data::prepare_params d;
    opts->split = "paragraph";
    opts->text_field = "text";
    opts->min_chars = d.min_chars;
    opts->max_chars = d.max_chars;
    opts->min_alnum = d.min_alnum;
    opts->near_dup = d.near_dup;
    opts->val_fraction = d.val_fraction;
    opts->seed = d.seed;
    opts->tokenizer = nullptr;
    opts->shard_tokens = d.shard_tokens;
    opts->n_threads = 0;
    opts->progress = nullptr;
    opts->progress_user_data = nullptr;
}

extern "C" fathom_status fathom_data_prepare(const char* const* inputs, int64_t n_inputs,
                                             const fathom_data_prepare_options* opts, const char* out_dir,
                                             fathom_data_prepare_stats* stats) {
    return guarded([&] {
        require(out_dir, k_fn, "out_dir");
        if (!*out_dir) bad("out_dir", "is empty");
        if (n_inputs < 1) bad("n_inputs", std::to_string(n_inputs) + ": at least one input file is needed");
        require(inputs, k_fn, "inputs");
        fathom_data_prepare_options o;
        fathom_data_prepare_options_init(&o);
        read_struct(opts, &o, sizeof o, k_fn, "fathom_data_prepare_options");
        if (stats) {  // check the caller's struct_size before the (long) run
            fathom_data_prepare_stats probe{};
            write_struct(stats, &probe, sizeof probe, k_fn, "fathom_data_prepare_stats");
        }

        std::vector<std::string> paths;
        for (int64_t i = 0; i < n_inputs; ++i) {
            if (!inputs[i]) bad("inputs[" + std::to_string(i) + "]", "is NULL");
            if (!*inputs[i]) bad("inputs[" + std::to_string(i) + "]", "is empty");
            paths.emplace_back(inputs[i]);
        }
        data::prepare_params p;
        if (o.split && !data::parse_split_mode(o.split, &p.split))
            bad("split", std::string("'") + o.split + "' is not paragraph, line or file");
        if (o.text_field) p.text_field = o.text_field;
        p.min_chars = o.min_chars;
        p.max_chars = o.max_chars;
        p.min_alnum = o.min_alnum;
        p.near_dup = o.near_dup;
        p.val_fraction = o.val_fraction;
        p.seed = o.seed;
        p.shard_tokens = o.shard_tokens;
        p.n_threads = o.n_threads;
        if (o.tokenizer) p.tokenizer_path = o.tokenizer;
        try {
            data::check_prepare_params(p);
        } catch (const error& e) {  // same message, named after this entry point
            std::string m = e.what();
            const std::string lib = "data prepare: ";
            if (m.rfind(lib, 0) == 0) m = std::string(k_fn) + ": " + m.substr(lib.size());
            throw error(e.code(), m);
        }

        // The tokenizer, loaded through the public API (vocabulary only).
        std::unique_ptr<fathom_model, model_deleter> model;
        data::text_encoder enc;
        if (o.tokenizer) {
            if (!*o.tokenizer) bad("tokenizer", "is empty");
            fathom_model_options mo;
            fathom_model_options_init(&mo);
            mo.vocab_only = 1;
            fathom_model* m = nullptr;
            check(fathom_model_load(o.tokenizer, &mo, &m), "data prepare: tokenizer: ");
            model.reset(m);
            int has = 0;
            check(fathom_model_has_tokenizer(m, &has), "data prepare: tokenizer: ");
            if (!has) fail(errc::ERRC_UNSUPPORTED, std::string("data prepare: ") + o.tokenizer + ": has no tokenizer");
            fathom_model_info info{};
            info.struct_size = sizeof info;
            check(fathom_model_get_info(m, &info), "data prepare: tokenizer: ");
            if (info.eos_token < 0)
                fail(errc::ERRC_UNSUPPORTED, std::string("data prepare: ") + o.tokenizer +
                                                 ": the tokenizer has no EOS token to end documents with");
            // Whether the vocabulary adds BOS: encode "" with special tokens added.
            int32_t probe[8];
            int64_t n = 0;
            check(fathom_tokenize(m, "", 0, 1, 0, probe, 8, &n), "data prepare: tokenizer: ");
            enc.n_vocab = info.n_vocab;
            enc.bos = n > 0 && info.bos_token >= 0 && probe[0] == info.bos_token ? info.bos_token : -1;
            enc.eos = info.eos_token;
            enc.encode = [m](std::string_view text, std::vector<int32_t>& ids) { encode(m, text, ids); };
        }

        data::prepare_callbacks cb;
        cb.warn = [](const std::string& line) { capi::log(FATHOM_LOG_WARN, line); };
        if (o.progress)
            cb.progress = [&](const data::prepare_report& r) {
                const fathom_data_prepare_stats s = to_stats(r);
                o.progress(&s, o.progress_user_data);
            };
        const data::prepare_report r = data::prepare_data(paths, p, out_dir, o.tokenizer ? &enc : nullptr, cb);
        const fathom_data_prepare_stats s = to_stats(r);
        char line[256];
        std::snprintf(line, sizeof line, "data prepare: %s: %lld documents read, %lld kept, %.2f s", out_dir,
                      static_cast<long long>(r.docs_read), static_cast<long long>(r.kept_train + r.kept_val),
                      r.seconds);
        capi::log(FATHOM_LOG_INFO, line);
        if (stats) write_struct(stats, &s, sizeof s, k_fn, "fathom_data_prepare_stats");
    });
}

// C entry points for training a byte-level BPE tokenizer (fathom_tokenizer_train) on text files.
#include <cstdio>
#include <string>
#include <vector>

#include "api/c-api-internal.h"
#include "core/error.h"
#include "fathom/fathom.h"
#include "io/text/bpe-train.h"
#include "io/text/chat-template.h"

using namespace fathom;
using namespace fathom::capi;

namespace {

const char* const k_fn = "fathom_tokenizer_train";
const char* const k_default_specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

[[noreturn]] void bad(const std::string& field, const std::string& problem) {
    fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": " + field + ": " + problem);
}

// Index of the special token with this text; -1 for NULL; an error naming `field` when it is not special.
int32_t special_index(const std::vector<std::string>& specials, const char* text, const char* field) {
    if (!text) return -1;
    for (size_t i = 0; i < specials.size(); ++i)
        if (specials[i] == text) return int32_t(i);
    std::string m = "'";  // (appended step by step: GCC 12 warns falsely (-Wrestrict) on chains of +)
    m += text;
    m += "' is not one of the special tokens";
    bad(field, m);
}

// The chat template to store: a built-in name gives its Jinja source, Jinja source is kept, "" means none.
std::string resolve_template(const char* tmpl, const std::vector<std::string>& specials) {
    if (!tmpl) {
        bool start = false, end = false;
        for (const std::string& s : specials) {
            start = start || s == "<|im_start|>";
            end = end || s == "<|im_end|>";
        }
        return start && end ? io::builtin_chat_template("chatml") : std::string();
    }
    const std::string t = tmpl;
    if (t.empty()) return t;
    if (t.find("{{") != std::string::npos || t.find("{%") != std::string::npos) return t;  // Jinja source
    try {
        return io::builtin_chat_template(t);
    } catch (const error&) {
        std::string known;
        for (const std::string& n : io::builtin_chat_template_names()) known += (known.empty() ? "" : ", ") + n;
        bad("chat_template", "'" + t + "' is neither a built-in template (" + known + ") nor Jinja source");
    }
}

}  // namespace

extern "C" void fathom_tokenizer_train_options_init(fathom_tokenizer_train_options* opts) {
    if (!opts) return;
    *opts = fathom_tokenizer_train_options{};
    opts->struct_size = sizeof *opts;
    opts->vocab_size = 32000;
    opts->special_tokens = nullptr;
    opts->n_special_tokens = -1;
    opts->bos_token = nullptr;
    opts->eos_token = nullptr;
    opts->pre = "llama-bpe";
    opts->chat_template = nullptr;
    opts->min_frequency = 2;
    opts->n_threads = 0;
}

extern "C" fathom_status fathom_tokenizer_train(const char* const* files, int64_t n_files,
                                                const fathom_tokenizer_train_options* opts, const char* out_path) {
    return guarded([&] {
        require(out_path, k_fn, "out_path");
        if (!*out_path) bad("out_path", "is empty");
        if (n_files < 1) bad("n_files", std::to_string(n_files) + ": at least one input file is needed");
        require(files, k_fn, "files");
        fathom_tokenizer_train_options o;
        fathom_tokenizer_train_options_init(&o);
        read_struct(opts, &o, sizeof o, k_fn, "fathom_tokenizer_train_options");

        std::vector<std::string> paths;
        paths.reserve(size_t(n_files));
        for (int64_t i = 0; i < n_files; ++i) {
            if (!files[i]) bad("files[" + std::to_string(i) + "]", "is NULL");
            if (!*files[i]) bad("files[" + std::to_string(i) + "]", "is empty");
            paths.emplace_back(files[i]);
        }

        text::bpe_train_params p;
        if (!o.special_tokens) {
            if (o.n_special_tokens > 0)
                bad("special_tokens", "is NULL but n_special_tokens is " + std::to_string(o.n_special_tokens));
            if (o.n_special_tokens < -1) bad("n_special_tokens", std::to_string(o.n_special_tokens) + " is negative");
            if (o.n_special_tokens == -1) p.special_tokens.assign(std::begin(k_default_specials), std::end(k_default_specials));
        } else {
            if (o.n_special_tokens < 0)
                bad("n_special_tokens", std::to_string(o.n_special_tokens) + " is negative (special_tokens is given)");
            for (int32_t i = 0; i < o.n_special_tokens; ++i) {
                if (!o.special_tokens[i]) bad("special_tokens[" + std::to_string(i) + "]", "is NULL");
                p.special_tokens.emplace_back(o.special_tokens[i]);
            }
        }
        p.vocab_size = o.vocab_size;
        p.bos = special_index(p.special_tokens, o.bos_token, "bos_token");
        p.eos = o.eos_token ? special_index(p.special_tokens, o.eos_token, "eos_token")
                            : (p.special_tokens.empty() ? -1 : 0);
        p.pre = o.pre ? o.pre : "llama-bpe";
        p.min_frequency = o.min_frequency;
        p.n_threads = o.n_threads;
        try {
            text::bpe_check_params(p);
        } catch (const error& e) {  // same message, named after this entry point
            std::string m = e.what();
            const std::string lib = "tokenizer train: ";
            if (m.rfind(lib, 0) == 0) m = std::string(k_fn) + ": " + m.substr(lib.size());
            throw error(e.code(), m);
        }
        p.chat_template = resolve_template(o.chat_template, p.special_tokens);

        const text::bpe_train_stats st = text::bpe_train(paths, p, out_path);
        char line[512];
        std::snprintf(line, sizeof line,
                      "tokenizer train: %s: vocabulary %d (%d merges) from %llu bytes, %lld distinct pieces, %.2f s",
                      out_path, st.n_vocab, st.n_merges, static_cast<unsigned long long>(st.bytes_read),
                      static_cast<long long>(st.n_words), st.seconds);
        capi::log(FATHOM_LOG_INFO, line);
    });
}

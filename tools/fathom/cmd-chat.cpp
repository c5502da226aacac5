// `fathom chat`: multi-turn chat over stdin/stdout with the model's chat template (or a built-in one), reusing the
// KV cache for the part of each rendered conversation that is already in it, and dropping old exchanges to fit.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"
#include "gen-common.h"

namespace fathom_cli {

namespace {

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

// The --chat-template value as fathom_chat_render takes it: a built-in name, or the text of a Jinja file.
std::string resolve_template(const std::string& arg) {
    const std::vector<std::string> names = fathom::chat_builtin_templates();
    if (std::find(names.begin(), names.end(), arg) != names.end() || arg == "qwen" || arg == "qwen2") return arg;
    std::error_code ec;
    if (std::filesystem::is_regular_file(arg, ec)) {
        std::ifstream in(arg, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        if (!in && !in.eof()) throw cli_error(arg + ": cannot read the chat template file");
        if (ss.str().empty()) throw cli_error(arg + ": the chat template file is empty");
        return ss.str();
    }
    throw cli_error("--chat-template: '" + arg + "' is neither a built-in template (" + join(names) +
                    ") nor a Jinja template file");
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

// Streams the decoded text of a growing reply: prints what is new since the last call, never splitting a UTF-8
// character (detokenizing the whole reply each time keeps SentencePiece spacing right).
class reply_printer {
public:
    explicit reply_printer(const fathom::model& m) : m_(m) {}
    void add(int32_t token) {
        tokens_.push_back(token);
        text_ = m_.detokenize(tokens_);
        const size_t n = complete_utf8_prefix(text_);
        if (n > printed_) {
            std::fwrite(text_.data() + printed_, 1, n - printed_, stdout);
            std::fflush(stdout);
            printed_ = n;
        }
    }
    void finish() {
        if (text_.size() > printed_) std::fwrite(text_.data() + printed_, 1, text_.size() - printed_, stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    const std::string& text() const { return text_; }

private:
    const fathom::model& m_;
    std::vector<int32_t> tokens_;
    std::string text_;
    size_t printed_ = 0;
};

const char* reason_name(int32_t r) {
    switch (r) {
        case FATHOM_STOP_TOKEN: return "end of turn";
        case FATHOM_STOP_STRING: return "stop string";
        case FATHOM_STOP_CONTEXT: return "context full";
        case FATHOM_STOP_CALLBACK: return "stopped";
        default: return "max tokens";
    }
}

}  // namespace

int cmd_chat(int argc, char** argv) {
    std::string model_path, system_prompt, tmpl_arg;
    int32_t n_predict = -1, threads = 0;
    int64_t ctx = 0;
    fathom_sampler_options so = fathom::default_sampler_options();
    arg_parser ap("fathom chat -m MODEL [--system TEXT] [--chat-template NAME|FILE] [options]",
                  "Chats with the model: reads one user turn per line from stdin (\"/reset\" clears the conversation, "
                  "\"/exit\" or end of input quits), renders the conversation with the chat template and streams each "
                  "reply to stdout. Only the part of the prompt not already in the KV cache is run; the oldest "
                  "exchanges are dropped when the conversation outgrows the context. Speeds go to stderr.");
    ap.option("-m,--model", "MODEL", "GGUF file or Hugging Face folder (required)", &model_path);
    ap.option("--system", "TEXT", "system message opening the conversation", &system_prompt);
    ap.option("--chat-template", "NAME|FILE",
              "built-in template (" + join(fathom::chat_builtin_templates()) +
                  ") or a Jinja file; default: the model's tokenizer.chat_template",
              &tmpl_arg);
    ap.option("-n,--n-predict", "N", "most tokens per reply; -1 = until end of turn or a full context (default -1)",
              &n_predict);
    add_sampling_options(ap, &so);
    ap.option("-t,--threads", "N", "threads; 0 = physical cores (default 0)", &threads);
    ap.option("-c,--ctx-size", "N", "context size; 0 = min(model's, 4096) (default 0)", &ctx);
    std::vector<std::string> stops;
    ap.option("--stop", "S", "also end a reply when its text contains S (repeatable; S is not printed)", &stops);
    std::vector<std::string> loras;
    add_lora_option(ap, &loras);
    if (!ap.parse(argc, argv, 2)) return 0;

    if (model_path.empty()) throw ap.error("missing -m MODEL");
    if (n_predict < -1) throw ap.error("-n: must be >= -1");
    if (threads < 0) throw ap.error("-t: must be >= 0");
    if (ctx < 0) throw ap.error("-c: must be >= 0");
    std::string tmpl;
    if (ap.seen("--chat-template")) tmpl = resolve_template(tmpl_arg);

    fathom::model m(model_path);
    if (!m.has_tokenizer()) throw cli_error(model_path + ": has no tokenizer, which chat needs");
    if (tmpl.empty() && m.meta_find("tokenizer.chat_template") < 0)
        throw cli_error(model_path + ": has no chat template (tokenizer.chat_template); choose one with "
                                     "--chat-template NAME (" +
                        join(fathom::chat_builtin_templates()) + ")");
    const char* tmpl_c = tmpl.empty() ? nullptr : tmpl.c_str();
    const fathom_model_info info = m.info();
    // BOS goes in front only when the vocabulary asks for it and the template did not already write it.
    const std::vector<int32_t> specials_only = m.tokenize("", true, false);
    const bool want_bos = info.bos_token >= 0 && !specials_only.empty() && specials_only[0] == info.bos_token;
    const std::string bos_text = want_bos ? m.token_piece(info.bos_token) : std::string();

    fathom_session_options sopt = fathom::default_session_options();
    sopt.n_ctx = ctx;
    sopt.n_threads = threads;
    fathom::session s(m, sopt);
    apply_loras(m, s, loras);
    const int64_t n_ctx = s.n_ctx();
    const int64_t room = n_predict >= 0 ? n_predict : std::max<int64_t>(1, n_ctx / 4);
    fathom::sampler smp(so);
    fathom_generate_options g = fathom::default_generate_options();
    g.max_tokens = n_predict;

    std::vector<fathom::chat_message> history;
    if (ap.seen("--system")) history.push_back({"system", system_prompt});
    const size_t n_fixed = history.size();  // the system message is never dropped
    std::vector<int32_t> cached;            // tokens of sequence 0 in the KV cache, in order
    const bool interactive = ::isatty(STDIN_FILENO) != 0;
    auto rate = [](int64_t n, double sec) { return sec > 0 ? double(n) / sec : 0.0; };

    std::string line;
    for (;;) {
        if (interactive) {
            std::fputs("> ", stderr);
            std::fflush(stderr);
        }
        if (!std::getline(std::cin, line)) break;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line == "/exit") break;
        if (line == "/reset") {
            history.resize(n_fixed);
            cached.clear();
            s.truncate(0, 0);
            smp.reset();
            std::fprintf(stderr, "(conversation cleared)\n");
            continue;
        }
        if (line.empty()) continue;

        // Render, dropping the oldest user/assistant exchanges until the prompt plus room for a reply fits.
        std::vector<fathom::chat_message> trial = history;
        trial.push_back({"user", line});
        std::vector<int32_t> ids;
        int dropped = 0;
        for (;;) {
            const std::string text = m.chat_render(trial, true, tmpl_c);
            ids = m.tokenize(text, false, true);
            if (want_bos && text.compare(0, bos_text.size(), bos_text) != 0) ids.insert(ids.begin(), info.bos_token);
            if (int64_t(ids.size()) + room <= n_ctx || trial.size() < n_fixed + 3) break;
            trial.erase(trial.begin() + std::ptrdiff_t(n_fixed), trial.begin() + std::ptrdiff_t(n_fixed + 2));
            ++dropped;
        }
        if (int64_t(ids.size()) + room > n_ctx) {  // even this turn alone is too long: keep the conversation as is
            std::fprintf(stderr,
                         "fathom chat: turn skipped: the prompt of %zu tokens plus %lld for the reply does not fit "
                         "the context of %lld tokens (use a larger -c or a smaller -n)\n",
                         ids.size(), (long long)room, (long long)n_ctx);
            continue;
        }
        if (dropped)
            std::fprintf(stderr, "(dropped the %d oldest exchange%s to fit the context of %lld tokens)\n", dropped,
                         dropped == 1 ? "" : "s", (long long)n_ctx);
        history = std::move(trial);

        // Keep what the cache already holds of this prompt; run only the rest (at least one token for logits).
        size_t reuse = common_prefix(cached, ids);
        if (reuse >= ids.size()) reuse = ids.size() - 1;
        s.truncate(0, int32_t(reuse));
        cached.resize(reuse);
        const std::vector<int32_t> fresh(ids.begin() + std::ptrdiff_t(reuse), ids.end());

        reply_printer out(m);
        const fathom_generate_stats st = fathom::generate(s, smp, fresh, g, stops, [&](int32_t token) {
            out.add(token);
            return false;
        });
        out.finish();
        // The cache now holds the prompt and the reply (plus tokens held back by a stop string: cut them off).
        cached = ids;
        cached.insert(cached.end(), out.tokens().begin(), out.tokens().end());
        s.truncate(0, int32_t(cached.size()));
        history.push_back({"assistant", out.text()});

        std::fprintf(stderr, "prompt: %lld tokens (%zu of %zu reused from the cache) in %.1f ms, %.2f tokens/s\n",
                     (long long)st.n_prompt_tokens, reuse, ids.size(), st.prompt_seconds * 1e3,
                     rate(st.n_prompt_tokens, st.prompt_seconds));
        std::fprintf(stderr, "decode: %lld tokens in %.1f ms, %.2f tokens/s (sampling %.1f ms; %s)\n",
                     (long long)st.n_decode_tokens, st.decode_seconds * 1e3,
                     rate(st.n_decode_tokens, st.decode_seconds), st.sample_seconds * 1e3,
                     reason_name(st.stop_reason));
    }
    if (interactive) std::fputc('\n', stderr);
    return 0;
}

}  // namespace fathom_cli

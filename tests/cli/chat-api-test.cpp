// Chat templates, end-of-generation tokens and stop strings through the public API (fathom.h / fathom.hpp), on a
// tiny model with a byte-level BPE vocabulary written by the test: exact rendered strings, argument errors, and
// stop-string generation checked against a plain greedy run of the same model.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "chat-test-util.h"
#include "fathom/fathom.hpp"

namespace {

using namespace chat_test;

class ChatApi : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        path_ = (scratch_dir() / "chat-api.gguf").string();
        n_vocab_ = write_model(path_);
        plain_ = (scratch_dir() / "chat-api-plain.gguf").string();
        fathom::synth(fathom::default_synth_options(), plain_);  // no tokenizer at all
    }
    static std::string path_, plain_;
    static int64_t n_vocab_;
};
std::string ChatApi::path_, ChatApi::plain_;
int64_t ChatApi::n_vocab_ = 0;

const std::vector<fathom::chat_message> k_conv = {
    {"system", "You are terse."}, {"user", "Hi there"}, {"assistant", "Hello!"}};

std::string render_c(const fathom_model* m, const char* tmpl, const std::vector<fathom_chat_message>& msgs,
                     int add_gen, fathom_status* status) {
    char buf[4096];
    size_t len = 0;
    *status = fathom_chat_render(m, tmpl, msgs.data(), int64_t(msgs.size()), add_gen, buf, sizeof buf, &len);
    return *status == FATHOM_OK ? std::string(buf, len) : std::string();
}

TEST_F(ChatApi, BuiltinTemplateList) {
    EXPECT_STREQ(fathom_chat_builtin_templates(), "llama2, llama3, chatml, deepseek, deepseek3, mistral, phi3");
    const std::vector<std::string> want = {"llama2", "llama3", "chatml", "deepseek", "deepseek3", "mistral", "phi3"};
    EXPECT_EQ(fathom::chat_builtin_templates(), want);
}

TEST_F(ChatApi, RendersBuiltinTemplatesExactly) {
    fathom::model m(path_);
    EXPECT_EQ(m.chat_render(k_conv, true, "chatml"),
              "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
              "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(m.chat_render(k_conv, false, "chatml"),
              "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
              "<|im_start|>assistant\nHello!<|im_end|>\n");
    // bos_token is the text of the vocabulary's BOS token.
    EXPECT_EQ(m.chat_render(k_conv, true, "llama3"),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    // ... and eos_token the text of its EOS token.
    EXPECT_EQ(m.chat_render(k_conv, true, "llama2"),
              "<|begin_of_text|>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! <|endoftext|>");
    // Without a model the special tokens are empty.
    EXPECT_EQ(fathom::chat_render("llama3", {{"user", "Hi"}}, true),
              "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    // The qwen alias is chatml, with its default system turn.
    EXPECT_EQ(fathom::chat_render("qwen", {{"user", "Hi"}}, false),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST_F(ChatApi, ModelTemplateAndJinjaSource) {
    fathom::model m(path_);
    const std::vector<fathom::chat_message> conv = {{"user", "Hi"}, {"assistant", "Yo"}, {"user", "Bye"}};
    // The model's own template has no default system turn; the built-in chatml adds one.
    EXPECT_EQ(m.chat_render(conv, true),
              "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
              "<|im_start|>assistant\n");
    EXPECT_EQ(m.chat_render(conv, true, "chatml"),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" + m.chat_render(conv, true));
    // Anything that is not a built-in name is Jinja source.
    EXPECT_EQ(m.chat_render(conv, true, "{{ bos_token }}{{ messages | length }}:{{ messages[2].content }}"
                                        "{% if add_generation_prompt %}+{% endif %}{{ eos_token }}"),
              "<|begin_of_text|>3:Bye+<|endoftext|>");
    // An empty conversation is allowed.
    fathom_status st;
    EXPECT_EQ(render_c(m.get(), "chatml", {}, 1, &st), "<|im_start|>assistant\n");
    EXPECT_EQ(st, FATHOM_OK);
}

TEST_F(ChatApi, TwoCallSizeConvention) {
    fathom::model m(path_);
    const std::vector<fathom_chat_message> msgs = {{"user", "Hi"}};
    const std::string want = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    size_t len = 0;
    EXPECT_EQ(fathom_chat_render(m.get(), nullptr, msgs.data(), 1, 1, nullptr, 0, &len), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(len, want.size());
    EXPECT_NE(std::string(fathom_last_error()).find("too small"), std::string::npos) << fathom_last_error();
    std::vector<char> buf(want.size() + 1, 'x');
    len = 0;
    EXPECT_EQ(fathom_chat_render(m.get(), nullptr, msgs.data(), 1, 1, buf.data(), want.size(), &len),
              FATHOM_ERR_INVALID_ARGUMENT);  // no room for the NUL
    EXPECT_EQ(len, want.size());
    EXPECT_EQ(buf[0], 'x');  // nothing written
    EXPECT_EQ(fathom_chat_render(m.get(), nullptr, msgs.data(), 1, 1, buf.data(), buf.size(), &len), FATHOM_OK);
    EXPECT_EQ(std::string(buf.data()), want);
}

TEST_F(ChatApi, RenderErrors) {
    fathom::model m(path_);
    auto err = [] { return std::string(fathom_last_error()); };
    fathom_status st;
    render_c(m.get(), "chatml", {{"user", nullptr}}, 1, &st);
    EXPECT_EQ(st, FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_chat_render: messages[0].content is NULL");
    render_c(m.get(), "chatml", {{"user", "a"}, {nullptr, "b"}}, 1, &st);
    EXPECT_EQ(st, FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_chat_render: messages[1].role is NULL");
    size_t len = 7;
    EXPECT_EQ(fathom_chat_render(m.get(), "chatml", nullptr, -1, 1, nullptr, 0, &len), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_chat_render: n_messages must be >= 0 (got -1)");
    EXPECT_EQ(len, 7u);  // untouched on failure
    EXPECT_EQ(fathom_chat_render(m.get(), "chatml", nullptr, 2, 1, nullptr, 0, &len), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_chat_render: messages is NULL");
    EXPECT_EQ(fathom_chat_render(nullptr, nullptr, nullptr, 0, 1, nullptr, 0, &len), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_chat_render: model and tmpl are both NULL");
    EXPECT_EQ(fathom_chat_render(m.get(), "chatml", nullptr, 0, 1, nullptr, 0, nullptr), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_chat_render: len is NULL");

    // A mistyped name is refused with the list, not rendered as literal text.
    render_c(m.get(), "chatmll", {{"user", "a"}}, 1, &st);
    EXPECT_EQ(st, FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_chat_render: unknown built-in chat template 'chatmll' (known: llama2, llama3, chatml, "
                     "deepseek, deepseek3, mistral, phi3)");
    // Template errors keep their line number.
    render_c(m.get(), "{{ 'a' }}\n{% for %}", {{"user", "a"}}, 1, &st);
    EXPECT_NE(st, FATHOM_OK);
    EXPECT_EQ(err().rfind("fathom_chat_render: chat template line 2", 0), 0u) << err();
    // raise_exception() in a template: llama2 wants alternating roles.
    render_c(m.get(), "llama2", {{"user", "a"}, {"user", "b"}}, 1, &st);
    EXPECT_NE(st, FATHOM_OK);
    EXPECT_NE(err().find("chat template line"), std::string::npos) << err();
    EXPECT_NE(err().find("Conversation roles must alternate"), std::string::npos) << err();

    // A model without tokenizer.chat_template needs a template name.
    fathom::model plain(plain_);
    render_c(plain.get(), nullptr, {{"user", "a"}}, 1, &st);
    EXPECT_EQ(st, FATHOM_ERR_UNSUPPORTED);
    EXPECT_EQ(err(), plain_ + ": has no tokenizer.chat_template; choose a built-in template (llama2, llama3, chatml, "
                              "deepseek, deepseek3, mistral, phi3)");
    // ... and renders with a built-in one, with empty special tokens (it has no tokenizer).
    EXPECT_EQ(render_c(plain.get(), "llama3", {{"user", "a"}}, 0, &st),
              "<|start_header_id|>user<|end_header_id|>\n\na<|eot_id|>");
    try {
        plain.chat_render({{"user", "a"}});
        ADD_FAILURE() << "no exception";
    } catch (const fathom::error& e) {
        EXPECT_EQ(e.status(), FATHOM_ERR_UNSUPPORTED);
    }
}

TEST_F(ChatApi, EndOfGenerationTokens) {
    fathom::model m(path_);
    EXPECT_TRUE(m.is_eog(k_endoftext));  // EOS
    EXPECT_TRUE(m.is_eog(k_im_end));     // end-of-turn text
    EXPECT_FALSE(m.is_eog(k_im_start));
    EXPECT_FALSE(m.is_eog(k_bos));
    EXPECT_FALSE(m.is_eog(k_first_byte + 'a'));
    int eog = 5;
    EXPECT_EQ(fathom_token_is_eog(m.get(), int32_t(n_vocab_), &eog), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(eog, 5);
    EXPECT_THROW(fathom::model(plain_).is_eog(0), fathom::error);
    // The tokenizer sees the control tokens in rendered prompts.
    const std::vector<int32_t> ids = m.tokenize("<|im_start|>user\nHello<|im_end|>", false, true);
    ASSERT_GE(ids.size(), 3u);
    EXPECT_EQ(ids.front(), k_im_start);
    EXPECT_EQ(ids.back(), k_im_end);
}

// Greedy generation (ignoring end-of-generation tokens), with what the callback saw.
struct run_result {
    std::vector<int32_t> tokens;
    std::vector<int32_t> seq_len_at_emit;  // sequence length when the callback saw each token
    fathom_generate_stats st{};
    int32_t seq_len_after = 0;
};

run_result generate(const fathom::model& m, const std::vector<int32_t>& prompt, int32_t max_tokens,
                    const std::vector<std::string>& stops, int stop_after = -1) {
    fathom_session_options so = fathom::default_session_options();
    so.n_ctx = 128;
    so.n_threads = 1;
    fathom::session s(m, so);
    fathom_sampler_options sp = fathom::default_sampler_options();
    sp.temperature = 0;
    fathom::sampler greedy(sp);
    fathom_generate_options g = fathom::default_generate_options();
    g.max_tokens = max_tokens;
    g.ignore_eos = 1;
    run_result r;
    r.st = fathom::generate(s, greedy, prompt, g, stops, [&](int32_t tok) {
        r.tokens.push_back(tok);
        r.seq_len_at_emit.push_back(s.seq_len(0));
        return stop_after >= 0 && int(r.tokens.size()) > stop_after;
    });
    r.seq_len_after = s.seq_len(0);
    return r;
}

// A token's text as stop strings see it: its bytes (token_piece, a C string, cannot hold the NUL of byte token 0),
// and the raw text of control tokens.
std::string piece_bytes(const fathom::model& m, int32_t t) {
    const std::string d = m.detokenize({t});
    return d.empty() ? m.token_piece(t) : d;
}

// The first n bytes of text from position a on (or later) that hold no NUL (stop strings are C strings).
std::string window_without_nul(const std::string& text, size_t a, size_t n) {
    for (; a + n <= text.size(); ++a)
        if (text.find('\0', a) >= a + n) return text.substr(a, n);
    return std::string();
}

TEST_F(ChatApi, StopStringsEndGenerationBeforeTheMatchingToken) {
    fathom::model m(path_);
    const std::vector<int32_t> prompt = m.tokenize("<|im_start|>user\nHello there<|im_end|>\n", false, true);
    const int32_t n_max = 40;
    const run_result full = generate(m, prompt, n_max, {});
    ASSERT_EQ(full.tokens.size(), size_t(n_max));
    // Without stop strings every token goes out before its decode: the cache then holds the prompt and the tokens
    // before it.
    for (size_t i = 0; i < full.tokens.size(); ++i)
        ASSERT_EQ(full.seq_len_at_emit[i], int32_t(prompt.size() + i)) << i;
    std::string text;
    std::vector<size_t> ends;
    for (int32_t t : full.tokens) {
        text += piece_bytes(m, t);
        ends.push_back(text.size());
    }
    ASSERT_GE(text.size(), 12u) << "degenerate greedy output";

    // Stop strings cut at several places of the greedy text, starting mid-token or at token starts.
    int checked = 0;
    for (size_t a : {text.size() / 3, text.size() / 2, text.size() / 2 + 1, text.size() - 8}) {
        for (size_t n : {size_t(1), size_t(3)}) {
            const std::string stop = window_without_nul(text, a, n);
            ASSERT_EQ(stop.size(), n);
            const size_t at = text.find(stop);  // the first occurrence decides
            size_t n_before = 0, match_end_tok = 0;
            while (n_before < ends.size() && ends[n_before] <= at) ++n_before;
            while (ends[match_end_tok] < at + stop.size()) ++match_end_tok;
            const run_result r = generate(m, prompt, n_max, {stop});
            SCOPED_TRACE("stop '" + stop + "' at " + std::to_string(at));
            EXPECT_EQ(r.st.stop_reason, FATHOM_STOP_STRING);
            EXPECT_EQ(r.tokens, std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + std::ptrdiff_t(n_before)));
            EXPECT_EQ(r.st.n_generated, int64_t(n_before));
            // Generation ends on the token completing the match; it and the held tokens are in the cache.
            EXPECT_EQ(r.st.n_decode_tokens, int64_t(match_end_tok + 1));
            EXPECT_EQ(r.seq_len_after, int32_t(prompt.size() + match_end_tok + 1));
            ++checked;
        }
    }
    EXPECT_EQ(checked, 8);

    // Two stop strings: the earlier match wins.
    const std::string late = window_without_nul(text, text.size() - 5, 3), early = window_without_nul(text, text.size() / 4, 2);
    const run_result both = generate(m, prompt, n_max, {late, early});
    const run_result a = generate(m, prompt, n_max, {late}), b = generate(m, prompt, n_max, {early});
    // The match completed first ends generation; on the same token the one starting earlier cuts more.
    const run_result& first = a.st.n_decode_tokens != b.st.n_decode_tokens
                                  ? (a.st.n_decode_tokens < b.st.n_decode_tokens ? a : b)
                                  : (a.tokens.size() <= b.tokens.size() ? a : b);
    EXPECT_EQ(both.st.stop_reason, FATHOM_STOP_STRING);
    EXPECT_EQ(both.tokens, first.tokens);
    EXPECT_EQ(both.st.n_decode_tokens, first.st.n_decode_tokens);
}

// A control byte that does not occur in `text`, followed by letters: a stop string that can never complete.
std::string absent_stop(const std::string& text) {
    for (char c = 1; c < 32; ++c)
        if (text.find(c) == std::string::npos) return std::string(1, c) + "never";
    ADD_FAILURE() << "every control byte occurs in the output";
    return "never";
}

TEST_F(ChatApi, HeldTokensAreFlushedWhenTheMatchNeverCompletes) {
    fathom::model m(path_);
    const std::vector<int32_t> prompt = m.tokenize("<|im_start|>user\nHi<|im_end|>\n", false, true);
    const run_result first = generate(m, prompt, 16, {});
    ASSERT_EQ(first.tokens.size(), 16u);
    // End on a token whose text can start a C string (not the NUL byte).
    int32_t n_max = 16;
    while (n_max > 1 && piece_bytes(m, first.tokens[size_t(n_max - 1)]).find('\0') != std::string::npos) --n_max;
    const run_result full = generate(m, prompt, n_max, {});
    ASSERT_EQ(full.tokens.size(), size_t(n_max));
    std::string text;
    for (int32_t t : full.tokens) text += piece_bytes(m, t);
    const std::string never = absent_stop(text);
    // The last token's text followed by bytes the model never produced: a partial match at max_tokens.
    const std::string stop = piece_bytes(m, full.tokens.back()) + never;
    const run_result r = generate(m, prompt, n_max, {stop});
    EXPECT_EQ(r.st.stop_reason, FATHOM_STOP_MAX_TOKENS);
    EXPECT_EQ(r.tokens, full.tokens);
    EXPECT_EQ(r.st.n_generated, n_max);
    EXPECT_EQ(r.seq_len_after, int32_t(prompt.size()) + n_max);
    // The last token was held back: it went out only after its own decode, at the stop.
    EXPECT_EQ(r.seq_len_at_emit.back(), int32_t(prompt.size()) + n_max);
    // A stop string that cannot start anywhere holds nothing back.
    const run_result free = generate(m, prompt, n_max, {never});
    EXPECT_EQ(free.tokens, full.tokens);
    EXPECT_EQ(free.seq_len_at_emit, full.seq_len_at_emit);
    // The callback can still stop generation while tokens are held.
    const run_result cb = generate(m, prompt, n_max, {never}, 2);
    EXPECT_EQ(cb.st.stop_reason, FATHOM_STOP_CALLBACK);
    EXPECT_EQ(cb.tokens, std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + 3));
}

TEST_F(ChatApi, StopStringArgumentErrors) {
    fathom::model m(path_);
    fathom::session s(m);
    fathom::sampler smp;
    const int32_t prompt[] = {k_first_byte + 'a'};
    fathom_generate_options g = fathom::default_generate_options();
    g.max_tokens = 2;
    g.ignore_eos = 1;
    auto err = [] { return std::string(fathom_last_error()); };
    auto gen = [&](const fathom_generate_options& o) {
        return fathom_generate(s.get(), smp.get(), prompt, 1, &o, nullptr, nullptr, nullptr);
    };
    EXPECT_EQ(g.stop_strings, nullptr);
    EXPECT_EQ(g.n_stop_strings, 0);
    fathom_generate_options o = g;
    o.n_stop_strings = -1;
    EXPECT_EQ(gen(o), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_generate: n_stop_strings must be >= 0 (got -1)");
    o.n_stop_strings = 1;
    EXPECT_EQ(gen(o), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_generate: stop_strings is NULL");
    const char* with_null[] = {"x", nullptr};
    o.stop_strings = with_null;
    o.n_stop_strings = 2;
    EXPECT_EQ(gen(o), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_generate: stop_strings[1] is NULL");
    const char* with_empty[] = {""};
    o.stop_strings = with_empty;
    o.n_stop_strings = 1;
    EXPECT_EQ(gen(o), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err(), "fathom_generate: stop_strings[0] is empty");
    EXPECT_EQ(s.seq_len(0), 0);  // nothing ran

    // An older caller's struct (without the stop-string fields) keeps working.
    o = g;
    o.struct_size = offsetof(fathom_generate_options, stop_strings);
    o.n_stop_strings = -5;  // beyond the caller's struct: ignored
    EXPECT_EQ(gen(o), FATHOM_OK) << err();
    EXPECT_EQ(s.seq_len(0), 3);

    // Stop strings need a tokenizer.
    fathom::model plain(plain_);
    fathom::session ps(plain);
    const char* stops[] = {"x"};
    o = g;
    o.stop_strings = stops;
    o.n_stop_strings = 1;
    EXPECT_EQ(fathom_generate(ps.get(), smp.get(), prompt, 1, &o, nullptr, nullptr, nullptr), FATHOM_ERR_UNSUPPORTED);
    EXPECT_EQ(err(), "fathom_generate: stop_strings need a tokenizer; " + plain_ + " has none (no tokenizer.ggml.model)");
    EXPECT_EQ(ps.seq_len(0), 0);
}

}  // namespace

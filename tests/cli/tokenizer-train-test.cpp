// `fathom tokenizer train` run as a program: the file it writes loads and round-trips text, runs are reproducible,
// bad command lines exit 2 and failures exit 1 with one line naming the file or option.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/chat-test-util.h"
#include "fathom/fathom.hpp"

namespace {

namespace fs = std::filesystem;

using chat_test::result;
using chat_test::slurp;

fs::path scratch() {
    static const fs::path dir = [] {
        fs::path d = chat_test::scratch_dir() / "tokenizer-train";
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

result fathom_cli(const std::vector<std::string>& args) { return chat_test::run_cli(args); }

size_t lines(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

// Some KB of mixed text (English, code, digits, Chinese, emoji, a stray invalid byte) with special tokens.
std::string corpus(int n, int seed) {
    static const char* const k[] = {
        "The tokenizer learns merges from pairs of bytes",
        "for (int i = 0; i < 10; ++i) total += values[i];",
        "Release 2.4.1 fixed 137 bugs in 2023",
        "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c",
        "party \xf0\x9f\x8e\x89 time \xf0\x9f\x98\x80",
        "bad byte \xff here",
        "<|im_start|>user\nhi there<|im_end|>",
        "<|endoftext|>",
    };
    std::string s;
    uint32_t x = uint32_t(seed);
    for (int i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        s += k[(x >> 8) % 8];
        s += (x >> 20) % 3 ? "\n" : " ";
    }
    return s;
}

TEST(TokenizerTrainCli, TrainsALoadableVocabulary) {
    const fs::path a = scratch() / "a.txt", b = scratch() / "b.txt", out = scratch() / "tok.gguf";
    const std::string ta = corpus(300, 1), tb = corpus(200, 2);
    std::ofstream(a, std::ios::binary) << ta;
    std::ofstream(b, std::ios::binary) << tb;
    const result r = fathom_cli({"tokenizer", "train", "--vocab-size", "350", "--out", out.string(), "--bos",
                                 "<|im_start|>", "-t", "2", a.string(), b.string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("vocab 350"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("merges 91"), std::string::npos) << r.err;  // 350 - 3 special - 256 bytes
    EXPECT_NE(r.err.find("MB/s"), std::string::npos) << r.err;

    fathom_model_options o = fathom::default_model_options();
    o.vocab_only = 1;
    const fathom::model m(out.string(), o);
    EXPECT_EQ(m.info().n_vocab, 350);
    EXPECT_EQ(m.info().bos_token, 1);
    EXPECT_EQ(m.info().eos_token, 0);
    EXPECT_EQ(m.meta_string("tokenizer.ggml.pre").value_or(""), "llama-bpe");
    EXPECT_TRUE(m.meta_string("tokenizer.chat_template").has_value());
    const std::vector<int32_t> ids = m.tokenize(ta, false, false);
    EXPECT_EQ(m.detokenize(ids), ta);
    EXPECT_LT(m.tokenize(ta, false, true).size(), ta.size() / 2);  // the merges compress their training text
    const std::vector<int32_t> end = m.tokenize("<|im_end|>", false, true);
    EXPECT_EQ(end, std::vector<int32_t>{2});

    // The same command with one thread writes the same bytes; tokenize reads the file.
    const fs::path out1 = scratch() / "tok1.gguf";
    ASSERT_EQ(fathom_cli({"tokenizer", "train", "--vocab-size=350", "-o", out1.string(), "--bos", "<|im_start|>",
                          "-t", "1", a.string(), b.string()}).rc, 0);
    EXPECT_EQ(slurp(out1), slurp(out));
    const result t = fathom_cli({"tokenize", "-m", out.string(), "--parse-special", "--ids-only", "<|im_start|>hi"});
    ASSERT_EQ(t.rc, 0) << t.err;
    EXPECT_EQ(t.out.rfind("1 1 ", 0), 0u) << t.out;  // BOS, then <|im_start|>
}

TEST(TokenizerTrainCli, OwnSpecialTokensAndNoTemplate) {
    const fs::path a = scratch() / "c.txt", out = scratch() / "tok2.gguf";
    std::ofstream(a, std::ios::binary) << corpus(200, 3);
    const result r = fathom_cli({"tokenizer", "train", "--vocab-size", "300", "--out", out.string(), "--special",
                                 "<s>,</s>,<pad>", "--eos", "</s>", "--chat-template", "none", "--pre", "gpt-2",
                                 "--min-frequency", "3", a.string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    fathom_model_options o = fathom::default_model_options();
    o.vocab_only = 1;
    const fathom::model m(out.string(), o);
    EXPECT_EQ(m.info().eos_token, 1);
    EXPECT_EQ(m.info().bos_token, -1);
    EXPECT_EQ(m.token_piece(2), "<pad>");
    EXPECT_FALSE(m.meta_string("tokenizer.chat_template").has_value());
    EXPECT_EQ(m.meta_string("tokenizer.ggml.pre").value_or(""), "gpt-2");
    EXPECT_EQ(m.meta_int("fathom.tokenizer.train.min_frequency").value_or(0), 3);
}

TEST(TokenizerTrainCli, BadCommandLinesExit2) {
    const fs::path a = scratch() / "d.txt", out = scratch() / "tok3.gguf";
    std::ofstream(a, std::ios::binary) << corpus(20, 4);
    const std::vector<std::vector<std::string>> bad = {
        {"tokenizer"},
        {"tokenizer", "bogus"},
        {"tokenizer", "train", "--out", out.string(), a.string()},             // no --vocab-size
        {"tokenizer", "train", "--vocab-size", "300", a.string()},             // no --out
        {"tokenizer", "train", "--vocab-size", "300", "--out", out.string()},  // no files
        {"tokenizer", "train", "--vocab-size", "lots", "--out", out.string(), a.string()},
        {"tokenizer", "train", "--vocab-size", "300", "--out", out.string(), "--frobnicate", a.string()},
        {"tokenizer", "train", "--vocab-size", "300", "--out", out.string(), "--special", "<a>,,<b>", a.string()},
        {"tokenizer", "train", "--vocab-size", "300", "--out", out.string(), "--chat-template", "nosuch", a.string()},
    };
    for (const auto& args : bad) {
        const result r = fathom_cli(args);
        EXPECT_EQ(r.rc, 2) << args.back() << ": " << r.err;
        EXPECT_NE(r.err.find("usage: fathom tokenizer train"), std::string::npos) << r.err;
    }
    EXPECT_FALSE(fs::exists(out));
    const result h = fathom_cli({"tokenizer", "train", "--help"});
    EXPECT_EQ(h.rc, 0);
    EXPECT_NE(h.out.find("FILES..."), std::string::npos) << h.out;
}

TEST(TokenizerTrainCli, FailuresExit1NamingTheFileOrOption) {
    const fs::path a = scratch() / "e.txt", out = scratch() / "tok4.gguf", missing = scratch() / "missing.txt";
    std::ofstream(a, std::ios::binary) << corpus(20, 5);
    struct want {
        std::vector<std::string> args;
        std::string phrase;
    };
    const std::vector<want> cases = {
        {{"--vocab-size", "300", "--out", out.string(), a.string(), missing.string()}, missing.string()},
        {{"--vocab-size", "100", "--out", out.string(), a.string()}, "vocab_size"},
        {{"--vocab-size", "300", "--out", out.string(), "--bos", "<s>", a.string()}, "bos_token"},
        {{"--vocab-size", "300", "--out", out.string(), "--pre", "nosuch", a.string()}, "nosuch"},
        {{"--vocab-size", "300", "--out", out.string(), "--special", "<a>,<a>", a.string()}, "special_tokens[1]"},
    };
    for (const want& c : cases) {
        std::vector<std::string> args = {"tokenizer", "train"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        const result r = fathom_cli(args);
        EXPECT_EQ(r.rc, 1) << c.phrase << ": " << r.err;
        EXPECT_EQ(lines(r.err), 1u) << r.err;
        EXPECT_NE(r.err.find(c.phrase), std::string::npos) << r.err;
    }
    EXPECT_FALSE(fs::exists(out));
}

}  // namespace

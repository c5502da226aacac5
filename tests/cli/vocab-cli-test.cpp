// The CLI on tokenizer-only inputs: `fathom info` on a vocabulary GGUF, `fathom tokenize` on a Hugging Face
// tokenizer.json folder, and a tokenizer trained by `fathom tokenizer train` used by `fathom tokenize`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/chat-test-util.h"

namespace {

namespace fs = std::filesystem;
using chat_test::run_cli;

const fs::path k_vocab_dir = fs::path(FATHOM_SHARED_DIR) / "testdata" / "tokenizers";

TEST(VocabCli, InfoDescribesAVocabularyFile) {
    const fs::path p = k_vocab_dir / "ggml-vocab-phi-3.gguf";
    if (!fs::exists(p)) GTEST_SKIP() << "skipped: missing " << p;
    const auto r = run_cli({"info", p.string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("tokenizer only (no weights)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("n_vocab          32064"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("end of turn      2 '</s>', 32000 '<|endoftext|>', 32007 '<|end|>'"), std::string::npos)
        << r.out;
}

TEST(VocabCli, TokenizeReadsATokenizerJsonFolder) {
    // GPT-2 byte stand-ins for ASCII letters are the letters; "h e", "l l", "he ll", "hell o" merge "hello".
    nlohmann::json vocab = nlohmann::json::object();
    for (int b = 33; b <= 126; ++b) vocab[std::string(1, char(b))] = b;
    vocab["\xC4\xA0"] = 256;  // "Ġ", the stand-in of the space byte
    vocab["he"] = 257;
    vocab["ll"] = 258;
    vocab["hell"] = 259;
    vocab["hello"] = 260;
    const nlohmann::json tok = {
        {"added_tokens", nlohmann::json::array({{{"id", 261}, {"content", "<|endoftext|>"}, {"special", true}}})},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"h e", "l l", "he ll", "hell o"}}}}};
    const fs::path dir = chat_test::scratch_dir() / "hf-tokenizer";
    fs::create_directories(dir);
    std::ofstream(dir / "tokenizer.json") << tok.dump();
    const auto r = run_cli({"tokenize", "-m", dir.string(), "--ids-only", "--parse-special", "hello<|endoftext|>hel"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "260 261 257 108\n");
}

TEST(VocabCli, TrainedTokenizerTokenizesItsCorpus) {
    const fs::path dir = chat_test::scratch_dir() / "trained";
    fs::create_directories(dir);
    std::string text;
    for (int i = 0; i < 200; ++i) text += "the quick brown fox jumps over the lazy dog " + std::to_string(i % 7) + "\n";
    std::ofstream(dir / "corpus.txt") << text;
    const fs::path out = dir / "tok.gguf";
    auto r = run_cli({"tokenizer", "train", "--vocab-size", "300", "--out", out.string(), (dir / "corpus.txt").string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    r = run_cli({"info", out.string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    // the corpus runs out of pairs seen twice before 300: vocab = 3 specials + 256 bytes + the merges learned
    auto number_after = [&](const std::string& key) {
        const size_t at = r.out.find(key);
        return at == std::string::npos ? -1L : std::stol(r.out.substr(at + key.size()));
    };
    const long n_vocab = number_after("n_vocab"), n_merges = number_after("merges");
    EXPECT_GT(n_merges, 20) << r.out;
    EXPECT_LT(n_vocab, 300) << r.out;
    EXPECT_EQ(n_vocab, 3 + 256 + n_merges) << r.out;
    // the most frequent words of the corpus became single tokens
    r = run_cli({"tokenize", "-m", out.string(), "the quick brown fox"});
    ASSERT_EQ(r.rc, 0) << r.err;
    size_t lines = 0;
    for (char c : r.out) lines += c == '\n';
    EXPECT_EQ(lines, 4u) << r.out;  // 'the' ' quick' ' brown' ' fox'
    EXPECT_NE(r.out.find("' quick'"), std::string::npos) << r.out;
}

}  // namespace

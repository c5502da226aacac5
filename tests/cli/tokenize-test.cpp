// Tokenizer through the public API (fathom.h / fathom.hpp): ids against the shared .inp/.out vocabulary pairs,
// the two-call size convention, pieces, round trips and models without a tokenizer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fathom/fathom.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path k_vocab_dir = fs::path(FATHOM_SHARED_DIR) / "testdata" / "tokenizers";

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The expected ids of `text` from a vocabulary's .inp/.out pair (entries of .inp end with
// "\n__ggml_vocab_test__\n"; line k of .out holds the ids of entry k).
std::vector<int32_t> expected_ids(const fs::path& gguf, const std::string& text) {
    const std::string inp = slurp(gguf.string() + ".inp"), out = slurp(gguf.string() + ".out");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> lines;
    std::istringstream os(out);
    for (std::string l; std::getline(os, l);) lines.push_back(l);
    size_t pos = 0, k = 0;
    while (pos < inp.size()) {
        size_t end = inp.find(sep, pos);
        if (end == std::string::npos) break;
        if (inp.substr(pos, end - pos) == text && k < lines.size()) {
            std::vector<int32_t> ids;
            std::istringstream ls(lines[k]);
            for (int32_t id; ls >> id;) ids.push_back(id);
            return ids;
        }
        pos = end + sep.size();
        ++k;
    }
    ADD_FAILURE() << "'" << text << "' not found in " << gguf << ".inp";
    return {};
}

fathom::model load_vocab(const fs::path& p) {
    fathom_model_options o = fathom::default_model_options();
    o.vocab_only = 1;
    return fathom::model(p.string(), o);
}

TEST(Tokenize, Gpt2MatchesReferenceIds) {
    const fs::path p = k_vocab_dir / "ggml-vocab-gpt-2.gguf";
    if (!fs::exists(p)) GTEST_SKIP() << "missing " << p << " (set FATHOM_SHARED_DIR)";
    fathom::model m = load_vocab(p);
    EXPECT_TRUE(m.has_tokenizer());
    for (const std::string text : {"Hello world", " Hello world", "Hello, world!"}) {
        const std::vector<int32_t> want = expected_ids(p, text);
        ASSERT_FALSE(want.empty()) << text;
        EXPECT_EQ(m.tokenize(text, false, false), want) << text;
        EXPECT_EQ(m.detokenize(want), text);
    }
    EXPECT_EQ(m.token_piece(15496), "Hello");
    EXPECT_EQ(m.token_piece(995), " world");
    // A multi-byte round trip through byte-level pieces.
    const std::string utf8 = "na\xc3\xafve caf\xc3\xa9 \xe2\x82\xac 5";
    EXPECT_EQ(m.detokenize(m.tokenize(utf8, false, false)), utf8);
}

TEST(Tokenize, TwoCallSizeConvention) {
    const fs::path p = k_vocab_dir / "ggml-vocab-gpt-2.gguf";
    if (!fs::exists(p)) GTEST_SKIP() << "missing " << p << " (set FATHOM_SHARED_DIR)";
    fathom::model m = load_vocab(p);
    const std::string text = "Hello world";
    int64_t n = -1;
    EXPECT_EQ(fathom_tokenize(m.get(), text.data(), text.size(), 0, 0, nullptr, 0, &n), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(n, 2);
    EXPECT_NE(std::string(fathom_last_error()).find("too small"), std::string::npos) << fathom_last_error();
    int32_t ids[2] = {-1, -1};
    EXPECT_EQ(fathom_tokenize(m.get(), text.data(), text.size(), 0, 0, ids, 2, &n), FATHOM_OK);
    EXPECT_EQ(ids[0], 15496);
    EXPECT_EQ(ids[1], 995);
    size_t len = 0;
    char buf[12];
    EXPECT_EQ(fathom_detokenize(m.get(), ids, 2, buf, 11, &len), FATHOM_ERR_INVALID_ARGUMENT);  // no room for NUL
    EXPECT_EQ(len, 11u);
    EXPECT_EQ(fathom_detokenize(m.get(), ids, 2, buf, sizeof buf, &len), FATHOM_OK);
    EXPECT_EQ(std::string(buf), text);
    const int32_t bad = 1 << 30;
    EXPECT_EQ(fathom_detokenize(m.get(), &bad, 1, buf, sizeof buf, &len), FATHOM_ERR_INVALID_ARGUMENT);
    const char* piece = nullptr;
    EXPECT_EQ(fathom_token_to_piece(m.get(), -1, &piece), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(piece, nullptr);
    // A vocabulary-only model cannot run.
    fathom_session* s = nullptr;
    EXPECT_EQ(fathom_session_create(m.get(), nullptr, &s), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(fathom_last_error()).find("vocab_only"), std::string::npos);
}

TEST(Tokenize, ModelWithoutTokenizerIsUnsupported) {
    const fs::path p = fs::temp_directory_path() / ("fathom-tokenize-test-" + std::to_string(::getpid()) + ".gguf");
    fathom::synth(fathom::default_synth_options(), p.string());
    {
        fathom::model m(p.string());
        EXPECT_FALSE(m.has_tokenizer());
        try {
            m.tokenize("Hello");
            ADD_FAILURE() << "tokenize without a tokenizer did not throw";
        } catch (const fathom::error& e) {
            EXPECT_EQ(e.status(), FATHOM_ERR_UNSUPPORTED);
            EXPECT_NE(std::string(e.what()).find("has no tokenizer"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
        }
        EXPECT_THROW(m.token_piece(0), fathom::error);
        EXPECT_THROW(m.detokenize({1, 2}), fathom::error);
    }
    fs::remove(p);
}

}  // namespace

// Tokenizer conformance: every test vector of every vocabulary in shared/testdata/tokenizers, round trips, fuzz.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "io/model-file.h"
#include "io/text/tokenizer.h"
#include "io/vocab-test-util.h"

namespace {

namespace fs = std::filesystem;
using fathom::text::tokenizer;

const std::string DIR = std::string(FATHOM_SHARED_DIR) + "/testdata/tokenizers";

std::vector<std::string> vocab_names() {
    std::vector<std::string> out;
    if (!fs::is_directory(DIR)) return out;
    for (const auto& e : fs::directory_iterator(DIR)) {
        const std::string n = e.path().filename().string();
        if (n.rfind("ggml-vocab-", 0) == 0 && n.size() > 5 && n.substr(n.size() - 5) == ".gguf") out.push_back(n);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string show(const std::vector<int32_t>& v) {
    std::string s;
    for (int32_t x : v) s += std::to_string(x) + " ";
    return s;
}

class vocab_test : public ::testing::TestWithParam<std::string> {};

TEST_P(vocab_test, matches_reference_ids) {
    const std::string path = DIR + "/" + GetParam();
    const auto inputs = fathom::test::parse_vocab_inputs(fathom::test::slurp_file(path + ".inp"));
    const auto expected = fathom::test::parse_vocab_outputs(fathom::test::slurp_file(path + ".out"));
    ASSERT_FALSE(inputs.empty());
    ASSERT_EQ(inputs.size(), expected.size()) << path;
    const fathom::io::model_file mf = fathom::io::read_gguf(path);
    const tokenizer tok(mf);
    size_t pass = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto got = tok.encode(inputs[i], false, false);
        if (got == expected[i]) ++pass;
        else
            ADD_FAILURE() << GetParam() << " vector " << i << " '" << inputs[i] << "'\n  expected: " << show(expected[i])
                          << "\n  got:      " << show(got);
    }
    std::printf("[ vocab    ] %s: %zu/%zu vectors match\n", GetParam().c_str(), pass, inputs.size());
}

TEST_P(vocab_test, random_bytes_never_crash) {
    const fathom::io::model_file mf = fathom::io::read_gguf(DIR + "/" + GetParam());
    const tokenizer tok(mf);
    // Bytes the vocabulary can represent at all (some vocabularies drop bytes that never occur in UTF-8).
    bool representable[256];
    for (int b = 0; b < 256; ++b) {
        const std::string one(1, static_cast<char>(b));
        representable[b] = tok.decode(tok.encode(one, false, false)) == one;
    }
    std::mt19937 rng(1234);
    for (int it = 0; it < 200; ++it) {
        std::string s(rng() % 64, '\0');
        for (char& c : s) c = static_cast<char>(rng() & 0xFF);
        const auto ids = tok.encode(s, true, true);
        for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab());
        (void)tok.decode(ids);
        if (tok.kind() == fathom::text::tokenizer_kind::TOKENIZER_KIND_BPE) {
            std::string kept;
            for (char c : s)
                if (representable[static_cast<unsigned char>(c)]) kept += c;
            EXPECT_EQ(tok.decode(tok.encode(kept, false, false)), kept) << "byte-level BPE is lossless on representable bytes";
        }
    }
}

TEST_P(vocab_test, round_trip_lossless_text) {
    const fathom::io::model_file mf = fathom::io::read_gguf(DIR + "/" + GetParam());
    const tokenizer tok(mf);
    if (tok.kind() == fathom::text::tokenizer_kind::TOKENIZER_KIND_WPM) GTEST_SKIP() << "WordPiece is lossy";
    const std::vector<std::string> texts = {
        "我们在北京大学学习中文，今天天气很好。", "emoji: 🦙🚀👍🏽 ❤️ 🇩🇪", "int main() {\n\treturn a->b[3] << 2; // x\n}\n",
        "a      b\t\t\tc\n\n\n\n   d   ", "1234567890 3.14159 -42 1,000,000", "Grüße, ñandú, Ελληνικά, Русский, العربية",
        "    leading and trailing    ", "<|endoftext|> [INST] <s>"};
    for (const std::string& s : texts) EXPECT_EQ(tok.decode(tok.encode(s, false, false)), s) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(tokenizers, vocab_test, ::testing::ValuesIn(vocab_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                             std::string n = i.param.substr(11, i.param.size() - 16);
                             for (char& c : n)
                                 if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                             return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(vocab_test);

TEST(tokenizer_conformance, data_present) {
    if (vocab_names().empty()) GTEST_SKIP() << "no vocabularies in " << DIR;
    EXPECT_GE(vocab_names().size(), 10u);
}

}  // namespace

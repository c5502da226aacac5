// Hand-picked hard texts (Chinese, Japanese, Korean, code, emoji, long whitespace runs, digits, mixed scripts) encoded
// by fathom and by an independent Python reference (tests/reference/tokenizer_ref.py, `regex` module) on the real
// vocabularies in shared/testdata/tokenizers: the ids must be identical, and decoding must give the text back.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/io-test-util.h"
#include "io/model-file.h"
#include "io/text/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string DIR = std::string(FATHOM_SHARED_DIR) + "/testdata/tokenizers";

int run(const std::string& cmd, std::string* out) {
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
    const int st = ::pclose(p);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Empty when the reference can run; otherwise why not.
std::string oracle_unavailable() {
    static const std::string why = [] {
        std::string log;
        const int rc = run(std::string("'") + FATHOM_PYTHON + "' -c 'import regex' 2>&1", &log);
        return rc == 0 ? std::string() : std::string(FATHOM_PYTHON) + " cannot import regex (python3-regex): " + log;
    }();
    return why;
}

const std::vector<std::string>& texts() {
    static const std::vector<std::string> t = {
        // Chinese, Japanese, Korean, mixed with Latin and punctuation
        "我们今天去公园散步，天气非常好。",
        "人工智能（AI）正在改变世界：从医疗到金融。",
        "東京は日本の首都です。ひらがなとカタカナ、漢字を混ぜて書きます。",
        "안녕하세요, 세계! 오늘은 2024년 5월 3일입니다.",
        "混合 text with 中文 and English,还有数字123和符号！",
        // code
        "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
        "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
        "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }",
        "const x = {a: [1, 2, 3], 'b': \"q\"}; // comment\n/* block */ x?.a ?? null;",
        "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%smith%';",
        "    \t  indented_with_tabs_and_spaces();\r\n\r\n",
        // emoji: single, ZWJ families, skin tones, flags, keycaps
        "🦙 llama 🐪 camel 🤖",
        "👨‍👩‍👧‍👦 family, 👍🏽 thumbs, 🇫🇷🇯🇵 flags, 1️⃣ keycap",
        "I ❤️ emoji!!! 😂😂😂",
        // whitespace runs
        "a                                        b",
        "\n\n\n\n\n\nparagraph\n\n\n",
        "\t\t\t\ttabs\t \t mixed   \u00a0nbsp\u3000ideographic space",
        "   leading and trailing   ",
        // digits
        "1234567890 12345678901234567890",
        "3.14159 2.71828 -0.5e-10 1,000,000 $1,234.56 50%",
        "０１２３４５６７８９ full-width, ١٢٣٤ Arabic-Indic, ๑๒๓ Thai",
        "2024-05-03T12:34:56Z 192.168.0.1 v1.2.3",
        // mixed scripts, combining marks, contractions, punctuation
        "Ünïcödé naïve café résumé — “quotes” ‘single’ …",
        "Привет, мир! Γειά σου Κόσμε! שלום עולם مرحبا بالعالم",
        "e\u0301 a\u0308 n\u0303 (combining) ﬁ ligature Ⅻ roman",
        "I'll've you're they'd we'VE it'S DON'T",
        "<html><body class=\"x\">&amp; &lt;tag&gt;</body></html>",
    };
    return t;
}

class oracle_test : public ::testing::TestWithParam<std::string> {};

TEST_P(oracle_test, ids_match_reference) {
    if (!fs::is_directory(DIR)) GTEST_SKIP() << "skipped: " << DIR << " not present";
    if (!oracle_unavailable().empty()) GTEST_SKIP() << "skipped: " << oracle_unavailable();
    const std::string path = DIR + "/ggml-vocab-" + GetParam() + ".gguf";
    fathom::test::temp_dir d;
    {
        std::ofstream f(d.file("texts.json"), std::ios::binary);
        f << json(texts()).dump();
    }
    std::string out;
    const std::string cmd = std::string("'") + FATHOM_PYTHON + "' '" + FATHOM_SOURCE_DIR +
                            "/tests/reference/tokenizer_ref.py' '" + path + "' '" + d.file("texts.json") + "'";
    ASSERT_EQ(run(cmd, &out), 0) << cmd << "\n" << out;
    const json ref = json::parse(out);
    ASSERT_EQ(ref.size(), texts().size());
    const fathom::text::tokenizer tok(fathom::io::read_gguf(path));
    for (size_t i = 0; i < texts().size(); ++i) {
        const std::vector<int32_t> ids = tok.encode(texts()[i], false, false);
        EXPECT_EQ(ids, ref[i].get<std::vector<int32_t>>()) << GetParam() << " text " << i << ": " << texts()[i];
        EXPECT_EQ(tok.decode(ids), texts()[i]) << GetParam() << " text " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(tokenizers, oracle_test,
                         ::testing::Values("gpt-2", "mpt", "starcoder", "refact", "falcon", "deepseek-coder",
                                           "llama-spm", "phi-3"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

}  // namespace

// Bad-input corpus (tests/corpus/expected.tsv): each entry must fail with a one-line error naming it and its problem.
#include <fstream>
#include <set>

#include "io/model-file.h"
#include "io/io-test-util.h"

namespace fathom::io {
namespace {

struct corpus_entry {
    std::string name;
    errc code;
    std::string phrase;
};

const std::string k_corpus = std::string(FATHOM_SOURCE_DIR) + "/tests/corpus";

std::vector<corpus_entry> load_manifest() {
    std::vector<corpus_entry> out;
    std::ifstream f(k_corpus + "/expected.tsv");
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        size_t a = line.find('\t'), b = line.find('\t', a + 1);
        if (a == std::string::npos || b == std::string::npos) {
            ADD_FAILURE() << "bad manifest line: " << line;
            continue;
        }
        std::string cls = line.substr(a + 1, b - a - 1);
        errc code = cls == "FORMAT" ? errc::ERRC_FORMAT
                    : cls == "UNSUPPORTED" ? errc::ERRC_UNSUPPORTED
                    : cls == "IO" ? errc::ERRC_IO
                                  : errc::ERRC_INTERNAL;
        EXPECT_NE(code, errc::ERRC_INTERNAL) << "unknown error class " << cls;
        out.push_back({line.substr(0, a), code, line.substr(b + 1)});
    }
    return out;
}

TEST(corpus, every_entry_fails_with_a_specific_one_line_error) {
    auto entries = load_manifest();
    ASSERT_GE(entries.size(), 50u);
    for (const corpus_entry& e : entries) {
        SCOPED_TRACE(e.name);
        test::expect_error([&] { load_model_file(k_corpus + "/" + e.name); }, e.code, {e.name, e.phrase});
    }
}

TEST(corpus, manifest_lists_every_file) {
    std::set<std::string> listed;
    for (const corpus_entry& e : load_manifest()) listed.insert(e.name);
    int n = 0;
    for (const auto& d : std::filesystem::directory_iterator(k_corpus)) {
        std::string n_ = d.path().filename().string();
        if (n_.rfind("gguf-", 0) == 0 || n_.rfind("hf-", 0) == 0) {
            EXPECT_TRUE(listed.count(n_)) << n_ << " is not in expected.tsv";
            ++n;
        }
    }
    EXPECT_EQ(size_t(n), listed.size());
}

// The valid fuzzer seeds parse (so the fuzzers start from inputs that reach deep code).
TEST(corpus, valid_fuzz_seeds_parse) {
    const std::string seeds = std::string(FATHOM_SOURCE_DIR) + "/fuzz/seeds";
    for (const char* f : {"valid-tensors.gguf", "valid-meta-only.gguf", "valid-align64.gguf"}) {
        model_file m = read_gguf(seeds + "/fuzz_gguf/" + f);
        EXPECT_FALSE(m.meta.empty()) << f;
    }
    model_file m = read_gguf(seeds + "/fuzz_gguf/valid-tensors.gguf");
    ASSERT_EQ(m.tensors.size(), 3u);
    EXPECT_EQ(m.tensors[1].type, dtype::DTYPE_Q8_0);
    EXPECT_EQ(read_gguf(seeds + "/fuzz_gguf/valid-align64.gguf").alignment, 64u);
    auto st = test::read_file(seeds + "/fuzz_safetensors/valid.safetensors");
    EXPECT_EQ(parse_safetensors(st.data(), st.size(), "valid.safetensors").size(), 3u);
    for (const char* f : {"llama.json", "llama3.json", "qwen2.json"}) {
        auto js = test::read_file(seeds + "/fuzz_hf_config/" + f);
        model_file c = parse_hf_config(std::string(js.begin(), js.end()), f);
        EXPECT_NE(c.find("general.architecture"), nullptr) << f;
    }
}

}  // namespace
}  // namespace fathom::io

// Runs the fathom CLI binary: help and usage errors, synth + info numbers, deterministic run, bench JSON, convert
// against the NumPy reference, and the bad-input corpus (exit 1, exactly one stderr line naming the entry).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct result {
    int rc = -1;
    std::string out, err;
};

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

fs::path scratch_dir() {
    static const fs::path dir = [] {
        fs::path d = fs::temp_directory_path() / ("fathom-cli-test-" + std::to_string(::getpid()));
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

// Runs `program args...` with stdout and stderr captured.
result run_program(const std::string& program, const std::vector<std::string>& args) {
    static int counter = 0;
    const fs::path out = scratch_dir() / ("out-" + std::to_string(counter) + ".txt");
    const fs::path err = scratch_dir() / ("err-" + std::to_string(counter++) + ".txt");
    std::ostringstream cmd;  // (a stream: GCC 12 warns falsely (-Wrestrict) on chains of std::string +)
    cmd << quote(program);
    for (const auto& a : args) cmd << ' ' << quote(a);
    cmd << " >" << quote(out.string()) << " 2>" << quote(err.string()) << " </dev/null";
    const int status = std::system(cmd.str().c_str());
    result r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

result fathom(const std::vector<std::string>& args) { return run_program(FATHOM_CLI, args); }

int count_lines(const std::string& s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    if (!s.empty() && s.back() != '\n') ++n;
    return n;
}

// The value printed after `key` on its own line of `fathom info` output ("n_embd           64").
std::string info_value(const std::string& out, const std::string& key) {
    std::regex re("(^|\n)" + key + " +([^\n]*)");
    std::smatch m;
    if (!std::regex_search(out, m, re)) return "<missing " + key + ">";
    return m[2];
}

const std::vector<std::string> k_commands = {"info", "run", "tokenize", "convert", "synth", "bench"};

class Cli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        tiny_ = (scratch_dir() / "tiny.gguf").string();
        result r = fathom({"synth", "--arch", "llama", "--shape", "tiny", "-o", tiny_, "--seed", "5"});
        ASSERT_EQ(r.rc, 0) << r.err;
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        fs::remove_all(scratch_dir(), ec);
    }
    static std::string tiny_;
};
std::string Cli::tiny_;

TEST_F(Cli, TopLevelHelpAndVersion) {
    result r = fathom({"--help"});
    EXPECT_EQ(r.rc, 0);
    for (const auto& c : k_commands) EXPECT_NE(r.out.find("  " + c + " "), std::string::npos) << c;
    r = fathom({"--version"});
    EXPECT_EQ(r.rc, 0);
    EXPECT_NE(r.out.find("fathom 0.1.0"), std::string::npos) << r.out;
    r = fathom({});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("missing command"), std::string::npos);
    r = fathom({"frobnicate"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos);
}

TEST_F(Cli, EveryCommandHasHelp) {
    for (const auto& c : k_commands) {
        result r = fathom({c, "--help"});
        EXPECT_EQ(r.rc, 0) << c;
        EXPECT_EQ(r.out.rfind("usage: fathom " + c, 0), 0u) << c << ": " << r.out;
        EXPECT_NE(r.out.find("-h, --help"), std::string::npos) << c;
        EXPECT_TRUE(r.err.empty()) << c << ": " << r.err;
    }
}

TEST_F(Cli, UnknownFlagsAndArgumentsExitTwoWithUsage) {
    for (const auto& c : k_commands) {
        result r = fathom({c, "--no-such-flag"});
        EXPECT_EQ(r.rc, 2) << c;
        EXPECT_NE(r.err.find("unknown option '--no-such-flag'"), std::string::npos) << c << ": " << r.err;
        EXPECT_NE(r.err.find("usage: fathom " + c), std::string::npos) << c << ": " << r.err;
        EXPECT_TRUE(r.out.empty()) << c;
    }
    result r = fathom({"info", tiny_, "extra-arg"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("unexpected argument 'extra-arg'"), std::string::npos) << r.err;
    r = fathom({"info"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("missing argument MODEL"), std::string::npos) << r.err;
    r = fathom({"run", "-m", tiny_, "--prompt-ids", "1,2", "-n", "many"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("'many' is not an integer"), std::string::npos) << r.err;
    r = fathom({"run", "-m", tiny_, "--prompt-ids", "1,x"});
    EXPECT_EQ(r.rc, 2);
    r = fathom({"run", "-m", tiny_, "--temp"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("needs a value"), std::string::npos) << r.err;
    r = fathom({"synth", "--shape", "tiny", "-o", "x.gguf", "--type", "q4_0"});
    EXPECT_EQ(r.rc, 2);
    r = fathom({"bench", "-m", tiny_, "-p", "0", "-n", "0"});
    EXPECT_EQ(r.rc, 2);
}

TEST_F(Cli, InfoShowsTheSynthesisedShape) {
    result r = fathom({"info", tiny_});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(info_value(r.out, "architecture"), "llama");
    EXPECT_EQ(info_value(r.out, "name"), "synthetic tiny (untrained)");
    EXPECT_EQ(info_value(r.out, "n_vocab"), "256");
    EXPECT_EQ(info_value(r.out, "n_ctx_train"), "256");
    EXPECT_EQ(info_value(r.out, "n_embd"), "64");
    EXPECT_EQ(info_value(r.out, "n_layer"), "2");
    EXPECT_EQ(info_value(r.out, "n_head"), "4");
    EXPECT_EQ(info_value(r.out, "n_head_kv"), "2");
    EXPECT_EQ(info_value(r.out, "n_ff"), "128");
    // 2*256*64 + 64 + 2*(2*64 + 2*64*64 + 2*64*32 + 3*64*128) = 106816
    EXPECT_EQ(info_value(r.out, "parameters"), "106816 (106.82 K)");
    EXPECT_NE(info_value(r.out, "tensors").find("21, "), std::string::npos);
    EXPECT_NE(r.out.find("427264 bytes"), std::string::npos) << r.out;  // 106816 * 4
    std::regex group("\n  f32 +21 tensors +106816 elements");
    EXPECT_TRUE(std::regex_search(r.out, group)) << r.out;
    EXPECT_EQ(info_value(r.out, "tokenizer"), "none, no vocabulary, bos 1, eos 2");
    EXPECT_FALSE(info_value(r.out, "isa").empty());
    const auto bytes = fs::file_size(tiny_);
    std::string want_size = "(";
    want_size.append(std::to_string(bytes)).append(" bytes)");
    EXPECT_NE(info_value(r.out, "file size").find(want_size), std::string::npos);

    // F16 synthesis: the 2-D weights become f16, the 5 norms stay f32.
    const std::string f16 = (scratch_dir() / "tiny-f16.gguf").string();
    ASSERT_EQ(fathom({"synth", "--shape", "tiny", "-o", f16, "--type", "f16"}).rc, 0);
    r = fathom({"info", f16, "--tensors", "--meta"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  f16 +16 tensors"))) << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  f32 +5 tensors +320 elements"))) << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("general.file_type +uint32 +1\n"))) << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("blk.0.attn_k.weight +f16 +\\[64, 32\\] +4096\n"))) << r.out;
}

TEST_F(Cli, RunIsDeterministic) {
    const std::vector<std::string> greedy = {"run", "-m", tiny_, "--prompt-ids", "1,2,3", "-n", "12", "--temp", "0",
                                             "--ignore-eos", "-t", "2"};
    result a = fathom(greedy), b = fathom(greedy);
    ASSERT_EQ(a.rc, 0) << a.err;
    ASSERT_EQ(b.rc, 0) << b.err;
    EXPECT_EQ(a.out, b.out);
    std::istringstream ids(a.out);
    int n = 0, id;
    while (ids >> id) {
        EXPECT_GE(id, 0);
        EXPECT_LT(id, 256);
        ++n;
    }
    EXPECT_EQ(n, 12);
    EXPECT_NE(a.err.find("prompt: 3 tokens"), std::string::npos) << a.err;
    EXPECT_NE(a.err.find("decode: 12 tokens"), std::string::npos) << a.err;
    EXPECT_NE(a.err.find("tokens/s"), std::string::npos) << a.err;

    const std::vector<std::string> seeded = {"run", "-m", tiny_, "--prompt-ids", "1,2,3", "-n", "16", "--temp", "1.5",
                                             "--top-k", "0", "--min-p", "0", "--top-p", "1", "--seed", "77",
                                             "--ignore-eos", "--repeat-penalty", "1.2"};
    a = fathom(seeded);
    b = fathom(seeded);
    ASSERT_EQ(a.rc, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_NE(a.err.find("seed 77"), std::string::npos) << a.err;
}

TEST_F(Cli, RunTextPromptNeedsTokenizer) {
    result r = fathom({"run", "-m", tiny_, "-p", "Hello"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("fathom: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("--prompt-ids"), std::string::npos) << r.err;
}

const fs::path k_gpt2_vocab = fs::path(FATHOM_SHARED_DIR) / "testdata" / "tokenizers" / "ggml-vocab-gpt-2.gguf";

// Expected ids from ggml-vocab-gpt-2.gguf.out: "Hello world" is 15496 995, "Hello, world!" 15496 11 995 0.
TEST_F(Cli, TokenizePrintsIdsAndPieces) {
    if (!fs::exists(k_gpt2_vocab)) GTEST_SKIP() << "missing " << k_gpt2_vocab << " (set FATHOM_SHARED_DIR)";
    result r = fathom({"tokenize", "-m", k_gpt2_vocab.string(), "--no-bos", "Hello world"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "15496\t'Hello'\n995\t' world'\n");
    r = fathom({"tokenize", "-m", k_gpt2_vocab.string(), "--no-bos", "--ids-only", "Hello, world!"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "15496 11 995 0\n");
    r = fathom({"tokenize", "-m", k_gpt2_vocab.string(), "--ids-only", "--no-bos", "a\nb"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(count_lines(r.out), 1) << r.out;
    r = fathom({"tokenize", "-m", k_gpt2_vocab.string(), "--no-bos", "a\nb"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("'\\n'"), std::string::npos) << r.out;  // the newline piece is escaped on its line
    EXPECT_EQ(count_lines(r.out), 3) << r.out;
    // Control tokens written as text stay text unless --parse-special.
    r = fathom({"tokenize", "-m", k_gpt2_vocab.string(), "--no-bos", "--ids-only", "--parse-special", "<|endoftext|>"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "50256\n");
    r = fathom({"tokenize", "-m", k_gpt2_vocab.string(), "--no-bos", "--ids-only", "<|endoftext|>"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out, "50256\n");
}

TEST_F(Cli, TokenizeWithoutTokenizerIsOneLineError) {
    result r = fathom({"tokenize", "-m", tiny_, "Hello"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("fathom: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("has no tokenizer"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(tiny_), std::string::npos) << r.err;
    r = fathom({"tokenize", "Hello"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("missing -m MODEL"), std::string::npos) << r.err;
}

TEST_F(Cli, RunReportsBadTokenIdsAsOneLine) {
    result r = fathom({"run", "-m", tiny_, "--prompt-ids", "1,999"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("999"), std::string::npos) << r.err;
}

TEST_F(Cli, BenchJsonParses) {
    result r = fathom({"bench", "-m", tiny_, "-p", "16", "-n", "8", "-t", "2", "-r", "3", "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out);
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), 2u);
    EXPECT_EQ(j[0]["test"], "pp16");
    EXPECT_EQ(j[1]["test"], "tg8");
    for (const auto& t : j) {
        EXPECT_EQ(t["samples_ts"].size(), 3u);
        EXPECT_GT(t["avg_ts"].get<double>(), 0.0);
        EXPECT_GE(t["stddev_ts"].get<double>(), 0.0);
        EXPECT_EQ(t["model_n_params"].get<int64_t>(), 106816);
        EXPECT_EQ(t["model_size"].get<int64_t>(), 427264);
        EXPECT_GT(t["peak_rss_bytes"].get<int64_t>(), 0);
        EXPECT_EQ(t["n_threads"].get<int>(), 2);
        EXPECT_FALSE(t["isa"].get<std::string>().empty());
        double mean = 0;
        for (double x : t["samples_ts"]) mean += x / 3.0;
        EXPECT_NEAR(t["avg_ts"].get<double>(), mean, 1e-6 * mean);
    }
    // -n 0 skips the decode test; the Markdown table has llama-bench's columns
    r = fathom({"bench", "-m", tiny_, "-p", "8", "-n", "0", "-r", "1"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("| model | size | params | backend | threads | test | t/s |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("| llama 107K F32 | 417.25 KiB | 106.82 K | CPU |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("| pp8 |"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("| tg"), std::string::npos) << r.out;
}

// Convert a Hugging Face folder made by the NumPy reference; the converted GGUF and the folder itself must both
// predict the reference's argmax next token, and greedy generation must agree between them.
TEST_F(Cli, ConvertHfFolderMatchesReference) {
    const std::string py = FATHOM_PYTHON;
    if (py.empty() || !fs::exists(py)) GTEST_SKIP() << "no python3 for the NumPy reference";
    const fs::path hf = scratch_dir() / "hf-llama";
    const fs::path logits = scratch_dir() / "ref-logits.f32";
    const std::string script = std::string(FATHOM_SOURCE_DIR) + "/tests/reference/llama_ref.py";
    result r = run_program(py, {script, "make", "--variant", "llama-gqa", "--out", hf.string(), "--seed", "11",
                                "--tokens", "1,7,42,100", "--logits", logits.string()});
    if (r.rc != 0 && r.err.find("numpy") != std::string::npos) GTEST_SKIP() << "numpy missing: " << r.err;
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::string ref = slurp(logits);
    ASSERT_EQ(ref.size(), 4u * 256u * sizeof(float));
    const float* last = reinterpret_cast<const float*>(ref.data()) + 3 * 256;
    int want = 0;
    for (int i = 1; i < 256; ++i)
        if (last[i] > last[want]) want = i;

    const std::string f32 = (scratch_dir() / "hf-f32.gguf").string();
    const std::string f16 = (scratch_dir() / "hf-f16.gguf").string();
    r = fathom({"convert", hf.string(), "-o", f32, "--type", "f32"});
    ASSERT_EQ(r.rc, 0) << r.err;
    r = fathom({"convert", hf.string(), "-o", f16});  // default f16
    ASSERT_EQ(r.rc, 0) << r.err;
    r = fathom({"info", f16});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(info_value(r.out, "n_embd"), "64");
    EXPECT_EQ(info_value(r.out, "n_head_kv"), "2");
    EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  f16 +\\d+ tensors"))) << r.out;

    auto first_token = [&](const std::string& model) {
        result g = fathom({"run", "-m", model, "--prompt-ids", "1,7,42,100", "-n", "1", "--temp", "0",
                           "--ignore-eos"});
        EXPECT_EQ(g.rc, 0) << g.err;
        return std::atoi(g.out.c_str());
    };
    EXPECT_EQ(first_token(hf.string()), want);
    EXPECT_EQ(first_token(f32), want);

    const std::vector<std::string> gen = {"--prompt-ids", "1,7,42,100", "-n", "10", "--temp", "0", "--ignore-eos"};
    std::vector<std::string> a = {"run", "-m", hf.string()}, b = {"run", "-m", f32};
    a.insert(a.end(), gen.begin(), gen.end());
    b.insert(b.end(), gen.begin(), gen.end());
    result ra = fathom(a), rb = fathom(b);
    ASSERT_EQ(ra.rc, 0) << ra.err;
    ASSERT_EQ(rb.rc, 0) << rb.err;
    EXPECT_EQ(ra.out, rb.out);

    r = fathom({"convert", (scratch_dir() / "no-such-folder").string(), "-o", f32});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("no-such-folder"), std::string::npos) << r.err;
}

TEST_F(Cli, MissingModelIsOneLineError) {
    const std::string missing = (scratch_dir() / "missing.gguf").string();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"info", missing}, {"run", "-m", missing, "--prompt-ids", "1"}, {"bench", "-m", missing}}) {
        result r = fathom(args);
        EXPECT_EQ(r.rc, 1) << args[0];
        EXPECT_EQ(count_lines(r.err), 1) << r.err;
        EXPECT_EQ(r.err.rfind("fathom: ", 0), 0u) << r.err;
        EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
    }
}

// Every entry of tests/corpus/expected.tsv: `fathom info` exits 1 with exactly one stderr line that names the entry
// and contains the expected phrase.
TEST_F(Cli, BadInputCorpus) {
    const fs::path dir = fs::path(FATHOM_SOURCE_DIR) / "tests" / "corpus";
    std::ifstream manifest(dir / "expected.tsv");
    ASSERT_TRUE(manifest) << "missing " << (dir / "expected.tsv");
    std::string line;
    int checked = 0;
    while (std::getline(manifest, line)) {
        if (line.empty() || line[0] == '#') continue;
        const size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
        ASSERT_NE(t2, std::string::npos) << line;
        const std::string name = line.substr(0, t1), phrase = line.substr(t2 + 1);
        const std::string path = (dir / name).string();
        ASSERT_TRUE(fs::exists(path)) << path;
        result r = fathom({"info", path});
        EXPECT_EQ(r.rc, 1) << name << ": " << r.err;
        EXPECT_EQ(count_lines(r.err), 1) << name << ": " << r.err;
        EXPECT_EQ(r.err.rfind("fathom: ", 0), 0u) << name << ": " << r.err;
        EXPECT_NE(r.err.find(name), std::string::npos) << name << ": " << r.err;
        EXPECT_NE(r.err.find(phrase), std::string::npos) << name << ": " << r.err;
        EXPECT_TRUE(r.out.empty()) << name;
        ++checked;
    }
    EXPECT_GE(checked, 40);
}

}  // namespace

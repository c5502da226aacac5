// The fathom CLI with LoRA adapters: `fathom run --lora a.gguf:SCALE` generates (scale 0 = the base, a merged model
// gives the same tokens), `fathom lora merge` writes a model `fathom run` loads, and bad adapters fail with exit 1
// and one stderr line naming the file and the tensor or key.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fathom/fathom.h"
#include "io/model-file.h"
#include "train/model.h"

namespace {

namespace fs = std::filesystem;

struct lora_cli_result {
    int rc = -1;
    std::string out, err;
};

std::string lora_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

fs::path lora_scratch() {
    static const fs::path dir = [] {
        fs::path d = fs::temp_directory_path() / ("fathom-lora-cli-" + std::to_string(::getpid()));
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

std::string lora_slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

lora_cli_result lora_fathom(const std::vector<std::string>& args) {
    static int counter = 0;
    const fs::path out = lora_scratch() / ("out-" + std::to_string(counter) + ".txt");
    const fs::path err = lora_scratch() / ("err-" + std::to_string(counter++) + ".txt");
    std::ostringstream cmd;
    cmd << lora_quote(FATHOM_CLI);
    for (const auto& a : args) cmd << ' ' << lora_quote(a);
    cmd << " >" << lora_quote(out.string()) << " 2>" << lora_quote(err.string()) << " </dev/null";
    const int status = std::system(cmd.str().c_str());
    lora_cli_result r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    r.out = lora_slurp(out);
    r.err = lora_slurp(err);
    return r;
}

int lines_of(const std::string& s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    if (!s.empty() && s.back() != '\n') ++n;
    return n;
}

// A base with a trained tokenizer, an adapter on it with random non-zero A and B, and bad variants of the adapter.
struct lora_cli_files {
    std::string base, ad, no_b, model_type, cut;
    lora_cli_files() {
        const fs::path d = lora_scratch();
        const std::string text = (d / "corpus.txt").string();
        {
            std::ofstream t(text, std::ios::binary);
            for (int i = 0; i < 200; ++i)
                t << "the quick brown fox jumps over the lazy dog " << i << ". hello world, a small tale.\n";
        }
        const std::string tok = (d / "tok.gguf").string();
        fathom_tokenizer_train_options o;
        fathom_tokenizer_train_options_init(&o);
        o.vocab_size = 300;
        o.n_threads = 1;
        const char* paths[] = {text.c_str()};
        if (fathom_tokenizer_train(paths, 1, &o, tok.c_str()) != FATHOM_OK) throw std::runtime_error(fathom_last_error());
        const fathom::io::model_file tf = fathom::io::read_gguf(tok);
        const int64_t n_vocab = int64_t(tf.find("tokenizer.ggml.tokens")->arr.size());

        fathom::train::train_config c;
        c.n_vocab = n_vocab;
        c.n_ctx = 64;
        c.n_embd = 64;
        c.n_layer = 2;
        c.n_head = 4;
        c.n_head_kv = 2;
        c.n_ff = 96;
        fathom::train::train_model bm(c);
        bm.init_random(3);
        base = (d / "base.gguf").string();
        fathom::io::write_gguf(base, bm.to_model_file(&tf, "base"));
        fathom::train::lora_config lc;
        lc.rank = 8;
        lc.alpha = 16.0f;
        fathom::train::train_model am = fathom::train::train_model::for_lora(fathom::io::read_gguf(base), lc, 4);
        std::mt19937 rng(5);
        std::normal_distribution<float> nd(0.0f, 0.15f);
        for (float& p : am.params) p = nd(rng);
        ad = (d / "a.gguf").string();
        fathom::io::model_file af = am.to_model_file(nullptr, "a");
        fathom::io::write_gguf(ad, af);

        fathom::io::model_file nb = af;
        for (size_t i = 0; i < nb.tensors.size(); ++i)
            if (nb.tensors[i].name == "blk.0.ffn_gate.weight.lora_b") nb.tensors.erase(nb.tensors.begin() + std::ptrdiff_t(i));
        nb.index();
        no_b = (d / "no-b.gguf").string();
        fathom::io::write_gguf(no_b, nb);
        fathom::io::model_file mt = af;
        mt.set("general.type", fathom::io::meta_value::str("model"));
        model_type = (d / "type.gguf").string();
        fathom::io::write_gguf(model_type, mt);
        const std::string bytes = lora_slurp(ad);
        cut = (d / "cut.gguf").string();
        std::ofstream(cut, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() * 2 / 3));
    }
};

const lora_cli_files& lora_files() {
    static const lora_cli_files f;
    return f;
}

std::vector<std::string> run_args(const std::string& model, const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"run", "-m", model, "-p", "the quick brown fox", "-n", "12", "--temp", "0",
                                  "--ignore-eos", "-t", "2"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

TEST(lora_cli, run_with_an_adapter_generates_and_matches_the_merged_model) {
    const lora_cli_files& f = lora_files();
    const lora_cli_result base = lora_fathom(run_args(f.base, {}));
    ASSERT_EQ(base.rc, 0) << base.err;
    const lora_cli_result half = lora_fathom(run_args(f.base, {"--lora", f.ad + ":0.5"}));
    ASSERT_EQ(half.rc, 0) << half.err;
    EXPECT_GT(half.out.size(), 1u);
    EXPECT_NE(half.err.find("decode: "), std::string::npos) << half.err;
    EXPECT_NE(half.out, base.out) << "an adapter at 0.5 should change greedy generation";
    const lora_cli_result zero = lora_fathom(run_args(f.base, {"--lora", f.ad + ":0"}));
    ASSERT_EQ(zero.rc, 0) << zero.err;
    EXPECT_EQ(zero.out, base.out);
    // The same adapter twice at 0.25 each is the adapter at 0.5.
    const lora_cli_result twice = lora_fathom(run_args(f.base, {"--lora", f.ad + ":0.25", "--lora", f.ad + ":0.25"}));
    ASSERT_EQ(twice.rc, 0) << twice.err;
    EXPECT_EQ(twice.out, half.out);

    const std::string merged = (lora_scratch() / "merged.gguf").string();
    const lora_cli_result m = lora_fathom({"lora", "merge", "-m", f.base, "--lora", f.ad + ":0.5", "-o", merged});
    ASSERT_EQ(m.rc, 0) << m.err;
    ASSERT_TRUE(fs::exists(merged));
    const lora_cli_result from_merged = lora_fathom(run_args(merged, {}));
    ASSERT_EQ(from_merged.rc, 0) << from_merged.err;
    EXPECT_EQ(from_merged.out, half.out);

    const std::string q8 = (lora_scratch() / "merged-q8.gguf").string();
    const lora_cli_result mq = lora_fathom({"lora", "merge", "-m", f.base, "--lora", f.ad, "-o", q8, "--type", "q8_0"});
    ASSERT_EQ(mq.rc, 0) << mq.err;
    const lora_cli_result info = lora_fathom({"info", q8});
    ASSERT_EQ(info.rc, 0) << info.err;
    EXPECT_NE(info.out.find("q8_0"), std::string::npos);
    const lora_cli_result from_q8 = lora_fathom(run_args(q8, {}));
    ASSERT_EQ(from_q8.rc, 0) << from_q8.err;
    EXPECT_GT(from_q8.out.size(), 1u);
}

TEST(lora_cli, bad_adapters_exit_1_with_one_line) {
    const lora_cli_files& f = lora_files();
    struct bad_case {
        std::string path, what;
    };
    for (const bad_case& b : {bad_case{f.no_b, "blk.0.ffn_gate.weight.lora_b"}, bad_case{f.model_type, "general.type"},
                              bad_case{f.cut, ""}, bad_case{f.base, "general.type"}}) {
        const lora_cli_result r = lora_fathom(run_args(f.base, {"--lora", b.path}));
        EXPECT_EQ(r.rc, 1) << b.path << ": " << r.err;
        EXPECT_EQ(lines_of(r.err), 1) << r.err;
        EXPECT_NE(r.err.find(b.path), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(b.what), std::string::npos) << r.err;
        const lora_cli_result m =
            lora_fathom({"lora", "merge", "-m", f.base, "--lora", b.path, "-o", (lora_scratch() / "bad.gguf").string()});
        EXPECT_EQ(m.rc, 1) << m.err;
        EXPECT_EQ(lines_of(m.err), 1) << m.err;
        EXPECT_NE(m.err.find(b.path), std::string::npos) << m.err;
        EXPECT_NE(m.err.find(b.what), std::string::npos) << m.err;
    }
    const lora_cli_result missing = lora_fathom(run_args(f.base, {"--lora", (lora_scratch() / "nope.gguf").string()}));
    EXPECT_EQ(missing.rc, 1);
    EXPECT_NE(missing.err.find("nope.gguf"), std::string::npos) << missing.err;
    // Usage errors exit 2.
    EXPECT_EQ(lora_fathom({"lora", "merge", "-m", f.base, "-o", (lora_scratch() / "x.gguf").string()}).rc, 2);
    EXPECT_EQ(lora_fathom({"lora", "merge", "-m", f.base, "--lora", f.ad}).rc, 2);
    EXPECT_EQ(lora_fathom({"lora", "split"}).rc, 2);
    EXPECT_EQ(lora_fathom({"lora", "merge", "--help"}).rc, 0);
    const lora_cli_result t = lora_fathom({"lora", "merge", "-m", f.base, "--lora", f.ad, "-o",
                                           (lora_scratch() / "x.gguf").string(), "--type", "q9_9"});
    EXPECT_EQ(t.rc, 1);
    EXPECT_NE(t.err.find("q9_9"), std::string::npos) << t.err;
}

}  // namespace

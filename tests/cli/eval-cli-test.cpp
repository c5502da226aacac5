// `fathom eval` end to end on a tiny model trained here on a small grammar: perplexity and KL divergence of quantised
// copies against it, multiple-choice accuracy, BLEU-4 / ROUGE-L of continuations, latency, the JSON and HTML outputs,
// and one-line errors for bad data and options.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/chat-test-util.h"
#include "core/dtype.h"
#include "fathom/fathom.h"
#include "io/model-file.h"
#include "io/text/tokenizer.h"
#include "quant/quantize-model.h"
#include "train/model.h"
#include "train/optim.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path scratch() {
    static const fs::path dir = [] {
        fs::path d = chat_test::scratch_dir() / "eval";
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

const char* const k_subj[] = {"the cat", "a dog", "my friend", "the old man", "a small bird"};
const char* const k_verb[] = {"sat on", "looked at", "walked to", "jumped over", "found"};
const char* const k_obj[] = {"the mat", "a red ball", "the green house", "the river", "a big tree"};

uint32_t next(uint32_t* x) {
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

std::string sentences(int n, uint32_t seed) {
    std::string s;
    uint32_t x = seed;
    for (int i = 0; i < n; ++i) {
        s += k_subj[next(&x) % 5];
        s += ' ';
        s += k_verb[next(&x) % 5];
        s += ' ';
        s += k_obj[next(&x) % 5];
        s += (i % 6 == 5) ? ".\n\n" : ". ";
    }
    return s;
}

struct files_t {
    std::string base, q8, q4, held, mc;
};

// A tokenizer and a model trained (80 AdamW steps) on the grammar; Q8_0 and Q4_0 copies; held-out text; multiple
// choice items whose right answer is the grammatical continuation.
const files_t& files() {
    static const files_t f = [] {
        files_t r;
        const fs::path text = scratch() / "train.txt";
        std::ofstream(text, std::ios::binary) << sentences(600, 1);
        const std::string tok_path = (scratch() / "tok.gguf").string();
        fathom_tokenizer_train_options o;
        fathom_tokenizer_train_options_init(&o);
        o.vocab_size = 300;
        o.n_threads = 1;
        const std::string tp = text.string();
        const char* paths[] = {tp.c_str()};
        if (fathom_tokenizer_train(paths, 1, &o, tok_path.c_str()) != FATHOM_OK)
            throw std::runtime_error(fathom_last_error());
        const fathom::io::model_file tok_file = fathom::io::read_gguf(tok_path);
        const fathom::text::tokenizer tok(tok_file);

        fathom::train::train_config c;
        c.n_vocab = tok.n_vocab();
        c.n_ctx = 128;
        c.n_embd = 64;
        c.n_layer = 2;
        c.n_head = 4;
        c.n_head_kv = 2;
        c.n_ff = 128;
        fathom::train::train_model m(c);
        m.init_random(3);
        const std::vector<int32_t> ids = tok.encode(sentences(800, 3), false, false);
        fathom::thread_pool pool(2);
        fathom::train::adamw opt(m.tensors(), int64_t(m.params.size()), {});
        const int64_t b = 8, t = 32;
        std::vector<int32_t> in(size_t(b * t)), tg(in.size());
        for (int step = 1; step <= 80; ++step) {
            for (int64_t row = 0; row < b; ++row) {
                const size_t s0 = size_t((step * 131 + row * 977) % int64_t(ids.size() - size_t(t) - 1));
                for (int64_t i = 0; i < t; ++i) {
                    in[size_t(row * t + i)] = ids[s0 + size_t(i)];
                    tg[size_t(row * t + i)] = ids[s0 + size_t(i) + 1];
                }
            }
            m.zero_grad();
            m.forward(pool, in.data(), tg.data(), b, t);
            m.backward(pool);
            opt.step(pool, m.params.data(), m.grads.data(), 3e-3f);
        }
        r.base = (scratch() / "base.gguf").string();
        fathom::io::write_gguf(r.base, m.to_model_file(&tok_file, "eval-test"));
        for (auto [type, out] : {std::pair<const char*, std::string*>{"q8_0", &r.q8}, {"q4_0", &r.q4}}) {
            *out = (scratch() / (std::string(type) + ".gguf")).string();
            fathom::quant::quantize_params qp;
            qp.type = type;
            fathom::quant::quantize_model(fathom::io::read_gguf(r.base), *out, qp);
        }
        r.held = (scratch() / "held.txt").string();
        std::ofstream(r.held, std::ios::binary) << sentences(150, 99);
        r.mc = (scratch() / "mc.jsonl").string();
        std::ofstream mc(r.mc, std::ios::binary);
        uint32_t x = 7;
        for (int i = 0; i < 20; ++i) {  // "<subject> <verb>" -> an object (right) or another verb (wrong)
            const std::string ctx = std::string(k_subj[next(&x) % 5]) + " " + k_verb[next(&x) % 5];
            const std::string right = std::string(" ") + k_obj[next(&x) % 5] + ".";
            const std::string wrong = std::string(" ") + k_verb[next(&x) % 5] + ".";
            const int label = int(next(&x) % 2);
            mc << json{{"context", ctx}, {"choices", label ? json{wrong, right} : json{right, wrong}}, {"label", label}}.dump()
               << "\n";
        }
        return r;
    }();
    return f;
}

json read_json(const std::string& path) {
    std::ifstream in(path);
    return json::parse(in);
}

TEST(EvalCli, MeasuresEverythingAndWritesJsonAndHtml) {
    const files_t& f = files();
    const std::string out = (scratch() / "base.json").string(), html = (scratch() / "base.html").string();
    chat_test::result r = chat_test::run_cli({"eval", "-m", f.base, "--label", "base", "--text", f.held, "--ctx", "64",
                                              "--mc", f.mc, "--gen-text", f.held, "--gen-items", "6", "--gen-prompt",
                                              "24", "--gen-tokens", "12", "--latency", "--latency-prompt", "32",
                                              "--latency-gen", "8", "--latency-reps", "2", "-t", "2", "--json", out,
                                              "--html", html, "--outputs"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("perplexity "), std::string::npos) << r.out;
    const json j = read_json(out);
    const double ppl = j["perplexity"]["ppl"].get<double>();
    EXPECT_GT(ppl, 1.0);
    EXPECT_LT(ppl, 8.0);  // the grammar leaves few choices per token once learnt
    EXPECT_EQ(j["perplexity"]["n_ctx"], 64);
    EXPECT_EQ(j["perplexity"]["tokens_scored"].get<int64_t>(), j["perplexity"]["chunks"].get<int64_t>() * 31);
    EXPECT_EQ(j["choices"]["items"], 20);
    EXPECT_GE(j["choices"]["acc"].get<double>(), 0.8);
    EXPECT_EQ(j["generation"]["items"], 6);
    EXPECT_EQ(j["generation"]["outputs"].size(), 6u);
    EXPECT_GT(j["generation"]["bleu4"].get<double>(), 0.0);
    EXPECT_GT(j["generation"]["rouge_l"].get<double>(), 0.1);
    EXPECT_GT(j["latency"]["ttft_ms"].get<double>(), 0.0);
    EXPECT_GT(j["latency"]["decode_tok_s"].get<double>(), 0.0);
    EXPECT_GT(j["memory"]["peak_rss_bytes"].get<double>(), 1e6);
    std::printf("[ eval ] ppl %.3f, acc %.2f, BLEU-4 %.4f, ROUGE-L %.3f\n", ppl, j["choices"]["acc"].get<double>(),
                j["generation"]["bleu4"].get<double>(), j["generation"]["rouge_l"].get<double>());
    EXPECT_EQ(j["model"]["label"], "base");
    EXPECT_NEAR(j["model"]["bits_per_weight"].get<double>(), 32.0, 1e-9);  // written in F32
    const std::string page = chat_test::slurp(html);
    EXPECT_NE(page.find("<svg"), std::string::npos);
    EXPECT_NE(page.find("base"), std::string::npos);
}

TEST(EvalCli, QuantisedCopiesAgainstTheReference) {
    const files_t& f = files();
    const std::string out = (scratch() / "quant.json").string(), html = (scratch() / "quant.html").string();
    chat_test::result r = chat_test::run_cli({"eval", "-m", f.base, "-m", f.q8, "-m", f.q4, "--label", "f32", "--label",
                                              "q8_0", "--label", "q4_0", "--ref", f.base, "--text", f.held, "--ctx",
                                              "64", "-t", "2", "--json", out, "--html", html});
    ASSERT_EQ(r.rc, 0) << r.err;
    const json j = read_json(out);
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), 3u);
    const json& same = j[0]["perplexity"]["reference"];
    EXPECT_LT(same["kld_mean"].get<double>(), 1e-9);
    EXPECT_EQ(same["top1_agreement"].get<double>(), 1.0);
    const double k8 = j[1]["perplexity"]["reference"]["kld_mean"].get<double>();
    const double k4 = j[2]["perplexity"]["reference"]["kld_mean"].get<double>();
    std::printf("[ eval ] KLD q8_0 %.3g, q4_0 %.3g; top-1 q8_0 %.4f\n", k8, k4,
                j[1]["perplexity"]["reference"]["top1_agreement"].get<double>());
    EXPECT_GT(k8, 0.0);
    EXPECT_GT(k4, 4 * k8);  // 4-bit weights lose far more than 8-bit ones
    EXPECT_GT(j[1]["perplexity"]["reference"]["top1_agreement"].get<double>(), 0.95);
    EXPECT_LT(j[1]["model"]["bits_per_weight"].get<double>(), 9.0);
    EXPECT_LT(j[2]["model"]["bits_per_weight"].get<double>(), j[1]["model"]["bits_per_weight"].get<double>());
    // the report re-rendered from the saved JSON together with another run's
    const std::string html2 = (scratch() / "both.html").string(), other = (scratch() / "other.json").string();
    r = chat_test::run_cli({"eval", "-m", f.base, "--label", "other", "--text", f.held, "--ctx", "64", "--json", other});
    ASSERT_EQ(r.rc, 0) << r.err;
    r = chat_test::run_cli({"eval", out, other, "--html", html2, "--title", "two runs"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::string page = chat_test::slurp(html2);
    for (const char* l : {"q8_0", "q4_0", "other", "two runs", "KL divergence against size"})
        EXPECT_NE(page.find(l), std::string::npos) << l;
}

TEST(EvalCli, BadInputFailsWithOneLine) {
    const files_t& f = files();
    const std::string bad = (scratch() / "bad.jsonl").string();
    std::ofstream(bad, std::ios::binary) << "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 1}\n"
                                         << "{\"context\": \"a\", \"label\": 0}\n";
    chat_test::result r = chat_test::run_cli({"eval", "-m", f.base, "--mc", bad});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "fathom: " + bad + ":2: missing \"choices\"\n");
    std::ofstream(bad, std::ios::binary) << "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 2}\n";
    r = chat_test::run_cli({"eval", "-m", f.base, "--mc", bad});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "fathom: " + bad + ":1: \"label\" must be an integer index into \"choices\"\n");
    std::ofstream(bad, std::ios::binary) << "{\"prompt\": \"a\"\n";
    r = chat_test::run_cli({"eval", "-m", f.base, "--gen", bad});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "fathom: " + bad + ":1: not valid JSON\n");
    r = chat_test::run_cli({"eval", "-m", f.base, "--ref", f.q8});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("--ref needs --text"), std::string::npos) << r.err;
    r = chat_test::run_cli({"eval", "-m", f.base, "--text", (scratch() / "missing.txt").string()});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("missing.txt: cannot open"), std::string::npos) << r.err;
    r = chat_test::run_cli({"eval", "-m", f.base, "--text", f.held, "--ctx", "4096"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("exceeds the model's context 128"), std::string::npos) << r.err;
    r = chat_test::run_cli({"eval", "-m", f.base});
    EXPECT_EQ(r.rc, 2);
}

// `fathom calibrate` then `fathom quantize --imatrix`: the imatrix covers every matmul weight and is used.
TEST(EvalCli, CalibrateThenQuantizeWithImportance) {
    const files_t& f = files();
    const std::string im = (scratch() / "im.gguf").string(), q = (scratch() / "q4-im.gguf").string();
    const std::string calib = (scratch() / "train.txt").string();
    chat_test::result r = chat_test::run_cli({"calibrate", "-m", f.base, "--data", calib, "-o", im, "--ctx", "64",
                                              "--chunks", "8", "-t", "2"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const fathom::io::model_file mf = fathom::io::read_gguf(im);
    EXPECT_EQ(mf.find("general.type")->s, "imatrix");
    EXPECT_EQ(mf.find("imatrix.chunk_count")->as_int("c"), 8);
    EXPECT_EQ(mf.tensors.size(), 2u * (7 * 2 + 1));  // in_sum2 and counts of 7 matmuls x 2 layers + output
    r = chat_test::run_cli({"quantize", f.base, q, "--type", "q4_0", "--imatrix", im});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("used for 15 tensors"), std::string::npos) << r.out;
    const std::string out = (scratch() / "im.json").string();
    r = chat_test::run_cli({"eval", "-m", f.q4, "-m", q, "--ref", f.base, "--text", f.held, "--ctx", "64", "-t", "2",
                            "--json", out});
    ASSERT_EQ(r.rc, 0) << r.err;
    const json j = read_json(out);
    std::printf("[ eval ] q4_0 KLD without / with imatrix: %.4g / %.4g\n",
                j[0]["perplexity"]["reference"]["kld_mean"].get<double>(),
                j[1]["perplexity"]["reference"]["kld_mean"].get<double>());
    // errors: not an imatrix, and missing data
    r = chat_test::run_cli({"quantize", f.base, q, "--type", "q4_0", "--imatrix", f.base});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find(f.base + ": tensor '"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is neither <weight>.in_sum2 nor <weight>.counts"), std::string::npos) << r.err;
    r = chat_test::run_cli({"calibrate", "-m", f.base, "--data", (scratch() / "none.txt").string(), "-o", im});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("none.txt: cannot open"), std::string::npos) << r.err;
}

// `fathom quantize --plan auto`: a per-tensor plan within the size budget, reusable sensitivities, and errors.
TEST(EvalCli, PlanAutoMeetsTheBudget) {
    const files_t& f = files();
    const std::string out = (scratch() / "plan.gguf").string(), plan = (scratch() / "plan.json").string();
    const std::string calib = (scratch() / "train.txt").string();
    chat_test::result r = chat_test::run_cli({"quantize", f.base, out, "--plan", "auto", "--target-bpw", "6",
                                              "--calib", calib, "--calib-ctx", "64", "--calib-chunks", "2",
                                              "--plan-out", plan, "-t", "2"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("plan: "), std::string::npos) << r.out;
    const json j = read_json(plan);
    const double bpw = j["plan"]["bits_per_weight"].get<double>();
    EXPECT_LE(bpw, 6.0);
    EXPECT_GT(bpw, 5.0);  // the budget is used
    EXPECT_EQ(j["plan"]["tensors"].size(), 16u);  // 7 matmuls x 2 layers, embeddings, output
    EXPECT_EQ(j["sensitivity"]["tensors"].size(), 16u);
    // the written file has the planned types and size
    const fathom::io::model_file m = fathom::io::read_gguf(out);
    for (const json& t : j["plan"]["tensors"])
        EXPECT_STREQ(fathom::dtype_name(m.find_tensor(t["name"].get<std::string>())->type),
                     t["type"].get<std::string>().c_str());
    double bits = 0, n = 0;
    for (const auto& t : m.tensors) bits += 8.0 * double(t.nbytes), n += double(t.nelements());
    EXPECT_NEAR(bits / n, bpw, 1e-9);
    // reusing the sensitivities gives the same plan without calibration data; a tighter budget a smaller file
    const std::string out2 = (scratch() / "plan2.gguf").string();
    r = chat_test::run_cli({"quantize", f.base, out2, "--plan", "auto", "--target-bpw", "5", "--sensitivity", plan});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_LT(fs::file_size(out2), fs::file_size(out));
    // the report shows the sensitivities as a heat map
    const std::string html = (scratch() / "plan.html").string();
    r = chat_test::run_cli({"eval", "-m", out, "--ref", f.base, "--text", f.held, "--ctx", "64", "--sensitivity", plan,
                            "--html", html});
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::string page = chat_test::slurp(html);
    EXPECT_NE(page.find("Per-tensor sensitivity"), std::string::npos);
    EXPECT_NE(page.find("blk.1.ffn_down.weight"), std::string::npos);
    r = chat_test::run_cli({"quantize", f.base, out2, "--plan", "auto", "--target-bpw", "2", "--sensitivity", plan});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("2.000 bits per weight cannot be reached"), std::string::npos) << r.err;
    r = chat_test::run_cli({"quantize", f.base, out2, "--plan", "auto", "--calib", calib});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("needs --target-bpw or --max-kld"), std::string::npos) << r.err;
}

}  // namespace

// Training end to end on a tiny model: a tokenizer from fathom_tokenizer_train, token shards, fathom_train through
// the C API and `fathom train` as a program. The loss drops, the exported model loads and generates, runs are
// deterministic, a run interrupted and resumed reproduces the uninterrupted one bit for bit, gradient accumulation
// matches one large batch, and bad configs fail with one line naming the file and key.
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/chat-test-util.h"
#include "data/shards.h"
#include "fathom/fathom.h"
#include "io/model-file.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path scratch() {
    static const fs::path dir = [] {
        fs::path d = chat_test::scratch_dir() / "train";
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

// Sentences from a small grammar: plenty of structure for a tiny model to learn.
std::string corpus(int n, uint32_t seed) {
    static const char* const subj[] = {"the cat", "a dog", "my friend", "the old man", "a small bird", "the teacher"};
    static const char* const verb[] = {"sat on", "looked at", "walked to", "jumped over", "talked about", "found"};
    static const char* const obj[] = {"the mat", "a red ball", "the green house", "the river", "a big tree", "the door"};
    std::string s;
    uint32_t x = seed;
    auto next = [&] {
        x = x * 1664525u + 1013904223u;
        return x >> 8;
    };
    for (int i = 0; i < n; ++i) {
        s += subj[next() % 6];
        s += ' ';
        s += verb[next() % 6];
        s += ' ';
        s += obj[next() % 6];
        s += ". ";
    }
    return s;
}

// Shared inputs: tokenizer, train and validation shards (made once per test program).
struct fixture_files {
    std::string tokenizer, train_shard, val_shard, bad_vocab_shard;
    int64_t n_vocab = 0;
};

void check(fathom_status s) { ASSERT_EQ(s, FATHOM_OK) << fathom_last_error(); }

const fixture_files& files() {
    static const fixture_files f = [] {
        fixture_files r;
        const fs::path text = scratch() / "corpus.txt";
        std::ofstream(text, std::ios::binary) << corpus(600, 1);
        r.tokenizer = (scratch() / "tok.gguf").string();
        fathom_tokenizer_train_options o;
        fathom_tokenizer_train_options_init(&o);
        o.vocab_size = 320;
        o.n_threads = 1;
        const std::string t = text.string();
        const char* paths[] = {t.c_str()};
        if (fathom_tokenizer_train(paths, 1, &o, r.tokenizer.c_str()) != FATHOM_OK)
            throw std::runtime_error(fathom_last_error());

        fathom_model_options mo;
        fathom_model_options_init(&mo);
        mo.vocab_only = 1;
        fathom_model* m = nullptr;
        if (fathom_model_load(r.tokenizer.c_str(), &mo, &m) != FATHOM_OK) throw std::runtime_error(fathom_last_error());
        fathom_model_info info{};
        info.struct_size = sizeof info;
        fathom_model_get_info(m, &info);
        r.n_vocab = info.n_vocab;
        auto tokenize = [&](const std::string& s) {
            std::vector<int32_t> ids(s.size() + 8);
            int64_t n = 0;
            if (fathom_tokenize(m, s.data(), s.size(), 0, 0, ids.data(), int64_t(ids.size()), &n) != FATHOM_OK)
                throw std::runtime_error(fathom_last_error());
            ids.resize(size_t(n));
            return ids;
        };
        const std::vector<int32_t> train = tokenize(corpus(3000, 2)), val = tokenize(corpus(300, 3));
        fathom_model_free(m);
        r.train_shard = (scratch() / "train-00000.bin").string();
        r.val_shard = (scratch() / "val-00000.bin").string();
        r.bad_vocab_shard = (scratch() / "bad-vocab.bin").string();
        fathom::data::write_token_shard(r.train_shard, train.data(), int64_t(train.size()), r.n_vocab);
        fathom::data::write_token_shard(r.val_shard, val.data(), int64_t(val.size()), r.n_vocab);
        fathom::data::write_token_shard(r.bad_vocab_shard, val.data(), int64_t(val.size()), r.n_vocab + 1);
        return r;
    }();
    return f;
}

json base_config(const std::string& out) {
    const fixture_files& f = files();
    return json{
        {"model", {{"n_ctx", 64}, {"n_embd", 32}, {"n_layer", 2}, {"n_head", 4}, {"n_head_kv", 2}, {"n_ff", 64}}},
        {"tokenizer", f.tokenizer},
        {"train_data", {f.train_shard}},
        {"val_data", {f.val_shard}},
        {"batch_size", 8},
        {"seq_len", 32},
        {"steps", 100},
        {"lr", 1e-2},
        {"min_lr", 1e-3},
        {"warmup", 10},
        {"weight_decay", 0.1},
        {"grad_clip", 1.0},
        {"seed", 3},
        {"threads", 2},
        {"eval_every", 50},
        {"eval_batches", 2},
        {"log_every", 1},
        {"out", out},
    };
}

std::string write_config(const std::string& name, const json& j) {
    const std::string p = (scratch() / (name + ".json")).string();
    std::ofstream(p) << j.dump(2);
    return p;
}

struct progress_log {
    std::vector<fathom_train_progress> steps;
    std::vector<std::string> out_dirs;  // p->out_dir is valid during the call only
};

void record(const fathom_train_progress* p, void* user) {
    auto* log = static_cast<progress_log*>(user);
    log->steps.push_back(*p);
    log->steps.back().out_dir = nullptr;
    log->out_dirs.emplace_back(p->out_dir);
}

fathom_status train(const std::string& cfg, int resume = 0, int64_t stop_after = 0, progress_log* log = nullptr) {
    fathom_train_options o;
    fathom_train_options_init(&o);
    o.config_path = cfg.c_str();
    o.resume = resume;
    o.stop_after = stop_after;
    if (log) {
        o.progress = record;
        o.progress_user_data = log;
    }
    return fathom_train(&o);
}

// log.jsonl without the timing fields, one JSON object per line.
std::vector<json> read_log(const std::string& out) {
    std::ifstream in(fs::path(out) / "log.jsonl");
    std::vector<json> lines;
    std::string line;
    while (std::getline(in, line)) {
        json j = json::parse(line);
        j.erase("tokens_per_s");
        j.erase("elapsed_s");
        lines.push_back(j);
    }
    return lines;
}

std::map<std::string, std::vector<float>> read_params(const std::string& path) {
    const fathom::io::model_file f = fathom::io::read_gguf(path);
    std::map<std::string, std::vector<float>> out;
    for (const auto& t : f.tensors) {
        EXPECT_EQ(t.type, fathom::dtype::DTYPE_F32) << t.name;
        const float* d = static_cast<const float*>(t.data);
        out[t.name].assign(d, d + t.nelements());
    }
    return out;
}

TEST(TrainEndToEnd, LossDropsAndTheModelGenerates) {
    const std::string out = (scratch() / "run-e2e").string();
    progress_log pl;
    check(train(write_config("e2e", base_config(out)), 0, 0, &pl));

    ASSERT_EQ(pl.steps.size(), 100u);
    for (size_t i = 0; i < pl.steps.size(); ++i) {
        const fathom_train_progress& p = pl.steps[i];
        EXPECT_EQ(p.step, int64_t(i + 1));
        EXPECT_EQ(p.total_steps, 100);
        EXPECT_EQ(std::isnan(p.val_loss), p.step != 50 && p.step != 100) << p.step;
        EXPECT_GT(p.tokens_per_s, 0);
        EXPECT_EQ(p.logged, 1);
        EXPECT_EQ(pl.out_dirs[i], out);
    }
    EXPECT_FLOAT_EQ(pl.steps[0].lr, 1e-3f);   // warmup: 1/10 of the peak
    EXPECT_FLOAT_EQ(pl.steps[9].lr, 1e-2f);   // peak
    EXPECT_FLOAT_EQ(pl.steps[99].lr, 1e-3f);  // min_lr at the end
    const float first = pl.steps[0].loss, last = pl.steps[99].loss;
    EXPECT_NEAR(first, std::log(float(files().n_vocab)), 0.3f);  // a fresh model is close to uniform
    EXPECT_LT(last, 0.6f * first) << "loss " << first << " -> " << last;
    EXPECT_LT(pl.steps[99].val_loss, 0.6f * first);

    // log.jsonl: one line per step plus two evaluations
    const std::vector<json> lines = read_log(out);
    ASSERT_EQ(lines.size(), 102u);
    EXPECT_EQ(lines[0]["step"], 1);
    EXPECT_FLOAT_EQ(lines[0]["loss"].get<float>(), first);
    EXPECT_TRUE(lines[0].contains("grad_norm") && lines[0].contains("lr"));
    EXPECT_EQ(lines[50]["step"], 50);
    EXPECT_NEAR(lines[50]["val_ppl"].get<double>(), std::exp(lines[50]["val_loss"].get<double>()), 1e-3);
    EXPECT_TRUE(fs::exists(fs::path(out) / "checkpoint.gguf"));

    // The exported model loads and generates through the C API.
    const std::string model_path = (fs::path(out) / "model.gguf").string();
    fathom_model* m = nullptr;
    check(fathom_model_load(model_path.c_str(), nullptr, &m));
    fathom_model_info info{};
    info.struct_size = sizeof info;
    check(fathom_model_get_info(m, &info));
    EXPECT_EQ(info.n_vocab, files().n_vocab);
    EXPECT_EQ(info.n_layer, 2);
    EXPECT_EQ(info.n_head_kv, 2);
    int64_t idx = 0;
    check(fathom_model_tensor_find(m, "optimizer.m.token_embd.weight", &idx));
    EXPECT_EQ(idx, -1);  // the exported model carries no optimiser state
    fathom_session_options so;
    fathom_session_options_init(&so);
    so.n_threads = 2;
    fathom_session* s = nullptr;
    check(fathom_session_create(m, &so, &s));
    fathom_sampler_options sp;
    fathom_sampler_options_init(&sp);
    sp.temperature = 0;
    fathom_sampler* smp = nullptr;
    check(fathom_sampler_create(&sp, &smp));
    std::vector<int32_t> prompt(64);
    int64_t n_prompt = 0;
    const std::string text = "the cat sat on";
    check(fathom_tokenize(m, text.data(), text.size(), 0, 0, prompt.data(), 64, &n_prompt));
    std::vector<int32_t> gen;
    fathom_generate_options go;
    fathom_generate_options_init(&go);
    go.max_tokens = 12;
    go.ignore_eos = 1;
    check(fathom_generate(s, smp, prompt.data(), n_prompt, &go,
                          [](int32_t t, void* u) {
                              static_cast<std::vector<int32_t>*>(u)->push_back(t);
                              return 0;
                          },
                          &gen, nullptr));
    EXPECT_EQ(gen.size(), 12u);
    char buf[512];
    size_t len = 0;
    check(fathom_detokenize(m, gen.data(), int64_t(gen.size()), buf, sizeof buf, &len));
    // Trained on the grammar, greedy text continues with its words.
    const std::string g(buf, len);
    EXPECT_NE(g.find("the"), std::string::npos) << g;
    fathom_sampler_free(smp);
    fathom_session_free(s);
    fathom_model_free(m);
}

json short_config(const std::string& out) {
    json j = base_config(out);
    j["steps"] = 20;
    j["warmup"] = 4;
    j["eval_every"] = 5;
    j["checkpoint_every"] = 3;
    return j;
}

TEST(TrainEndToEnd, RunsAreDeterministic) {
    const std::string a = (scratch() / "det-a").string(), b = (scratch() / "det-b").string();
    check(train(write_config("det-a", short_config(a))));
    check(train(write_config("det-b", short_config(b))));
    const std::vector<json> la = read_log(a), lb = read_log(b);
    ASSERT_EQ(la.size(), 24u);  // 20 steps, 4 evaluations
    EXPECT_EQ(la, lb);
    EXPECT_EQ(chat_test::slurp(fs::path(a) / "model.gguf"), chat_test::slurp(fs::path(b) / "model.gguf"));
    // another seed gives another run
    json j = short_config((scratch() / "det-c").string());
    j["seed"] = 4;
    check(train(write_config("det-c", j)));
    EXPECT_NE(read_log((scratch() / "det-c").string()), la);
}

TEST(TrainEndToEnd, ResumeReproducesTheUninterruptedRunBitForBit) {
    const std::string full = (scratch() / "res-full").string(), part = (scratch() / "res-part").string();
    check(train(write_config("res-full", short_config(full))));
    const std::string cfg = write_config("res-part", short_config(part));
    progress_log p1, p2;
    check(train(cfg, 0, 7, &p1));  // interrupted after step 7; checkpoint written there
    ASSERT_EQ(p1.steps.size(), 7u);
    EXPECT_FALSE(fs::exists(fs::path(part) / "model.gguf"));
    {
        const fathom::io::model_file ck = fathom::io::read_gguf((fs::path(part) / "checkpoint.gguf").string());
        ASSERT_NE(ck.find("fathom.train.step"), nullptr);
        EXPECT_EQ(ck.find("fathom.train.step")->as_int("step"), 7);
        EXPECT_NE(ck.find_tensor("optimizer.m.blk.1.ffn_down.weight"), nullptr);
        EXPECT_NE(ck.find_tensor("optimizer.v.output_norm.weight"), nullptr);
        EXPECT_NE(ck.find("fathom.train.config"), nullptr);
        EXPECT_FALSE(fs::exists(fs::path(part) / "checkpoint.gguf.tmp"));
    }
    // Lines past the checkpoint in the log are dropped on resume (here there are none: it stopped at the checkpoint).
    check(train(cfg, 1, 0, &p2));
    ASSERT_EQ(p2.steps.size(), 13u);
    EXPECT_EQ(p2.steps[0].step, 8);
    const std::vector<json> lf = read_log(full), lp = read_log(part);
    ASSERT_EQ(lf.size(), lp.size());
    for (size_t i = 0; i < lf.size(); ++i) EXPECT_EQ(lf[i], lp[i]) << "line " << i;  // losses to the last bit
    EXPECT_EQ(chat_test::slurp(fs::path(full) / "model.gguf"), chat_test::slurp(fs::path(part) / "model.gguf"));

    // A crash after step 9 whose last checkpoint is step 6: the resumed run drops the log lines after step 6 and
    // again ends exactly as the uninterrupted run.
    const std::string late = (scratch() / "res-late").string();
    const std::string cfg_late = write_config("res-late", short_config(late));
    check(train(cfg_late, 0, 6));
    const fs::path ck = fs::path(late) / "checkpoint.gguf", ck6 = fs::path(late) / "checkpoint-6.gguf";
    fs::copy_file(ck, ck6);
    check(train(cfg_late, 1, 9));
    ASSERT_EQ(read_log(late).size(), 10u);  // steps 1..9 and the evaluation at 5
    fs::rename(ck6, ck);
    check(train(cfg_late, 1));
    const std::vector<json> ll = read_log(late);
    ASSERT_EQ(ll.size(), lf.size());
    for (size_t i = 0; i < lf.size(); ++i) EXPECT_EQ(ll[i], lf[i]) << "line " << i;
    EXPECT_EQ(chat_test::slurp(fs::path(full) / "model.gguf"), chat_test::slurp(fs::path(late) / "model.gguf"));

    // Without a checkpoint there is nothing to resume.
    const std::string none = (scratch() / "res-none").string();
    EXPECT_EQ(train(write_config("res-none", short_config(none)), 1), FATHOM_ERR_IO);
    EXPECT_NE(std::string(fathom_last_error()).find("checkpoint.gguf: cannot resume"), std::string::npos)
        << fathom_last_error();
}

TEST(TrainEndToEnd, InitFromContinuesATrainedModel) {
    const std::string base = (scratch() / "init-base").string(), next = (scratch() / "init-next").string();
    progress_log pb, pn;
    check(train(write_config("init-base", short_config(base)), 0, 0, &pb));
    json j = short_config(next);
    j.erase("model");
    j.erase("tokenizer");  // the base model's own tokenizer is used
    j["init_from"] = (fs::path(base) / "model.gguf").string();
    j["steps"] = 3;
    j["warmup"] = 0;
    j["lr"] = 1e-3;
    j["min_lr"] = 1e-3;
    check(train(write_config("init-next", j), 0, 0, &pn));
    ASSERT_EQ(pn.steps.size(), 3u);
    // It starts where the base ended, far below a fresh model's loss.
    EXPECT_LT(pn.steps[0].loss, 0.5f * (pb.steps[0].loss + pb.steps.back().loss));
    EXPECT_NEAR(pn.steps[0].loss, pb.steps.back().loss, 0.25f);
    fathom_model_options mo;
    fathom_model_options_init(&mo);
    mo.vocab_only = 1;
    fathom_model* m = nullptr;
    check(fathom_model_load((fs::path(next) / "model.gguf").string().c_str(), &mo, &m));
    int has = 0;
    check(fathom_model_has_tokenizer(m, &has));
    EXPECT_EQ(has, 1);
    fathom_model_free(m);

    // 'model' and 'init_from' together are refused
    j["model"] = base_config(next)["model"];
    EXPECT_EQ(train(write_config("init-both", j)), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(fathom_last_error()).find("init_from: give either 'model'"), std::string::npos)
        << fathom_last_error();
}

TEST(TrainEndToEnd, AccumulationMatchesOneLargeBatch) {
    // eps = 1 makes each AdamW update nearly linear in the gradient, so float-level differences stay float-level.
    auto cfg = [](const std::string& out, int batch, int accum) {
        json j = base_config(out);
        j["steps"] = 3;
        j["warmup"] = 0;
        j["batch_size"] = batch;
        j["grad_accum"] = accum;
        j["eps"] = 1.0;
        j["grad_clip"] = 0.0;
        j.erase("val_data");
        return j;
    };
    const std::string a = (scratch() / "acc-8x1").string(), b = (scratch() / "acc-4x2").string(),
                      c = (scratch() / "acc-4x1").string();
    check(train(write_config("acc-a", cfg(a, 8, 1))));
    check(train(write_config("acc-b", cfg(b, 4, 2))));
    check(train(write_config("acc-c", cfg(c, 4, 1))));
    const std::vector<json> la = read_log(a), lb = read_log(b), lc = read_log(c);
    ASSERT_EQ(la.size(), 3u);
    ASSERT_EQ(lb.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_NEAR(la[i]["loss"].get<double>(), lb[i]["loss"].get<double>(), 1e-5) << i;
        EXPECT_NEAR(la[i]["grad_norm"].get<double>(), lb[i]["grad_norm"].get<double>(),
                    1e-4 * la[i]["grad_norm"].get<double>())
            << i;
    }
    // half the batch alone is a different gradient
    EXPECT_GT(std::fabs(la[0]["grad_norm"].get<double>() - lc[0]["grad_norm"].get<double>()),
              1e-3 * la[0]["grad_norm"].get<double>());
    const auto pa = read_params((fs::path(a) / "model.gguf").string());
    const auto pb = read_params((fs::path(b) / "model.gguf").string());
    const auto pc = read_params((fs::path(c) / "model.gguf").string());
    double max_ab = 0, max_ac = 0;
    for (const auto& [name, va] : pa) {
        const std::vector<float>& vb = pb.at(name);
        const std::vector<float>& vc = pc.at(name);
        ASSERT_EQ(va.size(), vb.size());
        for (size_t i = 0; i < va.size(); ++i) {
            max_ab = std::max(max_ab, double(std::fabs(va[i] - vb[i])));
            max_ac = std::max(max_ac, double(std::fabs(va[i] - vc[i])));
        }
    }
    EXPECT_LT(max_ab, 2e-6);
    EXPECT_GT(max_ac, 1e-4);  // the comparison can tell batches apart
}

TEST(TrainEndToEnd, ConfigErrorsNameTheFileAndKey) {
    const std::string out = (scratch() / "bad").string();
    auto error_of = [&](const json& j, const std::string& name) {
        const std::string p = write_config(name, j);
        const fathom_status s = train(p);
        EXPECT_NE(s, FATHOM_OK);
        const std::string m = fathom_last_error();
        EXPECT_EQ(m.find('\n'), std::string::npos);
        EXPECT_NE(m.find(p), std::string::npos) << m;
        return m;
    };
    json j = base_config(out);
    j["train_data"] = {files().train_shard, files().bad_vocab_shard};
    std::string m = error_of(j, "bad-vocab");
    EXPECT_NE(m.find("train_data: " + files().bad_vocab_shard + ": n_vocab " + std::to_string(files().n_vocab + 1) +
                     " differs from the tokenizer's " + std::to_string(files().n_vocab)),
              std::string::npos)
        << m;
    j = base_config(out);
    j["seq_len"] = 65;
    EXPECT_NE(error_of(j, "bad-seq").find("seq_len: 65 exceeds model.n_ctx 64"), std::string::npos);
    j = base_config(out);
    j["val_data"] = {"missing.bin"};
    m = error_of(j, "bad-missing");
    EXPECT_NE(m.find("val_data[0]: " + (scratch() / "missing.bin").string() + ": no such shard"), std::string::npos)
        << m;
    j = base_config(out);
    j["learning_rate"] = 0.1;
    EXPECT_NE(error_of(j, "bad-key").find("unknown key 'learning_rate'"), std::string::npos);
    j = base_config(out);
    j["steps"] = "100";
    EXPECT_NE(error_of(j, "bad-type").find("steps: expected an integer, found \"100\""), std::string::npos);
    j = base_config(out);
    j["tokenizer"] = files().train_shard;  // not a GGUF
    m = error_of(j, "bad-tok");
    EXPECT_NE(m.find("tokenizer: "), std::string::npos) << m;
    // a missing config file
    EXPECT_EQ(train((scratch() / "nope.json").string()), FATHOM_ERR_IO);
    EXPECT_NE(std::string(fathom_last_error()).find("nope.json"), std::string::npos);
}

TEST(TrainCli, TrainsResumesAndReports) {
    const std::string out = (scratch() / "cli").string();
    json j = short_config(out);
    j["log_every"] = 5;
    const std::string cfg = write_config("cli", j);
    chat_test::result r = chat_test::run_cli({"train", "--config", cfg, "--stop-after", "10"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("stopped after step 10 of 20"), std::string::npos) << r.out;
    r = chat_test::run_cli({"train", "--config", cfg, "--resume", "-t", "2"});
    ASSERT_EQ(r.rc, 0) << r.err;
    // not a terminal: plain lines for the logged steps (15, 20) and evaluations (15, 20)
    EXPECT_NE(r.err.find("step 15/20  loss "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("step 20/20  val_loss "), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("step 10/20"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("final validation loss "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("perplexity "), std::string::npos) << r.out;
    const std::string model = (fs::path(out) / "model.gguf").string();
    EXPECT_NE(r.out.find("model: " + model), std::string::npos) << r.out;
    // same run as the API's uninterrupted one with this config
    const std::string ref = (scratch() / "cli-ref").string();
    json jr = j;
    jr["out"] = ref;
    check(train(write_config("cli-ref", jr)));
    EXPECT_EQ(read_log(out), read_log(ref));

    // fathom run loads the model
    r = chat_test::run_cli({"run", "-m", model, "-p", "the dog", "-n", "5", "--temp", "0", "-t", "2"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_FALSE(r.out.empty());

    // errors: a bad config exits 1 with one line naming the file; a missing --config exits 2
    json bad = j;
    bad["batch_size"] = 0;
    const std::string bad_cfg = write_config("cli-bad", bad);
    r = chat_test::run_cli({"train", "--config", bad_cfg});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "fathom: " + bad_cfg + ": batch_size: 0 is below the minimum 1\n");
    r = chat_test::run_cli({"train"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("missing --config FILE"), std::string::npos) << r.err;
}

// Ctrl-C during `fathom train`: the step in flight finishes, a checkpoint is written, the command says so and exits
// 130, and --resume continues from that step.
TEST(TrainCli, InterruptKeepsProgressInACheckpoint) {
    const fs::path out = scratch() / "sigint";
    fs::remove_all(out);
    json j = short_config(out.string());
    j["steps"] = 100000;  // runs until interrupted
    j["log_every"] = 1;
    j["eval_every"] = 0;
    j["checkpoint_every"] = 0;
    const std::string cfg = write_config("sigint", j);
    const std::string so = (scratch() / "sigint-out.txt").string(), se = (scratch() / "sigint-err.txt").string();

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, so.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, se.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> args = {FATHOM_CLI, "train", "--config", cfg, "-t", "2"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    ASSERT_EQ(posix_spawn(&pid, FATHOM_CLI, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);

    // wait for three logged steps, then interrupt
    const auto t0 = std::chrono::steady_clock::now();
    auto waited = [&] { return std::chrono::steady_clock::now() - t0 > std::chrono::seconds(120); };
    while (!waited() && (!fs::exists(out / "log.jsonl") || read_log(out.string()).size() < 3))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_EQ(kill(pid, SIGINT), 0);
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && !waited())
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        FAIL() << "fathom train did not stop within 120 s of SIGINT";
    }
    ASSERT_TRUE(WIFEXITED(status)) << "ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WEXITSTATUS(status), 130) << chat_test::slurp(se);

    const std::vector<json> log = read_log(out.string());
    ASSERT_GE(log.size(), 3u);
    const int64_t last = log.back()["step"].get<int64_t>();
    const std::string said = chat_test::slurp(so);
    EXPECT_NE(said.find("interrupted after step " + std::to_string(last) + " of 100000; checkpoint: "),
              std::string::npos)
        << said;
    EXPECT_TRUE(fs::exists(out / "checkpoint.gguf"));
    EXPECT_FALSE(fs::exists(out / "model.gguf"));

    // the checkpoint is at that step: a resumed run takes exactly one more step before --stop-after stops it
    chat_test::result r =
        chat_test::run_cli({"train", "--config", cfg, "--resume", "--stop-after", std::to_string(last + 1)});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("stopped after step " + std::to_string(last + 1) + " of 100000"), std::string::npos) << r.out;
    EXPECT_EQ(read_log(out.string()).size(), log.size() + 1);
}

}  // namespace

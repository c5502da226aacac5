// LoRA fine-tuning end to end: a tiny base model trained here on one kind of sentence, then an adapter trained with
// fathom_tune on another kind. The adapter clearly lowers the fine-tune set's validation loss, is a small fraction
// of the base, loads as a LoRA GGUF; a Q8_0 base (QLoRA-style) tunes too; `fathom tune` runs as a program and its
// errors name the option or file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/chat-test-util.h"
#include "fathom/fathom.h"
#include "io/model-file.h"
#include "io/text/tokenizer.h"
#include "quant/quantize-model.h"
#include "train/model.h"
#include "train/optim.h"

namespace {

namespace fs = std::filesystem;

fs::path scratch() {
    static const fs::path dir = [] {
        fs::path d = chat_test::scratch_dir() / "tune";
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

// Sentences of a small grammar; `kind` picks disjoint phrase sets (the base's text and the fine-tune text).
std::string sentences(int n, uint32_t seed, int kind) {
    static const char* const subj[2][5] = {{"the cat", "a dog", "my friend", "the old man", "a small bird"},
                                           {"the captain", "a sailor", "the crew", "our pilot", "the ship"}};
    static const char* const verb[2][5] = {{"sat on", "looked at", "walked to", "jumped over", "found"},
                                           {"steered toward", "sailed past", "anchored near", "signalled to", "left"}};
    static const char* const obj[2][5] = {{"the mat", "a red ball", "the green house", "the river", "a big tree"},
                                          {"the harbour", "a lighthouse", "the northern reef", "the island", "port"}};
    std::string s;
    uint32_t x = seed;
    auto next = [&] {
        x = x * 1664525u + 1013904223u;
        return x >> 8;
    };
    for (int i = 0; i < n; ++i) {
        s += subj[kind][next() % 5];
        s += ' ';
        s += verb[kind][next() % 5];
        s += ' ';
        s += obj[kind][next() % 5];
        s += '.';
        s += (i % 6 == 5) ? "\n\n" : " ";
    }
    return s;
}

struct files_t {
    std::string base, base_q8, tune_txt, tune_jsonl;
};

// A tokenizer trained on both kinds of text, and a base model trained (60 AdamW steps) on kind 0 only.
const files_t& files() {
    static const files_t f = [] {
        files_t r;
        const fs::path both = scratch() / "both.txt";
        std::ofstream(both, std::ios::binary) << sentences(400, 1, 0) << sentences(400, 2, 1);
        const std::string tok_path = (scratch() / "tok.gguf").string();
        fathom_tokenizer_train_options o;
        fathom_tokenizer_train_options_init(&o);
        o.vocab_size = 300;
        o.n_threads = 1;
        const std::string bp = both.string();
        const char* paths[] = {bp.c_str()};
        if (fathom_tokenizer_train(paths, 1, &o, tok_path.c_str()) != FATHOM_OK)
            throw std::runtime_error(fathom_last_error());
        const fathom::io::model_file tok_file = fathom::io::read_gguf(tok_path);
        const fathom::text::tokenizer tok(tok_file);

        fathom::train::train_config c;
        c.n_vocab = tok.n_vocab();
        c.n_ctx = 64;
        c.n_embd = 64;
        c.n_layer = 2;
        c.n_head = 4;
        c.n_head_kv = 2;
        c.n_ff = 128;
        fathom::train::train_model m(c);
        m.init_random(3);
        const std::vector<int32_t> ids = tok.encode(sentences(600, 3, 0), false, false);
        fathom::thread_pool pool(2);
        fathom::train::adamw opt(m.tensors(), int64_t(m.params.size()), {});
        const int64_t b = 8, t = 32;
        std::vector<int32_t> in(size_t(b * t)), tg(in.size());
        for (int step = 1; step <= 60; ++step) {
            for (int64_t r = 0; r < b; ++r) {
                const size_t s0 = size_t((step * 131 + r * 977) % int64_t(ids.size() - size_t(t) - 1));
                for (int64_t i = 0; i < t; ++i) {
                    in[size_t(r * t + i)] = ids[s0 + size_t(i)];
                    tg[size_t(r * t + i)] = ids[s0 + size_t(i) + 1];
                }
            }
            m.zero_grad();
            m.forward(pool, in.data(), tg.data(), b, t);
            m.backward(pool);
            opt.step(pool, m.params.data(), m.grads.data(), 3e-3f);
        }
        r.base = (scratch() / "base.gguf").string();
        fathom::io::write_gguf(r.base, m.to_model_file(&tok_file, "tune-test-base"));
        r.base_q8 = (scratch() / "base-q8.gguf").string();
        fathom::quant::quantize_params qp;
        qp.type = "q8_0";
        fathom::quant::quantize_model(fathom::io::read_gguf(r.base), r.base_q8, qp);

        r.tune_txt = (scratch() / "tune.txt").string();
        std::ofstream(r.tune_txt, std::ios::binary) << sentences(300, 9, 1);
        r.tune_jsonl = (scratch() / "tune.jsonl").string();
        std::ofstream j(r.tune_jsonl, std::ios::binary);
        for (int d = 0; d < 50; ++d) j << "{\"text\": \"" << sentences(5, 100 + uint32_t(d), 1) << "\"}\n";
        return r;
    }();
    return f;
}

fathom_tune_result tune(const std::string& base, const std::string& data, const std::string& out, int64_t steps,
                        const char* targets = nullptr) {
    fathom_tune_options o;
    fathom_tune_options_init(&o);
    const char* d[] = {data.c_str()};
    o.base = base.c_str();
    o.data = d;
    o.n_data = 1;
    o.out_path = out.c_str();
    o.rank = 4;
    o.alpha = 8;
    o.targets = targets;
    o.steps = steps;
    o.batch_size = 8;
    o.seq_len = 32;
    o.lr = 5e-3;
    o.n_threads = 2;
    fathom_tune_result r;
    r.struct_size = sizeof r;
    EXPECT_EQ(fathom_tune(&o, &r), FATHOM_OK) << fathom_last_error();
    return r;
}

TEST(tune, adapter_lowers_the_fine_tune_sets_validation_loss) {
    const files_t& f = files();
    const std::string out = (scratch() / "adapter.gguf").string();
    const fathom_tune_result r = tune(f.base, f.tune_txt, out, 80, "q,k,v,o");
    std::printf("[ tune ] val loss %.4f -> %.4f; adapter %llu bytes, base %llu bytes (%.2f %%)\n", r.val_loss_before,
                r.val_loss_after, static_cast<unsigned long long>(r.adapter_bytes),
                static_cast<unsigned long long>(r.base_bytes), 100.0 * double(r.adapter_bytes) / double(r.base_bytes));
    EXPECT_GT(r.val_tokens, 50);
    EXPECT_LT(r.val_loss_after, 0.6 * r.val_loss_before) << "the adapter must clearly lower the fine-tune loss";
    EXPECT_LT(double(r.adapter_bytes), 0.05 * double(r.base_bytes));
    const fathom::io::model_file a = fathom::io::read_gguf(out);
    ASSERT_NE(a.find("adapter.type"), nullptr);
    EXPECT_EQ(a.find("adapter.type")->as_string("adapter.type"), "lora");
    EXPECT_NE(a.find_tensor("blk.1.attn_output.weight.lora_b"), nullptr);
    EXPECT_EQ(a.find_tensor("blk.1.ffn_up.weight.lora_b"), nullptr);
}

TEST(tune, quantised_base_and_jsonl_with_some_targets) {
    const files_t& f = files();
    const std::string out = (scratch() / "adapter-q8.gguf").string();
    const fathom_tune_result r = tune(f.base_q8, f.tune_jsonl, out, 60, "q,v,down");
    EXPECT_LT(r.val_loss_after, 0.75 * r.val_loss_before);
    const fathom::io::model_file a = fathom::io::read_gguf(out);
    EXPECT_NE(a.find_tensor("blk.0.attn_v.weight.lora_a"), nullptr);
    EXPECT_EQ(a.find_tensor("blk.0.attn_k.weight.lora_a"), nullptr);
}

TEST(tune, cli_runs_and_errors_name_the_problem) {
    const files_t& f = files();
    const std::string out = (scratch() / "cli-adapter.gguf").string();
    auto r = chat_test::run_cli({"tune", "-m", f.base, "--data", f.tune_txt, "-o", out, "--steps", "5", "--rank", "2",
                                 "--seq-len", "16", "-t", "2"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("validation loss: base"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(out));
    r = chat_test::run_cli({"tune", "-m", f.base, "--data", "/nonexistent/x.txt", "-o", out});
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find("/nonexistent/x.txt"), std::string::npos) << r.err;
    r = chat_test::run_cli({"tune", "-m", f.base, "--data", f.tune_txt, "-o", out, "--targets", "q,zz"});
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find("'zz'"), std::string::npos) << r.err;
    r = chat_test::run_cli({"tune", "-m", f.base, "--data", f.tune_txt, "-o", out, "--rank", "0"});
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find("rank"), std::string::npos) << r.err;
    r = chat_test::run_cli({"tune", "--data", f.tune_txt, "-o", out});
    EXPECT_EQ(r.rc, 2);
}

}  // namespace

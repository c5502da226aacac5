// `fathom data prepare` run as a program: token shards decode back to the kept documents with a tokenizer trained
// through the C API, output is identical for -t 1 and -t 2, the report table counts what was removed, and bad
// command lines or missing inputs fail with one line naming the option or file.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/chat-test-util.h"
#include "data/shards.h"
#include "fathom/fathom.hpp"

namespace {

namespace fs = std::filesystem;

using chat_test::result;
using chat_test::slurp;

fs::path scratch() {
    static const fs::path dir = [] {
        fs::path d = chat_test::scratch_dir() / "data-prepare";
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

result fathom_cli(const std::vector<std::string>& args) { return chat_test::run_cli(args); }

std::vector<std::string> jsonl_texts(const fs::path& p) {
    std::vector<std::string> out;
    std::istringstream in(slurp(p));
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
    return out;
}

// Paragraphs of mixed text: sentences from a small grammar, some repeated (exact duplicates after case folding),
// some too short, some punctuation only, a broken byte.
std::string corpus(int n, uint32_t seed) {
    static const char* const subj[] = {"The engine", "A small model", "Our tokenizer", "Every shard", "The reader",
                                       "Das Modell", "Le moteur", "Ein Satz"};
    static const char* const verb[] = {"reads", "writes", "checks", "counts", "merges", "splits", "keeps", "drops"};
    static const char* const obj[] = {"the tokens", "long documents", "caf\xC3\xA9 menus", "numbers like 42",
                                      "twelve files", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E text", "every line",
                                      "old data"};
    std::string s;
    uint32_t x = seed;
    auto next = [&] {
        x = x * 1664525u + 1013904223u;
        return x >> 8;
    };
    for (int i = 0; i < n; ++i) {
        const uint32_t kind = next() % 20;
        if (kind == 0) {
            s += "tiny\n\n";
            continue;
        }
        if (kind == 1) {
            s += "#### ---- **** //// ;;;;\n\n";
            continue;
        }
        const int sentences = 2 + int(next() % 4);
        std::string para;
        for (int k = 0; k < sentences; ++k) {
            para += subj[next() % 8];
            para += ' ';
            para += verb[next() % 8];
            para += ' ';
            para += obj[next() % 8];
            para += " in step " + std::to_string(next() % 1000) + ". ";
        }
        if (kind == 2) para += "bad\xff byte ";
        s += para + "\r\n\r\n";
        if (kind == 3) s += para + "\n\n";  // an exact duplicate
    }
    return s;
}

// Trains a small byte-level BPE through the C API on its own text (so any test may run alone, as ctest runs them);
// BOS is <|im_start|> (so it is added), EOS <|endoftext|>.
fs::path make_tokenizer() {
    const fs::path out = scratch() / "tok.gguf";
    if (fs::exists(out)) return out;
    const fs::path text = scratch() / "tok-train.txt";
    std::ofstream(text, std::ios::binary) << corpus(400, 1);
    fathom_tokenizer_train_options o;
    fathom_tokenizer_train_options_init(&o);
    o.vocab_size = 400;
    o.bos_token = "<|im_start|>";
    o.n_threads = 1;
    const std::string p = text.string();
    const char* files[] = {p.c_str()};
    EXPECT_EQ(fathom_tokenizer_train(files, 1, &o, out.string().c_str()), FATHOM_OK) << fathom_last_error();
    return out;
}

// Splits concatenated shard tokens into documents: each is BOS ... EOS.
std::vector<std::vector<int32_t>> split_docs(const std::vector<int32_t>& all, int32_t bos, int32_t eos) {
    std::vector<std::vector<int32_t>> docs;
    std::vector<int32_t> cur;
    bool open = false;
    for (int32_t t : all) {
        if (!open) {
            EXPECT_EQ(t, bos);
            open = true;
            cur.clear();
        } else if (t == eos) {
            docs.push_back(cur);
            open = false;
        } else {
            cur.push_back(t);
        }
    }
    EXPECT_FALSE(open);
    return docs;
}

std::vector<int32_t> read_shards(const fs::path& dir, const nlohmann::json& list, int64_t n_vocab) {
    std::vector<int32_t> all;
    for (const auto& s : list) {
        const fathom::data::token_shard t = fathom::data::read_token_shard((dir / s["file"].get<std::string>()).string());
        EXPECT_EQ(t.n_vocab, n_vocab);
        EXPECT_EQ(int64_t(t.tokens.size()), s["tokens"].get<int64_t>());
        all.insert(all.end(), t.tokens.begin(), t.tokens.end());
    }
    return all;
}

}  // namespace

TEST(DataPrepareCli, ShardsDecodeToTheKeptDocuments) {
    const fs::path a = scratch() / "a.txt", out = scratch() / "out-tok";
    std::ofstream(a, std::ios::binary) << corpus(400, 1);
    const fs::path tok = make_tokenizer();
    const result r = fathom_cli({"data", "prepare", a.string(), "-o", out.string(), "--tokenizer", tok.string(),
                                 "--val-fraction", "0.2", "--shard-tokens", "3000", "-t", "2"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("documents read"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tokens train"), std::string::npos) << r.out;

    fathom_model_options mo = fathom::default_model_options();
    mo.vocab_only = 1;
    const fathom::model m(tok.string(), mo);
    ASSERT_EQ(m.info().bos_token, 1);
    ASSERT_EQ(m.info().eos_token, 0);
    const nlohmann::json man = nlohmann::json::parse(slurp(out / "manifest.json"));
    EXPECT_EQ(man["tokenizer"], tok.string());
    EXPECT_EQ(man["n_vocab"], 400);
    EXPECT_EQ(man["shards"]["token_bytes"], 2);
    ASSERT_GT(man["shards"]["train"].size(), 1u);  // 3000-token shards
    for (size_t i = 0; i + 1 < man["shards"]["train"].size(); ++i) EXPECT_EQ(man["shards"]["train"][i]["tokens"], 3000);
    EXPECT_EQ(man["shards"]["train"][0]["file"], "train-00000.bin");
    EXPECT_EQ(man["shards"]["val"][0]["file"], "val-00000.bin");

    for (const char* split : {"train", "val"}) {
        const std::vector<std::string> texts = jsonl_texts(out / (std::string(split) + ".jsonl"));
        ASSERT_FALSE(texts.empty()) << split;
        const std::vector<int32_t> all = read_shards(out, man["shards"][split], 400);
        EXPECT_EQ(int64_t(all.size()), man["report"]["tokens"][split].get<int64_t>());
        const std::vector<std::vector<int32_t>> docs = split_docs(all, 1, 0);
        ASSERT_EQ(docs.size(), texts.size()) << split;
        for (size_t i = 0; i < docs.size(); ++i) {
            EXPECT_EQ(m.detokenize(docs[i]), texts[i]) << split << " " << i;
            EXPECT_EQ(docs[i], m.tokenize(texts[i], false, false)) << split << " " << i;
        }
    }
    // The kept texts are normalised: no CR, no broken bytes left as such.
    const std::string train = slurp(out / "train.jsonl");
    EXPECT_EQ(train.find("\\r"), std::string::npos);
    EXPECT_NE(train.find("bad\xEF\xBF\xBD byte"), std::string::npos);
}

TEST(DataPrepareCli, SameOutputForOneAndTwoThreads) {
    const fs::path a = scratch() / "b.txt", j = scratch() / "c.jsonl";
    std::ofstream(a, std::ios::binary) << corpus(1500, 2);
    std::ofstream(j, std::ios::binary) << "{\"text\": \"A JSON line with enough text in it.\"}\n{oops\n";
    const fs::path tok = make_tokenizer();
    const fs::path o1 = scratch() / "det-1", o2 = scratch() / "det-2";
    const result r1 = fathom_cli({"data", "prepare", a.string(), j.string(), "-o", o1.string(), "--tokenizer",
                                  tok.string(), "--shard-tokens", "5000", "-t", "1"});
    const result r2 = fathom_cli({"data", "prepare", a.string(), j.string(), "-o", o2.string(), "--tokenizer",
                                  tok.string(), "--shard-tokens", "5000", "-t", "2"});
    ASSERT_EQ(r1.rc, 0) << r1.err;
    ASSERT_EQ(r2.rc, 0) << r2.err;
    size_t n_files = 0;
    for (const auto& e : fs::directory_iterator(o1)) {
        const std::string name = e.path().filename().string();
        if (name == "manifest.json") continue;
        EXPECT_EQ(slurp(e.path()), slurp(o2 / name)) << name;
        ++n_files;
    }
    EXPECT_GE(n_files, 4u);  // two JSONL files, several train shards, a val shard
    nlohmann::json m1 = nlohmann::json::parse(slurp(o1 / "manifest.json"));
    nlohmann::json m2 = nlohmann::json::parse(slurp(o2 / "manifest.json"));
    m1["report"].erase("seconds");
    m2["report"].erase("seconds");
    EXPECT_EQ(m1, m2);
    EXPECT_EQ(m1["report"]["removed"]["bad_json_line"], 1);
    EXPECT_NE(r1.err.find(j.string() + ":2: invalid JSON"), std::string::npos) << r1.err;
}

TEST(DataPrepareCli, ReportTableCountsRemovals) {
    const fs::path a = scratch() / "d.txt", out = scratch() / "out-report";
    const std::string keep = "This paragraph is long enough and has plenty of letters.";
    std::ofstream(a, std::ios::binary) << keep << "\n\nshort\n\n" << "THIS paragraph is long enough and has plenty of letters.\n\n"
                                       << "%%%% &&&& %%%% &&&& %%%% &&&&\n\n\x01\x02\n";
    const result r = fathom_cli({"data", "prepare", a.string(), "-o", out.string(), "--val-fraction", "0"});
    ASSERT_EQ(r.rc, 0) << r.err;
    auto row = [&](const std::string& name) {
        const size_t at = r.out.find(name);
        EXPECT_NE(at, std::string::npos) << name << "\n" << r.out;
        if (at == std::string::npos) return int64_t(-1);
        return int64_t(std::stoll(r.out.substr(at + name.size())));
    };
    EXPECT_EQ(row("documents read"), 5);
    EXPECT_EQ(row("  train"), 1);
    EXPECT_EQ(row("  val"), 0);
    EXPECT_EQ(row("removed: empty"), 1);
    EXPECT_EQ(row("removed: too_short"), 1);
    EXPECT_EQ(row("removed: low_alnum"), 1);
    EXPECT_EQ(row("removed: exact_duplicate"), 1);
    EXPECT_EQ(row("removed: near_duplicate"), 0);
    EXPECT_EQ(row("characters out"), int64_t(keep.size()));
    EXPECT_NE(r.out.find("wall time"), std::string::npos);
    EXPECT_EQ(slurp(out / "train.jsonl"), "{\"text\": \"" + keep + "\"}\n");
    EXPECT_EQ(slurp(out / "val.jsonl"), "");
    EXPECT_FALSE(fs::exists(out / "train-00000.bin"));  // no tokenizer, no shards
}

TEST(DataPrepareCli, ErrorsNameTheFileOrOption) {
    const fs::path a = scratch() / "e.txt", missing = scratch() / "no-such-input.txt";
    std::ofstream(a, std::ios::binary) << corpus(10, 3);
    result r = fathom_cli({"data", "prepare", a.string(), missing.string(), "-o", (scratch() / "out-e").string()});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find(missing.string()), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(scratch() / "out-e" / "train.jsonl"));  // nothing written

    r = fathom_cli({"data", "prepare", a.string(), "-o", (scratch() / "out-f").string(), "--tokenizer",
                    (scratch() / "no-tok.gguf").string()});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("no-tok.gguf"), std::string::npos) << r.err;

    r = fathom_cli({"data", "prepare", a.string(), "-o", (scratch() / "out-g").string(), "--split", "sentence"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("--split"), std::string::npos) << r.err;
    r = fathom_cli({"data", "prepare", a.string(), "-o", (scratch() / "out-g").string(), "--near-dup", "1.5"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("--near-dup"), std::string::npos) << r.err;
    r = fathom_cli({"data", "prepare", a.string()});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("-o"), std::string::npos) << r.err;
    r = fathom_cli({"data", "prepare", "-o", (scratch() / "out-g").string()});
    EXPECT_EQ(r.rc, 2);
    r = fathom_cli({"data", "frobnicate"});
    EXPECT_EQ(r.rc, 2);
    r = fathom_cli({"data", "prepare", "--help"});
    EXPECT_EQ(r.rc, 0);
    EXPECT_NE(r.out.find("--near-dup"), std::string::npos);
}

TEST(DataPrepareCli, CApiOptionsAreChecked) {
    const fs::path a = scratch() / "f.txt";
    std::ofstream(a, std::ios::binary) << corpus(10, 4);
    const std::string p = a.string();
    const char* files[] = {p.c_str()};
    fathom_data_prepare_options o;
    fathom_data_prepare_options_init(&o);
    EXPECT_EQ(o.min_chars, 20);
    EXPECT_EQ(o.shard_tokens, 100000000);
    o.split = "words";
    EXPECT_EQ(fathom_data_prepare(files, 1, &o, (scratch() / "out-c").string().c_str(), nullptr),
              FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(fathom_last_error()).find("split"), std::string::npos) << fathom_last_error();
    fathom_data_prepare_options_init(&o);
    o.val_fraction = -0.1;
    EXPECT_EQ(fathom_data_prepare(files, 1, &o, (scratch() / "out-c").string().c_str(), nullptr),
              FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(fathom_last_error()).find("fathom_data_prepare: val_fraction"), std::string::npos)
        << fathom_last_error();
    EXPECT_EQ(fathom_data_prepare(files, 0, nullptr, "x", nullptr), FATHOM_ERR_INVALID_ARGUMENT);
    // Defaults (NULL options) work and fill the stats; progress is reported.
    fathom_data_prepare_options_init(&o);
    int calls = 0;
    o.progress = [](const fathom_data_prepare_stats*, void* u) { ++*static_cast<int*>(u); };
    o.progress_user_data = &calls;
    fathom_data_prepare_stats s{};
    s.struct_size = sizeof s;
    ASSERT_EQ(fathom_data_prepare(files, 1, &o, (scratch() / "out-c").string().c_str(), &s), FATHOM_OK)
        << fathom_last_error();
    EXPECT_GE(calls, 1);
    EXPECT_GT(s.n_docs_read, 0);
    EXPECT_EQ(s.n_docs_read, s.n_kept_train + s.n_kept_val + s.n_empty + s.n_too_short + s.n_too_long +
                                 s.n_low_alnum + s.n_exact_duplicate + s.n_near_duplicate);
    EXPECT_EQ(s.bytes_in, fs::file_size(a));
    EXPECT_EQ(s.n_shards_train, 0);
    ASSERT_EQ(fathom_data_prepare(files, 1, nullptr, (scratch() / "out-d").string().c_str(), nullptr), FATHOM_OK);
    EXPECT_EQ(slurp(scratch() / "out-c" / "train.jsonl"), slurp(scratch() / "out-d" / "train.jsonl"));
}

// Data preparation tests: normalisation, character classes, MinHash against exact Jaccard, the cleaning and
// duplicate rules, split stability, token shard round trips and every reader error, determinism across threads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/dedup.h"
#include "data/normalize.h"
#include "data/prepare.h"
#include "data/shards.h"

using namespace fathom;
using namespace fathom::data;

namespace {

namespace fs = std::filesystem;

fs::path scratch() {
    struct dir_t {
        fs::path path = fs::temp_directory_path() / ("fathom-data-test-" + std::to_string(::getpid()));
        dir_t() { fs::create_directories(path); }
        ~dir_t() {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
    };
    static const dir_t dir;
    return dir.path;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void spit(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

// Texts of a JSONL file written by prepare_data.
std::vector<std::string> jsonl_texts(const fs::path& p) {
    std::vector<std::string> out;
    std::istringstream in(slurp(p));
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
    return out;
}

// A document of n pseudo-random words from a 500-word vocabulary.
std::vector<std::string> random_words(int n, uint32_t seed) {
    std::vector<std::string> w;
    uint32_t x = seed * 2654435761u + 1;
    for (int i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        const uint32_t k = (x >> 8) % 500;
        std::string word = "w";  // (built step by step: GCC 12 warns falsely (-Wrestrict) on chains of +)
        word += std::to_string(k);
        word += char('a' + k % 26);
        w.push_back(word);
    }
    return w;
}
std::string join(const std::vector<std::string>& w) {
    std::string s;
    for (const std::string& x : w) s += (s.empty() ? "" : " ") + x;
    return s;
}

// Exact Jaccard similarity of the word 5-gram sets (the oracle for the MinHash estimate).
double exact_jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    auto shingles = [](const std::vector<std::string>& w) {
        std::set<std::string> s;
        for (size_t i = 0; i + 5 <= w.size(); ++i) {
            std::string k;
            for (size_t j = 0; j < 5; ++j) k += w[i + j] + " ";
            s.insert(k);
        }
        return s;
    };
    const std::set<std::string> sa = shingles(a), sb = shingles(b);
    size_t inter = 0;
    for (const std::string& s : sa) inter += sb.count(s);
    return double(inter) / double(sa.size() + sb.size() - inter);
}

// A byte-level "tokenizer": byte b is token b + 3; 0 = BOS, 1 = EOS.
text_encoder byte_encoder() {
    text_encoder e;
    e.n_vocab = 259;
    e.bos = 0;
    e.eos = 1;
    e.encode = [](std::string_view t, std::vector<int32_t>& ids) {
        ids.clear();
        for (char c : t) ids.push_back(int32_t(uint8_t(c)) + 3);
    };
    return e;
}

// Documents back from shards written with byte_encoder.
std::vector<std::string> decode_byte_shards(const fs::path& dir, const std::vector<shard_file>& shards) {
    std::vector<int32_t> all;
    for (const shard_file& s : shards) {
        const token_shard t = read_token_shard((dir / s.name).string());
        EXPECT_EQ(t.n_vocab, 259);
        EXPECT_EQ(int64_t(t.tokens.size()), s.n_tokens);
        all.insert(all.end(), t.tokens.begin(), t.tokens.end());
    }
    std::vector<std::string> docs;
    std::string cur;
    bool open = false;
    for (int32_t t : all) {
        if (t == 0) {
            EXPECT_FALSE(open);
            open = true;
            cur.clear();
        } else if (t == 1) {
            EXPECT_TRUE(open);
            open = false;
            docs.push_back(cur);
        } else {
            cur += char(t - 3);
        }
    }
    EXPECT_FALSE(open);
    return docs;
}

std::string norm(const std::string& s, int64_t* invalid = nullptr) {
    normalize_stats st;
    std::string r = normalize_text(s, &st);
    if (invalid) *invalid = st.n_invalid;
    return r;
}

const std::string k_fffd = "\xEF\xBF\xBD";

}  // namespace

// ---------------------------------------------------------------- normalisation

TEST(data_normalize, line_ends) {
    EXPECT_EQ(norm("a\r\nb\rc\n\rd"), "a\nb\nc\n\nd");
    EXPECT_EQ(norm("a\r\r\r\rb"), "a\n\nb");
}

TEST(data_normalize, controls_removed_tab_and_newline_kept) {
    EXPECT_EQ(norm("a\x01" "b\x7f\tc\x1b[0m"), "ab\tc[0m");
    EXPECT_EQ(norm("x\xC2\x85y\xEF\xBB\xBFz"), "xyz");  // U+0085 (C1 control), U+FEFF
    EXPECT_EQ(norm("\x01\x02\x03"), "");
    EXPECT_EQ(norm("a\fb\vc"), "abc");
}

TEST(data_normalize, nfc_composes_decomposed_text) {
    const std::string composed = "caf\xC3\xA9 \xC3\x85ngstr\xC3\xB6m";      // café Ångström
    const std::string decomposed = "cafe\xCC\x81 A\xCC\x8Angstro\xCC\x88m";  // e + U+0301, A + U+030A, o + U+0308
    EXPECT_EQ(norm(decomposed), composed);
    EXPECT_EQ(norm(composed), composed);
    EXPECT_EQ(norm("\xE2\x84\xAB"), "\xC3\x85");  // U+212B ANGSTROM SIGN -> U+00C5 (canonical singleton)
    EXPECT_EQ(norm("\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");  // Hangul jamo -> U+AC00
}

TEST(data_normalize, invalid_utf8_replaced_and_counted) {
    int64_t n = 0;
    EXPECT_EQ(norm("a\xff" "b", &n), "a" + k_fffd + "b");
    EXPECT_EQ(n, 1);
    EXPECT_EQ(norm("a\xE2\x82" "b", &n), "a" + k_fffd + "b");  // truncated sequence: one maximal subpart
    EXPECT_EQ(n, 1);
    EXPECT_EQ(norm("a\xC0\xAF" "b", &n), "a" + k_fffd + k_fffd + "b");  // overlong lead, lone continuation
    EXPECT_EQ(n, 2);
    EXPECT_EQ(norm("a\xED\xA0\x80" "b", &n), "a" + k_fffd + k_fffd + k_fffd + "b");  // surrogate
    EXPECT_EQ(n, 3);
    EXPECT_EQ(norm("a\xF0\x9F\x98", &n), "a" + k_fffd);  // cut at the end
    EXPECT_EQ(n, 1);
    EXPECT_EQ(norm("ok \xF0\x9F\x98\x80 \xE2\x82\xAC", &n), "ok \xF0\x9F\x98\x80 \xE2\x82\xAC");  // valid
    EXPECT_EQ(n, 0);
    std::string r = "ok \xE2\x82\xAC \xC3";
    EXPECT_EQ(repair_utf8(r), 1);
    EXPECT_EQ(r, "ok \xE2\x82\xAC " + k_fffd);
    r = "a\xED\xA0\x80z";
    EXPECT_EQ(repair_utf8(r), 3);
    EXPECT_EQ(norm("a\xED\xA0\x80z"), r);  // the same replacements as normalize_text
    normalize_stats st;
    normalize_text("\x80\x80x\xF8", &st);
    EXPECT_EQ(st.n_invalid, 3);
    EXPECT_EQ(st.chars_in, 4);
}

TEST(data_normalize, white_space) {
    EXPECT_EQ(norm("  \n\t a  b \t\n\n\n\n  c\t\n \n"), "a  b\n\n  c");  // indentation inside is kept
    EXPECT_EQ(norm("x\n\ny"), "x\n\ny");
    EXPECT_EQ(norm("x\n\n\ny"), "x\n\ny");
    EXPECT_EQ(norm("x \xC2\xA0\n\xE3\x80\x80y\xE3\x80\x80"), "x\n\xE3\x80\x80y");  // NBSP, ideographic space
    EXPECT_EQ(norm(" \t\n \r\n "), "");
}

TEST(data_normalize, char_counts_are_unicode_aware) {
    char_counts c = count_chars("abc 12 !!");
    EXPECT_EQ(c.n_chars, 9);
    EXPECT_EQ(c.n_alnum, 5);
    c = count_chars("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");  // 日本語
    EXPECT_EQ(c.n_chars, 3);
    EXPECT_EQ(c.n_alnum, 3);
    c = count_chars("\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8");  // हिन: letter, vowel sign (Mc), letter
    EXPECT_EQ(c.n_chars, 3);
    EXPECT_EQ(c.n_alnum, 3);
    c = count_chars("\xE2\x80\x94\xF0\x9F\x98\x80\xD9\xA3");  // em dash, emoji, Arabic-Indic digit three
    EXPECT_EQ(c.n_chars, 3);
    EXPECT_EQ(c.n_alnum, 1);
}

TEST(data_normalize, dedup_key_folds_case_and_space) {
    EXPECT_EQ(dedup_key("Hello   World\n\n\t\xC3\x89" "COLE"), "hello world \xC3\xA9" "cole");
    EXPECT_EQ(dedup_key("a\xE3\x80\x80" "B"), "a b");
}

// ---------------------------------------------------------------- MinHash and LSH

TEST(data_minhash, estimate_tracks_exact_jaccard) {
    const minhasher h(0);
    const std::vector<std::string> base = random_words(400, 1);
    std::vector<uint64_t> sa(k_minhash_size), sb(k_minhash_size);
    h.signature(join(base), sa.data());
    for (int changed : {0, 4, 20, 60, 150, 400}) {
        std::vector<std::string> other = base;
        const std::vector<std::string> repl = random_words(changed, 99);
        for (int i = 0; i < changed; ++i) other[size_t(i) * 400 / size_t(changed ? changed : 1)] = repl[size_t(i)] + "x";
        h.signature(join(other), sb.data());
        const double exact = exact_jaccard(base, other), est = minhash_similarity(sa.data(), sb.data());
        EXPECT_NEAR(est, exact, 0.13) << changed << " words changed";
    }
}

TEST(data_minhash, short_texts_use_word_sets) {
    const minhasher h(3);
    std::vector<uint64_t> a(k_minhash_size), b(k_minhash_size), c(k_minhash_size);
    h.signature("alpha beta gamma", a.data());
    h.signature("gamma alpha beta beta", b.data());  // same set of words
    h.signature("delta epsilon", c.data());
    EXPECT_EQ(a, b);
    EXPECT_LT(minhash_similarity(a.data(), c.data()), 0.1);
}

TEST(data_minhash, lsh_bands_catch_pairs_at_the_threshold) {
    for (double t : {0.5, 0.8, 0.9}) {
        near_dup_index idx(t);
        EXPECT_LE(idx.rows() * idx.bands(), k_minhash_size);
        const double p = 1.0 - std::pow(1.0 - std::pow(t, idx.rows()), idx.bands());
        EXPECT_GE(p, 0.99) << t;
        const double p_next = 1.0 - std::pow(1.0 - std::pow(t, idx.rows() + 1), k_minhash_size / (idx.rows() + 1));
        EXPECT_LT(p_next, 0.99) << t;  // the largest such row count
    }
    near_dup_index idx(0.8);
    const minhasher h(0);
    std::vector<uint64_t> a(k_minhash_size), b(k_minhash_size);
    h.signature(join(random_words(300, 5)), a.data());
    h.signature(join(random_words(300, 6)), b.data());
    EXPECT_FALSE(idx.contains_similar(a.data()));
    idx.insert(a.data());
    EXPECT_TRUE(idx.contains_similar(a.data()));
    EXPECT_FALSE(idx.contains_similar(b.data()));
}

// ---------------------------------------------------------------- the pipeline

namespace {

struct run_result {
    prepare_report r;
    std::vector<std::string> train, val;
    fs::path dir;
};

run_result run(const std::string& name, const std::vector<std::string>& contents, prepare_params p = {},
               const text_encoder* enc = nullptr, const std::vector<std::string>& exts = {}) {
    const fs::path d = scratch() / name;
    fs::create_directories(d);
    std::vector<std::string> inputs;
    for (size_t i = 0; i < contents.size(); ++i) {
        const fs::path f = d / ("in" + std::to_string(i) + (i < exts.size() ? exts[i] : ".txt"));
        spit(f, contents[i]);
        inputs.push_back(f.string());
    }
    run_result res;
    res.dir = d / "out";
    res.r = prepare_data(inputs, p, res.dir.string(), enc);
    res.train = jsonl_texts(res.dir / "train.jsonl");
    res.val = jsonl_texts(res.dir / "val.jsonl");
    return res;
}

prepare_params no_val() {
    prepare_params p;
    p.val_fraction = 0;
    return p;
}

}  // namespace

TEST(data_prepare, each_cleaning_rule) {
    prepare_params p = no_val();
    p.max_chars = 80;
    const std::string good = "A perfectly ordinary sentence with words.";
    const std::string input = good + "\n\n\x01\x02\x03\n\nshort one\n\n" + std::string(81, 'x') + "\n\n" +
                              "!!!! ???? .... ---- ++++ ;;;; ab\n\n" + std::string(80, 'y') + "\n\n" +
                              std::string(20, 'z');
    const run_result res = run("rules", {input}, p);
    EXPECT_EQ(res.r.docs_read, 7);
    EXPECT_EQ(res.r.removed[DROP_REASON_EMPTY], 1);
    EXPECT_EQ(res.r.removed[DROP_REASON_TOO_SHORT], 1);
    EXPECT_EQ(res.r.removed[DROP_REASON_TOO_LONG], 1);
    EXPECT_EQ(res.r.removed[DROP_REASON_LOW_ALNUM], 1);
    EXPECT_EQ(res.train, (std::vector<std::string>{good, std::string(80, 'y'), std::string(20, 'z')}));
    EXPECT_TRUE(res.val.empty());
}

TEST(data_prepare, min_alnum_boundary) {
    prepare_params p = no_val();
    p.min_chars = 1;
    p.min_alnum = 0.5;
    // 10 letters + 10 '!' = exactly half: kept; one more '!' tips it below.
    const run_result res = run("alnum", {"abcdefghij!!!!!!!!!!\n\nabcdefghij!!!!!!!!!!!"}, p);
    EXPECT_EQ(res.train, (std::vector<std::string>{"abcdefghij!!!!!!!!!!"}));
    EXPECT_EQ(res.r.removed[DROP_REASON_LOW_ALNUM], 1);
}

TEST(data_prepare, exact_duplicates_ignore_case_space_and_normal_form) {
    const std::string a = "The caf\xC3\xA9 opens at nine every morning.";
    const std::string b = "the  CAFE\xCC\x81 opens at nine\nevery morning.";  // decomposed, other case and spaces
    const run_result res = run("exact", {a + "\n\n" + b + "\n\n" + a}, no_val());
    EXPECT_EQ(res.r.removed[DROP_REASON_EXACT_DUPLICATE], 2);
    EXPECT_EQ(res.train, (std::vector<std::string>{a}));
}

TEST(data_prepare, near_duplicates) {
    const std::vector<std::string> base = random_words(400, 7);
    std::vector<std::string> edited = base;
    edited[50] = "changed";
    edited[200] = "words";
    edited[333] = "here";
    ASSERT_GT(exact_jaccard(base, edited), 0.85);
    const std::string other = join(random_words(400, 8));
    const std::string input = join(base) + "\n\n" + join(edited) + "\n\n" + other;
    const run_result on = run("near-on", {input}, no_val());
    EXPECT_EQ(on.r.removed[DROP_REASON_NEAR_DUPLICATE], 1);
    EXPECT_EQ(on.train, (std::vector<std::string>{join(base), other}));
    prepare_params off = no_val();
    off.near_dup = 0;
    const run_result o = run("near-off", {input}, off);
    EXPECT_EQ(o.r.removed[DROP_REASON_NEAR_DUPLICATE], 0);
    EXPECT_EQ(o.train.size(), 3u);
}

TEST(data_prepare, split_is_stable_when_other_documents_change) {
    prepare_params p;
    p.val_fraction = 0.3;
    std::string a, b;
    std::vector<std::string> docs;
    for (int i = 0; i < 200; ++i) {
        docs.push_back("Document number " + std::to_string(i) + " talks about " + join(random_words(12, uint32_t(i))));
        a += docs.back() + "\n\n";
        b += "Unrelated filler " + std::to_string(i) + " " + join(random_words(12, uint32_t(1000 + i))) + "\n\n";
        b += docs.back() + "\n\n";
    }
    const run_result r1 = run("split1", {a}, p), r2 = run("split2", {b}, p);
    EXPECT_EQ(r1.train.size() + r1.val.size(), 200u);
    EXPECT_GT(r1.val.size(), 35u);  // about 60 expected
    EXPECT_LT(r1.val.size(), 90u);
    const std::set<std::string> val2(r2.val.begin(), r2.val.end()), train2(r2.train.begin(), r2.train.end());
    for (const std::string& d : r1.val) EXPECT_TRUE(val2.count(d)) << d;
    for (const std::string& d : r1.train) EXPECT_TRUE(train2.count(d)) << d;
    // Another seed moves some documents.
    p.seed = 12345;
    const run_result r3 = run("split3", {a}, p);
    EXPECT_NE(r3.val, r1.val);
}

TEST(data_prepare, split_modes_and_jsonl) {
    prepare_params p = no_val();
    p.min_chars = 1;
    p.near_dup = 0;
    const std::string text = "first line\nsecond line\n\n\nthird line\r\n";
    EXPECT_EQ(run("para", {text}, p).train, (std::vector<std::string>{"first line\nsecond line", "third line"}));
    p.split = split_mode::SPLIT_MODE_LINE;
    EXPECT_EQ(run("line", {text}, p).train, (std::vector<std::string>{"first line", "second line", "third line"}));
    p.split = split_mode::SPLIT_MODE_FILE;
    EXPECT_EQ(run("file", {text}, p).train, (std::vector<std::string>{"first line\nsecond line\n\nthird line"}));

    p.text_field = "body";
    const std::string jl = "{\"body\": \"json one\"}\n[1,2]\n\n{\"body\": 7}\n{\"title\": \"x\"}\n{oops\n"
                           "{\"body\": \"json \\u00e9 two\", \"extra\": true}\n{\"body\": \"raw \xff byte\"}";
    const run_result j = run("jsonl", {jl}, p, nullptr, {".jsonl"});
    EXPECT_EQ(j.train, (std::vector<std::string>{"json one", "json \xC3\xA9 two", "raw " + k_fffd + " byte"}));
    EXPECT_EQ(j.r.invalid_utf8, 1);
    EXPECT_EQ(j.r.bad_json_lines, 4);
    ASSERT_EQ(j.r.bad_lines.size(), 4u);
    EXPECT_NE(j.r.bad_lines[0].find("in0.jsonl:2: not a JSON object"), std::string::npos) << j.r.bad_lines[0];
    EXPECT_NE(j.r.bad_lines[1].find("in0.jsonl:4: field \"body\" is not a string"), std::string::npos);
    EXPECT_NE(j.r.bad_lines[2].find("in0.jsonl:5: no \"body\" field"), std::string::npos);
    EXPECT_NE(j.r.bad_lines[3].find("in0.jsonl:6: invalid JSON"), std::string::npos);
}

TEST(data_prepare, report_counts_on_crafted_input) {
    prepare_params p = no_val();
    const std::string keep1 = "Kept document one has plenty of letters.";
    const std::string keep2 = "Kept document two\xff has a broken byte.";
    const std::string text = keep1 + "\r\n\r\n" + keep2 + "\n\n" + "tiny\n\n" + "KEPT document ONE has plenty of letters.\n\n" +
                             "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%\n";
    const std::string jl = "{\"text\": \"" + keep1 + "\"}\nnot json\n{\"text\": \"Third kept document, from JSONL.\"}\n";
    const run_result res = run("report", {text, jl}, p, nullptr, {".txt", ".jsonl"});
    const prepare_report& r = res.r;
    EXPECT_EQ(r.docs_read, 7);
    EXPECT_EQ(r.kept_train, 3);
    EXPECT_EQ(r.kept_val, 0);
    EXPECT_EQ(r.removed[DROP_REASON_TOO_SHORT], 1);
    EXPECT_EQ(r.removed[DROP_REASON_LOW_ALNUM], 1);
    EXPECT_EQ(r.removed[DROP_REASON_EXACT_DUPLICATE], 2);
    EXPECT_EQ(r.removed[DROP_REASON_EMPTY] + r.removed[DROP_REASON_TOO_LONG] + r.removed[DROP_REASON_NEAR_DUPLICATE], 0);
    EXPECT_EQ(r.bad_json_lines, 1);
    EXPECT_EQ(r.invalid_utf8, 1);
    EXPECT_EQ(r.bytes_in, uint64_t(text.size() + jl.size()));
    const std::string keep2_norm = "Kept document two" + k_fffd + " has a broken byte.";
    EXPECT_EQ(res.train, (std::vector<std::string>{keep1, keep2_norm, "Third kept document, from JSONL."}));
    EXPECT_EQ(r.chars_out, int64_t(keep1.size() + keep2.size() + 32));
    // chars_in: every code point of the documents as read (CRLF counts two; the bad byte one).
    const int64_t paragraphs = int64_t(keep1.size() + 1 + keep2.size() + 4 + 40 + 32);
    EXPECT_EQ(r.chars_in, paragraphs + int64_t(keep1.size()) + 32);
    // The manifest repeats the counts.
    const nlohmann::json m = nlohmann::json::parse(slurp(res.dir / "manifest.json"));
    EXPECT_EQ(m["report"]["documents_read"], 7);
    EXPECT_EQ(m["report"]["removed"]["exact_duplicate"], 2);
    EXPECT_EQ(m["report"]["removed"]["bad_json_line"], 1);
    EXPECT_EQ(m["report"]["invalid_utf8_replaced"], 1);
    EXPECT_EQ(m["bad_json_lines"][0], res.dir.parent_path().string() + "/in1.jsonl:2: invalid JSON at byte 2");
    EXPECT_TRUE(m["tokenizer"].is_null());
}

TEST(data_prepare, shards_hold_the_kept_documents) {
    prepare_params p;
    p.val_fraction = 0.3;
    p.shard_tokens = 500;
    std::string text;
    for (int i = 0; i < 60; ++i) {
        text += "Paragraph ";
        text += std::to_string(i);
        text += ": ";
        text += join(random_words(15, uint32_t(i)));
        text += "\n\n";
    }
    const text_encoder enc = byte_encoder();
    const run_result res = run("shards", {text}, p, &enc);
    ASSERT_GT(res.r.shards_train.size(), 1u);
    for (size_t i = 0; i + 1 < res.r.shards_train.size(); ++i) EXPECT_EQ(res.r.shards_train[i].n_tokens, 500);
    EXPECT_EQ(res.r.shards_train[0].name, "train-00000.bin");
    EXPECT_EQ(res.r.shards_val[0].name, "val-00000.bin");
    EXPECT_EQ(decode_byte_shards(res.dir, res.r.shards_train), res.train);
    EXPECT_EQ(decode_byte_shards(res.dir, res.r.shards_val), res.val);
    int64_t chars = 0;
    for (const std::string& d : res.train) chars += int64_t(d.size()) + 2;
    EXPECT_EQ(res.r.tokens_train, chars);
    // A rerun with fewer tokens removes the stale shard files.
    const size_t before = res.r.shards_train.size();
    p.shard_tokens = 100000;
    const prepare_report r2 = prepare_data({(res.dir.parent_path() / "in0.txt").string()}, p, res.dir.string(), &enc);
    EXPECT_EQ(r2.shards_train.size(), 1u);
    EXPECT_GT(before, 1u);
    EXPECT_FALSE(fs::exists(res.dir / "train-00001.bin"));
}

TEST(data_prepare, output_identical_across_thread_counts) {
    std::string text;
    for (int i = 0; i < 3000; ++i) {
        std::vector<std::string> w = random_words(10 + i % 60, uint32_t(i));
        text += join(w) + (i % 7 == 0 ? " \xC3\xA9\xff" : "") + "\n\n";
        if (i % 11 == 0) text += "!!! ... ---\n\n";
        if (i % 13 == 0 && i > 0) text += join(random_words(10 + (i - 5) % 60, uint32_t(i - 5))) + "\n\n";
        if (i % 17 == 0 && w.size() >= 50) {
            w[w.size() / 2] = "edited";
            text += join(w) + "\n\n";
        }
    }
    const text_encoder enc = byte_encoder();
    prepare_params p;
    p.val_fraction = 0.2;
    p.shard_tokens = 20000;
    p.n_threads = 1;
    const run_result a = run("det1", {text}, p, &enc);
    p.n_threads = 2;
    const run_result b = run("det2", {text}, p, &enc);
    p.n_threads = 5;
    const run_result c = run("det5", {text}, p, &enc);
    EXPECT_GT(a.r.removed[DROP_REASON_EXACT_DUPLICATE], 100);
    EXPECT_GT(a.r.removed[DROP_REASON_NEAR_DUPLICATE], 10);
    EXPECT_GT(a.r.shards_train.size(), 1u);
    for (const run_result* o : {&b, &c}) {
        for (const char* f : {"train.jsonl", "val.jsonl", "train-00000.bin", "train-00001.bin", "val-00000.bin"})
            EXPECT_EQ(slurp(a.dir / f), slurp(o->dir / f)) << f;
        nlohmann::json ma = nlohmann::json::parse(slurp(a.dir / "manifest.json"));
        nlohmann::json mo = nlohmann::json::parse(slurp(o->dir / "manifest.json"));
        for (nlohmann::json* m : {&ma, &mo}) {
            (*m)["report"].erase("seconds");
            (*m).erase("inputs");  // paths differ
        }
        EXPECT_EQ(ma, mo);
    }
}

TEST(data_prepare, errors_name_the_file_or_field) {
    const fs::path d = scratch() / "errors";
    fs::create_directories(d);
    const std::string missing = (d / "missing.txt").string();
    try {
        prepare_data({missing}, {}, (d / "out").string(), nullptr);
        FAIL() << "no error";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::ERRC_IO);
        EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    }
    fs::create_directories(d / "out");
    const std::string clash = (d / "out" / "train.jsonl").string();
    spit(clash, "{\"text\": \"an input that is also an output\"}\n");
    try {
        prepare_data({clash}, {}, (d / "out").string(), nullptr);
        FAIL() << "no error";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("input is also an output"), std::string::npos) << e.what();
    }
    EXPECT_EQ(slurp(clash), "{\"text\": \"an input that is also an output\"}\n");
    prepare_params p;
    p.min_alnum = 1.5;
    try {
        check_prepare_params(p);
        FAIL() << "no error";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("min_alnum"), std::string::npos) << e.what();
    }
    p = {};
    p.max_chars = 5;
    EXPECT_THROW(check_prepare_params(p), error);
    p = {};
    p.shard_tokens = 0;
    EXPECT_THROW(check_prepare_params(p), error);
}

TEST(data_prepare, json_string_escaping_round_trips) {
    const std::string s = std::string("quote \" back \\ nl \n tab \t ctl ") + char(1) + " \xC3\xA9 \xF0\x9F\x98\x80";
    std::string out;
    append_json_string(out, s);
    EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), s);
    EXPECT_EQ(out.find('\n'), std::string::npos);
}

// ---------------------------------------------------------------- token shards

namespace {

std::vector<uint8_t> shard_bytes(uint32_t version, uint32_t token_bytes, uint32_t n_vocab, uint64_t n_tokens,
                                 uint64_t reserved, const std::vector<uint32_t>& tokens, size_t tb) {
    std::vector<uint8_t> b = {'F', 'T', 'K', 'S'};
    auto put = [&](uint64_t v, int n) {
        for (int i = 0; i < n; ++i) b.push_back(uint8_t(v >> (8 * i)));
    };
    put(version, 4);
    put(token_bytes, 4);
    put(n_vocab, 4);
    put(n_tokens, 8);
    put(reserved, 8);
    for (uint32_t t : tokens) put(t, int(tb));
    return b;
}

std::string write_bytes(const std::string& name, const std::vector<uint8_t>& b) {
    const fs::path p = scratch() / name;
    spit(p, std::string(b.begin(), b.end()));
    return p.string();
}

void expect_reader_error(const std::string& path, const std::string& problem) {
    try {
        read_token_shard(path);
        FAIL() << "no error for " << path;
    } catch (const error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find(path), std::string::npos) << m;
        EXPECT_NE(m.find(problem), std::string::npos) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
}

}  // namespace

TEST(data_shards, round_trip_and_exact_bytes) {
    const std::vector<int32_t> small = {0, 1, 999, 256, 42};
    const std::string p2 = (scratch() / "small.bin").string();
    write_token_shard(p2, small.data(), int64_t(small.size()), 1000);
    const std::string got = slurp(p2);
    const std::vector<uint8_t> want = shard_bytes(1, 2, 1000, 5, 0, {0, 1, 999, 256, 42}, 2);
    EXPECT_EQ(got, std::string(want.begin(), want.end()));
    token_shard s = read_token_shard(p2);
    EXPECT_EQ(s.n_vocab, 1000);
    EXPECT_EQ(s.tokens, small);

    const std::vector<int32_t> big = {0, 65535, 65536, 69999, 7};
    const std::string p4 = (scratch() / "big.bin").string();
    write_token_shard(p4, big.data(), int64_t(big.size()), 70000);
    EXPECT_EQ(fs::file_size(p4), 32u + 5u * 4u);
    const std::vector<uint8_t> want4 = shard_bytes(1, 4, 70000, 5, 0, {0, 65535, 65536, 69999, 7}, 4);
    EXPECT_EQ(slurp(p4), std::string(want4.begin(), want4.end()));
    s = read_token_shard(p4);
    EXPECT_EQ(s.n_vocab, 70000);
    EXPECT_EQ(s.tokens, big);

    // 65536 is the largest vocabulary stored in 2 bytes.
    const std::vector<int32_t> edge = {65535};
    write_token_shard(p2, edge.data(), 1, 65536);
    EXPECT_EQ(fs::file_size(p2), 34u);
    EXPECT_EQ(read_token_shard(p2).tokens, edge);

    write_token_shard(p2, nullptr, 0, 10);
    EXPECT_EQ(fs::file_size(p2), 32u);
    EXPECT_TRUE(read_token_shard(p2).tokens.empty());
}

TEST(data_shards, writer_rejects_bad_tokens) {
    const std::string p = (scratch() / "w.bin").string();
    const std::vector<int32_t> t = {3, 10};
    EXPECT_THROW(write_token_shard(p, t.data(), 2, 10), error);
    const std::vector<int32_t> neg = {-1};
    EXPECT_THROW(write_token_shard(p, neg.data(), 1, 10), error);
    EXPECT_THROW(write_token_shard(p, t.data(), 1, 0), error);
}

TEST(data_shards, reader_errors) {
    const std::vector<uint8_t> good = shard_bytes(1, 2, 100, 3, 0, {1, 2, 3}, 2);
    expect_reader_error((scratch() / "nope.bin").string(), "cannot open");
    std::vector<uint8_t> b(good.begin(), good.begin() + 20);
    expect_reader_error(write_bytes("trunc-header.bin", b), "truncated header");
    b.assign(good.begin(), good.end() - 1);
    expect_reader_error(write_bytes("trunc-body.bin", b), "truncated");
    b = good;
    b.push_back(0);
    b.push_back(0);
    expect_reader_error(write_bytes("trailing.bin", b), "size mismatch");
    b = good;
    b[0] = 'G';
    expect_reader_error(write_bytes("magic.bin", b), "bad magic");
    expect_reader_error(write_bytes("token.bin", shard_bytes(1, 2, 100, 3, 0, {1, 100, 3}, 2)),
                        "token 1 is 100, not below n_vocab 100");
    expect_reader_error(write_bytes("version.bin", shard_bytes(2, 2, 100, 3, 0, {1, 2, 3}, 2)), "version 2");
    expect_reader_error(write_bytes("tb3.bin", shard_bytes(1, 3, 100, 1, 0, {1}, 3)), "token_bytes 3");
    expect_reader_error(write_bytes("tb4.bin", shard_bytes(1, 4, 100, 1, 0, {1}, 4)), "does not match n_vocab");
    expect_reader_error(write_bytes("vocab0.bin", shard_bytes(1, 2, 0, 0, 0, {}, 2)), "n_vocab is 0");
    expect_reader_error(write_bytes("reserved.bin", shard_bytes(1, 2, 100, 1, 9, {1}, 2)), "reserved");
    expect_reader_error(write_bytes("huge.bin", shard_bytes(1, 4, 70000, UINT64_MAX / 2, 0, {1}, 4)), "truncated");
    EXPECT_NO_THROW(read_token_shard(write_bytes("good.bin", good)));
}

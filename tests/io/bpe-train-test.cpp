// Byte-level BPE training: word counts against the pre-tokenizer run on whole texts, merges against the naive Python
// trainer (tests/reference/bpe_train_ref.py), determinism over threads and read sizes, special tokens, the written
// GGUF through text::tokenizer, stopping rules, and errors through the library and the C API.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "fathom/fathom.h"
#include "io/model-file.h"
#include "io/text/bpe-train.h"
#include "io/text/chat-template.h"
#include "io/text/tokenizer-internal.h"
#include "io/text/tokenizer.h"
#include "io-test-util.h"

namespace fathom::test {
namespace {

namespace fs = std::filesystem;
using text::bpe_train_params;
using text::bpe_word;

const std::vector<std::string> k_default_specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

// Lines mixing English, code, digits, Chinese, Japanese, Cyrillic, emoji, accents, whitespace runs and invalid UTF-8.
const char* const k_lines[] = {
    "The quick brown fox jumps over the lazy dog",
    "It's what they'll do, we've said; I'm sure you'd agree. THEY'RE HERE",
    "Tokenizers split text into pieces before merging byte pairs",
    "\xe8\xbf\x99\xe6\x98\xaf\xe4\xb8\x80\xe4\xb8\xaa\xe7\x94\xa8\xe4\xba\x8e\xe6\xb5\x8b\xe8\xaf\x95\xe7\x9a\x84"
    "\xe4\xb8\xad\xe6\x96\x87\xe5\x8f\xa5\xe5\xad\x90\xef\xbc\x8c\xe5\x8c\x85\xe5\x90\xab\xe6\xa0\x87\xe7\x82\xb9"
    "\xe7\xac\xa6\xe5\x8f\xb7\xe3\x80\x82",  // a Chinese sentence with punctuation
    "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\xa8\xa1\xe5\x9e\x8b\xe9\x9c\x80\xe8\xa6\x81\xe5\x88\x86"
    "\xe8\xaf\x8d\xe5\x99\xa8",
    "Emoji: \xf0\x9f\x98\x80\xf0\x9f\x8e\x89\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd and flags \xf0\x9f\x87\xab\xf0\x9f\x87"
    "\xb7 mixed with text",
    "int main(int argc, char** argv) { return argc > 1 ? 0 : 1; }",
    "    for (size_t i = 0; i < n; ++i) sum += x[i] * 3.14159;",
    "def merge(a, b):\n    return a + b  # 42",
    "Version 1.2.3 released on 2024-05-17 with 12345 fixes and 678 tests",
    "Numbers: 0 1 22 333 4444 55555 666666 7777777",
    "na\xc3\xafve caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9 \xe2\x80\x94 \xe2\x80\x9cquoted\xe2\x80\x9d text\xe2\x80\xa6 and "
    "\xc3\xb1" "and\xc3\xba",
    "Invalid bytes: \xff\xfe here \xc3( and \xe2\x82 there \x80\x81 end",
    "  indented   with\ttabs\tand   spaces  \r\n  ok",
    "UPPER CASE WORDS AND MiXeD cAsE wOrDs",
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80! \xd0\xad\xd1\x82\xd0\xbe "
    "\xd1\x82\xd0\xb5\xd1\x81\xd1\x82",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "x+=1; y-=2; z*=3; w/=4; // operators",
    "https://example.com/path?query=value&other=123#frag",
};

// A few KB of text: lines picked by a fixed LCG, joined by newlines or spaces, with special tokens in between.
std::string make_corpus(size_t n_lines, uint32_t seed, bool with_specials) {
    const size_t n = sizeof k_lines / sizeof k_lines[0];
    std::string out;
    uint32_t s = seed;
    auto next = [&] {
        s = s * 1664525u + 1013904223u;
        return s >> 8;
    };
    for (size_t i = 0; i < n_lines; ++i) {
        out += k_lines[next() % n];
        const uint32_t r = next() % 16;
        if (with_specials && r == 0) out += "<|endoftext|>";
        else if (with_specials && r == 1) out += "<|im_start|>user\nhello<|im_end|>\n";
        else if (r < 5) out += ' ';
        else out += '\n';
    }
    return out;
}

// The counts by the obvious route: cut the whole text at special tokens (longest first) and pre-tokenise each part.
std::map<std::string, int64_t> reference_counts(const std::vector<std::string>& texts, const std::string& pre,
                                                std::vector<std::string> specials) {
    std::stable_sort(specials.begin(), specials.end(),
                     [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    bool ignore = false;
    const text::pretokenizer pt(text::pretokenizer_patterns(pre, ignore));
    std::map<std::string, int64_t> counts;
    for (const std::string& t : texts) {
        std::vector<std::string> parts{t};
        for (const std::string& sp : specials) {
            std::vector<std::string> next;
            for (const std::string& part : parts) {
                size_t pos = 0;
                for (size_t h = part.find(sp); h != std::string::npos; h = part.find(sp, pos)) {
                    next.push_back(part.substr(pos, h - pos));
                    pos = h + sp.size();
                }
                next.push_back(part.substr(pos));
            }
            parts.swap(next);
        }
        for (const std::string& part : parts) {
            std::vector<std::pair<size_t, size_t>> pieces;
            pt.split(part, pieces);
            for (const auto& [off, len] : pieces) ++counts[part.substr(off, len)];
        }
    }
    return counts;
}

std::map<std::string, int64_t> as_map(const std::vector<bpe_word>& words) {
    std::map<std::string, int64_t> m;
    for (const bpe_word& w : words) m[w.text] = w.count;
    return m;
}

std::string hex(const std::string& s) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += d[c >> 4];
        out += d[c & 15];
    }
    return out;
}

bpe_train_params params(int32_t vocab_size, std::vector<std::string> specials = k_default_specials) {
    bpe_train_params p;
    p.vocab_size = vocab_size;
    p.special_tokens = std::move(specials);
    p.n_threads = 2;
    return p;
}

// Merges of the Python trainer as "lefthex righthex" lines, given the word counts.
bool python_merges(const temp_dir& dir, const std::vector<bpe_word>& words, const bpe_train_params& p,
                   std::vector<std::string>* merges, std::string* log) {
    std::string dump;
    for (const bpe_word& w : words) dump += hex(w.text) + " " + std::to_string(w.count) + "\n";
    write_file(dir.file("words.txt"), dump);
    std::ostringstream cmd;
    cmd << "'" << FATHOM_PYTHON << "' '" << FATHOM_SOURCE_DIR << "/tests/reference/bpe_train_ref.py' '"
        << dir.file("words.txt") << "' " << p.vocab_size << " " << p.min_frequency;
    for (const std::string& s : p.special_tokens) cmd << " " << hex(s);
    cmd << " 2>&1";
    std::FILE* f = ::popen(cmd.str().c_str(), "r");
    if (!f) return false;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) log->append(buf, n);
    const int st = ::pclose(f);
    if (st != 0) return false;
    std::istringstream in(*log);
    for (std::string l, r, c; in >> l >> r >> c;) merges->push_back(l + " " + r);
    return true;
}

std::vector<std::string> hex_merges(const text::bpe_model& m) {
    std::vector<std::string> out;
    for (const auto& [a, b] : m.merges) out.push_back(hex(m.symbols[size_t(a)]) + " " + hex(m.symbols[size_t(b)]));
    return out;
}

TEST(BpeTrain, ByteTextIsTheGpt2Map) {
    // Spot values of the published GPT-2 byte map, then every byte against a real GPT-2 vocabulary.
    EXPECT_EQ(text::bpe_byte_text(" "), "\xc4\xa0");    // U+0120
    EXPECT_EQ(text::bpe_byte_text("\n"), "\xc4\x8a");   // U+010A
    EXPECT_EQ(text::bpe_byte_text("A~"), "A~");
    EXPECT_EQ(text::bpe_byte_text("\xad"), "\xc5\x83"); // U+0143, the last stand-in
    EXPECT_EQ(text::bpe_byte_text("\xe9"), "\xc3\xa9"); // printable Latin-1 stands for itself
    const fs::path p = fs::path(FATHOM_SHARED_DIR) / "testdata" / "tokenizers" / "ggml-vocab-gpt-2.gguf";
    if (!fs::exists(p)) GTEST_SKIP() << "missing " << p;
    const text::tokenizer tok(io::read_gguf(p.string()));
    for (int b = 0; b < 256; ++b) {
        const std::string raw(1, char(b));
        const int32_t id = tok.token_id(text::bpe_byte_text(raw));
        ASSERT_GE(id, 0) << b;
        EXPECT_EQ(tok.token_piece(id), raw) << b;
    }
}

TEST(BpeTrain, WordCountsMatchWholeTextPreTokenisation) {
    temp_dir dir;
    const std::string a = make_corpus(400, 1, true), b = make_corpus(300, 2, true);
    write_file(dir.file("a.txt"), a);
    write_file(dir.file("b.txt"), b);
    const std::vector<std::string> files = {dir.file("a.txt"), dir.file("b.txt")};
    // A special token holding a safe cut ("s\nT"): blocks must not be cut inside its occurrences.
    std::vector<std::string> specials = k_default_specials;
    specials.push_back("s\nThe");
    ASSERT_NE(a.find("s\nThe"), std::string::npos);
    for (const std::string pre : {"llama-bpe", "gpt-2", "qwen2", "default", "deepseek-llm"}) {
        bpe_train_params p = params(1000, specials);
        p.pre = pre;
        const auto want = reference_counts({a, b}, pre, specials);
        text::bpe_train_stats st;
        const auto whole = text::bpe_count_words(files, p, &st);
        EXPECT_EQ(as_map(whole), want) << pre;
        EXPECT_EQ(st.bytes_read, a.size() + b.size());
        EXPECT_EQ(st.n_words, int64_t(want.size()));
        EXPECT_TRUE(std::is_sorted(whole.begin(), whole.end(),
                                   [](const bpe_word& x, const bpe_word& y) { return x.text < y.text; }));
        // Tiny blocks and chunks cut the texts in many places; the counts must not change.
        for (int threads : {1, 3}) {
            p.block_bytes = 97;
            p.chunk_bytes = 13;
            p.n_threads = threads;
            EXPECT_EQ(as_map(text::bpe_count_words(files, p)), want) << pre << " threads " << threads;
        }
    }
    // Pieces the Llama-3 pattern is known to give.
    const auto m = as_map(text::bpe_count_words(files, params(1000)));
    EXPECT_GT(m.count(" quick"), 0u);
    EXPECT_GT(m.count("'s"), 0u);
    EXPECT_GT(m.count("123"), 0u);
    EXPECT_GT(m.count("45"), 0u);
    for (const auto& [w, n] : m) {
        EXPECT_EQ(w.find("<|endoftext|>"), std::string::npos);
        EXPECT_EQ(w.find("<|im_start|>"), std::string::npos);
    }
}

TEST(BpeTrain, MergesMatchPythonReference) {
    temp_dir dir;
    write_file(dir.file("c.txt"), make_corpus(500, 7, true));
    struct cfg {
        int32_t vocab_size, min_frequency;
        std::vector<std::string> specials;
    };
    // Stopped by min_frequency; stopped by the vocabulary size; a special token whose text ("ĠĠ") a merge of two
    // spaces would produce; no special tokens.
    const std::vector<cfg> cfgs = {{100000, 2, k_default_specials},
                                   {700, 1, k_default_specials},
                                   {100000, 3, {"<|endoftext|>", "\xc4\xa0\xc4\xa0"}},
                                   {600, 2, {}}};
    for (const cfg& c : cfgs) {
        bpe_train_params p = params(c.vocab_size, c.specials);
        p.min_frequency = c.min_frequency;
        const auto words = text::bpe_count_words({dir.file("c.txt")}, p);
        const text::bpe_model m = text::bpe_learn(words, p);
        std::vector<std::string> want;
        std::string log;
        ASSERT_TRUE(python_merges(dir, words, p, &want, &log)) << log;
        ASSERT_GT(want.size(), 50u);
        EXPECT_EQ(hex_merges(m), want) << "vocab " << c.vocab_size << " min_frequency " << c.min_frequency;
        const int64_t n_vocab = int64_t(c.specials.size() + m.symbols.size());
        if (c.vocab_size < 100000) EXPECT_EQ(n_vocab, c.vocab_size);
        else EXPECT_LT(n_vocab, c.vocab_size);
        if (c.specials.size() == 2) {  // the banned merge really was a candidate: two spaces occur in the corpus
            bool two_spaces = false;
            for (const bpe_word& w : words) two_spaces = two_spaces || w.text.find("  ") != std::string::npos;
            EXPECT_TRUE(two_spaces);
            for (const std::string& s : m.symbols) EXPECT_NE(s, "  ");
        }
    }
}

TEST(BpeTrain, DeterministicOverRunsThreadsAndReadSizes) {
    temp_dir dir;
    write_file(dir.file("a.txt"), make_corpus(600, 3, true));
    write_file(dir.file("b.txt"), make_corpus(200, 4, false));
    const std::vector<std::string> files = {dir.file("a.txt"), dir.file("b.txt")};
    bpe_train_params p = params(900);
    p.n_threads = 1;
    text::bpe_train(files, p, dir.file("t1.gguf"));
    text::bpe_train(files, p, dir.file("t1b.gguf"));
    p.n_threads = 2;
    text::bpe_train(files, p, dir.file("t2.gguf"));
    p.n_threads = 3;
    p.block_bytes = 101;
    p.chunk_bytes = 7;
    text::bpe_train(files, p, dir.file("t3.gguf"));
    const auto ref = read_file(dir.file("t1.gguf"));
    ASSERT_GT(ref.size(), 1000u);
    EXPECT_EQ(read_file(dir.file("t1b.gguf")), ref);
    EXPECT_EQ(read_file(dir.file("t2.gguf")), ref);
    EXPECT_EQ(read_file(dir.file("t3.gguf")), ref);
    // The file order is part of the input: swapping files must still give the same counts (sums), hence the same file.
    p.n_threads = 2;
    text::bpe_train({files[1], files[0]}, p, dir.file("swapped.gguf"));
    EXPECT_EQ(read_file(dir.file("swapped.gguf")), ref);
}

TEST(BpeTrain, VocabularyFileLoadsAndEncodesWithTheLearnedMerges) {
    temp_dir dir;
    const std::string corpus = make_corpus(800, 5, true);
    write_file(dir.file("c.txt"), corpus);
    for (const std::string pre : {"llama-bpe", "qwen2"}) {
        bpe_train_params p = params(700);
        p.pre = pre;
        p.bos = 1;  // <|im_start|>
        p.eos = 2;  // <|im_end|>
        p.chat_template = io::builtin_chat_template("chatml");
        const text::bpe_train_stats st = text::bpe_train({dir.file("c.txt")}, p, dir.file("v.gguf"));
        EXPECT_EQ(st.n_vocab, 700);
        EXPECT_EQ(st.bytes_read, corpus.size());

        const io::model_file mf = io::read_gguf(dir.file("v.gguf"));
        EXPECT_TRUE(mf.tensors.empty());
        EXPECT_EQ(mf.find("general.name")->as_string("n"), "fathom-bpe");
        EXPECT_EQ(mf.find("tokenizer.ggml.model")->as_string("m"), "gpt2");
        EXPECT_EQ(mf.find("tokenizer.ggml.pre")->as_string("p"), pre);
        EXPECT_EQ(mf.find("tokenizer.chat_template")->as_string("t"), p.chat_template);
        EXPECT_EQ(mf.find("fathom.tokenizer.train.vocab_size")->as_int("v"), 700);
        EXPECT_EQ(mf.find("fathom.tokenizer.train.min_frequency")->as_int("v"), 2);
        EXPECT_EQ(mf.find("fathom.tokenizer.train.n_files")->as_int("v"), 1);
        EXPECT_EQ(int64_t(mf.find("tokenizer.ggml.merges")->as_array("m").size()), int64_t(st.n_merges));

        const text::tokenizer tok(mf);
        ASSERT_EQ(tok.n_vocab(), 700);
        EXPECT_EQ(tok.kind(), text::tokenizer_kind::TOKENIZER_KIND_BPE);
        EXPECT_EQ(tok.bos(), 1);
        EXPECT_EQ(tok.eos(), 2);
        EXPECT_TRUE(tok.add_bos());
        EXPECT_FALSE(tok.add_eos());
        EXPECT_TRUE(tok.is_eog(0));  // <|endoftext|>
        EXPECT_TRUE(tok.is_eog(2));
        // Id layout: specials, the 256 bytes in byte order, then merged tokens.
        for (int i = 0; i < 3; ++i) {
            EXPECT_EQ(tok.token_text(i), k_default_specials[size_t(i)]);
            EXPECT_EQ(tok.type_of(i), text::token_type::TOKEN_TYPE_CONTROL);
        }
        for (int b = 0; b < 256; ++b) {
            EXPECT_EQ(tok.token_piece(3 + b), std::string(1, char(b)));
            EXPECT_EQ(tok.type_of(3 + b), text::token_type::TOKEN_TYPE_NORMAL);
        }

        // Every training word encodes to the segmentation training ended with.
        const auto words = text::bpe_count_words({dir.file("c.txt")}, p);
        const text::bpe_model m = text::bpe_learn(words, p, true);
        for (size_t k = 0; k < m.merges.size(); ++k) {  // merged tokens in merge order
            const int32_t r = m.merge_result[k];
            EXPECT_EQ(tok.token_piece(3 + r), m.symbols[size_t(r)]);
        }
        size_t n_multi = 0;
        for (size_t w = 0; w < words.size(); ++w) {
            std::vector<int32_t> want;
            for (int32_t s : m.segmentation[w]) want.push_back(3 + s);
            n_multi += want.size() > 1;
            ASSERT_EQ(tok.encode(words[w].text, false, false), want) << pre << " word '" << words[w].text << "'";
        }
        EXPECT_GT(n_multi, 0u);

        // Round trips over the whole training text (invalid UTF-8 included), with and without special parsing.
        const std::vector<int32_t> ids = tok.encode(corpus, false, true);
        EXPECT_EQ(tok.decode(ids, true), corpus);
        EXPECT_EQ(tok.decode(tok.encode(corpus, false, false), true), corpus);
        EXPECT_LT(ids.size(), corpus.size() / 2);  // the merges compress the text it was trained on
        const std::vector<int32_t> with_bos = tok.encode("hello", true, false);
        ASSERT_FALSE(with_bos.empty());
        EXPECT_EQ(with_bos[0], 1);
    }
}

TEST(BpeTrain, SpecialTokensAreCutOutAndEncodedWhole) {
    temp_dir dir;
    std::string corpus;
    for (int i = 0; i < 200; ++i) corpus += "A short document number " + std::to_string(i % 17) + ".<|endoftext|>";
    write_file(dir.file("c.txt"), corpus);
    bpe_train_params p = params(2000);
    p.min_frequency = 2;
    text::bpe_train({dir.file("c.txt")}, p, dir.file("v.gguf"));
    const text::tokenizer tok(io::read_gguf(dir.file("v.gguf")));
    // Without the cut, 200 copies would have made "endoftext" and "<|" tokens long before the vocabulary filled up.
    for (int32_t id = 3; id < tok.n_vocab(); ++id) {
        const std::string piece = tok.token_piece(id);
        EXPECT_EQ(piece.find("endoftext"), std::string::npos) << piece;
        EXPECT_EQ(piece.find("<|"), std::string::npos) << piece;
    }
    const std::vector<int32_t> ids = tok.encode(corpus, false, true);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 0), 200);
    EXPECT_EQ(tok.decode(ids, true), corpus);
    // Without special parsing the text is ordinary bytes.
    const std::vector<int32_t> plain = tok.encode("<|endoftext|>", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 0), 0);
    EXPECT_EQ(tok.decode(plain), "<|endoftext|>");
}

TEST(BpeTrain, VocabularySizeReachedExactlyOnALargerCorpus) {
    temp_dir dir;
    std::string corpus;
    for (uint32_t seed = 10; seed < 30; ++seed) corpus += make_corpus(300, seed, false);
    uint32_t s = 99;  // plus random lowercase words, so there is always another pair to merge
    for (int i = 0; i < 20000; ++i) {
        s = s * 1664525u + 1013904223u;
        const int len = 2 + int((s >> 10) % 7);
        corpus += ' ';
        for (int k = 0; k < len; ++k) {
            s = s * 1664525u + 1013904223u;
            corpus += char('a' + (s >> 12) % 26);
        }
    }
    write_file(dir.file("c.txt"), corpus);
    for (int32_t vocab : {300, 1000, 4000}) {
        const text::bpe_train_stats st = text::bpe_train({dir.file("c.txt")}, params(vocab), dir.file("v.gguf"));
        EXPECT_EQ(st.n_vocab, vocab);
        EXPECT_EQ(text::tokenizer(io::read_gguf(dir.file("v.gguf"))).n_vocab(), vocab);
    }
}

TEST(BpeTrain, MinFrequencyStops) {
    temp_dir dir;
    // "ab" 5 times, "cd" 3 times, "ef" once: with min_frequency 3 only (a,b) and (c,d) merge.
    write_file(dir.file("c.txt"), std::string("ab ab ab ab ab cd cd cd ef"));
    bpe_train_params p = params(1000, {});
    p.pre = "gpt-2";
    p.min_frequency = 3;
    const auto words = text::bpe_count_words({dir.file("c.txt")}, p);
    text::bpe_model m = text::bpe_learn(words, p);
    std::vector<std::string> got;
    for (const auto& [a, b] : m.merges) got.push_back(m.symbols[size_t(a)] + "|" + m.symbols[size_t(b)]);
    // Words: "ab" x1, " ab" x4, " cd" x3, " ef" x1. Pair counts: (a,b) 5, (" ",a) 4, (" ",c) 3, (c,d) 3,
    // (" ",e) 1, (e,f) 1. After (a,b), (" ",ab) has 4; then (" ",c) and (c,d) tie at 3 and " " < "c" wins;
    // then (" c",d) has 3; the pairs of " ef" are seen once only.
    EXPECT_EQ(got, (std::vector<std::string>{"a|b", " |ab", " |c", " c|d"}));
    p.min_frequency = 6;
    EXPECT_TRUE(text::bpe_learn(words, p).merges.empty());
    p.min_frequency = 0;  // same as 1: everything that occurs can merge
    EXPECT_EQ(text::bpe_learn(words, p).merges.size(), 6u);
}

TEST(BpeTrain, BadParametersNameTheField) {
    const errc bad = errc::ERRC_INVALID_ARGUMENT;
    auto check = [](bpe_train_params p) { text::bpe_check_params(p); };
    expect_error([&] { check(params(259)); }, bad, {"vocab_size", "259", "260"});
    expect_error([&] { check(params((1 << 24) + 1)); }, bad, {"vocab_size"});
    expect_error([&] { check(params(1000, {"<a>", ""})); }, bad, {"special_tokens[1]", "empty"});
    expect_error([&] { check(params(1000, {"<a>", "<b>", "<a>"})); }, bad, {"special_tokens[2]", "special_tokens[0]"});
    expect_error([&] { check(params(1000, {"x"})); }, bad, {"special_tokens[0]", "byte token", "0x78"});
    bpe_train_params p = params(1000);
    p.bos = 3;
    expect_error([&] { check(p); }, bad, {"bos_token"});
    p = params(1000);
    p.pre = "nonsense";
    expect_error([&] { check(p); }, bad, {"pre", "nonsense"});
    p = params(1000);
    p.min_frequency = -1;
    expect_error([&] { check(p); }, bad, {"min_frequency"});
    p = params(1000);
    p.n_threads = -2;
    expect_error([&] { check(p); }, bad, {"n_threads"});
}

TEST(BpeTrain, MissingFileIsNamed) {
    temp_dir dir;
    write_file(dir.file("ok.txt"), std::string("hello world"));
    const std::string missing = dir.file("missing.txt");
    expect_error([&] { text::bpe_train({dir.file("ok.txt"), missing}, params(1000), dir.file("v.gguf")); },
                 errc::ERRC_IO, {missing});
    expect_error([&] { text::bpe_train({dir.path()}, params(1000), dir.file("v.gguf")); }, errc::ERRC_IO,
                 {dir.path(), "directory"});
    EXPECT_FALSE(fs::exists(dir.file("v.gguf")));
}

// ---- through the C API

TEST(BpeTrainApi, DefaultsAndOptions) {
    temp_dir dir;
    const std::string corpus = make_corpus(400, 11, true);
    write_file(dir.file("c.txt"), corpus);
    const std::string in = dir.file("c.txt"), out = dir.file("v.gguf");
    const char* files[] = {in.c_str()};
    fathom_tokenizer_train_options o;
    fathom_tokenizer_train_options_init(&o);
    EXPECT_EQ(o.struct_size, sizeof o);
    EXPECT_EQ(o.vocab_size, 32000);
    EXPECT_EQ(o.n_special_tokens, -1);
    EXPECT_EQ(o.min_frequency, 2);
    EXPECT_STREQ(o.pre, "llama-bpe");
    o.vocab_size = 700;
    ASSERT_EQ(fathom_tokenizer_train(files, 1, &o, out.c_str()), FATHOM_OK) << fathom_last_error();
    {
        const io::model_file mf = io::read_gguf(out);
        const text::tokenizer tok(mf);
        EXPECT_EQ(tok.n_vocab(), 700);
        EXPECT_EQ(tok.token_text(0), "<|endoftext|>");
        EXPECT_EQ(tok.eos(), 0);  // the first special token
        EXPECT_EQ(tok.bos(), -1);
        EXPECT_FALSE(tok.add_bos());
        EXPECT_EQ(mf.find("tokenizer.chat_template")->as_string("t"), io::builtin_chat_template("chatml"));
        EXPECT_EQ(tok.decode(tok.encode(corpus, false, true), true), corpus);
    }
    // Through fathom_model_load(vocab_only), as the CLI reads it.
    fathom_model_options mo;
    fathom_model_options_init(&mo);
    mo.vocab_only = 1;
    fathom_model* model = nullptr;
    ASSERT_EQ(fathom_model_load(out.c_str(), &mo, &model), FATHOM_OK) << fathom_last_error();
    int32_t ids[16];
    int64_t n = 0;
    ASSERT_EQ(fathom_tokenize(model, "<|im_end|>", 10, 0, 1, ids, 16, &n), FATHOM_OK);
    EXPECT_EQ(n, 1);
    EXPECT_EQ(ids[0], 2);
    fathom_model_free(model);

    // Own special tokens, BOS/EOS, no template, a built-in template by name, NULL options.
    const char* specials[] = {"<s>", "</s>"};
    o.special_tokens = specials;
    o.n_special_tokens = 2;
    o.bos_token = "<s>";
    o.eos_token = "</s>";
    ASSERT_EQ(fathom_tokenizer_train(files, 1, &o, out.c_str()), FATHOM_OK) << fathom_last_error();
    {
        const io::model_file mf = io::read_gguf(out);
        const text::tokenizer tok(mf);
        EXPECT_EQ(tok.bos(), 0);
        EXPECT_EQ(tok.eos(), 1);
        EXPECT_TRUE(tok.add_bos());
        EXPECT_EQ(mf.find("tokenizer.chat_template"), nullptr);
    }
    o.chat_template = "llama3";
    ASSERT_EQ(fathom_tokenizer_train(files, 1, &o, out.c_str()), FATHOM_OK) << fathom_last_error();
    EXPECT_EQ(io::read_gguf(out).find("tokenizer.chat_template")->as_string("t"), io::builtin_chat_template("llama3"));
    o.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}";
    ASSERT_EQ(fathom_tokenizer_train(files, 1, &o, out.c_str()), FATHOM_OK) << fathom_last_error();
    EXPECT_EQ(io::read_gguf(out).find("tokenizer.chat_template")->as_string("t"), o.chat_template);
    o.special_tokens = nullptr;
    o.n_special_tokens = 0;
    o.bos_token = o.eos_token = nullptr;
    o.chat_template = nullptr;
    ASSERT_EQ(fathom_tokenizer_train(files, 1, &o, out.c_str()), FATHOM_OK) << fathom_last_error();
    {
        const text::tokenizer tok(io::read_gguf(out));
        EXPECT_EQ(tok.eos(), -1);
        EXPECT_EQ(tok.token_piece(0), std::string(1, '\0'));  // no specials: byte 0 is id 0
    }
    ASSERT_EQ(fathom_tokenizer_train(files, 1, nullptr, out.c_str()), FATHOM_OK) << fathom_last_error();
}

TEST(BpeTrainApi, BadArgumentsNameTheFieldOrFile) {
    temp_dir dir;
    write_file(dir.file("c.txt"), make_corpus(50, 1, false));
    const std::string in = dir.file("c.txt"), out = dir.file("v.gguf"), missing = dir.file("nope.txt");
    const char* files[] = {in.c_str()};
    auto expect = [&](const fathom_tokenizer_train_options* o, const char* const* f, int64_t n, const char* path,
                      fathom_status want, std::initializer_list<std::string> phrases) {
        EXPECT_EQ(fathom_tokenizer_train(f, n, o, path), want);
        const std::string msg = fathom_last_error();
        EXPECT_EQ(msg.find('\n'), std::string::npos);
        for (const std::string& ph : phrases) EXPECT_NE(msg.find(ph), std::string::npos) << "'" << ph << "' not in " << msg;
    };
    fathom_tokenizer_train_options o;
    fathom_tokenizer_train_options_init(&o);
    expect(&o, files, 1, nullptr, FATHOM_ERR_INVALID_ARGUMENT, {"out_path"});
    expect(&o, nullptr, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"files"});
    expect(&o, files, 0, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"n_files"});
    const char* with_null[] = {in.c_str(), nullptr};
    expect(&o, with_null, 2, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"files[1]"});
    const char* with_missing[] = {in.c_str(), missing.c_str()};
    expect(&o, with_missing, 2, out.c_str(), FATHOM_ERR_IO, {missing});

    fathom_tokenizer_train_options b = o;
    b.vocab_size = 100;
    expect(&b, files, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"fathom_tokenizer_train", "vocab_size"});
    b = o;
    b.bos_token = "<s>";
    expect(&b, files, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"bos_token", "<s>"});
    b = o;
    b.eos_token = "<nope>";
    expect(&b, files, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"eos_token", "<nope>"});
    const char* dup[] = {"<a>", "<a>"};
    b = o;
    b.special_tokens = dup;
    b.n_special_tokens = 2;
    expect(&b, files, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"special_tokens[1]"});
    const char* with_null_special[] = {"<a>", nullptr};
    b.special_tokens = with_null_special;
    expect(&b, files, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"special_tokens[1]", "NULL"});
    b = o;
    b.special_tokens = nullptr;
    b.n_special_tokens = 2;
    expect(&b, files, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"special_tokens"});
    b = o;
    b.pre = "bogus";
    expect(&b, files, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"pre", "bogus"});
    b = o;
    b.chat_template = "chatmlx";
    expect(&b, files, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"chat_template", "chatmlx"});
    b = o;
    b.struct_size = sizeof b + 8;
    expect(&b, files, 1, out.c_str(), FATHOM_ERR_INVALID_ARGUMENT, {"struct_size"});
    expect(&o, files, 1, (dir.path() + "/no/such/dir/v.gguf").c_str(), FATHOM_ERR_IO, {"no/such/dir"});
    EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace fathom::test

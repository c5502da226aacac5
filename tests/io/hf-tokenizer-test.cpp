// Tokenizers loaded from Hugging Face tokenizer.json: the conformance vocabularies rewritten in tokenizer.json form
// (with each family's published pre-tokenizer / normalizer structure) must give the reference ids exactly; plus
// normalizers, post-processors, tokenizer-only folders and unsupported constructs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "io/model-file.h"
#include "io/text/tokenizer.h"
#include "io/vocab-test-util.h"
#include "io/io-test-util.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using fathom::text::tokenizer;

const std::string DIR = std::string(FATHOM_SHARED_DIR) + "/testdata/tokenizers";

void spit(const std::string& p, const std::string& s) {
    std::ofstream f(p, std::ios::binary);
    f << s;
}

bool have_testdata() { return fs::is_directory(DIR); }

json split_re(const std::string& re) {
    return {{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}};
}
json byte_level(bool use_regex) {
    return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

// Rewrites a GGUF vocabulary as tokenizer.json with the given model type extras, pre_tokenizer, normalizer and
// post_processor. Control/user tokens become added_tokens.
json to_tokenizer_json(const fathom::io::model_file& mf, const std::string& kind, const json& pre, const json& norm,
                       const json& post) {
    const auto& toks = mf.find("tokenizer.ggml.tokens")->as_array("tokens");
    const auto& types = mf.find("tokenizer.ggml.token_type")->as_array("token_type");
    json vocab = json::object(), added = json::array();
    for (size_t i = 0; i < toks.size(); ++i) {
        std::string t = toks[i].s;
        const int64_t ty = types[i].as_int("token_type");
        if (kind == "wordpiece") {  // llama.cpp's phantom-space form back to "##" continuations
            if (t.rfind("\xE2\x96\x81", 0) == 0) t = t.substr(3);
            else if (!(t.size() >= 2 && t.front() == '[' && t.back() == ']')) t = "##" + t;
        }
        if (!vocab.contains(t)) vocab[t] = int64_t(i);
        if (ty == 3 || ty == 4 || (ty == 2 && kind != "wordpiece"))
            added.push_back({{"id", int64_t(i)}, {"content", toks[i].s}, {"special", ty != 4}});
    }
    json model;
    if (kind == "wordpiece") {
        model = {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"}, {"vocab", vocab}};
    } else {
        json merges = json::array();
        if (const auto* m = mf.find("tokenizer.ggml.merges")) {
            for (const auto& e : m->as_array("merges")) merges.push_back(e.s);
        } else if (kind == "spm") {
            // Merges as Hugging Face's SentencePiece converter derives them: pieces by descending score, each
            // split into two vocabulary pieces, splits ordered by the left piece's score... as ids break ties.
            const auto& scores = mf.find("tokenizer.ggml.scores")->as_array("scores");
            std::vector<size_t> order;
            for (size_t i = 0; i < toks.size(); ++i)
                if (types[i].as_int("token_type") == 1) order.push_back(i);
            std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a].f > scores[b].f; });
            std::map<std::string, size_t> normal;
            for (size_t i : order) normal.emplace(toks[i].s, i);
            for (size_t i : order) {
                const std::string& t = toks[i].s;
                std::vector<std::pair<size_t, size_t>> splits;
                for (size_t k = 1; k < t.size(); ++k) {
                    auto l = normal.find(t.substr(0, k)), r = normal.find(t.substr(k));
                    if (l != normal.end() && r != normal.end()) splits.emplace_back(l->second, r->second);
                }
                std::sort(splits.begin(), splits.end());
                for (const auto& [l, r] : splits) merges.push_back(toks[l].s + " " + toks[r].s);
            }
        }
        model = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"byte_fallback", kind == "spm"}};
    }
    return {{"version", "1.0"}, {"added_tokens", added}, {"normalizer", norm}, {"pre_tokenizer", pre},
            {"post_processor", post}, {"model", model}};
}

struct family {
    const char* vocab;
    const char* kind;  // "bpe", "spm", "wordpiece"
    json pre, norm, post;
};

std::vector<family> families() {
    const json null;
    const json bert_norm = {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                            {"strip_accents", nullptr}, {"lowercase", true}};
    const json spm_norm = {{"type", "Sequence"},
                           {"normalizers",
                            {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
                             {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}};
    const std::string cjk = "[\xE4\xB8\x80-\xE9\xBE\xA5\xE0\xA0\x80-\xE4\xB8\x80\xEA\xB0\x80-\xED\x9F\xBF]+";
    return {
        {"gpt-2", "bpe", byte_level(true), null, null},
        {"mpt", "bpe", byte_level(true), null, null},
        {"starcoder", "bpe",
         {{"type", "Sequence"},
          {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}}},
         null, null},
        {"refact", "bpe",
         {{"type", "Sequence"},
          {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}}},
         null, null},
        {"deepseek-coder", "bpe",
         {{"type", "Sequence"},
          {"pretokenizers",
           {split_re("[\r\n]"), split_re("\\s?\\p{L}+"), split_re("\\s?\\p{P}+"), split_re(cjk),
            {{"type", "Digits"}, {"individual_digits", true}}, byte_level(false)}}},
         null, null},
        {"llama-spm", "spm", null, spm_norm, null},
        {"phi-3", "spm", null, spm_norm, null},
        {"bert-bge", "wordpiece", {{"type", "BertPreTokenizer"}}, bert_norm, null},
    };
}

TEST(hf_tokenizer, conformance_vectors_through_tokenizer_json) {
    if (!have_testdata()) GTEST_SKIP() << "skipped: " << DIR << " not present";
    size_t total = 0;
    for (const family& f : families()) {
        const std::string path = DIR + "/ggml-vocab-" + f.vocab + ".gguf";
        const fathom::io::model_file src = fathom::io::read_gguf(path);
        fathom::test::temp_dir d;
        spit(d.file("tokenizer.json"), to_tokenizer_json(src, f.kind, f.pre, f.norm, f.post).dump());
        const fathom::io::model_file mf = fathom::io::load_model_file(d.path());  // a folder without config.json
        const tokenizer tok(mf);
        const auto inputs = fathom::test::parse_vocab_inputs(fathom::test::slurp_file(path + ".inp"));
        const auto expected = fathom::test::parse_vocab_outputs(fathom::test::slurp_file(path + ".out"));
        ASSERT_EQ(inputs.size(), expected.size());
        ASSERT_FALSE(inputs.empty());
        for (size_t i = 0; i < inputs.size(); ++i) {
            EXPECT_EQ(tok.encode(inputs[i], false, false), expected[i]) << f.vocab << " input " << i << ": '"
                                                                          << inputs[i] << "'";
            ++total;
        }
        // The tokenizer.json file path works as well as its folder.
        const tokenizer tok2(fathom::io::load_model_file(d.file("tokenizer.json")));
        EXPECT_EQ(tok2.encode(inputs.back(), false, false), expected.back()) << f.vocab;
    }
    EXPECT_GT(total, 300u);
}

// A small byte-level BPE in tokenizer.json form: the 256 GPT-2 byte stand-ins, a few merges, specials.
json tiny_bpe(const json& pre, const json& norm, const json& post) {
    json vocab = json::object();
    int extra = 0;
    std::vector<std::string> stand(256);
    for (int b = 0; b < 256; ++b) {
        const bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        const uint32_t cp = self ? uint32_t(b) : uint32_t(256 + extra++);
        std::string s;
        if (cp < 0x80) s += char(cp);
        else if (cp < 0x800) { s += char(0xC0 | (cp >> 6)); s += char(0x80 | (cp & 0x3F)); }
        stand[size_t(b)] = s;
        vocab[s] = b;
    }
    const std::string G = stand[' '];  // "Ġ"
    // ids 256..263: Ġh Ġhe he ll Ġhell hell Ġhello hello
    const std::vector<std::pair<std::string, std::string>> merges = {
        {G, "h"}, {G + "h", "e"}, {"h", "e"}, {"l", "l"}, {G + "he", "ll"}, {"he", "ll"}, {G + "hell", "o"},
        {"hell", "o"}};
    json mj = json::array();
    int id = 256;
    for (const auto& [a, b] : merges) {
        mj.push_back(a + " " + b);
        if (!vocab.contains(a + b)) vocab[a + b] = id++;
    }
    json added = json::array({{{"id", id}, {"content", "<|begin_of_text|>"}, {"special", true}},
                              {{"id", id + 1}, {"content", "<|end_of_text|>"}, {"special", true}}});
    return {{"added_tokens", added}, {"normalizer", norm}, {"pre_tokenizer", pre}, {"post_processor", post},
            {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", mj}}}};
}

tokenizer load_json(const fathom::test::temp_dir& d, const json& j, const json* cfg = nullptr) {
    spit(d.file("tokenizer.json"), j.dump());
    if (cfg) spit(d.file("tokenizer_config.json"), cfg->dump());
    return tokenizer(fathom::io::load_model_file(d.path()));
}

TEST(hf_tokenizer, nfc_and_lowercase_normalizers) {
    fathom::test::temp_dir d1, d2, d3;
    const json null;
    const tokenizer raw = load_json(d1, tiny_bpe(byte_level(true), null, null));
    const tokenizer nfc = load_json(d2, tiny_bpe(byte_level(true), {{"type", "NFC"}}, null));
    const tokenizer low = load_json(
        d3, tiny_bpe(byte_level(true),
                     {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "Lowercase"}}}}}, null));
    const std::string composed = "caf\xC3\xA9", decomposed = "cafe\xCC\x81";
    EXPECT_NE(raw.encode(decomposed, false, false), raw.encode(composed, false, false));
    EXPECT_EQ(nfc.encode(decomposed, false, false), nfc.encode(composed, false, false));
    EXPECT_EQ(nfc.encode(composed, false, false), raw.encode(composed, false, false));
    EXPECT_EQ(low.encode("HELLO", false, false), raw.encode("hello", false, false));
    EXPECT_EQ(raw.encode("hello", false, false), (std::vector<int32_t>{263}));  // "hello" merged fully
    // invalid UTF-8 passes through the normalizer as bytes
    EXPECT_EQ(nfc.decode(nfc.encode("a\xFF" "b", false, false)), "a\xFF" "b");
}

TEST(hf_tokenizer, byte_level_add_prefix_space) {
    fathom::test::temp_dir d1, d2;
    const json null;
    json pre = byte_level(true);
    pre["add_prefix_space"] = true;
    const tokenizer plain = load_json(d1, tiny_bpe(byte_level(true), null, null));
    const tokenizer prefixed = load_json(d2, tiny_bpe(pre, null, null));
    EXPECT_EQ(prefixed.encode("hello", false, false), plain.encode(" hello", false, false));
    EXPECT_EQ(prefixed.encode(" hello", false, false), plain.encode(" hello", false, false));
    EXPECT_EQ(plain.encode(" hello", false, false).size(), 1u);
}

TEST(hf_tokenizer, template_post_processor_adds_bos) {
    fathom::test::temp_dir d1, d2;
    const json null;
    const json post = json::parse(R"({"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [], "special_tokens": {}}]})");
    const tokenizer t = load_json(d1, tiny_bpe(byte_level(true), null, post));
    const int32_t bot = t.token_id("<|begin_of_text|>");
    ASSERT_GE(bot, 0);
    EXPECT_EQ(t.bos(), bot);
    EXPECT_TRUE(t.add_bos());
    EXPECT_EQ(t.encode("hello", true, false), (std::vector<int32_t>{bot, 263}));
    EXPECT_EQ(t.encode("<|begin_of_text|>hello", false, true), (std::vector<int32_t>{bot, 263}));
    // tokenizer_config.json names the EOS and can switch BOS off
    const json cfg = {{"eos_token", "<|end_of_text|>"}, {"add_bos_token", false}, {"chat_template", "{{ 'x' }}"}};
    const tokenizer t2 = load_json(d2, tiny_bpe(byte_level(true), null, post), &cfg);
    EXPECT_FALSE(t2.add_bos());
    EXPECT_EQ(t2.eos(), t2.token_id("<|end_of_text|>"));
    EXPECT_TRUE(t2.is_eog(t2.eos()));
    const auto mf = fathom::io::load_model_file(d2.path());
    ASSERT_NE(mf.find("tokenizer.chat_template"), nullptr);
    EXPECT_EQ(mf.find("tokenizer.chat_template")->s, "{{ 'x' }}");
}

TEST(hf_tokenizer, exact_regexes_are_carried) {
    fathom::test::temp_dir d;
    const json null;
    // An unusual regex no named pre-tokenizer has: split after every "l".
    const json pre = {{"type", "Sequence"}, {"pretokenizers", {split_re("l"), byte_level(false)}}};
    const tokenizer t = load_json(d, tiny_bpe(pre, null, null));
    const auto mf = fathom::io::load_model_file(d.path());
    const auto* res = mf.find("fathom.tokenizer.pre_regexes");
    ASSERT_NE(res, nullptr);
    ASSERT_EQ(res->as_array("pre_regexes").size(), 1u);
    EXPECT_EQ(res->as_array("pre_regexes")[0].s, "l");
    // "hello" -> pieces "he" "l" "l" "o": "he" merges, the rest stay bytes
    EXPECT_EQ(t.encode("hello", false, false), (std::vector<int32_t>{258, 'l', 'l', 'o'}));
}

void expect_error(const json& j, const std::string& needle) {
    fathom::test::temp_dir d;
    spit(d.file("tokenizer.json"), j.dump());
    try {
        fathom::io::load_model_file(d.path());
        ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const fathom::error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
    }
}

TEST(hf_tokenizer, unsupported_constructs_are_named) {
    const json null;
    json removed = split_re("\\s+");
    removed["behavior"] = "Removed";
    expect_error(tiny_bpe({{"type", "Sequence"}, {"pretokenizers", {removed, byte_level(false)}}}, null, null),
                 "behavior 'removed'");
    expect_error(tiny_bpe({{"type", "Whitespace"}}, null, null), "pre_tokenizer type 'Whitespace'");
    expect_error(tiny_bpe(byte_level(true), {{"type", "Precompiled"}}, null), "normalizer type 'Precompiled'");
    expect_error(tiny_bpe(split_re("("), null, null), "needs a ByteLevel");
    json uni = {{"model", {{"type", "Unigram"}, {"vocab", {{"<unk>", 0.0}}}}}};
    expect_error(uni, "Unigram");
    // a bad regex is reported when the tokenizer is built, naming the key
    fathom::test::temp_dir d;
    spit(d.file("tokenizer.json"),
         tiny_bpe({{"type", "Sequence"}, {"pretokenizers", {split_re("("), byte_level(false)}}}, null, null).dump());
    const auto mf = fathom::io::load_model_file(d.path());
    try {
        tokenizer t(mf);
        ADD_FAILURE() << "expected a regex error";
    } catch (const fathom::error& e) {
        EXPECT_NE(std::string(e.what()).find("fathom.tokenizer.pre_regexes"), std::string::npos) << e.what();
    }
}

TEST(hf_tokenizer, spm_pieces_spanning_words_disable_word_splitting) {
    // A piece with the space marker inside ("▁a▁b") means words may merge across spaces: the encoder must then
    // run over the whole text rather than word by word.
    const std::string M = "\xE2\x96\x81";
    auto make = [&](bool spanning) {
        json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {M, 3}, {"a", 4}, {"b", 5}, {M + "a", 6}, {M + "b", 7}};
        json merges = json::array({M + " a", M + " b"});
        if (spanning) {
            vocab[M + "a" + M + "b"] = 8;
            merges.push_back(M + "a " + M + "b");
        }
        return json{{"added_tokens", json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                                                  {{"id", 1}, {"content", "<s>"}, {"special", true}},
                                                  {{"id", 2}, {"content", "</s>"}, {"special", true}}})},
                    {"model", {{"type", "BPE"}, {"byte_fallback", true}, {"vocab", vocab}, {"merges", merges}}}};
    };
    fathom::test::temp_dir d1, d2;
    const tokenizer plain = load_json(d1, make(false));
    const tokenizer spanning = load_json(d2, make(true));
    EXPECT_EQ(plain.encode("a b", false, false), (std::vector<int32_t>{6, 7}));
    EXPECT_EQ(spanning.encode("a b", false, false), (std::vector<int32_t>{8}));
    EXPECT_EQ(spanning.encode("a b a b", false, false), (std::vector<int32_t>{8, 8}));
    EXPECT_EQ(spanning.decode(spanning.encode("a b a b", false, false)), "a b a b");
}

TEST(hf_tokenizer, gguf_round_trip_keeps_regexes_and_normalizer) {
    fathom::test::temp_dir d;
    const json pre = {{"type", "Sequence"}, {"pretokenizers", {split_re("l"), byte_level(false)}}};
    spit(d.file("tokenizer.json"), tiny_bpe(pre, {{"type", "NFC"}}, nullptr).dump());
    const auto mf = fathom::io::load_model_file(d.path());
    fathom::io::write_gguf(d.file("tok.gguf"), mf);
    const tokenizer a(mf), b(fathom::io::read_gguf(d.file("tok.gguf")));
    for (const std::string s : {"hello", "cafe\xCC\x81 hello", "  x\n\nllll"})
        EXPECT_EQ(a.encode(s, false, false), b.encode(s, false, false)) << s;
    EXPECT_EQ(b.encode("cafe\xCC\x81", false, false), b.encode("caf\xC3\xA9", false, false));
}

}  // namespace

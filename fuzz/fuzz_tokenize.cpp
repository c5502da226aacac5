// libFuzzer target: arbitrary bytes (broken UTF-8, control characters, special-token fragments) through the three
// tokenizer kinds built once from in-memory vocabularies; byte-level BPE and SentencePiece with byte fallback must
// decode back to the exact input, and no input may crash or hang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/model-file.h"
#include "io/text/tokenizer.h"

using namespace fathom;
using io::meta_value;

namespace {

meta_value strings(const std::vector<std::string>& v) {
    std::vector<meta_value> a;
    for (const auto& s : v) a.push_back(meta_value::str(s));
    return meta_value::array(io::gguf_type::GGUF_STRING, std::move(a));
}
meta_value ints(const std::vector<int32_t>& v) {
    std::vector<meta_value> a;
    for (int32_t x : v) a.push_back(meta_value::i32(x));
    return meta_value::array(io::gguf_type::GGUF_INT32, std::move(a));
}
meta_value floats(const std::vector<float>& v) {
    std::vector<meta_value> a;
    for (float x : v) a.push_back(meta_value::f32(x));
    return meta_value::array(io::gguf_type::GGUF_FLOAT32, std::move(a));
}
std::string utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) s += char(cp);
    else { s += char(0xC0 | (cp >> 6)); s += char(0x80 | (cp & 0x3F)); }
    return s;
}

// Byte-level BPE: 256 GPT-2 byte stand-ins, a few merges, control and user-defined tokens; Llama-3 regex.
text::tokenizer make_bpe() {
    std::vector<std::string> toks;
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
        const bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        toks.push_back(utf8(self ? uint32_t(b) : uint32_t(256 + extra++)));
    }
    const std::string G = toks[' '];
    std::vector<std::string> merges = {G + " t", "h e", G + "t he", "i n", "e r", G + " a", "o n", "a n"};
    for (const auto& m : merges) toks.push_back(m.substr(0, m.find(' ', 1)) + m.substr(m.find(' ', 1) + 1));
    std::vector<int32_t> types(toks.size(), 1);
    toks.push_back("<|endoftext|>");
    types.push_back(3);
    toks.push_back("<tool>");
    types.push_back(4);
    io::model_file m;
    m.path = "fuzz-bpe";
    m.set("tokenizer.ggml.model", meta_value::str("gpt2"));
    m.set("tokenizer.ggml.pre", meta_value::str("llama-bpe"));
    m.set("tokenizer.ggml.tokens", strings(toks));
    m.set("tokenizer.ggml.token_type", ints(types));
    m.set("tokenizer.ggml.merges", strings(merges));
    m.index();
    return text::tokenizer(m);
}

// SentencePiece-style BPE with <0xXX> byte fallback.
text::tokenizer make_spm() {
    const std::string M = "\xE2\x96\x81";
    std::vector<std::string> toks = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {2, 3, 3};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        toks.push_back(name);
        types.push_back(6);
    }
    for (const std::string& t : {M, std::string("a"), std::string("b"), M + "a", M + "b", M + "ab", std::string("ab"),
                                 M + M, std::string("\xC3\xA9")}) {
        toks.push_back(t);
        types.push_back(1);
    }
    std::vector<float> scores(toks.size());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = -float(i);
    io::model_file m;
    m.path = "fuzz-spm";
    m.set("tokenizer.ggml.model", meta_value::str("llama"));
    m.set("tokenizer.ggml.tokens", strings(toks));
    m.set("tokenizer.ggml.token_type", ints(types));
    m.set("tokenizer.ggml.scores", floats(scores));
    m.index();
    return text::tokenizer(m);
}

// WordPiece in llama.cpp's phantom-space form.
text::tokenizer make_wpm() {
    const std::string M = "\xE2\x96\x81";
    std::vector<std::string> toks = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", M + "the", M + "a", "s", "ing", M + "run",
                                     M + ",", M + "\xE4\xB8\xAD"};
    std::vector<int32_t> types = {3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    io::model_file m;
    m.path = "fuzz-wpm";
    m.set("tokenizer.ggml.model", meta_value::str("bert"));
    m.set("tokenizer.ggml.tokens", strings(toks));
    m.set("tokenizer.ggml.token_type", ints(types));
    m.index();
    return text::tokenizer(m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const text::tokenizer bpe = make_bpe(), spm = make_spm(), wpm = make_wpm();
    const std::string in(reinterpret_cast<const char*>(data), size);
    for (bool special : {false, true}) {
        const std::vector<int32_t> b = bpe.encode(in, special, special);
        for (int32_t id : b)
            if (id < 0 || id >= bpe.n_vocab()) std::abort();
        if (bpe.decode(b, special) != in) std::abort();  // byte-level BPE is lossless on any bytes

        const std::vector<int32_t> s = spm.encode(in, false, special);
        for (int32_t id : s)
            if (id < 0 || id >= spm.n_vocab()) std::abort();
        // byte fallback makes it lossless too, except that a literal U+2581 is SentencePiece's space marker
        if (!special && in.find("\xE2\x96\x81") == std::string::npos && spm.decode(s) != in) std::abort();

        const std::vector<int32_t> w = wpm.encode(in, special, special);
        for (int32_t id : w)
            if (id < 0 || id >= wpm.n_vocab()) std::abort();
        (void)wpm.decode(w);
    }
    return 0;
}

// libFuzzer target: tokenizer.json (+ tokenizer_config.json after a NUL byte) → tokenizer.ggml.* metadata.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/hf-internal.h"

using namespace fathom;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string all(reinterpret_cast<const char*>(data), size);
    const size_t nul = all.find('\0');
    const std::string tok = all.substr(0, nul);
    const std::string cfg = nul == std::string::npos ? std::string() : all.substr(nul + 1);
    try {
        io::model_file m;
        m.set("tokenizer.ggml.bos_token_id", io::meta_value::u32(1));
        io::detail::add_hf_tokenizer_text(m, tok, "tokenizer.json", nul == std::string::npos ? nullptr : &cfg,
                                          "tokenizer_config.json", 64);
        const io::meta_value* toks = m.find("tokenizer.ggml.tokens");
        const io::meta_value* types = m.find("tokenizer.ggml.token_type");
        if (!toks || !types || toks->arr.size() != 64 || types->arr.size() != 64) std::abort();
        for (const char* k : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"})
            if (const io::meta_value* v = m.find(k))
                if (v->u >= 64) std::abort();
    } catch (const fathom::error&) {
    }
    return 0;
}

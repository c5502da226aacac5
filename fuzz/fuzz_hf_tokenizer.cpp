// libFuzzer target: tokenizer.json (+ tokenizer_config.json after a NUL byte) → tokenizer.ggml.* metadata, then the
// tokenizer built from it encoding text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/hf-internal.h"
#include "io/text/tokenizer.h"

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
    // The same text as a tokenizer on its own (no model vocabulary bound); whatever loads must also encode.
    try {
        io::model_file m;
        m.path = "fuzz";
        io::detail::add_hf_tokenizer_text(m, tok, "tokenizer.json", nul == std::string::npos ? nullptr : &cfg,
                                          "tokenizer_config.json", -1);
        m.index();
        const text::tokenizer t(m);
        const std::vector<int32_t> ids = t.encode(cfg.empty() ? std::string("Hello world 123 caf\xC3\xA9") : cfg, true, true);
        for (int32_t id : ids)
            if (id < 0 || id >= t.n_vocab()) std::abort();
        (void)t.decode(ids, true);
    } catch (const fathom::error&) {
    }
    return 0;
}

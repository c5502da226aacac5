// libFuzzer target: config.json → GGUF hyper-parameters (including Llama-3 RoPE factors).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/model-file.h"

using namespace fathom;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        io::model_file m = io::parse_hf_config(std::string(reinterpret_cast<const char*>(data), size), "config.json");
        size_t n = 0;
        for (const auto& kv : m.meta) n += kv.second.to_display().size();
        if (const io::tensor_entry* rf = m.find_tensor("rope_freqs.weight")) {
            const float* f = static_cast<const float*>(rf->data);
            for (int64_t i = 0; i < rf->nelements(); ++i)
                if (!(f[i] > 0) || !std::isfinite(f[i])) std::abort();  // divisors must be usable
        }
        return n == 0x7fffffff ? 1 : 0;
    } catch (const fathom::error&) {
        return 0;
    }
}

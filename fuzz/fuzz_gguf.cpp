// libFuzzer target: GGUF parser; accepted inputs are also written back and re-read (round trip must hold).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/model-file.h"

using namespace fathom;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    io::model_file m;
    try {
        m = io::parse_gguf(data, size, "fuzz.gguf");
    } catch (const fathom::error&) {
        return 0;  // rejected cleanly; any other exception escapes and is reported as a crash
    }
    size_t touched = 0;
    for (const auto& kv : m.meta) touched += kv.second.to_display().size();
    for (const auto& t : m.tensors) {
        tensor_view v = t.view();
        const uint8_t* p = static_cast<const uint8_t*>(t.data);
        touched += p[0] + p[t.nbytes - 1] + size_t(v.n_dims);  // first and last byte must be in bounds
    }
    static const std::string tmp = "/tmp/fathom-fuzz-gguf-" + std::to_string(::getpid()) + ".gguf";
    io::write_gguf(tmp, m);
    io::model_file r = io::read_gguf(tmp);
    if (r.meta.size() != m.meta.size() + (m.alignment != 32 && !m.find("general.alignment") ? 1 : 0) ||
        r.tensors.size() != m.tensors.size() || r.alignment != m.alignment)
        std::abort();
    for (size_t k = 0; k < m.tensors.size(); ++k)
        if (r.tensors[k].name != m.tensors[k].name || r.tensors[k].nbytes != m.tensors[k].nbytes ||
            std::memcmp(r.tensors[k].data, m.tensors[k].data, m.tensors[k].nbytes) != 0)
            std::abort();
    std::remove(tmp.c_str());
    return touched == 0x7fffffff ? 1 : 0;
}

// `fathom quantize IN OUT --type T`: writes a quantised GGUF (types, llama.cpp-style mixes, per-tensor overrides)
// and prints its size and bits per weight.
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

int cmd_quantize(int argc, char** argv) {
    std::string in, out, type = "q4_k_m", imatrix;
    std::vector<std::string> overrides;
    int32_t threads = 0;
    bool requantize = false;
    arg_parser ap("fathom quantize IN OUT [--type T] [--tensor-type PATTERN=TYPE ...] [--imatrix FILE]",
                  "Quantises IN (a GGUF F32/F16/BF16 file or a Hugging Face folder) into the GGUF file OUT. 2-D "
                  "weights get TYPE; norms and biases stay F32. The mixes put the output head, and attn_v / "
                  "ffn_down of the first and last eighth of the layers and every third one between, at 6 bits.");
    ap.positional("IN", "GGUF file or Hugging Face folder", &in);
    ap.positional("OUT", "GGUF file to write", &out);
    ap.option("--type", "T",
              "q4_0, q4_1, q5_0, q5_1, q8_0, iq4_nl, q4_k, q5_k, q6_k, iq4_xs, f16, bf16, f32, or a mix: q4_k_m "
              "(default), q4_k_s, q5_k_m, q5_k_s",
              &type);
    ap.option("--tensor-type", "PATTERN=TYPE",
              "type for the tensors whose GGUF name matches the glob PATTERN (repeatable; first match wins)",
              &overrides);
    ap.option("-t,--threads", "N", "threads; 0 = physical cores (default 0)", &threads);
    ap.flag("--allow-requantize", "accept a source that is already quantised (quality loss compounds)", &requantize);
    ap.option("--imatrix", "FILE",
              "importance data from 'fathom calibrate' (or llama.cpp's GGUF imatrix): scales minimise the "
              "activation-weighted error",
              &imatrix);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (threads < 0) throw ap.error("-t: must be >= 0");

    fathom_quantize_options o;
    fathom_quantize_options_init(&o);
    o.type = type.c_str();
    std::vector<const char*> ov;
    for (const std::string& s : overrides) ov.push_back(s.c_str());
    o.tensor_types = ov.empty() ? nullptr : ov.data();
    o.n_tensor_types = int32_t(ov.size());
    o.n_threads = threads;
    o.allow_requantize = requantize ? 1 : 0;
    o.imatrix_path = imatrix.empty() ? nullptr : imatrix.c_str();
    fathom_quantize_stats st;
    st.struct_size = sizeof st;
    if (fathom_quantize(in.c_str(), out.c_str(), &o, &st) != FATHOM_OK) throw cli_error(fathom_last_error());
    std::printf("%s -> %s (%s)\n", in.c_str(), out.c_str(), type.c_str());
    std::printf("size:     %s -> %s (%.1f %%)\n", format_bytes(st.bytes_in).c_str(), format_bytes(st.bytes_out).c_str(),
                st.bytes_in ? 100.0 * double(st.bytes_out) / double(st.bytes_in) : 0.0);
    std::printf("bits per weight: %.3f over %s weights\n", st.bits_per_weight, format_count(double(st.n_weights)).c_str());
    std::printf("tensors:  %lld, %lld quantised%s\n", (long long)st.n_tensors, (long long)st.n_quantized,
                st.n_fallback ? (", " + std::to_string(st.n_fallback) + " in a fallback type (row length)").c_str() : "");
    if (!imatrix.empty())
        std::printf("imatrix:  %s used for %lld tensors\n", imatrix.c_str(), (long long)st.n_importance);
    std::printf("time:     %.2f s\n", st.seconds);
    return 0;
}

}  // namespace fathom_cli

// `fathom convert HF_DIR -o model.gguf [--type f32|f16|bf16]`.
#include <chrono>
#include <cstdio>
#include <string>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

int cmd_convert(int argc, char** argv) {
    std::string src, out, type = "f16";
    arg_parser ap("fathom convert HF_DIR -o OUT.gguf [--type f32|f16|bf16]",
                  "Converts a Hugging Face folder (config.json + *.safetensors) into one GGUF file.\n"
                  "2-D weights get --type; norms and other 1-D tensors stay f32.");
    ap.positional("HF_DIR", "Hugging Face model folder (or a GGUF file to re-type)", &src);
    ap.option("-o,--output", "OUT", "GGUF file to write (required)", &out);
    ap.option("--type", "TYPE", "weight type: f32, f16 or bf16 (default f16)", &type);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (out.empty()) throw ap.error("missing -o OUT");
    fathom_type t;
    if (!parse_weight_type(type, &t)) throw ap.error("--type: '" + type + "' is not one of f32, f16, bf16");
    const auto t0 = std::chrono::steady_clock::now();
    fathom::convert(src, out, t);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wrote %s (%s) in %.2f s\n", out.c_str(), type.c_str(), sec);
    return 0;
}

}  // namespace fathom_cli

// `fathom synth --arch llama --shape NAME -o FILE [--type f32|f16|bf16] [--seed S]`: untrained random-weight model.
#include <chrono>
#include <cstdio>
#include <string>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

int cmd_synth(int argc, char** argv) {
    std::string arch = "llama", shape, out, type = "f32";
    uint64_t seed = 1;
    int32_t threads = 0;
    const std::string shapes = fathom_synth_shapes();
    arg_parser ap("fathom synth --arch llama --shape NAME -o FILE [--type f32|f16|bf16] [--seed S]",
                  "Writes an UNTRAINED model with random weights ~ normal(0, 0.02) and unit norms, for tests and\n"
                  "benchmarks. Shapes: " + shapes + ".");
    ap.option("--arch", "ARCH", "model family (default llama)", &arch);
    ap.option("--shape", "NAME", "shape name (required): " + shapes, &shape);
    ap.option("-o,--output", "FILE", "GGUF file to write (required)", &out);
    ap.option("--type", "TYPE", "weight type: f32, f16 or bf16 (default f32)", &type);
    ap.option("--seed", "S", "weight seed (default 1)", &seed);
    ap.option("-t,--threads", "N", "threads; 0 = physical cores (default 0)", &threads);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (shape.empty()) throw ap.error("missing --shape NAME (" + shapes + ")");
    if (out.empty()) throw ap.error("missing -o FILE");
    if (threads < 0) throw ap.error("-t: must be >= 0");

    fathom_synth_options o = fathom::default_synth_options();
    o.arch = arch.c_str();
    o.shape = shape.c_str();
    if (!parse_weight_type(type, &o.type)) throw ap.error("--type: '" + type + "' is not one of f32, f16, bf16");
    o.seed = seed;
    o.n_threads = threads;
    const auto t0 = std::chrono::steady_clock::now();
    fathom::synth(o, out);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wrote %s: synthetic %s %s (%s, untrained) in %.2f s\n", out.c_str(), arch.c_str(), shape.c_str(),
                type.c_str(), sec);
    return 0;
}

}  // namespace fathom_cli

// `fathom lora merge`: writes a model with LoRA adapters merged into its weights (W' = W + scale * alpha/rank * B A).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"
#include "gen-common.h"

namespace fathom_cli {

namespace {

int lora_merge(int argc, char** argv) {
    std::string model_path, out_path, type;
    int32_t threads = 0;
    std::vector<std::string> specs;
    arg_parser ap("fathom lora merge -m BASE --lora ADAPTER[:SCALE] [--lora ...] -o OUT [--type TYPE]",
                  "Merges LoRA adapters (llama.cpp LoRA GGUF files) into a base model and writes it as GGUF: each "
                  "adapted weight becomes W + sum of SCALE * alpha / rank * B A, computed in F32 from the "
                  "dequantised base weight and written in the base tensor's type (or --type). Other tensors are "
                  "copied as they are.");
    ap.option("-m,--model", "BASE", "base model GGUF (required)", &model_path);
    ap.option("--lora", "PATH[:SCALE]", "adapter and its multiplier (default 1); repeatable, at least one", &specs);
    ap.option("-o,--output", "OUT", "merged model GGUF to write (required)", &out_path);
    ap.option("--type", "TYPE",
              "type of the merged weights: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q4_k, q5_k, q6_k, "
              "iq4_xs (default: the base tensor's type)",
              &type);
    ap.option("-t,--threads", "N", "threads; 0 = physical cores (default 0)", &threads);
    if (!ap.parse(argc, argv, 3)) return 0;
    if (model_path.empty()) throw ap.error("missing -m BASE");
    if (out_path.empty()) throw ap.error("missing -o OUT");
    if (specs.empty()) throw ap.error("missing --lora ADAPTER[:SCALE]");
    if (threads < 0) throw ap.error("-t: must be >= 0");

    std::vector<std::string> paths(specs.size());
    std::vector<const char*> cpaths;
    std::vector<float> scales(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        parse_lora_spec(specs[i], &paths[i], &scales[i]);
        cpaths.push_back(paths[i].c_str());
    }
    fathom_lora_merge_options o;
    fathom_lora_merge_options_init(&o);
    o.adapters = cpaths.data();
    o.scales = scales.data();
    o.n_adapters = int32_t(cpaths.size());
    o.type = type.empty() ? nullptr : type.c_str();
    o.n_threads = threads;
    fathom::check(fathom_lora_merge(model_path.c_str(), out_path.c_str(), &o));
    std::printf("merged %zu adapter(s) into %s -> %s\n", specs.size(), model_path.c_str(), out_path.c_str());
    return 0;
}

}  // namespace

int cmd_lora(int argc, char** argv) {
    const char* usage = "fathom lora merge -m BASE --lora ADAPTER[:SCALE] -o OUT [--type TYPE]";
    if (argc < 3) throw usage_error("missing subcommand (merge)", usage);
    const std::string sub = argv[2];
    if (sub == "-h" || sub == "--help") {
        std::printf("usage: %s\n\nSubcommands:\n  merge   write a model with LoRA adapters merged into its weights\n"
                    "\nRun 'fathom lora merge --help' for its options. 'fathom run' and 'fathom chat' apply adapters "
                    "without merging (--lora PATH[:SCALE]).\n",
                    usage);
        return 0;
    }
    if (sub == "merge") return lora_merge(argc, argv);
    throw usage_error("unknown subcommand '" + sub + "' (expected merge)", usage);
}

}  // namespace fathom_cli

// fathom: command-line front end (info, run, chat, tokenize, tokenizer, train, convert, quantize, synth, bench) over the public C/C++ API only.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace {

const char* k_usage =
    "usage: fathom COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  info      show a model's architecture, hyper-parameters, tensors and tokenizer\n"
    "  run       generate text (or tokens) from a prompt\n"
    "  chat      interactive multi-turn chat with the model's chat template\n"
    "  tokenize  print the token ids and pieces of a text\n"
    "  tokenizer train a byte-level BPE tokenizer on text files (fathom tokenizer train)\n"
    "  data      clean, deduplicate, split and tokenize training text (fathom data prepare)\n"
    "  train     train a model on token shards from a JSON config\n"
    "  tune      train a LoRA adapter on a frozen base model (QLoRA-style on quantised bases)\n"
    "  eval      perplexity, KL divergence, accuracy, BLEU / ROUGE-L, latency; JSON and HTML report\n"
    "  convert   convert a Hugging Face folder to GGUF\n"
    "  quantize  write a quantised GGUF (q4_0 ... q8_0, K-quants, IQ4, Q4_K_M-style mixes)\n"
    "  calibrate importance data (imatrix) for quantize --imatrix\n"
    "  synth     write an untrained random-weight model of a named shape\n"
    "  bench     measure prompt and generation speed (like llama-bench)\n"
    "  lora      merge LoRA adapters into a model (fathom lora merge)\n"
    "\n"
    "options:\n"
    "  -h, --help     show this help and exit\n"
    "  --version      show the version and exit\n"
    "\n"
    "Run 'fathom COMMAND --help' for the options of a command.\n";

}  // namespace

int main(int argc, char** argv) {
    using namespace fathom_cli;
    if (argc < 2) {
        std::fprintf(stderr, "fathom: missing command\n%s", k_usage);
        return 2;
    }
    const std::string cmd = argv[1];
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
        std::fputs(k_usage, stdout);
        return 0;
    }
    if (cmd == "--version") {
        std::printf("fathom %s (kernels: %s)\n", fathom::version().c_str(), fathom::isa_name().c_str());
        return 0;
    }
    int (*fn)(int, char**) = nullptr;
    if (cmd == "info") fn = cmd_info;
    else if (cmd == "run") fn = cmd_run;
    else if (cmd == "tokenize") fn = cmd_tokenize;
    else if (cmd == "chat") fn = cmd_chat;
    else if (cmd == "tokenizer") fn = cmd_tokenizer;
    else if (cmd == "data") fn = cmd_data;
    else if (cmd == "train") fn = cmd_train;
    else if (cmd == "tune") fn = cmd_tune;
    else if (cmd == "eval") fn = cmd_eval;
    else if (cmd == "convert") fn = cmd_convert;
    else if (cmd == "quantize") fn = cmd_quantize;
    else if (cmd == "calibrate") fn = cmd_calibrate;
    else if (cmd == "synth") fn = cmd_synth;
    else if (cmd == "bench") fn = cmd_bench;
    else if (cmd == "lora") fn = cmd_lora;
    if (!fn) {
        std::fprintf(stderr, "fathom: unknown command '%s'\n%s", cmd.c_str(), k_usage);
        return 2;
    }
    try {
        return fn(argc, argv);
    } catch (const usage_error& e) {
        std::fprintf(stderr, "fathom %s: %s\n", cmd.c_str(), e.what());
        if (!e.usage.empty()) std::fprintf(stderr, "usage: %s\n", e.usage.c_str());
        std::fprintf(stderr, "Run 'fathom %s --help' for details.\n", cmd.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::string msg = e.what();  // always exactly one line
        for (char& c : msg)
            if (c == '\n' || c == '\r') c = ' ';
        std::fprintf(stderr, "fathom: %s\n", msg.c_str());
        return 1;
    }
}

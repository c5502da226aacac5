// `fathom tokenizer train`: trains a byte-level BPE tokenizer on text files and writes a vocabulary-only GGUF.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.h"

namespace fathom_cli {

namespace {

const char* const k_usage =
    "fathom tokenizer train --vocab-size N --out FILE [--special A,B,C] [--bos TEXT] [--eos TEXT] [--pre NAME] "
    "[--chat-template NAME|FILE|none] [--min-frequency N] [-t N] FILES...";

void check(fathom_status s) {
    if (s != FATHOM_OK) throw cli_error(fathom_last_error());
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    size_t b = 0;
    while (b <= s.size()) {
        size_t e = s.find(',', b);
        if (e == std::string::npos) e = s.size();
        out.push_back(s.substr(b, e - b));
        b = e + 1;
    }
    return out;
}

// --chat-template as the library takes it: a built-in name, Jinja source read from a file, or "" for none.
std::string resolve_template(const std::string& arg) {
    if (arg == "none") return "";
    for (const std::string& n : split_commas(fathom_chat_builtin_templates())) {
        const std::string name = n.substr(n.find_first_not_of(' '));
        if (name == arg) return arg;
    }
    if (arg == "qwen" || arg == "qwen2") return arg;
    std::error_code ec;
    if (std::filesystem::is_regular_file(arg, ec)) {
        std::ifstream in(arg, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        if (!in && !in.eof()) throw cli_error(arg + ": cannot read the chat template file");
        if (ss.str().empty()) throw cli_error(arg + ": the chat template file is empty");
        return ss.str();
    }
    throw usage_error(std::string("--chat-template: '") + arg + "' is neither a built-in template (" +
                      fathom_chat_builtin_templates() + "), a readable Jinja file nor 'none'",
                      k_usage);
}

int train(int argc, char** argv) {
    fathom_tokenizer_train_options o;
    fathom_tokenizer_train_options_init(&o);
    std::string out_path, special, bos, eos, pre = o.pre, tmpl;
    int32_t vocab_size = 0, min_frequency = o.min_frequency, n_threads = o.n_threads;
    std::vector<std::string> files;
    arg_parser ap(k_usage,
                  "Trains a byte-level BPE tokenizer (GPT-2 byte map, merges by highest pair count, ties by the "
                  "smallest byte strings) on the text of FILES, read as bytes, and writes a vocabulary-only GGUF "
                  "that 'fathom tokenize -m FILE' and llama.cpp load. Ids: the special tokens, the 256 bytes, then "
                  "the merged tokens. The same files and options give the same file.");
    ap.option("--vocab-size", "N", "total tokens: special + 256 bytes + merges (required)", &vocab_size);
    ap.option("-o,--out", "FILE", "output GGUF file (required)", &out_path);
    ap.option("--special", "A,B,C",
              "special (control) tokens, comma-separated, ids 0.. in this order; \"\" = none; default "
              "<|endoftext|>,<|im_start|>,<|im_end|>",
              &special);
    ap.option("--bos", "TEXT", "special token used as BOS (added when encoding); default none", &bos);
    ap.option("--eos", "TEXT", "special token used as EOS; default the first special token", &eos);
    ap.option("--pre", "NAME", "pre-tokenizer regex set as tokenizer.ggml.pre names it; default llama-bpe", &pre);
    ap.option("--chat-template", "NAME|FILE|none",
              "chat template stored in the file: a built-in name or a Jinja file; default chatml when "
              "<|im_start|> and <|im_end|> are special tokens",
              &tmpl);
    ap.option("--min-frequency", "N", "pairs seen fewer times are never merged; default 2", &min_frequency);
    ap.option("-t,--threads", "N", "threads for reading and counting; default physical cores", &n_threads);
    ap.positional_list("FILES", "text files to train on (any bytes)", &files);
    if (!ap.parse(argc, argv, 3)) return 0;
    if (!ap.seen("--vocab-size")) throw ap.error("missing --vocab-size N");
    if (out_path.empty()) throw ap.error("missing --out FILE");

    std::vector<std::string> specials;
    std::vector<const char*> special_ptrs;
    if (ap.seen("--special")) {
        if (!special.empty()) specials = split_commas(special);
        for (const std::string& s : specials) {
            if (s.empty()) throw ap.error("--special: empty token text in '" + special + "'");
            special_ptrs.push_back(s.c_str());
        }
        o.special_tokens = special_ptrs.data();
        o.n_special_tokens = int32_t(specials.size());
        if (specials.empty()) o.special_tokens = nullptr;
    }
    if (ap.seen("--bos")) o.bos_token = bos.c_str();
    if (ap.seen("--eos")) o.eos_token = eos.c_str();
    o.pre = pre.c_str();
    std::string tmpl_src;
    if (ap.seen("--chat-template")) {
        tmpl_src = resolve_template(tmpl);
        o.chat_template = tmpl_src.c_str();
    }
    o.vocab_size = vocab_size;
    o.min_frequency = min_frequency;
    o.n_threads = n_threads;

    std::vector<const char*> file_ptrs;
    uint64_t n_bytes = 0;
    for (const std::string& f : files) {
        file_ptrs.push_back(f.c_str());
        std::error_code ec;
        const auto sz = std::filesystem::file_size(f, ec);
        if (!ec) n_bytes += uint64_t(sz);
    }
    const auto t0 = std::chrono::steady_clock::now();
    check(fathom_tokenizer_train(file_ptrs.data(), int64_t(file_ptrs.size()), &o, out_path.c_str()));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // Read the result back through the loader, so the summary reports what a user of the file gets.
    fathom_model_options mo;
    fathom_model_options_init(&mo);
    mo.vocab_only = 1;
    fathom_model* m = nullptr;
    check(fathom_model_load(out_path.c_str(), &mo, &m));
    fathom_model_info info{};
    info.struct_size = sizeof info;
    int64_t idx = -1, n_merges = 0;
    fathom_status s = fathom_model_get_info(m, &info);
    if (s == FATHOM_OK) s = fathom_model_meta_find(m, "tokenizer.ggml.merges", &idx);
    if (s == FATHOM_OK && idx >= 0) s = fathom_model_meta_array_length(m, idx, &n_merges);
    const std::string err = s == FATHOM_OK ? "" : fathom_last_error();
    fathom_model_free(m);
    if (s != FATHOM_OK) throw cli_error(err);

    std::fprintf(stderr, "%s: vocab %lld, merges %lld, %s read, %s MB/s, %s s\n", out_path.c_str(),
                 static_cast<long long>(info.n_vocab), static_cast<long long>(n_merges), format_bytes(n_bytes).c_str(),
                 format_fixed(secs > 0 ? double(n_bytes) / 1e6 / secs : 0.0, 2).c_str(), format_fixed(secs, 2).c_str());
    return 0;
}

}  // namespace

int cmd_tokenizer(int argc, char** argv) {
    const std::string sub = argc > 2 ? argv[2] : "";
    if (sub == "-h" || sub == "--help") {
        std::printf("usage: fathom tokenizer train [options] FILES...\n\nsubcommands:\n"
                    "  train     train a byte-level BPE tokenizer on text files\n\n"
                    "Run 'fathom tokenizer train --help' for its options.\n");
        return 0;
    }
    if (sub == "train") return train(argc, argv);
    throw usage_error(sub.empty() ? "missing subcommand (train)" : "unknown subcommand '" + sub + "' (expected train)",
                      k_usage);
}

}  // namespace fathom_cli

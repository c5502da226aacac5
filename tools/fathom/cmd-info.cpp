// `fathom info MODEL`: architecture, hyper-parameters, parameter count, tensor types, file size, tokenizer, ISA.
#include <cstdio>
#include <map>
#include <string>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

namespace {

void print_meta(const fathom::model& m) {
    std::printf("\nmetadata:\n");
    const int64_t n = m.meta_count();
    for (int64_t i = 0; i < n; ++i)
        std::printf("  %-44s %-8s %s\n", m.meta_key(i).c_str(), m.meta_type(i).c_str(), m.meta_value(i).c_str());
}

int print_vocab_info(const fathom::model& v, const std::string& path, bool show_meta) {
    auto row = [](const char* k, const std::string& val) { std::printf("%-16s %s\n", k, val.c_str()); };
    const fathom_model_info in = v.info();
    row("file", path);
    row("file size", format_bytes(in.file_bytes) + " (" + std::to_string(in.file_bytes) + " bytes)");
    row("contents", "tokenizer only (no weights)");
    if (in.name[0]) row("name", in.name);
    const auto model = v.meta_string("tokenizer.ggml.model");
    const auto pre = v.meta_string("tokenizer.ggml.pre");
    const auto n_merges = v.meta_array_length("tokenizer.ggml.merges");
    row("tokenizer", (model ? *model : std::string("?")) + (pre ? ", pre-tokenizer " + *pre : std::string()));
    row("n_vocab", std::to_string(in.n_vocab));
    if (n_merges) row("merges", std::to_string(*n_merges));
    auto tok_row = [&](const char* k, int32_t id) {
        row(k, id >= 0 ? std::to_string(id) + " '" + v.token_piece(id) + "'" : std::string("none"));
    };
    tok_row("bos", in.bos_token);
    tok_row("eos", in.eos_token);
    std::string eog;
    for (int32_t id = 0; id < in.n_vocab; ++id)
        if (v.is_eog(id)) eog += (eog.empty() ? "" : ", ") + std::to_string(id) + " '" + v.token_piece(id) + "'";
    row("end of turn", eog.empty() ? "none" : eog);
    row("chat template", v.meta_string("tokenizer.chat_template") ? "yes (tokenizer.chat_template)" : "none");
    if (show_meta) print_meta(v);
    return 0;
}

}  // namespace

int cmd_info(int argc, char** argv) {
    std::string path;
    bool show_meta = false, show_tensors = false;
    arg_parser ap("fathom info MODEL [--meta] [--tensors]",
                  "Loads MODEL (a GGUF file, a Hugging Face folder or a tokenizer) and prints what it is.");
    ap.positional("MODEL", "GGUF file or Hugging Face folder", &path);
    ap.flag("--meta", "also list every metadata key and value", &show_meta);
    ap.flag("--tensors", "also list every tensor (name, type, shape, bytes)", &show_tensors);
    if (!ap.parse(argc, argv, 2)) return 0;

    {  // A file without tensors is a vocabulary: describe its tokenizer instead of failing on missing weights.
        fathom_model_options vo = fathom::default_model_options();
        vo.vocab_only = 1;
        fathom::model v(path, vo);
        if (v.tensor_count() == 0 && v.has_tokenizer()) return print_vocab_info(v, path, show_meta);
    }
    fathom::model m(path);
    const fathom_model_info in = m.info();
    auto row = [](const char* k, const std::string& v) { std::printf("%-16s %s\n", k, v.c_str()); };
    row("file", path);
    row("file size", format_bytes(in.file_bytes) + " (" + std::to_string(in.file_bytes) + " bytes)");
    row("architecture", in.architecture);
    if (in.name[0]) row("name", in.name);
    row("n_vocab", std::to_string(in.n_vocab));
    row("n_ctx_train", std::to_string(in.n_ctx_train));
    row("n_embd", std::to_string(in.n_embd));
    row("n_layer", std::to_string(in.n_layer));
    row("n_head", std::to_string(in.n_head));
    row("n_head_kv", std::to_string(in.n_head_kv));
    row("head_dim", std::to_string(in.head_dim));
    row("n_ff", std::to_string(in.n_ff));
    row("parameters", std::to_string(in.n_params) + " (" + format_count(double(in.n_params)) + ")");

    struct group {
        int64_t count = 0;
        uint64_t bytes = 0;
        int64_t elements = 0;
    };
    std::map<std::string, group> by_type;
    const int64_t n_tensors = m.tensor_count();
    for (int64_t i = 0; i < n_tensors; ++i) {
        const fathom_tensor_info t = m.tensor(i);
        group& g = by_type[t.type_name];
        ++g.count;
        g.bytes += t.n_bytes;
        g.elements += t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3];
    }
    row("tensors", std::to_string(n_tensors) + ", " + format_bytes(in.n_tensor_bytes) + " (" +
                       std::to_string(in.n_tensor_bytes) + " bytes)");
    for (const auto& [type, g] : by_type)
        std::printf("  %-14s %6lld tensors %14lld elements %12s\n", type.c_str(), (long long)g.count,
                    (long long)g.elements, format_bytes(g.bytes).c_str());

    // Tokenizer summary from the GGUF tokenizer.ggml.* keys.
    const auto tok_model = m.meta_string("tokenizer.ggml.model");
    const auto tok_count = m.meta_array_length("tokenizer.ggml.tokens");
    std::string tok = tok_model ? *tok_model : std::string("none");
    tok += tok_count ? ", " + std::to_string(*tok_count) + " tokens" : std::string(", no vocabulary");
    tok += ", bos " + (in.bos_token >= 0 ? std::to_string(in.bos_token) : std::string("none"));
    tok += ", eos " + (in.eos_token >= 0 ? std::to_string(in.eos_token) : std::string("none"));
    row("tokenizer", tok);
    row("isa", fathom::isa_name());

    if (show_meta) print_meta(m);
    if (show_tensors) {
        std::printf("\ntensors:\n");
        for (int64_t i = 0; i < n_tensors; ++i) {
            const fathom_tensor_info t = m.tensor(i);
            std::string shape = "[";
            for (int d = 0; d < t.n_dims; ++d) shape += (d ? ", " : "") + std::to_string(t.ne[d]);
            shape += "]";
            std::printf("  %-36s %-6s %-16s %12llu\n", t.name, t.type_name, shape.c_str(),
                        (unsigned long long)t.n_bytes);
        }
    }
    return 0;
}

}  // namespace fathom_cli

// Test helper for the chat tests: writes a tiny random-weight llama GGUF with a byte-level BPE vocabulary (control
// tokens, 256 byte tokens, a few merges) and an optional chat template, and runs the CLI with stdin from a string.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/model-file.h"
#include "models/synth.h"

namespace chat_test {

namespace fs = std::filesystem;

// The model's control tokens, ids 0..3.
constexpr int32_t k_endoftext = 0;  // EOS
constexpr int32_t k_im_start = 1;
constexpr int32_t k_im_end = 2;     // end of turn (by its text)
constexpr int32_t k_bos = 3;        // "<|begin_of_text|>"
constexpr int32_t k_first_byte = 4;  // byte b is token 4 + b

// A chatml template without the built-in's default system message (so the two render differently).
inline const char* k_model_template =
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

// UTF-8 of one code point below 0x800 (all the GPT-2 byte map needs).
inline std::string utf8_cp(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += char(cp);
    } else {
        s += char(0xC0 | (cp >> 6));
        s += char(0x80 | (cp & 0x3F));
    }
    return s;
}

// GPT-2's byte-to-text map: printable Latin-1 bytes stand for themselves, the others for 256, 257, ... in order.
inline std::vector<std::string> gpt2_byte_texts() {
    std::vector<std::string> t(256);
    uint32_t extra = 0;
    for (uint32_t b = 0; b < 256; ++b) {
        const bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        t[b] = utf8_cp(self ? b : 256 + extra++);
    }
    return t;
}

struct model_spec {
    std::string chat_template = k_model_template;  // "" = none
    bool add_bos = false;
    uint64_t seed = 7;
};

// Merges as "left right" in GPT-2 text form (space is "\xC4\xA0", i.e. U+0120).
inline std::vector<std::string> merges() {
    return {"H e", "l l", "He ll", "Hell o", "u s", "e r", "us er", "\xC4\xA0 t", "h e", "\xC4\xA0t he"};
}

// Writes the model; returns n_vocab.
inline int64_t write_model(const std::string& path, const model_spec& spec = {}) {
    using namespace fathom;
    std::vector<io::meta_value> tokens, types;
    auto add = [&](const std::string& text, int32_t type) {
        tokens.push_back(io::meta_value::str(text));
        types.push_back(io::meta_value::i32(type));
    };
    add("<|endoftext|>", 3);
    add("<|im_start|>", 3);
    add("<|im_end|>", 3);
    add("<|begin_of_text|>", 3);
    for (const std::string& b : gpt2_byte_texts()) add(b, 1);
    std::vector<io::meta_value> merge_values;
    for (const std::string& m : merges()) {
        const size_t sp = m.find(' ');
        add(m.substr(0, sp) + m.substr(sp + 1), 1);
        merge_values.push_back(io::meta_value::str(m));
    }
    const int64_t n_vocab = int64_t(tokens.size());

    synth_params p;
    p.shape = "tiny";
    p.seed = spec.seed;
    io::model_file m = synth_layout(p);
    m.set("general.name", io::meta_value::str("chat test model"));
    m.set("llama.vocab_size", io::meta_value::u32(uint32_t(n_vocab)));
    m.set("tokenizer.ggml.model", io::meta_value::str("gpt2"));
    m.set("tokenizer.ggml.pre", io::meta_value::str("gpt-2"));
    m.set("tokenizer.ggml.tokens", io::meta_value::array(io::gguf_type::GGUF_STRING, tokens));
    m.set("tokenizer.ggml.token_type", io::meta_value::array(io::gguf_type::GGUF_INT32, types));
    m.set("tokenizer.ggml.merges", io::meta_value::array(io::gguf_type::GGUF_STRING, merge_values));
    m.set("tokenizer.ggml.bos_token_id", io::meta_value::u32(uint32_t(k_bos)));
    m.set("tokenizer.ggml.eos_token_id", io::meta_value::u32(uint32_t(k_endoftext)));
    m.set("tokenizer.ggml.add_bos_token", io::meta_value::boolean(spec.add_bos));
    if (!spec.chat_template.empty()) m.set("tokenizer.chat_template", io::meta_value::str(spec.chat_template));
    for (auto& t : m.tensors)
        if (t.name == "token_embd.weight" || t.name == "output.weight") {
            t.ne[1] = n_vocab;
            t.nbytes = uint64_t(t.nelements()) * sizeof(float);
        }
    m.index();
    // Weights ~ normal(0, 0.02), the output projection ~ normal(0, 1) so that greedy choices are far from ties.
    io::write_gguf_streaming(path, m, [&](size_t k, uint8_t* dst) {
        const io::tensor_entry& t = m.tensors[k];
        float* y = reinterpret_cast<float*>(dst);
        const bool norm = t.name.find("_norm.") != std::string::npos;
        const float scale = t.name == "output.weight" ? 50.0f : 1.0f;
        for (int64_t i = 0; i < t.nelements(); ++i) y[i] = norm ? 1.0f : scale * synth_weight(spec.seed, k, uint64_t(i));
    });
    return n_vocab;
}

// A scratch directory for one test program run, removed with its contents at exit.
inline fs::path scratch_dir() {
    struct dir_t {
        fs::path path = fs::temp_directory_path() / ("fathom-chat-test-" + std::to_string(::getpid()));
        dir_t() { fs::create_directories(path); }
        ~dir_t() {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
    };
    static const dir_t dir;
    return dir.path;
}

inline std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct result {
    int rc = -1;
    std::string out, err;
};

inline std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs the fathom CLI with `input` on stdin, capturing stdout and stderr.
inline result run_cli(const std::vector<std::string>& args, const std::string& input = "") {
    static int counter = 0;
    const int k = counter++;
    const fs::path in = scratch_dir() / ("in-" + std::to_string(k) + ".txt");
    const fs::path out = scratch_dir() / ("out-" + std::to_string(k) + ".txt");
    const fs::path err = scratch_dir() / ("err-" + std::to_string(k) + ".txt");
    {
        std::ofstream f(in, std::ios::binary);
        f << input;
    }
    std::ostringstream cmd;
    cmd << quote(FATHOM_CLI);
    for (const auto& a : args) cmd << ' ' << quote(a);
    cmd << " <" << quote(in.string()) << " >" << quote(out.string()) << " 2>" << quote(err.string());
    const int status = std::system(cmd.str().c_str());
    result r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

}  // namespace chat_test

// `fathom tokenize`: prints the token ids (and pieces) the model's tokenizer gives for a text.
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if there is none.
size_t utf8_len_at(const std::string& s, size_t i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 && c >= 0xC2 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                    : c >= 0xF0 && c <= 0xF4        ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    return n;
}

// A piece on one line: \n, \r, \t, \\, other control bytes and bytes outside valid UTF-8 escaped.
std::string escape_piece(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            const size_t n = utf8_len_at(s, i);
            if (n) {
                out.append(s, i, n);
                i += n - 1;
                continue;
            }
        }
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c == '\\') out += "\\\\";
        else if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
            out += buf;
        } else out += char(c);
    }
    return out;
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
    std::string model_path, text;
    bool ids_only = false, no_bos = false, parse_special = false;
    arg_parser ap("fathom tokenize -m MODEL [--ids-only] [--no-bos] [--parse-special] TEXT",
                  "Tokenises TEXT with the model's tokenizer and prints one line per token: id, a tab and the "
                  "piece in quotes (newlines, tabs, control bytes and partial UTF-8 escaped as \\xNN). Only the vocabulary is loaded, so "
                  "vocabulary-only GGUF files work too.");
    ap.option("-m,--model", "MODEL", "GGUF file or Hugging Face folder (required)", &model_path);
    ap.flag("--ids-only", "print only the ids, space-separated on one line", &ids_only);
    ap.flag("--no-bos", "do not add the special tokens (BOS/EOS) the vocabulary asks for", &no_bos);
    ap.flag("--parse-special", "control tokens written as text (e.g. \"<|endoftext|>\") become their ids",
            &parse_special);
    ap.positional("TEXT", "text to tokenise", &text);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (model_path.empty()) throw ap.error("missing -m MODEL");

    fathom_model_options mo = fathom::default_model_options();
    mo.vocab_only = 1;
    fathom::model m(model_path, mo);
    const std::vector<int32_t> ids = m.tokenize(text, !no_bos, parse_special);
    if (ids_only) {
        for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
        std::printf("\n");
        return 0;
    }
    for (int32_t id : ids) std::printf("%d\t'%s'\n", id, escape_piece(m.token_piece(id)).c_str());
    return 0;
}

}  // namespace fathom_cli

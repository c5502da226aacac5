// Reading the shared tokenizer test vectors: a file's bytes, the .inp strings and the .out id lists.
#pragma once
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fathom::test {

inline std::string slurp_file(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The strings of a .inp file: each is the text before a line that reads exactly "__ggml_vocab_test__" (without the
// newline in front of that line).
inline std::vector<std::string> parse_vocab_inputs(const std::string& text) {
    std::vector<std::string> out;
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t pos = 0;
    for (;;) {
        const size_t hit = text.find(sep, pos);
        if (hit == std::string::npos) break;
        out.push_back(text.substr(pos, hit - pos));
        pos = hit + sep.size();
    }
    return out;
}

// The id lists of a .out file, one line each.
inline std::vector<std::vector<int32_t>> parse_vocab_outputs(const std::string& text) {
    std::vector<std::vector<int32_t>> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::vector<int32_t> ids;
        int32_t v;
        while (ls >> v) ids.push_back(v);
        out.push_back(ids);
    }
    return out;
}

}  // namespace fathom::test

// Pieces shared by the generating commands (run, chat): UTF-8-safe streaming and the repeatable --stop option.
#pragma once
#include <cstring>
#include <string>
#include <vector>

#include "cli.h"

namespace fathom_cli {

// Length of the longest prefix of s that does not end inside a UTF-8 sequence still waiting for bytes.
inline size_t complete_utf8_prefix(const std::string& s) {
    const size_t n = s.size();
    for (size_t back = 1; back <= 4 && back <= n; ++back) {
        const unsigned char c = static_cast<unsigned char>(s[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back for the lead
        const size_t want = c >= 0xF0 && c < 0xF8 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return want > back && c >= 0xC0 ? n - back : n;
    }
    return n;  // no lead byte nearby: malformed, print as is
}

// arg_parser keeps one value per option, so a repeatable option is taken out of argv before parsing: every
// "NAME VALUE" and "NAME=VALUE" from argv[first] on is removed and its value collected. `value_options` are the
// command's other options that take a value (their values are skipped, so "--system --stop" stays a system
// prompt); scanning ends at "--". Returns the remaining arguments (argv[0..first) kept); throws usage_error when
// NAME is last without a value or its value is empty.
inline std::vector<char*> take_repeated_option(int argc, char** argv, int first, const std::string& name,
                                               const std::vector<std::string>& value_options,
                                               std::vector<std::string>* values) {
    std::vector<char*> rest(argv, argv + (first < argc ? first : argc));
    auto takes_value = [&](const std::string& a) {
        for (const std::string& o : value_options)
            if (a == o) return true;
        return false;
    };
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") {
            for (; i < argc; ++i) rest.push_back(argv[i]);
            break;
        }
        std::string value;
        if (a == name) {
            if (i + 1 >= argc) throw usage_error("option '" + name + "' needs a value");
            value = argv[++i];
        } else if (a.rfind(name + "=", 0) == 0) {
            value = a.substr(name.size() + 1);
        } else {
            rest.push_back(argv[i]);
            if (takes_value(a) && i + 1 < argc) rest.push_back(argv[++i]);
            continue;
        }
        if (value.empty()) throw usage_error(name + ": the value must not be empty");
        values->push_back(value);
    }
    rest.push_back(nullptr);  // argv convention
    return rest;
}

}  // namespace fathom_cli

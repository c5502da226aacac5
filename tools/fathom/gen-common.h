// Pieces shared by the generating commands (run, chat): UTF-8-safe streaming.
#pragma once
#include <string>

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

}  // namespace fathom_cli

// Pieces shared by the generating commands (run, chat): sampling options and UTF-8-safe streaming.
#pragma once
#include <string>

#include "cli.h"

namespace fathom_cli {

// Registers --temp, --top-k, --top-p, --min-p, the penalties and --seed, writing into *so.
inline void add_sampling_options(arg_parser& ap, fathom_sampler_options* so) {
    ap.option("--temp", "T", "temperature; 0 = greedy (default 0.8)", &so->temperature);
    ap.option("--top-k", "K", "top-k; 0 = off (default 40)", &so->top_k);
    ap.option("--top-p", "P", "top-p; 1 = off (default 0.95)", &so->top_p);
    ap.option("--min-p", "P", "min-p; 0 = off (default 0.05)", &so->min_p);
    ap.option("--repeat-penalty", "R", "repetition penalty; 1 = off (default 1.0)", &so->repeat_penalty);
    ap.option("--repeat-last-n", "N", "penalty window in tokens; 0 = off, -1 = all (default 64)", &so->penalty_last_n);
    ap.option("--frequency-penalty", "F", "frequency penalty (default 0)", &so->frequency_penalty);
    ap.option("--presence-penalty", "P", "presence penalty (default 0)", &so->presence_penalty);
    ap.option("--seed", "S", "sampling seed (default: random)", &so->seed);
}

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

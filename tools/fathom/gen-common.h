// Pieces shared by the generating commands (run, chat): sampling options and UTF-8-safe streaming.
#pragma once
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"

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

// Splits a --lora value "PATH[:SCALE]": a suffix after the last ':' that reads as a number is the scale (default 1);
// otherwise the whole value is the path.
inline void parse_lora_spec(const std::string& spec, std::string* path, float* scale) {
    *path = spec;
    *scale = 1.0f;
    const size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) return;
    const std::string num = spec.substr(colon + 1);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(num.c_str(), &end);
    if (end != num.c_str() + num.size() || errno != 0) return;
    if (!std::isfinite(v)) throw usage_error("--lora: scale '" + num + "' is not a finite number");
    *path = spec.substr(0, colon);
    *scale = float(v);
}

// Registers the repeatable --lora PATH[:SCALE].
inline void add_lora_option(arg_parser& ap, std::vector<std::string>* specs) {
    ap.option("--lora", "PATH[:SCALE]",
              "apply a LoRA adapter GGUF at SCALE (default 1) without merging it; repeatable", specs);
}

// Loads the --lora adapters against the model and makes them the session's active adapters (the session keeps
// its own references, so the handles are freed here).
inline void apply_loras(const fathom::model& m, fathom::session& s, const std::vector<std::string>& specs) {
    if (specs.empty()) return;
    struct lora_free {
        void operator()(fathom_lora* p) const noexcept { fathom_lora_free(p); }
    };
    std::vector<std::unique_ptr<fathom_lora, lora_free>> owned;
    std::vector<const fathom_lora*> ptrs;
    std::vector<float> scales;
    for (const std::string& spec : specs) {
        std::string path;
        float scale = 1.0f;
        parse_lora_spec(spec, &path, &scale);
        fathom_lora* l = nullptr;
        fathom::check(fathom_lora_load(m.get(), path.c_str(), &l));
        owned.emplace_back(l);
        ptrs.push_back(l);
        scales.push_back(scale);
    }
    fathom::check(fathom_session_set_lora(s.get(), ptrs.data(), scales.data(), int32_t(ptrs.size())));
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

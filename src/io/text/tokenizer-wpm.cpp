// WordPiece (BERT): basic-tokenizer normalisation (NFD, accent strip, lowercase, punctuation/CJK split) and
// greedy longest-match-first sub-words.
#include <utf8proc.h>

#include "io/text/tokenizer-internal.h"

namespace fathom::text {

namespace {

bool is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_punct(uint32_t c, utf8proc_category_t cat) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

}  // namespace

void tokenizer_impl::encode_wpm(std::string_view text, std::vector<int32_t>& out) const {
    // Decode tolerantly (invalid bytes -> U+FFFD, dropped below), then NFD.
    std::vector<utf8proc_int32_t> cps;
    for (size_t i = 0; i < text.size();) {
        uint32_t cp;
        size_t len;
        utf8_next(text, i, cp, len);
        cps.push_back(static_cast<utf8proc_int32_t>(cp));
        i += len;
    }
    std::vector<std::string> words(1);
    utf8proc_int32_t dec[32];
    for (utf8proc_int32_t c0 : cps) {
        int last = 0;
        utf8proc_ssize_t nd = 1;
        if (wpm_lowercase) nd = utf8proc_decompose_char(c0, dec, 32, UTF8PROC_DECOMPOSE, &last);  // NFD, then strip
        else dec[0] = c0;
        if (nd <= 0 || nd > 32) continue;
        for (utf8proc_ssize_t k = 0; k < nd; ++k) {
            const uint32_t c = static_cast<uint32_t>(dec[k]);
            const auto cat = static_cast<utf8proc_category_t>(utf8proc_category(static_cast<utf8proc_int32_t>(c)));
            const bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || cat == UTF8PROC_CATEGORY_ZS;
            if (ws) {
                if (!words.back().empty()) words.emplace_back();
                continue;
            }
            if (c == 0 || c == 0xFFFD || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF) continue;
            if (wpm_lowercase && cat == UTF8PROC_CATEGORY_MN) continue;  // accents stripped (BERT uncased)
            std::string s;
            utf8_append(s, wpm_lowercase ? static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))) : c);
            if (is_punct(c, cat) || is_cjk(c)) {
                if (!words.back().empty()) words.emplace_back();
                words.back() = s;
                words.emplace_back();
            } else {
                words.back() += s;
            }
        }
    }
    const bool marker = find("\xE2\x96\x81the") >= 0 || find("##s") < 0;  // U+2581-prefixed word starts
    for (const std::string& w : words) {
        if (w.empty()) continue;
        std::string word = marker ? "\xE2\x96\x81" + w : w;
        const size_t n_before = out.size();
        size_t i = 0;
        bool bad = w.size() > 400;
        while (!bad && i < word.size()) {
            size_t j = word.size();
            int32_t hit = -1;
            for (; j > i; --j) {
                std::string cand = word.substr(i, j - i);
                if (!marker && i > 0) cand = "##" + cand;
                hit = find(cand);
                if (hit >= 0) break;
            }
            if (hit < 0) { bad = true; break; }
            out.push_back(hit);
            i = j;
        }
        if (bad) {
            out.resize(n_before);
            if (unk >= 0) out.push_back(unk);
        }
    }
}

}  // namespace fathom::text

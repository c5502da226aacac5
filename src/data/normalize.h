// Text normalisation for data preparation: UTF-8 repair, NFC, line-break and whitespace clean-up, character classes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace fathom::data {

struct normalize_stats {
    int64_t n_invalid = 0;   // invalid UTF-8 sequences replaced by U+FFFD (each maximal invalid subpart counts once)
    int64_t chars_in = 0;    // code points of the input (an invalid sequence counts as one)
};

// Normalises one document:
//  1. invalid UTF-8 sequences become U+FFFD (counted in stats->n_invalid);
//  2. CRLF and lone CR become LF;
//  3. control characters (Unicode Cc) other than LF and TAB are removed, and so is U+FEFF (byte order mark);
//  4. Unicode NFC;
//  5. trailing white space on each line is removed, runs of 3 or more line breaks become 2, and leading and
//     trailing white space of the whole text is removed.
// White space here is TAB, LF and the Unicode separators (Zs, Zl, Zp).
std::string normalize_text(std::string_view raw, normalize_stats* stats = nullptr);

// Replaces each invalid UTF-8 sequence of s by U+FFFD (as normalize_text does); returns how many were replaced.
int64_t repair_utf8(std::string& s);

// Counts over valid UTF-8 (as normalize_text returns it).
struct char_counts {
    int64_t n_chars = 0;  // code points
    int64_t n_alnum = 0;  // letters (L*, with combining marks M*) and numbers (N*), by Unicode category
};
char_counts count_chars(std::string_view utf8);

// Key for exact duplicates: lower-cased (Unicode simple case mapping), every run of white space as one space,
// no leading or trailing space. Input must be valid UTF-8.
std::string dedup_key(std::string_view utf8);

// True for the white space normalize_text trims (TAB, LF, CR, VT, FF, space and Unicode Zs / Zl / Zp).
bool is_white_space(uint32_t cp);

}  // namespace fathom::data

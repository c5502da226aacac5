// Text normalisation for data preparation (see normalize.h): a UTF-8 repairing decoder, NFC via utf8proc and a
// single pass for line ends and white space.
#include "data/normalize.h"

#include <utf8proc.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace fathom::data {

namespace {

constexpr uint32_t k_replacement = 0xFFFD;

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// Decodes one code point of valid UTF-8 at s[i], advancing i.
inline uint32_t next_valid(std::string_view s, size_t& i) {
    const uint8_t b = uint8_t(s[i]);
    if (b < 0x80) {
        ++i;
        return b;
    }
    int n = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : 1;
    uint32_t cp = b & (0x3F >> n);
    ++i;
    for (int k = 0; k < n && i < s.size(); ++k, ++i) cp = (cp << 6) | (uint8_t(s[i]) & 0x3F);
    return cp;
}

// Decodes one code point at s[i] (advancing i past it); an invalid sequence (its maximal subpart, as the Unicode
// standard recommends) gives U+FFFD and sets *invalid.
inline uint32_t next_repair(std::string_view s, size_t& i, bool* invalid) {
    const uint8_t b = uint8_t(s[i]);
    *invalid = false;
    if (b < 0x80) {
        ++i;
        return b;
    }
    int need;
    uint32_t cp;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        cp = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;  // no overlong forms
        if (b == 0xED) hi = 0x9F;  // no surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        cp = b & 0x07;
        if (b == 0xF0) lo = 0x90;  // no overlong forms
        if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {  // continuation byte without a lead, C0/C1 (overlong) or F5..FF
        ++i;
        *invalid = true;
        return k_replacement;
    }
    size_t j = i + 1;
    for (int k = 0; k < need; ++k) {
        if (j >= s.size()) {
            i = j;
            *invalid = true;
            return k_replacement;
        }
        const uint8_t c = uint8_t(s[j]);
        if (c < lo || c > hi) {
            i = j;  // the continuation bytes read so far are part of this one invalid sequence
            *invalid = true;
            return k_replacement;
        }
        cp = (cp << 6) | (c & 0x3F);
        ++j;
        lo = 0x80;
        hi = 0xBF;
    }
    i = j;
    return cp;
}

inline bool is_removed_control(uint32_t cp) {
    if (cp < 0x20) return cp != '\n' && cp != '\t';
    return (cp >= 0x7F && cp <= 0x9F) || cp == 0xFEFF;
}

// Horizontal white space: TAB and the Unicode separators other than line breaks.
inline bool is_horizontal_space(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || cp == '\t';
    const utf8proc_category_t c = utf8proc_category(utf8proc_int32_t(cp));
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

std::string to_nfc(const std::string& s) {
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                            utf8proc_ssize_t(s.size()), &out,
                                            utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0) {
        std::free(out);
        fail(errc::ERRC_INTERNAL, std::string("data: NFC normalisation failed: ") + utf8proc_errmsg(n));
    }
    std::string r(reinterpret_cast<const char*>(out), size_t(n));
    std::free(out);
    return r;
}

}  // namespace

bool is_white_space(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
    return is_horizontal_space(cp);
}

std::string normalize_text(std::string_view raw, normalize_stats* stats) {
    // 1-3: repair, line ends, controls.
    std::string a;
    a.reserve(raw.size());
    int64_t n_invalid = 0, chars_in = 0;
    uint32_t max_cp = 0;
    size_t i = 0;
    while (i < raw.size()) {
        // ASCII run without controls: copy as is.
        size_t j = i;
        while (j < raw.size()) {
            const uint8_t b = uint8_t(raw[j]);
            if (b >= 0x80 || (b < 0x20 && b != '\n' && b != '\t') || b == 0x7F) break;
            ++j;
        }
        if (j > i) {
            a.append(raw.data() + i, j - i);
            chars_in += int64_t(j - i);
            i = j;
            if (i >= raw.size()) break;
        }
        bool invalid;
        const uint32_t cp = next_repair(raw, i, &invalid);
        ++chars_in;
        n_invalid += invalid;
        if (cp == '\r') {
            a += '\n';
            if (i < raw.size() && raw[i] == '\n') {
                ++i;
                ++chars_in;
            }
            continue;
        }
        if (is_removed_control(cp)) continue;
        if (cp > max_cp) max_cp = cp;
        append_utf8(a, cp);
    }
    if (stats) {
        stats->n_invalid += n_invalid;
        stats->chars_in += chars_in;
    }
    // 4: NFC. Text below U+0300 is already in NFC (no combining marks, no composition exclusions, no Hangul).
    if (max_cp >= 0x300) a = to_nfc(a);

    // 5: one pass over lines: drop trailing spaces, cap blank lines, trim both ends.
    std::string out;
    out.reserve(a.size());
    size_t ws_begin = 0, ws_end = 0;  // pending horizontal white space in `a` (bytes), emitted before the next char
    int pending_nl = 0;
    const auto flush_pending = [&] {
        if (!out.empty()) {
            out.append(size_t(pending_nl < 2 ? pending_nl : 2), '\n');
            out.append(a, ws_begin, ws_end - ws_begin);
        }
        pending_nl = 0;
    };
    i = 0;
    while (i < a.size()) {
        const size_t start = i;
        uint8_t b = uint8_t(a[i]);
        if (b > 0x20 && b < 0x80) {  // a run of visible ASCII
            size_t j = i + 1;
            while (j < a.size() && (b = uint8_t(a[j])) > 0x20 && b < 0x80) ++j;
            flush_pending();
            out.append(a, i, j - i);
            i = ws_begin = ws_end = j;
            continue;
        }
        const uint32_t cp = next_valid(a, i);
        if (cp == '\n') {
            ++pending_nl;
            ws_begin = ws_end = i;  // spaces before a line break are dropped
            continue;
        }
        if (is_horizontal_space(cp)) {
            if (ws_begin == ws_end) ws_begin = start;
            ws_end = i;
            continue;
        }
        flush_pending();
        ws_begin = ws_end = i;
        out.append(a, start, i - start);
    }
    return out;
}

int64_t repair_utf8(std::string& s) {
    size_t i = 0;
    while (i < s.size() && uint8_t(s[i]) < 0x80) ++i;  // ASCII prefix: nothing to do
    int64_t n_invalid = 0;
    std::string out;
    size_t copied = 0;  // s[copied, i) still to be appended when something was replaced
    while (i < s.size()) {
        const size_t start = i;
        bool invalid;
        next_repair(s, i, &invalid);
        if (!invalid) continue;
        if (n_invalid++ == 0) out.reserve(s.size() + 16);
        out.append(s, copied, start - copied);
        append_utf8(out, k_replacement);
        copied = i;
    }
    if (n_invalid) {
        out.append(s, copied, s.size() - copied);
        s.swap(out);
    }
    return n_invalid;
}

char_counts count_chars(std::string_view s) {
    char_counts c;
    size_t i = 0;
    while (i < s.size()) {
        const uint8_t b = uint8_t(s[i]);
        if (b < 0x80) {
            ++i;
            ++c.n_chars;
            c.n_alnum += (b >= '0' && b <= '9') || ((b | 0x20) >= 'a' && (b | 0x20) <= 'z');
            continue;
        }
        const uint32_t cp = next_valid(s, i);
        ++c.n_chars;
        const int cat = int(utf8proc_category(utf8proc_int32_t(cp)));
        c.n_alnum += cat >= int(UTF8PROC_CATEGORY_LU) && cat <= int(UTF8PROC_CATEGORY_NO);
    }
    return c;
}

std::string dedup_key(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    bool space = false;
    size_t i = 0;
    while (i < s.size()) {
        const uint8_t b = uint8_t(s[i]);
        uint32_t cp;
        if (b < 0x80) {
            ++i;
            cp = b;
            if (cp == ' ' || (cp >= '\t' && cp <= '\r')) {
                space = true;
                continue;
            }
            if (cp >= 'A' && cp <= 'Z') cp += 32;
        } else {
            cp = next_valid(s, i);
            if (is_horizontal_space(cp)) {
                space = true;
                continue;
            }
            cp = uint32_t(utf8proc_tolower(utf8proc_int32_t(cp)));
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        append_utf8(out, cp);
    }
    return out;
}

}  // namespace fathom::data

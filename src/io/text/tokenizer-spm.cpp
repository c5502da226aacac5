// SentencePiece-style BPE: score-ordered merging of UTF-8 characters, U+2581 for spaces, <0xXX> byte fallback.
#include <queue>

#include "io/text/tokenizer-internal.h"

namespace fathom::text {

namespace {
constexpr std::string_view k_marker = "\xE2\x96\x81";  // U+2581, SentencePiece's space
}  // namespace

bool spm_words_independent(const std::vector<std::string>& tokens) {
    // True when no piece has the space marker after other text: merges can then never cross the start of a
    // "word" (a marker run following other characters), so words can be encoded one at a time.
    for (const std::string& t : tokens) {
        size_t i = 0;
        while (t.compare(i, 3, k_marker) == 0) i += 3;
        if (t.find(k_marker, i) != std::string::npos) return false;
    }
    return true;
}

void tokenizer_impl::encode_spm(std::string_view raw, std::vector<int32_t>& out) const {
    std::string text;
    text.reserve(raw.size() + raw.size() / 4 + 8);
    for (char c : raw) {
        if (c == ' ') text += k_marker;
        else text.push_back(c);
    }
    if (text.empty()) return;
    if (!spm_word_split) {
        spm_word(text, out);
        return;
    }
    // Words start where a marker follows a character that is not a marker. Short words go through the cache.
    std::vector<int32_t> tmp;
    auto word = [&](std::string_view w) {
        if (w.size() > 64) {
            spm_word(w, out);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(cache_mu);
            auto it = word_cache.find(w);
            if (it != word_cache.end()) {
                out.insert(out.end(), it->second.begin(), it->second.end());
                return;
            }
        }
        tmp.clear();
        spm_word(w, tmp);
        out.insert(out.end(), tmp.begin(), tmp.end());
        std::lock_guard<std::mutex> lock(cache_mu);
        if (word_cache.size() > (1u << 17)) word_cache.clear();
        word_cache.emplace(std::string(w), tmp);
    };
    const std::string_view tv(text);
    size_t start = 0;
    for (size_t i = tv.find(k_marker, 1); i != std::string_view::npos; i = tv.find(k_marker, i + 3)) {
        if (i < 3 || tv.compare(i - 3, 3, k_marker) != 0) {
            word(tv.substr(start, i - start));
            start = i;
        }
    }
    word(tv.substr(start));
}

void tokenizer_impl::spm_word(std::string_view text, std::vector<int32_t>& out) const {
    if (text.empty()) return;
    struct sym {
        int32_t prev, next;
        size_t off, len;
    };
    std::vector<sym> syms;
    for (size_t i = 0; i < text.size();) {
        uint32_t cp;
        size_t len;
        utf8_next(text, i, cp, len);
        syms.push_back({static_cast<int32_t>(syms.size()) - 1, -1, i, len});
        i += len;
    }
    for (size_t i = 0; i + 1 < syms.size(); ++i) syms[i].next = static_cast<int32_t>(i + 1);
    struct bigram {
        float score;
        int32_t left, right;
        size_t len;
    };
    auto worse = [](const bigram& a, const bigram& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<bigram, std::vector<bigram>, decltype(worse)> q(worse);
    auto try_add = [&](int32_t l, int32_t r) {
        if (l < 0 || r < 0) return;
        const std::string_view s(text.data() + syms[l].off, syms[l].len + syms[r].len);
        const int32_t id = find(s);
        if (id < 0) return;
        q.push({scores[id], l, r, s.size()});
    };
    for (size_t i = 0; i + 1 < syms.size(); ++i) try_add(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));
    while (!q.empty()) {
        const bigram b = q.top();
        q.pop();
        sym& l = syms[b.left];
        sym& r = syms[b.right];
        if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }
    // Each final symbol is a vocabulary piece (merges only ever form pieces) or one character: its bytes then.
    for (int32_t i = 0; i >= 0; i = syms[i].next) {
        const size_t off = syms[i].off, len = syms[i].len;
        const int32_t id = find(std::string_view(text.data() + off, len));
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        for (size_t k = 0; k < len; ++k) {
            const int32_t bt = byte_token[static_cast<unsigned char>(text[off + k])];
            if (bt >= 0) out.push_back(bt);
            else if (unk >= 0) out.push_back(unk);
        }
    }
}

}  // namespace fathom::text

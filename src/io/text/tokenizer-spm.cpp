// SentencePiece-style BPE: score-ordered merging of UTF-8 characters, U+2581 for spaces, <0xXX> byte fallback.
#include <queue>

#include "io/text/tokenizer-internal.h"

namespace fathom::text {

void tokenizer_impl::encode_spm(std::string_view raw, std::vector<int32_t>& out) const {
    std::string text;
    text.reserve(raw.size() + 8);
    for (char c : raw) {
        if (c == ' ') text += "\xE2\x96\x81";
        else text += c;
    }
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
    std::unordered_map<std::string, std::pair<int32_t, int32_t>> rev;
    auto try_add = [&](int32_t l, int32_t r) {
        if (l < 0 || r < 0) return;
        const std::string_view s(text.data() + syms[l].off, syms[l].len + syms[r].len);
        const int32_t id = find(s);
        if (id < 0) return;
        q.push({scores[id], l, r, s.size()});
        rev.emplace(std::string(s), std::make_pair(l, r));
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
    // Emit each final symbol: a vocabulary piece, else undo its merges, else its bytes.
    auto emit = [&](auto&& self, size_t off, size_t len) -> void {
        const std::string_view s(text.data() + off, len);
        const int32_t id = find(s);
        if (id >= 0) { out.push_back(id); return; }
        auto it = rev.find(std::string(s));
        if (it != rev.end()) {
            // the left part's length when the pair was formed (symbol offsets are absolute)
            const size_t split = syms[it->second.second].off - syms[it->second.first].off;
            if (split > 0 && split < len) {
                self(self, off, split);
                self(self, off + split, len - split);
                return;
            }
        }
        for (size_t k = 0; k < len; ++k) {
            const int32_t bt = byte_token[static_cast<unsigned char>(text[off + k])];
            if (bt >= 0) out.push_back(bt);
            else if (unk >= 0) out.push_back(unk);
        }
    };
    for (int32_t i = 0; i >= 0; i = syms[i].next) emit(emit, syms[i].off, syms[i].len);
}

}  // namespace fathom::text

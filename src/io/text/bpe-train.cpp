// Byte-level BPE trainer: parallel regex pre-tokenisation and word counting, merges by pair count (a max-heap with
// lazy invalidation over a pair -> words index), and the vocabulary-only GGUF it writes.
#include "io/text/bpe-train.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/thread-pool.h"
#include "io/text/tokenizer-internal.h"

namespace fathom::text {

namespace {

const char* const k_where = "tokenizer train: ";

[[noreturn]] void bad_param(const std::string& field, const std::string& problem) {
    fail(errc::ERRC_INVALID_ARGUMENT, k_where + field + ": " + problem);
}

// A token text for one-line messages: control and non-ASCII bytes as \xNN.
std::string shown(std::string_view s) {
    std::string out;
    for (unsigned char c : s.substr(0, 64)) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += char(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
            out += buf;
        }
    }
    if (s.size() > 64) out += "...";
    return out;
}

// GPT-2 byte -> stand-in code point, the same map tokenizer_impl::load builds: printable Latin-1 bytes stand for
// themselves, the others take 256, 257, ... in byte order.
struct byte_map {
    std::string text[256];
    byte_map() {
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            utf8_append(text[b], self ? uint32_t(b) : uint32_t(256 + extra++));
        }
    }
};
const byte_map& bytes_to_text() {
    static const byte_map m;
    return m;
}

bool ascii_letter(char ch) {
    const unsigned c = static_cast<unsigned char>(ch) | 0x20u;
    return c >= 'a' && c <= 'z';
}

// True when no pre-tokenizer piece can contain both t[p-1] and t[p]: an ASCII letter, a newline, then an ASCII
// letter at p. Every pattern of pretokenizer_patterns ends the piece holding the letter before a newline (the newline
// joins no letter run), takes the newline into a piece ending at it (whitespace runs stop at a non-space, and a lone
// newline at the end of a text is split the same way), and starts a new piece at the letter. So pre-tokenising the
// text on either side of such a cut gives the pieces of the whole text.
bool safe_cut(std::string_view t, size_t p) {
    return p >= 2 && p < t.size() && t[p - 1] == '\n' && ascii_letter(t[p - 2]) && ascii_letter(t[p]);
}

using piece_counts = std::unordered_map<std::string_view, int64_t>;
using word_counts = std::unordered_map<std::string, int64_t, string_hash, std::equal_to<>>;

class word_counter {
public:
    explicit word_counter(const bpe_train_params& p) : p_(p), pool_(p.n_threads) {
        bool ignore_merges = false;
        pretok_ = pretokenizer(pretokenizer_patterns(p.pre, ignore_merges));
        specials_ = p.special_tokens;  // longest first, ties in the given order (as tokenizer::encode orders them)
        std::stable_sort(specials_.begin(), specials_.end(),
                         [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
        for (const std::string& s : specials_) max_special_ = std::max(max_special_, s.size());
        local_.resize(size_t(pool_.size()));
        n_pieces_.assign(size_t(pool_.size()), 0);
    }

    void count_file(const std::string& path);

    std::vector<bpe_word> take_words(bpe_train_stats* st) {
        std::vector<bpe_word> words;
        words.reserve(total_.size());
        for (auto& kv : total_) words.push_back({kv.first, kv.second});
        total_.clear();
        std::sort(words.begin(), words.end(), [](const bpe_word& a, const bpe_word& b) { return a.text < b.text; });
        if (st) {
            st->bytes_read = bytes_;
            st->n_pieces = 0;
            for (int64_t n : n_pieces_) st->n_pieces += n;
            st->n_words = int64_t(words.size());
        }
        return words;
    }

private:
    void count_text(std::string_view text);
    size_t find_block_cut(std::string_view t, size_t lo) const;
    bool special_crosses(std::string_view t, size_t p) const;

    const bpe_train_params& p_;
    thread_pool pool_;
    pretokenizer pretok_;
    std::vector<std::string> specials_;
    size_t max_special_ = 0;
    std::vector<piece_counts> local_;  // per thread
    std::vector<int64_t> n_pieces_;    // per thread
    word_counts total_;
    uint64_t bytes_ = 0;
};

// True when an occurrence of a special token's text in t starts before p and ends after it.
bool word_counter::special_crosses(std::string_view t, size_t p) const {
    for (const std::string& s : specials_) {
        const size_t l = s.size();
        if (l < 2) continue;
        const size_t ws = p >= l - 1 ? p - (l - 1) : 0;
        const size_t we = std::min(t.size(), p + l - 1);
        const std::string_view win = t.substr(ws, we - ws);
        for (size_t h = win.find(s); h != std::string_view::npos; h = win.find(s, h + 1))
            if (ws + h < p && ws + h + l > p) return true;
    }
    return false;
}

// Last safe cut of a block at or above lo that no special token text crosses, leaving every special token that
// starts before it wholly inside the block; 0 when there is none.
size_t word_counter::find_block_cut(std::string_view t, size_t lo) const {
    const size_t margin = std::max<size_t>(max_special_, 1);
    if (t.size() < margin + 3) return 0;
    for (size_t p = t.size() - margin; p >= std::max<size_t>(lo, 2); --p)
        if (safe_cut(t, p) && !special_crosses(t, p)) return p;
    return 0;
}

void word_counter::count_file(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) fail(errc::ERRC_IO, path + ": cannot open: " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail(errc::ERRC_IO, path + ": is a directory, not a text file");
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) fail(errc::ERRC_IO, path + ": cannot open: " + std::strerror(errno));

    std::unique_ptr<char[]> buf;  // uninitialised: only the bytes read are touched
    size_t cap = 0, size = 0, want = p_.block_bytes, scanned = 0;
    if (S_ISREG(st.st_mode)) want = std::min<size_t>(want, size_t(st.st_size) + 1);
    want = std::max<size_t>(want, 4 * max_special_ + 64);
    bool eof = false;
    for (;;) {
        if (!eof && size < want) {
            if (want > cap) {
                std::unique_ptr<char[]> nb(new char[want]);
                if (size) std::memcpy(nb.get(), buf.get(), size);
                buf = std::move(nb);
                cap = want;
            }
            const size_t asked = want - size;
            const size_t got = std::fread(buf.get() + size, 1, asked, f.get());
            size += got;
            if (got < asked) {
                if (std::ferror(f.get())) fail(errc::ERRC_IO, path + ": read error: " + std::strerror(errno));
                eof = true;
            }
        }
        if (size == 0) break;
        const std::string_view block(buf.get(), size);
        const size_t cut = eof ? size : find_block_cut(block, scanned);
        if (cut == 0) {  // no place to cut yet: read more
            scanned = size > max_special_ + 2 ? size - max_special_ - 2 : 0;
            want = size + p_.block_bytes;
            continue;
        }
        count_text(block.substr(0, cut));
        bytes_ += cut;
        std::memmove(buf.get(), buf.get() + cut, size - cut);
        size -= cut;
        scanned = 0;
        want = size + p_.block_bytes;
        if (eof && size == 0) break;
    }
}

void word_counter::count_text(std::string_view text) {
    // Fragments of ordinary text between special tokens, found as tokenizer::encode finds them.
    std::vector<std::pair<size_t, size_t>> frags, next;
    if (!text.empty()) frags.emplace_back(0, text.size());
    for (const std::string& s : specials_) {
        next.clear();
        for (const auto& [off, len] : frags) {
            if (len < s.size()) {
                next.emplace_back(off, len);
                continue;
            }
            const std::string_view raw = text.substr(off, len);
            size_t pos = 0;
            for (size_t hit = raw.find(s); hit != std::string_view::npos; hit = raw.find(s, pos)) {
                if (hit > pos) next.emplace_back(off + pos, hit - pos);
                pos = hit + s.size();
            }
            if (pos < len) next.emplace_back(off + pos, len - pos);
        }
        frags.swap(next);
    }
    // Work units of about chunk_bytes, cut only at safe places.
    std::vector<std::string_view> chunks;
    for (const auto& [off, len] : frags) {
        const std::string_view frag = text.substr(off, len);
        size_t s = 0;
        while (s < frag.size()) {
            size_t e = frag.size();
            if (frag.size() - s > p_.chunk_bytes) {
                size_t from = s + p_.chunk_bytes - 1;  // a cut at q needs frag[q - 1] == '\n'
                while (from < frag.size()) {
                    const void* nl = std::memchr(frag.data() + from, '\n', frag.size() - from);
                    if (!nl) break;
                    const size_t q = size_t(static_cast<const char*>(nl) - frag.data()) + 1;
                    if (safe_cut(frag, q)) {
                        e = q;
                        break;
                    }
                    from = q;
                }
            }
            chunks.push_back(frag.substr(s, e - s));
            s = e;
        }
    }
    pool_.parallel_for(int64_t(chunks.size()), 1, [&](int64_t b, int64_t e, int t) {
        std::vector<std::pair<size_t, size_t>> pieces;
        piece_counts& counts = local_[size_t(t)];
        for (int64_t c = b; c < e; ++c) {
            const std::string_view chunk = chunks[size_t(c)];
            pieces.clear();
            pretok_.split(chunk, pieces);
            for (const auto& [off, len] : pieces) ++counts[chunk.substr(off, len)];
            n_pieces_[size_t(t)] += int64_t(pieces.size());
        }
    });
    // Pieces point into this block: fold them into the owned totals before the block goes away.
    for (piece_counts& counts : local_) {
        for (const auto& [w, n] : counts) {
            auto it = total_.find(w);
            if (it != total_.end()) it->second += n;
            else total_.emplace(std::string(w), n);
        }
        counts.clear();
    }
}

// ---- merge learning

struct pair_stat {
    int32_t a = 0, b = 0;         // left, right symbol
    int64_t count = 0;            // weighted occurrences over all words
    int64_t delta = 0;            // change collected during one merge step
    bool touched = false;
    bool banned = false;          // merged text would be a special token's text
    bool ban_checked = false;
    std::vector<uint32_t> where;  // positions whose symbol may start the pair (a superset, unordered)
};

struct heap_item {
    int64_t count;
    int32_t pair;
};

// Words live in one array of positions linked within each word; a merge rewrites the left position and unlinks the
// right one. Each pair keeps the positions where it may occur, so a merge visits its occurrences only, whatever the
// length of the words holding them.
class bpe_learner {
public:
    bpe_learner(const std::vector<bpe_word>& words, const bpe_train_params& p) : p_(p) {
        for (int b = 0; b < 256; ++b) add_symbol(std::string(1, char(b)));
        for (const std::string& s : p.special_tokens) special_texts_.insert(s);
        size_t total = 0;
        for (const bpe_word& w : words) total += w.text.size();
        if (total >= size_t(INT32_MAX) || words.size() >= size_t(INT32_MAX))
            fail(errc::ERRC_UNSUPPORTED, std::string(k_where) + "the distinct words hold " + std::to_string(total) +
                                             " bytes, more than 2^31 - 1");
        freq_.resize(words.size());
        first_.resize(words.size());
        sym_.resize(total);
        nxt_.resize(total);
        prv_.resize(total);
        word_.resize(total);
        uint32_t pos = 0;
        for (size_t w = 0; w < words.size(); ++w) {
            freq_[w] = words[w].count;
            first_[w] = pos;
            const std::string& t = words[w].text;
            for (size_t k = 0; k < t.size(); ++k, ++pos) {
                sym_[pos] = int32_t(static_cast<unsigned char>(t[k]));
                nxt_[pos] = k + 1 < t.size() ? int32_t(pos + 1) : -1;
                prv_[pos] = k > 0 ? int32_t(pos - 1) : -1;
                word_[pos] = uint32_t(w);
            }
        }
        pair_index_.reserve(1 << 16);
        for (uint32_t i = 0; i < total; ++i) {
            if (nxt_[i] < 0) continue;
            pair_stat& ps = pairs_[size_t(pair_of(sym_[i], sym_[i + 1]))];
            ps.count += freq_[word_[i]];
            ps.where.push_back(i);
        }
        for (size_t i = 0; i < pairs_.size(); ++i)
            if (pairs_[i].count > 0) heap_.push_back({pairs_[i].count, int32_t(i)});
        std::make_heap(heap_.begin(), heap_.end(), lower());
    }

    bpe_model run(bool keep_segmentation) {
        const int64_t n_special = int64_t(p_.special_tokens.size());
        const int64_t min_count = std::max<int64_t>(p_.min_frequency, 1);
        int64_t n_tokens = n_special + int64_t(model_.symbols.size());
        while (n_tokens < p_.vocab_size && !heap_.empty()) {
            std::pop_heap(heap_.begin(), heap_.end(), lower());
            const heap_item top = heap_.back();
            heap_.pop_back();
            pair_stat& ps = pairs_[size_t(top.pair)];
            if (top.count != ps.count) {  // stale: counts only fall between pushes, and every rise pushed anew
                if (ps.count > 0 && top.count > ps.count) push(top.pair);
                continue;
            }
            if (ps.count < min_count) break;  // the highest count left is too low
            if (is_banned(ps)) continue;
            const size_t before = model_.symbols.size();
            merge(top.pair);
            if (model_.symbols.size() > before) ++n_tokens;
        }
        if (keep_segmentation) {
            model_.segmentation.resize(freq_.size());
            for (size_t w = 0; w < freq_.size(); ++w)  // words are never empty
                for (int32_t i = int32_t(first_[w]); i >= 0; i = nxt_[size_t(i)])
                    model_.segmentation[w].push_back(sym_[size_t(i)]);
        }
        return std::move(model_);
    }

private:
    // Heap order: higher count first, then the smaller (left bytes, right bytes).
    struct lower_fn {
        const bpe_learner* l;
        bool operator()(const heap_item& x, const heap_item& y) const {
            if (x.count != y.count) return x.count < y.count;
            if (x.pair == y.pair) return false;
            const pair_stat& px = l->pairs_[size_t(x.pair)];
            const pair_stat& py = l->pairs_[size_t(y.pair)];
            const int c = l->model_.symbols[size_t(px.a)].compare(l->model_.symbols[size_t(py.a)]);
            if (c != 0) return c > 0;
            return l->model_.symbols[size_t(px.b)].compare(l->model_.symbols[size_t(py.b)]) > 0;
        }
    };
    lower_fn lower() const { return lower_fn{this}; }

    void push(int32_t pair) {
        heap_.push_back({pairs_[size_t(pair)].count, pair});
        std::push_heap(heap_.begin(), heap_.end(), lower());
    }

    int32_t add_symbol(std::string bytes) {
        const int32_t id = int32_t(model_.symbols.size());
        symbol_index_.emplace(bytes, id);
        model_.symbols.push_back(std::move(bytes));
        return id;
    }

    int32_t pair_of(int32_t a, int32_t b) {
        const uint64_t key = (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
        auto [it, fresh] = pair_index_.try_emplace(key, int32_t(pairs_.size()));
        if (fresh) {
            pairs_.emplace_back();
            pairs_.back().a = a;
            pairs_.back().b = b;
        }
        return it->second;
    }

    bool is_banned(pair_stat& ps) {
        if (!ps.ban_checked && !special_texts_.empty()) {
            const std::string& l = model_.symbols[size_t(ps.a)];
            const std::string& r = model_.symbols[size_t(ps.b)];
            ps.banned = special_texts_.count(bpe_byte_text(l + r)) > 0;
        }
        ps.ban_checked = true;
        return ps.banned;
    }

    // Adds d to the count of pair (x, y); a rise records `pos` as a place where the pair now starts.
    void change(int32_t x, int32_t y, int64_t d, uint32_t pos) {
        const int32_t idx = pair_of(x, y);
        pair_stat& ps = pairs_[size_t(idx)];
        if (!ps.touched) {
            ps.touched = true;
            touched_.push_back(idx);
        }
        ps.delta += d;
        if (d > 0) ps.where.push_back(pos);
    }

    void merge(int32_t pair) {
        const int32_t a = pairs_[size_t(pair)].a, b = pairs_[size_t(pair)].b;
        std::string bytes = model_.symbols[size_t(a)] + model_.symbols[size_t(b)];
        int32_t c;
        if (auto it = symbol_index_.find(bytes); it != symbol_index_.end()) c = it->second;
        else c = add_symbol(std::move(bytes));
        model_.merges.emplace_back(a, b);
        model_.merge_result.push_back(c);

        // Left to right through each word, so overlapping occurrences ("a a a") merge leftmost first.
        std::vector<uint32_t> where = std::move(pairs_[size_t(pair)].where);
        pairs_[size_t(pair)].where = {};
        std::sort(where.begin(), where.end());
        where.erase(std::unique(where.begin(), where.end()), where.end());
        for (uint32_t i : where) {
            const int32_t j = nxt_[i];
            if (sym_[i] != a || j < 0 || sym_[size_t(j)] != b) continue;  // gone since it was recorded
            const int64_t f = freq_[word_[i]];
            const int32_t p = prv_[i], q = nxt_[size_t(j)];
            if (p >= 0) {
                change(sym_[size_t(p)], a, -f, uint32_t(p));
                change(sym_[size_t(p)], c, f, uint32_t(p));
            }
            if (q >= 0) {
                change(b, sym_[size_t(q)], -f, i);
                change(c, sym_[size_t(q)], f, i);
                prv_[size_t(q)] = int32_t(i);
            }
            sym_[i] = c;
            nxt_[i] = q;
            sym_[size_t(j)] = -1;  // unlinked
            nxt_[size_t(j)] = prv_[size_t(j)] = -1;
        }
        for (int32_t idx : touched_) {
            pair_stat& ps = pairs_[size_t(idx)];
            ps.touched = false;
            const int64_t d = ps.delta;
            ps.delta = 0;
            if (idx == pair) continue;
            ps.count += d;
            if (d > 0) push(idx);
        }
        touched_.clear();
        pairs_[size_t(pair)].count = 0;  // every occurrence is merged
    }

    const bpe_train_params& p_;
    bpe_model model_;
    std::unordered_map<std::string, int32_t> symbol_index_;
    std::unordered_set<std::string> special_texts_;
    std::vector<int64_t> freq_;    // per word
    std::vector<uint32_t> first_;  // per word: its first position (never unlinked)
    std::vector<int32_t> sym_;     // per position: symbol, -1 once unlinked
    std::vector<int32_t> nxt_, prv_;
    std::vector<uint32_t> word_;   // per position: its word
    std::unordered_map<uint64_t, int32_t> pair_index_;
    std::vector<pair_stat> pairs_;
    std::vector<int32_t> touched_;
    std::vector<heap_item> heap_;
};

}  // namespace

std::string bpe_byte_text(std::string_view raw) {
    const byte_map& m = bytes_to_text();
    std::string out;
    out.reserve(raw.size() * 2);
    for (unsigned char c : raw) out += m.text[c];
    return out;
}

void bpe_check_params(const bpe_train_params& p) {
    const size_t n_special = p.special_tokens.size();
    const int64_t least = 256 + int64_t(n_special) + 1;
    if (p.vocab_size < least)
        bad_param("vocab_size", std::to_string(p.vocab_size) + " is too small: at least " + std::to_string(least) +
                                    " (" + std::to_string(n_special) + " special + 256 byte tokens + 1 merge)");
    if (p.vocab_size > (1 << 24)) bad_param("vocab_size", std::to_string(p.vocab_size) + " is above 16777216");
    const byte_map& bm = bytes_to_text();
    for (size_t i = 0; i < n_special; ++i) {
        const std::string field = "special_tokens[" + std::to_string(i) + "]";
        const std::string& s = p.special_tokens[i];
        if (s.empty()) bad_param(field, "is empty");
        for (size_t j = 0; j < i; ++j)
            if (p.special_tokens[j] == s)
                bad_param(field, "'" + shown(s) + "' repeats special_tokens[" + std::to_string(j) + "]");
        for (int b = 0; b < 256; ++b)
            if (bm.text[b] == s) {
                char hex[8];
                std::snprintf(hex, sizeof hex, "0x%02X", unsigned(b));
                bad_param(field, "'" + shown(s) + "' is the text of the byte token for " + hex);
            }
    }
    if (p.bos < -1 || p.bos >= int64_t(n_special)) bad_param("bos_token", "is not one of the special tokens");
    if (p.eos < -1 || p.eos >= int64_t(n_special)) bad_param("eos_token", "is not one of the special tokens");
    if (p.min_frequency < 0) bad_param("min_frequency", std::to_string(p.min_frequency) + " is negative");
    if (p.n_threads < 0) bad_param("n_threads", std::to_string(p.n_threads) + " is negative");
    if (p.block_bytes == 0 || p.chunk_bytes == 0) bad_param("block_bytes", "read sizes must be positive");
    try {
        bool ignore_merges = false;
        (void)pretokenizer_patterns(p.pre, ignore_merges);
    } catch (const error&) {
        bad_param("pre", "unknown pre-tokenizer '" + shown(p.pre) + "'");
    }
}

std::vector<bpe_word> bpe_count_words(const std::vector<std::string>& files, const bpe_train_params& p,
                                      bpe_train_stats* stats) {
    bpe_check_params(p);
    word_counter wc(p);
    for (const std::string& f : files) wc.count_file(f);
    return wc.take_words(stats);
}

bpe_model bpe_learn(const std::vector<bpe_word>& words, const bpe_train_params& p, bool keep_segmentation) {
    bpe_check_params(p);
    bpe_learner l(words, p);
    return l.run(keep_segmentation);
}

io::model_file bpe_vocab_file(const bpe_model& m, const bpe_train_params& p, size_t n_files) {
    using io::meta_value;
    using io::gguf_type;
    const size_t n_special = p.special_tokens.size();
    std::vector<meta_value> tokens, types, merges;
    tokens.reserve(n_special + m.symbols.size());
    types.reserve(n_special + m.symbols.size());
    for (const std::string& s : p.special_tokens) {
        tokens.push_back(meta_value::str(s));
        types.push_back(meta_value::i32(int32_t(token_type::TOKEN_TYPE_CONTROL)));
    }
    for (const std::string& s : m.symbols) {  // the 256 bytes, then merged tokens in merge order
        tokens.push_back(meta_value::str(bpe_byte_text(s)));
        types.push_back(meta_value::i32(int32_t(token_type::TOKEN_TYPE_NORMAL)));
    }
    merges.reserve(m.merges.size());
    for (const auto& [a, b] : m.merges)
        merges.push_back(meta_value::str(bpe_byte_text(m.symbols[size_t(a)]) + " " +
                                         bpe_byte_text(m.symbols[size_t(b)])));

    io::model_file mf;
    mf.path = "trained vocabulary";
    mf.set("general.architecture", meta_value::str("gpt2"));
    mf.set("general.name", meta_value::str("fathom-bpe"));
    // llama.cpp reads the architecture's hyper-parameters even when it loads only the vocabulary (its own
    // ggml-vocab-*.gguf files carry them), so a minimal placeholder set is written; the file has no tensors.
    mf.set("gpt2.block_count", meta_value::u32(1));
    mf.set("gpt2.context_length", meta_value::u32(2048));
    mf.set("gpt2.embedding_length", meta_value::u32(64));
    mf.set("gpt2.feed_forward_length", meta_value::u32(256));
    mf.set("gpt2.attention.head_count", meta_value::u32(1));
    mf.set("gpt2.attention.layer_norm_epsilon", meta_value::f32(1e-5f));
    mf.set("tokenizer.ggml.model", meta_value::str("gpt2"));
    mf.set("tokenizer.ggml.pre", meta_value::str(p.pre));
    mf.set("tokenizer.ggml.tokens", meta_value::array(gguf_type::GGUF_STRING, std::move(tokens)));
    mf.set("tokenizer.ggml.token_type", meta_value::array(gguf_type::GGUF_INT32, std::move(types)));
    mf.set("tokenizer.ggml.merges", meta_value::array(gguf_type::GGUF_STRING, std::move(merges)));
    if (p.bos >= 0) mf.set("tokenizer.ggml.bos_token_id", meta_value::u32(uint32_t(p.bos)));
    if (p.eos >= 0) mf.set("tokenizer.ggml.eos_token_id", meta_value::u32(uint32_t(p.eos)));
    mf.set("tokenizer.ggml.add_bos_token", meta_value::boolean(p.bos >= 0));
    mf.set("tokenizer.ggml.add_eos_token", meta_value::boolean(false));
    if (!p.chat_template.empty()) mf.set("tokenizer.chat_template", meta_value::str(p.chat_template));
    mf.set("fathom.tokenizer.train.vocab_size", meta_value::u32(uint32_t(p.vocab_size)));
    mf.set("fathom.tokenizer.train.min_frequency", meta_value::u32(uint32_t(p.min_frequency)));
    mf.set("fathom.tokenizer.train.n_files", meta_value::u64(uint64_t(n_files)));
    return mf;
}

bpe_train_stats bpe_train(const std::vector<std::string>& files, const bpe_train_params& p,
                          const std::string& out_path) {
    const auto t0 = std::chrono::steady_clock::now();
    bpe_check_params(p);
    if (files.empty()) fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_where) + "files: no input files");
    if (out_path.empty()) fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_where) + "out_path: is empty");
    for (const std::string& f : files) {  // fail before hours of work on a later file
        struct stat st;
        if (::stat(f.c_str(), &st) != 0) fail(errc::ERRC_IO, f + ": cannot open: " + std::strerror(errno));
        if (S_ISDIR(st.st_mode)) fail(errc::ERRC_IO, f + ": is a directory, not a text file");
        std::FILE* fp = std::fopen(f.c_str(), "rb");
        if (!fp) fail(errc::ERRC_IO, f + ": cannot open: " + std::strerror(errno));
        std::fclose(fp);
    }
    bpe_train_stats st;
    const std::vector<bpe_word> words = bpe_count_words(files, p, &st);
    const bpe_model m = bpe_learn(words, p);
    const io::model_file mf = bpe_vocab_file(m, p, files.size());
    io::write_gguf(out_path, mf);
    st.n_vocab = int32_t(p.special_tokens.size() + m.symbols.size());
    st.n_merges = int32_t(m.merges.size());
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return st;
}

}  // namespace fathom::text

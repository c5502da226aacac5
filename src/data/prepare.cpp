// `data prepare` pipeline (see prepare.h): input readers, the per-batch parallel stages, the sequential
// deduplication and split, JSONL and token-shard output, and manifest.json.
#include "data/prepare.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/thread-pool.h"
#include "data/dedup.h"
#include "data/normalize.h"
#include "data/shards.h"

namespace fathom::data {

namespace fs = std::filesystem;

namespace {

constexpr size_t k_batch_bytes = size_t(8) << 20;  // documents are processed in batches of about this many bytes
constexpr size_t k_batch_docs = 32768;
constexpr size_t k_max_bad_lines = 1000;    // kept in the report / manifest
constexpr int64_t k_max_warnings = 20;      // bad lines sent to the warn callback
constexpr uint64_t k_split_salt = 0x73706c6974ull;  // "split"

[[noreturn]] void io_fail(const std::string& path, const std::string& what) {
    fail(errc::ERRC_IO, "data prepare: " + path + ": " + what + ": " + std::strerror(errno));
}

// Runs fn(i) for every i in [0, n) on the pool; an exception thrown by an item (the lowest such index) is
// rethrown on the calling thread.
void parallel_items(thread_pool& pool, size_t n, function_ref<void(size_t)> fn) {
    std::mutex mu;
    std::exception_ptr err;
    size_t err_index = SIZE_MAX;
    pool.parallel_for(int64_t(n), 4, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) {
            try {
                fn(size_t(i));
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu);
                if (size_t(i) < err_index) {
                    err_index = size_t(i);
                    err = std::current_exception();
                }
            }
        }
    });
    if (err) std::rethrow_exception(err);
}

bool is_blank(const std::string& line) {
    for (char c : line)
        if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
    return true;
}

bool is_jsonl(const std::string& path) {
    const std::string ext = fs::path(path).extension().string();
    return ext == ".jsonl" || ext == ".ndjson" || ext == ".JSONL";
}

// Reads documents from the inputs in order, one file at a time through a 1 MiB buffer.
class input_reader {
public:
    input_reader(const std::vector<std::string>& files, const prepare_params& p, prepare_report& r,
                 const prepare_callbacks& cb)
        : files_(files), p_(p), r_(r), cb_(cb), buf_(size_t(1) << 20) {}
    ~input_reader() { close(); }

    // Next document's raw bytes; false when every input is done.
    bool next(std::string& doc) {
        for (;;) {
            if (!f_) {
                if (index_ >= files_.size()) return false;
                open(files_[index_++]);
            }
            if (jsonl_) {
                while (read_line(line_)) {
                    if (is_blank(line_)) continue;
                    if (parse_json_line(doc)) return true;
                }
            } else if (p_.split == split_mode::SPLIT_MODE_FILE) {
                doc.clear();
                while (read_line(line_)) {
                    doc += line_;
                    if (!last_line_unterminated_) doc += '\n';
                }
                close();
                return true;
            } else if (p_.split == split_mode::SPLIT_MODE_LINE) {
                while (read_line(line_)) {
                    if (is_blank(line_)) continue;
                    doc.swap(line_);
                    return true;
                }
            } else {  // paragraphs: runs of non-blank lines
                doc.clear();
                while (read_line(line_)) {
                    if (is_blank(line_)) {
                        if (!doc.empty()) return true;
                        continue;
                    }
                    if (!doc.empty()) doc += '\n';
                    doc += line_;
                }
                close();
                if (!doc.empty()) return true;
                continue;
            }
            close();
        }
    }

private:
    void open(const std::string& path) {
        path_ = path;
        f_ = std::fopen(path.c_str(), "rb");
        if (!f_) io_fail(path, "cannot open input");
        jsonl_ = is_jsonl(path);
        pos_ = end_ = 0;
        eof_ = false;
        line_no_ = 0;
    }
    void close() {
        if (f_) std::fclose(f_);
        f_ = nullptr;
    }

    bool read_line(std::string& line) {
        line.clear();
        bool any = false;
        last_line_unterminated_ = false;
        for (;;) {
            if (pos_ == end_) {
                if (eof_) break;
                end_ = std::fread(buf_.data(), 1, buf_.size(), f_);
                pos_ = 0;
                r_.bytes_in += end_;
                if (end_ == 0) {
                    if (std::ferror(f_)) io_fail(path_, "cannot read input");
                    eof_ = true;
                    break;
                }
            }
            any = true;
            const char* s = buf_.data() + pos_;
            const void* nl = std::memchr(s, '\n', end_ - pos_);
            if (nl) {
                const size_t n = size_t(static_cast<const char*>(nl) - s);
                line.append(s, n);
                pos_ += n + 1;
                ++line_no_;
                return true;
            }
            line.append(s, end_ - pos_);
            pos_ = end_;
        }
        if (any) {
            ++line_no_;
            last_line_unterminated_ = true;
        }
        return any;
    }

    bool parse_json_line(std::string& doc) {
        std::string problem;
        r_.invalid_utf8 += repair_utf8(line_);  // JSON must be UTF-8: broken bytes become U+FFFD, as in text files
        try {
            const nlohmann::json j = nlohmann::json::parse(line_);
            if (!j.is_object()) {
                problem = std::string("not a JSON object (") + j.type_name() + ")";
            } else {
                const auto it = j.find(p_.text_field);
                if (it == j.end()) problem = "no \"" + p_.text_field + "\" field";
                else if (!it->is_string())
                    problem = "field \"" + p_.text_field + "\" is not a string (" + it->type_name() + ")";
                else {
                    doc = it->get<std::string>();
                    return true;
                }
            }
        } catch (const nlohmann::json::parse_error& e) {
            problem = "invalid JSON at byte " + std::to_string(e.byte);
        }
        const std::string msg = path_ + ":" + std::to_string(line_no_) + ": " + problem;
        ++r_.bad_json_lines;
        if (r_.bad_lines.size() < k_max_bad_lines) r_.bad_lines.push_back(msg);
        if (cb_.warn) {
            if (r_.bad_json_lines <= k_max_warnings) cb_.warn("bad JSONL line: " + msg);
            else if (r_.bad_json_lines == k_max_warnings + 1)
                cb_.warn("further bad JSONL lines are counted but not shown (manifest.json lists the first " +
                         std::to_string(k_max_bad_lines) + ")");
        }
        return false;
    }

    const std::vector<std::string>& files_;
    const prepare_params& p_;
    prepare_report& r_;
    const prepare_callbacks& cb_;
    std::vector<char> buf_;
    std::string path_, line_;
    std::FILE* f_ = nullptr;
    size_t index_ = 0, pos_ = 0, end_ = 0;
    bool eof_ = false, jsonl_ = false, last_line_unterminated_ = false;
    int64_t line_no_ = 0;
};

// Appends documents' tokens to numbered shard files of at most per_shard tokens each.
class shard_sink {
public:
    shard_sink(std::string dir, std::string prefix, int64_t n_vocab, int64_t per_shard)
        : dir_(std::move(dir)), prefix_(std::move(prefix)), n_vocab_(n_vocab), per_shard_(per_shard) {}

    void append(const int32_t* ids, int64_t n) {
        while (n > 0) {
            if (!cur_) open_next();
            const int64_t take = std::min(n, per_shard_ - cur_->n_tokens());
            cur_->append(ids, take);
            ids += take;
            n -= take;
            total_ += take;
            if (cur_->n_tokens() == per_shard_) close_current();
        }
    }
    // Closes the last shard; a split without tokens still gets one (empty) file.
    std::vector<shard_file> finish() {
        if (!cur_ && done_.empty()) open_next();
        if (cur_) close_current();
        return done_;
    }
    int64_t total() const { return total_; }

private:
    void open_next() {
        char name[64];
        std::snprintf(name, sizeof name, "%s-%05zu.bin", prefix_.c_str(), done_.size());
        cur_ = std::make_unique<token_shard_writer>((fs::path(dir_) / name).string(), n_vocab_);
        cur_name_ = name;
    }
    void close_current() {
        done_.push_back({cur_name_, cur_->finish()});
        cur_.reset();
    }
    std::string dir_, prefix_, cur_name_;
    int64_t n_vocab_, per_shard_, total_ = 0;
    std::unique_ptr<token_shard_writer> cur_;
    std::vector<shard_file> done_;
};

class text_file {
public:
    explicit text_file(const std::string& path) : path_(path) {
        f_ = std::fopen(path.c_str(), "wb");
        if (!f_) io_fail(path, "cannot create");
    }
    ~text_file() {
        if (f_) std::fclose(f_);
    }
    void write(const std::string& s) {
        if (!s.empty() && std::fwrite(s.data(), 1, s.size(), f_) != s.size()) io_fail(path_, "cannot write");
    }
    void close() {
        const int rc = std::fclose(f_);
        f_ = nullptr;
        if (rc != 0) io_fail(path_, "cannot write");
    }

private:
    std::string path_;
    std::FILE* f_ = nullptr;
};

struct key128 {
    uint64_t lo, hi;
    bool operator==(const key128& o) const { return lo == o.lo && hi == o.hi; }
};
struct key128_hash {
    size_t operator()(const key128& k) const { return size_t(k.lo); }
};

// Per-document results of the parallel stage.
struct doc_state {
    std::string text;  // normalised
    std::string json;  // its JSONL line (documents that pass the cleaning rules)
    int reason = -1;   // a drop_reason from the cleaning rules, or -1
    int64_t n_invalid = 0, chars_in = 0, chars_out = 0;
    key128 key{0, 0};
    bool val = false;
};

bool is_stale_shard(const std::string& name) {
    for (const char* prefix : {"train-", "val-"}) {
        const size_t n = std::strlen(prefix);
        if (name.size() < n + 5 + 4 || name.compare(0, n, prefix) != 0) continue;
        if (name.compare(name.size() - 4, 4, ".bin") != 0) continue;
        bool digits = true;
        for (size_t i = n; i < name.size() - 4; ++i) digits = digits && name[i] >= '0' && name[i] <= '9';
        if (digits) return true;
    }
    return false;
}

nlohmann::ordered_json shards_json(const std::vector<shard_file>& shards) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const shard_file& s : shards) a.push_back({{"file", s.name}, {"tokens", s.n_tokens}});
    return a;
}

void write_manifest(const std::string& path, const std::vector<std::string>& inputs, const prepare_params& p,
                    const text_encoder* enc, const near_dup_index* index, const prepare_report& r) {
    using oj = nlohmann::ordered_json;
    oj m;
    m["format"] = "fathom-data-prepare";
    m["version"] = 1;
    oj in = oj::array();
    for (const std::string& f : inputs) {
        std::error_code ec;
        const auto size = fs::file_size(f, ec);
        in.push_back({{"path", f}, {"bytes", ec ? 0 : uint64_t(size)}, {"format", is_jsonl(f) ? "jsonl" : "text"}});
    }
    m["inputs"] = in;
    m["options"] = {{"split", split_mode_name(p.split)},    {"text_field", p.text_field},
                    {"min_chars", p.min_chars},             {"max_chars", p.max_chars},
                    {"min_alnum", p.min_alnum},             {"near_dup", p.near_dup},
                    {"val_fraction", p.val_fraction},       {"seed", p.seed},
                    {"shard_tokens", p.shard_tokens}};
    if (index)
        m["near_dup_minhash"] = {{"hashes", k_minhash_size}, {"shingle_words", k_shingle_words},
                                 {"bands", index->bands()}, {"rows", index->rows()}};
    else
        m["near_dup_minhash"] = nullptr;
    m["tokenizer"] = enc ? oj(p.tokenizer_path) : oj(nullptr);
    if (enc) {
        m["n_vocab"] = enc->n_vocab;
        m["bos"] = enc->bos >= 0 ? oj(enc->bos) : oj(nullptr);
        m["eos"] = enc->eos;
    }
    m["jsonl"] = {{"train", "train.jsonl"}, {"val", "val.jsonl"}};
    if (enc)
        m["shards"] = {{"format", "FTKS"},
                       {"version", k_shard_version},
                       {"token_bytes", shard_token_bytes(enc->n_vocab)},
                       {"train", shards_json(r.shards_train)},
                       {"val", shards_json(r.shards_val)}};
    else
        m["shards"] = nullptr;
    oj removed;
    for (int k = 0; k < DROP_REASON_COUNT; ++k) removed[drop_reason_name(k)] = r.removed[k];
    removed["bad_json_line"] = r.bad_json_lines;
    m["report"] = {{"documents_read", r.docs_read},
                   {"kept", {{"train", r.kept_train}, {"val", r.kept_val}}},
                   {"removed", removed},
                   {"bytes_in", r.bytes_in},
                   {"chars_in", r.chars_in},
                   {"chars_out", r.chars_out},
                   {"invalid_utf8_replaced", r.invalid_utf8},
                   {"tokens", {{"train", r.tokens_train}, {"val", r.tokens_val}}},
                   {"seconds", std::round(r.seconds * 1000.0) / 1000.0}};
    m["bad_json_lines"] = r.bad_lines;
    text_file f(path);
    f.write(m.dump(2) + "\n");
    f.close();
}

}  // namespace

const char* split_mode_name(split_mode m) {
    switch (m) {
        case split_mode::SPLIT_MODE_PARAGRAPH: return "paragraph";
        case split_mode::SPLIT_MODE_LINE: return "line";
        case split_mode::SPLIT_MODE_FILE: return "file";
    }
    return "?";
}

bool parse_split_mode(std::string_view s, split_mode* out) {
    for (split_mode m : {split_mode::SPLIT_MODE_PARAGRAPH, split_mode::SPLIT_MODE_LINE, split_mode::SPLIT_MODE_FILE})
        if (s == split_mode_name(m)) {
            *out = m;
            return true;
        }
    return false;
}

const char* drop_reason_name(int reason) {
    static const char* const names[DROP_REASON_COUNT] = {"empty",     "too_short",       "too_long",
                                                          "low_alnum", "exact_duplicate", "near_duplicate"};
    return reason >= 0 && reason < DROP_REASON_COUNT ? names[reason] : "?";
}

void check_prepare_params(const prepare_params& p) {
    const auto bad = [](const std::string& field, const std::string& problem) {
        fail(errc::ERRC_INVALID_ARGUMENT, "data prepare: " + field + ": " + problem);
    };
    const auto unit = [&](const char* field, double v) {
        if (!(v >= 0.0 && v <= 1.0)) bad(field, std::to_string(v) + " is outside [0, 1]");
    };
    if (p.text_field.empty()) bad("text_field", "is empty");
    if (p.min_chars < 0) bad("min_chars", std::to_string(p.min_chars) + " is negative");
    if (p.max_chars < 1) bad("max_chars", std::to_string(p.max_chars) + " must be at least 1");
    if (p.max_chars < p.min_chars)
        bad("max_chars", std::to_string(p.max_chars) + " is below min_chars " + std::to_string(p.min_chars));
    unit("min_alnum", p.min_alnum);
    unit("near_dup", p.near_dup);
    unit("val_fraction", p.val_fraction);
    if (p.shard_tokens < 1) bad("shard_tokens", std::to_string(p.shard_tokens) + " must be at least 1");
    if (p.n_threads < 0) bad("n_threads", std::to_string(p.n_threads) + " is negative");
}

void append_json_string(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    size_t run = 0;  // start of the pending run of bytes that need no escape
    for (size_t i = 0; i < s.size(); ++i) {
        const uint8_t c = uint8_t(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

prepare_report prepare_data(const std::vector<std::string>& inputs, const prepare_params& p,
                            const std::string& out_dir, const text_encoder* enc, const prepare_callbacks& cb) {
    const auto t0 = std::chrono::steady_clock::now();
    check_prepare_params(p);
    if (inputs.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "data prepare: no input files");
    if (out_dir.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "data prepare: the output folder is empty");
    if (enc) {
        if (enc->n_vocab < 1 || enc->n_vocab > k_shard_max_vocab)
            fail(errc::ERRC_INVALID_ARGUMENT, "data prepare: tokenizer: n_vocab " + std::to_string(enc->n_vocab) +
                                                  " is outside [1, 2^31]");
        if (enc->eos < 0 || enc->eos >= enc->n_vocab)
            fail(errc::ERRC_INVALID_ARGUMENT, "data prepare: tokenizer " + p.tokenizer_path +
                                                  " has no end-of-sequence token (needed between documents)");
        if (enc->bos >= enc->n_vocab)
            fail(errc::ERRC_INVALID_ARGUMENT, "data prepare: tokenizer: bos " + std::to_string(enc->bos) +
                                                  " is outside the vocabulary");
        if (!enc->encode) fail(errc::ERRC_INVALID_ARGUMENT, "data prepare: tokenizer: no encode function");
    }

    prepare_report r;
    // Every input must be a readable regular file before anything is written.
    for (const std::string& f : inputs) {
        std::error_code ec;
        const fs::file_status st = fs::status(f, ec);
        if (ec || !fs::exists(st)) fail(errc::ERRC_IO, "data prepare: " + f + ": no such file");
        if (fs::is_directory(st)) fail(errc::ERRC_IO, "data prepare: " + f + ": is a folder, not a file");
        std::FILE* probe = std::fopen(f.c_str(), "rb");
        if (!probe) io_fail(f, "cannot open input");
        std::fclose(probe);
        const auto size = fs::file_size(f, ec);
        if (!ec) r.bytes_total += uint64_t(size);
    }
    std::error_code ec;
    for (const char* name : {"train.jsonl", "val.jsonl", "manifest.json"}) {
        const fs::path out = fs::weakly_canonical(fs::path(out_dir) / name, ec);
        for (const std::string& f : inputs)
            if (!ec && fs::weakly_canonical(f, ec) == out)
                fail(errc::ERRC_INVALID_ARGUMENT, "data prepare: " + f + ": input is also an output file");
    }
    fs::create_directories(out_dir, ec);
    if (!fs::is_directory(out_dir, ec))
        fail(errc::ERRC_IO, "data prepare: " + out_dir + ": cannot create the output folder");
    for (const auto& e : fs::directory_iterator(out_dir, ec))
        if (is_stale_shard(e.path().filename().string())) fs::remove(e.path(), ec);

    const int n_threads = p.n_threads > 0 ? p.n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
    thread_pool pool(n_threads);
    const bool near = p.near_dup > 0.0;
    const minhasher hasher(p.seed);
    std::unique_ptr<near_dup_index> index;
    if (near) index = std::make_unique<near_dup_index>(p.near_dup);
    std::unordered_set<key128, key128_hash> exact;

    const fs::path dir(out_dir);
    text_file train_jsonl((dir / "train.jsonl").string()), val_jsonl((dir / "val.jsonl").string());
    std::unique_ptr<shard_sink> train_shards, val_shards;
    if (enc) {
        train_shards = std::make_unique<shard_sink>(out_dir, "train", enc->n_vocab, p.shard_tokens);
        val_shards = std::make_unique<shard_sink>(out_dir, "val", enc->n_vocab, p.shard_tokens);
    }

    input_reader reader(inputs, p, r, cb);
    std::vector<std::string> raw;
    std::vector<doc_state> docs;
    std::vector<uint64_t> sigs, band_keys;
    const size_t n_bands = index ? size_t(index->bands()) : 0;
    std::vector<size_t> kept;
    std::vector<std::vector<int32_t>> ids;
    std::string doc, train_buf, val_buf;
    bool more = true;
    while (more) {
        // Read a batch.
        raw.clear();
        size_t batch_bytes = 0;
        while (raw.size() < k_batch_docs && batch_bytes < k_batch_bytes) {
            if (!reader.next(doc)) {
                more = false;
                break;
            }
            batch_bytes += doc.size();
            raw.push_back(std::move(doc));
            doc = std::string();
        }
        const size_t n = raw.size();
        if (n == 0) break;

        // Parallel: normalise, clean, exact key, MinHash, split.
        docs.assign(n, doc_state{});
        if (near) {
            sigs.resize(n * k_minhash_size);
            band_keys.resize(n * n_bands);
        }
        parallel_items(pool, n, [&](size_t i) {
            doc_state& d = docs[i];
            normalize_stats ns;
            d.text = normalize_text(raw[i], &ns);
            std::string().swap(raw[i]);
            d.n_invalid = ns.n_invalid;
            d.chars_in = ns.chars_in;
            if (d.text.empty()) {
                d.reason = DROP_REASON_EMPTY;
                return;
            }
            const char_counts cc = count_chars(d.text);
            d.chars_out = cc.n_chars;
            if (cc.n_chars < p.min_chars) d.reason = DROP_REASON_TOO_SHORT;
            else if (cc.n_chars > p.max_chars) d.reason = DROP_REASON_TOO_LONG;
            else if (double(cc.n_alnum) < p.min_alnum * double(cc.n_chars)) d.reason = DROP_REASON_LOW_ALNUM;
            if (d.reason >= 0) return;
            const std::string key = dedup_key(d.text);
            d.key = {hash_bytes(key.data(), key.size(), 0x6578616374ull),
                     hash_bytes(key.data(), key.size(), 0x6b657931323862ull)};
            if (near) {
                hasher.signature(key, sigs.data() + i * k_minhash_size);
                index->band_keys(sigs.data() + i * k_minhash_size, band_keys.data() + i * n_bands);
            }
            const uint64_t h = hash_bytes(d.text.data(), d.text.size(), mix64(p.seed ^ k_split_salt));
            d.val = double(h >> 11) * 0x1.0p-53 < p.val_fraction;
            d.json.reserve(d.text.size() + 16);
            d.json = "{\"text\": ";
            append_json_string(d.json, d.text);
            d.json += "}\n";
        });

        // Sequential, in input order: exact and near duplicates against the documents kept so far.
        kept.clear();
        for (size_t i = 0; i < n; ++i) {
            doc_state& d = docs[i];
            ++r.docs_read;
            r.invalid_utf8 += d.n_invalid;
            r.chars_in += d.chars_in;
            if (d.reason < 0 && !exact.insert(d.key).second) d.reason = DROP_REASON_EXACT_DUPLICATE;
            if (d.reason < 0 && near) {
                const uint64_t* sig = sigs.data() + i * k_minhash_size;
                const uint64_t* keys = band_keys.data() + i * n_bands;
                if (index->contains_similar(sig, keys)) d.reason = DROP_REASON_NEAR_DUPLICATE;
                else index->insert(sig, keys);
            }
            if (d.reason >= 0) {
                ++r.removed[d.reason];
                continue;
            }
            kept.push_back(i);
            r.chars_out += d.chars_out;
            ++(d.val ? r.kept_val : r.kept_train);
            (d.val ? val_buf : train_buf) += d.json;
        }
        train_jsonl.write(train_buf);
        val_jsonl.write(val_buf);
        train_buf.clear();
        val_buf.clear();

        // Parallel tokenisation of the kept documents, then shards in input order.
        if (enc) {
            ids.resize(kept.size());
            parallel_items(pool, kept.size(), [&](size_t k) {
                std::vector<int32_t> body;
                enc->encode(docs[kept[k]].text, body);
                std::vector<int32_t>& v = ids[k];
                v.clear();
                v.reserve(body.size() + 2);
                if (enc->bos >= 0) v.push_back(enc->bos);
                v.insert(v.end(), body.begin(), body.end());
                v.push_back(enc->eos);
            });
            for (size_t k = 0; k < kept.size(); ++k) {
                shard_sink& s = docs[kept[k]].val ? *val_shards : *train_shards;
                s.append(ids[k].data(), int64_t(ids[k].size()));
            }
            r.tokens_train = train_shards->total();
            r.tokens_val = val_shards->total();
        }
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (cb.progress) cb.progress(r);
    }
    train_jsonl.close();
    val_jsonl.close();
    if (enc) {
        r.shards_train = train_shards->finish();
        r.shards_val = val_shards->finish();
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    write_manifest((dir / "manifest.json").string(), inputs, p, enc, index.get(), r);
    return r;
}

}  // namespace fathom::data

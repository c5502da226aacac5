// The training driver: config parsing, deterministic batch sampling, the step loop, validation, log.jsonl,
// checkpoints (GGUF with AdamW moments) and the exported model.
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "data/shards.h"
#include "io/model-file.h"
#include "train/optim.h"

namespace fathom::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// ---------------------------------------------------------------- config

class config_reader {
public:
    explicit config_reader(const std::string& file) : file_(file) {
        const fs::path parent = fs::path(file).parent_path();
        dir_ = parent.empty() ? fs::path(".") : parent;
    }

    [[noreturn]] void bad(const std::string& key, const std::string& problem) const {
        fail(errc::ERRC_INVALID_ARGUMENT, file_ + ": " + key + ": " + problem);
    }

    static std::string show(const json& v) {
        std::string s = v.dump();
        if (s.size() > 40) s = s.substr(0, 37) + "...";
        return s;
    }

    int64_t integer(const json& v, const std::string& key, int64_t lo) const {
        if (!v.is_number_integer()) bad(key, "expected an integer, found " + show(v));
        if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)) bad(key, show(v) + " is too large");
        const int64_t x = v.get<int64_t>();
        if (x < lo) bad(key, std::to_string(x) + " is below the minimum " + std::to_string(lo));
        return x;
    }

    uint64_t unsigned_integer(const json& v, const std::string& key) const {
        if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
            bad(key, "expected a non-negative integer, found " + show(v));
        return v.get<uint64_t>();
    }

    // A finite number in [lo, hi] (hi_open: [lo, hi)).
    double number(const json& v, const std::string& key, double lo, double hi, bool lo_open = false,
                  bool hi_open = false) const {
        if (!v.is_number()) bad(key, "expected a number, found " + show(v));
        const double x = v.get<double>();
        const bool ok = std::isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
        if (!ok) {
            std::ostringstream os;
            os << show(v) << " is outside " << (lo_open ? "(" : "[") << lo << ", " << hi << (hi_open ? ")" : "]");
            bad(key, os.str());
        }
        return x;
    }

    bool boolean(const json& v, const std::string& key) const {
        if (!v.is_boolean()) bad(key, "expected true or false, found " + show(v));
        return v.get<bool>();
    }

    std::string string(const json& v, const std::string& key) const {
        if (!v.is_string()) bad(key, "expected a string, found " + show(v));
        std::string s = v.get<std::string>();
        if (s.empty()) bad(key, "is empty");
        return s;
    }

    // A path relative to the config file's folder (absolute paths stay).
    std::string path(const json& v, const std::string& key) const {
        const fs::path p = string(v, key);
        return (p.is_absolute() ? p : dir_ / p).lexically_normal().string();
    }

    // Shard files: each entry a file, or a folder whose *.bin files are taken in name order.
    std::vector<std::string> shards(const json& v, const std::string& key) const {
        std::vector<json> items;
        if (v.is_string()) items.push_back(v);
        else if (v.is_array()) items.assign(v.begin(), v.end());
        else bad(key, "expected a list of shard files or folders, found " + show(v));
        if (items.empty()) bad(key, "is an empty list");
        std::vector<std::string> out;
        for (size_t i = 0; i < items.size(); ++i) {
            const std::string k = key + "[" + std::to_string(i) + "]";
            const std::string p = path(items[i], k);
            std::error_code ec;
            if (fs::is_directory(p, ec)) {
                std::vector<std::string> found;
                for (const auto& e : fs::directory_iterator(p, ec)) {
                    std::error_code ec_file;
                    if (e.path().extension() == ".bin" && e.is_regular_file(ec_file)) found.push_back(e.path().string());
                }
                if (ec) bad(k, p + ": cannot list the folder (" + ec.message() + ")");
                if (found.empty()) bad(k, p + ": the folder holds no *.bin shard files");
                std::sort(found.begin(), found.end());
                out.insert(out.end(), found.begin(), found.end());
            } else if (fs::is_regular_file(p, ec)) {
                out.push_back(p);
            } else {
                bad(k, p + ": no such shard file or folder");
            }
        }
        return out;
    }

    // Throws for keys of `obj` outside `known`, naming the first in the file's order.
    void only(const json& obj, const std::set<std::string>& known, const std::string& prefix) const {
        for (auto it = obj.begin(); it != obj.end(); ++it)
            if (!known.count(it.key())) {
                std::string list;
                for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
                fail(errc::ERRC_INVALID_ARGUMENT,
                     file_ + ": unknown key '" + prefix + it.key() + "' (known: " + list + ")");
            }
    }

    void require(const json& obj, const std::string& key, const std::string& prefix) const {
        if (!obj.contains(key)) fail(errc::ERRC_INVALID_ARGUMENT, file_ + ": missing required key '" + prefix + key + "'");
    }

private:
    std::string file_;
    fs::path dir_;
};

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(errc::ERRC_IO, path + ": cannot open the config file");
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) fail(errc::ERRC_IO, path + ": cannot read the config file");
    return ss.str();
}

// ---------------------------------------------------------------- hashing

uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

constexpr uint64_t k_gamma = 0x9e3779b97f4a7c15ull;

// train_config::validate()'s message under the config's "model." key.
[[noreturn]] void model_error(const std::string& cfg_path, const error& e) {
    std::string m = e.what();
    const std::string prefix = "train config: ";
    if (m.rfind(prefix, 0) == 0) m = m.substr(prefix.size());
    fail(errc::ERRC_INVALID_ARGUMENT, cfg_path + ": model." + m);
}

}  // namespace

run_config parse_run_config(const std::string& text, const std::string& path) {
    const config_reader r(path);
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        std::string m = e.what();  // "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
        const size_t at = m.find("] ");
        if (at != std::string::npos) m = m.substr(at + 2);
        for (char& c : m)
            if (c == '\n' || c == '\r') c = ' ';
        fail(errc::ERRC_FORMAT, path + ": " + m);
    }
    if (!j.is_object()) fail(errc::ERRC_FORMAT, path + ": expected a JSON object at the top level");
    r.only(j,
           {"model", "init_from", "tokenizer", "train_data", "val_data", "name", "batch_size", "seq_len", "grad_accum",
            "steps", "lr", "min_lr", "warmup", "weight_decay", "beta1", "beta2", "eps", "grad_clip", "seed", "threads",
            "eval_every", "eval_batches", "checkpoint_every", "log_every", "out", "resume"},
           "");
    run_config c;
    c.path = path;
    c.text = text;

    const bool has_model = j.contains("model"), has_init = j.contains("init_from");
    if (has_model && has_init) r.bad("init_from", "give either 'model' (a new model) or 'init_from', not both");
    if (!has_model && !has_init) fail(errc::ERRC_INVALID_ARGUMENT, path + ": missing required key 'model' (or 'init_from')");
    if (has_model) {
        const json& m = j["model"];
        if (!m.is_object()) r.bad("model", "expected an object, found " + config_reader::show(m));
        r.only(m, {"n_ctx", "n_embd", "n_layer", "n_head", "n_head_kv", "n_ff", "norm_eps", "rope_theta", "tie_embeddings"},
               "model.");
        for (const char* k : {"n_embd", "n_layer", "n_head", "n_ff"}) r.require(m, k, "model.");
        c.has_model = true;
        train_config& t = c.model;
        t.n_embd = r.integer(m["n_embd"], "model.n_embd", 1);
        t.n_layer = r.integer(m["n_layer"], "model.n_layer", 1);
        t.n_head = r.integer(m["n_head"], "model.n_head", 1);
        t.n_head_kv = m.contains("n_head_kv") ? r.integer(m["n_head_kv"], "model.n_head_kv", 1) : t.n_head;
        t.n_ff = r.integer(m["n_ff"], "model.n_ff", 1);
        t.n_ctx = m.contains("n_ctx") ? r.integer(m["n_ctx"], "model.n_ctx", 1) : 0;  // 0: seq_len, below
        if (m.contains("norm_eps")) t.norm_eps = float(r.number(m["norm_eps"], "model.norm_eps", 0, 1, true));
        if (m.contains("rope_theta")) t.rope_theta = float(r.number(m["rope_theta"], "model.rope_theta", 0, 1e12, true));
        if (m.contains("tie_embeddings")) t.tie_embeddings = r.boolean(m["tie_embeddings"], "model.tie_embeddings");
    } else {
        c.init_from = r.path(j["init_from"], "init_from");
        std::error_code ec;
        if (!fs::exists(c.init_from, ec)) r.bad("init_from", c.init_from + ": no such model file");
    }
    if (j.contains("tokenizer")) {
        c.tokenizer = r.path(j["tokenizer"], "tokenizer");
        std::error_code ec;
        if (!fs::exists(c.tokenizer, ec)) r.bad("tokenizer", c.tokenizer + ": no such file");
    } else if (!has_init) {
        fail(errc::ERRC_INVALID_ARGUMENT, path + ": missing required key 'tokenizer'");
    }
    for (const char* k : {"train_data", "batch_size", "seq_len", "steps", "out"}) r.require(j, k, "");
    c.train_data = r.shards(j["train_data"], "train_data");
    if (j.contains("val_data")) c.val_data = r.shards(j["val_data"], "val_data");
    if (j.contains("name")) c.name = r.string(j["name"], "name");
    c.batch_size = r.integer(j["batch_size"], "batch_size", 1);
    c.seq_len = r.integer(j["seq_len"], "seq_len", 1);
    if (j.contains("grad_accum")) c.grad_accum = r.integer(j["grad_accum"], "grad_accum", 1);
    c.steps = r.integer(j["steps"], "steps", 1);
    if (j.contains("lr")) c.lr = r.number(j["lr"], "lr", 0, 10, true);
    c.min_lr = j.contains("min_lr") ? r.number(j["min_lr"], "min_lr", 0, c.lr) : c.lr / 10;
    if (j.contains("warmup")) c.warmup = r.integer(j["warmup"], "warmup", 0);
    if (c.warmup > c.steps)
        r.bad("warmup", std::to_string(c.warmup) + " exceeds steps " + std::to_string(c.steps));
    if (j.contains("weight_decay")) c.weight_decay = r.number(j["weight_decay"], "weight_decay", 0, 10);
    if (j.contains("beta1")) c.beta1 = r.number(j["beta1"], "beta1", 0, 1, false, true);
    if (j.contains("beta2")) c.beta2 = r.number(j["beta2"], "beta2", 0, 1, false, true);
    if (j.contains("eps")) c.eps = r.number(j["eps"], "eps", 0, 1, true);
    if (j.contains("grad_clip")) c.grad_clip = r.number(j["grad_clip"], "grad_clip", 0, 1e9);
    if (j.contains("seed")) c.seed = r.unsigned_integer(j["seed"], "seed");
    if (j.contains("threads")) {
        const int64_t t = r.integer(j["threads"], "threads", 0);
        if (t > 4096) r.bad("threads", std::to_string(t) + " is more than 4096");
        c.threads = int32_t(t);
    }
    if (j.contains("eval_every")) c.eval_every = r.integer(j["eval_every"], "eval_every", 0);
    if (j.contains("eval_batches")) c.eval_batches = r.integer(j["eval_batches"], "eval_batches", 1);
    if (j.contains("checkpoint_every")) c.checkpoint_every = r.integer(j["checkpoint_every"], "checkpoint_every", 0);
    if (j.contains("log_every")) c.log_every = r.integer(j["log_every"], "log_every", 1);
    c.out = r.path(j["out"], "out");
    if (j.contains("resume")) c.resume = r.boolean(j["resume"], "resume");
    if (c.name.empty()) c.name = "fathom-trained";

    if (has_model) {
        if (c.model.n_ctx == 0) c.model.n_ctx = c.seq_len;
        if (c.seq_len > c.model.n_ctx)
            r.bad("seq_len", std::to_string(c.seq_len) + " exceeds model.n_ctx " + std::to_string(c.model.n_ctx));
        // Shape checks that need no vocabulary: validate with a placeholder n_vocab.
        train_config t = c.model;
        t.n_vocab = 1;
        try {
            t.validate();
        } catch (const error& e) {
            model_error(path, e);
        }
    }
    // Sizes whose products overflow would break indexing long before memory runs out.
    if (c.batch_size > (int64_t(1) << 24) || c.seq_len > (int64_t(1) << 24) || c.grad_accum > (int64_t(1) << 24))
        r.bad("batch_size", "batch_size, seq_len and grad_accum must each be below 2^24");
    return c;
}

run_config load_run_config(const std::string& path) { return parse_run_config(read_text(path), path); }

// ---------------------------------------------------------------- data

token_stream load_token_stream(const std::vector<std::string>& files, int64_t n_vocab, const std::string& cfg_path,
                               const std::string& key) {
    token_stream s;
    s.files = files;
    for (const std::string& f : files) {
        data::token_shard sh;
        try {
            sh = data::read_token_shard(f);
        } catch (const error& e) {
            fail(e.code(), cfg_path + ": " + key + ": " + e.what());
        }
        if (sh.n_vocab != n_vocab)
            fail(errc::ERRC_INVALID_ARGUMENT, cfg_path + ": " + key + ": " + f + ": n_vocab " +
                                                  std::to_string(sh.n_vocab) + " differs from the tokenizer's " +
                                                  std::to_string(n_vocab));
        s.tokens.insert(s.tokens.end(), sh.tokens.begin(), sh.tokens.end());
    }
    return s;
}

int64_t window_start(uint64_t seed, int64_t step, int64_t g, int64_t n_starts) {
    if (n_starts <= 1) return 0;
    uint64_t h = mix64(seed + k_gamma);
    h = mix64(h ^ (uint64_t(step) + 1) * k_gamma);
    h = mix64(h ^ (uint64_t(g) + 1) * 0xd1b54a32d192ed03ull);
    // Lemire's multiply-shift maps 64 random bits onto [0, n_starts) (bias below 2^-40 for any stream we hold).
    return int64_t((static_cast<unsigned __int128>(h) * uint64_t(n_starts)) >> 64);
}

void fill_train_batch(const std::vector<int32_t>& tokens, uint64_t seed, int64_t step, int64_t micro,
                      int64_t batch_size, int64_t seq_len, int32_t* inputs, int32_t* targets) {
    const int64_t n_starts = int64_t(tokens.size()) - seq_len;  // windows of seq_len + 1 tokens
    for (int64_t r = 0; r < batch_size; ++r) {
        const int64_t p = window_start(seed, step, micro * batch_size + r, n_starts);
        const int32_t* w = tokens.data() + p;
        std::copy(w, w + seq_len, inputs + r * seq_len);
        std::copy(w + 1, w + 1 + seq_len, targets + r * seq_len);
    }
}

int64_t val_windows(int64_t n_tokens, int64_t seq_len, int64_t eval_batches, int64_t batch_size) {
    if (n_tokens < seq_len + 1) return 0;
    return std::min((n_tokens - 1) / seq_len, eval_batches * batch_size);
}

// ---------------------------------------------------------------- checkpoints

namespace {

io::meta_value f64(double x) {
    io::meta_value v;
    v.type = io::gguf_type::GGUF_FLOAT64;
    v.f = x;
    return v;
}

// Writes through path + ".tmp" and a rename, so readers never see a half-written file.
void write_atomically(const std::string& path, const io::model_file& f) {
    const std::string tmp = path + ".tmp";
    io::write_gguf(tmp, f);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) fail(errc::ERRC_IO, path + ": cannot move the finished file into place (" + ec.message() + ")");
}

}  // namespace

void save_checkpoint(const std::string& path, const train_model& model, const std::vector<float>& m,
                     const std::vector<float>& v, int64_t step, double elapsed_s, const std::string& config_text,
                     const io::model_file* tokenizer, const std::string& name) {
    io::model_file f = model.to_model_file(tokenizer, name);
    for (const char* kind : {"m", "v"}) {
        const std::vector<float>& buf = kind[0] == 'm' ? m : v;
        for (const param_tensor& t : model.tensors()) {
            io::tensor_entry e;
            e.name = std::string("optimizer.") + kind + "." + t.name;
            e.type = dtype::DTYPE_F32;
            e.ne = t.ne;
            e.data = buf.data() + t.offset;
            e.nbytes = uint64_t(t.size) * sizeof(float);
            f.add_tensor(std::move(e));
        }
    }
    f.set("fathom.train.step", io::meta_value::u64(uint64_t(step)));
    f.set("fathom.train.elapsed_s", f64(elapsed_s));
    f.set("fathom.train.config", io::meta_value::str(config_text));
    write_atomically(path, f);
}

namespace {

struct restored {
    std::unique_ptr<train_model> model;
    std::vector<float> m, v;
    int64_t step = 0;
    double elapsed_s = 0;
};

restored load_checkpoint(const std::string& path) {
    const io::model_file f = io::read_gguf(path);
    restored r;
    r.model = std::make_unique<train_model>(train_model::from_model_file(f));
    const io::meta_value* s = f.find("fathom.train.step");
    if (!s) fail(errc::ERRC_FORMAT, path + ": fathom.train.step is missing (not a training checkpoint)");
    r.step = s->as_int("fathom.train.step");
    if (r.step < 0) fail(errc::ERRC_FORMAT, path + ": fathom.train.step is negative");
    if (const io::meta_value* e = f.find("fathom.train.elapsed_s")) r.elapsed_s = e->as_float("fathom.train.elapsed_s");
    const int64_t n = int64_t(r.model->params.size());
    r.m.assign(size_t(n), 0.0f);
    r.v.assign(size_t(n), 0.0f);
    for (const char* kind : {"m", "v"}) {
        std::vector<float>& buf = kind[0] == 'm' ? r.m : r.v;
        for (const param_tensor& t : r.model->tensors()) {
            const std::string name = std::string("optimizer.") + kind + "." + t.name;
            const io::tensor_entry* e = f.find_tensor(name);
            if (!e) fail(errc::ERRC_FORMAT, path + ": tensor '" + name + "' is missing");
            if (e->type != dtype::DTYPE_F32 || e->ne != t.ne)
                fail(errc::ERRC_FORMAT, path + ": tensor '" + name + "' is not F32 of the parameter's shape");
            std::copy_n(static_cast<const float*>(e->data), t.size, buf.data() + t.offset);
        }
    }
    return r;
}

// ---------------------------------------------------------------- the run

// A tokenizer file: GGUF (vocabulary-only or a full model), tokenizer.json or a folder holding one.
io::model_file load_tokenizer(const std::string& path, const std::string& cfg_path) {
    io::model_file f;
    try {
        std::error_code ec;
        const bool json_file = fs::path(path).extension() == ".json";
        f = json_file || fs::is_directory(path, ec) ? io::read_hf_tokenizer(path) : io::read_gguf(path);
    } catch (const error& e) {
        fail(e.code(), cfg_path + ": tokenizer: " + e.what());
    }
    return f;
}

int64_t vocab_size_of(const io::model_file& f, const std::string& what) {
    const io::meta_value* t = f.find("tokenizer.ggml.tokens");
    if (!t) fail(errc::ERRC_INVALID_ARGUMENT, what + ": has no tokenizer (tokenizer.ggml.tokens is missing)");
    return int64_t(t->as_array("tokenizer.ggml.tokens").size());
}

// Keeps the lines of out/log.jsonl whose step is at most `step` (a resumed run rewrites what follows).
void truncate_log(const std::string& path, int64_t step) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    std::string kept, line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) continue;
        if (j["step"].get<int64_t>() <= step) kept += line + "\n";
    }
    in.close();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << kept;
    if (!out) fail(errc::ERRC_IO, path + ": cannot rewrite the log");
}

double evaluate(thread_pool& pool, train_model& model, const std::vector<int32_t>& tokens, int64_t n_windows,
                int64_t batch_size, int64_t seq_len) {
    std::vector<int32_t> in(size_t(batch_size * seq_len)), tg(size_t(batch_size * seq_len));
    double sum = 0;
    for (int64_t w0 = 0; w0 < n_windows; w0 += batch_size) {
        const int64_t nb = std::min(batch_size, n_windows - w0);
        for (int64_t r = 0; r < nb; ++r) {
            const int32_t* w = tokens.data() + (w0 + r) * seq_len;
            std::copy(w, w + seq_len, in.data() + r * seq_len);
            std::copy(w + 1, w + 1 + seq_len, tg.data() + r * seq_len);
        }
        sum += double(model.forward(pool, in.data(), tg.data(), nb, seq_len)) * double(nb);
    }
    return sum / double(n_windows);
}

void check_same_shape(const train_config& want, const train_config& got, const std::string& cfg_path,
                      const std::string& ckpt) {
    auto cmp = [&](const char* key, int64_t a, int64_t b) {
        if (a != b)
            fail(errc::ERRC_INVALID_ARGUMENT, cfg_path + ": model." + key + ": " + std::to_string(a) +
                                                  " differs from the checkpoint's " + std::to_string(b) + " (" + ckpt +
                                                  ")");
    };
    cmp("n_ctx", want.n_ctx, got.n_ctx);
    cmp("n_embd", want.n_embd, got.n_embd);
    cmp("n_layer", want.n_layer, got.n_layer);
    cmp("n_head", want.n_head, got.n_head);
    cmp("n_head_kv", want.n_head_kv, got.n_head_kv);
    cmp("n_ff", want.n_ff, got.n_ff);
    cmp("tie_embeddings", want.tie_embeddings, got.tie_embeddings);
}

std::string fmt_num(double x) {
    if (!std::isfinite(x)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", x);
    return buf;
}

}  // namespace

run_result run_training(const run_config& cfg, const run_options& opts) {
    using clock = std::chrono::steady_clock;
    const auto t_start = clock::now();
    thread_pool pool(opts.n_threads > 0 ? opts.n_threads : cfg.threads);
    const bool resume = opts.resume || cfg.resume;

    // Tokenizer metadata for the exported model: the config's tokenizer, else the base model's.
    std::unique_ptr<io::model_file> base;
    if (!cfg.init_from.empty()) {
        try {
            base = std::make_unique<io::model_file>(io::load_model_file(cfg.init_from));
        } catch (const error& e) {
            fail(e.code(), cfg.path + ": init_from: " + e.what());
        }
    }
    io::model_file tok;
    if (!cfg.tokenizer.empty()) tok = load_tokenizer(cfg.tokenizer, cfg.path);
    const io::model_file& tok_src = cfg.tokenizer.empty() ? *base : tok;
    const int64_t n_vocab =
        vocab_size_of(tok_src, cfg.path + ": " + (cfg.tokenizer.empty() ? "init_from: " + cfg.init_from
                                                                          : "tokenizer: " + cfg.tokenizer));

    std::error_code ec;
    fs::create_directories(cfg.out, ec);
    if (ec || !fs::is_directory(cfg.out))
        fail(errc::ERRC_IO, cfg.path + ": out: " + cfg.out + ": cannot create the folder");
    const std::string ckpt_path = (fs::path(cfg.out) / "checkpoint.gguf").string();
    const std::string log_path = (fs::path(cfg.out) / "log.jsonl").string();
    const std::string model_path = (fs::path(cfg.out) / "model.gguf").string();

    // The model and optimiser state.
    std::unique_ptr<train_model> model;
    std::vector<float> m0, v0;
    int64_t start = 0;
    double elapsed0 = 0;
    if (resume) {
        if (!fs::exists(ckpt_path, ec))
            fail(errc::ERRC_IO, ckpt_path + ": cannot resume: no checkpoint (run without resume first)");
        restored r = load_checkpoint(ckpt_path);
        if (cfg.has_model) {
            train_config want = cfg.model;
            want.n_vocab = n_vocab;
            check_same_shape(want, r.model->config(), cfg.path, ckpt_path);
        }
        model = std::move(r.model);
        m0 = std::move(r.m);
        v0 = std::move(r.v);
        start = r.step;
        elapsed0 = r.elapsed_s;
        if (start > cfg.steps)
            fail(errc::ERRC_INVALID_ARGUMENT, cfg.path + ": steps: " + std::to_string(cfg.steps) +
                                                  " is below the checkpoint's step " + std::to_string(start));
    } else if (base) {
        try {
            model = std::make_unique<train_model>(train_model::from_model_file(*base));
        } catch (const error& e) {
            fail(e.code(), cfg.path + ": init_from: " + e.what());
        }
    } else {
        train_config c = cfg.model;
        c.n_vocab = n_vocab;
        try {
            model = std::make_unique<train_model>(c);
        } catch (const error& e) {
            model_error(cfg.path, e);
        }
        model->init_random(cfg.seed);
    }
    const train_config& mc = model->config();
    if (mc.n_vocab != n_vocab)
        fail(errc::ERRC_INVALID_ARGUMENT, cfg.path + ": tokenizer: vocabulary of " + std::to_string(n_vocab) +
                                              " tokens, but the model has n_vocab " + std::to_string(mc.n_vocab));
    if (cfg.seq_len > mc.n_ctx)
        fail(errc::ERRC_INVALID_ARGUMENT, cfg.path + ": seq_len: " + std::to_string(cfg.seq_len) +
                                              " exceeds the model's n_ctx " + std::to_string(mc.n_ctx));

    // Data.
    const token_stream train_tokens = load_token_stream(cfg.train_data, n_vocab, cfg.path, "train_data");
    if (int64_t(train_tokens.tokens.size()) < cfg.seq_len + 1)
        fail(errc::ERRC_INVALID_ARGUMENT, cfg.path + ": train_data: " + std::to_string(train_tokens.tokens.size()) +
                                              " tokens, fewer than seq_len + 1 = " + std::to_string(cfg.seq_len + 1));
    token_stream val_tokens;
    int64_t n_val = 0;
    if (!cfg.val_data.empty()) {
        val_tokens = load_token_stream(cfg.val_data, n_vocab, cfg.path, "val_data");
        n_val = val_windows(int64_t(val_tokens.tokens.size()), cfg.seq_len, cfg.eval_batches, cfg.batch_size);
        if (n_val == 0)
            fail(errc::ERRC_INVALID_ARGUMENT, cfg.path + ": val_data: " + std::to_string(val_tokens.tokens.size()) +
                                                  " tokens, fewer than seq_len + 1 = " + std::to_string(cfg.seq_len + 1));
    }

    adamw_params ap;
    ap.beta1 = float(cfg.beta1);
    ap.beta2 = float(cfg.beta2);
    ap.eps = float(cfg.eps);
    ap.weight_decay = float(cfg.weight_decay);
    adamw opt(model->tensors(), int64_t(model->params.size()), ap);
    if (resume) {
        opt.m = std::move(m0);
        opt.v = std::move(v0);
        opt.set_t(start);
    }

    if (resume) truncate_log(log_path, start);
    std::ofstream log(log_path, std::ios::binary | (resume ? std::ios::app : std::ios::trunc));
    if (!log) fail(errc::ERRC_IO, log_path + ": cannot open the log for writing");

    const int64_t b = cfg.batch_size, t = cfg.seq_len;
    std::vector<int32_t> in(size_t(b * t)), tg(size_t(b * t));
    const double tokens_per_step = double(b * t * cfg.grad_accum);
    double train_seconds = 0;  // this session's time in training steps (not evaluation or checkpoints)
    int64_t steps_here = 0;
    run_result res;
    res.val_loss = NAN;
    res.step = start;
    res.checkpoint_path = ckpt_path;
    auto elapsed = [&] { return elapsed0 + std::chrono::duration<double>(clock::now() - t_start).count(); };

    for (int64_t s = start + 1; s <= cfg.steps; ++s) {
        const auto t0 = clock::now();
        model->zero_grad();
        double loss_sum = 0;
        for (int64_t a = 0; a < cfg.grad_accum; ++a) {
            fill_train_batch(train_tokens.tokens, cfg.seed, s, a, b, t, in.data(), tg.data());
            loss_sum += double(model->forward(pool, in.data(), tg.data(), b, t));
            model->backward(pool, 1.0f / float(cfg.grad_accum));
        }
        const float loss = float(loss_sum / double(cfg.grad_accum));
        if (!std::isfinite(loss))
            fail(errc::ERRC_INVALID_ARGUMENT, cfg.path + ": training diverged at step " + std::to_string(s) +
                                                  " (loss " + fmt_num(loss) + "); lower lr or set grad_clip");
        const double norm = clip_grad_norm(pool, model->grads.data(), int64_t(model->grads.size()), cfg.grad_clip);
        const double lr = lr_at(s, cfg.steps, cfg.warmup, cfg.lr, cfg.min_lr);
        opt.step(pool, model->params.data(), model->grads.data(), float(lr));
        train_seconds += std::chrono::duration<double>(clock::now() - t0).count();
        ++steps_here;

        progress p;
        p.step = s;
        p.total_steps = cfg.steps;
        p.loss = loss;
        p.val_loss = NAN;
        p.lr = lr;
        p.grad_norm = norm;
        p.tokens_per_s = train_seconds > 0 ? tokens_per_step * double(steps_here) / train_seconds : 0;
        p.eta_s = double(cfg.steps - s) * train_seconds / double(steps_here);
        p.logged = s % cfg.log_every == 0 || s == 1 || s == cfg.steps;
        p.elapsed_s = elapsed();
        if (p.logged) {
            log << "{\"step\":" << s << ",\"lr\":" << fmt_num(lr) << ",\"loss\":" << fmt_num(loss)
                << ",\"grad_norm\":" << fmt_num(norm) << ",\"tokens_per_s\":" << fmt_num(p.tokens_per_s)
                << ",\"elapsed_s\":" << fmt_num(p.elapsed_s) << "}\n";
        }
        if (n_val > 0 && (s == cfg.steps || (cfg.eval_every > 0 && s % cfg.eval_every == 0))) {
            p.val_loss = evaluate(pool, *model, val_tokens.tokens, n_val, b, t);
            res.val_loss = p.val_loss;
            log << "{\"step\":" << s << ",\"val_loss\":" << fmt_num(p.val_loss)
                << ",\"val_ppl\":" << fmt_num(std::exp(p.val_loss)) << "}\n";
        }
        log.flush();
        if (!log) fail(errc::ERRC_IO, log_path + ": write failed");
        res.step = s;
        res.train_loss = loss;
        if (opts.on_progress) opts.on_progress(p);
        const bool stop = s < cfg.steps && ((opts.stop_after > 0 && s >= opts.stop_after) ||
                                            (opts.should_stop && opts.should_stop()));
        if (s == cfg.steps || stop || (cfg.checkpoint_every > 0 && s % cfg.checkpoint_every == 0))
            save_checkpoint(ckpt_path, *model, opt.m, opt.v, s, elapsed(), cfg.text, &tok_src, cfg.name);
        if (stop) return res;
    }

    // The final model (also when a resumed run had nothing left to do).
    const io::model_file out = model->to_model_file(&tok_src, cfg.name);
    write_atomically(model_path, out);
    res.model_path = model_path;
    if (start == cfg.steps && n_val > 0)
        res.val_loss = evaluate(pool, *model, val_tokens.tokens, n_val, b, t);
    return res;
}

}  // namespace fathom::train

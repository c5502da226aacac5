// `fathom tune`: LoRA adapter training on a frozen base model (see tune.h).
#include "train/tune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/normalize.h"
#include "io/model-file.h"
#include "io/text/tokenizer.h"
#include "train/optim.h"
#include "train/trainer.h"

namespace fathom::train {

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& problem) {
    fail(errc::ERRC_INVALID_ARGUMENT, "tune: " + field + ": " + problem);
}

// Documents of one file: JSONL lines' text_field, or blank-line separated paragraphs of plain text.
std::vector<std::string> read_documents(const std::string& path, const std::string& field) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(errc::ERRC_IO, path + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::vector<std::string> docs;
    const std::string ext = std::filesystem::path(path).extension().string();
    if (ext == ".jsonl" || ext == ".ndjson") {
        std::istringstream lines(text);
        std::string line;
        int64_t n = 0;
        while (std::getline(lines, line)) {
            ++n;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(line);
            } catch (const nlohmann::json::exception&) {
                fail(errc::ERRC_FORMAT, path + ":" + std::to_string(n) + ": not a JSON object");
            }
            if (!j.is_object() || !j.contains(field) || !j[field].is_string())
                fail(errc::ERRC_FORMAT, path + ":" + std::to_string(n) + ": no string field '" + field + "'");
            docs.push_back(j[field].get<std::string>());
        }
    } else {
        size_t b = 0;
        while (b < text.size()) {
            size_t e = text.find("\n\n", b);
            if (e == std::string::npos) e = text.size();
            docs.push_back(text.substr(b, e - b));
            b = e + 2;
        }
    }
    std::vector<std::string> out;
    for (const std::string& d : docs) {
        std::string n = data::normalize_text(d);
        if (!n.empty()) out.push_back(std::move(n));
    }
    return out;
}

uint64_t fnv1a(const std::string& s, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

void append_tokens(const text::tokenizer& tok, const std::string& doc, std::vector<int32_t>& out) {
    if (tok.add_bos() && tok.bos() >= 0) out.push_back(tok.bos());
    const std::vector<int32_t> ids = tok.encode(doc, false, false);
    out.insert(out.end(), ids.begin(), ids.end());
    if (tok.eos() >= 0) out.push_back(tok.eos());
}

uint64_t file_bytes(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        uint64_t s = 0;
        for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec))
            if (e.is_regular_file(ec)) s += e.file_size(ec);
        return s;
    }
    const auto s = std::filesystem::file_size(path, ec);
    return ec ? 0 : uint64_t(s);
}

}  // namespace

tune_result run_tune(const tune_params& p) {
    if (p.base.empty()) bad("base", "no base model given");
    if (p.data.empty()) bad("data", "no training data given");
    if (p.out.empty()) bad("out", "no output path given");
    if (p.steps <= 0) bad("steps", "must be positive");
    if (p.batch_size <= 0) bad("batch_size", "must be positive");
    if (p.seq_len <= 1) bad("seq_len", "must be at least 2");
    if (p.grad_accum <= 0) bad("grad_accum", "must be positive");
    if (!(p.lr > 0) || !std::isfinite(p.lr)) bad("lr", "must be positive");
    if (!(p.val_fraction > 0 && p.val_fraction < 1)) bad("val_fraction", "must be in (0, 1)");
    if (p.warmup < 0) bad("warmup", "must not be negative");
    p.lora.validate();

    io::model_file base = io::load_model_file(p.base);
    const text::tokenizer tok(base);
    train_model m = train_model::for_lora(std::move(base), p.lora, p.seed);
    const train_config& c = m.config();
    const int64_t seq = std::min(p.seq_len, c.n_ctx);

    // documents -> token streams
    std::vector<int32_t> train_tokens, val_tokens;
    for (const std::string& f : p.data)
        for (const std::string& d : read_documents(f, p.text_field)) {
            const bool to_val = p.val_data.empty() &&
                                double(fnv1a(d, p.seed) >> 11) * 0x1.0p-53 < p.val_fraction;
            append_tokens(tok, d, to_val ? val_tokens : train_tokens);
        }
    for (const std::string& f : p.val_data)
        for (const std::string& d : read_documents(f, p.text_field)) append_tokens(tok, d, val_tokens);
    if (int64_t(train_tokens.size()) < seq + 1)
        bad("data", "only " + std::to_string(train_tokens.size()) + " training tokens, fewer than seq_len + 1");
    if (int64_t(val_tokens.size()) < 2)
        bad("val_data", "no validation text (give --val or more documents)");
    const int64_t val_seq = std::min<int64_t>(seq, int64_t(val_tokens.size()) - 1);

    thread_pool pool(p.n_threads);
    std::vector<int32_t> in(size_t(p.batch_size * seq)), tg(in.size());
    auto validate = [&] {
        const int64_t nw = val_windows(int64_t(val_tokens.size()), val_seq, p.eval_batches, p.batch_size);
        double sum = 0;
        int64_t count = 0;
        std::vector<int32_t> vi(static_cast<size_t>(val_seq)), vt(static_cast<size_t>(val_seq));
        for (int64_t w = 0; w < nw; ++w) {
            const int64_t s0 = w * val_seq;
            std::copy(val_tokens.begin() + s0, val_tokens.begin() + s0 + val_seq, vi.begin());
            std::copy(val_tokens.begin() + s0 + 1, val_tokens.begin() + s0 + val_seq + 1, vt.begin());
            sum += double(m.forward(pool, vi.data(), vt.data(), 1, val_seq)) * double(val_seq);
            count += val_seq;
        }
        return count > 0 ? sum / double(count) : std::numeric_limits<double>::quiet_NaN();
    };

    tune_result r;
    r.train_tokens = int64_t(train_tokens.size());
    r.val_tokens = int64_t(val_tokens.size());
    r.adapter_params = int64_t(m.params.size());
    r.base_bytes = file_bytes(p.base);
    r.val_loss_before = validate();

    adamw_params ap;
    ap.weight_decay = float(p.weight_decay);
    adamw opt(m.tensors(), int64_t(m.params.size()), ap);
    const double min_lr = p.min_lr >= 0 ? p.min_lr : p.lr / 10;
    auto t_last = std::chrono::steady_clock::now();
    for (int64_t step = 1; step <= p.steps; ++step) {
        m.zero_grad();
        double loss = 0;
        for (int64_t a = 0; a < p.grad_accum; ++a) {
            fill_train_batch(train_tokens, p.seed, step, a, p.batch_size, seq, in.data(), tg.data());
            loss += m.forward(pool, in.data(), tg.data(), p.batch_size, seq);
            m.backward(pool, 1.0f / float(p.grad_accum));
        }
        loss /= double(p.grad_accum);
        clip_grad_norm(pool, m.grads.data(), int64_t(m.grads.size()), p.grad_clip);
        const double lr = lr_at(step, p.steps, p.warmup, p.lr, min_lr);
        opt.step(pool, m.params.data(), m.grads.data(), float(lr));
        double val = std::numeric_limits<double>::quiet_NaN();
        if (step == p.steps || (p.eval_every > 0 && step % p.eval_every == 0)) val = validate();
        if (step == p.steps) r.val_loss_after = val;
        r.train_loss = loss;
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(now - t_last).count();
        t_last = now;
        if (p.on_step)
            p.on_step(step, p.steps, loss, val, lr, dt > 0 ? double(p.batch_size * seq * p.grad_accum) / dt : 0.0);
    }
    const std::string name = std::filesystem::path(p.out).stem().string();
    io::write_gguf(p.out, m.to_model_file(nullptr, name));
    r.adapter_bytes = file_bytes(p.out);
    return r;
}

}  // namespace fathom::train

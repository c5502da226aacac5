// C ABI: fathom_eval (perplexity, KL divergence, multiple choice, BLEU / ROUGE-L, latency, memory) and the HTML report.
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "api/c-api-internal.h"
#include "core/error.h"
#include "eval/evaluate.h"
#include "eval/report.h"

using namespace fathom;
using namespace fathom::capi;
using json = nlohmann::json;

struct fathom_eval_result {
    std::string json_text;
};

namespace {

const char* const k_fn = "fathom_eval";

std::string read_whole(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(errc::ERRC_IO, path + ": cannot open (" + what + ")");
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) fail(errc::ERRC_IO, path + ": read failed");
    return s.str();
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const size_t c = line.find(':');
            if (c != std::string::npos) return line.substr(line.find_first_not_of(" \t", c + 1));
        }
    }
    return "unknown CPU";
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char b[32];
    std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

json model_json(const fathom_model* m) {
    std::map<std::string, int64_t> types;
    int64_t n = 0;
    uint64_t bytes = 0;
    for (const io::tensor_entry& t : m->m->file.tensors) {
        ++types[dtype_name(t.type)];
        n += t.nelements();
        bytes += t.nbytes;
    }
    json j = {{"path", m->path},        {"name", m->name},         {"n_params", n},
              {"tensor_bytes", bytes},  {"file_bytes", m->file_bytes},
              {"bits_per_weight", n > 0 ? 8.0 * double(bytes) / double(n) : 0.0},
              {"tensor_types", types}};
    return j;
}

void check_count(int64_t v, int64_t lo, const char* name) {
    if (v < lo)
        fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": " + name + " " + std::to_string(v) + " is below " +
                                              std::to_string(lo));
}

}  // namespace

extern "C" void fathom_eval_options_init(fathom_eval_options* opts) {
    if (!opts) return;
    *opts = fathom_eval_options{};
    opts->struct_size = sizeof *opts;
    opts->gen_items = 32;
    opts->gen_prompt_tokens = 64;
    opts->gen_tokens = 32;
    opts->latency_prompt_tokens = 128;
    opts->latency_gen_tokens = 64;
    opts->latency_reps = 3;
}

extern "C" fathom_status fathom_eval(const fathom_model* model, const fathom_eval_options* opts,
                                     fathom_eval_result** out) {
    return guarded([&] {
        require(model, k_fn, "model");
        require(out, k_fn, "out");
        *out = nullptr;
        fathom_eval_options o;
        fathom_eval_options_init(&o);
        read_struct(opts, &o, sizeof o, k_fn, "fathom_eval_options");
        if (model->vocab_only) fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": " + model->path + " has no weights (vocab_only)");
        if (o.reference && o.reference->vocab_only)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": reference " + o.reference->path + " has no weights");
        check_count(o.n_ctx, 0, "n_ctx");
        check_count(o.max_chunks, 0, "max_chunks");
        check_count(o.gen_items, 1, "gen_items");
        check_count(o.gen_prompt_tokens, 1, "gen_prompt_tokens");
        check_count(o.gen_tokens, 0, "gen_tokens");
        check_count(o.latency_prompt_tokens, 1, "latency_prompt_tokens");
        check_count(o.latency_gen_tokens, 1, "latency_gen_tokens");
        check_count(o.latency_reps, 1, "latency_reps");
        check_count(o.n_threads, 0, "n_threads");
        if (o.gen_path && o.gen_text_path)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": give gen_path or gen_text_path, not both");
        if (o.gen_text_path && o.gen_tokens == 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": gen_tokens must be positive with gen_text_path");
        if (!o.text_path && !o.mc_path && !o.gen_path && !o.gen_text_path && !o.latency)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": nothing to evaluate (give a text, multiple-choice "
                                                                  "or generation data, or latency)");
        if (o.reference && !o.text_path)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(k_fn) + ": a reference model needs text_path (KL divergence "
                                                                  "is measured on the perplexity text)");

        const llama_model& m = *model->m;
        const text::tokenizer& tok = tokenizer_of(model);
        eval::progress_fn progress;
        if (o.progress)
            progress = [&](const char* stage, int64_t done, int64_t total) {
                o.progress(stage, done, total, o.progress_user_data);
            };
        const int32_t threads = o.n_threads > 0 ? o.n_threads : physical_core_count();

        json r;
        r["model"] = model_json(model);
        r["system"] = {{"cpu", cpu_model()}, {"threads", threads}, {"date", utc_now()}};
        if (o.reference) r["reference"] = model_json(o.reference);

        // Latency first, so peak memory afterwards reflects this model before any reference runs.
        std::vector<int32_t> text_tokens;
        if (o.text_path) text_tokens = tok.encode(read_whole(o.text_path, "perplexity text"), true, false);
        if (o.latency) {
            eval::latency_options lo;
            lo.prompt_tokens = o.latency_prompt_tokens;
            lo.gen_tokens = o.latency_gen_tokens;
            lo.reps = o.latency_reps;
            lo.n_threads = threads;
            std::vector<int32_t> prompt = text_tokens;
            if (prompt.empty()) prompt = tok.encode("The quick brown fox jumps over the lazy dog.", true, false);
            r["latency"] = eval::to_json(eval::measure_latency(m, prompt, lo, progress));
        }
        if (o.text_path) {
            eval::ppl_options po;
            po.n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(512, m.hp.n_ctx_train > 0 ? m.hp.n_ctx_train : 512);
            po.max_chunks = o.max_chunks;
            po.n_threads = threads;
            const int32_t bos = tok.add_bos() ? tok.bos() : -1;
            const eval::ppl_result pr = eval::perplexity(m, text_tokens, bos, po, o.reference ? o.reference->m.get() : nullptr,
                                                         progress);
            json pj = eval::to_json(pr);
            pj["text"] = o.text_path;
            pj["text_tokens"] = int64_t(text_tokens.size());
            r["perplexity"] = std::move(pj);
        }
        if (o.mc_path) {
            json mj = eval::to_json(eval::multiple_choice(m, tok, eval::load_mc_jsonl(o.mc_path), threads, progress));
            mj["data"] = o.mc_path;
            r["choices"] = std::move(mj);
        }
        if (o.gen_path || o.gen_text_path) {
            std::vector<eval::gen_item> items;
            if (o.gen_path) {
                items = eval::load_gen_jsonl(o.gen_path);
            } else {
                const std::vector<int32_t> t = tok.encode(read_whole(o.gen_text_path, "generation text"), false, false);
                items = eval::gen_items_from_tokens(tok, t, o.gen_items, o.gen_prompt_tokens, o.gen_tokens);
            }
            json gj = eval::to_json(eval::generate_and_score(m, tok, items, o.gen_tokens, threads, progress),
                                    o.with_outputs != 0);
            gj["data"] = o.gen_path ? o.gen_path : o.gen_text_path;
            r["generation"] = std::move(gj);
        }
        r["memory"] = {{"peak_rss_bytes", eval::peak_rss_bytes()}};
        auto res = std::make_unique<fathom_eval_result>();
        res->json_text = r.dump(2, ' ', false, json::error_handler_t::replace);
        *out = res.release();
    });
}

extern "C" const char* fathom_eval_result_json(const fathom_eval_result* result) {
    return result ? result->json_text.c_str() : "";
}

extern "C" void fathom_eval_result_free(fathom_eval_result* result) { delete result; }

extern "C" fathom_status fathom_eval_report_html(const char* const* results_json, int32_t n, const char* title,
                                                 const char* out_path) {
    return guarded([&] {
        const char* fn = "fathom_eval_report_html";
        require(out_path, fn, "out_path");
        if (n < 1 || !results_json) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": no results");
        std::vector<json> results;
        for (int32_t i = 0; i < n; ++i) {
            if (!results_json[i]) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": results_json[" + std::to_string(i) + "] is NULL");
            json j = json::parse(results_json[i], nullptr, false);
            if (j.is_discarded() || !(j.is_object() || j.is_array()))
                fail(errc::ERRC_FORMAT, std::string(fn) + ": results_json[" + std::to_string(i) +
                                            "] is not a JSON object or array");
            if (j.is_array()) {
                for (json& e : j)
                    if (e.is_object()) results.push_back(std::move(e));
            } else {
                results.push_back(std::move(j));
            }
        }
        const std::string html = eval::html_report(results, title && *title ? title : "Fathom evaluation");
        const std::string tmp = std::string(out_path) + ".tmp";
        {
            std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
            if (!f) fail(errc::ERRC_IO, tmp + ": cannot open for writing");
            f << html;
            if (!f) fail(errc::ERRC_IO, tmp + ": write failed");
        }
        if (std::rename(tmp.c_str(), out_path) != 0) fail(errc::ERRC_IO, std::string(out_path) + ": cannot write");
    });
}

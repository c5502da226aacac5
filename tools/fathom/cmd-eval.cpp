// `fathom eval`: evaluates one or more models (perplexity, KL divergence against a reference, multiple choice,
// BLEU-4 / ROUGE-L of continuations, latency, memory), prints a summary, writes JSON and an HTML report.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

namespace {

using json = nlohmann::json;

const char* const k_usage =
    "fathom eval -m MODEL [-m MODEL...] [--ref MODEL] [--text FILE] [--mc FILE] [--gen FILE | --gen-text FILE] "
    "[--latency] [--json OUT] [--html OUT] [RESULT.json...]";

const char* const k_description =
    "Measures models on held-out data. Perplexity is computed as llama.cpp's perplexity tool does (non-overlapping "
    "chunks of --ctx tokens, the first token of each replaced by BOS, the second half scored), so figures compare "
    "across engines. With --ref, the KL divergence of each model's next-token distribution from the reference's and "
    "their top-1 agreement are measured on the same text. --mc scores multiple-choice JSONL ({\"context\", "
    "\"choices\", \"label\"}) by log-likelihood; --gen ({\"prompt\", \"reference\"} JSONL) or --gen-text (cut from "
    "a text) scores greedy continuations with BLEU-4 (13a tokens, corpus level) and ROUGE-L. --latency times the "
    "first token and each generated token. Results go to stdout as a summary, to --json as JSON and to --html as a "
    "self-contained report with plots; RESULT.json files from earlier runs join the report.";

struct bar {
    bool tty = false;
    bool drawn = false;
    std::string label;
    std::chrono::steady_clock::time_point last{};

    void on(const char* stage, int64_t done, int64_t total) {
        if (!tty) return;
        const auto now = std::chrono::steady_clock::now();
        if (done < total && now - last < std::chrono::milliseconds(100)) return;
        last = now;
        const int width = 24;
        const int fill = total > 0 ? int(double(width) * double(done) / double(total)) : 0;
        std::string b(size_t(fill), '=');
        if (fill < width) b += '>';
        b.resize(size_t(width), ' ');
        std::fprintf(stderr, "\r%s  %-10s [%s] %lld/%lld   ", label.c_str(), stage, b.c_str(),
                     static_cast<long long>(done), static_cast<long long>(total));
        std::fflush(stderr);
        drawn = true;
    }
    void end() {
        if (drawn) std::fputc('\n', stderr);
        drawn = false;
    }
};

void on_progress(const char* stage, int64_t done, int64_t total, void* user) {
    static_cast<bar*>(user)->on(stage, done, total);
}

double num(const json& j, std::initializer_list<const char*> path) {
    const json* p = &j;
    for (const char* k : path) {
        if (!p->is_object() || !p->contains(k)) return NAN;
        p = &p->at(k);
    }
    return p->is_number() ? p->get<double>() : NAN;
}

void print_summary(const json& r) {
    auto line = [](const char* k, const std::string& v) { std::printf("  %-22s %s\n", k, v.c_str()); };
    std::printf("%s\n", r["model"]["label"].get<std::string>().c_str());
    line("size", format_fixed(num(r, {"model", "tensor_bytes"}) / 1048576.0, 2) + " MiB, " +
                     format_fixed(num(r, {"model", "bits_per_weight"}), 3) + " bits per weight");
    if (r.contains("perplexity")) {
        const json& p = r["perplexity"];
        line("perplexity", format_fixed(num(p, {"ppl"}), 4) + " +/- " + format_fixed(num(p, {"ppl_stderr"}), 4) + " (" +
                               std::to_string(p["tokens_scored"].get<int64_t>()) + " tokens, " +
                               std::to_string(p["chunks"].get<int64_t>()) + " chunks of " +
                               std::to_string(p["n_ctx"].get<int64_t>()) + ")");
        if (p.contains("reference")) {
            const json& q = p["reference"];
            const double c = num(q, {"ppl_change_pct"});
            line("reference perplexity", format_fixed(num(q, {"ppl"}), 4));
            line("perplexity change", std::string(c >= 0 ? "+" : "") + format_fixed(c, 3) + " %");
            line("KL divergence", "mean " + format_fixed(num(q, {"kld_mean"}), 6) + " +/- " +
                                      format_fixed(num(q, {"kld_stderr"}), 6) + ", median " +
                                      format_fixed(num(q, {"kld_median"}), 6) + ", p99 " +
                                      format_fixed(num(q, {"kld_p99"}), 6) + ", max " + format_fixed(num(q, {"kld_max"}), 4));
            line("top-1 agreement", format_fixed(100.0 * num(q, {"top1_agreement"}), 3) + " % +/- " +
                                        format_fixed(100.0 * num(q, {"top1_agreement_stderr"}), 3));
        }
    }
    if (r.contains("choices"))
        line("multiple choice", "acc " + format_fixed(100.0 * num(r, {"choices", "acc"}), 2) + " % +/- " +
                                    format_fixed(100.0 * num(r, {"choices", "acc_stderr"}), 2) + ", acc_norm " +
                                    format_fixed(100.0 * num(r, {"choices", "acc_norm"}), 2) + " % (" +
                                    std::to_string(r["choices"]["items"].get<int64_t>()) + " items)");
    if (r.contains("generation"))
        line("generation", "BLEU-4 " + format_fixed(100.0 * num(r, {"generation", "bleu4"}), 2) + ", ROUGE-L " +
                               format_fixed(100.0 * num(r, {"generation", "rouge_l"}), 2) + " (" +
                               std::to_string(r["generation"]["items"].get<int64_t>()) + " items)");
    if (r.contains("latency")) {
        const json& l = r["latency"];
        line("time to first token", format_fixed(num(l, {"ttft_ms"}), 1) + " ms (" +
                                        std::to_string(l["prompt_tokens"].get<int64_t>()) + "-token prompt, " +
                                        format_fixed(num(l, {"prefill_tok_s"}), 1) + " tok/s)");
        line("per token", "p50 " + format_fixed(num(l, {"token_ms_p50"}), 2) + " ms, p95 " +
                              format_fixed(num(l, {"token_ms_p95"}), 2) + " ms, p99 " +
                              format_fixed(num(l, {"token_ms_p99"}), 2) + " ms (" +
                              format_fixed(num(l, {"decode_tok_s"}), 1) + " tok/s)");
    }
    line("peak RSS", format_bytes(uint64_t(num(r, {"memory", "peak_rss_bytes"}))));
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw cli_error(path + ": cannot open");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) throw cli_error(path + ": cannot open for writing");
    f << text;
    if (!f) throw cli_error(path + ": write failed");
}

}  // namespace

int cmd_eval(int argc, char** argv) {
    std::vector<std::string> models, labels, inputs;
    std::string ref, text, mc, gen, gen_text, json_out, html_out, sens, title = "Fathom evaluation";
    int64_t n_ctx = 0, chunks = 0, gen_items = 32, gen_prompt = 64, gen_tokens = -1;
    int64_t lat_prompt = 128, lat_gen = 64;
    int32_t lat_reps = 3, n_threads = 0;
    bool latency = false, outputs = false;
    arg_parser ap(k_usage, k_description);
    ap.option("-m,--model", "MODEL", "model to evaluate (GGUF or Hugging Face folder; repeatable)", &models);
    ap.option("--label", "NAME", "name of the matching -m in the summary and report (repeatable; default its path)",
              &labels);
    ap.option("--ref", "MODEL", "reference model for KL divergence and top-1 agreement (needs --text)", &ref);
    ap.option("--text", "FILE", "UTF-8 text for perplexity", &text);
    ap.option("--ctx", "N", "perplexity chunk length (default min(512, model context))", &n_ctx);
    ap.option("--chunks", "N", "score at most N chunks (default all)", &chunks);
    ap.option("--mc", "FILE", "multiple-choice JSONL: {\"context\", \"choices\": [...], \"label\"}", &mc);
    ap.option("--gen", "FILE", "generation JSONL: {\"prompt\", \"reference\"}", &gen);
    ap.option("--gen-text", "FILE", "cut generation prompts and references from this text", &gen_text);
    ap.option("--gen-items", "N", "items cut from --gen-text (default 32)", &gen_items);
    ap.option("--gen-prompt", "N", "prompt tokens of --gen-text items (default 64)", &gen_prompt);
    ap.option("--gen-tokens", "N", "tokens to generate (default 32; with --gen, 0 = each reference's length)",
              &gen_tokens);
    ap.flag("--outputs", "keep the generated texts in the JSON and report", &outputs);
    ap.flag("--latency", "measure time to first token and per-token latency", &latency);
    ap.option("--latency-prompt", "N", "prompt tokens for --latency (default 128)", &lat_prompt);
    ap.option("--latency-gen", "N", "generated tokens for --latency (default 64)", &lat_gen);
    ap.option("--latency-reps", "N", "timed repetitions for --latency (default 3)", &lat_reps);
    ap.option("--json", "OUT", "write the results as JSON (an object for one model, else an array)", &json_out);
    ap.option("--html", "OUT", "write a self-contained HTML report", &html_out);
    ap.option("--title", "TEXT", "title of the HTML report", &title);
    ap.option("--sensitivity", "FILE", "per-tensor sensitivities ('fathom quantize --plan-out' JSON) for the report's heat "
              "map, attached to the first model's result", &sens);
    ap.option("-t,--threads", "N", "threads (default physical cores)", &n_threads);
    ap.positional_list("RESULT.json", "results of earlier runs to include in the report", &inputs,
                      true);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (models.empty() && inputs.empty()) throw ap.error("give at least one -m MODEL (or RESULT.json files with --html)");
    if (!labels.empty() && labels.size() != models.size())
        throw ap.error("--label: " + std::to_string(labels.size()) + " labels for " + std::to_string(models.size()) +
                       " models");
    if (!ref.empty() && text.empty()) throw ap.error("--ref needs --text (KL divergence is measured on that text)");
    if (!models.empty() && text.empty() && mc.empty() && gen.empty() && gen_text.empty() && !latency)
        throw ap.error("nothing to measure: give --text, --mc, --gen, --gen-text or --latency");
    if (!gen.empty() && !gen_text.empty()) throw ap.error("give --gen or --gen-text, not both");
    if (inputs.size() > 0 && html_out.empty() && models.empty()) throw ap.error("RESULT.json files need --html OUT");
    if (n_ctx < 0 || chunks < 0 || gen_items < 1 || gen_prompt < 1 || lat_prompt < 1 || lat_gen < 1 || lat_reps < 1 ||
        n_threads < 0)
        throw ap.error("counts must be positive (--ctx, --chunks and -t may be 0)");
    if (gen_tokens < 0) gen_tokens = 32;

    std::vector<json> results;
    for (const std::string& in : inputs) {
        json j = json::parse(read_file(in), nullptr, false);
        if (j.is_discarded() || !(j.is_object() || j.is_array())) throw cli_error(in + ": not a JSON result");
        if (j.is_array()) {
            for (json& e : j) results.push_back(std::move(e));
        } else {
            results.push_back(std::move(j));
        }
    }

    std::unique_ptr<fathom::model> ref_model;
    if (!ref.empty()) ref_model = std::make_unique<fathom::model>(ref);
    bar b;
    b.tty = ::isatty(2) == 1;
    std::vector<json> fresh;
    for (size_t i = 0; i < models.size(); ++i) {
        fathom::model m(models[i]);
        fathom_eval_options o = fathom::default_eval_options();
        o.reference = ref_model ? ref_model->get() : nullptr;
        o.text_path = text.empty() ? nullptr : text.c_str();
        o.n_ctx = n_ctx;
        o.max_chunks = chunks;
        o.mc_path = mc.empty() ? nullptr : mc.c_str();
        o.gen_path = gen.empty() ? nullptr : gen.c_str();
        o.gen_text_path = gen_text.empty() ? nullptr : gen_text.c_str();
        o.gen_items = gen_items;
        o.gen_prompt_tokens = gen_prompt;
        o.gen_tokens = gen_tokens;
        o.latency = latency ? 1 : 0;
        o.latency_prompt_tokens = lat_prompt;
        o.latency_gen_tokens = lat_gen;
        o.latency_reps = lat_reps;
        o.with_outputs = outputs ? 1 : 0;
        o.n_threads = n_threads;
        o.progress = on_progress;
        o.progress_user_data = &b;
        b.label = labels.empty() ? models[i] : labels[i];
        std::string r;
        try {
            r = fathom::evaluate(m, o);
        } catch (...) {
            b.end();
            throw;
        }
        b.end();
        json j = json::parse(r);
        j["model"]["label"] = labels.empty() ? models[i] : labels[i];
        print_summary(j);
        fresh.push_back(j);
        results.push_back(std::move(j));
    }
    if (!sens.empty()) {
        json j = json::parse(read_file(sens), nullptr, false);
        if (j.is_discarded() || !j.is_object()) throw cli_error(sens + ": not a JSON object");
        if (j.contains("sensitivity")) j = j["sensitivity"];
        if (!j.contains("tensors") || !j.contains("types")) throw cli_error(sens + ": no \"tensors\" and \"types\"");
        if (!fresh.empty()) fresh[0]["sensitivity"] = j;
        if (!results.empty()) results[fresh.empty() ? 0 : results.size() - fresh.size()]["sensitivity"] = j;
    }
    if (!json_out.empty()) write_file(json_out, (fresh.size() == 1 ? fresh[0] : json(fresh)).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
    if (!html_out.empty()) {
        std::vector<std::string> texts;
        for (const json& j : results) texts.push_back(j.dump(-1, ' ', false, json::error_handler_t::replace));
        fathom::eval_report_html(texts, title, html_out);
        std::printf("report: %s\n", html_out.c_str());
    }
    return 0;
}

}  // namespace fathom_cli

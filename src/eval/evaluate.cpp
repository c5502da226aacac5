#include "eval/evaluate.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "runtime/session.h"

namespace fathom::eval {

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

// log-softmax pieces of one logit row: max and log(sum(exp(x - max))).
struct lse {
    double max = 0, log_sum = 0;
};
lse log_sum_exp(const float* x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; ++i) m = std::max(m, x[i]);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - double(m));
    return {double(m), std::log(s)};
}

int64_t argmax(const float* x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;
    return best;
}

// KL(p || q) of the distributions with logits ref (p) and x (q).
double kl_divergence(const float* ref, const lse& lr, const float* x, const lse& lx, int64_t n) {
    double kl = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double lp = double(ref[i]) - lr.max - lr.log_sum;
        const double lq = double(x[i]) - lx.max - lx.log_sum;
        kl += std::exp(lp) * (lp - lq);
    }
    return std::max(kl, 0.0);
}

session_params session_for(int64_t n_ctx, int32_t n_threads, int64_t n_batch) {
    session_params p;
    p.n_ctx = n_ctx;
    p.n_seq = 1;
    p.n_threads = n_threads;
    p.n_batch = n_batch;
    return p;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(errc::ERRC_IO, path + ": cannot open");
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) fail(errc::ERRC_IO, path + ": read failed");
    return s.str();
}

// Parses JSONL text into objects with their line numbers; errors name `name` and the line.
std::vector<std::pair<int64_t, json>> parse_jsonl(const std::string& text, const std::string& name) {
    std::vector<std::pair<int64_t, json>> out;
    int64_t no = 0;
    size_t at = 0;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(at, end - at);
        at = end + 1;
        ++no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded()) fail(errc::ERRC_FORMAT, name + ":" + std::to_string(no) + ": not valid JSON");
        if (!j.is_object()) fail(errc::ERRC_FORMAT, name + ":" + std::to_string(no) + ": expected a JSON object");
        out.emplace_back(no, std::move(j));
    }
    if (out.empty()) fail(errc::ERRC_FORMAT, name + ": no items");
    return out;
}

const std::string& string_field(const json& j, const std::string& path, int64_t no, const char* key,
                                const char* alt = nullptr) {
    const char* k = key;
    if (!j.contains(k) && alt && j.contains(alt)) k = alt;
    const std::string where = path + ":" + std::to_string(no) + ": ";
    if (!j.contains(k)) fail(errc::ERRC_FORMAT, where + "missing \"" + key + "\"");
    const json& v = j.at(k);
    if (!v.is_string()) fail(errc::ERRC_FORMAT, where + "\"" + k + "\" must be a string");
    return v.get_ref<const std::string&>();
}

}  // namespace

// ---------------------------------------------------------------- perplexity

namespace {

// Checks as perplexity does and returns the number of chunks.
int64_t checked_chunks(const llama_model& model, const std::vector<int32_t>& tokens, const ppl_options& opts) {
    const int64_t n_ctx = opts.n_ctx;
    if (n_ctx < 4) fail(errc::ERRC_INVALID_ARGUMENT, "perplexity: n_ctx " + std::to_string(n_ctx) + " is below 4");
    if (model.hp.n_ctx_train > 0 && n_ctx > model.hp.n_ctx_train)
        fail(errc::ERRC_INVALID_ARGUMENT, "perplexity: n_ctx " + std::to_string(n_ctx) + " exceeds the model's context " +
                                              std::to_string(model.hp.n_ctx_train));
    int64_t n = int64_t(tokens.size()) / n_ctx;
    if (n < 1)
        fail(errc::ERRC_INVALID_ARGUMENT, "perplexity: the text has " + std::to_string(tokens.size()) +
                                              " tokens, less than one chunk of " + std::to_string(n_ctx));
    if (opts.max_chunks > 0) n = std::min(n, opts.max_chunks);
    for (int32_t t : tokens)
        if (t < 0 || t >= model.hp.n_vocab)
            fail(errc::ERRC_INVALID_ARGUMENT, "perplexity: token id " + std::to_string(t) + " outside the vocabulary");
    return n;
}

// Runs the chunks and calls fn(k, logits) for the k-th scored position (in order).
void for_scored(const llama_model& model, const std::vector<int32_t>& tokens, int32_t bos, const ppl_options& opts,
                int64_t n_chunks, const std::function<void(int64_t, const float*)>& fn) {
    const int64_t n_ctx = opts.n_ctx, first = n_ctx / 2, nb = std::max<int64_t>(1, opts.n_batch);
    session s(model, session_for(n_ctx, opts.n_threads, nb));
    std::vector<batch_token> batch;
    int64_t k = 0;
    for (int64_t c = 0; c < n_chunks; ++c) {
        s.truncate(0, 0);
        for (int64_t p0 = 0; p0 < n_ctx; p0 += nb) {
            const int64_t p1 = std::min(n_ctx, p0 + nb);
            batch.clear();
            for (int64_t p = p0; p < p1; ++p)
                batch.push_back({(p == 0 && bos >= 0) ? bos : tokens[size_t(c * n_ctx + p)], int32_t(p), 0,
                                 p >= first && p < n_ctx - 1});
            s.decode(batch);
            for (int64_t i = 0; i < s.n_logits(); ++i) fn(k++, s.logits(i));
        }
    }
}

}  // namespace


ppl_result perplexity(const llama_model& model, const std::vector<int32_t>& tokens, int32_t bos,
                      const ppl_options& opts, const llama_model* ref, const progress_fn& progress) {
    const int64_t n_ctx = opts.n_ctx;
    if (opts.n_batch < 1) fail(errc::ERRC_INVALID_ARGUMENT, "perplexity: n_batch must be at least 1");
    const int64_t n_vocab = model.hp.n_vocab;
    if (ref && ref->hp.n_vocab != n_vocab)
        fail(errc::ERRC_INVALID_ARGUMENT, "perplexity: the reference's vocabulary (" + std::to_string(ref->hp.n_vocab) +
                                              ") differs from the model's (" + std::to_string(n_vocab) + ")");
    const int64_t n_chunks = checked_chunks(model, tokens, opts);

    const int64_t first = n_ctx / 2;
    session s(model, session_for(n_ctx, opts.n_threads, opts.n_batch));
    std::unique_ptr<session> rs;
    if (ref) rs = std::make_unique<session>(*ref, session_for(n_ctx, opts.n_threads, opts.n_batch));

    ppl_result r;
    r.n_ctx = n_ctx;
    r.n_chunks = n_chunks;
    r.has_ref = ref != nullptr;
    std::vector<double> nll, ref_nll, diff, kld;
    std::vector<double> agree;
    std::vector<batch_token> batch;
    for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t start = c * n_ctx;
        s.truncate(0, 0);
        if (rs) rs->truncate(0, 0);
        double chunk_nll = 0;
        int64_t chunk_n = 0;
        for (int64_t p0 = 0; p0 < n_ctx; p0 += opts.n_batch) {
            const int64_t p1 = std::min(n_ctx, p0 + opts.n_batch);
            batch.clear();
            for (int64_t p = p0; p < p1; ++p) {
                batch_token b;
                b.token = (p == 0 && bos >= 0) ? bos : tokens[size_t(start + p)];
                b.pos = int32_t(p);
                b.seq = 0;
                b.logits = p >= first && p < n_ctx - 1;
                batch.push_back(b);
            }
            s.decode(batch);
            if (rs) rs->decode(batch);
            int64_t k = 0;
            for (int64_t p = p0; p < p1; ++p) {
                if (!(p >= first && p < n_ctx - 1)) continue;
                const int32_t target = tokens[size_t(start + p + 1)];
                const float* x = s.logits(k);
                const lse lx = log_sum_exp(x, n_vocab);
                const double v = -(double(x[target]) - lx.max - lx.log_sum);
                nll.push_back(v);
                chunk_nll += v;
                ++chunk_n;
                if (rs) {
                    const float* y = rs->logits(k);
                    const lse ly = log_sum_exp(y, n_vocab);
                    const double rv = -(double(y[target]) - ly.max - ly.log_sum);
                    ref_nll.push_back(rv);
                    diff.push_back(v - rv);
                    kld.push_back(kl_divergence(y, ly, x, lx, n_vocab));
                    agree.push_back(argmax(x, n_vocab) == argmax(y, n_vocab) ? 1.0 : 0.0);
                }
                ++k;
            }
        }
        r.chunk_ppl.push_back(std::exp(chunk_nll / double(chunk_n)));
        if (progress) progress("perplexity", c + 1, n_chunks);
    }
    r.n_scored = int64_t(nll.size());
    const summary sn = summarize(nll);
    r.nll = sn.mean;
    r.nll_stderr = sn.stderr_mean;
    r.ppl = std::exp(r.nll);
    r.ppl_stderr = r.ppl * r.nll_stderr;
    if (ref) {
        const summary sr = summarize(ref_nll);
        r.ref_nll = sr.mean;
        r.ref_ppl = std::exp(sr.mean);
        r.ref_ppl_stderr = r.ref_ppl * sr.stderr_mean;
        const summary sd = summarize(diff);
        r.ln_ppl_ratio = sd.mean;
        r.ln_ppl_ratio_stderr = sd.stderr_mean;
        r.kld = summarize(kld);
        r.kld_median = percentile(kld, 0.5);
        r.kld_p90 = percentile(kld, 0.90);
        r.kld_p95 = percentile(kld, 0.95);
        r.kld_p99 = percentile(kld, 0.99);
        const summary sa = summarize(agree);
        r.top1 = sa.mean;
        r.top1_stderr = sa.stderr_mean;
    }
    return r;
}

scored_logprobs reference_logprobs(const llama_model& ref, const std::vector<int32_t>& tokens, int32_t bos,
                                   const ppl_options& opts) {
    scored_logprobs r;
    r.n_ctx = opts.n_ctx;
    r.n_chunks = checked_chunks(ref, tokens, opts);
    r.n_vocab = ref.hp.n_vocab;
    const int64_t per = opts.n_ctx - 1 - opts.n_ctx / 2;
    r.lp.resize(size_t(r.n_chunks * per * r.n_vocab));
    for_scored(ref, tokens, bos, opts, r.n_chunks, [&](int64_t k, const float* x) {
        const lse l = log_sum_exp(x, r.n_vocab);
        float* o = r.lp.data() + k * r.n_vocab;
        for (int64_t i = 0; i < r.n_vocab; ++i) o[i] = float(double(x[i]) - l.max - l.log_sum);
    });
    return r;
}

double mean_kld(const llama_model& model, const std::vector<int32_t>& tokens, int32_t bos, const ppl_options& opts,
                const scored_logprobs& ref) {
    if (model.hp.n_vocab != ref.n_vocab || opts.n_ctx != ref.n_ctx)
        fail(errc::ERRC_INVALID_ARGUMENT, "mean_kld: the reference was made with another vocabulary or n_ctx");
    const int64_t n_chunks = std::min(checked_chunks(model, tokens, opts), ref.n_chunks);
    double sum = 0;
    int64_t n = 0;
    for_scored(model, tokens, bos, opts, n_chunks, [&](int64_t k, const float* x) {
        const lse l = log_sum_exp(x, ref.n_vocab);
        const float* p = ref.lp.data() + k * ref.n_vocab;
        double kl = 0;
        for (int64_t i = 0; i < ref.n_vocab; ++i) {
            const double lp = p[i];
            kl += std::exp(lp) * (lp - (double(x[i]) - l.max - l.log_sum));
        }
        sum += std::max(kl, 0.0);
        ++n;
    });
    return n ? sum / double(n) : 0.0;
}

// ---------------------------------------------------------------- multiple choice

std::vector<mc_item> load_mc_jsonl(const std::string& path) { return parse_mc_jsonl(read_file(path), path); }

std::vector<mc_item> parse_mc_jsonl(const std::string& text, const std::string& path) {
    std::vector<mc_item> items;
    for (const auto& [no, j] : parse_jsonl(text, path)) {
        const std::string where = path + ":" + std::to_string(no) + ": ";
        mc_item it;
        it.context = string_field(j, path, no, "context", "question");
        const char* ck = "choices";
        if (!j.contains(ck)) fail(errc::ERRC_FORMAT, where + "missing \"choices\"");
        const json& ch = j.at(ck);
        if (!ch.is_array() || ch.size() < 2) fail(errc::ERRC_FORMAT, where + "\"choices\" must be an array of 2 or more strings");
        for (const json& c : ch) {
            if (!c.is_string()) fail(errc::ERRC_FORMAT, where + "\"choices\" must be an array of 2 or more strings");
            it.choices.push_back(c.get<std::string>());
        }
        const char* lk = j.contains("label") ? "label" : "answer";
        if (!j.contains(lk)) fail(errc::ERRC_FORMAT, where + "missing \"label\"");
        const json& l = j.at(lk);
        if (!l.is_number_integer() || l.get<int64_t>() < 0 || l.get<int64_t>() >= int64_t(it.choices.size()))
            fail(errc::ERRC_FORMAT, where + "\"" + lk + "\" must be an integer index into \"choices\"");
        it.label = l.get<int64_t>();
        items.push_back(std::move(it));
    }
    return items;
}

std::vector<double> choice_log_likelihoods(session& s, const std::vector<int32_t>& context,
                                           const std::vector<std::vector<int32_t>>& choices) {
    if (context.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "choice_log_likelihoods: empty context");
    const int64_t n_vocab = s.model().hp.n_vocab;
    s.truncate(0, 0);
    std::vector<batch_token> batch;
    for (size_t p = 0; p < context.size(); ++p) batch.push_back({context[p], int32_t(p), 0, p + 1 == context.size()});
    s.decode(batch);
    const std::vector<float> last(s.logits(0), s.logits(0) + n_vocab);
    const lse l0 = log_sum_exp(last.data(), n_vocab);
    const int32_t n_ctx_tok = int32_t(context.size());
    std::vector<double> out;
    for (const std::vector<int32_t>& ch : choices) {
        if (ch.empty()) {
            out.push_back(-INFINITY);
            continue;
        }
        double ll = double(last[size_t(ch[0])]) - l0.max - l0.log_sum;
        if (ch.size() > 1) {
            s.truncate(0, n_ctx_tok);
            batch.clear();
            for (size_t p = 0; p + 1 < ch.size(); ++p) batch.push_back({ch[p], int32_t(n_ctx_tok + int32_t(p)), 0, true});
            s.decode(batch);
            for (size_t p = 1; p < ch.size(); ++p) {
                const float* x = s.logits(int64_t(p - 1));
                const lse l = log_sum_exp(x, n_vocab);
                ll += double(x[ch[p]]) - l.max - l.log_sum;
            }
        }
        out.push_back(ll);
    }
    return out;
}

mc_result multiple_choice(const llama_model& model, const text::tokenizer& tok, const std::vector<mc_item>& items,
                          int32_t n_threads, const progress_fn& progress) {
    // Context length: the longest context + choice, capped by the model.
    std::vector<std::vector<int32_t>> ctx_tokens;
    std::vector<std::vector<std::vector<int32_t>>> choice_tokens;
    int64_t longest = 0;
    for (const mc_item& it : items) {
        ctx_tokens.push_back(tok.encode(it.context, true, false));
        if (ctx_tokens.back().empty()) fail(errc::ERRC_INVALID_ARGUMENT, "multiple choice: an empty context without BOS");
        choice_tokens.emplace_back();
        for (const std::string& c : it.choices) {
            choice_tokens.back().push_back(tok.encode(c, false, false));
            longest = std::max(longest, int64_t(ctx_tokens.back().size() + choice_tokens.back().back().size()));
        }
    }
    if (model.hp.n_ctx_train > 0 && longest > model.hp.n_ctx_train)
        fail(errc::ERRC_INVALID_ARGUMENT, "multiple choice: an item needs " + std::to_string(longest) +
                                              " tokens, more than the model's context " +
                                              std::to_string(model.hp.n_ctx_train));
    session s(model, session_for(std::max<int64_t>(longest, 1), n_threads, 512));
    std::vector<double> correct, correct_norm;
    for (size_t i = 0; i < items.size(); ++i) {
        const std::vector<double> ll = choice_log_likelihoods(s, ctx_tokens[i], choice_tokens[i]);
        double best = -INFINITY, best_norm = -INFINITY;
        int64_t pick = -1, pick_norm = -1;
        for (size_t c = 0; c < ll.size(); ++c) {
            const double norm = ll[c] / double(std::max<size_t>(1, items[i].choices[c].size()));
            if (ll[c] > best) best = ll[c], pick = int64_t(c);
            if (norm > best_norm) best_norm = norm, pick_norm = int64_t(c);
        }
        correct.push_back(pick == items[i].label ? 1.0 : 0.0);
        correct_norm.push_back(pick_norm == items[i].label ? 1.0 : 0.0);
        if (progress) progress("choices", int64_t(i + 1), int64_t(items.size()));
    }
    mc_result r;
    r.n = int64_t(items.size());
    const summary a = summarize(correct);
    r.acc = a.mean;
    r.acc_stderr = a.stderr_mean;
    r.acc_norm = summarize(correct_norm).mean;
    return r;
}

// ---------------------------------------------------------------- generation

std::vector<gen_item> load_gen_jsonl(const std::string& path) { return parse_gen_jsonl(read_file(path), path); }

std::vector<gen_item> parse_gen_jsonl(const std::string& text, const std::string& path) {
    std::vector<gen_item> items;
    for (const auto& [no, j] : parse_jsonl(text, path))
        items.push_back({string_field(j, path, no, "prompt"), string_field(j, path, no, "reference")});
    return items;
}

std::vector<gen_item> gen_items_from_tokens(const text::tokenizer& tok, const std::vector<int32_t>& tokens, int64_t n,
                                            int64_t prompt_tokens, int64_t ref_tokens) {
    if (n < 1 || prompt_tokens < 1 || ref_tokens < 1)
        fail(errc::ERRC_INVALID_ARGUMENT, "generation items: count, prompt and reference lengths must be positive");
    const int64_t span = prompt_tokens + ref_tokens;
    const int64_t total = int64_t(tokens.size());
    if (total < span)
        fail(errc::ERRC_INVALID_ARGUMENT, "generation items: the text has " + std::to_string(total) +
                                              " tokens, fewer than one prompt and reference (" + std::to_string(span) +
                                              ")");
    const int64_t room = total - span;  // windows start in [0, room]
    n = std::min(n, room + 1);          // a short text gives fewer items, never the same window twice
    std::vector<gen_item> items;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t at = n == 1 ? 0 : room * i / (n - 1);
        const std::vector<int32_t> p(tokens.begin() + at, tokens.begin() + at + prompt_tokens);
        const std::vector<int32_t> r(tokens.begin() + at + prompt_tokens, tokens.begin() + at + span);
        items.push_back({tok.decode(p), tok.decode(r)});
    }
    return items;
}

gen_result generate_and_score(const llama_model& model, const text::tokenizer& tok, const std::vector<gen_item>& items,
                              int64_t max_new_tokens, int32_t n_threads, const progress_fn& progress) {
    gen_result r;
    r.n = int64_t(items.size());
    const int64_t n_vocab = model.hp.n_vocab;
    const int64_t n_ctx = model.hp.n_ctx_train > 0 ? model.hp.n_ctx_train : 4096;
    session s(model, session_for(n_ctx, n_threads, 512));
    std::vector<std::vector<std::string>> hyps, refs;
    double rouge_sum = 0;
    std::vector<batch_token> batch;
    for (size_t i = 0; i < items.size(); ++i) {
        std::vector<int32_t> ids = tok.encode(items[i].prompt, true, false);
        const int64_t want = max_new_tokens > 0 ? max_new_tokens
                                                : std::max<int64_t>(1, int64_t(tok.encode(items[i].reference, false, false).size()));
        if (ids.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "generation: item " + std::to_string(i + 1) + " has an empty prompt");
        if (int64_t(ids.size()) + want > n_ctx)  // keep the end of a long prompt
            ids.erase(ids.begin(), ids.begin() + long(int64_t(ids.size()) + want - n_ctx));
        s.truncate(0, 0);
        batch.clear();
        for (size_t p = 0; p < ids.size(); ++p) batch.push_back({ids[p], int32_t(p), 0, p + 1 == ids.size()});
        s.decode(batch);
        std::vector<int32_t> out;
        int32_t pos = int32_t(ids.size());
        for (int64_t k = 0; k < want; ++k) {
            const int32_t next = int32_t(argmax(s.logits(0), n_vocab));
            if (tok.is_eog(next)) break;
            out.push_back(next);
            if (k + 1 == want) break;
            s.decode({{next, pos++, 0, true}});
        }
        std::string text = tok.decode(out);
        hyps.push_back(tokenize_13a(text));
        refs.push_back(tokenize_13a(items[i].reference));
        rouge_sum += rouge_l_score(tokenize_rouge(text), tokenize_rouge(items[i].reference)).f1;
        r.outputs.push_back(std::move(text));
        if (progress) progress("generate", int64_t(i + 1), int64_t(items.size()));
    }
    r.bleu = corpus_bleu(hyps, refs);
    r.rouge_l = items.empty() ? 0.0 : rouge_sum / double(items.size());
    return r;
}

// ---------------------------------------------------------------- latency and memory

latency_result measure_latency(const llama_model& model, const std::vector<int32_t>& prompt, const latency_options& o,
                               const progress_fn& progress) {
    if (prompt.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "latency: empty prompt");
    if (o.prompt_tokens < 1 || o.gen_tokens < 1 || o.reps < 1)
        fail(errc::ERRC_INVALID_ARGUMENT, "latency: prompt tokens, generated tokens and repetitions must be positive");
    const int64_t need = o.prompt_tokens + o.gen_tokens;
    if (model.hp.n_ctx_train > 0 && need > model.hp.n_ctx_train)
        fail(errc::ERRC_INVALID_ARGUMENT, "latency: " + std::to_string(need) + " tokens exceed the model's context " +
                                              std::to_string(model.hp.n_ctx_train));
    const int64_t n_vocab = model.hp.n_vocab;
    session s(model, session_for(need, o.n_threads, 512));
    std::vector<batch_token> batch;
    for (int64_t p = 0; p < o.prompt_tokens; ++p)
        batch.push_back({prompt[size_t(p) % prompt.size()], int32_t(p), 0, p + 1 == o.prompt_tokens});
    // One untimed warm-up run (page-in, thread start-up), then the timed repetitions.
    std::vector<double> ttft, per_token;
    for (int32_t rep = -1; rep < o.reps; ++rep) {
        s.truncate(0, 0);
        auto t0 = clock_type::now();
        s.decode(batch);
        int32_t next = int32_t(argmax(s.logits(0), n_vocab));
        if (rep >= 0) ttft.push_back(ms_since(t0));
        for (int64_t k = 0; k < o.gen_tokens; ++k) {
            t0 = clock_type::now();
            s.decode({{next, int32_t(o.prompt_tokens + k), 0, true}});
            next = int32_t(argmax(s.logits(0), n_vocab));
            if (rep >= 0) per_token.push_back(ms_since(t0));
        }
        if (progress && rep >= 0) progress("latency", rep + 1, o.reps);
    }
    latency_result r;
    r.prompt_tokens = o.prompt_tokens;
    r.gen_tokens = o.gen_tokens;
    r.reps = o.reps;
    r.ttft_ms = percentile(ttft, 0.5);
    r.prefill_tok_s = r.ttft_ms > 0 ? 1000.0 * double(o.prompt_tokens) / r.ttft_ms : 0.0;
    r.token_ms_p50 = percentile(per_token, 0.5);
    r.token_ms_p95 = percentile(per_token, 0.95);
    r.token_ms_p99 = percentile(per_token, 0.99);
    const double mean = summarize(per_token).mean;
    r.decode_tok_s = mean > 0 ? 1000.0 / mean : 0.0;
    return r;
}

uint64_t peak_rss_bytes() {
    rusage u{};
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
    return uint64_t(u.ru_maxrss) * 1024u;  // Linux reports kilobytes
}

// ---------------------------------------------------------------- JSON

json to_json(const ppl_result& r) {
    json j = {{"n_ctx", r.n_ctx}, {"chunks", r.n_chunks}, {"tokens_scored", r.n_scored},
              {"nll", r.nll},     {"ppl", r.ppl},         {"ppl_stderr", r.ppl_stderr},
              {"chunk_ppl", r.chunk_ppl}};
    if (r.has_ref) {
        j["reference"] = {
            {"ppl", r.ref_ppl},
            {"ppl_stderr", r.ref_ppl_stderr},
            {"ln_ppl_ratio", r.ln_ppl_ratio},
            {"ln_ppl_ratio_stderr", r.ln_ppl_ratio_stderr},
            {"ppl_change_pct", 100.0 * (std::exp(r.ln_ppl_ratio) - 1.0)},
            {"kld_mean", r.kld.mean},
            {"kld_stderr", r.kld.stderr_mean},
            {"kld_max", r.kld.max},
            {"kld_median", r.kld_median},
            {"kld_p90", r.kld_p90},
            {"kld_p95", r.kld_p95},
            {"kld_p99", r.kld_p99},
            {"top1_agreement", r.top1},
            {"top1_agreement_stderr", r.top1_stderr},
        };
    }
    return j;
}

json to_json(const mc_result& r) {
    return {{"items", r.n}, {"acc", r.acc}, {"acc_stderr", r.acc_stderr}, {"acc_norm", r.acc_norm}};
}

json to_json(const gen_result& r, bool with_outputs) {
    json j = {{"items", r.n},
              {"bleu4", r.bleu.bleu},
              {"bleu_precisions", {r.bleu.precisions[0], r.bleu.precisions[1], r.bleu.precisions[2], r.bleu.precisions[3]}},
              {"bleu_brevity_penalty", r.bleu.brevity_penalty},
              {"hyp_len", r.bleu.hyp_len},
              {"ref_len", r.bleu.ref_len},
              {"rouge_l", r.rouge_l}};
    if (with_outputs) j["outputs"] = r.outputs;
    return j;
}

json to_json(const latency_result& r) {
    return {{"prompt_tokens", r.prompt_tokens}, {"gen_tokens", r.gen_tokens},   {"reps", r.reps},
            {"ttft_ms", r.ttft_ms},             {"prefill_tok_s", r.prefill_tok_s},
            {"token_ms_p50", r.token_ms_p50},   {"token_ms_p95", r.token_ms_p95}, {"token_ms_p99", r.token_ms_p99},
            {"decode_tok_s", r.decode_tok_s}};
}

}  // namespace fathom::eval

// `fathom run`: generate from a text prompt (streaming decoded text) or from token ids (streaming ids), optionally up to
// stop strings, then report prompt/decode speed.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"
#include "gen-common.h"

namespace fathom_cli {

int cmd_run(int argc, char** argv) {
    std::string model_path, prompt, prompt_ids;
    int32_t n_predict = 128, threads = 0;
    int64_t ctx = 0;
    bool ignore_eos = false;
    fathom_sampler_options so = fathom::default_sampler_options();
    arg_parser ap("fathom run -m MODEL (-p PROMPT | --prompt-ids 1,2,3) [options]",
                  "Runs the prompt and generates tokens as they come: decoded text for -p (tokenised with the "
                  "model's tokenizer, BOS as the vocabulary asks), token ids for --prompt-ids. Speeds go to stderr.");
    ap.option("-m,--model", "MODEL", "GGUF file or Hugging Face folder (required)", &model_path);
    ap.option("-p,--prompt", "TEXT", "text prompt (needs a tokenizer)", &prompt);
    ap.option("--prompt-ids", "IDS", "prompt as comma-separated token ids", &prompt_ids);
    ap.option("-n,--n-predict", "N", "tokens to generate; -1 = until EOS or the context is full (default 128)",
              &n_predict);
    add_sampling_options(ap, &so);
    ap.option("-t,--threads", "N", "threads; 0 = physical cores (default 0)", &threads);
    ap.option("-c,--ctx-size", "N", "context size; 0 = what the run needs, at most min(model's, 4096)", &ctx);
    ap.flag("--ignore-eos", "keep generating after the end-of-sequence token", &ignore_eos);
    std::vector<std::string> stops;
    ap.option("--stop", "S", "stop when the generated text contains S (repeatable; not printed)", &stops);
    std::vector<std::string> loras;
    add_lora_option(ap, &loras);
    if (!ap.parse(argc, argv, 2)) return 0;

    if (model_path.empty()) throw ap.error("missing -m MODEL");
    if (ap.seen("-p") && ap.seen("--prompt-ids")) throw ap.error("give either -p or --prompt-ids, not both");
    if (!ap.seen("-p") && !ap.seen("--prompt-ids")) throw ap.error("missing -p PROMPT or --prompt-ids IDS");
    if (n_predict < -1) throw ap.error("-n: must be >= -1");
    if (threads < 0) throw ap.error("-t: must be >= 0");
    if (ctx < 0) throw ap.error("-c: must be >= 0");
    const bool text_mode = ap.seen("-p");
    std::vector<int32_t> ids;
    if (!text_mode) ids = parse_int_list(prompt_ids, "--prompt-ids");

    fathom::model m(model_path);
    if (text_mode) {
        if (!m.has_tokenizer())
            throw cli_error(model_path + ": has no tokenizer; pass token ids instead, e.g. --prompt-ids 1,450,4996");
        ids = m.tokenize(prompt, true, false);
        if (ids.empty()) throw ap.error("-p: the prompt gives no tokens");
    }
    fathom_session_options sopt = fathom::default_session_options();
    sopt.n_ctx = ctx;
    if (ctx == 0 && n_predict >= 0) {  // no larger KV cache than this run can use
        const int64_t model_ctx = std::min<int64_t>(m.info().n_ctx_train, 4096);
        sopt.n_ctx = std::min<int64_t>(model_ctx, int64_t(ids.size()) + n_predict);
    }
    sopt.n_threads = threads;
    fathom::session s(m, sopt);
    apply_loras(m, s, loras);
    fathom::sampler smp(so);
    fathom_generate_options g = fathom::default_generate_options();
    g.max_tokens = n_predict;
    g.ignore_eos = ignore_eos ? 1 : 0;

    std::string pending;  // decoded bytes not yet printed: an unfinished UTF-8 character
    const fathom_generate_stats st = fathom::generate(s, smp, ids, g, stops, [&](int32_t token) {
        if (!text_mode) {
            std::printf("%d ", token);
        } else {
            pending += m.token_piece(token);
            const size_t n = complete_utf8_prefix(pending);
            std::fwrite(pending.data(), 1, n, stdout);
            pending.erase(0, n);
        }
        std::fflush(stdout);
        return false;
    });
    std::fwrite(pending.data(), 1, pending.size(), stdout);
    std::printf("\n");
    std::fflush(stdout);

    const char* reason = st.stop_reason == FATHOM_STOP_TOKEN      ? "stop token"
                         : st.stop_reason == FATHOM_STOP_STRING   ? "stop string"
                         : st.stop_reason == FATHOM_STOP_CONTEXT  ? "context full"
                         : st.stop_reason == FATHOM_STOP_CALLBACK ? "stopped"
                                                                  : "max tokens";
    auto rate = [](int64_t n, double sec) { return sec > 0 ? double(n) / sec : 0.0; };
    std::fprintf(stderr, "prompt: %lld tokens in %.1f ms, %.2f tokens/s\n", (long long)st.n_prompt_tokens,
                 st.prompt_seconds * 1e3, rate(st.n_prompt_tokens, st.prompt_seconds));
    std::fprintf(stderr, "decode: %lld tokens in %.1f ms, %.2f tokens/s (sampling %.1f ms; %s; seed %llu)\n",
                 (long long)st.n_decode_tokens, st.decode_seconds * 1e3, rate(st.n_decode_tokens, st.decode_seconds),
                 st.sample_seconds * 1e3, reason, (unsigned long long)smp.seed());
    return 0;
}

}  // namespace fathom_cli

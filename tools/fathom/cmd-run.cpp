// `fathom run`: generate from a prompt of token ids, streaming the generated ids, then report prompt/decode speed.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

int cmd_run(int argc, char** argv) {
    std::string model_path, prompt, prompt_ids;
    int32_t n_predict = 128, threads = 0;
    int64_t ctx = 0;
    bool ignore_eos = false;
    fathom_sampler_options so = fathom::default_sampler_options();
    arg_parser ap("fathom run -m MODEL (-p PROMPT | --prompt-ids 1,2,3) [options]",
                  "Runs the prompt and generates tokens, printing their ids as they come; speeds go to stderr.");
    ap.option("-m,--model", "MODEL", "GGUF file or Hugging Face folder (required)", &model_path);
    ap.option("-p,--prompt", "TEXT", "text prompt (needs a tokenizer)", &prompt);
    ap.option("--prompt-ids", "IDS", "prompt as comma-separated token ids", &prompt_ids);
    ap.option("-n,--n-predict", "N", "tokens to generate; -1 = until EOS or the context is full (default 128)",
              &n_predict);
    ap.option("--temp", "T", "temperature; 0 = greedy (default 0.8)", &so.temperature);
    ap.option("--top-k", "K", "top-k; 0 = off (default 40)", &so.top_k);
    ap.option("--top-p", "P", "top-p; 1 = off (default 0.95)", &so.top_p);
    ap.option("--min-p", "P", "min-p; 0 = off (default 0.05)", &so.min_p);
    ap.option("--repeat-penalty", "R", "repetition penalty; 1 = off (default 1.0)", &so.repeat_penalty);
    ap.option("--repeat-last-n", "N", "penalty window in tokens; 0 = off, -1 = all (default 64)", &so.penalty_last_n);
    ap.option("--frequency-penalty", "F", "frequency penalty (default 0)", &so.frequency_penalty);
    ap.option("--presence-penalty", "P", "presence penalty (default 0)", &so.presence_penalty);
    ap.option("--seed", "S", "sampling seed (default: random)", &so.seed);
    ap.option("-t,--threads", "N", "threads; 0 = physical cores (default 0)", &threads);
    ap.option("-c,--ctx-size", "N", "context size; 0 = what the run needs, at most min(model's, 4096)", &ctx);
    ap.flag("--ignore-eos", "keep generating after the end-of-sequence token", &ignore_eos);
    if (!ap.parse(argc, argv, 2)) return 0;

    if (model_path.empty()) throw ap.error("missing -m MODEL");
    if (ap.seen("-p") && ap.seen("--prompt-ids")) throw ap.error("give either -p or --prompt-ids, not both");
    if (!ap.seen("-p") && !ap.seen("--prompt-ids")) throw ap.error("missing -p PROMPT or --prompt-ids IDS");
    if (n_predict < -1) throw ap.error("-n: must be >= -1");
    if (threads < 0) throw ap.error("-t: must be >= 0");
    if (ctx < 0) throw ap.error("-c: must be >= 0");
    if (ap.seen("-p"))
        throw cli_error("text prompts need a tokenizer, which this build does not have yet; "
                        "pass token ids instead, e.g. --prompt-ids 1,450,4996");
    const std::vector<int32_t> ids = parse_int_list(prompt_ids, "--prompt-ids");

    fathom::model m(model_path);
    fathom_session_options sopt = fathom::default_session_options();
    sopt.n_ctx = ctx;
    if (ctx == 0 && n_predict >= 0) {  // no larger KV cache than this run can use
        const int64_t model_ctx = std::min<int64_t>(m.info().n_ctx_train, 4096);
        sopt.n_ctx = std::min<int64_t>(model_ctx, int64_t(ids.size()) + n_predict);
    }
    sopt.n_threads = threads;
    fathom::session s(m, sopt);
    fathom::sampler smp(so);
    fathom_generate_options g = fathom::default_generate_options();
    g.max_tokens = n_predict;
    g.ignore_eos = ignore_eos ? 1 : 0;

    const fathom_generate_stats st = fathom::generate(s, smp, ids, g, [](int32_t token) {
        std::printf("%d ", token);
        std::fflush(stdout);
        return false;
    });
    std::printf("\n");
    std::fflush(stdout);

    const char* reason = st.stop_reason == FATHOM_STOP_TOKEN     ? "stop token"
                         : st.stop_reason == FATHOM_STOP_CONTEXT ? "context full"
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

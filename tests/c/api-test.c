/* End-to-end test of the C API from C11: synth, load, info, metadata, tensors, decode, sample, generate, errors.
 * argv[1] is a writable directory. Exits non-zero on the first failed check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fathom/fathom.h"

static int g_failures = 0;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
            ++g_failures;                                                                \
        }                                                                                \
    } while (0)

#define CHECK_OK(call)                                                                                  \
    do {                                                                                                \
        fathom_status st_ = (call);                                                                     \
        if (st_ != FATHOM_OK) {                                                                         \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #call,                   \
                    fathom_status_name(st_), fathom_last_error());                                      \
            ++g_failures;                                                                               \
        }                                                                                               \
    } while (0)

/* The status must be `want` and the message must contain `needle`. */
#define CHECK_FAILS(call, want, needle)                                                                       \
    do {                                                                                                      \
        fathom_status st_ = (call);                                                                           \
        if (st_ != (want) || strstr(fathom_last_error(), (needle)) == NULL) {                                 \
            fprintf(stderr, "%s:%d: %s: got %s \"%s\", wanted %s containing \"%s\"\n", __FILE__, __LINE__,    \
                    #call, fathom_status_name(st_), fathom_last_error(), fathom_status_name(want), (needle)); \
            ++g_failures;                                                                                     \
        }                                                                                                     \
    } while (0)

static int argmax(const float* x, int64_t n) {
    int64_t i, best = 0;
    for (i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;
    return (int)best;
}

struct collected {
    int32_t tokens[64];
    int n;
    int stop_after; /* return non-zero once this many tokens were seen (0 = never) */
};

static int on_token(int32_t token, void* user_data) {
    struct collected* c = (struct collected*)user_data;
    if (c->n < 64) c->tokens[c->n] = token;
    ++c->n;
    return c->stop_after > 0 && c->n >= c->stop_after;
}

static int g_log_lines = 0;
static void on_log(fathom_log_level level, const char* message, void* user_data) {
    (void)level;
    (void)user_data;
    if (message && message[0]) ++g_log_lines;
}

int main(int argc, char** argv) {
    char path[4096], bad_path[4096], missing[4096];
    fathom_synth_options so;
    fathom_model* model = NULL;
    fathom_model_info info;
    fathom_tensor_info ti;
    fathom_session_options sopt;
    fathom_session* sess = NULL;
    fathom_sampler_options smo;
    fathom_sampler* greedy = NULL;
    fathom_generate_options go;
    fathom_generate_stats stats;
    struct collected col;
    int64_t n, idx, iv;
    int32_t len, tok;
    const char* s;
    const float* logits;
    FILE* f;

    if (argc < 2) {
        fprintf(stderr, "usage: %s WRITABLE_DIR\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/c-api-tiny.gguf", argv[1]);
    snprintf(bad_path, sizeof bad_path, "%s/c-api-bad.gguf", argv[1]);
    snprintf(missing, sizeof missing, "%s/c-api-does-not-exist.gguf", argv[1]);

    /* ---- library */
    CHECK(strcmp(fathom_version(), FATHOM_VERSION) == 0);
    CHECK(strlen(fathom_isa_name()) > 0);
    CHECK(strstr(fathom_synth_shapes(), "tinyllama-1.1b") != NULL);
    CHECK(strcmp(fathom_status_name(FATHOM_ERR_FORMAT), "FATHOM_ERR_FORMAT") == 0);
    fathom_log_set_callback(on_log, NULL);

    /* ---- synth + load + info */
    fathom_synth_options_init(&so);
    CHECK(so.struct_size == sizeof so);
    so.shape = "tiny";
    so.seed = 3;
    CHECK_OK(fathom_synth(&so, path));
    CHECK_OK(fathom_model_load(path, NULL, &model));
    if (!model) return 1;
    CHECK(g_log_lines >= 2); /* "synthesised ..." and "loaded ..." */
    fathom_log_set_callback(NULL, NULL);

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_OK(fathom_model_get_info(model, &info));
    CHECK(strcmp(info.architecture, "llama") == 0);
    CHECK(strcmp(info.name, "synthetic tiny (untrained)") == 0);
    CHECK(info.n_vocab == 256 && info.n_ctx_train == 256 && info.n_embd == 64 && info.n_layer == 2);
    CHECK(info.n_head == 4 && info.n_head_kv == 2 && info.head_dim == 16 && info.n_ff == 128);
    /* 2 * 256*64 (embeddings, output) + 64 (output norm) + 2 layers * (2*64 norms + 2*64*64 + 2*64*32 + 3*64*128) */
    CHECK(info.n_params == 106816);
    CHECK(info.n_tensor_bytes == 106816u * 4u);
    CHECK(info.file_bytes > info.n_tensor_bytes);
    CHECK(info.bos_token == 1 && info.eos_token == 2);

    /* an older, smaller output struct gets only its fields */
    {
        fathom_model_info small;
        memset(&small, 0x5a, sizeof small);
        small.struct_size = offsetof(fathom_model_info, n_vocab) + sizeof(int64_t);
        CHECK_OK(fathom_model_get_info(model, &small));
        CHECK(small.n_vocab == 256);
        CHECK(small.n_ctx_train == (int64_t)0x5a5a5a5a5a5a5a5aLL); /* untouched */
    }

    /* ---- metadata */
    CHECK_OK(fathom_model_meta_count(model, &n));
    CHECK(n >= 15);
    CHECK_OK(fathom_model_meta_find(model, "llama.embedding_length", &idx));
    CHECK(idx >= 0);
    CHECK_OK(fathom_model_meta_int(model, idx, &iv));
    CHECK(iv == 64);
    CHECK_OK(fathom_model_meta_key(model, idx, &s));
    CHECK(strcmp(s, "llama.embedding_length") == 0);
    CHECK_OK(fathom_model_meta_value(model, idx, &s));
    CHECK(strcmp(s, "64") == 0);
    CHECK_OK(fathom_model_meta_type(model, idx, &s));
    CHECK(strcmp(s, "uint32") == 0);
    CHECK_FAILS(fathom_model_meta_string(model, idx, &s), FATHOM_ERR_INVALID_ARGUMENT, "llama.embedding_length");
    CHECK_OK(fathom_model_meta_find(model, "general.architecture", &idx));
    CHECK_OK(fathom_model_meta_string(model, idx, &s));
    CHECK(strcmp(s, "llama") == 0);
    CHECK_OK(fathom_model_meta_value(model, idx, &s));
    CHECK(strcmp(s, "\"llama\"") == 0);
    CHECK_OK(fathom_model_meta_find(model, "no.such.key", &idx));
    CHECK(idx == -1);
    CHECK_FAILS(fathom_model_meta_key(model, n, &s), FATHOM_ERR_INVALID_ARGUMENT, "out of range");

    /* ---- tensors */
    CHECK_OK(fathom_model_tensor_count(model, &n));
    CHECK(n == 3 + 2 * 9);
    CHECK_OK(fathom_model_tensor_find(model, "blk.1.ffn_down.weight", &idx));
    CHECK(idx >= 0);
    memset(&ti, 0, sizeof ti);
    ti.struct_size = sizeof ti;
    CHECK_OK(fathom_model_tensor_info(model, idx, &ti));
    CHECK(strcmp(ti.name, "blk.1.ffn_down.weight") == 0);
    CHECK(strcmp(ti.type_name, "f32") == 0 && ti.type == FATHOM_TYPE_F32);
    CHECK(ti.n_dims == 2 && ti.ne[0] == 128 && ti.ne[1] == 64 && ti.ne[2] == 1);
    CHECK(ti.n_bytes == 128u * 64u * 4u);
    CHECK_OK(fathom_model_tensor_find(model, "nope", &idx));
    CHECK(idx == -1);

    /* ---- session: one batch of 4 tokens in sequence 0 equals 4 single-token decodes in sequence 1 */
    fathom_session_options_init(&sopt);
    sopt.n_ctx = 64;
    sopt.n_seq = 2;
    sopt.n_threads = 2;
    CHECK_OK(fathom_session_create(model, &sopt, &sess));
    if (!sess) return 1;
    CHECK_OK(fathom_session_n_ctx(sess, &n));
    CHECK(n == 64);
    CHECK_OK(fathom_session_n_threads(sess, &len));
    CHECK(len == 2);
    {
        const int32_t toks[4] = {1, 17, 99, 200};
        const int8_t keep[4] = {1, 1, 1, 1};
        fathom_batch b;
        float last_batch[256];
        int k;
        memset(&b, 0, sizeof b);
        b.struct_size = sizeof b;
        b.n_tokens = 4;
        b.tokens = toks;
        b.logits = keep;
        CHECK_OK(fathom_session_decode(sess, &b));
        CHECK_OK(fathom_session_n_logits(sess, &n));
        CHECK(n == 4);
        CHECK_OK(fathom_session_logits(sess, -1, &logits));
        for (k = 0; k < 256; ++k) CHECK(isfinite(logits[k]));
        memcpy(last_batch, logits, sizeof last_batch);
        CHECK_OK(fathom_session_seq_len(sess, 0, &len));
        CHECK(len == 4);
        for (k = 0; k < 4; ++k) {
            const int32_t seq1 = 1;
            fathom_batch one;
            memset(&one, 0, sizeof one);
            one.struct_size = sizeof one;
            one.n_tokens = 1;
            one.tokens = &toks[k];
            one.seq = &seq1;
            CHECK_OK(fathom_session_decode(sess, &one));
        }
        CHECK_OK(fathom_session_seq_len(sess, 1, &len));
        CHECK(len == 4);
        CHECK_OK(fathom_session_logits(sess, 0, &logits));
        for (k = 0; k < 256; ++k) CHECK(fabsf(logits[k] - last_batch[k]) <= 1e-3f * (1.0f + fabsf(last_batch[k])));

        /* greedy sampler = argmax */
        fathom_sampler_options_init(&smo);
        smo.temperature = 0.0f;
        CHECK_OK(fathom_sampler_create(&smo, &greedy));
        CHECK_OK(fathom_sampler_sample(greedy, last_batch, 256, &tok));
        CHECK(tok == argmax(last_batch, 256));

        CHECK_OK(fathom_session_truncate(sess, 0, 2));
        CHECK_OK(fathom_session_seq_len(sess, 0, &len));
        CHECK(len == 2);
        CHECK_OK(fathom_session_truncate(sess, 0, 0));
        CHECK_OK(fathom_session_truncate(sess, 1, 0));
        CHECK_FAILS(fathom_session_logits(sess, 5, &logits), FATHOM_ERR_INVALID_ARGUMENT, "out of range");
        CHECK_FAILS(fathom_session_seq_len(sess, 2, &len), FATHOM_ERR_INVALID_ARGUMENT, "sequence 2");
        /* a gap in positions is rejected */
        {
            const int32_t pos = 5;
            fathom_batch gap;
            memset(&gap, 0, sizeof gap);
            gap.struct_size = sizeof gap;
            gap.n_tokens = 1;
            gap.tokens = toks;
            gap.pos = &pos;
            CHECK(fathom_session_decode(sess, &gap) == FATHOM_ERR_INVALID_ARGUMENT);
        }
        {
            const int32_t bad_tok = 256; /* == n_vocab */
            fathom_batch bt;
            memset(&bt, 0, sizeof bt);
            bt.struct_size = sizeof bt;
            bt.n_tokens = 1;
            bt.tokens = &bad_tok;
            CHECK(fathom_session_decode(sess, &bt) == FATHOM_ERR_INVALID_ARGUMENT);
        }
    }

    /* ---- generate (greedy, EOS ignored) equals a manual decode + argmax loop */
    {
        const int32_t prompt[3] = {1, 5, 9};
        int32_t manual[8];
        int k;
        CHECK_OK(fathom_session_truncate(sess, 0, 0));
        CHECK_OK(fathom_session_truncate(sess, 1, 0));
        {
            fathom_batch b;
            const int32_t seq1[3] = {1, 1, 1};
            memset(&b, 0, sizeof b);
            b.struct_size = sizeof b;
            b.n_tokens = 3;
            b.tokens = prompt;
            b.seq = seq1;
            CHECK_OK(fathom_session_decode(sess, &b));
            for (k = 0; k < 8; ++k) {
                const int32_t s1 = 1;
                CHECK_OK(fathom_session_logits(sess, -1, &logits));
                manual[k] = argmax(logits, 256);
                b.n_tokens = 1;
                b.tokens = &manual[k];
                b.seq = &s1;
                CHECK_OK(fathom_session_decode(sess, &b));
            }
        }
        fathom_generate_options_init(&go);
        go.max_tokens = 8;
        go.ignore_eos = 1;
        memset(&col, 0, sizeof col);
        memset(&stats, 0, sizeof stats);
        stats.struct_size = sizeof stats;
        CHECK_OK(fathom_generate(sess, greedy, prompt, 3, &go, on_token, &col, &stats));
        CHECK(col.n == 8);
        for (k = 0; k < 8 && k < col.n; ++k) CHECK(col.tokens[k] == manual[k]);
        CHECK(stats.n_prompt_tokens == 3 && stats.n_generated == 8 && stats.n_decode_tokens == 8);
        CHECK(stats.stop_reason == FATHOM_STOP_MAX_TOKENS);
        CHECK(stats.prompt_seconds > 0.0 && stats.decode_seconds > 0.0);
        CHECK_OK(fathom_session_seq_len(sess, 0, &len));
        CHECK(len == 3 + 8);

        /* the callback stops generation */
        CHECK_OK(fathom_session_truncate(sess, 0, 0));
        memset(&col, 0, sizeof col);
        col.stop_after = 3;
        CHECK_OK(fathom_generate(sess, greedy, prompt, 3, &go, on_token, &col, &stats));
        CHECK(col.n == 3 && stats.n_generated == 3 && stats.stop_reason == FATHOM_STOP_CALLBACK);

        /* a stop token ends generation before it is emitted: use the first greedy token that is new at its step */
        {
            int first_new = -1, j;
            for (k = 1; k < 8 && first_new < 0; ++k) {
                int seen = 0;
                for (j = 0; j < k; ++j) seen |= manual[j] == manual[k];
                if (!seen) first_new = k;
            }
            if (first_new < 0) first_new = 0; /* every token repeats the first: stop at once */
            CHECK_OK(fathom_session_truncate(sess, 0, 0));
            memset(&col, 0, sizeof col);
            go.stop_tokens = &manual[first_new];
            go.n_stop_tokens = 1;
            CHECK_OK(fathom_generate(sess, greedy, prompt, 3, &go, on_token, &col, &stats));
            CHECK(col.n == first_new && stats.stop_reason == FATHOM_STOP_TOKEN);
        }

        /* the context fills up: n_ctx 64, 3 prompt tokens -> 61 tokens fit */
        CHECK_OK(fathom_session_truncate(sess, 0, 0));
        memset(&col, 0, sizeof col);
        go.stop_tokens = NULL;
        go.n_stop_tokens = 0;
        go.max_tokens = -1;
        CHECK_OK(fathom_generate(sess, greedy, prompt, 3, &go, on_token, &col, &stats));
        CHECK(col.n == 61 && stats.stop_reason == FATHOM_STOP_CONTEXT);
        CHECK_OK(fathom_session_seq_len(sess, 0, &len));
        CHECK(len == 64);
        CHECK_FAILS(fathom_generate(sess, greedy, prompt, 3, &go, NULL, NULL, NULL), FATHOM_ERR_INVALID_ARGUMENT,
                    "does not fit");
    }

    /* ---- seeded sampling: same seed, same tokens */
    {
        fathom_sampler* a = NULL;
        fathom_sampler* b = NULL;
        int32_t ta, tb;
        uint64_t seed;
        float l[256];
        int k, same = 1;
        for (k = 0; k < 256; ++k) l[k] = (float)((k * 37) % 101) / 25.0f;
        fathom_sampler_options_init(&smo);
        smo.seed = 1234;
        smo.top_k = 0;
        smo.top_p = 1.0f;
        smo.min_p = 0.0f;
        CHECK_OK(fathom_sampler_create(&smo, &a));
        CHECK_OK(fathom_sampler_create(&smo, &b));
        CHECK_OK(fathom_sampler_seed(a, &seed));
        CHECK(seed == 1234);
        for (k = 0; k < 50; ++k) {
            CHECK_OK(fathom_sampler_sample(a, l, 256, &ta));
            CHECK_OK(fathom_sampler_sample(b, l, 256, &tb));
            CHECK_OK(fathom_sampler_accept(a, ta));
            CHECK_OK(fathom_sampler_accept(b, tb));
            if (ta != tb) same = 0;
        }
        CHECK(same);
        CHECK_OK(fathom_sampler_reset(a));
        fathom_sampler_free(a);
        fathom_sampler_free(b);
    }

    /* ---- forced scalar kernels agree with the default ISA */
    {
        char isa[32];
        const int32_t toks[3] = {3, 4, 5};
        float ref[256];
        int k;
        fathom_batch b;
        snprintf(isa, sizeof isa, "%s", fathom_isa_name());
        memset(&b, 0, sizeof b);
        b.struct_size = sizeof b;
        b.n_tokens = 3;
        b.tokens = toks;
        CHECK_OK(fathom_session_truncate(sess, 0, 0));
        CHECK_OK(fathom_session_decode(sess, &b));
        CHECK_OK(fathom_session_logits(sess, -1, &logits));
        memcpy(ref, logits, sizeof ref);
        CHECK_OK(fathom_isa_set("scalar"));
        CHECK(strcmp(fathom_isa_name(), "scalar") == 0);
        CHECK_OK(fathom_session_truncate(sess, 0, 0));
        CHECK_OK(fathom_session_decode(sess, &b));
        CHECK_OK(fathom_session_logits(sess, -1, &logits));
        for (k = 0; k < 256; ++k) CHECK(fabsf(logits[k] - ref[k]) <= 1e-3f * (1.0f + fabsf(ref[k])));
        CHECK_OK(fathom_isa_set(isa));
        CHECK_FAILS(fathom_isa_set("mmx"), FATHOM_ERR_INVALID_ARGUMENT, "mmx");
    }

    /* ---- error paths */
    {
        fathom_model* m2 = NULL;
        fathom_model_options mo;
        CHECK_FAILS(fathom_model_load(missing, NULL, &m2), FATHOM_ERR_IO, missing);
        CHECK(m2 == NULL);
        f = fopen(bad_path, "wb");
        CHECK(f != NULL);
        if (f) {
            fwrite("GGUF\x03\x00\x00\x00garbage", 1, 15, f);
            fclose(f);
        }
        CHECK_FAILS(fathom_model_load(bad_path, NULL, &m2), FATHOM_ERR_FORMAT, bad_path);
        CHECK_FAILS(fathom_model_load(NULL, NULL, &m2), FATHOM_ERR_INVALID_ARGUMENT, "path");
        CHECK_FAILS(fathom_model_load(path, NULL, NULL), FATHOM_ERR_INVALID_ARGUMENT, "out");
        fathom_model_options_init(&mo);
        mo.struct_size = sizeof mo + 8; /* from a newer header */
        CHECK_FAILS(fathom_model_load(path, &mo, &m2), FATHOM_ERR_INVALID_ARGUMENT, "struct_size");
        /* use_mmap = 0 copies the weights and still runs */
        fathom_model_options_init(&mo);
        mo.use_mmap = 0;
        CHECK_OK(fathom_model_load(path, &mo, &m2));
        fathom_model_free(m2);
        CHECK_FAILS(fathom_model_get_info(NULL, &info), FATHOM_ERR_INVALID_ARGUMENT, "model");
        CHECK_FAILS(fathom_session_create(NULL, NULL, &sess), FATHOM_ERR_INVALID_ARGUMENT, "model");
        CHECK_FAILS(fathom_session_decode(sess, NULL), FATHOM_ERR_INVALID_ARGUMENT, "batch");
        CHECK_FAILS(fathom_sampler_sample(greedy, NULL, 256, &tok), FATHOM_ERR_INVALID_ARGUMENT, "logits");
        CHECK_FAILS(fathom_generate(sess, greedy, NULL, 3, NULL, NULL, NULL, NULL), FATHOM_ERR_INVALID_ARGUMENT,
                    "prompt");
        sopt.n_seq = 0;
        {
            fathom_session* s2 = NULL;
            CHECK_FAILS(fathom_session_create(model, &sopt, &s2), FATHOM_ERR_INVALID_ARGUMENT, "n_seq");
            CHECK(s2 == NULL);
        }
        so.shape = "gpt-5";
        CHECK_FAILS(fathom_synth(&so, bad_path), FATHOM_ERR_INVALID_ARGUMENT, "gpt-5");
        smo.repeat_penalty = -1.0f;
        {
            fathom_sampler* s3 = NULL;
            CHECK_FAILS(fathom_sampler_create(&smo, &s3), FATHOM_ERR_INVALID_ARGUMENT, "repeat_penalty");
        }
        /* a model without tokenizer.ggml.* metadata has no tokenizer */
        {
            int has = -1;
            int64_t n_tok = -1;
            const char* piece = NULL;
            size_t text_len = 0;
            char text_buf[8];
            CHECK_OK(fathom_model_has_tokenizer(model, &has));
            CHECK(has == 0);
            CHECK_FAILS(fathom_tokenize(model, "Hi", 2, 1, 0, NULL, 0, &n_tok), FATHOM_ERR_UNSUPPORTED,
                        "has no tokenizer");
            CHECK(n_tok == -1);
            CHECK_FAILS(fathom_token_to_piece(model, 0, &piece), FATHOM_ERR_UNSUPPORTED, path);
            CHECK_FAILS(fathom_detokenize(model, &tok, 1, text_buf, sizeof text_buf, &text_len), FATHOM_ERR_UNSUPPORTED,
                        "has no tokenizer");
            CHECK_FAILS(fathom_model_has_tokenizer(NULL, &has), FATHOM_ERR_INVALID_ARGUMENT, "model");
        }
        /* vocab_only loads metadata but refuses sessions */
        fathom_model_options_init(&mo);
        mo.vocab_only = 1;
        CHECK_OK(fathom_model_load(path, &mo, &m2));
        {
            fathom_session* s4 = NULL;
            CHECK_FAILS(fathom_session_create(m2, NULL, &s4), FATHOM_ERR_INVALID_ARGUMENT, "vocab_only");
            CHECK(s4 == NULL);
        }
        fathom_model_free(m2);
        /* _free functions accept NULL */
        fathom_model_free(NULL);
        fathom_session_free(NULL);
        fathom_sampler_free(NULL);
    }
    fathom_sampler_free(greedy);
    fathom_session_free(sess);
    fathom_model_free(model);
    remove(path);
    remove(bad_path);
    if (g_failures) {
        fprintf(stderr, "api-test: %d check(s) failed\n", g_failures);
        return 1;
    }
    printf("api-test: all checks passed\n");
    return 0;
}

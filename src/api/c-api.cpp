// The C ABI (include/fathom/fathom.h): every entry point runs its body inside guarded(), which turns exceptions into a
// fathom_status plus a thread-local message, so no exception ever crosses the ABI.
#include "fathom/fathom.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread-pool.h"
#include "io/model-file.h"
#include "io/text/tokenizer.h"
#include "kernels/kernels.h"
#include "models/llama.h"
#include "models/synth.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "api/c-api-internal.h"

namespace fathom::capi {
namespace {

thread_local std::string t_last_error;

fathom_status set_error(fathom_status s, std::string message) {
    t_last_error = std::move(message);
    return s;
}

std::mutex g_log_mu;
fathom_log_fn g_log_fn = nullptr;
void* g_log_user = nullptr;

}  // namespace

// Runs an entry point's body, mapping exceptions to a status and the thread-local message.
fathom_status guarded(function_ref<void()> body) {
    try {
        body();
        return FATHOM_OK;
    } catch (const fathom::error& e) {
        int code = int(e.code());
        if (code <= 0 || code > int(FATHOM_ERR_INTERNAL)) code = FATHOM_ERR_INTERNAL;
        return set_error(fathom_status(code), e.what());
    } catch (const std::bad_alloc&) {
        return set_error(FATHOM_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        return set_error(FATHOM_ERR_INTERNAL, std::string("internal error: ") + e.what());
    } catch (...) {
        return set_error(FATHOM_ERR_INTERNAL, "internal error: unknown exception");
    }
}

void require(const void* p, const char* fn, const char* arg) {
    if (!p) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": " + arg + " is NULL");
}

// Copies a caller's options struct over `dst` (already holding the defaults). An older, smaller struct_size is
// accepted (the missing fields keep their defaults); a larger one is rejected.
void read_struct(const void* src, void* dst, size_t size, const char* fn, const char* what) {
    if (!src) return;
    size_t n;
    std::memcpy(&n, src, sizeof n);
    if (n < sizeof(size_t))
        fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": " + what + ".struct_size " + std::to_string(n) +
                                              " is too small (fill the struct with its _init function)");
    if (n > size)
        fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": " + what + ".struct_size " + std::to_string(n) +
                                              " is larger than this library's " + std::to_string(size) +
                                              " (header newer than the library?)");
    std::memcpy(dst, src, n);
    std::memcpy(dst, &size, sizeof size);
}

// Copies a filled output struct into the caller's, up to the caller's struct_size.
void write_struct(void* dst, const void* src, size_t size, const char* fn, const char* what) {
    size_t n;
    std::memcpy(&n, dst, sizeof n);
    if (n < sizeof(size_t) || n > size)
        fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": " + what + ".struct_size " + std::to_string(n) +
                                              " is invalid (set it to sizeof(" + what + "), at most " +
                                              std::to_string(size) + ")");
    std::memcpy(dst, src, n);
    std::memcpy(dst, &n, sizeof n);
}

// ---- logging

void log(fathom_log_level level, const std::string& message) {
    fathom_log_fn fn;
    void* user;
    {
        std::lock_guard<std::mutex> lock(g_log_mu);
        fn = g_log_fn;
        user = g_log_user;
    }
    if (fn) fn(level, message.c_str(), user);  // outside the lock: the callback may log or reset the callback
    else if (level >= FATHOM_LOG_WARN) std::fprintf(stderr, "fathom: %s\n", message.c_str());
}

// ---- helpers

namespace {

uint64_t path_bytes(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        uint64_t total = 0;
        for (const auto& e : fs::directory_iterator(path, ec))
            if (e.is_regular_file(ec)) total += e.file_size(ec);
        return total;
    }
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

// Copies every tensor into one owned buffer and drops the file mappings (use_mmap = 0).
void copy_to_memory(io::model_file& f, int n_threads) {
    size_t total = 0;
    std::vector<size_t> offs(f.tensors.size());
    for (size_t k = 0; k < f.tensors.size(); ++k) {
        offs[k] = total;
        total += (size_t(f.tensors[k].nbytes) + 63) & ~size_t(63);
    }
    auto buf = std::make_shared<aligned_buffer>(std::max<size_t>(total, 64));
    thread_pool pool(n_threads);
    uint8_t* base = buf->as<uint8_t>();
    pool.parallel_for(int64_t(f.tensors.size()), 1, [&](int64_t b, int64_t e, int) {
        for (int64_t k = b; k < e; ++k) {
            const auto& t = f.tensors[size_t(k)];
            if (t.nbytes) std::memcpy(base + offs[size_t(k)], t.data, size_t(t.nbytes));
        }
    });
    for (size_t k = 0; k < f.tensors.size(); ++k) f.tensors[k].data = base + offs[k];
    f.owned.push_back(std::move(buf));
    f.maps.clear();
}

const char* k_isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni", "neon"};

bool dtype_of(fathom_type t, dtype* out) {
    switch (t) {
        case FATHOM_TYPE_F32: *out = dtype::DTYPE_F32; return true;
        case FATHOM_TYPE_F16: *out = dtype::DTYPE_F16; return true;
        case FATHOM_TYPE_BF16: *out = dtype::DTYPE_BF16; return true;
    }
    return false;
}

const io::meta_value& meta_at(const fathom_model* m, int64_t index, const char* fn) {
    const auto& meta = m->m->file.meta;
    if (index < 0 || uint64_t(index) >= meta.size())
        fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": index " + std::to_string(index) + " is out of range (" +
                                              std::to_string(meta.size()) + " metadata entries)");
    return meta[size_t(index)].second;
}

}  // namespace

void check_seq(const fathom_session* s, int32_t seq, const char* fn) {
    if (seq < 0 || seq >= s->s->n_seq())
        fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": sequence " + std::to_string(seq) +
                                              " is out of range (session has " + std::to_string(s->s->n_seq()) + ")");
}

// The model's tokenizer, built once (thread-safe; a failed build is retried by the next call).
const text::tokenizer& tokenizer_of(const fathom_model* m) {
    if (!m->m->file.find("tokenizer.ggml.model")) fail(errc::ERRC_UNSUPPORTED, m->path + ": has no tokenizer (no tokenizer.ggml.model)");
    std::call_once(m->tok_once, [&] {
        auto t = std::make_unique<text::tokenizer>(m->m->file);
        std::vector<std::string> pieces(size_t(std::max(t->n_vocab(), 0)));
        for (int32_t id = 0; id < t->n_vocab(); ++id) pieces[size_t(id)] = t->token_piece(id);
        m->pieces = std::move(pieces);
        m->tok = std::move(t);
    });
    return *m->tok;
}

void check_token(const text::tokenizer& t, int32_t id, const char* fn) {
    if (id < 0 || id >= t.n_vocab())
        fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": token " + std::to_string(id) +
                                              " is out of range (vocabulary has " + std::to_string(t.n_vocab()) +
                                              ")");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void copy_out_string(const std::string& s, char* buf, size_t capacity, size_t* len, const char* fn) {
    if (s.size() + 1 > capacity) {
        *len = s.size();
        fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": capacity " + std::to_string(capacity) +
                                              " is too small (" + std::to_string(s.size() + 1) +
                                              " bytes needed with the NUL; length stored in *len)");
    }
    std::memcpy(buf, s.c_str(), s.size() + 1);
    *len = s.size();
}

}  // namespace fathom::capi

using namespace fathom;
using namespace fathom::capi;

// ------------------------------------------------------------------ library

extern "C" const char* fathom_version(void) { return FATHOM_VERSION; }

extern "C" const char* fathom_last_error(void) { return t_last_error.c_str(); }

extern "C" const char* fathom_status_name(fathom_status status) {
    switch (status) {
        case FATHOM_OK: return "FATHOM_OK";
        case FATHOM_ERR_INVALID_ARGUMENT: return "FATHOM_ERR_INVALID_ARGUMENT";
        case FATHOM_ERR_IO: return "FATHOM_ERR_IO";
        case FATHOM_ERR_FORMAT: return "FATHOM_ERR_FORMAT";
        case FATHOM_ERR_UNSUPPORTED: return "FATHOM_ERR_UNSUPPORTED";
        case FATHOM_ERR_OUT_OF_MEMORY: return "FATHOM_ERR_OUT_OF_MEMORY";
        case FATHOM_ERR_INTERNAL: return "FATHOM_ERR_INTERNAL";
    }
    return "unknown";
}

extern "C" void fathom_log_set_callback(fathom_log_fn fn, void* user_data) {
    guarded([&] {
        std::lock_guard<std::mutex> lock(g_log_mu);
        g_log_fn = fn;
        g_log_user = fn ? user_data : nullptr;
    });
}

extern "C" const char* fathom_isa_name(void) {
    const char* name = "scalar";
    guarded([&] { name = kernels::isa_name(kernels::active().level); });
    return name;
}

extern "C" fathom_status fathom_isa_set(const char* name) {
    return guarded([&] {
        require(name, "fathom_isa_set", "name");
        for (int i = 0; i < int(std::size(k_isa_names)); ++i) {
            if (std::strcmp(name, k_isa_names[i]) != 0) continue;
            if (!kernels::set_active(kernels::isa(i)))
                fail(errc::ERRC_UNSUPPORTED, std::string("fathom_isa_set: ISA '") + name +
                                                 "' is not available on this CPU or build");
            log(FATHOM_LOG_INFO, std::string("kernels: ISA forced to ") + name);
            return;
        }
        fail(errc::ERRC_INVALID_ARGUMENT, std::string("fathom_isa_set: unknown ISA '") + name +
                                              "' (expected scalar, avx2, avx512, avx512_vnni or neon)");
    });
}

// ------------------------------------------------------------------ models

extern "C" void fathom_model_options_init(fathom_model_options* opts) {
    if (!opts) return;
    *opts = fathom_model_options{};
    opts->struct_size = sizeof *opts;
    opts->n_threads = 0;
    opts->use_mmap = 1;
    opts->vocab_only = 0;
}

extern "C" fathom_status fathom_model_load(const char* path, const fathom_model_options* opts, fathom_model** out) {
    return guarded([&] {
        const char* fn = "fathom_model_load";
        require(path, fn, "path");
        require(out, fn, "out");
        fathom_model_options o;
        fathom_model_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_model_options");
        if (o.n_threads < 0) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_threads must be >= 0");

        auto t0 = std::chrono::steady_clock::now();
        io::model_file file = io::load_model_file(path);
        auto m = std::make_unique<fathom_model>();
        m->path = path;
        if (o.vocab_only) {  // metadata only: no tensors are bound, so vocabulary-only files load too
            m->vocab_only = true;
            m->m = std::make_unique<llama_model>();
            m->m->file = std::move(file);
            const io::model_file& vf = m->m->file;
            llama_hparams& hp = m->m->hp;
            if (const io::meta_value* v = vf.find("general.architecture")) hp.arch = v->as_string("general.architecture");
            if (const io::meta_value* v = vf.find("tokenizer.ggml.tokens"))
                hp.n_vocab = int64_t(v->as_array("tokenizer.ggml.tokens").size());
            if (const io::meta_value* v = vf.find("tokenizer.ggml.bos_token_id"))
                hp.bos_id = int32_t(v->as_int("tokenizer.ggml.bos_token_id"));
            if (const io::meta_value* v = vf.find("tokenizer.ggml.eos_token_id"))
                hp.eos_id = int32_t(v->as_int("tokenizer.ggml.eos_token_id"));
        } else {
            if (!o.use_mmap) copy_to_memory(file, o.n_threads);
            m->m = llama_model::load(std::move(file));
        }
        const io::model_file& f = m->m->file;
        if (const io::meta_value* v = f.find("general.name"); v && v->type == io::gguf_type::GGUF_STRING) m->name = v->s;
        m->meta_display.reserve(f.meta.size());
        for (const auto& kv : f.meta) m->meta_display.push_back(kv.second.to_display());
        for (const auto& t : f.tensors) {
            m->n_params += t.nelements();
            m->n_tensor_bytes += t.nbytes;
        }
        m->file_bytes = path_bytes(path);
        char line[512];
        std::snprintf(line, sizeof line, "loaded %s: %s, %zu tensors, %.1f MiB%s in %.2f s", path,
                      m->m->hp.arch.c_str(), f.tensors.size(), double(m->n_tensor_bytes) / (1024.0 * 1024.0),
                      o.use_mmap ? " (mmap)" : "", seconds_since(t0));
        log(FATHOM_LOG_INFO, line);
        *out = m.release();
    });
}

extern "C" void fathom_model_free(fathom_model* model) { delete model; }

extern "C" fathom_status fathom_model_get_info(const fathom_model* model, fathom_model_info* info) {
    return guarded([&] {
        const char* fn = "fathom_model_get_info";
        require(model, fn, "model");
        require(info, fn, "info");
        const llama_hparams& hp = model->m->hp;
        fathom_model_info r{};
        r.struct_size = sizeof r;
        r.architecture = hp.arch.c_str();
        r.name = model->name.c_str();
        r.n_vocab = hp.n_vocab;
        r.n_ctx_train = hp.n_ctx_train;
        r.n_embd = hp.n_embd;
        r.n_layer = hp.n_layer;
        r.n_head = hp.n_head;
        r.n_head_kv = hp.n_head_kv;
        r.head_dim = hp.head_dim;
        r.n_ff = hp.n_ff;
        r.n_params = model->n_params;
        r.n_tensor_bytes = model->n_tensor_bytes;
        r.file_bytes = model->file_bytes;
        r.bos_token = hp.bos_id;
        r.eos_token = hp.eos_id;
        write_struct(info, &r, sizeof r, fn, "fathom_model_info");
    });
}

extern "C" fathom_status fathom_model_meta_count(const fathom_model* model, int64_t* count) {
    return guarded([&] {
        require(model, "fathom_model_meta_count", "model");
        require(count, "fathom_model_meta_count", "count");
        *count = int64_t(model->m->file.meta.size());
    });
}

extern "C" fathom_status fathom_model_meta_key(const fathom_model* model, int64_t index, const char** key) {
    return guarded([&] {
        const char* fn = "fathom_model_meta_key";
        require(model, fn, "model");
        require(key, fn, "key");
        meta_at(model, index, fn);
        *key = model->m->file.meta[size_t(index)].first.c_str();
    });
}

extern "C" fathom_status fathom_model_meta_type(const fathom_model* model, int64_t index, const char** type_name) {
    return guarded([&] {
        const char* fn = "fathom_model_meta_type";
        require(model, fn, "model");
        require(type_name, fn, "type_name");
        *type_name = io::gguf_type_name(meta_at(model, index, fn).type);
    });
}

extern "C" fathom_status fathom_model_meta_value(const fathom_model* model, int64_t index, const char** value) {
    return guarded([&] {
        const char* fn = "fathom_model_meta_value";
        require(model, fn, "model");
        require(value, fn, "value");
        meta_at(model, index, fn);
        *value = model->meta_display[size_t(index)].c_str();
    });
}

extern "C" fathom_status fathom_model_meta_find(const fathom_model* model, const char* key, int64_t* index) {
    return guarded([&] {
        const char* fn = "fathom_model_meta_find";
        require(model, fn, "model");
        require(key, fn, "key");
        require(index, fn, "index");
        const auto& meta = model->m->file.meta;
        const io::meta_value* v = model->m->file.find(key);
        int64_t found = -1;
        if (v)
            for (size_t k = 0; k < meta.size(); ++k)
                if (&meta[k].second == v) found = int64_t(k);
        *index = found;
    });
}

namespace {
// Shared body of the typed metadata readers: checks the arguments, then stores read(value, key) into *out;
// a value of another type is an INVALID_ARGUMENT error naming the function and the key.
template <class T, class Read>
fathom_status meta_read(const fathom_model* model, int64_t index, T* out, const char* fn, const char* out_name,
                        Read read) {
    return guarded([&] {
        require(model, fn, "model");
        require(out, fn, out_name);
        const io::meta_value& v = meta_at(model, index, fn);
        try {
            *out = read(v, model->m->file.meta[size_t(index)].first);
        } catch (const fathom::error& e) {
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": " + e.what());
        }
    });
}
}  // namespace

extern "C" fathom_status fathom_model_meta_string(const fathom_model* model, int64_t index, const char** value) {
    return meta_read(model, index, value, "fathom_model_meta_string", "value",
                     [](const io::meta_value& v, const std::string& key) { return v.as_string(key).c_str(); });
}

extern "C" fathom_status fathom_model_meta_int(const fathom_model* model, int64_t index, int64_t* value) {
    return meta_read(model, index, value, "fathom_model_meta_int", "value",
                     [](const io::meta_value& v, const std::string& key) { return v.as_int(key); });
}

extern "C" fathom_status fathom_model_meta_float(const fathom_model* model, int64_t index, double* value) {
    return meta_read(model, index, value, "fathom_model_meta_float", "value",
                     [](const io::meta_value& v, const std::string& key) { return v.as_float(key); });
}

extern "C" fathom_status fathom_model_meta_array_length(const fathom_model* model, int64_t index, int64_t* length) {
    return meta_read(model, index, length, "fathom_model_meta_array_length", "length",
                     [](const io::meta_value& v, const std::string& key) { return int64_t(v.as_array(key).size()); });
}

extern "C" fathom_status fathom_model_tensor_count(const fathom_model* model, int64_t* count) {
    return guarded([&] {
        require(model, "fathom_model_tensor_count", "model");
        require(count, "fathom_model_tensor_count", "count");
        *count = int64_t(model->m->file.tensors.size());
    });
}

extern "C" fathom_status fathom_model_tensor_info(const fathom_model* model, int64_t index, fathom_tensor_info* info) {
    return guarded([&] {
        const char* fn = "fathom_model_tensor_info";
        require(model, fn, "model");
        require(info, fn, "info");
        const auto& ts = model->m->file.tensors;
        if (index < 0 || uint64_t(index) >= ts.size())
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": index " + std::to_string(index) +
                                                  " is out of range (" + std::to_string(ts.size()) + " tensors)");
        const io::tensor_entry& t = ts[size_t(index)];
        fathom_tensor_info r{};
        r.struct_size = sizeof r;
        r.name = t.name.c_str();
        r.type_name = dtype_name(t.type);
        r.type = int32_t(t.type);
        r.n_dims = int32_t(t.ne.size());
        for (int d = 0; d < 4; ++d) r.ne[d] = size_t(d) < t.ne.size() ? t.ne[size_t(d)] : 1;
        r.n_bytes = t.nbytes;
        write_struct(info, &r, sizeof r, fn, "fathom_tensor_info");
    });
}

extern "C" fathom_status fathom_model_tensor_find(const fathom_model* model, const char* name, int64_t* index) {
    return guarded([&] {
        const char* fn = "fathom_model_tensor_find";
        require(model, fn, "model");
        require(name, fn, "name");
        require(index, fn, "index");
        const io::tensor_entry* t = model->m->file.find_tensor(name);
        *index = t ? int64_t(t - model->m->file.tensors.data()) : -1;
    });
}

// ------------------------------------------------------------------ tokenizer

extern "C" fathom_status fathom_model_has_tokenizer(const fathom_model* model, int* has) {
    return guarded([&] {
        require(model, "fathom_model_has_tokenizer", "model");
        require(has, "fathom_model_has_tokenizer", "has");
        *has = model->m->file.find("tokenizer.ggml.model") ? 1 : 0;
    });
}

extern "C" fathom_status fathom_tokenize(const fathom_model* model, const char* text, size_t len, int add_special,
                                         int parse_special, int32_t* tokens, int64_t capacity, int64_t* n_tokens) {
    return guarded([&] {
        const char* fn = "fathom_tokenize";
        require(model, fn, "model");
        if (len) require(text, fn, "text");
        require(n_tokens, fn, "n_tokens");
        if (capacity < 0) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": capacity must be >= 0");
        if (capacity > 0) require(tokens, fn, "tokens");
        const text::tokenizer& t = tokenizer_of(model);
        const std::vector<int32_t> ids =
            t.encode(std::string_view(len ? text : "", len), add_special != 0, parse_special != 0);
        const int64_t n = int64_t(ids.size());
        if (n > capacity) {
            *n_tokens = n;
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": capacity " + std::to_string(capacity) +
                                                  " is too small (" + std::to_string(n) +
                                                  " tokens needed, stored in *n_tokens)");
        }
        if (n) std::memcpy(tokens, ids.data(), size_t(n) * sizeof(int32_t));
        *n_tokens = n;
    });
}

extern "C" fathom_status fathom_token_to_piece(const fathom_model* model, int32_t token, const char** piece) {
    return guarded([&] {
        const char* fn = "fathom_token_to_piece";
        require(model, fn, "model");
        require(piece, fn, "piece");
        const text::tokenizer& t = tokenizer_of(model);
        check_token(t, token, fn);
        *piece = model->pieces[size_t(token)].c_str();
    });
}

extern "C" fathom_status fathom_detokenize(const fathom_model* model, const int32_t* tokens, int64_t n, char* buf,
                                           size_t capacity, size_t* len) {
    return guarded([&] {
        const char* fn = "fathom_detokenize";
        require(model, fn, "model");
        require(len, fn, "len");
        if (n < 0) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n must be >= 0");
        if (n > 0) require(tokens, fn, "tokens");
        if (capacity > 0) require(buf, fn, "buf");
        const text::tokenizer& t = tokenizer_of(model);
        std::vector<int32_t> ids(tokens, tokens + n);
        for (int32_t id : ids) check_token(t, id, fn);
        copy_out_string(t.decode(ids, false), buf, capacity, len, fn);
    });
}

extern "C" fathom_status fathom_token_is_eog(const fathom_model* model, int32_t token, int* is_eog) {
    return guarded([&] {
        const char* fn = "fathom_token_is_eog";
        require(model, fn, "model");
        require(is_eog, fn, "is_eog");
        const text::tokenizer& t = tokenizer_of(model);
        check_token(t, token, fn);
        *is_eog = t.is_eog(token) ? 1 : 0;
    });
}

// ------------------------------------------------------------------ sessions

extern "C" void fathom_session_options_init(fathom_session_options* opts) {
    if (!opts) return;
    *opts = fathom_session_options{};
    opts->struct_size = sizeof *opts;
    opts->n_ctx = 0;
    opts->n_seq = 1;
    opts->n_threads = 0;
    opts->n_batch = 512;
}

extern "C" fathom_status fathom_session_create(const fathom_model* model, const fathom_session_options* opts,
                                               fathom_session** out) {
    return guarded([&] {
        const char* fn = "fathom_session_create";
        require(model, fn, "model");
        require(out, fn, "out");
        if (model->vocab_only)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": the model was loaded with vocab_only (no weights)");
        fathom_session_options o;
        fathom_session_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_session_options");
        auto bad = [&](const char* field, int64_t v, const char* rule) {
            fail(errc::ERRC_INVALID_ARGUMENT,
                 std::string(fn) + ": " + field + " " + rule + " (got " + std::to_string(v) + ")");
        };
        if (o.n_ctx < 0) bad("n_ctx", o.n_ctx, "must be >= 0");
        if (o.n_ctx > (int64_t(1) << 31) - 1) bad("n_ctx", o.n_ctx, "is too large");
        if (o.n_seq < 1) bad("n_seq", o.n_seq, "must be >= 1");
        if (o.n_threads < 0) bad("n_threads", o.n_threads, "must be >= 0");
        if (o.n_batch < 1) bad("n_batch", o.n_batch, "must be >= 1");
        session_params p;
        p.n_ctx = o.n_ctx;
        p.n_seq = o.n_seq;
        p.n_threads = o.n_threads;
        p.n_batch = o.n_batch;
        auto s = std::make_unique<fathom_session>();
        s->model = model;
        s->s = std::make_unique<session>(*model->m, p);
        char line[256];
        std::snprintf(line, sizeof line, "session: n_ctx %lld, n_seq %d, n_batch %lld, %d threads",
                      (long long)s->s->n_ctx(), s->s->n_seq(), (long long)o.n_batch, s->s->pool().size());
        log(FATHOM_LOG_INFO, line);
        *out = s.release();
    });
}

extern "C" void fathom_session_free(fathom_session* session) { delete session; }

extern "C" fathom_status fathom_session_n_ctx(const fathom_session* session, int64_t* n_ctx) {
    return guarded([&] {
        require(session, "fathom_session_n_ctx", "session");
        require(n_ctx, "fathom_session_n_ctx", "n_ctx");
        *n_ctx = session->s->n_ctx();
    });
}

extern "C" fathom_status fathom_session_n_threads(const fathom_session* session, int32_t* n_threads) {
    return guarded([&] {
        require(session, "fathom_session_n_threads", "session");
        require(n_threads, "fathom_session_n_threads", "n_threads");
        *n_threads = session->s->pool().size();
    });
}

extern "C" fathom_status fathom_session_decode(fathom_session* session, const fathom_batch* batch) {
    return guarded([&] {
        const char* fn = "fathom_session_decode";
        require(session, fn, "session");
        require(batch, fn, "batch");
        fathom_batch b{};
        read_struct(batch, &b, sizeof b, fn, "fathom_batch");
        if (b.n_tokens <= 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": batch.n_tokens must be >= 1 (got " +
                                                  std::to_string(b.n_tokens) + ")");
        require(b.tokens, fn, "batch.tokens");
        const int32_t n_seq = session->s->n_seq();
        auto& v = session->batch;
        v.resize(size_t(b.n_tokens));
        if (!b.pos) {
            session->next_pos.resize(size_t(n_seq));
            for (int32_t s = 0; s < n_seq; ++s) session->next_pos[size_t(s)] = session->s->seq_len(s);
        }
        for (int64_t i = 0; i < b.n_tokens; ++i) {
            batch_token& t = v[size_t(i)];
            t.token = b.tokens[i];
            t.seq = b.seq ? b.seq[i] : 0;
            if (t.seq < 0 || t.seq >= n_seq)
                fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": batch.seq[" + std::to_string(i) + "] = " +
                                                      std::to_string(t.seq) + " is out of range (session has " +
                                                      std::to_string(n_seq) + " sequences)");
            t.pos = b.pos ? b.pos[i] : session->next_pos[size_t(t.seq)]++;
            t.logits = b.logits ? b.logits[i] != 0 : i == b.n_tokens - 1;
        }
        session->s->decode(v);
    });
}

extern "C" fathom_status fathom_session_n_logits(const fathom_session* session, int64_t* n) {
    return guarded([&] {
        require(session, "fathom_session_n_logits", "session");
        require(n, "fathom_session_n_logits", "n");
        *n = session->s->n_logits();
    });
}

extern "C" fathom_status fathom_session_logits(const fathom_session* session, int64_t i, const float** logits) {
    return guarded([&] {
        const char* fn = "fathom_session_logits";
        require(session, fn, "session");
        require(logits, fn, "logits");
        const int64_t n = session->s->n_logits();
        const int64_t k = i == -1 ? n - 1 : i;
        if (k < 0 || k >= n)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": index " + std::to_string(i) +
                                                  " is out of range (last decode kept " + std::to_string(n) +
                                                  " logits rows)");
        *logits = session->s->logits(k);
    });
}

extern "C" fathom_status fathom_session_seq_len(const fathom_session* session, int32_t seq, int32_t* len) {
    return guarded([&] {
        const char* fn = "fathom_session_seq_len";
        require(session, fn, "session");
        require(len, fn, "len");
        check_seq(session, seq, fn);
        *len = session->s->seq_len(seq);
    });
}

extern "C" fathom_status fathom_session_truncate(fathom_session* session, int32_t seq, int32_t pos) {
    return guarded([&] {
        const char* fn = "fathom_session_truncate";
        require(session, fn, "session");
        check_seq(session, seq, fn);
        if (pos < 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": pos must be >= 0 (got " + std::to_string(pos) + ")");
        session->s->truncate(seq, pos);
    });
}

// ------------------------------------------------------------------ sampling

extern "C" void fathom_sampler_options_init(fathom_sampler_options* opts) {
    if (!opts) return;
    sampler_params d;
    *opts = fathom_sampler_options{};
    opts->struct_size = sizeof *opts;
    opts->temperature = d.temperature;
    opts->top_k = d.top_k;
    opts->top_p = d.top_p;
    opts->min_p = d.min_p;
    opts->repeat_penalty = d.repeat_penalty;
    opts->frequency_penalty = d.frequency_penalty;
    opts->presence_penalty = d.presence_penalty;
    opts->penalty_last_n = d.penalty_last_n;
    opts->seed = FATHOM_SEED_RANDOM;
}

extern "C" fathom_status fathom_sampler_create(const fathom_sampler_options* opts, fathom_sampler** out) {
    return guarded([&] {
        const char* fn = "fathom_sampler_create";
        require(out, fn, "out");
        fathom_sampler_options o;
        fathom_sampler_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_sampler_options");
        sampler_params p;
        p.temperature = o.temperature;
        p.top_k = o.top_k;
        p.top_p = o.top_p;
        p.min_p = o.min_p;
        p.repeat_penalty = o.repeat_penalty;
        p.frequency_penalty = o.frequency_penalty;
        p.presence_penalty = o.presence_penalty;
        p.penalty_last_n = o.penalty_last_n;
        p.seed = o.seed == FATHOM_SEED_RANDOM ? k_seed_random : o.seed;
        *out = new fathom_sampler(p);
    });
}

extern "C" void fathom_sampler_free(fathom_sampler* sampler) { delete sampler; }

extern "C" fathom_status fathom_sampler_sample(fathom_sampler* sampler, const float* logits, int64_t n_vocab,
                                               int32_t* token) {
    return guarded([&] {
        const char* fn = "fathom_sampler_sample";
        require(sampler, fn, "sampler");
        require(logits, fn, "logits");
        require(token, fn, "token");
        *token = sampler->s.sample(logits, n_vocab);
    });
}

extern "C" fathom_status fathom_sampler_accept(fathom_sampler* sampler, int32_t token) {
    return guarded([&] {
        require(sampler, "fathom_sampler_accept", "sampler");
        if (token < 0)
            fail(errc::ERRC_INVALID_ARGUMENT, "fathom_sampler_accept: token " + std::to_string(token) + " is negative");
        sampler->s.accept(token);
    });
}

extern "C" fathom_status fathom_sampler_reset(fathom_sampler* sampler) {
    return guarded([&] {
        require(sampler, "fathom_sampler_reset", "sampler");
        sampler->s.reset();
    });
}

extern "C" fathom_status fathom_sampler_seed(const fathom_sampler* sampler, uint64_t* seed) {
    return guarded([&] {
        require(sampler, "fathom_sampler_seed", "sampler");
        require(seed, "fathom_sampler_seed", "seed");
        *seed = sampler->s.seed();
    });
}

// ------------------------------------------------------------------ generation

extern "C" void fathom_generate_options_init(fathom_generate_options* opts) {
    if (!opts) return;
    *opts = fathom_generate_options{};
    opts->struct_size = sizeof *opts;
    opts->max_tokens = 128;
    opts->seq = 0;
    opts->stop_tokens = nullptr;
    opts->n_stop_tokens = 0;
    opts->ignore_eos = 0;
    opts->stop_strings = nullptr;
    opts->n_stop_strings = 0;
}

namespace {

// Holds generated tokens back while their text could still be the start of a stop string. push() adds a token;
// afterwards the first n_ready() held tokens can be emitted (take() removes them) and matched() tells whether the
// held text contains a stop string, in which case the tokens left after n_ready() are never to be emitted.
class stop_string_filter {
public:
    explicit stop_string_filter(std::vector<std::string> stops) : stops_(std::move(stops)) {
        for (const std::string& s : stops_) max_len_ = std::max(max_len_, s.size());
    }

    void push(int32_t token, const std::string& piece) {
        text_ += piece;
        tokens_.push_back(token);
        ends_.push_back(text_.size());
        // A whole stop string: tokens before the one holding the earliest match start may go out.
        size_t cut = std::string::npos;
        for (const std::string& s : stops_) cut = std::min(cut, text_.find(s));
        matched_ = cut != std::string::npos;
        if (!matched_) {  // else the earliest suffix that is still a prefix of some stop string
            const size_t n = text_.size();
            cut = n;
            for (size_t i = n > max_len_ ? n - max_len_ + 1 : 0; i < n && cut == n; ++i)
                for (const std::string& s : stops_)
                    if (s.compare(0, n - i, text_, i, n - i) == 0) {
                        cut = i;
                        break;
                    }
        }
        ready_ = 0;
        while (ready_ < ends_.size() && ends_[ready_] <= cut) ++ready_;
    }
    bool matched() const { return matched_; }
    size_t n_ready() const { return ready_; }
    const std::vector<int32_t>& held() const { return tokens_; }
    // Drops the first n held tokens (after they were emitted).
    void take(size_t n) {
        if (n == 0) return;
        const size_t off = ends_[n - 1];
        text_.erase(0, off);
        tokens_.erase(tokens_.begin(), tokens_.begin() + std::ptrdiff_t(n));
        ends_.erase(ends_.begin(), ends_.begin() + std::ptrdiff_t(n));
        for (size_t& e : ends_) e -= off;
        ready_ = ready_ > n ? ready_ - n : 0;
    }

private:
    std::vector<std::string> stops_;
    size_t max_len_ = 0;
    std::string text_;            // text of the held tokens
    std::vector<int32_t> tokens_;  // held tokens
    std::vector<size_t> ends_;     // end offset of each held token's text in text_
    size_t ready_ = 0;
    bool matched_ = false;
};

}  // namespace

extern "C" fathom_status fathom_generate(fathom_session* session, fathom_sampler* sampler, const int32_t* prompt,
                                         int64_t n_prompt, const fathom_generate_options* opts,
                                         fathom_token_fn callback, void* user_data, fathom_generate_stats* stats) {
    return guarded([&] {
        const char* fn = "fathom_generate";
        require(session, fn, "session");
        require(sampler, fn, "sampler");
        require(prompt, fn, "prompt");
        fathom_generate_options o;
        fathom_generate_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_generate_options");
        if (stats) {  // validate the caller's struct_size before doing any work
            size_t n;
            std::memcpy(&n, stats, sizeof n);
            if (n < sizeof(size_t) || n > sizeof(fathom_generate_stats))
                fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": fathom_generate_stats.struct_size " +
                                                      std::to_string(n) + " is invalid");
        }
        if (n_prompt < 1)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_prompt must be >= 1 (got " +
                                                  std::to_string(n_prompt) + ")");
        if (o.max_tokens < -1)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": max_tokens must be >= -1 (got " +
                                                  std::to_string(o.max_tokens) + ")");
        if (o.n_stop_tokens < 0 || (o.n_stop_tokens > 0 && !o.stop_tokens))
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": stop_tokens is NULL or n_stop_tokens < 0");
        if (o.n_stop_strings < 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_stop_strings must be >= 0 (got " +
                                                  std::to_string(o.n_stop_strings) + ")");
        if (o.n_stop_strings > 0) require(o.stop_strings, fn, "stop_strings");
        std::vector<std::string> stop_strings;
        for (int32_t i = 0; i < o.n_stop_strings; ++i) {
            const char* s = o.stop_strings[i];
            if (!s || !*s)
                fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": stop_strings[" + std::to_string(i) + "] is " +
                                                      (s ? "empty" : "NULL"));
            stop_strings.emplace_back(s);
        }
        check_seq(session, o.seq, fn);
        const fathom_model* fm = session->model;
        const bool has_tokenizer = fm->m->file.find("tokenizer.ggml.model") != nullptr;
        if (!stop_strings.empty()) {
            if (!has_tokenizer)
                fail(errc::ERRC_UNSUPPORTED, std::string(fn) + ": stop_strings need a tokenizer; " + fm->path +
                                                 " has none (no tokenizer.ggml.model)");
            tokenizer_of(fm);  // builds the token texts (fm->pieces)
        }

        fathom::session& s = *session->s;
        const int64_t n_ctx = s.n_ctx();
        const int64_t n_vocab = s.model().hp.n_vocab;
        const int32_t start = s.seq_len(o.seq);
        if (int64_t(start) + n_prompt > n_ctx)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": prompt of " + std::to_string(n_prompt) +
                                                  " tokens does not fit: sequence " + std::to_string(o.seq) +
                                                  " holds " + std::to_string(start) + " of n_ctx " +
                                                  std::to_string(n_ctx) + " positions");
        std::vector<int32_t> stop(o.stop_tokens, o.stop_tokens + o.n_stop_tokens);
        if (!o.ignore_eos) {
            if (has_tokenizer) {
                for (int32_t id : tokenizer_of(fm).eog_ids()) stop.push_back(id);
            } else if (s.model().hp.eos_id >= 0) {
                stop.push_back(s.model().hp.eos_id);
            }
        }

        fathom_generate_stats st{};
        st.struct_size = sizeof st;
        std::vector<batch_token> batch(static_cast<size_t>(n_prompt));
        for (int64_t i = 0; i < n_prompt; ++i)
            batch[size_t(i)] = batch_token{prompt[i], int32_t(start + i), o.seq, i == n_prompt - 1};
        auto t0 = std::chrono::steady_clock::now();
        s.decode(batch);
        st.prompt_seconds = seconds_since(t0);
        st.n_prompt_tokens = n_prompt;
        for (int64_t i = 0; i < n_prompt; ++i) sampler->s.accept(prompt[i]);

        // Passes one token to the callback; true when the callback asks to stop.
        auto emit = [&](int32_t tok) {
            ++st.n_generated;
            return callback && callback(tok, user_data) != 0;
        };
        stop_string_filter filter(stop_strings);
        static const std::string k_no_text;
        auto piece_of = [&](int32_t tok) -> const std::string& {
            return tok >= 0 && size_t(tok) < fm->pieces.size() ? fm->pieces[size_t(tok)] : k_no_text;
        };

        const float* logits = s.logits(0);
        st.stop_reason = FATHOM_STOP_MAX_TOKENS;
        batch.resize(1);
        int64_t n_sampled = 0;
        bool callback_stop = false;
        for (;;) {
            if (o.max_tokens >= 0 && n_sampled >= o.max_tokens) {
                st.stop_reason = FATHOM_STOP_MAX_TOKENS;
                break;
            }
            auto ts = std::chrono::steady_clock::now();
            const int32_t tok = sampler->s.sample(logits, n_vocab);
            st.sample_seconds += seconds_since(ts);
            if (std::find(stop.begin(), stop.end(), tok) != stop.end()) {
                st.stop_reason = FATHOM_STOP_TOKEN;
                break;
            }
            const int32_t pos = s.seq_len(o.seq);
            if (pos >= n_ctx) {
                st.stop_reason = FATHOM_STOP_CONTEXT;
                break;
            }
            sampler->s.accept(tok);
            ++n_sampled;
            bool matched = false;
            if (stop_strings.empty()) {
                callback_stop = emit(tok);
            } else {
                filter.push(tok, piece_of(tok));
                matched = filter.matched();
                size_t k = 0;
                while (k < filter.n_ready() && !callback_stop) callback_stop = emit(filter.held()[k++]);
                filter.take(k);
            }
            batch[0] = batch_token{tok, pos, o.seq, true};
            auto td = std::chrono::steady_clock::now();
            s.decode(batch);
            st.decode_seconds += seconds_since(td);
            ++st.n_decode_tokens;
            logits = s.logits(0);
            if (callback_stop) {
                st.stop_reason = FATHOM_STOP_CALLBACK;
                break;
            }
            if (matched) {
                st.stop_reason = FATHOM_STOP_STRING;
                break;
            }
        }
        // Any other stop: tokens still held back (a stop string that never completed) go out now.
        if (!callback_stop && st.stop_reason != FATHOM_STOP_STRING) {
            const std::vector<int32_t> rest = filter.held();
            for (size_t k = 0; k < rest.size(); ++k)
                if (emit(rest[k]) && k + 1 < rest.size()) {
                    st.stop_reason = FATHOM_STOP_CALLBACK;
                    break;
                }
        }
        if (stats) write_struct(stats, &st, sizeof st, fn, "fathom_generate_stats");
    });
}

// ------------------------------------------------------------------ conversion and synthesis

extern "C" void fathom_convert_options_init(fathom_convert_options* opts) {
    if (!opts) return;
    *opts = fathom_convert_options{};
    opts->struct_size = sizeof *opts;
    opts->type = FATHOM_TYPE_F16;
}

extern "C" fathom_status fathom_convert(const char* src, const char* dst, const fathom_convert_options* opts) {
    return guarded([&] {
        const char* fn = "fathom_convert";
        require(src, fn, "src");
        require(dst, fn, "dst");
        fathom_convert_options o;
        fathom_convert_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_convert_options");
        dtype t;
        if (!dtype_of(o.type, &t))
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": type " + std::to_string(int(o.type)) +
                                                  " is not F32, F16 or BF16");
        auto t0 = std::chrono::steady_clock::now();
        io::model_file f = io::load_model_file(src);
        io::convert_to_gguf(f, dst, t);
        char line[512];
        std::snprintf(line, sizeof line, "converted %s -> %s (%s) in %.2f s", src, dst, dtype_name(t), seconds_since(t0));
        log(FATHOM_LOG_INFO, line);
    });
}

extern "C" void fathom_synth_options_init(fathom_synth_options* opts) {
    if (!opts) return;
    *opts = fathom_synth_options{};
    opts->struct_size = sizeof *opts;
    opts->arch = "llama";
    opts->shape = "tiny";
    opts->type = FATHOM_TYPE_F32;
    opts->seed = 1;
    opts->n_threads = 0;
}

extern "C" const char* fathom_synth_shapes(void) {
    static const char* list = [] {
        try {
            static const std::string s = synth_shape_list();
            return s.c_str();
        } catch (...) {  // (only bad_alloc is possible) no exception crosses the ABI
            return "";
        }
    }();
    return list;
}

extern "C" fathom_status fathom_synth(const fathom_synth_options* opts, const char* out_path) {
    return guarded([&] {
        const char* fn = "fathom_synth";
        require(out_path, fn, "out_path");
        fathom_synth_options o;
        fathom_synth_options_init(&o);
        read_struct(opts, &o, sizeof o, fn, "fathom_synth_options");
        require(o.arch, fn, "opts->arch");
        require(o.shape, fn, "opts->shape");
        synth_params p;
        p.arch = o.arch;
        p.shape = o.shape;
        if (!dtype_of(o.type, &p.type))
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": type " + std::to_string(int(o.type)) +
                                                  " is not F32, F16 or BF16");
        p.seed = o.seed;
        if (o.n_threads < 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_threads must be >= 0 (got " +
                                                  std::to_string(o.n_threads) + ")");
        p.n_threads = o.n_threads;
        auto t0 = std::chrono::steady_clock::now();
        synth_model(p, out_path);
        char line[512];
        std::snprintf(line, sizeof line, "synthesised %s %s (%s) -> %s in %.2f s", o.arch, o.shape,
                      dtype_name(p.type), out_path, seconds_since(t0));
        log(FATHOM_LOG_INFO, line);
    });
}

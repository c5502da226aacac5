// Internals shared by the C ABI's source files: the opaque handle structs and the guard/validation helpers.
#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/thread-pool.h"
#include "fathom/fathom.h"
#include "io/model-file.h"
#include "io/text/tokenizer.h"
#include "models/llama.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

struct fathom_model {
    std::unique_ptr<fathom::llama_model> m;
    std::string name;                        // general.name or ""
    std::vector<std::string> meta_display;   // to_display() of each metadata value
    int64_t n_params = 0;
    uint64_t n_tensor_bytes = 0;
    uint64_t file_bytes = 0;
    std::string path;                        // as given to fathom_model_load, for messages
    bool vocab_only = false;                 // no weights: sessions are refused
    // Built on first use by tokenizer_of(); pieces[id] is token_piece(id).
    mutable std::once_flag tok_once;
    mutable std::unique_ptr<fathom::text::tokenizer> tok;
    mutable std::vector<std::string> pieces;
};

struct fathom_session {
    const fathom_model* model = nullptr;
    std::unique_ptr<fathom::session> s;
    std::vector<fathom::batch_token> batch;  // reused between decodes
    std::vector<int32_t> next_pos;           // per sequence, while filling in positions
};

struct fathom_sampler {
    explicit fathom_sampler(const fathom::sampler_params& p) : s(p) {}
    fathom::sampler s;
};

namespace fathom::capi {

// Runs an entry point's body, mapping exceptions to a status and the thread-local message.
fathom_status guarded(function_ref<void()> body);
// Throws ERRC_INVALID_ARGUMENT "fn: arg is NULL" when p is null.
void require(const void* p, const char* fn, const char* arg);
// Copies a caller's options struct over dst (already holding the defaults); older smaller structs are accepted.
void read_struct(const void* src, void* dst, size_t size, const char* fn, const char* what);
// Copies a filled output struct into the caller's, up to the caller's struct_size.
void write_struct(void* dst, const void* src, size_t size, const char* fn, const char* what);
// Sends a message to the log callback (or stderr for warnings and errors when none is set).
void log(fathom_log_level level, const std::string& message);
void check_seq(const fathom_session* s, int32_t seq, const char* fn);
// The model's tokenizer, built once (thread-safe); throws ERRC_UNSUPPORTED when the model has none.
const text::tokenizer& tokenizer_of(const fathom_model* m);
void check_token(const text::tokenizer& t, int32_t id, const char* fn);
double seconds_since(std::chrono::steady_clock::time_point t0);
// Copies s with its NUL into buf (capacity bytes) and sets *len = s.size(); when it does not fit, sets *len and
// throws ERRC_INVALID_ARGUMENT naming fn.
void copy_out_string(const std::string& s, char* buf, size_t capacity, size_t* len, const char* fn);

}  // namespace fathom::capi

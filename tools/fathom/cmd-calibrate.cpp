// `fathom calibrate -m MODEL --data FILE -o imatrix.gguf`: importance data (per-column mean squared activations of
// every matmul input) for `fathom quantize --imatrix`.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

namespace {

void on_progress(int64_t done, int64_t total, void* user) {
    if (!*static_cast<bool*>(user)) return;
    std::fprintf(stderr, "\rcalibrating: chunk %lld/%lld   ", static_cast<long long>(done), static_cast<long long>(total));
    if (done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
}

}  // namespace

int cmd_calibrate(int argc, char** argv) {
    std::string model, out;
    std::vector<std::string> data;
    int64_t n_ctx = 0, chunks = 0;
    int32_t threads = 0;
    arg_parser ap("fathom calibrate -m MODEL --data FILE [--data FILE...] -o IMATRIX.gguf [--ctx N] [--chunks N]",
                  "Runs MODEL (use the full-precision one) over the text in chunks of --ctx tokens and writes, for the "
                  "input of every matmul weight, the sum of squared activations per column and the token count: "
                  "llama.cpp's GGUF imatrix layout. 'fathom quantize --imatrix' then weights each element's error "
                  "by its column's mean squared activation when choosing scales.");
    ap.option("-m,--model", "MODEL", "model (GGUF or Hugging Face folder); required", &model);
    ap.option("--data", "FILE", "calibration text (repeatable; required)", &data);
    ap.option("-o,--out", "FILE", "imatrix GGUF to write (required)", &out);
    ap.option("--ctx", "N", "tokens per chunk (default min(512, model context))", &n_ctx);
    ap.option("--chunks", "N", "at most N chunks (default all)", &chunks);
    ap.option("-t,--threads", "N", "threads (default physical cores)", &threads);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (model.empty()) throw ap.error("missing -m MODEL");
    if (data.empty()) throw ap.error("missing --data FILE");
    if (out.empty()) throw ap.error("missing -o FILE");
    if (n_ctx < 0 || chunks < 0 || threads < 0) throw ap.error("--ctx, --chunks and -t must be >= 0");

    fathom::model m(model);
    std::vector<const char*> files;
    for (const std::string& d : data) files.push_back(d.c_str());
    fathom_calibrate_options o;
    fathom_calibrate_options_init(&o);
    o.data = files.data();
    o.n_data = int32_t(files.size());
    o.n_ctx = n_ctx;
    o.max_chunks = chunks;
    o.n_threads = threads;
    bool tty = ::isatty(2) == 1;
    o.progress = on_progress;
    o.progress_user_data = &tty;
    if (fathom_calibrate(m.get(), &o, out.c_str()) != FATHOM_OK) throw cli_error(fathom_last_error());
    std::printf("imatrix: %s\n", out.c_str());
    return 0;
}

}  // namespace fathom_cli

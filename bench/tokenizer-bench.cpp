// Tokenizer encoding speed: MB/s of one thread encoding a text file with each given vocabulary (median of reps,
// a fresh tokenizer per rep so no cache carries over), plus a round-trip check of the decoded text.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/model-file.h"
#include "io/text/tokenizer.h"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_tokenizer [-r REPS] TEXT_FILE VOCAB.gguf...\n");
        return 2;
    }
    int reps = 5, a = 1;
    if (std::string(argv[1]) == "-r" && argc > 4) {
        reps = std::max(1, std::atoi(argv[2]));
        a = 3;
    }
    std::ifstream in(argv[a], std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "bench_tokenizer: cannot read %s\n", argv[a]);
        return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::printf("text: %s, %.2f MB; 1 thread; median of %d reps (fresh tokenizer each)\n", argv[a], text.size() / 1e6,
                reps);
    std::printf("| vocabulary | kind | pre | tokens | bytes/token | MB/s | round trip |\n|---|---|---|---|---|---|---|\n");
    for (int k = a + 1; k < argc; ++k) {
        try {
            const fathom::io::model_file mf = fathom::io::read_gguf(argv[k]);
            std::vector<double> mbs;
            size_t n_tok = 0;
            bool rt = false;
            for (int r = 0; r < reps; ++r) {
                fathom::text::tokenizer tok(mf);
                auto t0 = std::chrono::steady_clock::now();
                const std::vector<int32_t> ids = tok.encode(text, false, false);
                const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                mbs.push_back(text.size() / 1e6 / s);
                n_tok = ids.size();
                if (r == 0) rt = tok.decode(ids) == text;
            }
            std::sort(mbs.begin(), mbs.end());
            fathom::text::tokenizer tok(mf);
            const char* kind = tok.kind() == fathom::text::tokenizer_kind::TOKENIZER_KIND_SPM   ? "spm"
                               : tok.kind() == fathom::text::tokenizer_kind::TOKENIZER_KIND_BPE ? "bpe"
                                                                                                 : "wordpiece";
            std::string name = argv[k];
            name = name.substr(name.find_last_of('/') + 1);
            std::printf("| %s | %s | %s | %zu | %.2f | %.2f | %s |\n", name.c_str(), kind, tok.pre().c_str(), n_tok,
                        double(text.size()) / double(std::max<size_t>(n_tok, 1)), mbs[mbs.size() / 2],
                        rt ? "exact" : "lossy");
            std::fflush(stdout);
        } catch (const std::exception& e) {
            std::printf("| %s | error: %s |\n", argv[k], e.what());
        }
    }
    return 0;
}

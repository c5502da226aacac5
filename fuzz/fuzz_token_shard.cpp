// libFuzzer target: token shard reader; an accepted shard is written back, and the bytes must be the input's.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/shards.h"

using namespace fathom;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    data::token_shard s;
    try {
        s = data::parse_token_shard(data, size, "fuzz.bin");
    } catch (const fathom::error&) {
        return 0;  // rejected cleanly; any other exception escapes and is reported as a crash
    }
    for (int32_t t : s.tokens)
        if (t < 0 || int64_t(t) >= s.n_vocab) std::abort();
    // The format has one encoding per (n_vocab, tokens): writing it back must give the same bytes.
    static const std::string tmp = "/tmp/fathom-fuzz-shard-" + std::to_string(::getpid()) + ".bin";
    data::write_token_shard(tmp, s.tokens.data(), int64_t(s.tokens.size()), s.n_vocab);
    std::ifstream in(tmp, std::ios::binary);
    const std::vector<char> back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (back.size() != size || std::memcmp(back.data(), data, size) != 0) std::abort();
    const data::token_shard r = data::read_token_shard(tmp);
    if (r.n_vocab != s.n_vocab || r.tokens != s.tokens) std::abort();
    std::remove(tmp.c_str());
    return 0;
}

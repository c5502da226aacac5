// Token shard writer and validating reader (format in shards.h).
#include "data/shards.h"

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace fathom::data {

namespace {

void put_u32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
void put_u64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint32_t get_u32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
    return v;
}
uint64_t get_u64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
}

[[noreturn]] void bad(const std::string& name, const std::string& problem) {
    fail(errc::ERRC_FORMAT, name + ": token shard: " + problem);
}

void check_vocab(const std::string& path, int64_t n_vocab) {
    if (n_vocab < 1 || n_vocab > k_shard_max_vocab)
        fail(errc::ERRC_INVALID_ARGUMENT, path + ": token shard: n_vocab " + std::to_string(n_vocab) +
                                              " is outside [1, 2^31]");
}

std::string io_problem() { return std::strerror(errno); }

}  // namespace

token_shard parse_token_shard(const uint8_t* data, size_t size, const std::string& name) {
    if (size < k_shard_header_bytes)
        bad(name, "truncated header (" + std::to_string(size) + " bytes, need " +
                      std::to_string(k_shard_header_bytes) + ")");
    if (std::memcmp(data, k_shard_magic, 4) != 0) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", data[0], data[1], data[2], data[3]);
        bad(name, std::string("bad magic 0x") + hex + " (expected \"FTKS\")");
    }
    const uint32_t version = get_u32(data + 4), token_bytes = get_u32(data + 8), n_vocab = get_u32(data + 12);
    const uint64_t n_tokens = get_u64(data + 16), reserved = get_u64(data + 24);
    if (version != k_shard_version)
        bad(name, "version " + std::to_string(version) + " is not supported (expected 1)");
    if (n_vocab == 0) bad(name, "n_vocab is 0");
    if (int64_t(n_vocab) > k_shard_max_vocab)
        bad(name, "n_vocab " + std::to_string(n_vocab) + " is larger than 2^31");
    if (token_bytes != 2 && token_bytes != 4)
        bad(name, "token_bytes " + std::to_string(token_bytes) + " is not 2 or 4");
    if (token_bytes != shard_token_bytes(n_vocab))
        bad(name, "token_bytes " + std::to_string(token_bytes) + " does not match n_vocab " + std::to_string(n_vocab) +
                      " (expected " + std::to_string(shard_token_bytes(n_vocab)) + ")");
    if (reserved != 0) bad(name, "reserved field is " + std::to_string(reserved) + " (expected 0)");
    const uint64_t body = uint64_t(size - k_shard_header_bytes);
    if (n_tokens > body / token_bytes || n_tokens * token_bytes != body) {
        const std::string expect = n_tokens > (UINT64_MAX - k_shard_header_bytes) / token_bytes
                                       ? std::string("more than 2^64")
                                       : std::to_string(k_shard_header_bytes + n_tokens * token_bytes);
        bad(name, std::string(n_tokens > body / token_bytes ? "truncated: " : "size mismatch: ") + "file is " +
                      std::to_string(size) + " bytes but the header's " + std::to_string(n_tokens) + " tokens of " +
                      std::to_string(token_bytes) + " bytes need " + expect);
    }
    token_shard s;
    s.n_vocab = int64_t(n_vocab);
    s.tokens.resize(size_t(n_tokens));
    const uint8_t* p = data + k_shard_header_bytes;
    for (uint64_t i = 0; i < n_tokens; ++i) {
        const uint32_t t = token_bytes == 2 ? uint32_t(p[2 * i]) | uint32_t(p[2 * i + 1]) << 8 : get_u32(p + 4 * i);
        if (t >= n_vocab)
            bad(name, "token " + std::to_string(i) + " is " + std::to_string(t) + ", not below n_vocab " +
                          std::to_string(n_vocab));
        s.tokens[size_t(i)] = int32_t(t);
    }
    return s;
}

token_shard read_token_shard(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(errc::ERRC_IO, path + ": cannot open token shard: " + io_problem());
    std::vector<uint8_t> bytes;
    uint8_t block[1 << 16];
    size_t got;
    while ((got = std::fread(block, 1, sizeof block, f)) > 0) bytes.insert(bytes.end(), block, block + got);
    const bool err = std::ferror(f) != 0;
    std::fclose(f);
    if (err) fail(errc::ERRC_IO, path + ": cannot read token shard");
    return parse_token_shard(bytes.data(), bytes.size(), path);
}

void write_token_shard(const std::string& path, const int32_t* tokens, int64_t n, int64_t n_vocab) {
    if (n < 0) fail(errc::ERRC_INVALID_ARGUMENT, path + ": token shard: negative token count");
    token_shard_writer w(path, n_vocab);
    w.append(tokens, n);
    w.finish();
}

token_shard_writer::token_shard_writer(const std::string& path, int64_t n_vocab)
    : path_(path), n_vocab_(n_vocab), token_bytes_(shard_token_bytes(n_vocab)) {
    check_vocab(path, n_vocab);
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) fail(errc::ERRC_IO, path + ": cannot create token shard: " + io_problem());
    write_header();
}

token_shard_writer::~token_shard_writer() {
    if (f_) std::fclose(f_);
}

void token_shard_writer::write_header() {
    uint8_t h[k_shard_header_bytes];
    std::memcpy(h, k_shard_magic, 4);
    put_u32(h + 4, k_shard_version);
    put_u32(h + 8, token_bytes_);
    put_u32(h + 12, uint32_t(n_vocab_));
    put_u64(h + 16, uint64_t(n_tokens_));
    put_u64(h + 24, 0);
    if (std::fwrite(h, 1, sizeof h, f_) != sizeof h) fail(errc::ERRC_IO, path_ + ": cannot write token shard");
}

void token_shard_writer::append(const int32_t* tokens, int64_t n) {
    if (!f_) fail(errc::ERRC_INVALID_ARGUMENT, path_ + ": token shard is already finished");
    if (n <= 0) return;
    buf_.resize(size_t(n) * token_bytes_);
    for (int64_t i = 0; i < n; ++i) {
        const int32_t t = tokens[i];
        if (t < 0 || int64_t(t) >= n_vocab_)
            fail(errc::ERRC_INVALID_ARGUMENT, path_ + ": token shard: token " + std::to_string(n_tokens_ + i) +
                                                  " is " + std::to_string(t) + ", outside [0, " +
                                                  std::to_string(n_vocab_) + ")");
        const uint32_t u = uint32_t(t);
        uint8_t* d = buf_.data() + size_t(i) * token_bytes_;
        d[0] = uint8_t(u);
        d[1] = uint8_t(u >> 8);
        if (token_bytes_ == 4) {
            d[2] = uint8_t(u >> 16);
            d[3] = uint8_t(u >> 24);
        }
    }
    if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size())
        fail(errc::ERRC_IO, path_ + ": cannot write token shard: " + io_problem());
    n_tokens_ += n;
}

int64_t token_shard_writer::finish() {
    if (!f_) fail(errc::ERRC_INVALID_ARGUMENT, path_ + ": token shard is already finished");
    if (std::fseek(f_, 0, SEEK_SET) != 0) fail(errc::ERRC_IO, path_ + ": cannot write token shard: " + io_problem());
    write_header();
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) fail(errc::ERRC_IO, path_ + ": cannot write token shard: " + io_problem());
    return n_tokens_;
}

}  // namespace fathom::data

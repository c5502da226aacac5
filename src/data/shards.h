// Token shard files (the contract between `fathom data prepare` and training): format, writer and validating reader.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace fathom::data {

// Layout, little-endian:
//   offset  0  magic "FTKS" (4 bytes)
//   offset  4  u32 version = 1
//   offset  8  u32 token_bytes: 2 when n_vocab <= 65536, else 4
//   offset 12  u32 n_vocab
//   offset 16  u64 n_tokens
//   offset 24  u64 reserved = 0
//   offset 32  n_tokens unsigned tokens of token_bytes each
// Every token is < n_vocab; the file size is exactly 32 + n_tokens * token_bytes.
constexpr char k_shard_magic[4] = {'F', 'T', 'K', 'S'};
constexpr uint32_t k_shard_version = 1;
constexpr size_t k_shard_header_bytes = 32;
constexpr int64_t k_shard_max_vocab = int64_t(1) << 31;  // ids must fit int32_t

// token_bytes the format prescribes for a vocabulary size (2 or 4).
inline uint32_t shard_token_bytes(int64_t n_vocab) { return n_vocab <= 65536 ? 2u : 4u; }

struct token_shard {
    int64_t n_vocab = 0;
    std::vector<int32_t> tokens;
};

// Reads and validates a shard: magic, version, token_bytes (and that it matches n_vocab), reserved = 0, the file
// size, and every token < n_vocab. Throws fathom::error (ERRC_IO / ERRC_FORMAT) with one line naming the file.
token_shard read_token_shard(const std::string& path);
// The same checks over bytes in memory; `name` is used in messages.
token_shard parse_token_shard(const uint8_t* data, size_t size, const std::string& name);

// Writes n tokens as one shard. Throws ERRC_INVALID_ARGUMENT for n_vocab outside [1, 2^31] or a token outside
// [0, n_vocab), ERRC_IO when the file cannot be written.
void write_token_shard(const std::string& path, const int32_t* tokens, int64_t n, int64_t n_vocab);

// Streams one shard to disk (bounded memory): the header's n_tokens is filled in by finish().
class token_shard_writer {
public:
    token_shard_writer(const std::string& path, int64_t n_vocab);
    ~token_shard_writer();  // closes without finishing (the file is left incomplete) when finish() was not called
    token_shard_writer(const token_shard_writer&) = delete;
    token_shard_writer& operator=(const token_shard_writer&) = delete;

    void append(const int32_t* tokens, int64_t n);
    // Writes the final header and closes the file; returns the token count.
    int64_t finish();
    int64_t n_tokens() const { return n_tokens_; }
    const std::string& path() const { return path_; }

private:
    void write_header();
    std::string path_;
    int64_t n_vocab_;
    uint32_t token_bytes_;
    int64_t n_tokens_ = 0;
    std::FILE* f_ = nullptr;
    std::vector<uint8_t> buf_;
};

}  // namespace fathom::data

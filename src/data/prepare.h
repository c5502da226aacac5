// `data prepare` pipeline: read text / JSONL inputs, normalise, clean, drop exact and near duplicates, split
// train / validation, write JSONL and token shards, and report what was removed and why (manifest.json).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::data {

// How a plain-text file divides into documents (JSONL files always hold one document per line).
enum class split_mode { SPLIT_MODE_PARAGRAPH, SPLIT_MODE_LINE, SPLIT_MODE_FILE };
const char* split_mode_name(split_mode m);
// "paragraph" | "line" | "file"; false for anything else.
bool parse_split_mode(std::string_view s, split_mode* out);

struct prepare_params {
    split_mode split = split_mode::SPLIT_MODE_PARAGRAPH;
    std::string text_field = "text";     // JSONL field holding a document's text
    int64_t min_chars = 20;              // shorter documents (code points, after normalising) are dropped
    int64_t max_chars = 1000000;         // longer ones too
    double min_alnum = 0.5;              // documents whose letter+digit fraction is below this are dropped
    double near_dup = 0.8;               // MinHash Jaccard threshold for near duplicates; 0 = off
    double val_fraction = 0.05;          // expected fraction of documents in validation
    uint64_t seed = 0;                   // seeds the split and MinHash hashes
    int64_t shard_tokens = 100000000;    // most tokens per shard file
    int n_threads = 0;                   // 0 = hardware threads
    std::string tokenizer_path;          // recorded in the manifest ("" = none)
};

// Throws ERRC_INVALID_ARGUMENT naming the field ("data prepare: min_alnum: ...") for values out of range.
void check_prepare_params(const prepare_params& p);

// Turns text into token ids; called from several threads at once.
struct text_encoder {
    int64_t n_vocab = 0;
    int32_t bos = -1;  // put before each document; -1 = none (the tokenizer does not add BOS)
    int32_t eos = -1;  // put after each document (required)
    std::function<void(std::string_view text, std::vector<int32_t>& ids)> encode;
};

// Removal reasons, in the order the rules are applied.
enum drop_reason : int {
    DROP_REASON_EMPTY = 0,
    DROP_REASON_TOO_SHORT,
    DROP_REASON_TOO_LONG,
    DROP_REASON_LOW_ALNUM,
    DROP_REASON_EXACT_DUPLICATE,
    DROP_REASON_NEAR_DUPLICATE,
    DROP_REASON_COUNT
};
const char* drop_reason_name(int reason);  // "empty", "too_short", ...

struct shard_file {
    std::string name;  // file name inside the output folder, e.g. "train-00000.bin"
    int64_t n_tokens = 0;
};

struct prepare_report {
    int64_t docs_read = 0;  // documents found in the inputs (= kept + removed; bad JSONL lines are not documents)
    int64_t kept_train = 0, kept_val = 0;
    int64_t removed[DROP_REASON_COUNT] = {};
    int64_t bad_json_lines = 0;
    int64_t invalid_utf8 = 0;      // invalid UTF-8 sequences replaced by U+FFFD
    uint64_t bytes_total = 0;      // size of all inputs
    uint64_t bytes_in = 0;         // input bytes read so far
    int64_t chars_in = 0;          // code points of all documents read
    int64_t chars_out = 0;         // code points of the kept documents
    int64_t tokens_train = 0, tokens_val = 0;
    std::vector<shard_file> shards_train, shards_val;
    std::vector<std::string> bad_lines;  // "file:line: problem" of the first bad JSONL lines (at most 1000)
    double seconds = 0;
};

struct prepare_callbacks {
    std::function<void(const std::string&)> warn;                // one line per problem (bad JSONL lines), may be empty
    std::function<void(const prepare_report&)> progress;         // after each batch of documents, may be empty
};

// Runs the pipeline over `inputs` (".jsonl" / ".ndjson" files are JSONL, others plain text) and writes into out_dir
// (created if missing): train.jsonl, val.jsonl, with an encoder also train-NNNNN.bin / val-NNNNN.bin (documents as
// [bos] ids [eos], concatenated, cut into shards of at most shard_tokens; at least one file per split), and
// manifest.json. Stale shard files from an earlier run are removed. Output is the same for any thread count.
// Throws fathom::error naming the file for unreadable inputs or unwritable outputs.
prepare_report prepare_data(const std::vector<std::string>& inputs, const prepare_params& p,
                            const std::string& out_dir, const text_encoder* encoder,
                            const prepare_callbacks& callbacks = {});

// Writes a JSON string literal for s (valid UTF-8) to out: '"', '\\' and control characters escaped.
void append_json_string(std::string& out, std::string_view s);

}  // namespace fathom::data

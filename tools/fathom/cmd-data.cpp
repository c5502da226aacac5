// `fathom data prepare`: normalise, clean, deduplicate and split text / JSONL into train and validation JSONL and,
// with a tokenizer, token shards; prints what was removed and why.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.h"

namespace fathom_cli {

namespace {

const char* const k_usage =
    "fathom data prepare IN... -o DIR [--split paragraph|line|file] [--text-field NAME] [--min-chars N] "
    "[--max-chars N] [--min-alnum F] [--near-dup F] [--val-fraction F] [--seed N] [--tokenizer PATH] "
    "[--shard-tokens N] [-t N]";

void check(fathom_status s) {
    if (s != FATHOM_OK) throw cli_error(fathom_last_error());
}

void progress_line(const fathom_data_prepare_stats* s, void*) {
    const double pct = s->bytes_total ? 100.0 * double(s->bytes_in) / double(s->bytes_total) : 100.0;
    std::fprintf(stderr, "\rdata prepare: %5.1f%%  %s read, %s documents, %s kept, %s s   ", pct,
                 format_bytes(s->bytes_in).c_str(), format_count(double(s->n_docs_read)).c_str(),
                 format_count(double(s->n_kept_train + s->n_kept_val)).c_str(), format_fixed(s->seconds, 1).c_str());
    std::fflush(stderr);
}

double fraction_option(const std::string& s, const char* name) {
    const double v = parse_float(s, name);
    if (!(v >= 0.0 && v <= 1.0)) throw usage_error(std::string(name) + ": " + s + " is outside [0, 1]", k_usage);
    return v;
}

void row(const char* name, long long v) { std::printf("  %-24s %14lld\n", name, v); }

void print_report(const fathom_data_prepare_stats& s, const std::string& dir, bool tokenized) {
    const double mbs = s.seconds > 0 ? double(s.bytes_in) / 1e6 / s.seconds : 0.0;
    std::printf("data prepare: %s in %s s (%s MB/s) -> %s\n", format_bytes(s.bytes_in).c_str(),
                format_fixed(s.seconds, 2).c_str(), format_fixed(mbs, 2).c_str(), dir.c_str());
    row("documents read", s.n_docs_read);
    row("kept", s.n_kept_train + s.n_kept_val);
    row("  train", s.n_kept_train);
    row("  val", s.n_kept_val);
    row("removed: empty", s.n_empty);
    row("removed: too_short", s.n_too_short);
    row("removed: too_long", s.n_too_long);
    row("removed: low_alnum", s.n_low_alnum);
    row("removed: exact_duplicate", s.n_exact_duplicate);
    row("removed: near_duplicate", s.n_near_duplicate);
    row("bad_json_line", s.n_bad_json_line);
    row("characters in", s.chars_in);
    row("characters out", s.chars_out);
    row("invalid UTF-8 replaced", s.n_invalid_utf8);
    if (tokenized) {
        row("tokens train", s.n_tokens_train);
        row("tokens val", s.n_tokens_val);
        row("shards train", s.n_shards_train);
        row("shards val", s.n_shards_val);
    }
    std::printf("  %-24s %14s\n", "wall time (s)", format_fixed(s.seconds, 2).c_str());
}

int prepare(int argc, char** argv) {
    fathom_data_prepare_options o;
    fathom_data_prepare_options_init(&o);
    std::vector<std::string> inputs;
    std::string out_dir, split = o.split, text_field = o.text_field, tokenizer, min_alnum, near_dup, val_fraction;
    int64_t min_chars = o.min_chars, max_chars = o.max_chars, shard_tokens = o.shard_tokens;
    uint64_t seed = o.seed;
    int32_t n_threads = 0;
    arg_parser ap(k_usage,
                  "Normalises documents (invalid UTF-8 -> U+FFFD, NFC, CRLF -> LF, control characters removed, "
                  "trailing spaces stripped, 3+ line breaks -> 2, trimmed), drops empty, too short, too long and "
                  "mostly non-alphanumeric ones, exact duplicates (case and white space ignored) and near duplicates "
                  "(MinHash over word 5-grams), and splits the rest into DIR/train.jsonl and DIR/val.jsonl by a hash "
                  "of their text. With --tokenizer, also writes token shards DIR/train-00000.bin ... and "
                  "DIR/val-00000.bin ... ([BOS] tokens EOS per document). DIR/manifest.json records the inputs, "
                  "options, shards and counts. Plain-text inputs hold documents separated by blank lines (see "
                  "--split); .jsonl files hold one JSON object per line. Output is the same for any -t.");
    ap.option("-o,--out", "DIR", "output folder, created if missing (required)", &out_dir);
    ap.option("--split", "MODE", "plain-text documents: paragraph (blank-line separated, default), line or file",
              &split);
    ap.option("--text-field", "NAME", "JSONL field holding the text; default text", &text_field);
    ap.option("--min-chars", "N", "drop documents shorter than N characters; default 20", &min_chars);
    ap.option("--max-chars", "N", "drop documents longer than N characters; default 1000000", &max_chars);
    ap.option("--min-alnum", "F", "drop documents whose letter+digit fraction is below F; default 0.5", &min_alnum);
    ap.option("--near-dup", "F", "drop documents with MinHash similarity >= F to a kept one; 0 = off; default 0.8",
              &near_dup);
    ap.option("--val-fraction", "F", "fraction of documents for validation; default 0.05", &val_fraction);
    ap.option("--seed", "N", "seed of the split and MinHash hashes; default 0", &seed);
    ap.option("--tokenizer", "PATH", "GGUF / vocabulary GGUF / tokenizer.json: also write token shards", &tokenizer);
    ap.option("--shard-tokens", "N", "most tokens per shard file; default 100000000", &shard_tokens);
    ap.option("-t,--threads", "N", "threads; default all hardware threads", &n_threads);
    ap.positional_list("IN", "input files (.jsonl / .ndjson as JSONL, anything else as plain text)", &inputs);
    if (!ap.parse(argc, argv, 3)) return 0;
    if (out_dir.empty()) throw ap.error("missing -o DIR");
    if (split != "paragraph" && split != "line" && split != "file")
        throw ap.error("--split: '" + split + "' is not paragraph, line or file");
    if (text_field.empty()) throw ap.error("--text-field: empty name");
    if (min_chars < 0) throw ap.error("--min-chars: must be >= 0");
    if (max_chars < 1 || max_chars < min_chars) throw ap.error("--max-chars: must be >= 1 and >= --min-chars");
    if (shard_tokens < 1) throw ap.error("--shard-tokens: must be >= 1");
    if (n_threads < 0) throw ap.error("-t: must be >= 0");
    if (ap.seen("--min-alnum")) o.min_alnum = fraction_option(min_alnum, "--min-alnum");
    if (ap.seen("--near-dup")) o.near_dup = fraction_option(near_dup, "--near-dup");
    if (ap.seen("--val-fraction")) o.val_fraction = fraction_option(val_fraction, "--val-fraction");
    if (ap.seen("--tokenizer") && tokenizer.empty()) throw ap.error("--tokenizer: empty path");

    o.split = split.c_str();
    o.text_field = text_field.c_str();
    o.min_chars = min_chars;
    o.max_chars = max_chars;
    o.seed = seed;
    o.shard_tokens = shard_tokens;
    o.n_threads = n_threads;
    if (!tokenizer.empty()) o.tokenizer = tokenizer.c_str();
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    if (tty) o.progress = progress_line;

    std::vector<const char*> ptrs;
    for (const std::string& f : inputs) ptrs.push_back(f.c_str());
    fathom_data_prepare_stats s{};
    s.struct_size = sizeof s;
    const fathom_status st = fathom_data_prepare(ptrs.data(), int64_t(ptrs.size()), &o, out_dir.c_str(), &s);
    if (tty) std::fputs("\n", stderr);
    check(st);
    print_report(s, out_dir, !tokenizer.empty());
    return 0;
}

}  // namespace

int cmd_data(int argc, char** argv) {
    const std::string sub = argc > 2 ? argv[2] : "";
    if (sub == "-h" || sub == "--help") {
        std::printf("usage: fathom data prepare IN... -o DIR [options]\n\nsubcommands:\n"
                    "  prepare   clean, deduplicate, split and tokenize text / JSONL into training data\n\n"
                    "Run 'fathom data prepare --help' for its options.\n");
        return 0;
    }
    if (sub == "prepare") return prepare(argc, argv);
    throw usage_error(sub.empty() ? "missing subcommand (prepare)" : "unknown subcommand '" + sub +
                                                                         "' (expected prepare)",
                      k_usage);
}

}  // namespace fathom_cli

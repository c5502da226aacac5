// Shared pieces of the fathom CLI: a small declarative argument parser, error types and formatting helpers.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fathom/fathom.h"

namespace fathom_cli {

// Bad command line: main prints the message and the command's usage, exits 2.
struct usage_error : std::runtime_error {
    explicit usage_error(const std::string& message, std::string usage_line = "")
        : std::runtime_error(message), usage(std::move(usage_line)) {}
    std::string usage;  // "fathom info MODEL"; filled in by arg_parser::parse when empty
};
// Any other failure: main prints "fathom: <message>" and exits 1.
struct cli_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Declarative parser: register flags, options and positionals, then parse(). "--name=value" works too.
class arg_parser {
public:
    // usage: e.g. "fathom info MODEL"; description: one paragraph under it.
    arg_parser(std::string usage, std::string description);

    void flag(const std::string& names, const std::string& help, bool* out);  // names: "-v,--verbose"
    void option(const std::string& names, const std::string& metavar, const std::string& help, std::string* out);
    void option(const std::string& names, const std::string& metavar, const std::string& help, int32_t* out);
    void option(const std::string& names, const std::string& metavar, const std::string& help, int64_t* out);
    void option(const std::string& names, const std::string& metavar, const std::string& help, uint64_t* out);
    void option(const std::string& names, const std::string& metavar, const std::string& help, float* out);
    // Repeatable: every occurrence appends its (non-empty) value.
    void option(const std::string& names, const std::string& metavar, const std::string& help,
                std::vector<std::string>* out);
    void positional(const std::string& metavar, const std::string& help, std::string* out);
    // One or more (zero or more when optional) further positionals after the single ones (e.g. FILES...), in order.
    void positional_list(const std::string& metavar, const std::string& help, std::vector<std::string>* out,
                         bool optional = false);

    // Parses argv[first..argc). Returns false when --help was given (help already printed to stdout).
    // Throws usage_error for unknown options, missing values, bad numbers, missing or extra positionals.
    bool parse(int argc, char** argv, int first);
    // A usage_error carrying this command's usage line.
    usage_error error(const std::string& message) const { return usage_error(message, usage_); }
    // True if the option (any of its names) appeared on the command line.
    bool seen(const std::string& name) const;
    std::string help() const;
    const std::string& usage() const { return usage_; }

private:
    struct opt {
        std::vector<std::string> names;
        std::string metavar, help;
        std::function<void(const std::string& name, const std::string& value)> set;  // empty for flags
        bool* flag = nullptr;
        bool seen = false;
    };
    struct pos {
        std::string metavar, help;
        std::string* out;
    };
    bool parse_impl(int argc, char** argv, int first);
    opt* find(const std::string& name);
    void add(const std::string& names, const std::string& metavar, const std::string& help,
             std::function<void(const std::string&, const std::string&)> set);

    std::string usage_, description_;
    std::vector<opt> opts_;
    std::vector<pos> positionals_;
    std::string rest_metavar_, rest_help_;
    std::vector<std::string>* rest_ = nullptr;  // positional_list target, or null
    bool rest_optional_ = false;
};

// Number parsing with usage errors naming the option: "-n: 'abc' is not an integer".
int64_t parse_int(const std::string& s, const std::string& what);
double parse_float(const std::string& s, const std::string& what);
// "1,2,3" -> {1, 2, 3}; throws usage_error naming `what`.
std::vector<int32_t> parse_int_list(const std::string& s, const std::string& what);

// "f32" | "f16" | "bf16" (any case) -> fathom_type; false for anything else.
bool parse_weight_type(const std::string& s, fathom_type* out);

std::string format_bytes(uint64_t bytes);      // "4.10 GiB", "812.00 MiB", "12.50 KiB", "17 B"
std::string format_count(double n);            // "1.10 B", "124.44 M", "12.3 K", "512"
std::string format_fixed(double v, int digits);

// Subcommands: each returns the process exit code; argv[0] is "fathom", argv[1] the command name.
int cmd_info(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_tokenizer(int argc, char** argv);  // "fathom tokenizer train ..."
int cmd_train(int argc, char** argv);
int cmd_tune(int argc, char** argv);
int cmd_eval(int argc, char** argv);       // "fathom eval ..."
int cmd_calibrate(int argc, char** argv);
int cmd_data(int argc, char** argv);       // "fathom data prepare ..."
int cmd_lora(int argc, char** argv);       // "fathom lora merge ..."

}  // namespace fathom_cli

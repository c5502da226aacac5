// The CLI's argument parser and number/size formatting helpers.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "cli.h"

namespace fathom_cli {

arg_parser::arg_parser(std::string usage, std::string description)
    : usage_(std::move(usage)), description_(std::move(description)) {}

void arg_parser::add(const std::string& names, const std::string& metavar, const std::string& help,
                     std::function<void(const std::string&, const std::string&)> set) {
    opt o;
    size_t b = 0;
    while (b <= names.size()) {
        size_t e = names.find(',', b);
        if (e == std::string::npos) e = names.size();
        o.names.push_back(names.substr(b, e - b));
        b = e + 1;
    }
    o.metavar = metavar;
    o.help = help;
    o.set = std::move(set);
    opts_.push_back(std::move(o));
}

void arg_parser::flag(const std::string& names, const std::string& help, bool* out) {
    add(names, "", help, nullptr);
    opts_.back().flag = out;
}

void arg_parser::option(const std::string& names, const std::string& metavar, const std::string& help,
                        std::string* out) {
    add(names, metavar, help, [out](const std::string&, const std::string& v) { *out = v; });
}

void arg_parser::option(const std::string& names, const std::string& metavar, const std::string& help,
                        int32_t* out) {
    add(names, metavar, help, [out](const std::string& n, const std::string& v) {
        int64_t x = parse_int(v, n);
        if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
            throw usage_error(n + ": '" + v + "' is out of range");
        *out = int32_t(x);
    });
}

void arg_parser::option(const std::string& names, const std::string& metavar, const std::string& help,
                        int64_t* out) {
    add(names, metavar, help, [out](const std::string& n, const std::string& v) { *out = parse_int(v, n); });
}

void arg_parser::option(const std::string& names, const std::string& metavar, const std::string& help,
                        uint64_t* out) {
    add(names, metavar, help, [out](const std::string& n, const std::string& v) {
        if (v.empty() || v[0] == '-') throw usage_error(n + ": '" + v + "' is not a non-negative integer");
        errno = 0;
        char* end = nullptr;
        unsigned long long x = std::strtoull(v.c_str(), &end, 10);
        if (errno || !end || *end) throw usage_error(n + ": '" + v + "' is not a non-negative integer");
        *out = uint64_t(x);
    });
}

void arg_parser::option(const std::string& names, const std::string& metavar, const std::string& help,
                        std::vector<std::string>* out) {
    add(names, metavar, help, [out](const std::string& n, const std::string& v) {
        if (v.empty()) throw usage_error(n + ": the value must not be empty");
        out->push_back(v);
    });
}

void arg_parser::option(const std::string& names, const std::string& metavar, const std::string& help, float* out) {
    add(names, metavar, help, [out](const std::string& n, const std::string& v) { *out = float(parse_float(v, n)); });
}

void arg_parser::positional(const std::string& metavar, const std::string& help, std::string* out) {
    positionals_.push_back(pos{metavar, help, out});
}

void arg_parser::positional_list(const std::string& metavar, const std::string& help, std::vector<std::string>* out,
                                 bool optional) {
    rest_metavar_ = metavar;
    rest_help_ = help;
    rest_ = out;
    rest_optional_ = optional;
}

arg_parser::opt* arg_parser::find(const std::string& name) {
    for (auto& o : opts_)
        for (const auto& n : o.names)
            if (n == name) return &o;
    return nullptr;
}

bool arg_parser::seen(const std::string& name) const {
    for (const auto& o : opts_)
        for (const auto& n : o.names)
            if (n == name) return o.seen;
    return false;
}

bool arg_parser::parse(int argc, char** argv, int first) {
    try {
        return parse_impl(argc, argv, first);
    } catch (usage_error& e) {
        if (e.usage.empty()) e.usage = usage_;
        throw;
    }
}

bool arg_parser::parse_impl(int argc, char** argv, int first) {
    size_t n_pos = 0;
    bool only_positionals = false;
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i];
        if (!only_positionals && a == "--") {
            only_positionals = true;
            continue;
        }
        if (!only_positionals && (a == "-h" || a == "--help")) {
            std::fputs(help().c_str(), stdout);
            return false;
        }
        if (!only_positionals && a.size() > 1 && a[0] == '-') {
            std::string name = a, value;
            bool has_value = false;
            if (a.rfind("--", 0) == 0) {
                size_t eq = a.find('=');
                if (eq != std::string::npos) {
                    name = a.substr(0, eq);
                    value = a.substr(eq + 1);
                    has_value = true;
                }
            }
            opt* o = find(name);
            if (!o) throw usage_error("unknown option '" + name + "'");
            o->seen = true;
            if (o->flag) {
                if (has_value) throw usage_error("option '" + name + "' takes no value");
                *o->flag = true;
                continue;
            }
            if (!has_value) {
                if (i + 1 >= argc) throw usage_error("option '" + name + "' needs a value (" + o->metavar + ")");
                value = argv[++i];
            }
            o->set(name, value);
            continue;
        }
        if (n_pos < positionals_.size()) *positionals_[n_pos++].out = a;
        else if (rest_) rest_->push_back(a);
        else throw usage_error("unexpected argument '" + a + "'");
    }
    if (n_pos < positionals_.size()) throw usage_error("missing argument " + positionals_[n_pos].metavar);
    if (rest_ && rest_->empty() && !rest_optional_) throw usage_error("missing argument " + rest_metavar_);
    return true;
}

std::string arg_parser::help() const {
    std::string s = "usage: " + usage_ + "\n\n" + description_ + "\n";
    if (!positionals_.empty() || rest_) {
        s += "\narguments:\n";
        auto arg = [&](const std::string& metavar, const std::string& h) {
            std::string left = "  " + metavar;
            if (left.size() < 30) left.resize(30, ' ');
            else left += "\n" + std::string(30, ' ');
            s += left + h + "\n";
        };
        for (const auto& p : positionals_) arg(p.metavar, p.help);
        if (rest_) arg(rest_metavar_ + "...", rest_help_);
    }
    s += "\noptions:\n";
    auto line = [&](std::string left, const std::string& h) {
        if (left.size() < 30) left.resize(30, ' ');
        else left += "\n" + std::string(30, ' ');
        s += left + h + "\n";
    };
    for (const auto& o : opts_) {
        std::string left = "  ";
        for (size_t k = 0; k < o.names.size(); ++k) left += (k ? ", " : "") + o.names[k];
        if (!o.metavar.empty()) left += " " + o.metavar;
        line(left, o.help);
    }
    line("  -h, --help", "show this help and exit");
    return s;
}

int64_t parse_int(const std::string& s, const std::string& what) {
    errno = 0;
    char* end = nullptr;
    long long x = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || errno || !end || *end) throw usage_error(what + ": '" + s + "' is not an integer");
    return int64_t(x);
}

double parse_float(const std::string& s, const std::string& what) {
    errno = 0;
    char* end = nullptr;
    double x = std::strtod(s.c_str(), &end);
    if (s.empty() || errno || !end || *end || !std::isfinite(x)) throw usage_error(what + ": '" + s + "' is not a number");
    return x;
}

std::vector<int32_t> parse_int_list(const std::string& s, const std::string& what) {
    std::vector<int32_t> out;
    size_t b = 0;
    while (b <= s.size()) {
        size_t e = s.find(',', b);
        if (e == std::string::npos) e = s.size();
        std::string item = s.substr(b, e - b);
        while (!item.empty() && item.front() == ' ') item.erase(item.begin());
        while (!item.empty() && item.back() == ' ') item.pop_back();
        int64_t v = parse_int(item, what);
        if (v < 0 || v > std::numeric_limits<int32_t>::max())
            throw usage_error(what + ": token id " + item + " is out of range");
        out.push_back(int32_t(v));
        b = e + 1;
    }
    return out;
}

bool parse_weight_type(const std::string& s, fathom_type* out) {
    std::string l;
    for (char c : s) l += char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (l == "f32") *out = FATHOM_TYPE_F32;
    else if (l == "f16") *out = FATHOM_TYPE_F16;
    else if (l == "bf16") *out = FATHOM_TYPE_BF16;
    else return false;
    return true;
}

std::string format_fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string format_bytes(uint64_t bytes) {
    const double b = double(bytes);
    if (b >= 1024.0 * 1024 * 1024) return format_fixed(b / (1024.0 * 1024 * 1024), 2) + " GiB";
    if (b >= 1024.0 * 1024) return format_fixed(b / (1024.0 * 1024), 2) + " MiB";
    if (b >= 1024.0) return format_fixed(b / 1024.0, 2) + " KiB";
    return std::to_string(bytes) + " B";
}

std::string format_count(double n) {
    if (n >= 1e9) return format_fixed(n / 1e9, 2) + " B";
    if (n >= 1e6) return format_fixed(n / 1e6, 2) + " M";
    if (n >= 1e3) return format_fixed(n / 1e3, 2) + " K";
    return format_fixed(n, 0);
}

}  // namespace fathom_cli

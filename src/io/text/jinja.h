// Jinja-subset template engine for chat templates: values, limits and render().
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace fathom::io::jinja {

struct value;
struct value_dict;
struct call_args;
using value_list = std::vector<value>;
using native_fn = std::function<value(call_args&)>;

struct undefined_t {
    bool operator==(const undefined_t&) const { return true; }
};
struct none_t {
    bool operator==(const none_t&) const { return true; }
};

enum class value_kind : int {
    VALUE_UNDEFINED = 0,
    VALUE_NONE,
    VALUE_BOOL,
    VALUE_INT,
    VALUE_FLOAT,
    VALUE_STRING,
    VALUE_LIST,
    VALUE_DICT,
    VALUE_FUNCTION,
};

// A template value. Lists, dicts and functions are shared (reference semantics, as in Python).
struct value {
    using storage = std::variant<undefined_t, none_t, bool, int64_t, double, std::string, std::shared_ptr<value_list>,
                                 std::shared_ptr<value_dict>, std::shared_ptr<native_fn>>;
    storage v;

    value() = default;
    value(none_t n) : v(n) {}
    value(bool b) : v(b) {}
    value(int i) : v(int64_t(i)) {}
    value(int64_t i) : v(i) {}
    value(double d) : v(d) {}
    value(const char* s) : v(std::string(s)) {}
    value(std::string s) : v(std::move(s)) {}
    value(value_list l) : v(std::make_shared<value_list>(std::move(l))) {}
    value(std::shared_ptr<value_dict> d) : v(std::move(d)) {}
    value(native_fn f) : v(std::make_shared<native_fn>(std::move(f))) {}

    value_kind kind() const { return value_kind(v.index()); }
    bool is_undefined() const { return kind() == value_kind::VALUE_UNDEFINED; }
    bool is_none() const { return kind() == value_kind::VALUE_NONE; }
    bool is_string() const { return kind() == value_kind::VALUE_STRING; }
    bool is_number() const { return kind() == value_kind::VALUE_INT || kind() == value_kind::VALUE_FLOAT; }
    bool is_list() const { return kind() == value_kind::VALUE_LIST; }
    bool is_dict() const { return kind() == value_kind::VALUE_DICT; }
    const std::string& str() const { return std::get<std::string>(v); }
    value_list& list() const { return *std::get<std::shared_ptr<value_list>>(v); }
    value_dict& dict() const { return *std::get<std::shared_ptr<value_dict>>(v); }
    bool truthy() const;
};

// Insertion-ordered string-keyed map (JSON objects, namespace() objects).
struct value_dict {
    std::vector<std::pair<std::string, value>> items;
    bool is_namespace = false;
    const value* find(const std::string& key) const;
    void set(const std::string& key, value v);
};

value make_dict(std::vector<std::pair<std::string, value>> items = {});

// Arguments of a call: positional then keyword.
struct call_args {
    std::vector<value> pos;
    std::vector<std::pair<std::string, value>> kw;
    int line = 0;
};

// Bounds that keep hostile templates from hanging or exhausting memory.
struct limits {
    int64_t max_steps = 2'000'000;          // evaluated nodes plus loop iterations
    size_t max_output = size_t(64) << 20;   // bytes of rendered text, and of any single string value
    int max_depth = 200;                    // nesting of expressions / blocks while parsing and evaluating
};

// Renders `source` with the given variables. Errors throw fathom::error "<name> line N: problem".
// Environment behaves like the one chat templates are written for: trim_blocks and lstrip_blocks on,
// loop controls (break/continue) on, builtins raise_exception, namespace, range.
std::string render(const std::string& source, const std::vector<std::pair<std::string, value>>& vars,
                   const limits& lim = {}, const std::string& name = "chat template");

// JSON text of a value (tojson), keys in insertion order; non-ASCII passes through as UTF-8.
std::string to_json(const value& v, int indent = -1);

// Parses JSON text into a value (used for extra template variables such as tools).
value from_json(const std::string& text);

}  // namespace fathom::io::jinja

// Evaluator of the Jinja subset: values, operators, filters, tests, methods and statement execution.
#include "io/text/jinja.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/text/jinja-ast.h"

namespace fathom::io::jinja {

bool value::truthy() const {
    switch (kind()) {
        case value_kind::VALUE_UNDEFINED:
        case value_kind::VALUE_NONE: return false;
        case value_kind::VALUE_BOOL: return std::get<bool>(v);
        case value_kind::VALUE_INT: return std::get<int64_t>(v) != 0;
        case value_kind::VALUE_FLOAT: return std::get<double>(v) != 0.0;
        case value_kind::VALUE_STRING: return !str().empty();
        case value_kind::VALUE_LIST: return !list().empty();
        case value_kind::VALUE_DICT: return !dict().items.empty();
        case value_kind::VALUE_FUNCTION: return true;
    }
    return false;
}

const value* value_dict::find(const std::string& key) const {
    for (const auto& kv : items)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

void value_dict::set(const std::string& key, value v) {
    for (auto& kv : items)
        if (kv.first == key) {
            kv.second = std::move(v);
            return;
        }
    items.emplace_back(key, std::move(v));
}

// True if v is `target` or contains it through lists and dicts (depth-bounded: values nested deeper than the
// evaluator allows count as holding it, so they are refused too).
static bool holds(const value& v, const value_dict* target, int depth) {
    if (depth > 256) return true;
    if (v.is_dict()) {
        if (&v.dict() == target) return true;
        for (const auto& kv : v.dict().items)
            if (holds(kv.second, target, depth + 1)) return true;
    } else if (v.is_list()) {
        for (const auto& item : v.list())
            if (holds(item, target, depth + 1)) return true;
    }
    return false;
}

value make_dict(std::vector<std::pair<std::string, value>> items) {
    auto d = std::make_shared<value_dict>();
    for (auto& kv : items) d->set(kv.first, std::move(kv.second));
    return value(std::move(d));
}

namespace {

constexpr int MAX_VALUE_DEPTH = 64;

void json_escape(std::string& o, const std::string& s) {
    o += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\n': o += "\\n"; break;
            case '\r': o += "\\r"; break;
            case '\t': o += "\\t"; break;
            case '\b': o += "\\b"; break;
            case '\f': o += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    o += buf;
                } else {
                    o += char(c);
                }
        }
    }
    o += '"';
}

std::string float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    std::string s(buf, r.ptr);
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    return s;
}

void write_json(std::string& o, const value& v, int indent, int level, int depth) {
    if (depth > MAX_VALUE_DEPTH) fail(errc::ERRC_INVALID_ARGUMENT, "tojson: value nested too deeply (or cyclic)");
    auto newline = [&](int lv) {
        if (indent < 0) return;
        o += '\n';
        o.append(size_t(indent) * size_t(lv), ' ');
    };
    switch (v.kind()) {
        case value_kind::VALUE_UNDEFINED:
        case value_kind::VALUE_NONE:
        case value_kind::VALUE_FUNCTION: o += "null"; break;
        case value_kind::VALUE_BOOL: o += std::get<bool>(v.v) ? "true" : "false"; break;
        case value_kind::VALUE_INT: o += std::to_string(std::get<int64_t>(v.v)); break;
        case value_kind::VALUE_FLOAT: {
            double d = std::get<double>(v.v);
            o += std::isfinite(d) ? float_repr(d) : "null";
            break;
        }
        case value_kind::VALUE_STRING: json_escape(o, v.str()); break;
        case value_kind::VALUE_LIST: {
            o += '[';
            bool first = true;
            for (const auto& x : v.list()) {
                if (!first) o += indent < 0 ? ", " : ",";
                first = false;
                newline(level + 1);
                write_json(o, x, indent, level + 1, depth + 1);
            }
            if (!first) newline(level);
            o += ']';
            break;
        }
        case value_kind::VALUE_DICT: {
            o += '{';
            bool first = true;
            for (const auto& kv : v.dict().items) {
                if (!first) o += indent < 0 ? ", " : ",";
                first = false;
                newline(level + 1);
                json_escape(o, kv.first);
                o += ": ";
                write_json(o, kv.second, indent, level + 1, depth + 1);
            }
            if (!first) newline(level);
            o += '}';
            break;
        }
    }
}

void py_repr(std::string& o, const value& v, bool top, int depth) {
    if (depth > MAX_VALUE_DEPTH) fail(errc::ERRC_INVALID_ARGUMENT, "string: value nested too deeply (or cyclic)");
    switch (v.kind()) {
        case value_kind::VALUE_UNDEFINED: break;
        case value_kind::VALUE_NONE: o += "None"; break;
        case value_kind::VALUE_BOOL: o += std::get<bool>(v.v) ? "True" : "False"; break;
        case value_kind::VALUE_INT: o += std::to_string(std::get<int64_t>(v.v)); break;
        case value_kind::VALUE_FLOAT: o += float_repr(std::get<double>(v.v)); break;
        case value_kind::VALUE_FUNCTION: o += "<function>"; break;
        case value_kind::VALUE_STRING:
            if (top) {
                o += v.str();
            } else {
                bool dq = v.str().find('\'') != std::string::npos && v.str().find('"') == std::string::npos;
                char q = dq ? '"' : '\'';
                o += q;
                for (char c : v.str()) {
                    if (c == '\\' || c == q) o += '\\';
                    if (c == '\n') {
                        o += "\\n";
                        continue;
                    }
                    o += c;
                }
                o += q;
            }
            break;
        case value_kind::VALUE_LIST: {
            o += '[';
            bool first = true;
            for (const auto& x : v.list()) {
                if (!first) o += ", ";
                first = false;
                py_repr(o, x, false, depth + 1);
            }
            o += ']';
            break;
        }
        case value_kind::VALUE_DICT: {
            o += '{';
            bool first = true;
            for (const auto& kv : v.dict().items) {
                if (!first) o += ", ";
                first = false;
                py_repr(o, value(kv.first), false, depth + 1);
                o += ": ";
                py_repr(o, kv.second, false, depth + 1);
            }
            o += '}';
            break;
        }
    }
}

std::string to_str(const value& v) {
    if (v.is_string()) return v.str();
    std::string o;
    py_repr(o, v, true, 0);
    return o;
}

const char* kind_name(const value& v) {
    static const char* names[] = {"undefined", "none", "boolean", "integer", "float", "string", "list", "dict", "function"};
    return names[int(v.kind())];
}

// Byte offsets of each UTF-8 code point start, plus the end.
std::vector<size_t> cp_offsets(const std::string& s) {
    std::vector<size_t> o;
    for (size_t i = 0; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) o.push_back(i);
    o.push_back(s.size());
    return o;
}

nlohmann::ordered_json to_nlohmann_depth_check(const nlohmann::ordered_json& j, int depth) {
    if (depth > MAX_VALUE_DEPTH) fail(errc::ERRC_INVALID_ARGUMENT, "template variable JSON nested too deeply");
    if (j.is_array() || j.is_object())
        for (const auto& x : j) to_nlohmann_depth_check(x, depth + 1);
    return nullptr;
}

value from_nlohmann(const nlohmann::ordered_json& j) {
    if (j.is_null()) return value(none_t{});
    if (j.is_boolean()) return value(j.get<bool>());
    if (j.is_number_integer()) return value(j.get<int64_t>());
    if (j.is_number()) return value(j.get<double>());
    if (j.is_string()) return value(j.get<std::string>());
    if (j.is_array()) {
        value_list l;
        for (const auto& x : j) l.push_back(from_nlohmann(x));
        return value(std::move(l));
    }
    auto d = std::make_shared<value_dict>();
    for (auto it = j.begin(); it != j.end(); ++it) d->set(it.key(), from_nlohmann(it.value()));
    return value(std::move(d));
}

using namespace detail;

struct break_signal {};
struct continue_signal {};

class evaluator {
public:
    evaluator(const limits& lim, const std::string& name) : lim_(lim), name_(name) {}

    std::vector<std::unordered_map<std::string, value>> scopes;
    std::string out;

    void exec(const stmt_list& body) {
        for (const auto& s : body) exec(s);
    }

private:
    const limits& lim_;
    const std::string& name_;
    int64_t steps_ = 0;
    int depth_ = 0;

    [[noreturn]] void error(int line, const std::string& msg, errc code = errc::ERRC_INVALID_ARGUMENT) const {
        fail(code, name_ + " line " + std::to_string(line) + ": " + msg);
    }
    void step(int line) {
        if (++steps_ > lim_.max_steps)
            error(line, "evaluation exceeded " + std::to_string(lim_.max_steps) + " steps", errc::ERRC_UNSUPPORTED);
    }
    void check_size(size_t n, int line) const {
        if (n > lim_.max_output)
            error(line, "value or output larger than " + std::to_string(lim_.max_output) + " bytes",
                  errc::ERRC_UNSUPPORTED);
    }

    struct depth_guard {
        evaluator& e;
        depth_guard(evaluator& ev, int line) : e(ev) {
            if (++e.depth_ > e.lim_.max_depth) e.error(line, "evaluation nested too deeply", errc::ERRC_UNSUPPORTED);
        }
        ~depth_guard() { --e.depth_; }
    };

    value lookup(const std::string& n) const {
        for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
            auto f = it->find(n);
            if (f != it->end()) return f->second;
        }
        return value();
    }

    void emit(const std::string& s, int line) {
        check_size(out.size() + s.size(), line);
        out += s;
    }

    void exec(const stmt& s) {
        step(s.line);
        depth_guard g(*this, s.line);
        switch (s.kind) {
            case stmt_kind::STMT_TEXT: emit(s.text, s.line); break;
            case stmt_kind::STMT_OUTPUT: emit(to_str(eval(*s.e)), s.line); break;
            case stmt_kind::STMT_IF:
                for (size_t i = 0; i < s.conds.size(); ++i)
                    if (eval(*s.conds[i]).truthy()) {
                        exec(s.bodies[i]);
                        return;
                    }
                if (s.bodies.size() > s.conds.size()) exec(s.bodies.back());
                break;
            case stmt_kind::STMT_FOR: exec_for(s); break;
            case stmt_kind::STMT_SET: {
                value v = eval(*s.e);
                if (s.vars.size() == 1) {
                    scopes.back()[s.vars[0]] = std::move(v);
                } else {
                    value ns = lookup(s.vars[0]);
                    if (!ns.is_dict() || !ns.dict().is_namespace)
                        error(s.line, "cannot set attribute '" + s.vars[1] + "' of non-namespace '" + s.vars[0] + "'");
                    // Shared pointers cannot free a cycle: refuse a value that holds this namespace.
                    if (holds(v, &ns.dict(), 0))
                        error(s.line, "cannot store namespace '" + s.vars[0] + "' inside itself ('" + s.vars[0] + "." +
                                          s.vars[1] + "')");
                    ns.dict().set(s.vars[1], std::move(v));
                }
                break;
            }
            case stmt_kind::STMT_BREAK: throw break_signal{};
            case stmt_kind::STMT_CONTINUE: throw continue_signal{};
            case stmt_kind::STMT_BLOCK: exec(s.bodies[0]); break;
        }
    }

    void exec_for(const stmt& s) {
        value seq = eval(*s.e);
        value_list items;
        if (seq.is_list()) {
            items = seq.list();
        } else if (seq.is_dict()) {
            for (const auto& kv : seq.dict().items) items.push_back(value(kv.first));
        } else if (seq.is_string()) {
            auto off = cp_offsets(seq.str());
            for (size_t i = 0; i + 1 < off.size(); ++i) items.push_back(value(seq.str().substr(off[i], off[i + 1] - off[i])));
        } else if (seq.is_none() || seq.is_undefined()) {
            error(s.line, std::string("cannot iterate over ") + kind_name(seq));
        } else {
            error(s.line, std::string("cannot iterate over ") + kind_name(seq));
        }
        // Bind loop variables in a fresh scope; an `if` filter applies before loop.* is computed.
        auto bind = [&](std::unordered_map<std::string, value>& sc, const value& item) {
            if (s.vars.size() == 1) {
                sc[s.vars[0]] = item;
                return;
            }
            if (!item.is_list() || item.list().size() != s.vars.size())
                error(s.line, "cannot unpack loop item into " + std::to_string(s.vars.size()) + " names");
            for (size_t k = 0; k < s.vars.size(); ++k) sc[s.vars[k]] = item.list()[k];
        };
        if (s.cond) {
            value_list kept;
            for (const auto& it : items) {
                step(s.line);
                scopes.emplace_back();
                bind(scopes.back(), it);
                bool keep = eval(*s.cond).truthy();
                scopes.pop_back();
                if (keep) kept.push_back(it);
            }
            items.swap(kept);
        }
        if (items.empty()) {
            if (s.bodies.size() > 1) exec(s.bodies[1]);
            return;
        }
        int64_t n = int64_t(items.size());
        for (int64_t i = 0; i < n; ++i) {
            step(s.line);
            scopes.emplace_back();
            auto lp = std::make_shared<value_dict>();
            lp->items = {{"index", value(i + 1)},
                         {"index0", value(i)},
                         {"revindex", value(n - i)},
                         {"revindex0", value(n - i - 1)},
                         {"first", value(i == 0)},
                         {"last", value(i == n - 1)},
                         {"length", value(n)},
                         {"previtem", i > 0 ? items[size_t(i - 1)] : value()},
                         {"nextitem", i + 1 < n ? items[size_t(i + 1)] : value()}};
            scopes.back()["loop"] = value(lp);
            bind(scopes.back(), items[size_t(i)]);
            bool stop = false;
            try {
                exec(s.bodies[0]);
            } catch (const break_signal&) {
                stop = true;
            } catch (const continue_signal&) {
            }
            scopes.pop_back();
            if (stop) break;
        }
    }

    // ---- expressions ----

    value eval(const expr& e) {
        step(e.line);
        depth_guard g(*this, e.line);
        switch (e.kind) {
            case expr_kind::EXPR_LITERAL: return e.lit;
            case expr_kind::EXPR_NAME: return lookup(e.name);
            case expr_kind::EXPR_LIST: {
                value_list l;
                for (const auto& k : e.kids) l.push_back(eval(*k));
                return value(std::move(l));
            }
            case expr_kind::EXPR_DICT: {
                auto d = std::make_shared<value_dict>();
                for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
                    value k = eval(*e.kids[i]);
                    if (!k.is_string()) error(e.line, std::string("dict keys must be strings, got ") + kind_name(k));
                    d->set(k.str(), eval(*e.kids[i + 1]));
                }
                return value(std::move(d));
            }
            case expr_kind::EXPR_ATTR: return get_attr(eval(*e.kids[0]), e.name, e.line);
            case expr_kind::EXPR_INDEX: return get_item(eval(*e.kids[0]), eval(*e.kids[1]), e.line);
            case expr_kind::EXPR_SLICE: return slice(e);
            case expr_kind::EXPR_CALL: return call(e);
            case expr_kind::EXPR_FILTER: {
                call_args a = args_of(e, 1);
                return filter(e.name, eval(*e.kids[0]), a);
            }
            case expr_kind::EXPR_TEST: {
                call_args a = args_of(e, 1);
                bool r = test(e.name, eval(*e.kids[0]), a);
                return value(e.negate ? !r : r);
            }
            case expr_kind::EXPR_UNARY: {
                value v = eval(*e.kids[0]);
                if (e.name == "not") return value(!v.truthy());
                if (v.kind() == value_kind::VALUE_INT)
                    return value(e.name == "-" ? -std::get<int64_t>(v.v) : std::get<int64_t>(v.v));
                if (v.kind() == value_kind::VALUE_FLOAT)
                    return value(e.name == "-" ? -std::get<double>(v.v) : std::get<double>(v.v));
                error(e.line, "unary '" + e.name + "' on " + kind_name(v));
            }
            case expr_kind::EXPR_BINARY: return binary(e);
            case expr_kind::EXPR_COND:
                if (eval(*e.kids[1]).truthy()) return eval(*e.kids[0]);
                return e.kids[2] ? eval(*e.kids[2]) : value();
        }
        return value();
    }

    call_args args_of(const expr& e, size_t from) {
        call_args a;
        a.line = e.line;
        for (size_t i = from; i < e.kids.size(); ++i) {
            if (e.kwnames[i].empty()) {
                if (!a.kw.empty()) error(e.line, "positional argument after keyword argument");
                a.pos.push_back(eval(*e.kids[i]));
            } else {
                a.kw.emplace_back(e.kwnames[i], eval(*e.kids[i]));
            }
        }
        return a;
    }

    value get_attr(const value& obj, const std::string& name, int line) {
        if (obj.is_dict()) {
            const value* v = obj.dict().find(name);
            return v ? *v : value();
        }
        if (obj.is_undefined()) error(line, "attribute '" + name + "' of an undefined value");
        return value();
    }

    static int64_t norm_index(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

    value get_item(const value& obj, const value& key, int line) {
        if (obj.is_dict()) {
            if (!key.is_string()) return value();
            const value* v = obj.dict().find(key.str());
            return v ? *v : value();
        }
        if (obj.is_list() || obj.is_string()) {
            if (key.kind() != value_kind::VALUE_INT)
                error(line, std::string(kind_name(obj)) + " index must be an integer, got " + kind_name(key));
            int64_t i = std::get<int64_t>(key.v);
            if (obj.is_list()) {
                int64_t n = int64_t(obj.list().size());
                int64_t k = norm_index(i, n);
                return k >= 0 && k < n ? obj.list()[size_t(k)] : value();
            }
            auto off = cp_offsets(obj.str());
            int64_t n = int64_t(off.size()) - 1;
            int64_t k = norm_index(i, n);
            if (k < 0 || k >= n) return value();
            return value(obj.str().substr(off[size_t(k)], off[size_t(k) + 1] - off[size_t(k)]));
        }
        if (obj.is_undefined()) error(line, "subscript of an undefined value");
        return value();
    }

    value slice(const expr& e) {
        value obj = eval(*e.kids[0]);
        int64_t bounds[3] = {0, 0, 1};
        bool given[3] = {false, false, false};
        for (int k = 0; k < 3; ++k) {
            if (!e.kids[size_t(k) + 1]) continue;
            value v = eval(*e.kids[size_t(k) + 1]);
            if (v.is_none()) continue;
            if (v.kind() != value_kind::VALUE_INT) error(e.line, std::string("slice bound must be an integer, got ") + kind_name(v));
            bounds[k] = std::get<int64_t>(v.v);
            given[k] = true;
        }
        int64_t step_ = bounds[2];
        if (step_ == 0) error(e.line, "slice step cannot be zero");
        std::vector<size_t> off;
        int64_t n;
        if (obj.is_list()) {
            n = int64_t(obj.list().size());
        } else if (obj.is_string()) {
            off = cp_offsets(obj.str());
            n = int64_t(off.size()) - 1;
        } else {
            error(e.line, std::string("cannot slice ") + kind_name(obj));
        }
        // Python slice semantics.
        auto clamp = [&](int64_t v, bool is_given, int64_t def) {
            if (!is_given) return def;
            if (v < 0) v += n;
            if (step_ > 0) return std::clamp<int64_t>(v, 0, n);
            return std::clamp<int64_t>(v, -1, n - 1);
        };
        int64_t start = clamp(bounds[0], given[0], step_ > 0 ? 0 : n - 1);
        int64_t stop = clamp(bounds[1], given[1], step_ > 0 ? n : -1);
        std::vector<int64_t> idx;
        for (int64_t i = start; step_ > 0 ? i < stop : i > stop; i += step_) idx.push_back(i);
        if (obj.is_list()) {
            value_list l;
            for (int64_t i : idx) l.push_back(obj.list()[size_t(i)]);
            return value(std::move(l));
        }
        std::string s;
        for (int64_t i : idx) s.append(obj.str(), off[size_t(i)], off[size_t(i) + 1] - off[size_t(i)]);
        return value(std::move(s));
    }

    static int cmp_values(const value& a, const value& b, bool* ok) {
        *ok = true;
        if (a.is_number() && b.is_number()) {
            if (a.kind() == value_kind::VALUE_INT && b.kind() == value_kind::VALUE_INT) {
                int64_t x = std::get<int64_t>(a.v), y = std::get<int64_t>(b.v);
                return x < y ? -1 : x > y ? 1 : 0;
            }
            double x = a.kind() == value_kind::VALUE_INT ? double(std::get<int64_t>(a.v)) : std::get<double>(a.v);
            double y = b.kind() == value_kind::VALUE_INT ? double(std::get<int64_t>(b.v)) : std::get<double>(b.v);
            return x < y ? -1 : x > y ? 1 : 0;
        }
        if (a.is_string() && b.is_string()) return a.str().compare(b.str()) < 0 ? -1 : a.str() == b.str() ? 0 : 1;
        *ok = false;
        return 0;
    }

    static bool equal(const value& a, const value& b, int depth = 0) {
        if (depth > MAX_VALUE_DEPTH) return false;
        if (a.kind() == value_kind::VALUE_BOOL || b.kind() == value_kind::VALUE_BOOL) {
            auto as_num = [](const value& v, bool* ok) -> double {
                *ok = true;
                if (v.kind() == value_kind::VALUE_BOOL) return std::get<bool>(v.v) ? 1 : 0;
                if (v.kind() == value_kind::VALUE_INT) return double(std::get<int64_t>(v.v));
                if (v.kind() == value_kind::VALUE_FLOAT) return std::get<double>(v.v);
                *ok = false;
                return 0;
            };
            bool oa, ob;
            double x = as_num(a, &oa), y = as_num(b, &ob);
            return oa && ob && x == y;
        }
        bool ok;
        int c = cmp_values(a, b, &ok);
        if (ok) return c == 0;
        if (a.kind() != b.kind()) return false;
        switch (a.kind()) {
            case value_kind::VALUE_UNDEFINED:
            case value_kind::VALUE_NONE: return true;
            case value_kind::VALUE_LIST: {
                if (a.list().size() != b.list().size()) return false;
                for (size_t i = 0; i < a.list().size(); ++i)
                    if (!equal(a.list()[i], b.list()[i], depth + 1)) return false;
                return true;
            }
            case value_kind::VALUE_DICT: {
                if (a.dict().items.size() != b.dict().items.size()) return false;
                for (const auto& kv : a.dict().items) {
                    const value* o = b.dict().find(kv.first);
                    if (!o || !equal(kv.second, *o, depth + 1)) return false;
                }
                return true;
            }
            case value_kind::VALUE_FUNCTION: return std::get<std::shared_ptr<native_fn>>(a.v) == std::get<std::shared_ptr<native_fn>>(b.v);
            default: return false;
        }
    }

    bool contains(const value& hay, const value& needle, int line) {
        if (hay.is_string()) {
            if (!needle.is_string()) error(line, std::string("'in <string>' needs a string, got ") + kind_name(needle));
            return hay.str().find(needle.str()) != std::string::npos;
        }
        if (hay.is_list()) {
            for (const auto& x : hay.list())
                if (equal(x, needle)) return true;
            return false;
        }
        if (hay.is_dict()) return needle.is_string() && hay.dict().find(needle.str()) != nullptr;
        error(line, std::string("'in' on ") + kind_name(hay));
    }

    value binary(const expr& e) {
        const std::string& op = e.name;
        if (op == "and") {
            value a = eval(*e.kids[0]);
            return a.truthy() ? eval(*e.kids[1]) : a;
        }
        if (op == "or") {
            value a = eval(*e.kids[0]);
            return a.truthy() ? a : eval(*e.kids[1]);
        }
        value a = eval(*e.kids[0]);
        value b = eval(*e.kids[1]);
        if (op == "==") return value(equal(a, b));
        if (op == "!=") return value(!equal(a, b));
        if (op == "in") return value(contains(b, a, e.line));
        if (op == "not in") return value(!contains(b, a, e.line));
        if (op == "<" || op == ">" || op == "<=" || op == ">=") {
            bool ok;
            int c = cmp_values(a, b, &ok);
            if (!ok) error(e.line, "cannot compare " + std::string(kind_name(a)) + " and " + kind_name(b) + " with '" + op + "'");
            return value(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
        }
        if (op == "~") {
            std::string s = to_str(a);
            std::string t = to_str(b);
            check_size(s.size() + t.size(), e.line);
            return value(s + t);
        }
        if (op == "+" && a.is_string() && b.is_string()) {
            check_size(a.str().size() + b.str().size(), e.line);
            return value(a.str() + b.str());
        }
        if (op == "+" && a.is_list() && b.is_list()) {
            check_size(a.list().size() + b.list().size(), e.line);
            value_list l = a.list();
            l.insert(l.end(), b.list().begin(), b.list().end());
            return value(std::move(l));
        }
        if (op == "*" && (a.is_string() || a.is_list()) && b.kind() == value_kind::VALUE_INT) return repeat(a, b, e.line);
        if (op == "*" && (b.is_string() || b.is_list()) && a.kind() == value_kind::VALUE_INT) return repeat(b, a, e.line);
        auto num = [](const value& v) -> bool { return v.is_number() || v.kind() == value_kind::VALUE_BOOL; };
        if (!num(a) || !num(b))
            error(e.line, "unsupported operand types for '" + op + "': " + kind_name(a) + " and " + kind_name(b));
        auto as_i = [](const value& v) {
            return v.kind() == value_kind::VALUE_BOOL ? int64_t(std::get<bool>(v.v)) : std::get<int64_t>(v.v);
        };
        auto as_f = [&](const value& v) {
            return v.kind() == value_kind::VALUE_FLOAT ? std::get<double>(v.v) : double(as_i(v));
        };
        bool ints = a.kind() != value_kind::VALUE_FLOAT && b.kind() != value_kind::VALUE_FLOAT;
        if (op == "/") {
            if (as_f(b) == 0) error(e.line, "division by zero");
            return value(as_f(a) / as_f(b));
        }
        if (ints) {
            int64_t x = as_i(a), y = as_i(b), r = 0;
            if (op == "+") {
                if (__builtin_add_overflow(x, y, &r)) error(e.line, "integer overflow");
                return value(r);
            }
            if (op == "-") {
                if (__builtin_sub_overflow(x, y, &r)) error(e.line, "integer overflow");
                return value(r);
            }
            if (op == "*") {
                if (__builtin_mul_overflow(x, y, &r)) error(e.line, "integer overflow");
                return value(r);
            }
            if (op == "//" || op == "%") {
                if (y == 0) error(e.line, "division by zero");
                if (x == INT64_MIN && y == -1) error(e.line, "integer overflow");
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    --q;
                    m += y;
                }
                return value(op == "//" ? q : m);
            }
            if (op == "**") {
                if (y < 0) return value(std::pow(double(x), double(y)));
                int64_t acc = 1;
                for (int64_t k = 0; k < y; ++k) {
                    if (__builtin_mul_overflow(acc, x, &acc)) error(e.line, "integer overflow");
                    if (acc == 0 || acc == 1) break;
                    step(e.line);
                }
                return value(acc);
            }
        }
        double x = as_f(a), y = as_f(b);
        if (op == "+") return value(x + y);
        if (op == "-") return value(x - y);
        if (op == "*") return value(x * y);
        if (op == "**") return value(std::pow(x, y));
        if (y == 0) error(e.line, "division by zero");
        if (op == "//") return value(std::floor(x / y));
        if (op == "%") return value(x - y * std::floor(x / y));
        error(e.line, "unsupported operator '" + op + "'");
    }

    value repeat(const value& seq, const value& count, int line) {
        int64_t n = std::max<int64_t>(0, std::get<int64_t>(count.v));
        size_t unit = seq.is_string() ? seq.str().size() : seq.list().size();
        if (unit != 0 && uint64_t(n) > lim_.max_output / unit) check_size(lim_.max_output + 1, line);
        if (seq.is_string()) {
            std::string s;
            for (int64_t i = 0; i < n; ++i) s += seq.str();
            return value(std::move(s));
        }
        value_list l;
        for (int64_t i = 0; i < n; ++i) l.insert(l.end(), seq.list().begin(), seq.list().end());
        return value(std::move(l));
    }

    // ---- calls ----

    value call(const expr& e) {
        const expr& callee = *e.kids[0];
        if (callee.kind == expr_kind::EXPR_ATTR) {
            value obj = eval(*callee.kids[0]);
            if (!(obj.is_dict() && obj.dict().find(callee.name) &&
                  obj.dict().find(callee.name)->kind() == value_kind::VALUE_FUNCTION)) {
                call_args a = args_of(e, 1);
                return method(obj, callee.name, a);
            }
        }
        if (callee.kind == expr_kind::EXPR_NAME) {
            value f = lookup(callee.name);
            call_args a = args_of(e, 1);
            if (f.kind() == value_kind::VALUE_FUNCTION) return invoke(f, a);
            return builtin(callee.name, a);
        }
        value f = eval(callee);
        if (f.kind() != value_kind::VALUE_FUNCTION) error(e.line, std::string("cannot call a ") + kind_name(f));
        call_args a = args_of(e, 1);
        return invoke(f, a);
    }

    value invoke(const value& f, call_args& a) {
        try {
            return (*std::get<std::shared_ptr<native_fn>>(f.v))(a);
        } catch (const fathom::error&) {
            throw;
        } catch (const std::exception& ex) {
            error(a.line, std::string("function call failed: ") + ex.what());
        }
    }

    const value* kwarg(const call_args& a, const char* n) const {
        for (const auto& kv : a.kw)
            if (kv.first == n) return &kv.second;
        return nullptr;
    }
    // Positional argument i, or keyword `n`, or nullptr.
    const value* arg(const call_args& a, size_t i, const char* n) const {
        if (i < a.pos.size()) return &a.pos[i];
        return n ? kwarg(a, n) : nullptr;
    }
    std::string str_arg(const call_args& a, size_t i, const char* n, const char* what) const {
        const value* v = arg(a, i, n);
        if (!v || !v->is_string()) error(a.line, std::string(what) + ": expected a string argument");
        return v->str();
    }

    value builtin(const std::string& n, call_args& a) {
        if (n == "raise_exception") {
            const value* m = arg(a, 0, "message");
            error(a.line, "raise_exception: " + (m ? to_str(*m) : std::string("(no message)")));
        }
        if (n == "namespace") {
            auto d = std::make_shared<value_dict>();
            d->is_namespace = true;
            for (const auto& p : a.pos) {
                if (!p.is_dict()) error(a.line, "namespace() positional argument must be a dict");
                for (const auto& kv : p.dict().items) d->set(kv.first, kv.second);
            }
            for (const auto& kv : a.kw) d->set(kv.first, kv.second);
            return value(std::move(d));
        }
        if (n == "range") {
            int64_t r[3] = {0, 0, 1};
            if (a.pos.empty() || a.pos.size() > 3) error(a.line, "range() takes 1 to 3 integer arguments");
            for (size_t i = 0; i < a.pos.size(); ++i)
                if (a.pos[i].kind() != value_kind::VALUE_INT) error(a.line, "range() arguments must be integers");
            if (a.pos.size() == 1) {
                r[1] = std::get<int64_t>(a.pos[0].v);
            } else {
                r[0] = std::get<int64_t>(a.pos[0].v);
                r[1] = std::get<int64_t>(a.pos[1].v);
                if (a.pos.size() == 3) r[2] = std::get<int64_t>(a.pos[2].v);
            }
            if (r[2] == 0) error(a.line, "range() step cannot be zero");
            double count = std::ceil((double(r[1]) - double(r[0])) / double(r[2]));
            if (count > double(lim_.max_steps)) error(a.line, "range() too long", errc::ERRC_UNSUPPORTED);
            value_list l;
            for (int64_t i = r[0]; r[2] > 0 ? i < r[1] : i > r[1]; i += r[2]) l.push_back(value(i));
            return value(std::move(l));
        }
        if (n == "dict") {
            auto d = std::make_shared<value_dict>();
            for (const auto& kv : a.kw) d->set(kv.first, kv.second);
            return value(std::move(d));
        }
        error(a.line, "unknown function '" + n + "'", errc::ERRC_UNSUPPORTED);
    }

    static std::string strip_chars(const std::string& s, const std::string& chars, bool left, bool right) {
        size_t b = 0, e = s.size();
        auto in = [&](char c) { return chars.find(c) != std::string::npos; };
        if (left)
            while (b < e && in(s[b])) ++b;
        if (right)
            while (e > b && in(s[e - 1])) --e;
        return s.substr(b, e - b);
    }

    static std::string map_case(std::string s, bool upper) {
        for (char& c : s)
            if (static_cast<unsigned char>(c) < 0x80) c = char(upper ? std::toupper(c) : std::tolower(c));
        return s;
    }

    value replace(const std::string& s, const std::string& from, const std::string& to, int64_t count, int line) {
        std::string o;
        if (from.empty()) {
            check_size(s.size() * (to.size() + 1) + to.size(), line);
            o = to;
            for (char c : s) {
                o += c;
                o += to;
            }
            return value(o);
        }
        size_t p = 0;
        int64_t done = 0;
        while (true) {
            size_t q = s.find(from, p);
            if (q == std::string::npos || (count >= 0 && done >= count)) break;
            o.append(s, p, q - p);
            o += to;
            check_size(o.size(), line);
            p = q + from.size();
            ++done;
        }
        o.append(s, p, std::string::npos);
        return value(o);
    }

    value method(const value& obj, const std::string& n, call_args& a) {
        const std::string ws = " \t\n\r\f\v";
        if (obj.is_string()) {
            const std::string& s = obj.str();
            if (n == "strip" || n == "lstrip" || n == "rstrip") {
                const value* c = arg(a, 0, "chars");
                std::string chars = c && c->is_string() ? c->str() : ws;
                return value(strip_chars(s, chars, n != "rstrip", n != "lstrip"));
            }
            if (n == "startswith" || n == "endswith") {
                const value* p = arg(a, 0, nullptr);
                if (!p) error(a.line, n + "() needs an argument");
                value_list opts = p->is_list() ? p->list() : value_list{*p};
                for (const auto& o : opts) {
                    if (!o.is_string()) error(a.line, n + "() argument must be a string");
                    const std::string& t = o.str();
                    if (t.size() <= s.size() &&
                        (n == "startswith" ? s.compare(0, t.size(), t) == 0 : s.compare(s.size() - t.size(), t.size(), t) == 0))
                        return value(true);
                }
                return value(false);
            }
            if (n == "split") {
                const value* sep = arg(a, 0, "sep");
                value_list l;
                if (!sep || sep->is_none()) {
                    size_t p = 0;
                    while (true) {
                        while (p < s.size() && ws.find(s[p]) != std::string::npos) ++p;
                        if (p >= s.size()) break;
                        size_t q = p;
                        while (q < s.size() && ws.find(s[q]) == std::string::npos) ++q;
                        l.push_back(value(s.substr(p, q - p)));
                        p = q;
                    }
                    return value(std::move(l));
                }
                if (!sep->is_string() || sep->str().empty()) error(a.line, "split() separator must be a non-empty string");
                size_t p = 0;
                while (true) {
                    size_t q = s.find(sep->str(), p);
                    if (q == std::string::npos) break;
                    l.push_back(value(s.substr(p, q - p)));
                    p = q + sep->str().size();
                }
                l.push_back(value(s.substr(p)));
                return value(std::move(l));
            }
            if (n == "upper" || n == "lower") return value(map_case(s, n == "upper"));
            if (n == "capitalize") return value(capitalize(s));
            if (n == "title") return value(title(s));
            if (n == "replace") {
                const value* c = arg(a, 2, "count");
                return replace(s, str_arg(a, 0, nullptr, "replace"), str_arg(a, 1, nullptr, "replace"),
                               c && c->kind() == value_kind::VALUE_INT ? std::get<int64_t>(c->v) : -1, a.line);
            }
            if (n == "find") {
                size_t p = s.find(str_arg(a, 0, nullptr, "find"));
                return value(p == std::string::npos ? int64_t(-1) : int64_t(p));
            }
            if (n == "format") error(a.line, "unsupported method 'format'", errc::ERRC_UNSUPPORTED);
        }
        if (obj.is_dict()) {
            const value_dict& d = obj.dict();
            if (n == "items") {
                value_list l;
                for (const auto& kv : d.items) l.push_back(value(value_list{value(kv.first), kv.second}));
                return value(std::move(l));
            }
            if (n == "keys" || n == "values") {
                value_list l;
                for (const auto& kv : d.items) l.push_back(n == "keys" ? value(kv.first) : kv.second);
                return value(std::move(l));
            }
            if (n == "get") {
                const value* k = arg(a, 0, nullptr);
                if (!k) error(a.line, "get() needs a key");
                const value* v = k->is_string() ? d.find(k->str()) : nullptr;
                if (v) return *v;
                const value* def = arg(a, 1, "default");
                return def ? *def : value(none_t{});
            }
        }
        if (obj.is_undefined()) error(a.line, "method '" + n + "' called on an undefined value");
        error(a.line, "unsupported method '" + n + "' on " + kind_name(obj), errc::ERRC_UNSUPPORTED);
    }

    static std::string capitalize(const std::string& s) {
        std::string o = map_case(s, false);
        if (!o.empty() && static_cast<unsigned char>(o[0]) < 0x80) o[0] = char(std::toupper(o[0]));
        return o;
    }
    static std::string title(const std::string& s) {
        std::string o = s;
        bool start = true;
        for (char& c : o) {
            if (static_cast<unsigned char>(c) >= 0x80) {
                start = false;
                continue;
            }
            if (std::isalpha(static_cast<unsigned char>(c))) {
                c = char(start ? std::toupper(c) : std::tolower(c));
                start = false;
            } else {
                start = true;
            }
        }
        return o;
    }

    int64_t length(const value& v, int line) {
        if (v.is_string()) return int64_t(cp_offsets(v.str()).size()) - 1;
        if (v.is_list()) return int64_t(v.list().size());
        if (v.is_dict()) return int64_t(v.dict().items.size());
        error(line, std::string("length of ") + kind_name(v));
    }

    value filter(const std::string& n, const value& v, call_args& a) {
        if (n == "trim") {
            if (!v.is_string()) return value(strip_chars(to_str(v), " \t\n\r\f\v", true, true));
            const value* c = arg(a, 0, "chars");
            return value(strip_chars(v.str(), c && c->is_string() ? c->str() : " \t\n\r\f\v", true, true));
        }
        if (n == "length" || n == "count") return value(length(v, a.line));
        if (n == "tojson") {
            const value* ind = arg(a, 0, "indent");
            int indent = ind && ind->kind() == value_kind::VALUE_INT ? int(std::clamp<int64_t>(std::get<int64_t>(ind->v), 0, 16)) : -1;
            std::string o;
            write_json(o, v, indent, 0, 0);
            check_size(o.size(), a.line);
            return value(std::move(o));
        }
        if (n == "upper" || n == "lower") return value(map_case(to_str(v), n == "upper"));
        if (n == "capitalize") return value(capitalize(to_str(v)));
        if (n == "title") return value(title(to_str(v)));
        if (n == "default" || n == "d") {
            const value* def = arg(a, 0, "default_value");
            const value* boolean = arg(a, 1, "boolean");
            bool use = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
            if (use) return def ? *def : value(std::string());
            return v;
        }
        if (n == "first" || n == "last") {
            if (v.is_list()) {
                if (v.list().empty()) return value();
                return n == "first" ? v.list().front() : v.list().back();
            }
            if (v.is_string()) {
                auto off = cp_offsets(v.str());
                if (off.size() < 2) return value();
                size_t k = n == "first" ? 0 : off.size() - 2;
                return value(v.str().substr(off[k], off[k + 1] - off[k]));
            }
            error(a.line, n + " of " + kind_name(v));
        }
        if (n == "join") {
            const value* sep = arg(a, 0, "d");
            std::string d = sep ? to_str(*sep) : "";
            if (!v.is_list()) error(a.line, std::string("join of ") + kind_name(v));
            std::string o;
            bool first = true;
            for (const auto& x : v.list()) {
                if (!first) o += d;
                first = false;
                o += to_str(x);
                check_size(o.size(), a.line);
            }
            return value(std::move(o));
        }
        if (n == "replace") {
            const value* c = arg(a, 2, "count");
            return replace(to_str(v), str_arg(a, 0, "old", "replace"), str_arg(a, 1, "new", "replace"),
                           c && c->kind() == value_kind::VALUE_INT ? std::get<int64_t>(c->v) : -1, a.line);
        }
        if (n == "string") return value(to_str(v));
        if (n == "list") {
            if (v.is_list()) return v;
            if (v.is_dict()) return method(v, "keys", a);
            if (v.is_string()) {
                value_list l;
                auto off = cp_offsets(v.str());
                for (size_t i = 0; i + 1 < off.size(); ++i) l.push_back(value(v.str().substr(off[i], off[i + 1] - off[i])));
                return value(std::move(l));
            }
            error(a.line, std::string("list of ") + kind_name(v));
        }
        if (n == "items") {
            if (!v.is_dict()) error(a.line, std::string("items of ") + kind_name(v));
            return method(v, "items", a);
        }
        if (n == "selectattr" || n == "rejectattr" || n == "select" || n == "reject") {
            if (!v.is_list()) error(a.line, n + " of " + kind_name(v));
            bool by_attr = n == "selectattr" || n == "rejectattr";
            bool keep_true = n == "selectattr" || n == "select";
            size_t first = 0;
            std::string attr;
            if (by_attr) attr = str_arg(a, first++, nullptr, n.c_str());
            const value* tname = arg(a, first, nullptr);
            if (tname && !tname->is_string()) error(a.line, n + ": test name must be a string");
            call_args rest;
            rest.line = a.line;
            for (size_t k = first + 1; k < a.pos.size(); ++k) rest.pos.push_back(a.pos[k]);
            value_list l;
            for (const auto& item : v.list()) {
                step(a.line);
                value x = by_attr ? get_attr(item, attr, a.line) : item;
                bool r = tname ? test(tname->str(), x, rest) : x.truthy();
                if (r == keep_true) l.push_back(item);
            }
            return value(std::move(l));
        }
        if (n == "map") {
            if (!v.is_list()) error(a.line, "map of " + std::string(kind_name(v)));
            const value* attr = kwarg(a, "attribute");
            const value* fname = a.pos.empty() ? nullptr : &a.pos[0];
            if (!attr && (!fname || !fname->is_string())) error(a.line, "map needs attribute= or a filter name");
            call_args rest;
            rest.line = a.line;
            for (size_t k = 1; k < a.pos.size(); ++k) rest.pos.push_back(a.pos[k]);
            value_list l;
            for (const auto& item : v.list()) {
                step(a.line);
                if (attr) {
                    value x = attr->is_string() ? get_attr(item, attr->str(), a.line) : value();
                    const value* def = kwarg(a, "default");
                    l.push_back(x.is_undefined() && def ? *def : x);
                } else {
                    l.push_back(filter(fname->str(), item, rest));
                }
            }
            return value(std::move(l));
        }
        if (n == "unique") {
            if (!v.is_list()) error(a.line, "unique of " + std::string(kind_name(v)));
            value_list l;
            for (const auto& item : v.list()) {
                step(a.line);
                bool seen = false;
                for (const auto& y : l) seen = seen || equal(item, y);
                if (!seen) l.push_back(item);
            }
            return value(std::move(l));
        }
        if (n == "int") {
            if (v.kind() == value_kind::VALUE_INT) return v;
            if (v.kind() == value_kind::VALUE_FLOAT) return value(int64_t(std::get<double>(v.v)));
            if (v.kind() == value_kind::VALUE_BOOL) return value(int64_t(std::get<bool>(v.v)));
            if (v.is_string()) {
                int64_t r = 0;
                auto res = std::from_chars(v.str().data(), v.str().data() + v.str().size(), r);
                return value(res.ec == std::errc() ? r : int64_t(0));
            }
            return value(int64_t(0));
        }
        if (n == "abs" && v.is_number())
            return v.kind() == value_kind::VALUE_INT ? value(std::get<int64_t>(v.v) < 0 ? -std::get<int64_t>(v.v) : std::get<int64_t>(v.v))
                                                     : value(std::fabs(std::get<double>(v.v)));
        error(a.line, "unsupported filter '" + n + "'", errc::ERRC_UNSUPPORTED);
    }

    bool test(const std::string& n, const value& v, call_args& a) {
        if (n == "defined") return !v.is_undefined();
        if (n == "undefined") return v.is_undefined();
        if (n == "none") return v.is_none();
        if (n == "string") return v.is_string();
        if (n == "number") return v.is_number();
        if (n == "integer") return v.kind() == value_kind::VALUE_INT;
        if (n == "float") return v.kind() == value_kind::VALUE_FLOAT;
        if (n == "boolean") return v.kind() == value_kind::VALUE_BOOL;
        if (n == "true") return v.kind() == value_kind::VALUE_BOOL && std::get<bool>(v.v);
        if (n == "false") return v.kind() == value_kind::VALUE_BOOL && !std::get<bool>(v.v);
        if (n == "mapping") return v.is_dict();
        if (n == "sequence" || n == "iterable") return v.is_list() || v.is_string() || v.is_dict();
        if (n == "callable") return v.kind() == value_kind::VALUE_FUNCTION;
        if (n == "odd" || n == "even" || n == "divisibleby") {
            if (v.kind() != value_kind::VALUE_INT) error(a.line, "'" + n + "' test needs an integer");
            int64_t x = std::get<int64_t>(v.v);
            if (n == "odd") return x % 2 != 0;
            if (n == "even") return x % 2 == 0;
            const value* d = arg(a, 0, "num");
            if (!d || d->kind() != value_kind::VALUE_INT || std::get<int64_t>(d->v) == 0)
                error(a.line, "divisibleby needs a non-zero integer");
            return x % std::get<int64_t>(d->v) == 0;
        }
        if (n == "eq" || n == "equalto" || n == "sameas" || n == "ne") {
            const value* o = arg(a, 0, nullptr);
            if (!o) error(a.line, "'" + n + "' test needs an argument");
            return n == "ne" ? !equal(v, *o) : equal(v, *o);
        }
        if (n == "in") {
            const value* o = arg(a, 0, nullptr);
            if (!o) error(a.line, "'in' test needs an argument");
            return contains(*o, v, a.line);
        }
        error(a.line, "unsupported test '" + n + "'", errc::ERRC_UNSUPPORTED);
    }
};

}  // namespace

std::string to_json(const value& v, int indent) {
    std::string o;
    write_json(o, v, indent, 0, 0);
    return o;
}

value from_json(const std::string& text) {
    nlohmann::ordered_json j;
    try {
        j = nlohmann::ordered_json::parse(text);
    } catch (const std::exception& e) {
        fail(errc::ERRC_FORMAT, std::string("template variable JSON: ") + e.what());
    }
    to_nlohmann_depth_check(j, 0);
    return from_nlohmann(j);
}

std::string render(const std::string& source, const std::vector<std::pair<std::string, value>>& vars, const limits& lim,
                   const std::string& name) {
    stmt_list prog = parse(source, lim, name);
    evaluator ev(lim, name);
    ev.scopes.emplace_back();
    for (const auto& kv : vars) ev.scopes.back()[kv.first] = kv.second;
    ev.scopes.emplace_back();
    try {
        ev.exec(prog);
    } catch (const break_signal&) {
        fail(errc::ERRC_FORMAT, name + ": 'break' outside a for loop");
    } catch (const continue_signal&) {
        fail(errc::ERRC_FORMAT, name + ": 'continue' outside a for loop");
    }
    return std::move(ev.out);
}

}  // namespace fathom::io::jinja

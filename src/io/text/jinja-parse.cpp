// Lexer and recursive-descent parser for the Jinja subset used by chat templates.
#include <cctype>
#include <cstring>

#include "core/error.h"
#include "io/text/jinja-ast.h"

namespace fathom::io::jinja::detail {
namespace {

enum class tok_kind : int {
    TOK_TEXT,
    TOK_VAR_BEGIN,
    TOK_VAR_END,
    TOK_BLOCK_BEGIN,
    TOK_BLOCK_END,
    TOK_NAME,
    TOK_STRING,
    TOK_INT,
    TOK_FLOAT,
    TOK_OP,
    TOK_EOF,
};

struct token {
    tok_kind kind;
    std::string text;
    int line = 0;
    int64_t i = 0;
    double f = 0;
};

[[noreturn]] void syntax_error(const std::string& name, int line, const std::string& msg,
                               errc code = errc::ERRC_FORMAT) {
    fail(code, name + " line " + std::to_string(line) + ": " + msg);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

class lexer {
public:
    lexer(const std::string& src, const std::string& name) : s_(src), name_(name) {}

    std::vector<token> run() {
        size_t text_start = 0;
        bool strip_next = false;
        while (pos_ < s_.size()) {
            size_t open = find_open(pos_);
            std::string text = s_.substr(pos_, open - pos_);
            int text_line = line_;
            advance_lines(pos_, open);
            pos_ = open;
            if (strip_next) {
                size_t k = 0;
                while (k < text.size() && is_space(text[k])) ++k;
                text.erase(0, k);
                strip_next = false;
            }
            if (open >= s_.size()) {
                emit_text(text, text_line);
                break;
            }
            char kind = s_[open + 1];
            char mod = open + 2 < s_.size() ? s_[open + 2] : '\0';
            if (mod == '-') {
                while (!text.empty() && is_space(text.back())) text.pop_back();
            } else if (kind != '{' && mod != '+') {
                // lstrip_blocks: drop spaces/tabs between the line start and a block or comment tag.
                size_t k = open;
                while (k > text_start && (s_[k - 1] == ' ' || s_[k - 1] == '\t')) --k;
                if (k == 0 || s_[k - 1] == '\n') {
                    size_t n = open - k;
                    while (n > 0 && !text.empty() && (text.back() == ' ' || text.back() == '\t')) {
                        text.pop_back();
                        --n;
                    }
                }
            }
            emit_text(text, text_line);
            pos_ = open + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
            bool strip_after = false;
            if (kind == '#') {
                size_t close = s_.find("#}", pos_);
                if (close == std::string::npos) syntax_error(name_, line_, "unterminated comment");
                strip_after = close > pos_ && s_[close - 1] == '-';
                advance_lines(pos_, close + 2);
                pos_ = close + 2;
            } else {
                bool var = kind == '{';
                out_.push_back({var ? tok_kind::TOK_VAR_BEGIN : tok_kind::TOK_BLOCK_BEGIN, "", line_});
                strip_after = lex_tag(var);
            }
            if (strip_after) {
                strip_next = true;
            } else if (kind != '{') {
                // trim_blocks: the first newline after a block or comment tag goes.
                if (pos_ < s_.size() && s_[pos_] == '\n') {
                    ++pos_;
                    ++line_;
                } else if (pos_ + 1 < s_.size() && s_[pos_] == '\r' && s_[pos_ + 1] == '\n') {
                    pos_ += 2;
                    ++line_;
                }
            }
            text_start = pos_;
        }
        out_.push_back({tok_kind::TOK_EOF, "", line_});
        return std::move(out_);
    }

private:
    const std::string& s_;
    const std::string& name_;
    size_t pos_ = 0;
    int line_ = 1;
    std::vector<token> out_;

    size_t find_open(size_t from) const {
        for (size_t p = from; p + 1 < s_.size(); ++p)
            if (s_[p] == '{' && (s_[p + 1] == '{' || s_[p + 1] == '%' || s_[p + 1] == '#')) return p;
        return s_.size();
    }
    void advance_lines(size_t from, size_t to) {
        for (size_t p = from; p < to && p < s_.size(); ++p)
            if (s_[p] == '\n') ++line_;
    }
    void emit_text(const std::string& text, int line) {
        if (!text.empty()) out_.push_back({tok_kind::TOK_TEXT, text, line});
    }

    // Lexes tokens up to the closing delimiter; returns true when it carried '-' (strip following whitespace).
    bool lex_tag(bool var) {
        const char close = var ? '}' : '%';
        while (true) {
            while (pos_ < s_.size() && is_space(s_[pos_])) {
                if (s_[pos_] == '\n') ++line_;
                ++pos_;
            }
            if (pos_ >= s_.size()) syntax_error(name_, line_, var ? "unterminated '{{'" : "unterminated '{%'");
            char c = s_[pos_];
            if (c == '-' && pos_ + 2 < s_.size() + 0 && s_[pos_ + 1] == close && s_[pos_ + 2] == '}') {
                pos_ += 3;
                out_.push_back({var ? tok_kind::TOK_VAR_END : tok_kind::TOK_BLOCK_END, "", line_});
                return true;
            }
            if (c == close && pos_ + 1 < s_.size() && s_[pos_ + 1] == '}') {
                pos_ += 2;
                out_.push_back({var ? tok_kind::TOK_VAR_END : tok_kind::TOK_BLOCK_END, "", line_});
                return false;
            }
            if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                size_t b = pos_;
                while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
                out_.push_back({tok_kind::TOK_NAME, s_.substr(b, pos_ - b), line_});
            } else if (std::isdigit(static_cast<unsigned char>(c))) {
                lex_number();
            } else if (c == '\'' || c == '"') {
                lex_string(c);
            } else {
                static const char* ops2[] = {"==", "!=", "<=", ">=", "//", "**"};
                std::string op;
                for (const char* o : ops2)
                    if (s_.compare(pos_, 2, o) == 0) op = o;
                if (op.empty()) {
                    if (!std::strchr("<>+-*/%~|.,:()[]{}=", c))
                        syntax_error(name_, line_, std::string("unexpected character '") + c + "'");
                    op = std::string(1, c);
                }
                pos_ += op.size();
                out_.push_back({tok_kind::TOK_OP, op, line_});
            }
        }
    }

    void lex_number() {
        size_t b = pos_;
        bool is_float = false;
        while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
        if (pos_ + 1 < s_.size() && s_[pos_] == '.' && std::isdigit(static_cast<unsigned char>(s_[pos_ + 1]))) {
            is_float = true;
            ++pos_;
            while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            size_t q = pos_ + 1;
            if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
            if (q < s_.size() && std::isdigit(static_cast<unsigned char>(s_[q]))) {
                is_float = true;
                pos_ = q;
                while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
            }
        }
        std::string t;
        for (size_t k = b; k < pos_; ++k)
            if (s_[k] != '_') t += s_[k];
        token tk{is_float ? tok_kind::TOK_FLOAT : tok_kind::TOK_INT, t, line_};
        if (is_float) {
            tk.f = std::strtod(t.c_str(), nullptr);
        } else {
            int64_t v = 0;
            for (char d : t) {
                if (v > (INT64_MAX - (d - '0')) / 10) syntax_error(name_, line_, "integer literal too large");
                v = v * 10 + (d - '0');
            }
            tk.i = v;
        }
        out_.push_back(tk);
    }

    static void put_utf8(std::string& o, uint32_t cp) {
        if (cp < 0x80) {
            o += char(cp);
        } else if (cp < 0x800) {
            o += char(0xC0 | (cp >> 6));
            o += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            o += char(0xE0 | (cp >> 12));
            o += char(0x80 | ((cp >> 6) & 0x3F));
            o += char(0x80 | (cp & 0x3F));
        } else {
            o += char(0xF0 | (cp >> 18));
            o += char(0x80 | ((cp >> 12) & 0x3F));
            o += char(0x80 | ((cp >> 6) & 0x3F));
            o += char(0x80 | (cp & 0x3F));
        }
    }

    void lex_string(char q) {
        int start_line = line_;
        ++pos_;
        std::string o;
        while (true) {
            if (pos_ >= s_.size()) syntax_error(name_, start_line, "unterminated string literal");
            char c = s_[pos_++];
            if (c == q) break;
            if (c == '\n') ++line_;
            if (c != '\\') {
                o += c;
                continue;
            }
            if (pos_ >= s_.size()) syntax_error(name_, start_line, "unterminated string literal");
            char e = s_[pos_++];
            switch (e) {
                case 'n': o += '\n'; break;
                case 't': o += '\t'; break;
                case 'r': o += '\r'; break;
                case '0': o += '\0'; break;
                case 'b': o += '\b'; break;
                case 'f': o += '\f'; break;
                case '\\': o += '\\'; break;
                case '\'': o += '\''; break;
                case '"': o += '"'; break;
                case '\n': ++line_; break;
                case 'x':
                case 'u':
                case 'U': {
                    size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    uint32_t cp = 0;
                    for (size_t k = 0; k < n; ++k) {
                        char h = pos_ < s_.size() ? s_[pos_] : '\0';
                        if (!std::isxdigit(static_cast<unsigned char>(h)))
                            syntax_error(name_, line_, std::string("bad \\") + e + " escape in string literal");
                        cp = cp * 16 + uint32_t(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
                        ++pos_;
                    }
                    if (cp > 0x10FFFF) syntax_error(name_, line_, "escape beyond U+10FFFF in string literal");
                    put_utf8(o, cp);
                    break;
                }
                default:
                    o += '\\';
                    o += e;
            }
        }
        out_.push_back({tok_kind::TOK_STRING, o, start_line});
    }
};

class parser {
public:
    parser(std::vector<token> toks, const limits& lim, const std::string& name)
        : t_(std::move(toks)), lim_(lim), name_(name) {}

    stmt_list parse_all() {
        std::string end;
        stmt_list body = parse_body({}, &end);
        return body;
    }

private:
    std::vector<token> t_;
    const limits& lim_;
    const std::string& name_;
    size_t p_ = 0;
    int depth_ = 0;

    struct depth_guard {
        parser& p;
        explicit depth_guard(parser& pp) : p(pp) {
            if (++p.depth_ > p.lim_.max_depth)
                syntax_error(p.name_, p.cur().line, "nesting deeper than " + std::to_string(p.lim_.max_depth));
        }
        ~depth_guard() { --p.depth_; }
    };

    const token& cur() const { return t_[p_]; }
    const token& peek(size_t k = 1) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
    [[noreturn]] void error(const std::string& msg, errc code = errc::ERRC_FORMAT) const {
        syntax_error(name_, cur().line, msg, code);
    }
    bool is_op(const char* op) const { return cur().kind == tok_kind::TOK_OP && cur().text == op; }
    bool is_name(const char* n) const { return cur().kind == tok_kind::TOK_NAME && cur().text == n; }
    bool accept_op(const char* op) {
        if (!is_op(op)) return false;
        ++p_;
        return true;
    }
    bool accept_name(const char* n) {
        if (!is_name(n)) return false;
        ++p_;
        return true;
    }
    std::string describe() const {
        switch (cur().kind) {
            case tok_kind::TOK_EOF: return "end of template";
            case tok_kind::TOK_VAR_END: return "'}}'";
            case tok_kind::TOK_BLOCK_END: return "'%}'";
            case tok_kind::TOK_TEXT: return "text";
            case tok_kind::TOK_STRING: return "string";
            default: return "'" + cur().text + "'";
        }
    }
    void expect_op(const char* op) {
        if (!accept_op(op)) error(std::string("expected '") + op + "', got " + describe());
    }
    std::string expect_name() {
        if (cur().kind != tok_kind::TOK_NAME) error("expected a name, got " + describe());
        return t_[p_++].text;
    }
    void expect_block_end() {
        if (cur().kind != tok_kind::TOK_BLOCK_END) error("expected '%}', got " + describe());
        ++p_;
    }

    // Parses statements until a block tag whose name is in `stops`; leaves *end = that tag name (or "" at EOF).
    stmt_list parse_body(const std::vector<std::string>& stops, std::string* end) {
        depth_guard g(*this);
        stmt_list out;
        while (true) {
            const token& tk = cur();
            if (tk.kind == tok_kind::TOK_EOF) {
                if (!stops.empty()) error("missing '{% " + stops.back() + " %}'");
                *end = "";
                return out;
            }
            if (tk.kind == tok_kind::TOK_TEXT) {
                out.push_back({stmt_kind::STMT_TEXT, tk.line, tk.text, nullptr, nullptr, {}, {}, {}});
                ++p_;
            } else if (tk.kind == tok_kind::TOK_VAR_BEGIN) {
                ++p_;
                stmt s{stmt_kind::STMT_OUTPUT, tk.line, "", nullptr, nullptr, {}, {}, {}};
                s.e = parse_expr();
                if (cur().kind != tok_kind::TOK_VAR_END) error("expected '}}', got " + describe());
                ++p_;
                out.push_back(std::move(s));
            } else if (tk.kind == tok_kind::TOK_BLOCK_BEGIN) {
                ++p_;
                if (cur().kind != tok_kind::TOK_NAME) error("expected a tag name, got " + describe());
                std::string tag = cur().text;
                for (const auto& s : stops)
                    if (s == tag) {
                        ++p_;
                        *end = tag;
                        return out;
                    }
                out.push_back(parse_tag(tag));
            } else {
                error("unexpected " + describe());
            }
        }
    }

    stmt parse_tag(const std::string& tag) {
        int line = cur().line;
        ++p_;
        stmt s{stmt_kind::STMT_TEXT, line, "", nullptr, nullptr, {}, {}, {}};
        if (tag == "if") {
            s.kind = stmt_kind::STMT_IF;
            s.conds.push_back(parse_expr());
            expect_block_end();
            while (true) {
                std::string end;
                s.bodies.push_back(parse_body({"elif", "else", "endif"}, &end));
                if (end == "elif") {
                    s.conds.push_back(parse_expr());
                    expect_block_end();
                } else if (end == "else") {
                    expect_block_end();
                    s.bodies.push_back(parse_body({"endif"}, &end));
                    expect_block_end();
                    break;
                } else {
                    expect_block_end();
                    break;
                }
            }
        } else if (tag == "for") {
            s.kind = stmt_kind::STMT_FOR;
            s.vars.push_back(expect_name());
            while (accept_op(",")) s.vars.push_back(expect_name());
            if (!accept_name("in")) error("expected 'in' in for tag, got " + describe());
            s.e = parse_expr(false);
            if (accept_name("if")) s.cond = parse_expr(false);
            if (is_name("recursive")) error("unsupported 'recursive' for loop", errc::ERRC_UNSUPPORTED);
            expect_block_end();
            std::string end;
            s.bodies.push_back(parse_body({"else", "endfor"}, &end));
            expect_block_end();
            if (end == "else") {
                s.bodies.push_back(parse_body({"endfor"}, &end));
                expect_block_end();
            }
        } else if (tag == "set") {
            s.kind = stmt_kind::STMT_SET;
            s.vars.push_back(expect_name());
            if (accept_op(".")) s.vars.push_back(expect_name());
            if (is_op(",")) error("unsupported tuple assignment in set tag", errc::ERRC_UNSUPPORTED);
            if (cur().kind == tok_kind::TOK_BLOCK_END) error("unsupported block set tag", errc::ERRC_UNSUPPORTED);
            expect_op("=");
            s.e = parse_expr();
            expect_block_end();
        } else if (tag == "break" || tag == "continue") {
            s.kind = tag == "break" ? stmt_kind::STMT_BREAK : stmt_kind::STMT_CONTINUE;
            expect_block_end();
        } else if (tag == "generation") {
            s.kind = stmt_kind::STMT_BLOCK;
            expect_block_end();
            std::string end;
            s.bodies.push_back(parse_body({"endgeneration"}, &end));
            expect_block_end();
        } else {
            static const char* known[] = {"elif", "else", "endif", "endfor", "endset", "endgeneration"};
            for (const char* k : known)
                if (tag == k) syntax_error(name_, line, "unexpected tag '" + tag + "'");
            syntax_error(name_, line, "unsupported tag '" + tag + "'", errc::ERRC_UNSUPPORTED);
        }
        return s;
    }

    expr_ptr node(expr_kind k, int line) {
        auto e = std::make_unique<expr>();
        e->kind = k;
        e->line = line;
        return e;
    }

    // expr := or_expr ['if' or_expr ['else' expr]]; with_cond=false inside for headers ("for x in xs if c").
    expr_ptr parse_expr(bool with_cond = true) {
        depth_guard g(*this);
        expr_ptr e = parse_or();
        if (with_cond && is_name("if")) {
            int line = cur().line;
            ++p_;
            auto c = node(expr_kind::EXPR_COND, line);
            c->kids.push_back(std::move(e));
            c->kids.push_back(parse_or());
            c->kids.push_back(accept_name("else") ? parse_expr() : nullptr);
            return c;
        }
        return e;
    }

    expr_ptr binary(const std::string& op, expr_ptr a, expr_ptr b, int line) {
        auto e = node(expr_kind::EXPR_BINARY, line);
        e->name = op;
        e->kids.push_back(std::move(a));
        e->kids.push_back(std::move(b));
        return e;
    }

    expr_ptr parse_or() {
        expr_ptr e = parse_and();
        while (is_name("or")) {
            int line = cur().line;
            ++p_;
            e = binary("or", std::move(e), parse_and(), line);
        }
        return e;
    }
    expr_ptr parse_and() {
        expr_ptr e = parse_not();
        while (is_name("and")) {
            int line = cur().line;
            ++p_;
            e = binary("and", std::move(e), parse_not(), line);
        }
        return e;
    }
    expr_ptr parse_not() {
        if (is_name("not")) {
            depth_guard g(*this);
            int line = cur().line;
            ++p_;
            auto e = node(expr_kind::EXPR_UNARY, line);
            e->name = "not";
            e->kids.push_back(parse_not());
            return e;
        }
        return parse_compare();
    }
    expr_ptr parse_compare() {
        expr_ptr e = parse_add();
        while (true) {
            int line = cur().line;
            std::string op;
            if (cur().kind == tok_kind::TOK_OP &&
                (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" ||
                 cur().text == "<=" || cur().text == ">=")) {
                op = cur().text;
                ++p_;
            } else if (is_name("in")) {
                op = "in";
                ++p_;
            } else if (is_name("not") && peek().kind == tok_kind::TOK_NAME && peek().text == "in") {
                op = "not in";
                p_ += 2;
            } else {
                return e;
            }
            e = binary(op, std::move(e), parse_add(), line);
        }
    }
    expr_ptr parse_add() {
        expr_ptr e = parse_concat();
        while (is_op("+") || is_op("-")) {
            std::string op = cur().text;
            int line = cur().line;
            ++p_;
            e = binary(op, std::move(e), parse_concat(), line);
        }
        return e;
    }
    expr_ptr parse_concat() {
        expr_ptr e = parse_mul();
        while (is_op("~")) {
            int line = cur().line;
            ++p_;
            e = binary("~", std::move(e), parse_mul(), line);
        }
        return e;
    }
    expr_ptr parse_mul() {
        expr_ptr e = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            std::string op = cur().text;
            int line = cur().line;
            ++p_;
            e = binary(op, std::move(e), parse_pow(), line);
        }
        return e;
    }
    expr_ptr parse_pow() {
        expr_ptr e = parse_unary();
        while (is_op("**")) {
            int line = cur().line;
            ++p_;
            e = binary("**", std::move(e), parse_unary(), line);
        }
        return e;
    }
    expr_ptr parse_unary() {
        depth_guard g(*this);
        if (is_op("-") || is_op("+")) {
            auto e = node(expr_kind::EXPR_UNARY, cur().line);
            e->name = cur().text;
            ++p_;
            e->kids.push_back(parse_unary());
            return e;
        }
        return parse_filters(parse_postfix(parse_primary()));
    }

    void parse_call_args(expr& call) {
        // '(' already consumed
        if (accept_op(")")) return;
        while (true) {
            if (cur().kind == tok_kind::TOK_NAME && peek().kind == tok_kind::TOK_OP && peek().text == "=") {
                call.kwnames.push_back(cur().text);
                p_ += 2;
            } else {
                if (is_op("*") || is_op("**")) error("unsupported argument unpacking", errc::ERRC_UNSUPPORTED);
                call.kwnames.push_back("");
            }
            call.kids.push_back(parse_expr());
            if (accept_op(")")) return;
            expect_op(",");
            if (accept_op(")")) return;
        }
    }

    expr_ptr parse_postfix(expr_ptr e) {
        while (true) {
            int line = cur().line;
            if (accept_op(".")) {
                auto a = node(expr_kind::EXPR_ATTR, line);
                if (cur().kind == tok_kind::TOK_INT) {
                    a->kind = expr_kind::EXPR_INDEX;
                    a->kids.push_back(std::move(e));
                    auto lit = node(expr_kind::EXPR_LITERAL, line);
                    lit->lit = value(cur().i);
                    ++p_;
                    a->kids.push_back(std::move(lit));
                } else {
                    a->name = expect_name();
                    a->kids.push_back(std::move(e));
                }
                e = std::move(a);
            } else if (accept_op("[")) {
                depth_guard g(*this);
                expr_ptr parts[3];
                int n = 0;
                bool slice = false;
                while (true) {
                    if (!is_op(":") && !is_op("]")) parts[n] = parse_expr();
                    if (accept_op(":")) {
                        slice = true;
                        if (++n > 2) error("too many ':' in slice");
                        continue;
                    }
                    expect_op("]");
                    break;
                }
                auto s = node(slice ? expr_kind::EXPR_SLICE : expr_kind::EXPR_INDEX, line);
                if (!slice && !parts[0]) error("empty subscript");
                s->kids.push_back(std::move(e));
                s->kids.push_back(std::move(parts[0]));
                if (slice) {
                    s->kids.push_back(std::move(parts[1]));
                    s->kids.push_back(std::move(parts[2]));
                }
                e = std::move(s);
            } else if (accept_op("(")) {
                depth_guard g(*this);
                auto c = node(expr_kind::EXPR_CALL, line);
                c->kids.push_back(std::move(e));
                c->kwnames.push_back("");
                parse_call_args(*c);
                e = std::move(c);
            } else {
                return e;
            }
        }
    }

    expr_ptr parse_filters(expr_ptr e) {
        while (true) {
            int line = cur().line;
            if (accept_op("|")) {
                auto f = node(expr_kind::EXPR_FILTER, line);
                f->name = expect_name();
                f->kids.push_back(std::move(e));
                f->kwnames.push_back("");
                if (accept_op("(")) parse_call_args(*f);
                e = std::move(f);
            } else if (is_name("is")) {
                ++p_;
                auto t = node(expr_kind::EXPR_TEST, line);
                t->negate = accept_name("not");
                if (cur().kind != tok_kind::TOK_NAME) error("expected a test name after 'is', got " + describe());
                t->name = t_[p_++].text;
                t->kids.push_back(std::move(e));
                t->kwnames.push_back("");
                if (accept_op("(")) {
                    parse_call_args(*t);
                } else if (cur().kind == tok_kind::TOK_STRING || cur().kind == tok_kind::TOK_INT ||
                           (cur().kind == tok_kind::TOK_NAME && cur().text != "and" && cur().text != "or" &&
                            cur().text != "if" && cur().text != "else" && cur().text != "in" && cur().text != "not")) {
                    t->kids.push_back(parse_postfix(parse_primary()));
                    t->kwnames.push_back("");
                }
                e = std::move(t);
            } else {
                return e;
            }
        }
    }

    expr_ptr parse_primary() {
        depth_guard g(*this);
        const token& tk = cur();
        int line = tk.line;
        switch (tk.kind) {
            case tok_kind::TOK_STRING: {
                std::string s = tk.text;
                ++p_;
                while (cur().kind == tok_kind::TOK_STRING) s += t_[p_++].text;  // adjacent literals join
                auto e = node(expr_kind::EXPR_LITERAL, line);
                e->lit = value(std::move(s));
                return e;
            }
            case tok_kind::TOK_INT: {
                auto e = node(expr_kind::EXPR_LITERAL, line);
                e->lit = value(tk.i);
                ++p_;
                return e;
            }
            case tok_kind::TOK_FLOAT: {
                auto e = node(expr_kind::EXPR_LITERAL, line);
                e->lit = value(tk.f);
                ++p_;
                return e;
            }
            case tok_kind::TOK_NAME: {
                std::string n = tk.text;
                ++p_;
                auto e = node(expr_kind::EXPR_LITERAL, line);
                if (n == "true" || n == "True") {
                    e->lit = value(true);
                } else if (n == "false" || n == "False") {
                    e->lit = value(false);
                } else if (n == "none" || n == "None") {
                    e->lit = value(none_t{});
                } else {
                    e->kind = expr_kind::EXPR_NAME;
                    e->name = n;
                }
                return e;
            }
            case tok_kind::TOK_OP:
                if (accept_op("(")) {
                    expr_ptr e = parse_expr();
                    if (is_op(",")) error("unsupported tuple literal", errc::ERRC_UNSUPPORTED);
                    expect_op(")");
                    return e;
                }
                if (accept_op("[")) {
                    auto e = node(expr_kind::EXPR_LIST, line);
                    while (!accept_op("]")) {
                        e->kids.push_back(parse_expr());
                        if (!is_op("]")) expect_op(",");
                    }
                    return e;
                }
                if (accept_op("{")) {
                    auto e = node(expr_kind::EXPR_DICT, line);
                    while (!accept_op("}")) {
                        e->kids.push_back(parse_expr());
                        expect_op(":");
                        e->kids.push_back(parse_expr());
                        if (!is_op("}")) expect_op(",");
                    }
                    return e;
                }
                break;
            default:
                break;
        }
        error("unexpected " + describe() + " in expression");
    }
};

}  // namespace

stmt_list parse(const std::string& source, const limits& lim, const std::string& name) {
    lexer lx(source, name);
    parser ps(lx.run(), lim, name);
    return ps.parse_all();
}

}  // namespace fathom::io::jinja::detail

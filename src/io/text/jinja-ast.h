// Internal syntax tree of the Jinja subset, shared by the parser (jinja-parse.cpp) and evaluator (jinja.cpp).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "io/text/jinja.h"

namespace fathom::io::jinja::detail {

enum class expr_kind : int {
    EXPR_LITERAL,
    EXPR_NAME,
    EXPR_LIST,     // kids: items
    EXPR_DICT,     // kids: key, value, key, value...
    EXPR_ATTR,     // kids[0].name
    EXPR_INDEX,    // kids[0][kids[1]]
    EXPR_SLICE,    // kids[0][kids[1]:kids[2]:kids[3]] (null kids allowed)
    EXPR_CALL,     // kids[0](kids[1..]), kwnames parallel to args ("" = positional)
    EXPR_FILTER,   // kids[0] | name(kids[1..])
    EXPR_TEST,     // kids[0] is [not] name(kids[1..]); negate
    EXPR_UNARY,    // op kids[0]: "-", "+", "not"
    EXPR_BINARY,   // kids[0] op kids[1]
    EXPR_COND,     // kids[1] ? kids[0] : kids[2] (kids[2] may be null)
};

struct expr;
using expr_ptr = std::unique_ptr<expr>;

struct expr {
    expr_kind kind;
    int line = 0;
    std::string name;  // NAME, ATTR, FILTER, TEST names; UNARY/BINARY operator
    value lit;
    bool negate = false;
    std::vector<expr_ptr> kids;
    std::vector<std::string> kwnames;
};

enum class stmt_kind : int {
    STMT_TEXT,
    STMT_OUTPUT,    // {{ e }}
    STMT_IF,        // conds[i] → bodies[i]; bodies.size() == conds.size() + 1 when an else exists
    STMT_FOR,       // for vars in e [if cond]: bodies[0]; else bodies[1]
    STMT_SET,       // set vars[0] (= name) or vars[0].vars[1] = e
    STMT_BREAK,
    STMT_CONTINUE,
    STMT_BLOCK,     // transparent wrapper ({% generation %})
};

struct stmt;
using stmt_list = std::vector<stmt>;

struct stmt {
    stmt_kind kind;
    int line = 0;
    std::string text;
    expr_ptr e;
    expr_ptr cond;
    std::vector<std::string> vars;
    std::vector<expr_ptr> conds;
    std::vector<stmt_list> bodies;
};

// Parses template source into statements; throws fathom::error "<name> line N: ..." on bad syntax or
// unsupported constructs.
stmt_list parse(const std::string& source, const limits& lim, const std::string& name);

}  // namespace fathom::io::jinja::detail

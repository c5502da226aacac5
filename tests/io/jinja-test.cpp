// Jinja subset: expressions, statements, filters, methods, whitespace control, errors and hostile-input bounds.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/text/jinja.h"

using namespace fathom;
using namespace fathom::io::jinja;

namespace {

std::vector<std::pair<std::string, value>> default_vars() {
    return {
        {"messages", from_json(R"([{"role":"system","content":"sys"},{"role":"user","content":"hi"},)"
                               R"({"role":"assistant","content":"yo"}])")},
        {"name", value("World")},
        {"n", value(3)},
        {"xs", value(value_list{value(1), value(2), value(3)})},
    };
}

std::string r(const std::string& src, const limits& lim = {}) { return render(src, default_vars(), lim); }

// Renders, expecting a fathom::error; returns its message.
std::string err(const std::string& src, errc* code = nullptr, const limits& lim = {}) {
    try {
        std::string out = r(src, lim);
        return "(no error; rendered '" + out.substr(0, 80) + "')";
    } catch (const fathom::error& e) {
        if (code) *code = e.code();
        return e.what();
    }
}

}  // namespace

TEST(jinja, text_and_expressions) {
    EXPECT_EQ(r("Hello {{ name }}!"), "Hello World!");
    EXPECT_EQ(r("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }}"),
              "7 9 3 -4 1 2 1024");
    EXPECT_EQ(r("{{ 7 / 2 }} {{ 1.5 + 1 }} {{ 4 / 2 }}"), "3.5 2.5 2.0");
    EXPECT_EQ(r("{{ 'a' ~ 1 ~ none }} {{ 'ab' + 'cd' }} {{ 'ab' * 3 }}"), "a1None abcd ababab");
    EXPECT_EQ(r("{{ true }} {{ none }} {{ [1, 'a', none] }} {{ {'k': 'v'} }}"), "True None [1, 'a', None] {'k': 'v'}");
    EXPECT_EQ(r("{{ undefined_thing }}|{{ n > 2 and n < 4 }}|{{ not n }}|{{ 0 or 'x' }}|{{ 1 == 1.0 }}"),
              "|True|False|x|True");
    EXPECT_EQ(r("{{ 'yes' if n == 3 else 'no' }} {{ 'yes' if n == 4 else 'no' }} [{{ 'a' if false }}]"), "yes no []");
    EXPECT_EQ(r("{{ 2 in xs }} {{ 5 not in xs }} {{ 'ell' in 'hello' }} {{ 'role' in messages[0] }}"),
              "True True True True");
}

TEST(jinja, string_literal_escapes) {
    EXPECT_EQ(r(R"({{ 'a\nb\t\'c\' \\ "d" \u00e9 \x41' }})"), "a\nb\t'c' \\ \"d\" \xc3\xa9 A");
    EXPECT_EQ(r(R"({{ "it's" }}{{ 'x' 'y' }})"), "it'sxy");
}

TEST(jinja, attribute_subscript_and_slicing) {
    EXPECT_EQ(r("{{ messages[1]['role'] }} {{ messages[1].content }} {{ messages[-1].role }} {{ messages.0.role }}"),
              "user hi assistant system");
    EXPECT_EQ(r("{% for m in messages[1:] %}{{ m.role }},{% endfor %}"), "user,assistant,");
    EXPECT_EQ(r("{{ xs[:2] }} {{ xs[::-1] }} {{ xs[-2:] }} {{ xs[5:] }}"), "[1, 2] [3, 2, 1] [2, 3] []");
    EXPECT_EQ(r("{{ 'hello'[1:3] }} {{ 'hello'[-3:] }} {{ 'hello'[::-1] }} {{ 'hello'[0] }}"), "el llo olleh h");
    EXPECT_EQ(r("{{ 'h\xc3\xa9llo'[1] }}{{ 'h\xc3\xa9llo'[:2] | length }}{{ 'h\xc3\xa9llo' | length }}"),
              "\xc3\xa9" "25");  // code points, not bytes
    EXPECT_EQ(r("{{ messages[9] is defined }} {{ messages[0].nothing is defined }}"), "False False");
}

TEST(jinja, if_elif_else) {
    const char* t = "{% if n == 1 %}one{% elif n == 3 %}three{% else %}other{% endif %}";
    EXPECT_EQ(r(t), "three");
    EXPECT_EQ(r("{% if n == 9 %}a{% elif n == 8 %}b{% else %}c{% endif %}"), "c");
    EXPECT_EQ(r("{% if n == 9 %}a{% endif %}."), ".");
}

TEST(jinja, for_loop_variables) {
    EXPECT_EQ(r("{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.length }}"
                "{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %};{% endfor %}"),
              "1/0/3F;2/1/3;3/2/3L;");
    EXPECT_EQ(r("{% for x in xs %}{{ loop.revindex }}{{ loop.revindex0 }}{% endfor %}"), "322110");
    EXPECT_EQ(r("{% for a in xs %}{% for b in xs %}{{ loop.index }}{% endfor %}{{ loop.index }}|{% endfor %}"),
              "1231|1232|1233|");
    EXPECT_EQ(r("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
    EXPECT_EQ(r("{% for x in xs if x != 2 %}{{ x }}{{ loop.length }}{% endfor %}"), "1232");
    EXPECT_EQ(r("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
    EXPECT_EQ(r("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}"
                "{% endif %}{{ x }}{% endfor %}"),
              "013");
}

TEST(jinja, set_scoping_and_namespace) {
    // A plain set inside a loop does not leak out; namespace attributes do.
    EXPECT_EQ(r("{% set c = 0 %}{% for x in xs %}{% set c = c + x %}{% endfor %}{{ c }}"), "0");
    EXPECT_EQ(r("{% set ns = namespace(c=0, s='') %}{% for x in xs %}{% set ns.c = ns.c + x %}"
                "{% set ns.s = ns.s ~ x %}{% endfor %}{{ ns.c }} {{ ns.s }}"),
              "6 123");
    EXPECT_EQ(r("{% set a = [1, 2] + [3] %}{{ a | length }}{% set d = {'x': {'y': 'z'}} %}{{ d.x.y }}"), "3z");
    errc code{};
    std::string e = err("{% set q = 1 %}{% set q.x = 2 %}", &code);
    EXPECT_NE(e.find("non-namespace 'q'"), std::string::npos) << e;
}

TEST(jinja, whitespace_control_and_blocks) {
    EXPECT_EQ(r("a  {{- ' b ' -}}  c"), "a b c");
    EXPECT_EQ(r("a\n  {%- if true -%}\n  x\n  {%- endif -%}\n  b"), "axb");
    // trim_blocks: newline after a block tag goes; lstrip_blocks: indentation before a block tag goes.
    EXPECT_EQ(r("{% for x in xs %}\n    {% if x > 1 %}\n{{ x }}\n    {% endif %}\n{% endfor %}\n"), "2\n3\n");
    EXPECT_EQ(r("a {# comment {{ x }} #}b\n{# c #}\nd"), "a b\nd");
    EXPECT_EQ(r("x{{ 'y' }}\nz"), "xy\nz");  // no trimming after {{ }}
    EXPECT_EQ(r("{% generation %}g{% endgeneration %}"), "g");
}

TEST(jinja, filters) {
    EXPECT_EQ(r("[{{ '  a b \n' | trim }}] {{ 'Ab' | upper }} {{ 'Ab' | lower }} {{ xs | length }} {{ 'abc' | count }}"),
              "[a b] AB ab 3 3");
    EXPECT_EQ(r("{{ xs | first }} {{ xs | last }} {{ xs | join(', ') }} {{ 'a-b-a' | replace('a', 'x') }}"),
              "1 3 1, 2, 3 x-b-x");
    EXPECT_EQ(r("{{ missing | default('d') }} {{ '' | default('e', true) }} {{ '' | default('e') }}."), "d e .");
    EXPECT_EQ(r("{{ 5 | string ~ 'x' }} {{ xs | string }} {{ 'hello world' | title }} {{ 'hELLO' | capitalize }}"),
              "5x [1, 2, 3] Hello World Hello");
    EXPECT_EQ(r("{{ messages[0] | tojson }}"), R"({"role": "system", "content": "sys"})");
    EXPECT_EQ(r("{{ {'a': [1, true, none], 'q': 'x\"\n\u00e9'} | tojson }}"), "{\"a\": [1, true, null], \"q\": \"x\\\"\\n\xc3\xa9\"}");
    EXPECT_EQ(r("{{ {'a': [1]} | tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ]\n}");
}

TEST(jinja, list_filters) {
    EXPECT_EQ(r("{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}"), "['hi']");
    EXPECT_EQ(r("{{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | join(',') }}"),
              "system,assistant");
    EXPECT_EQ(r("{{ (messages | selectattr('role', 'equalto', 'user') | list | last).content }}"), "hi");
    EXPECT_EQ(r("{{ messages | selectattr('tool_calls', 'undefined') | length }}"), "3");
    EXPECT_EQ(r("{{ messages | selectattr('content') | length }} {{ xs | select('odd') | list }}"
                " {{ xs | reject('odd') | list }} {{ ['a', 'b'] | map('upper') | join }}"),
              "3 [1, 3] [2] AB");
    EXPECT_EQ(r("{{ [1, 2, 1, 3, 2] | unique | list }} {{ messages | map(attribute='x', default='-') | join }}"),
              "[1, 2, 3] ---");
}

TEST(jinja, methods) {
    EXPECT_EQ(r("[{{ '  x  '.strip() }}][{{ 'xxaxx'.strip('x') }}][{{ '  x'.lstrip() }}][{{ 'x  '.rstrip() }}]"),
              "[x][a][x][x]");
    EXPECT_EQ(r("{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith('lo') }}"),
              "True True False");
    EXPECT_EQ(r("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'x</think>y'.split('</think>')[-1] }}"),
              "['a', 'b', '', 'c'] ['a', 'b'] y");
    EXPECT_EQ(r("{{ messages[0].get('role') }} {{ messages[0].get('nope', 'dflt') }} {{ messages[0].get('nope') }}"),
              "system dflt None");
    EXPECT_EQ(r("{% for k, v in messages[1].items() %}{{ k }}:{{ v }} {% endfor %}{{ messages[1].keys() }}"),
              "role:user content:hi ['role', 'content']");
    EXPECT_EQ(r("{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}{{ 'aXa'.replace('a', '-') }}"), "ABab-X-");
}

TEST(jinja, tests_is) {
    EXPECT_EQ(r("{{ n is defined }} {{ zz is defined }} {{ zz is not defined }} {{ none is none }} {{ n is not none }}"),
              "True False True True True");
    EXPECT_EQ(r("{{ name is string }} {{ n is string }} {{ n is number }} {{ xs is sequence }} {{ messages[0] is mapping }}"),
              "True False True True True");
    EXPECT_EQ(r("{{ n is odd }} {{ n is even }} {{ 9 is divisibleby(3) }} {{ n is eq 3 }}"), "True False True True");
}

TEST(jinja, raise_exception_message) {
    errc code{};
    std::string e = err("line1\n{% if true %}\n{{ raise_exception('Roles must alternate!') }}{% endif %}", &code);
    EXPECT_EQ(e, "chat template line 3: raise_exception: Roles must alternate!");
    EXPECT_EQ(code, errc::ERRC_INVALID_ARGUMENT);
}

TEST(jinja, unsupported_constructs_are_named) {
    errc code{};
    EXPECT_EQ(err("a\nb\n{% macro f(x) %}{{ x }}{% endmacro %}", &code), "chat template line 3: unsupported tag 'macro'");
    EXPECT_EQ(code, errc::ERRC_UNSUPPORTED);
    EXPECT_EQ(err("{% include 'x.j2' %}"), "chat template line 1: unsupported tag 'include'");
    EXPECT_EQ(err("{{ xs | frobnicate }}"), "chat template line 1: unsupported filter 'frobnicate'");
    EXPECT_EQ(err("\n{{ n is prime }}"), "chat template line 2: unsupported test 'prime'");
    EXPECT_EQ(err("{{ 'a'.zfill(3) }}"), "chat template line 1: unsupported method 'zfill' on string");
    EXPECT_EQ(err("{{ cycler(1) }}"), "chat template line 1: unknown function 'cycler'");
    EXPECT_EQ(err("{% set a, b = 1, 2 %}"), "chat template line 1: unsupported tuple assignment in set tag");
}

TEST(jinja, syntax_errors) {
    EXPECT_EQ(err("{% if true %}x"), "chat template line 1: missing '{% endif %}'");
    EXPECT_EQ(err("{{ 1 + }}"), "chat template line 1: unexpected '}}' in expression");
    EXPECT_EQ(err("x\n{{ 'abc }}"), "chat template line 2: unterminated string literal");
    EXPECT_EQ(err("{% endfor %}"), "chat template line 1: unexpected tag 'endfor'");
    EXPECT_EQ(err("{# open"), "chat template line 1: unterminated comment");
    EXPECT_EQ(err("{{ x $ y }}"), "chat template line 1: unexpected character '$'");
    EXPECT_EQ(err("{% break %}"), "chat template: 'break' outside a for loop");
    EXPECT_NE(err("{{ 1 // 0 }}").find("division by zero"), std::string::npos);
    EXPECT_NE(err("{{ xs.nope.deeper }}").find("attribute 'deeper' of an undefined value"), std::string::npos);
}

TEST(jinja, hostile_inputs_fail_fast) {
    errc code{};
    // Deep nesting of parentheses, lists, ifs and nots.
    std::string deep = "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}";
    EXPECT_NE(err(deep, &code).find("nesting deeper than"), std::string::npos);
    std::string ifs;
    for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
    EXPECT_NE(err(ifs).find("nesting deeper than"), std::string::npos);
    EXPECT_NE(err("{{ " + std::string(50000, '[') + " }}").find("nesting deeper than"), std::string::npos);
    EXPECT_NE(err("{{ " + [] { std::string s; for (int i = 0; i < 50000; ++i) s += "not "; return s; }() + "1 }}")
                  .find("nesting deeper than"),
              std::string::npos);
    // Huge loops hit the step budget.
    EXPECT_NE(err("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", &code)
                  .find("steps"),
              std::string::npos);
    EXPECT_EQ(code, errc::ERRC_UNSUPPORTED);
    EXPECT_NE(err("{% for a in range(99999999999) %}{% endfor %}").find("range() too long"), std::string::npos);
    // Exponential string growth and huge repetition hit the size limit.
    limits small;
    small.max_output = 1 << 20;
    EXPECT_NE(err("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                  nullptr, small)
                  .find("larger than"),
              std::string::npos);
    EXPECT_NE(err("{{ 'x' * 9000000000000 }}", nullptr, small).find("larger than"), std::string::npos);
    EXPECT_NE(err("{% for i in range(2000000) %}xxxxxxxx{% endfor %}", nullptr, small).find("larger than"),
              std::string::npos);
    // A namespace cannot be stored inside itself, directly or through a list or another namespace (a cycle would
    // recurse forever in tojson or printing, and leak).
    EXPECT_NE(err("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns | tojson }}").find("inside itself"),
              std::string::npos);
    EXPECT_NE(err("{% set ns = namespace() %}{% set ns.l = [1, [ns]] %}{{ ns }}").find("inside itself"),
              std::string::npos);
    EXPECT_NE(err("{% set a = namespace() %}{% set b = namespace(x=a) %}{% set a.y = b %}").find("inside itself"),
              std::string::npos);
    EXPECT_NE(err("{{ 2 ** 9999999 }}").find("integer overflow"), std::string::npos);
}

TEST(jinja, json_round_trip) {
    value v = from_json(R"({"a":[1,2.5,"x",null,true],"b":{"c":"d"}})");
    EXPECT_EQ(to_json(v), R"({"a": [1, 2.5, "x", null, true], "b": {"c": "d"}})");
    EXPECT_THROW(from_json("{bad"), fathom::error);
}

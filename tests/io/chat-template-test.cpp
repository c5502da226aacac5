// Built-in chat templates rendered to hand-written expected strings, plus render_chat options and errors.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/text/chat-template.h"

using namespace fathom;
using namespace fathom::io;

namespace {

std::vector<chat_message> conversation() {
    return {{"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}};
}

std::string render_builtin(const std::string& name, const std::string& bos, const std::string& eos,
                           bool add_gen = true, std::vector<chat_message> msgs = conversation()) {
    chat_render_options o;
    o.add_generation_prompt = add_gen;
    o.bos_token = bos;
    o.eos_token = eos;
    return render_chat(builtin_chat_template(name), msgs, o);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const fathom::error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(chat_template, llama2) {
    EXPECT_EQ(render_builtin("llama2", "<s>", "</s>"),
              "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]");
    // Without a system turn; contents are stripped.
    EXPECT_EQ(render_builtin("llama2", "<s>", "</s>", true, {{"user", "  hi \n"}}), "<s>[INST] hi [/INST]");
}

TEST(chat_template, llama2_rejects_non_alternating_roles) {
    std::string e = error_of([] { render_builtin("llama2", "<s>", "</s>", true, {{"user", "a"}, {"user", "b"}}); });
    EXPECT_NE(e.find("Conversation roles must alternate"), std::string::npos) << e;
    EXPECT_NE(e.find("chat template line "), std::string::npos) << e;
}

TEST(chat_template, llama3) {
    EXPECT_EQ(render_builtin("llama3", "<|begin_of_text|>", "<|eot_id|>"),
              "<|begin_of_text|>"
              "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    EXPECT_EQ(render_builtin("llama3", "<|begin_of_text|>", "", false, {{"user", " x \n"}}),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>");
}

TEST(chat_template, chatml) {
    EXPECT_EQ(render_builtin("chatml", "", "<|im_end|>"),
              "<|im_start|>system\nS<|im_end|>\n"
              "<|im_start|>user\nU1<|im_end|>\n"
              "<|im_start|>assistant\nA1<|im_end|>\n"
              "<|im_start|>user\nU2<|im_end|>\n"
              "<|im_start|>assistant\n");
    // Default system prompt when none is given; "qwen" is an alias.
    EXPECT_EQ(render_builtin("qwen", "", "", false, {{"user", "hi"}}),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n");
}

TEST(chat_template, deepseek) {
    EXPECT_EQ(render_builtin("deepseek", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
              "<｜begin▁of▁sentence｜>S\n\nUser: U1\n\nAssistant: A1<｜end▁of▁sentence｜>User: U2\n\nAssistant:");
}

TEST(chat_template, deepseek3) {
    EXPECT_EQ(render_builtin("deepseek3", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
              "<｜begin▁of▁sentence｜>S<｜User｜>U1<｜Assistant｜>A1<｜end▁of▁sentence｜><｜User｜>U2<｜Assistant｜>");
    // Two system prompts join with a blank line; reasoning before </think> is dropped from history.
    EXPECT_EQ(render_builtin("deepseek3", "<B>", "<E>", false,
                             {{"system", "a"}, {"system", "b"}, {"user", "q"}, {"assistant", "think</think>ans"}}),
              "<B>a\n\nb<｜User｜>q<｜Assistant｜>ans<E>");
}

TEST(chat_template, mistral) {
    EXPECT_EQ(render_builtin("mistral", "<s>", "</s>"), "<s>[INST] S\n\nU1 [/INST] A1</s>[INST] U2 [/INST]");
    EXPECT_EQ(render_builtin("mistral", "<s>", "</s>", true, {{"user", "U1"}}), "<s>[INST] U1 [/INST]");
}

TEST(chat_template, phi3) {
    EXPECT_EQ(render_builtin("phi3", "<s>", "<|endoftext|>"),
              "<|system|>\nS<|end|>\n<|user|>\nU1<|end|>\n<|assistant|>\nA1<|end|>\n<|user|>\nU2<|end|>\n<|assistant|>\n");
    EXPECT_EQ(render_builtin("phi3", "<s>", "<|endoftext|>", false, {{"user", "x"}}),
              "<|user|>\nx<|end|>\n<|endoftext|>");
}

TEST(chat_template, names_and_unknown) {
    std::vector<std::string> names = builtin_chat_template_names();
    EXPECT_EQ(names, (std::vector<std::string>{"llama2", "llama3", "chatml", "deepseek", "deepseek3", "mistral", "phi3"}));
    try {
        builtin_chat_template("vicuna");
        FAIL() << "no error";
    } catch (const fathom::error& e) {
        EXPECT_EQ(e.code(), errc::ERRC_INVALID_ARGUMENT);
        EXPECT_NE(std::string(e.what()).find("'vicuna'"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("llama3"), std::string::npos);
    }
}

TEST(chat_template, extra_vars_and_custom_template) {
    chat_render_options o;
    o.add_generation_prompt = false;
    o.extra_vars.emplace_back("tools", jinja::from_json(R"([{"name":"f","args":{"x":1}}])"));
    o.extra_vars.emplace_back("messages", jinja::value("overridden"));  // the real messages win
    std::string t = "{{ tools | tojson }}|{{ messages | length }}|{{ add_generation_prompt }}|{{ messages[0].content }}";
    EXPECT_EQ(render_chat(t, {{"user", "hey"}}, o), R"([{"name": "f", "args": {"x": 1}}]|1|False|hey)");
}

TEST(chat_template, reference_defaults) {
    // tools and documents are none unless given; strftime_now is defined and formats the current date.
    chat_render_options o;
    std::string t = "{{ tools is none }} {{ documents is none }} {{ strftime_now is defined }} {{ strftime_now('%Y') | length }}";
    EXPECT_EQ(render_chat(t, {}, o), "True True True 4");
}

TEST(chat_template, tool_aware_template_in_reference_style) {
    // Written the way published templates are: "{%-" tags on indented lines, relying on trim/lstrip blocks.
    const std::string t = R"J({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == "user" or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
)J";
    std::vector<chat_message> msgs = {{"system", "S"}, {"user", "U1"}};
    chat_render_options o;
    EXPECT_EQ(render_chat(t, msgs, o),
              "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\n");
    o.extra_vars.emplace_back("tools", jinja::from_json(R"([{"name":"get_time","parameters":{}}])"));
    EXPECT_EQ(render_chat(t, msgs, o),
              "<|im_start|>system\nS\n\n# Tools\n<tools>\n{\"name\": \"get_time\", \"parameters\": {}}\n</tools><|im_end|>\n"
              "<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\n");
    // Plain tags on their own lines leave no blank lines behind.
    EXPECT_EQ(render_chat("{% for m in messages %}\n  {% if m.role == 'user' %}\nU: {{ m.content }}\n  {% endif %}\n"
                          "{% endfor %}\n",
                          msgs, o),
              "U: U1\n");
}

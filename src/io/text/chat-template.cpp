// Chat template rendering and the built-in templates (llama2, llama3, chatml, deepseek, deepseek3, mistral, phi3).
#include "io/text/chat-template.h"

#include <ctime>

#include "core/error.h"

namespace fathom::io {
namespace {

// [INST] turns; the system prompt sits in <<SYS>> inside the first user turn; each exchange opens with BOS.
const char* LLAMA2 = R"J({%- if messages[0]['role'] == 'system' -%}
    {%- set system_message = messages[0]['content'] -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set system_message = none -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
    {%- endif -%}
    {%- if loop.first and system_message is not none -%}
        {%- set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] -%}
    {%- else -%}
        {%- set content = message['content'] -%}
    {%- endif -%}
    {%- if message['role'] == 'user' -%}
        {{- bos_token + '[INST] ' + content.strip() + ' [/INST]' -}}
    {%- elif message['role'] == 'assistant' -%}
        {{- ' ' + content.strip() + ' ' + eos_token -}}
    {%- endif -%}
{%- endfor -%})J";

// Header-delimited turns ending in <|eot_id|>.
const char* LLAMA3 = R"J({{- bos_token -}}
{%- for message in messages -%}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
{%- endif -%})J";

// ChatML as used by Qwen2: a default system turn when none is given.
const char* CHATML = R"J({%- for message in messages -%}
    {%- if loop.first and messages[0]['role'] != 'system' -%}
        {{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' -}}
    {%- endif -%}
    {{- '<|im_start|>' ~ message['role'] ~ '\n' ~ message['content'] ~ '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|im_start|>assistant\n' -}}
{%- endif -%})J";

// DeepSeek LLM chat: "User: ...\n\nAssistant: ...<eos>", system text first.
const char* DEEPSEEK = R"J({%- if add_generation_prompt is not defined -%}{%- set add_generation_prompt = false -%}{%- endif -%}
{{- bos_token -}}
{%- for message in messages -%}
    {%- if message['role'] == 'user' -%}
        {{- 'User: ' + message['content'] + '\n\n' -}}
    {%- elif message['role'] == 'assistant' -%}
        {{- 'Assistant: ' + message['content'] + eos_token -}}
    {%- elif message['role'] == 'system' -%}
        {{- message['content'] + '\n\n' -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- 'Assistant:' -}}
{%- endif -%})J";

// DeepSeek-V3: system prompts gathered up front, then <｜User｜> / <｜Assistant｜> turns.
const char* DEEPSEEK3 = R"J({%- set ns = namespace(system_prompt='', is_first_sp=true) -%}
{%- for message in messages -%}
    {%- if message['role'] == 'system' -%}
        {%- if ns.is_first_sp -%}
            {%- set ns.system_prompt = ns.system_prompt + message['content'] -%}
            {%- set ns.is_first_sp = false -%}
        {%- else -%}
            {%- set ns.system_prompt = ns.system_prompt + '\n\n' + message['content'] -%}
        {%- endif -%}
    {%- endif -%}
{%- endfor -%}
{{- bos_token -}}{{- ns.system_prompt -}}
{%- for message in messages -%}
    {%- if message['role'] == 'user' -%}
        {{- '<｜User｜>' + message['content'] -}}
    {%- elif message['role'] == 'assistant' -%}
        {%- set content = message['content'] -%}
        {%- if '</think>' in content -%}
            {%- set content = content.split('</think>')[-1] -%}
        {%- endif -%}
        {{- '<｜Assistant｜>' + content + eos_token -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<｜Assistant｜>' -}}
{%- endif -%})J";

// Mistral instruct: [INST] turns without per-turn BOS; a system prompt is prepended to the first user turn.
const char* MISTRAL = R"J({%- if messages[0]['role'] == 'system' -%}
    {%- set system_message = messages[0]['content'] | trim + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set system_message = '' -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{{- bos_token -}}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
    {%- endif -%}
    {%- if message['role'] == 'user' -%}
        {{- '[INST] ' + (system_message if loop.first else '') + message['content'] | trim + ' [/INST]' -}}
    {%- elif message['role'] == 'assistant' -%}
        {{- ' ' + message['content'] | trim + eos_token -}}
    {%- else -%}
        {{- raise_exception('Only user and assistant roles are supported after the system message') -}}
    {%- endif -%}
{%- endfor -%})J";

// Phi-3: <|role|>\n content <|end|>\n.
const char* PHI3 = R"J({%- for message in messages -%}
    {%- if message['role'] in ['system', 'user', 'assistant'] -%}
        {{- '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|assistant|>\n' -}}
{%- else -%}
    {{- eos_token -}}
{%- endif -%})J";

const std::vector<std::pair<std::string, std::string>>& builtins() {
    static const std::vector<std::pair<std::string, std::string>> t = {
        {"llama2", LLAMA2}, {"llama3", LLAMA3},       {"chatml", CHATML}, {"deepseek", DEEPSEEK},
        {"deepseek3", DEEPSEEK3}, {"mistral", MISTRAL}, {"phi3", PHI3},
    };
    return t;
}

}  // namespace

std::string render_chat(const std::string& template_source, const std::vector<chat_message>& messages,
                        const chat_render_options& opt) {
    jinja::value_list msgs;
    for (const auto& m : messages)
        msgs.push_back(jinja::make_dict({{"role", jinja::value(m.role)}, {"content", jinja::value(m.content)}}));
    // As the reference implementation does: tools and documents default to none, strftime_now is callable.
    std::vector<std::pair<std::string, jinja::value>> vars = {
        {"tools", jinja::value(jinja::none_t{})},
        {"documents", jinja::value(jinja::none_t{})},
        {"strftime_now", jinja::value(jinja::native_fn([](jinja::call_args& a) -> jinja::value {
             if (a.pos.empty() || !a.pos[0].is_string())
                 fail(errc::ERRC_INVALID_ARGUMENT, "chat template line " + std::to_string(a.line) +
                                                       ": strftime_now needs a format string");
             std::time_t t = std::time(nullptr);
             std::tm tm{};
             gmtime_r(&t, &tm);
             char buf[256];
             size_t n = a.pos[0].str().size() < 64 ? std::strftime(buf, sizeof buf, a.pos[0].str().c_str(), &tm) : 0;
             return jinja::value(std::string(buf, n));
         }))},
    };
    vars.insert(vars.end(), opt.extra_vars.begin(), opt.extra_vars.end());
    vars.emplace_back("messages", jinja::value(std::move(msgs)));
    vars.emplace_back("add_generation_prompt", jinja::value(opt.add_generation_prompt));
    vars.emplace_back("bos_token", jinja::value(opt.bos_token));
    vars.emplace_back("eos_token", jinja::value(opt.eos_token));
    return jinja::render(template_source, vars, opt.lim, "chat template");
}

const std::string& builtin_chat_template(const std::string& name) {
    const std::string key = name == "qwen" || name == "qwen2" ? "chatml" : name;
    for (const auto& kv : builtins())
        if (kv.first == key) return kv.second;
    std::string known;
    for (const auto& kv : builtins()) known += (known.empty() ? "" : ", ") + kv.first;
    fail(errc::ERRC_INVALID_ARGUMENT, "--chat-template: unknown template '" + name + "' (known: " + known + ", qwen)");
}

std::vector<std::string> builtin_chat_template_names() {
    std::vector<std::string> n;
    for (const auto& kv : builtins()) n.push_back(kv.first);
    return n;
}

}  // namespace fathom::io

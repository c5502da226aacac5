// Chat templates: render a conversation with a model's Jinja chat template or a built-in one by name.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "io/text/jinja.h"

namespace fathom::io {

struct chat_message {
    std::string role;     // "system", "user", "assistant", ...
    std::string content;
};

struct chat_render_options {
    bool add_generation_prompt = true;
    std::string bos_token;
    std::string eos_token;
    // Further template variables (e.g. "tools", "date_string"); they override nothing listed above.
    std::vector<std::pair<std::string, jinja::value>> extra_vars;
    jinja::limits lim;
};

// Renders `template_source` (Jinja) with messages, add_generation_prompt, bos_token, eos_token and extra_vars.
// Throws fathom::error "chat template line N: ..." on bad or unsupported templates and raise_exception().
std::string render_chat(const std::string& template_source, const std::vector<chat_message>& messages,
                        const chat_render_options& opt);

// Jinja source of a built-in template: llama2, llama3, chatml (alias qwen), deepseek, deepseek3, mistral, phi3.
// Throws fathom::error (ERRC_INVALID_ARGUMENT) for an unknown name, listing the known ones.
const std::string& builtin_chat_template(const std::string& name);

// Names of the built-in templates, in a stable order.
std::vector<std::string> builtin_chat_template_names();

}  // namespace fathom::io

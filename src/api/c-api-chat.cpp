// The C ABI's chat-template entry points: the list of built-in templates and rendering a conversation to prompt text.
#include <string>
#include <vector>

#include "api/c-api-internal.h"
#include "core/error.h"
#include "fathom/fathom.h"
#include "io/text/chat-template.h"

using namespace fathom;
using namespace fathom::capi;

namespace {

// "llama2, llama3, chatml, ..." (the names builtin_chat_template accepts, in their stable order).
std::string builtin_list() {
    std::string s;
    for (const std::string& n : io::builtin_chat_template_names()) s += (s.empty() ? "" : ", ") + n;
    return s;
}

bool is_builtin_name(const std::string& name) {
    if (name == "qwen" || name == "qwen2") return true;  // aliases of chatml
    for (const std::string& n : io::builtin_chat_template_names())
        if (n == name) return true;
    return false;
}

// A lone word such as "chatm1" is a mistyped template name, not a useful Jinja template (it would render itself).
bool looks_like_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    return true;
}

// Text of a special token of the model's vocabulary, or "" when the model has no tokenizer or no such token.
std::string special_text(const text::tokenizer& t, int32_t id) {
    return id >= 0 && id < t.n_vocab() ? t.token_text(id) : std::string();
}

}  // namespace

extern "C" const char* fathom_chat_builtin_templates(void) {
    static const char* list = [] {
        try {
            static const std::string s = builtin_list();
            return s.c_str();
        } catch (...) {  // (only bad_alloc is possible) no exception crosses the ABI
            return "";
        }
    }();
    return list;
}

extern "C" fathom_status fathom_chat_render(const fathom_model* model, const char* tmpl,
                                            const fathom_chat_message* messages, int64_t n_messages,
                                            int add_generation_prompt, char* buf, size_t capacity, size_t* len) {
    return guarded([&] {
        const char* fn = "fathom_chat_render";
        require(len, fn, "len");
        if (!model && !tmpl) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": model and tmpl are both NULL");
        if (n_messages < 0)
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": n_messages must be >= 0 (got " +
                                                  std::to_string(n_messages) + ")");
        if (n_messages > 0) require(messages, fn, "messages");
        if (capacity > 0) require(buf, fn, "buf");
        std::vector<io::chat_message> msgs;
        msgs.reserve(size_t(n_messages));
        for (int64_t i = 0; i < n_messages; ++i) {
            const std::string at = "messages[" + std::to_string(i) + "]";
            if (!messages[i].role) fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": " + at + ".role is NULL");
            if (!messages[i].content)
                fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": " + at + ".content is NULL");
            msgs.push_back(io::chat_message{messages[i].role, messages[i].content});
        }

        std::string source;
        if (!tmpl) {
            const io::meta_value* v = model->m->file.find("tokenizer.chat_template");
            if (!v)
                fail(errc::ERRC_UNSUPPORTED, model->path + ": has no tokenizer.chat_template; choose a built-in template (" +
                                                 builtin_list() + ")");
            source = v->as_string("tokenizer.chat_template");
        } else if (is_builtin_name(tmpl)) {
            source = io::builtin_chat_template(tmpl);
        } else if (looks_like_name(tmpl)) {
            fail(errc::ERRC_INVALID_ARGUMENT, std::string(fn) + ": unknown built-in chat template '" + tmpl +
                                                  "' (known: " + builtin_list() + ")");
        } else {
            source = tmpl;
        }

        io::chat_render_options opt;
        opt.add_generation_prompt = add_generation_prompt != 0;
        if (model && model->m->file.find("tokenizer.ggml.model")) {
            const text::tokenizer& t = tokenizer_of(model);
            opt.bos_token = special_text(t, t.bos());
            opt.eos_token = special_text(t, t.eos());
        }
        std::string out;
        try {
            out = io::render_chat(source, msgs, opt);
        } catch (const fathom::error& e) {  // "chat template line N: ..." with the entry point in front
            fail(e.code(), std::string(fn) + ": " + e.what());
        }
        copy_out_string(out, buf, capacity, len, fn);
    });
}

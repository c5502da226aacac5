// libFuzzer target: chat template source → Jinja parse and render with a fixed conversation and tight limits.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "io/text/chat-template.h"

using namespace fathom;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::vector<io::chat_message> msgs = {
        {"system", "S"}, {"user", "U1"}, {"assistant", "A1 </think> x"}, {"user", "U2"}};
    io::chat_render_options opt;
    opt.bos_token = "<s>";
    opt.eos_token = "</s>";
    opt.lim.max_steps = 200000;
    opt.lim.max_output = 1 << 20;
    opt.extra_vars.emplace_back("tools", io::jinja::from_json(R"([{"name":"f","parameters":{"x":[1,2.5,null]}}])"));
    try {
        std::string out = io::render_chat(std::string(reinterpret_cast<const char*>(data), size), msgs, opt);
        return out.size() > opt.lim.max_output ? 1 : 0;
    } catch (const fathom::error&) {
        return 0;
    }
}

// libFuzzer target: the JSONL readers of `fathom eval` (multiple choice, generation). Every accepted item must hold
// what the readers promise: two or more choices and a label indexing them.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "eval/evaluate.h"

using namespace fathom;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        for (const eval::mc_item& it : eval::parse_mc_jsonl(text, "fuzz.jsonl"))
            if (it.choices.size() < 2 || it.label < 0 || it.label >= int64_t(it.choices.size())) std::abort();
    } catch (const fathom::error&) {
    }
    try {
        (void)eval::parse_gen_jsonl(text, "fuzz.jsonl");
    } catch (const fathom::error&) {
    }
    return 0;
}

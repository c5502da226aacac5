// Error type thrown inside the library; C entry points map it to a fathom_status.
#pragma once
#include <stdexcept>
#include <string>

namespace fathom {

// Values match fathom_status in include/fathom/fathom.h.
enum class errc : int {
    ERRC_OK = 0,
    ERRC_INVALID_ARGUMENT = 1,  // caller passed something wrong (bad option, bad shape)
    ERRC_IO = 2,                // open/read/write/mmap failed
    ERRC_FORMAT = 3,            // file content is malformed (bad magic, offsets past end, ...)
    ERRC_UNSUPPORTED = 4,       // well-formed but not supported (unknown arch, dtype)
    ERRC_OUT_OF_MEMORY = 5,
    ERRC_INTERNAL = 6,
};

class error : public std::runtime_error {
public:
    error(errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
    errc code() const noexcept { return code_; }

private:
    errc code_;
};

// Throws fathom::error. Messages are one line and name the file or field: "model.gguf: tensor 'x': offset past end".
[[noreturn]] inline void fail(errc code, const std::string& message) { throw error(code, message); }

}  // namespace fathom

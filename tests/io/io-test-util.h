// Helpers for io tests: a hand-rolled little-endian byte builder, temp folders, and a safetensors writer.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace fathom::test {

// Appends values as GGUF stores them (little-endian, strings as u64 length + bytes).
struct byte_builder {
    std::vector<uint8_t> b;
    template <class T>
    byte_builder& put(T v) {
        uint8_t tmp[sizeof(T)];
        std::memcpy(tmp, &v, sizeof(T));
        b.insert(b.end(), tmp, tmp + sizeof(T));
        return *this;
    }
    byte_builder& u8(uint8_t v) { return put(v); }
    byte_builder& u32(uint32_t v) { return put(v); }
    byte_builder& u64(uint64_t v) { return put(v); }
    byte_builder& str(const std::string& s) {
        u64(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    byte_builder& raw(const void* p, size_t n) {
        const uint8_t* q = static_cast<const uint8_t*>(p);
        b.insert(b.end(), q, q + n);
        return *this;
    }
    byte_builder& pad(size_t align) {
        while (b.size() % align) b.push_back(0);
        return *this;
    }
    // GGUF header: magic, version, n_tensors, n_kv.
    byte_builder& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
        raw("GGUF", 4);
        return u32(version).u64(n_tensors).u64(n_kv);
    }
};

// A fresh, empty folder under the system temp dir, removed when the object dies.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> counter{0};
        path_ = (std::filesystem::temp_directory_path() /
                 ("fathom-io-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                    .string();
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

inline void write_file(const std::string& path, const void* data, size_t n) {
    std::ofstream f(path, std::ios::binary);
    f.write(static_cast<const char*>(data), std::streamsize(n));
    ASSERT_TRUE(f.good()) << path;
}
inline void write_file(const std::string& path, const std::vector<uint8_t>& b) { write_file(path, b.data(), b.size()); }
inline void write_file(const std::string& path, const std::string& s) { write_file(path, s.data(), s.size()); }

inline std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    return std::vector<uint8_t>(s.begin(), s.end());
}

// One tensor for write_safetensors: HF dtype name, HF shape (outermost first), raw bytes.
struct st_tensor {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
};

template <class T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
    std::vector<uint8_t> out(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
    return out;
}

// Writes a safetensors file: u64 header length, JSON header padded with spaces to 8 bytes, data.
inline void write_safetensors(const std::string& path, const std::vector<st_tensor>& ts) {
    nlohmann::json h = nlohmann::json::object();
    h["__metadata__"] = {{"format", "pt"}};
    uint64_t off = 0;
    for (const st_tensor& t : ts) {
        h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.data.size()}}};
        off += t.data.size();
    }
    std::string js = h.dump();
    while ((8 + js.size()) % 8) js += ' ';
    byte_builder b;
    b.u64(js.size()).raw(js.data(), js.size());
    for (const st_tensor& t : ts) b.raw(t.data.data(), t.data.size());
    write_file(path, b.b);
}

// Runs `f`, expecting a fathom::error with code `code` whose one-line message contains every phrase.
template <class F>
void expect_error(F&& f, errc code, std::initializer_list<std::string> phrases) {
    try {
        f();
        ADD_FAILURE() << "no error thrown; expected one containing '" << *phrases.begin() << "'";
    } catch (const fathom::error& e) {
        std::string msg = e.what();
        EXPECT_EQ(int(e.code()), int(code)) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line message: " << msg;
        for (const std::string& p : phrases) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    }
}

}  // namespace fathom::test

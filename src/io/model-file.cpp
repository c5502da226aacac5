// model_file containers: metadata values, tensor entries, lookups, and loading a GGUF file or HF folder by path.
#include "io/model-file.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sys/stat.h>

#include "core/error.h"

namespace fathom::io {

const char* gguf_type_name(gguf_type t) {
    switch (t) {
        case gguf_type::GGUF_UINT8: return "uint8";
        case gguf_type::GGUF_INT8: return "int8";
        case gguf_type::GGUF_UINT16: return "uint16";
        case gguf_type::GGUF_INT16: return "int16";
        case gguf_type::GGUF_UINT32: return "uint32";
        case gguf_type::GGUF_INT32: return "int32";
        case gguf_type::GGUF_FLOAT32: return "float32";
        case gguf_type::GGUF_BOOL: return "bool";
        case gguf_type::GGUF_STRING: return "string";
        case gguf_type::GGUF_ARRAY: return "array";
        case gguf_type::GGUF_UINT64: return "uint64";
        case gguf_type::GGUF_INT64: return "int64";
        case gguf_type::GGUF_FLOAT64: return "float64";
    }
    return "unknown";
}

// ---- meta_value

meta_value meta_value::u32(uint32_t v) {
    meta_value m;
    m.type = gguf_type::GGUF_UINT32;
    m.u = v;
    return m;
}
meta_value meta_value::i32(int32_t v) {
    meta_value m;
    m.type = gguf_type::GGUF_INT32;
    m.i = v;
    return m;
}
meta_value meta_value::u64(uint64_t v) {
    meta_value m;
    m.type = gguf_type::GGUF_UINT64;
    m.u = v;
    return m;
}
meta_value meta_value::f32(float v) {
    meta_value m;
    m.type = gguf_type::GGUF_FLOAT32;
    m.f = v;
    return m;
}
meta_value meta_value::boolean(bool v) {
    meta_value m;
    m.type = gguf_type::GGUF_BOOL;
    m.u = v ? 1 : 0;
    return m;
}
meta_value meta_value::str(std::string v) {
    meta_value m;
    m.type = gguf_type::GGUF_STRING;
    m.s = std::move(v);
    return m;
}
meta_value meta_value::array(gguf_type elem, std::vector<meta_value> items) {
    meta_value m;
    m.type = gguf_type::GGUF_ARRAY;
    m.arr_type = elem;
    m.arr = std::move(items);
    return m;
}

namespace {

bool is_unsigned(gguf_type t) {
    return t == gguf_type::GGUF_UINT8 || t == gguf_type::GGUF_UINT16 || t == gguf_type::GGUF_UINT32 ||
           t == gguf_type::GGUF_UINT64;
}
bool is_signed(gguf_type t) {
    return t == gguf_type::GGUF_INT8 || t == gguf_type::GGUF_INT16 || t == gguf_type::GGUF_INT32 ||
           t == gguf_type::GGUF_INT64;
}
bool is_float(gguf_type t) { return t == gguf_type::GGUF_FLOAT32 || t == gguf_type::GGUF_FLOAT64; }

[[noreturn]] void type_error(const std::string& key, const char* expected, gguf_type found) {
    fail(errc::ERRC_FORMAT, key + ": expected " + expected + ", found " + gguf_type_name(found));
}

std::string format_float(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

std::string quote(const std::string& s, size_t max_len) {
    std::string out = "\"";
    size_t n = 0;
    for (char c : s) {
        if (n++ == max_len) {
            out += "...";
            break;
        }
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '"') out += "\\\"";
        else if (static_cast<unsigned char>(c) < 0x20) out += '?';
        else out += c;
    }
    return out + "\"";
}

}  // namespace

int64_t meta_value::as_int(const std::string& key) const {
    if (is_unsigned(type) || type == gguf_type::GGUF_BOOL) {
        if (u > uint64_t(std::numeric_limits<int64_t>::max()))
            fail(errc::ERRC_FORMAT, key + ": integer value " + std::to_string(u) + " is out of range");
        return int64_t(u);
    }
    if (is_signed(type)) return i;
    type_error(key, "an integer", type);
}

double meta_value::as_float(const std::string& key) const {
    if (is_float(type)) return f;
    if (is_unsigned(type)) return double(u);
    if (is_signed(type)) return double(i);
    type_error(key, "a number", type);
}

bool meta_value::as_bool(const std::string& key) const {
    if (type == gguf_type::GGUF_BOOL) return u != 0;
    type_error(key, "a bool", type);
}

const std::string& meta_value::as_string(const std::string& key) const {
    if (type == gguf_type::GGUF_STRING) return s;
    type_error(key, "a string", type);
}

const std::vector<meta_value>& meta_value::as_array(const std::string& key) const {
    if (type == gguf_type::GGUF_ARRAY) return arr;
    type_error(key, "an array", type);
}

std::string meta_value::to_display() const {
    if (is_unsigned(type)) return std::to_string(u);
    if (is_signed(type)) return std::to_string(i);
    if (is_float(type)) return format_float(f);
    switch (type) {
        case gguf_type::GGUF_BOOL: return u ? "true" : "false";
        case gguf_type::GGUF_STRING: return quote(s, 80);
        case gguf_type::GGUF_ARRAY: {
            std::string out = "[";
            if (arr.size() > 8) {  // appended piecewise: GCC 12 warns (-Wrestrict) on "[" + to_string(...)
                out += std::to_string(arr.size());
                out += " x ";
                out += gguf_type_name(arr_type);
                return out + "]";
            }
            for (size_t k = 0; k < arr.size(); ++k) {
                if (k) out += ", ";
                out += arr[k].type == gguf_type::GGUF_STRING ? quote(arr[k].s, 24) : arr[k].to_display();
            }
            return out + "]";
        }
        default: break;
    }
    return "?";
}

// ---- tensor_entry

int64_t tensor_entry::nelements() const {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    return n;
}

tensor_view tensor_entry::view() const {
    if (ne.empty() || ne.size() > size_t(k_max_dims))
        fail(errc::ERRC_FORMAT, "tensor '" + name + "': " + std::to_string(ne.size()) + " dimensions (1 to 4 supported)");
    tensor_view v;
    v.type = type;
    v.data = data;
    v.n_dims = int(ne.size());
    for (size_t d = 0; d < ne.size(); ++d) v.ne[d] = ne[d];
    v.nb[0] = dtype_info(type).type_size;
    v.nb[1] = dtype_row_bytes(type, v.ne[0]);
    for (int d = 2; d < k_max_dims; ++d) v.nb[d] = v.nb[d - 1] * size_t(v.ne[d - 1]);
    return v;
}

// ---- model_file

const meta_value* model_file::find(const std::string& key) const {
    auto it = meta_index_.find(key);
    if (it != meta_index_.end() && it->second < meta.size() && meta[it->second].first == key)
        return &meta[it->second].second;
    for (const auto& kv : meta)  // index stale (vectors edited directly): fall back to a scan
        if (kv.first == key) return &kv.second;
    return nullptr;
}

const tensor_entry* model_file::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    if (it != tensor_index_.end() && it->second < tensors.size() && tensors[it->second].name == name)
        return &tensors[it->second];
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

void model_file::set(const std::string& key, meta_value v) {
    for (auto& kv : meta) {
        if (kv.first == key) {
            kv.second = std::move(v);
            return;
        }
    }
    meta_index_[key] = meta.size();
    meta.emplace_back(key, std::move(v));
}

void model_file::erase(const std::string& key) {
    for (size_t k = 0; k < meta.size(); ++k) {
        if (meta[k].first == key) {
            meta.erase(meta.begin() + std::ptrdiff_t(k));
            index();
            return;
        }
    }
}

void model_file::add_tensor(tensor_entry t) {
    if (find_tensor(t.name))
        fail(errc::ERRC_FORMAT, (path.empty() ? std::string("model") : path) + ": duplicate tensor name '" + t.name + "'");
    tensor_index_[t.name] = tensors.size();
    tensors.push_back(std::move(t));
}

void model_file::index() {
    meta_index_.clear();
    tensor_index_.clear();
    for (size_t k = 0; k < meta.size(); ++k) meta_index_.emplace(meta[k].first, k);
    for (size_t k = 0; k < tensors.size(); ++k) tensor_index_.emplace(tensors[k].name, k);
}

// ---- loading by path

model_file load_model_file(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) fail(errc::ERRC_IO, path + ": cannot open: " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        std::string dir = path;
        while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
        struct stat cs;
        if (::stat((dir + "/config.json").c_str(), &cs) != 0 && ::stat((dir + "/tokenizer.json").c_str(), &cs) == 0)
            return read_hf_tokenizer(dir);
        return read_hf(path);
    }
    // Peek at the magic without mapping: a file shorter than 4 bytes or with other bytes is not GGUF.
    char magic[4] = {0, 0, 0, 0};
    size_t got = 0;
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
        got = std::fread(magic, 1, 4, f);
        std::fclose(f);
    } else {
        fail(errc::ERRC_IO, path + ": cannot open: " + std::strerror(errno));
    }
    if (got == 4 && std::memcmp(magic, "GGUF", 4) == 0) return read_gguf(path);
    const size_t slash = path.find_last_of('/');
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.size() >= 5 && base.compare(base.size() - 5, 5, ".json") == 0) return read_hf_tokenizer(path);
    fail(errc::ERRC_FORMAT, path + ": not a GGUF file (bad magic), a tokenizer.json or a Hugging Face folder");
}

}  // namespace fathom::io

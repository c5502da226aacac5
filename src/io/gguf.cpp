// GGUF v2/v3 reader (every count, length and offset checked against the file size) and v3 writer.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/model-file.h"

namespace fathom::io {

namespace {

constexpr uint32_t k_default_alignment = 32;
constexpr int k_max_nesting = 8;                           // nested array depth
constexpr uint64_t k_max_meta_elements = uint64_t(1) << 22;  // array elements over all metadata (~4M)
constexpr uint64_t k_max_count = uint64_t(1) << 20;          // tensors, metadata keys
constexpr uint64_t k_max_reserve = 4096;                     // never reserve more than this from a file's count
constexpr uint64_t k_min_tensor_info = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim, type, offset
constexpr uint64_t k_min_kv = 8 + 4 + 1;                   // empty key, type, 1-byte value

// Bytes one element of `t` takes at least in the file (0 for unknown types).
uint64_t min_value_size(uint32_t t) {
    switch (gguf_type(t)) {
        case gguf_type::GGUF_UINT8:
        case gguf_type::GGUF_INT8:
        case gguf_type::GGUF_BOOL: return 1;
        case gguf_type::GGUF_UINT16:
        case gguf_type::GGUF_INT16: return 2;
        case gguf_type::GGUF_UINT32:
        case gguf_type::GGUF_INT32:
        case gguf_type::GGUF_FLOAT32: return 4;
        case gguf_type::GGUF_UINT64:
        case gguf_type::GGUF_INT64:
        case gguf_type::GGUF_FLOAT64:
        case gguf_type::GGUF_STRING: return 8;
        case gguf_type::GGUF_ARRAY: return 12;
    }
    return 0;
}

// What is being read, for error messages; built into a string only when an error is reported.
struct ctx {
    const char* prefix;
    const std::string* name = nullptr;
    const char* suffix = "";
    ctx(const char* p) : prefix(p) {}                      // NOLINT: implicit by design
    ctx(const std::string& p) : prefix(p.c_str()) {}       // NOLINT
    ctx(const char* p, const std::string& n, const char* s) : prefix(p), name(&n), suffix(s) {}
    std::string str() const { return std::string(prefix) + (name ? *name : std::string()) + suffix; }
};

class reader {
public:
    reader(const uint8_t* data, size_t size, const std::string& name) : p_(data), size_(size), name_(name) {}

    size_t pos() const { return pos_; }
    size_t remaining() const { return size_ - pos_; }

    [[noreturn]] void error(errc code, const std::string& what) const { fail(code, name_ + ": " + what); }

    void need(uint64_t n, const ctx& what) const {
        if (n > remaining())
            error(errc::ERRC_FORMAT, "truncated " + what.str() + " at offset " + std::to_string(pos_) + " (needs " +
                                         std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left)");
    }
    template <class T>
    T get(const ctx& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, p_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string str(const ctx& what) {
        uint64_t len = get<uint64_t>(what);
        if (len > remaining())
            error(errc::ERRC_FORMAT, what.str() + ": string length " + std::to_string(len) + " at offset " +
                                         std::to_string(pos_ - 8) + " exceeds the remaining " +
                                         std::to_string(remaining()) + " bytes");
        std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(len));
        pos_ += size_t(len);
        return s;
    }

private:
    const uint8_t* p_;
    size_t size_;
    size_t pos_ = 0;
    const std::string& name_;
};

struct meta_parser {
    reader& r;
    uint64_t elements = 0;

    meta_value value(uint32_t type, const std::string& key, int depth) {
        meta_value v;
        v.type = gguf_type(type);
        const ctx what("metadata '", key, "'");
        switch (gguf_type(type)) {
            case gguf_type::GGUF_UINT8: v.u = r.get<uint8_t>(what); break;
            case gguf_type::GGUF_INT8: v.i = r.get<int8_t>(what); break;
            case gguf_type::GGUF_UINT16: v.u = r.get<uint16_t>(what); break;
            case gguf_type::GGUF_INT16: v.i = r.get<int16_t>(what); break;
            case gguf_type::GGUF_UINT32: v.u = r.get<uint32_t>(what); break;
            case gguf_type::GGUF_INT32: v.i = r.get<int32_t>(what); break;
            case gguf_type::GGUF_UINT64: v.u = r.get<uint64_t>(what); break;
            case gguf_type::GGUF_INT64: v.i = r.get<int64_t>(what); break;
            case gguf_type::GGUF_FLOAT32: v.f = r.get<float>(what); break;
            case gguf_type::GGUF_FLOAT64: v.f = r.get<double>(what); break;
            case gguf_type::GGUF_BOOL: {
                uint8_t b = r.get<uint8_t>(what);
                if (b > 1) r.error(errc::ERRC_FORMAT, what.str() + ": bool value " + std::to_string(b) + " is not 0 or 1");
                v.u = b;
                break;
            }
            case gguf_type::GGUF_STRING: v.s = r.str(what); break;
            case gguf_type::GGUF_ARRAY: {
                if (depth >= k_max_nesting)
                    r.error(errc::ERRC_FORMAT,
                            what.str() + ": array nesting deeper than " + std::to_string(k_max_nesting) + " levels");
                uint32_t et = r.get<uint32_t>(ctx("metadata '", key, "' array type"));
                uint64_t esize = min_value_size(et);
                if (esize == 0)
                    r.error(errc::ERRC_FORMAT, what.str() + ": unknown array element type " + std::to_string(et));
                uint64_t n = r.get<uint64_t>(ctx("metadata '", key, "' array length"));
                if (n > r.remaining() / esize)
                    r.error(errc::ERRC_FORMAT, what.str() + ": array of " + std::to_string(n) + " " +
                                                   gguf_type_name(gguf_type(et)) + " elements exceeds the remaining " +
                                                   std::to_string(r.remaining()) + " bytes");
                elements += n;
                if (elements > k_max_meta_elements)
                    r.error(errc::ERRC_FORMAT, what.str() + ": metadata arrays hold more than " +
                                                   std::to_string(k_max_meta_elements) + " elements in total");
                v.arr_type = gguf_type(et);
                v.arr.reserve(size_t(std::min(n, k_max_reserve)));
                for (uint64_t k = 0; k < n; ++k) v.arr.push_back(value(et, key, depth + 1));
                break;
            }
            default:
                r.error(errc::ERRC_FORMAT, what.str() + ": unknown metadata value type " + std::to_string(type));
        }
        return v;
    }
};

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

model_file parse_gguf(const uint8_t* data, size_t size, const std::string& name) {
    reader r(data, size, name);
    model_file m;
    m.path = name;

    if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) r.error(errc::ERRC_FORMAT, "not a GGUF file (bad magic)");
    r.get<uint32_t>("magic");
    uint32_t version = r.get<uint32_t>("header (version)");
    if (version == 1)
        r.error(errc::ERRC_UNSUPPORTED, "GGUF version 1 is not supported (only versions 2 and 3; re-convert the model)");
    if (version != 2 && version != 3) {
        std::string hint = (version & 0xffff) == 0 ? " (big-endian file?)" : "";
        r.error(errc::ERRC_UNSUPPORTED, "unsupported GGUF version " + std::to_string(version) + hint);
    }
    uint64_t n_tensors = r.get<uint64_t>("header (tensor count)");
    uint64_t n_kv = r.get<uint64_t>("header (metadata count)");
    if (n_kv > r.remaining() / k_min_kv)
        r.error(errc::ERRC_FORMAT, "metadata count " + std::to_string(n_kv) + " exceeds what the remaining " +
                                       std::to_string(r.remaining()) + " bytes can hold");
    if (n_tensors > r.remaining() / k_min_tensor_info)
        r.error(errc::ERRC_FORMAT, "tensor count " + std::to_string(n_tensors) + " exceeds what the remaining " +
                                       std::to_string(r.remaining()) + " bytes can hold");
    if (n_kv > k_max_count)
        r.error(errc::ERRC_FORMAT, "metadata count " + std::to_string(n_kv) + " exceeds the limit of " +
                                       std::to_string(k_max_count));
    if (n_tensors > k_max_count)
        r.error(errc::ERRC_FORMAT, "tensor count " + std::to_string(n_tensors) + " exceeds the limit of " +
                                       std::to_string(k_max_count));

    // ---- metadata
    meta_parser mp{r};
    std::set<std::string> keys;
    m.meta.reserve(size_t(std::min(n_kv, k_max_reserve)));
    for (uint64_t k = 0; k < n_kv; ++k) {
        std::string key = r.str("metadata key #" + std::to_string(k));
        if (!keys.insert(key).second) r.error(errc::ERRC_FORMAT, "duplicate metadata key '" + key + "'");
        uint32_t type = r.get<uint32_t>("metadata '" + key + "' type");
        meta_value v = mp.value(type, key, 0);
        if (key == "general.alignment") {
            if (v.type != gguf_type::GGUF_UINT32)
                r.error(errc::ERRC_FORMAT, std::string("general.alignment: expected uint32, found ") +
                                               gguf_type_name(v.type));
            if (v.u == 0 || (v.u & (v.u - 1)) != 0)
                r.error(errc::ERRC_FORMAT, "general.alignment " + std::to_string(v.u) + " is not a power of two");
            m.alignment = uint32_t(v.u);
        }
        m.meta.emplace_back(std::move(key), std::move(v));
    }

    // ---- tensor infos
    struct info {
        uint64_t offset;
        size_t idx;
    };
    std::vector<info> infos;
    infos.reserve(size_t(std::min(n_tensors, k_max_reserve)));
    m.tensors.reserve(size_t(std::min(n_tensors, k_max_reserve)));
    std::set<std::string> names;
    for (uint64_t k = 0; k < n_tensors; ++k) {
        tensor_entry t;
        t.name = r.str("tensor info #" + std::to_string(k) + " name");
        const std::string tn = "tensor '" + t.name + "'";
        if (!names.insert(t.name).second) r.error(errc::ERRC_FORMAT, "duplicate tensor name '" + t.name + "'");
        uint32_t n_dims = r.get<uint32_t>(tn + " n_dims");
        if (n_dims < 1 || n_dims > uint32_t(k_max_dims))
            r.error(errc::ERRC_FORMAT, tn + ": n_dims " + std::to_string(n_dims) + " is out of range (1 to 4)");
        uint64_t nel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            uint64_t ne = r.get<uint64_t>(tn + " dims");
            if (ne == 0 || ne > uint64_t(std::numeric_limits<int64_t>::max()))
                r.error(errc::ERRC_FORMAT, tn + ": dimension " + std::to_string(d) + " is " +
                                               (ne == 0 ? std::string("0") : "out of range (" + std::to_string(ne) + ")"));
            if (__builtin_mul_overflow(nel, ne, &nel) || nel > uint64_t(std::numeric_limits<int64_t>::max()))
                r.error(errc::ERRC_FORMAT, tn + ": element count overflows");
            t.ne.push_back(int64_t(ne));
        }
        uint32_t type_id = r.get<uint32_t>(tn + " type");
        if (!dtype_known(type_id))
            r.error(errc::ERRC_UNSUPPORTED, tn + ": unknown tensor type id " + std::to_string(type_id));
        t.type = dtype(type_id);
        const dtype_traits& tr = dtype_info(t.type);
        if (t.ne[0] % tr.block_size != 0)
            r.error(errc::ERRC_FORMAT, tn + ": row of " + std::to_string(t.ne[0]) + " elements is not a multiple of the " +
                                           tr.name + " block size " + std::to_string(tr.block_size));
        uint64_t blocks = nel / uint64_t(tr.block_size);
        if (__builtin_mul_overflow(blocks, uint64_t(tr.type_size), &t.nbytes))
            r.error(errc::ERRC_FORMAT, tn + ": byte size overflows");
        uint64_t offset = r.get<uint64_t>(tn + " offset");
        if (offset % m.alignment != 0)
            r.error(errc::ERRC_FORMAT, tn + ": data offset " + std::to_string(offset) +
                                           " is not a multiple of the alignment " + std::to_string(m.alignment));
        infos.push_back({offset, size_t(k)});
        m.tensors.push_back(std::move(t));
    }

    // ---- data section
    uint64_t data_start = align_up(r.pos(), m.alignment);
    for (const info& in : infos) {
        tensor_entry& t = m.tensors[in.idx];
        uint64_t begin, end;
        if (__builtin_add_overflow(data_start, in.offset, &begin) || __builtin_add_overflow(begin, t.nbytes, &end) ||
            end > size)
            r.error(errc::ERRC_FORMAT, "tensor '" + t.name + "': data [offset " + std::to_string(in.offset) + ", " +
                                           std::to_string(t.nbytes) + " bytes] past end of file (" +
                                           std::to_string(size) + " bytes)");
        t.data = data + begin;
    }
    std::sort(infos.begin(), infos.end(), [](const info& a, const info& b) { return a.offset < b.offset; });
    for (size_t k = 1; k < infos.size(); ++k) {
        const tensor_entry& prev = m.tensors[infos[k - 1].idx];
        if (infos[k - 1].offset + prev.nbytes > infos[k].offset)
            r.error(errc::ERRC_FORMAT, "tensor '" + m.tensors[infos[k].idx].name + "': data overlaps tensor '" +
                                           prev.name + "'");
    }
    m.index();
    return m;
}

model_file read_gguf(const std::string& path) {
    auto map = std::make_shared<mapped_file>(path);
    model_file m = parse_gguf(map->data(), map->size(), path);
    m.maps.push_back(std::move(map));
    return m;
}

// ---- writer

namespace {

class writer {
public:
    explicit writer(const std::string& path) : path_(path) {
        f_ = std::fopen(path.c_str(), "wb");
        if (!f_) fail(errc::ERRC_IO, path + ": cannot open for writing: " + std::strerror(errno));
        std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
    }
    ~writer() {
        if (f_) {
            std::fclose(f_);
            remove_partial();
        }
    }
    void bytes(const void* p, size_t n) {
        if (n == 0) return;
        if (std::fwrite(p, 1, n, f_) != n) failed();
        pos_ += n;
    }
    template <class T>
    void put(T v) {
        bytes(&v, sizeof v);
    }
    void str(const std::string& s) {
        put<uint64_t>(s.size());
        bytes(s.data(), s.size());
    }
    void pad_to(uint64_t alignment) {
        static const uint8_t zeros[256] = {};
        uint64_t n = align_up(pos_, alignment) - pos_;
        while (n > 0) {
            size_t c = size_t(std::min<uint64_t>(n, sizeof zeros));
            bytes(zeros, c);
            n -= c;
        }
    }
    void close() {
        std::FILE* f = f_;
        f_ = nullptr;
        int e1 = std::fflush(f) == 0 ? 0 : errno;
        int e2 = std::fclose(f) == 0 ? 0 : errno;
        if (e1 || e2) {
            remove_partial();
            fail(errc::ERRC_IO, path_ + ": write failed: " + std::strerror(e1 ? e1 : e2));
        }
    }
    uint64_t pos() const { return pos_; }

private:
    [[noreturn]] void failed() {
        int e = errno ? errno : EIO;
        std::fclose(f_);
        f_ = nullptr;
        remove_partial();
        fail(errc::ERRC_IO, path_ + ": write failed: " + std::strerror(e));
    }
    void remove_partial() {  // never unlink devices such as /dev/full
        struct stat st;
        if (::stat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::unlink(path_.c_str());
    }

    std::string path_;
    std::FILE* f_ = nullptr;
    uint64_t pos_ = 0;
};

void write_value(writer& w, const meta_value& v, const std::string& key) {
    switch (v.type) {
        case gguf_type::GGUF_UINT8: w.put<uint8_t>(uint8_t(v.u)); break;
        case gguf_type::GGUF_INT8: w.put<int8_t>(int8_t(v.i)); break;
        case gguf_type::GGUF_UINT16: w.put<uint16_t>(uint16_t(v.u)); break;
        case gguf_type::GGUF_INT16: w.put<int16_t>(int16_t(v.i)); break;
        case gguf_type::GGUF_UINT32: w.put<uint32_t>(uint32_t(v.u)); break;
        case gguf_type::GGUF_INT32: w.put<int32_t>(int32_t(v.i)); break;
        case gguf_type::GGUF_UINT64: w.put<uint64_t>(v.u); break;
        case gguf_type::GGUF_INT64: w.put<int64_t>(v.i); break;
        case gguf_type::GGUF_FLOAT32: w.put<float>(float(v.f)); break;
        case gguf_type::GGUF_FLOAT64: w.put<double>(v.f); break;
        case gguf_type::GGUF_BOOL: w.put<uint8_t>(v.u ? 1 : 0); break;
        case gguf_type::GGUF_STRING: w.str(v.s); break;
        case gguf_type::GGUF_ARRAY:
            w.put<uint32_t>(uint32_t(v.arr_type));
            w.put<uint64_t>(v.arr.size());
            for (const meta_value& e : v.arr) write_value(w, e, key);
            break;
    }
}

void check_value(const meta_value& v, const std::string& key, const std::string& path, int depth) {
    if (min_value_size(uint32_t(v.type)) == 0)
        fail(errc::ERRC_INVALID_ARGUMENT, path + ": metadata '" + key + "': unknown value type " +
                                              std::to_string(uint32_t(v.type)));
    if (v.type != gguf_type::GGUF_ARRAY) return;
    if (depth >= k_max_nesting)
        fail(errc::ERRC_INVALID_ARGUMENT, path + ": metadata '" + key + "': array nesting too deep");
    for (const meta_value& e : v.arr) {
        if (e.type != v.arr_type)
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": metadata '" + key + "': array element of type " +
                                                  gguf_type_name(e.type) + " in an array of " +
                                                  gguf_type_name(v.arr_type));
        check_value(e, key, path, depth + 1);
    }
}

// Writes the whole file; `get(k)` returns the bytes of tensor k (valid until the next call).
void write_impl(const std::string& path, const model_file& m, const std::function<const uint8_t*(size_t)>& get) {
    const uint32_t alignment = m.alignment;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        fail(errc::ERRC_INVALID_ARGUMENT, path + ": alignment " + std::to_string(alignment) + " is not a power of two");
    std::set<std::string> keys, names;
    for (const auto& kv : m.meta) {
        if (!keys.insert(kv.first).second)
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": duplicate metadata key '" + kv.first + "'");
        check_value(kv.second, kv.first, path, 0);
    }
    std::vector<uint64_t> offsets;
    uint64_t off = 0;
    for (const tensor_entry& t : m.tensors) {
        if (!names.insert(t.name).second)
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": duplicate tensor name '" + t.name + "'");
        if (t.ne.empty() || t.ne.size() > size_t(k_max_dims))
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": tensor '" + t.name + "': " + std::to_string(t.ne.size()) +
                                                  " dimensions (1 to 4 supported)");
        if (t.layout != weight_layout::WEIGHT_LAYOUT_ROWS)
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": tensor '" + t.name +
                                                  "' is repacked for inference and cannot be written");
        if (!dtype_known(uint32_t(t.type)))
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": tensor '" + t.name + "': unknown type id " +
                                                  std::to_string(uint32_t(t.type)));
        const dtype_traits& tr = dtype_info(t.type);
        bool bad_shape = t.ne[0] % tr.block_size != 0;
        uint64_t expect = tr.type_size;
        for (size_t d = 0; d < t.ne.size(); ++d) {
            uint64_t n = d == 0 ? uint64_t(t.ne[0] / tr.block_size) : uint64_t(t.ne[d]);
            bad_shape = bad_shape || t.ne[d] <= 0 || __builtin_mul_overflow(expect, n, &expect);
        }
        if (bad_shape)
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": tensor '" + t.name + "': invalid shape for type " + tr.name);
        if (expect != t.nbytes)
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": tensor '" + t.name + "': nbytes " + std::to_string(t.nbytes) +
                                                  " does not match its shape (" + std::to_string(expect) + ")");
        offsets.push_back(off);
        off = align_up(off + t.nbytes, alignment);
    }

    writer w(path);
    const bool add_alignment = alignment != k_default_alignment && !keys.count("general.alignment");
    w.bytes("GGUF", 4);
    w.put<uint32_t>(3);
    w.put<uint64_t>(m.tensors.size());
    w.put<uint64_t>(m.meta.size() + (add_alignment ? 1 : 0));
    for (const auto& kv : m.meta) {
        w.str(kv.first);
        if (kv.first == "general.alignment") {  // always consistent with the layout actually written
            w.put<uint32_t>(uint32_t(gguf_type::GGUF_UINT32));
            w.put<uint32_t>(alignment);
            continue;
        }
        w.put<uint32_t>(uint32_t(kv.second.type));
        write_value(w, kv.second, kv.first);
    }
    if (add_alignment) {
        w.str("general.alignment");
        w.put<uint32_t>(uint32_t(gguf_type::GGUF_UINT32));
        w.put<uint32_t>(alignment);
    }
    for (size_t k = 0; k < m.tensors.size(); ++k) {
        const tensor_entry& t = m.tensors[k];
        w.str(t.name);
        w.put<uint32_t>(uint32_t(t.ne.size()));
        for (int64_t d : t.ne) w.put<uint64_t>(uint64_t(d));
        w.put<uint32_t>(uint32_t(t.type));
        w.put<uint64_t>(offsets[k]);
    }
    if (!m.tensors.empty()) w.pad_to(alignment);  // no data section at all without tensors (as gguf-py writes)
    for (size_t k = 0; k < m.tensors.size(); ++k) {
        w.bytes(get(k), size_t(m.tensors[k].nbytes));
        w.pad_to(alignment);
    }
    w.close();
}

}  // namespace

void write_gguf(const std::string& path, const model_file& m) {
    for (const tensor_entry& t : m.tensors)
        if (!t.data && t.nbytes)
            fail(errc::ERRC_INVALID_ARGUMENT, path + ": tensor '" + t.name + "' has no data");
    write_impl(path, m, [&](size_t k) { return static_cast<const uint8_t*>(m.tensors[k].data); });
}

void write_gguf_streaming(const std::string& path, const model_file& m, const tensor_fill_fn& fill) {
    uint64_t largest = 0;
    for (const tensor_entry& t : m.tensors) largest = std::max(largest, t.nbytes);
    aligned_buffer buf;
    write_impl(path, m, [&](size_t k) {
        if (buf.size() < m.tensors[k].nbytes) buf.reset(size_t(largest));
        uint8_t* dst = buf.as<uint8_t>();
        fill(k, dst);
        return static_cast<const uint8_t*>(dst);
    });
}

}  // namespace fathom::io

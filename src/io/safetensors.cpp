// safetensors reader: 8-byte header length, JSON header, data offsets checked against the data section.
#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/hf-internal.h"

namespace fathom::io {

namespace {

constexpr uint64_t k_max_header = uint64_t(100) << 20;  // 100 MB of JSON is far beyond any real header

bool hf_dtype(const std::string& s, dtype* out) {
    if (s == "F32") *out = dtype::DTYPE_F32;
    else if (s == "F16") *out = dtype::DTYPE_F16;
    else if (s == "BF16") *out = dtype::DTYPE_BF16;
    else return false;
    return true;
}

// Reads a non-negative JSON integer; false if `j` is not one.
bool json_u64(const nlohmann::json& j, uint64_t* out) {
    if (j.is_number_unsigned()) {
        *out = j.get<uint64_t>();
        return true;
    }
    if (j.is_number_integer() && j.get<int64_t>() >= 0) {
        *out = uint64_t(j.get<int64_t>());
        return true;
    }
    return false;
}

[[noreturn]] void bad_file(const std::string& name, const std::string& what) {
    fail(errc::ERRC_FORMAT, name + ": " + what);
}

}  // namespace

std::vector<tensor_entry> parse_safetensors(const uint8_t* data, size_t size, const std::string& name) {
    if (size < 8)
        bad_file(name, "truncated safetensors header (file has " + std::to_string(size) + " bytes, needs at least 8)");
    uint64_t header_len = 0;
    for (int k = 7; k >= 0; --k) header_len = header_len << 8 | data[k];  // little-endian
    if (header_len > size - 8)
        bad_file(name, "safetensors header length " + std::to_string(header_len) + " exceeds the file size (" +
            std::to_string(size) + " bytes)");
    if (header_len > k_max_header)
        bad_file(name, "safetensors header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
    if (header_len < 2) bad_file(name, "safetensors header length " + std::to_string(header_len) + " is too small");

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(data + 8, data + 8 + header_len);
    } catch (const nlohmann::json::exception& e) {
        bad_file(name, "invalid safetensors JSON header: " + detail::json_error_text(e));
    }
    if (!header.is_object()) bad_file(name, "safetensors header is not a JSON object");

    const uint8_t* base = data + 8 + header_len;
    const uint64_t data_size = size - 8 - header_len;
    std::vector<tensor_entry> out;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;  // [begin, end) in the data section, with index
    std::vector<size_t> order;
    out.reserve(header.size());
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const std::string tn = "tensor '" + it.key() + "'";
        const nlohmann::json& e = it.value();
        if (!e.is_object()) bad_file(name, tn + ": entry is not a JSON object");
        auto dt = e.find("dtype");
        auto sh = e.find("shape");
        auto off = e.find("data_offsets");
        if (dt == e.end() || !dt->is_string()) bad_file(name, tn + ": missing or non-string 'dtype'");
        if (sh == e.end() || !sh->is_array()) bad_file(name, tn + ": missing or non-array 'shape'");
        if (off == e.end() || !off->is_array() || off->size() != 2) bad_file(name, tn + ": 'data_offsets' is not a [begin, end] pair");

        tensor_entry t;
        t.name = it.key();
        const std::string dts = dt->get<std::string>();
        if (!hf_dtype(dts, &t.type))
            fail(errc::ERRC_UNSUPPORTED, name + ": " + tn + ": dtype " + dts + " is not supported (F32, F16, BF16)");
        if (sh->size() > size_t(k_max_dims))
            bad_file(name, tn + ": shape has " + std::to_string(sh->size()) + " dimensions (at most 4 supported)");
        uint64_t nel = 1;
        for (const auto& d : *sh) {
            uint64_t v;
            if (!json_u64(d, &v)) bad_file(name, tn + ": shape entries must be non-negative integers");
            if (v == 0) bad_file(name, tn + ": shape has a zero dimension");
            if (v > uint64_t(std::numeric_limits<int64_t>::max()) || __builtin_mul_overflow(nel, v, &nel) ||
                nel > uint64_t(std::numeric_limits<int64_t>::max()))
                bad_file(name, tn + ": element count overflows");
            t.ne.insert(t.ne.begin(), int64_t(v));  // HF shapes are outermost first; GGUF ne innermost first
        }
        if (t.ne.empty()) t.ne.push_back(1);  // a scalar
        uint64_t begin, end;
        if (!json_u64((*off)[0], &begin) || !json_u64((*off)[1], &end))
            bad_file(name, tn + ": data_offsets must be non-negative integers");
        if (begin > end) bad_file(name, tn + ": data_offsets begin " + std::to_string(begin) + " > end " + std::to_string(end));
        if (end > data_size)
            bad_file(name, tn + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                "] past end of data section (" + std::to_string(data_size) + " bytes)");
        uint64_t nbytes;
        if (__builtin_mul_overflow(nel, uint64_t(dtype_info(t.type).type_size), &nbytes))
            bad_file(name, tn + ": byte size overflows");
        if (end - begin != nbytes)
            bad_file(name, tn + ": data_offsets span " + std::to_string(end - begin) + " bytes but shape and dtype " + dts +
                " need " + std::to_string(nbytes));
        t.nbytes = nbytes;
        t.data = base + begin;
        ranges.emplace_back(begin, end);
        out.push_back(std::move(t));
    }
    order.resize(out.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a].first < ranges[b].first; });
    for (size_t k = 1; k < order.size(); ++k)
        if (ranges[order[k - 1]].second > ranges[order[k]].first)
            bad_file(name, "tensor '" + out[order[k]].name + "': data overlaps tensor '" + out[order[k - 1]].name + "'");
    return out;
}

}  // namespace fathom::io

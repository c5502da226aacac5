// `fathom convert`: streams a loaded model (GGUF or HF folder) to GGUF as F32/F16/BF16, in llama.cpp's layout.
#include <cstring>
#include <vector>

#include "core/error.h"
#include "io/model-file.h"

namespace fathom::io {

namespace {

float load_f32(dtype t, const uint8_t* p, int64_t i) {
    switch (t) {
        case dtype::DTYPE_F32: {
            float v;
            std::memcpy(&v, p + 4 * i, 4);
            return v;
        }
        case dtype::DTYPE_F16: {
            uint16_t h;
            std::memcpy(&h, p + 2 * i, 2);
            return f16_to_f32(h);
        }
        default: {  // BF16 (checked by the caller)
            uint16_t h;
            std::memcpy(&h, p + 2 * i, 2);
            return bf16_to_f32(h);
        }
    }
}

// Converts one row of n elements.
void convert_row(dtype from, const uint8_t* src, dtype to, uint8_t* dst, int64_t n) {
    if (from == to) {
        std::memcpy(dst, src, size_t(n) * dtype_info(to).type_size);
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        float v = load_f32(from, src, i);
        if (to == dtype::DTYPE_F32) {
            std::memcpy(dst + 4 * i, &v, 4);
        } else {
            uint16_t h = to == dtype::DTYPE_F16 ? f32_to_f16(v) : f32_to_bf16(v);
            std::memcpy(dst + 2 * i, &h, 2);
        }
    }
}

bool plain_float(dtype t) { return t == dtype::DTYPE_F32 || t == dtype::DTYPE_F16 || t == dtype::DTYPE_BF16; }

bool ends_with(const std::string& s, const char* suffix) {
    size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

int64_t hf_permute_heads(const model_file& src, const tensor_entry& t) {
    const meta_value* flag = src.find("fathom.rope.hf_order");
    if (!flag || !flag->as_bool("fathom.rope.hf_order")) return 0;
    const bool is_q = ends_with(t.name, ".attn_q.weight") || ends_with(t.name, ".attn_q.bias");
    const bool is_k = ends_with(t.name, ".attn_k.weight") || ends_with(t.name, ".attn_k.bias");
    if (!is_q && !is_k) return 0;
    const meta_value* a = src.find("general.architecture");
    if (!a || a->type != gguf_type::GGUF_STRING) fail(errc::ERRC_FORMAT, src.path + ": general.architecture missing");
    const std::string arch = a->s;
    const meta_value* h = src.find(arch + ".attention.head_count");
    if (!h) fail(errc::ERRC_FORMAT, src.path + ": " + arch + ".attention.head_count missing");
    const int64_t n_head = h->as_int(arch + ".attention.head_count");
    const meta_value* hk = src.find(arch + ".attention.head_count_kv");
    const int64_t n_head_kv = hk ? hk->as_int(arch + ".attention.head_count_kv") : n_head;
    if (n_head <= 0 || n_head_kv <= 0) fail(errc::ERRC_FORMAT, src.path + ": head counts must be positive");
    const int64_t nh = is_q ? n_head : n_head_kv;
    const int64_t rows = t.ne.size() >= 2 ? t.nelements() / t.ne[0] : t.ne[0];
    if (rows % nh != 0 || (rows / nh) % 2 != 0)
        fail(errc::ERRC_FORMAT, src.path + ": tensor '" + t.name + "': " + std::to_string(rows) +
                                    " rows do not split into " + std::to_string(nh) + " heads of even size");
    return nh;
}

int64_t hf_permuted_source_row(int64_t r, int64_t rows, int64_t heads) {
    // new row h*d + 2j + c  <-  HF row h*d + c*(d/2) + j
    const int64_t d = rows / heads, half = d / 2;
    const int64_t h = r / d, j = (r % d) / 2, c = r % 2;
    return h * d + c * half + j;
}

void convert_to_gguf(const model_file& src, const std::string& out, dtype type) {
    uint32_t file_type;
    if (type == dtype::DTYPE_F32) file_type = 0;
    else if (type == dtype::DTYPE_F16) file_type = 1;
    else if (type == dtype::DTYPE_BF16) file_type = 32;
    else fail(errc::ERRC_INVALID_ARGUMENT, out + ": convert supports f32, f16 and bf16, not " + dtype_name(type));

    model_file dst;
    dst.path = out;
    dst.alignment = 32;
    size_t insert_at = 0;
    for (const auto& kv : src.meta) {
        if (kv.first == "fathom.rope.hf_order" || kv.first == "general.file_type" || kv.first == "general.alignment")
            continue;
        dst.meta.push_back(kv);
        if (kv.first.compare(0, 8, "general.") == 0) insert_at = dst.meta.size();
    }
    dst.meta.insert(dst.meta.begin() + std::ptrdiff_t(insert_at), {"general.file_type", meta_value::u32(file_type)});
    dst.index();

    std::vector<int64_t> heads(src.tensors.size(), 0);  // > 0: permute rows with that many heads
    for (size_t k = 0; k < src.tensors.size(); ++k) {
        const tensor_entry& t = src.tensors[k];
        if (!plain_float(t.type))
            fail(errc::ERRC_UNSUPPORTED, src.path + ": tensor '" + t.name + "': converting from " +
                                             dtype_name(t.type) + " is not supported (f32, f16, bf16 sources)");
        tensor_entry o;
        o.name = t.name;
        o.ne = t.ne;
        o.type = t.ne.size() >= 2 ? type : dtype::DTYPE_F32;
        o.nbytes = uint64_t(t.nelements()) * dtype_info(o.type).type_size;
        heads[k] = hf_permute_heads(src, t);
        dst.tensors.push_back(std::move(o));
    }
    dst.index();

    write_gguf_streaming(out, dst, [&](size_t k, uint8_t* buf) {
        const tensor_entry& t = src.tensors[k];
        const tensor_entry& o = dst.tensors[k];
        const bool is_1d = t.ne.size() < 2;
        const int64_t row_len = is_1d ? 1 : t.ne[0];
        const int64_t rows = t.nelements() / row_len;
        const size_t sb = size_t(row_len) * dtype_info(t.type).type_size;
        const size_t db = size_t(row_len) * dtype_info(o.type).type_size;
        const uint8_t* s = static_cast<const uint8_t*>(t.data);
        if (heads[k] == 0) {
            if (is_1d) convert_row(t.type, s, o.type, buf, t.ne[0]);
            else
                for (int64_t r = 0; r < rows; ++r) convert_row(t.type, s + size_t(r) * sb, o.type, buf + size_t(r) * db, row_len);
            return;
        }
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t from = hf_permuted_source_row(r, rows, heads[k]);
            convert_row(t.type, s + size_t(from) * sb, o.type, buf + size_t(r) * db, row_len);
        }
    });
}

}  // namespace fathom::io

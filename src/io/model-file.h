// A loaded model file in GGUF terms: ordered metadata key/values plus named tensors whose data is mmap'd.
// Both GGUF files and Hugging Face folders (config.json + *.safetensors) load into this one shape, with HF
// names and hyper-parameters translated to llama.cpp's GGUF naming (see hf.cpp), so the model code and
// `fathom convert` see one thing.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/mmap.h"
#include "core/tensor.h"

namespace fathom::io {

// GGUF metadata value types (ids as stored in the file).
enum class gguf_type : uint32_t {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4, GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
};
const char* gguf_type_name(gguf_type t);

// One metadata value. Integers are kept in `u`/`i` (by signedness), floats in `f`, bool in `u` (0/1).
// Arrays hold elements of one type `arr_type`, which may itself be GGUF_ARRAY (nested arrays).
struct meta_value {
    gguf_type type = gguf_type::GGUF_UINT32;
    gguf_type arr_type = gguf_type::GGUF_UINT8;  // element type when type == GGUF_ARRAY
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    std::string s;
    std::vector<meta_value> arr;

    static meta_value u32(uint32_t v);
    static meta_value i32(int32_t v);
    static meta_value u64(uint64_t v);
    static meta_value f32(float v);
    static meta_value boolean(bool v);
    static meta_value str(std::string v);
    static meta_value array(gguf_type elem, std::vector<meta_value> items);

    // Typed readers; throw ERRC_FORMAT "key: expected an integer, found string" style errors naming `key`.
    int64_t as_int(const std::string& key) const;      // any integer type or bool
    double as_float(const std::string& key) const;     // any integer or float type
    bool as_bool(const std::string& key) const;
    const std::string& as_string(const std::string& key) const;
    const std::vector<meta_value>& as_array(const std::string& key) const;
    std::string to_display() const;  // short human form; long arrays abbreviated ("[32000 x string]")
};

// How a tensor's bytes are arranged. Files always hold ROWS (GGUF order); inference may repack quantised matmul
// weights at load into R16 (16 interleaved rows, see kernels/kernels.h), which only nn::matmul and nn::get_row_f32
// read. Writers refuse R16 tensors.
enum class weight_layout : uint8_t { WEIGHT_LAYOUT_ROWS = 0, WEIGHT_LAYOUT_R16 = 1 };

struct tensor_entry {
    std::string name;           // GGUF name, e.g. "blk.0.attn_q.weight"
    dtype type = dtype::DTYPE_F32;
    std::vector<int64_t> ne;    // GGUF order: ne[0] innermost
    const void* data = nullptr; // points into a mapping or an owned buffer of the model_file
    uint64_t nbytes = 0;
    weight_layout layout = weight_layout::WEIGHT_LAYOUT_ROWS;  // last, so brace-initialised entries keep working

    int64_t nelements() const;
    tensor_view view() const;   // contiguous view
};

class model_file {
public:
    std::string path;  // file or folder it came from (used in error messages)
    std::vector<std::pair<std::string, meta_value>> meta;  // in file order
    std::vector<tensor_entry> tensors;                      // in file order
    uint32_t alignment = 32;                                // GGUF general.alignment

    const meta_value* find(const std::string& key) const;
    const tensor_entry* find_tensor(const std::string& name) const;
    void set(const std::string& key, meta_value v);  // replaces or appends
    void erase(const std::string& key);
    void add_tensor(tensor_entry t);                 // name must be unique (throws ERRC_FORMAT otherwise)
    void index();                                    // rebuilds lookup maps (call after editing vectors directly)

    // Storage that keeps tensor data alive.
    std::vector<std::shared_ptr<mapped_file>> maps;
    std::vector<std::shared_ptr<aligned_buffer>> owned;

private:
    std::map<std::string, size_t> meta_index_, tensor_index_;
};

// ---- GGUF (gguf.cpp)
// Reads GGUF v2/v3. Validates everything against the file size before use; tensor data is mmap'd, not copied.
// Errors: ERRC_IO (cannot open) or ERRC_FORMAT / ERRC_UNSUPPORTED with "PATH: problem" messages.
model_file read_gguf(const std::string& path);
// Parses a GGUF image already in memory (used by the fuzzer). `name` is used in error messages.
// The returned model_file points into `data`, which must outlive it.
model_file parse_gguf(const uint8_t* data, size_t size, const std::string& name);
// Writes GGUF v3 with the given metadata and tensors (data copied from each tensor's pointer).
// general.alignment is written when alignment != 32. Throws ERRC_IO on write failure.
void write_gguf(const std::string& path, const model_file& m);
// Streaming variant: tensor data pointers in `m` are ignored; `fill(k, dst)` must write exactly
// m.tensors[k].nbytes bytes of tensor k into dst. Tensors are requested in order, one at a time, into one
// reused buffer, so a model larger than memory can be written. Produces the same bytes as write_gguf.
using tensor_fill_fn = std::function<void(size_t index, uint8_t* dst)>;
void write_gguf_streaming(const std::string& path, const model_file& m, const tensor_fill_fn& fill);

// ---- Hugging Face folder (hf.cpp)
// Loads config.json + model.safetensors or sharded model-*.safetensors with model.safetensors.index.json.
// Translates architecture (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, ...) into GGUF metadata keys
// (general.architecture = "llama" / "qwen2", "<arch>.embedding_length", ...) and HF tensor names into GGUF names.
// Weights are not permuted: for arch "llama" the key "fathom.rope.hf_order" = true marks that Q/K rows are in HF
// (NeoX, rotate-half) order, so the model uses the NeoX RoPE pairing; convert permutes them into llama.cpp order.
// Llama-3 RoPE scaling is turned into a "rope_freqs.weight" F32 tensor (as llama.cpp's converter does).
// A tokenizer.json next to config.json is carried as tokenizer.ggml.* keys.
model_file read_hf(const std::string& dir);
// Translates config.json text into GGUF metadata (and the owned "rope_freqs.weight" tensor for Llama-3 RoPE
// scaling). `name` (e.g. "DIR/config.json") is used in error messages. Used by read_hf and the fuzzer.
model_file parse_hf_config(const std::string& json_text, const std::string& name);
// Parses one safetensors image in memory (fuzzer entry); tensors point into `data`.
std::vector<tensor_entry> parse_safetensors(const uint8_t* data, size_t size, const std::string& name);

// Loads a GGUF file or an HF folder, by what `path` is.
model_file load_model_file(const std::string& path);
// A tokenizer alone: a folder with tokenizer.json (+ tokenizer_config.json) and no config.json, or the path of a
// tokenizer.json file. Gives a model_file with tokenizer.ggml.* metadata and no tensors (load it vocab_only).
model_file read_hf_tokenizer(const std::string& path);

// `fathom convert`: writes `src` as GGUF at `out`, converting every 2-D+ weight to `type` (F32/F16/BF16;
// norms and 1-D tensors stay F32), applying the llama Q/K permutation when the source is in HF order.
void convert_to_gguf(const model_file& src, const std::string& out, dtype type);
// Q/K rows of Hugging Face checkpoints (fathom.rope.hf_order) are permuted into llama.cpp's order when written to
// GGUF: the head count to permute tensor t with, or 0 when t is written as it is. Throws on inconsistent heads.
int64_t hf_permute_heads(const model_file& src, const tensor_entry& t);
// The source row that becomes row r of a permuted tensor of `rows` rows and `heads` heads.
int64_t hf_permuted_source_row(int64_t r, int64_t rows, int64_t heads);

}  // namespace fathom::io

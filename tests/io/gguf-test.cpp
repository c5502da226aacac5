// GGUF reader/writer tests: exact byte layout, round trips of every value type, v2, streaming, real files.
#include <cmath>
#include <limits>

#include "io/model-file.h"
#include "io/io-test-util.h"

namespace fathom::io {
namespace {

using test::byte_builder;
using test::expect_error;
using test::temp_dir;

void expect_same_value(const meta_value& a, const meta_value& b, const std::string& where) {
    ASSERT_EQ(int(a.type), int(b.type)) << where;
    switch (a.type) {
        case gguf_type::GGUF_STRING: EXPECT_EQ(a.s, b.s) << where; break;
        case gguf_type::GGUF_FLOAT32:
        case gguf_type::GGUF_FLOAT64:
            EXPECT_EQ(std::memcmp(&a.f, &b.f, sizeof(double)), 0) << where << ": " << a.f << " vs " << b.f;
            break;
        case gguf_type::GGUF_ARRAY:
            ASSERT_EQ(int(a.arr_type), int(b.arr_type)) << where;
            ASSERT_EQ(a.arr.size(), b.arr.size()) << where;
            for (size_t k = 0; k < a.arr.size(); ++k) expect_same_value(a.arr[k], b.arr[k], where + "[" + std::to_string(k) + "]");
            break;
        default:
            EXPECT_EQ(a.u, b.u) << where;
            EXPECT_EQ(a.i, b.i) << where;
    }
}

meta_value scalar(gguf_type t, uint64_t u, int64_t i, double f) {
    meta_value v;
    v.type = t;
    v.u = u;
    v.i = i;
    v.f = f;
    return v;
}

// Metadata covering all 13 value types, extremes, empty and nested arrays.
std::vector<std::pair<std::string, meta_value>> all_types_meta() {
    std::vector<std::pair<std::string, meta_value>> m;
    m.emplace_back("t.u8", scalar(gguf_type::GGUF_UINT8, 255, 0, 0));
    m.emplace_back("t.i8", scalar(gguf_type::GGUF_INT8, 0, -128, 0));
    m.emplace_back("t.u16", scalar(gguf_type::GGUF_UINT16, 65535, 0, 0));
    m.emplace_back("t.i16", scalar(gguf_type::GGUF_INT16, 0, -32768, 0));
    m.emplace_back("t.u32", meta_value::u32(4000000000u));
    m.emplace_back("t.i32", meta_value::i32(std::numeric_limits<int32_t>::min()));
    m.emplace_back("t.f32", meta_value::f32(1e-5f));
    m.emplace_back("t.f32sub", meta_value::f32(1.4e-45f));
    m.emplace_back("t.bool", meta_value::boolean(true));
    m.emplace_back("t.str", meta_value::str(std::string("h\xc3\xa9llo\0world", 12)));
    m.emplace_back("t.u64", meta_value::u64(std::numeric_limits<uint64_t>::max()));
    m.emplace_back("t.i64", scalar(gguf_type::GGUF_INT64, 0, std::numeric_limits<int64_t>::min(), 0));
    m.emplace_back("t.f64", scalar(gguf_type::GGUF_FLOAT64, 0, 0, 0.1));
    m.emplace_back("t.empty", meta_value::array(gguf_type::GGUF_UINT8, {}));
    m.emplace_back("t.strs", meta_value::array(gguf_type::GGUF_STRING, {meta_value::str("a"), meta_value::str(""),
                                                                        meta_value::str("<0x0A>")}));
    m.emplace_back("t.f32s", meta_value::array(gguf_type::GGUF_FLOAT32, {meta_value::f32(-0.0f), meta_value::f32(3.5f)}));
    std::vector<meta_value> inner1 = {scalar(gguf_type::GGUF_INT16, 0, -7, 0), scalar(gguf_type::GGUF_INT16, 0, 9, 0)};
    std::vector<meta_value> inner2 = {};
    meta_value nested = meta_value::array(gguf_type::GGUF_ARRAY, {meta_value::array(gguf_type::GGUF_INT16, inner1),
                                                                  meta_value::array(gguf_type::GGUF_INT16, inner2)});
    m.emplace_back("t.nested", nested);
    meta_value deep = meta_value::array(gguf_type::GGUF_STRING, {meta_value::str("deep")});
    m.emplace_back("t.nested2", meta_value::array(gguf_type::GGUF_ARRAY,
                                                  {meta_value::array(gguf_type::GGUF_ARRAY, {deep, deep})}));
    return m;
}

struct tensor_data {
    std::string name;
    dtype type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> bytes;
};

std::vector<tensor_data> sample_tensors() {
    std::vector<tensor_data> ts;
    auto fill = [](size_t n, uint8_t seed) {
        std::vector<uint8_t> b(n);
        for (size_t k = 0; k < n; ++k) b[k] = uint8_t(seed + k * 31 + (k >> 3));
        return b;
    };
    ts.push_back({"a.f32", dtype::DTYPE_F32, {3, 2}, fill(24, 1)});
    ts.push_back({"b.f16", dtype::DTYPE_F16, {5}, fill(10, 2)});
    ts.push_back({"c.bf16", dtype::DTYPE_BF16, {4, 3, 2}, fill(48, 3)});
    ts.push_back({"d.q8_0", dtype::DTYPE_Q8_0, {64, 2}, fill(2 * 2 * 34, 4)});
    ts.push_back({"e.f32", dtype::DTYPE_F32, {1, 1, 1, 7}, fill(28, 5)});
    return ts;
}

model_file make_model(const std::vector<tensor_data>& ts, uint32_t alignment) {
    model_file m;
    m.alignment = alignment;
    m.set("general.architecture", meta_value::str("llama"));
    for (auto& kv : all_types_meta()) m.set(kv.first, kv.second);
    for (const tensor_data& t : ts) {
        tensor_entry e;
        e.name = t.name;
        e.type = t.type;
        e.ne = t.ne;
        e.data = t.bytes.data();
        e.nbytes = t.bytes.size();
        m.add_tensor(e);
    }
    return m;
}

class gguf_round_trip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(gguf_round_trip, every_type_and_tensor_is_bit_exact) {
    const uint32_t alignment = GetParam();
    temp_dir dir;
    auto ts = sample_tensors();
    model_file m = make_model(ts, alignment);
    const std::string path = dir.file("rt.gguf");
    write_gguf(path, m);
    model_file r = read_gguf(path);
    EXPECT_EQ(r.alignment, alignment);
    // general.alignment appears (last) only when it differs from the default.
    size_t expect_kv = m.meta.size() + (alignment != 32 ? 1 : 0);
    ASSERT_EQ(r.meta.size(), expect_kv);
    for (size_t k = 0; k < m.meta.size(); ++k) {
        EXPECT_EQ(r.meta[k].first, m.meta[k].first);
        expect_same_value(r.meta[k].second, m.meta[k].second, m.meta[k].first);
    }
    if (alignment != 32) {
        EXPECT_EQ(r.meta.back().first, "general.alignment");
        EXPECT_EQ(r.find("general.alignment")->as_int("general.alignment"), int64_t(alignment));
    } else {
        EXPECT_EQ(r.find("general.alignment"), nullptr);
    }
    ASSERT_EQ(r.tensors.size(), ts.size());
    const uint8_t* base = r.maps.at(0)->data();
    for (size_t k = 0; k < ts.size(); ++k) {
        const tensor_entry& t = r.tensors[k];
        EXPECT_EQ(t.name, ts[k].name);
        EXPECT_EQ(t.type, ts[k].type);
        EXPECT_EQ(t.ne, ts[k].ne);
        ASSERT_EQ(t.nbytes, ts[k].bytes.size());
        EXPECT_EQ(std::memcmp(t.data, ts[k].bytes.data(), t.nbytes), 0) << t.name;
        size_t off = size_t(static_cast<const uint8_t*>(t.data) - base);
        EXPECT_EQ(off % alignment, 0u) << t.name;  // data section and each tensor aligned
        EXPECT_GE(off, 0u);
        EXPECT_LE(off + t.nbytes, r.maps[0]->size());  // points into the mapping: no copy
        EXPECT_EQ(r.find_tensor(ts[k].name), &t);
    }
    // Writing what was read reproduces the file byte for byte.
    write_gguf(dir.file("rt2.gguf"), r);
    EXPECT_EQ(test::read_file(path), test::read_file(dir.file("rt2.gguf")));
}

INSTANTIATE_TEST_SUITE_P(alignments, gguf_round_trip, ::testing::Values(32u, 64u, 1u, 4096u));

// The writer's exact layout, against bytes assembled by hand from the GGUF spec.
TEST(gguf_writer, layout_matches_spec) {
    temp_dir dir;
    float vals[3] = {1.0f, -2.0f, 0.5f};
    model_file m;
    m.set("general.architecture", meta_value::str("llama"));
    m.set("x.n", meta_value::u32(7));
    m.set("x.list", meta_value::array(gguf_type::GGUF_INT32, {meta_value::i32(-1), meta_value::i32(2)}));
    m.add_tensor({"w", dtype::DTYPE_F32, {3}, vals, 12});
    m.add_tensor({"v", dtype::DTYPE_F32, {1}, vals, 4});
    write_gguf(dir.file("m.gguf"), m);

    byte_builder b;
    b.header(3, 2, 3);
    b.str("general.architecture").u32(8).str("llama");
    b.str("x.n").u32(4).u32(7);
    b.str("x.list").u32(9).u32(5).u64(2).put<int32_t>(-1).put<int32_t>(2);
    b.str("w").u32(1).u64(3).u32(0).u64(0);
    b.str("v").u32(1).u64(1).u32(0).u64(32);  // 12 bytes padded to 32
    b.pad(32);
    b.raw(vals, 12).pad(32);
    b.raw(vals, 4).pad(32);
    EXPECT_EQ(test::read_file(dir.file("m.gguf")), b.b);
}

TEST(gguf_reader, reads_version_2) {
    temp_dir dir;
    uint16_t h[4] = {0x3c00, 0x4000, 0xc000, 0x0001};
    byte_builder b;
    b.header(2, 1, 2);
    b.str("general.architecture").u32(8).str("llama");
    b.str("k").u32(9).u32(10).u64(2).u64(1).u64(uint64_t(1) << 40);
    b.str("t").u32(2).u64(2).u64(2).u32(1).u64(0);
    b.pad(32).raw(h, 8);
    test::write_file(dir.file("v2.gguf"), b.b);
    model_file m = read_gguf(dir.file("v2.gguf"));
    EXPECT_EQ(m.find("general.architecture")->as_string("a"), "llama");
    const auto& arr = m.find("k")->as_array("k");
    ASSERT_EQ(arr.size(), 2u);
    EXPECT_EQ(arr[1].u, uint64_t(1) << 40);
    ASSERT_EQ(m.tensors.size(), 1u);
    EXPECT_EQ(m.tensors[0].type, dtype::DTYPE_F16);
    EXPECT_EQ(m.tensors[0].ne, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(std::memcmp(m.tensors[0].data, h, 8), 0);
    tensor_view v = m.tensors[0].view();
    EXPECT_EQ(v.n_dims, 2);
    EXPECT_EQ(v.nb[1], 4u);
}

TEST(gguf_reader, rejects_version_1_and_unknown_versions) {
    temp_dir dir;
    byte_builder b;
    b.raw("GGUF", 4).u32(1).u32(0).u32(0);
    test::write_file(dir.file("v1.gguf"), b.b);
    expect_error([&] { read_gguf(dir.file("v1.gguf")); }, errc::ERRC_UNSUPPORTED, {"v1.gguf", "GGUF version 1 is not supported"});
    byte_builder c;
    c.header(0x03000000, 0, 0);
    test::write_file(dir.file("be.gguf"), c.b);
    expect_error([&] { read_gguf(dir.file("be.gguf")); }, errc::ERRC_UNSUPPORTED, {"be.gguf", "unsupported GGUF version", "big-endian"});
}

TEST(gguf_writer, streaming_equals_plain) {
    temp_dir dir;
    auto ts = sample_tensors();
    model_file m = make_model(ts, 64);
    write_gguf(dir.file("plain.gguf"), m);
    model_file header = m;
    for (auto& t : header.tensors) t.data = nullptr;  // the streaming writer must not touch these
    std::vector<size_t> order;
    write_gguf_streaming(dir.file("stream.gguf"), header, [&](size_t k, uint8_t* dst) {
        order.push_back(k);
        std::memcpy(dst, ts[k].bytes.data(), ts[k].bytes.size());
    });
    EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(test::read_file(dir.file("plain.gguf")), test::read_file(dir.file("stream.gguf")));
}

TEST(gguf_writer, failing_callback_leaves_no_partial_file) {
    temp_dir dir;
    auto ts = sample_tensors();
    model_file m = make_model(ts, 32);
    EXPECT_THROW(write_gguf_streaming(dir.file("x.gguf"), m,
                                      [&](size_t k, uint8_t*) {
                                          if (k == 2) fail(errc::ERRC_IO, "source gone");
                                      }),
                 fathom::error);
    EXPECT_FALSE(std::filesystem::exists(dir.file("x.gguf")));
}

TEST(gguf_writer, reports_write_failures) {
    if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
    auto ts = sample_tensors();
    model_file m = make_model(ts, 32);
    expect_error([&] { write_gguf("/dev/full", m); }, errc::ERRC_IO, {"/dev/full: write failed: No space left on device"});
    expect_error([&] { write_gguf("/nonexistent-dir/x.gguf", m); }, errc::ERRC_IO, {"/nonexistent-dir/x.gguf", "cannot open"});
}

TEST(gguf_writer, rejects_inconsistent_models) {
    temp_dir dir;
    float v[4] = {};
    model_file m;
    m.add_tensor({"w", dtype::DTYPE_F32, {4}, v, 12});  // 4 floats are 16 bytes
    expect_error([&] { write_gguf(dir.file("a.gguf"), m); }, errc::ERRC_INVALID_ARGUMENT, {"tensor 'w'", "nbytes 12"});
    model_file m2;
    m2.set("arr", meta_value::array(gguf_type::GGUF_INT32, {meta_value::i32(1), meta_value::str("x")}));
    expect_error([&] { write_gguf(dir.file("b.gguf"), m2); }, errc::ERRC_INVALID_ARGUMENT, {"'arr'", "string"});
    model_file m4;
    m4.add_tensor({"q", dtype::DTYPE_Q8_0, {33}, v, 34});
    expect_error([&] { write_gguf(dir.file("d.gguf"), m4); }, errc::ERRC_INVALID_ARGUMENT, {"tensor 'q'", "invalid shape for type q8_0"});
    model_file m5;
    m5.add_tensor({"z", dtype::DTYPE_F32, {4, 0}, v, 0});
    expect_error([&] { write_gguf(dir.file("e.gguf"), m5); }, errc::ERRC_INVALID_ARGUMENT, {"tensor 'z'", "invalid shape"});
    model_file m3;
    m3.alignment = 48;
    expect_error([&] { write_gguf(dir.file("c.gguf"), m3); }, errc::ERRC_INVALID_ARGUMENT, {"alignment 48"});
}

// Every prefix of a valid file must fail cleanly (never crash, never read out of bounds).
TEST(gguf_reader, every_truncation_fails_cleanly) {
    temp_dir dir;
    auto ts = sample_tensors();
    model_file m = make_model(ts, 32);
    write_gguf(dir.file("full.gguf"), m);
    std::vector<uint8_t> full = test::read_file(dir.file("full.gguf"));
    for (size_t n = 0; n < full.size(); ++n) {
        std::vector<uint8_t> part(full.begin(), full.begin() + std::ptrdiff_t(n));
        try {
            parse_gguf(part.data(), part.size(), "cut.gguf");
            // The last tensor's trailing padding is optional; anything shorter must fail.
            EXPECT_GE(n, full.size() - 31) << "prefix of " << n << " bytes parsed";
        } catch (const fathom::error& e) {
            EXPECT_EQ(std::string(e.what()).rfind("cut.gguf: ", 0), 0u) << e.what();
        }
    }
}

TEST(meta_value, typed_readers_and_display) {
    EXPECT_EQ(meta_value::u32(5).as_int("k"), 5);
    EXPECT_EQ(meta_value::i32(-5).as_int("k"), -5);
    EXPECT_EQ(meta_value::boolean(true).as_int("k"), 1);
    EXPECT_DOUBLE_EQ(meta_value::u32(3).as_float("k"), 3.0);
    EXPECT_FLOAT_EQ(float(meta_value::f32(0.25f).as_float("k")), 0.25f);
    EXPECT_TRUE(meta_value::boolean(true).as_bool("k"));
    expect_error([] { meta_value::str("x").as_int("llama.block_count"); }, errc::ERRC_FORMAT,
                 {"llama.block_count: expected an integer, found string"});
    expect_error([] { meta_value::u32(1).as_string("general.name"); }, errc::ERRC_FORMAT,
                 {"general.name: expected a string, found uint32"});
    expect_error([] { meta_value::u64(~0ull).as_int("big"); }, errc::ERRC_FORMAT, {"big", "out of range"});
    expect_error([] { meta_value::f32(1).as_bool("b"); }, errc::ERRC_FORMAT, {"b: expected a bool, found float32"});
    expect_error([] { meta_value::f32(1).as_array("a"); }, errc::ERRC_FORMAT, {"a: expected an array"});
    EXPECT_EQ(meta_value::u32(42).to_display(), "42");
    EXPECT_EQ(meta_value::i32(-42).to_display(), "-42");
    EXPECT_EQ(meta_value::f32(0.5f).to_display(), "0.5");
    EXPECT_EQ(meta_value::boolean(false).to_display(), "false");
    EXPECT_EQ(meta_value::str("hi\n").to_display(), "\"hi\\n\"");
    std::vector<meta_value> many(32000, meta_value::str("t"));
    EXPECT_EQ(meta_value::array(gguf_type::GGUF_STRING, many).to_display(), "[32000 x string]");
    EXPECT_EQ(meta_value::array(gguf_type::GGUF_INT32, {meta_value::i32(1), meta_value::i32(2)}).to_display(), "[1, 2]");
    EXPECT_STREQ(gguf_type_name(gguf_type::GGUF_FLOAT64), "float64");
}

TEST(model_file, set_erase_find_and_duplicates) {
    model_file m;
    m.path = "m.gguf";
    m.set("a", meta_value::u32(1));
    m.set("b", meta_value::u32(2));
    m.set("a", meta_value::u32(3));  // replaces in place
    ASSERT_EQ(m.meta.size(), 2u);
    EXPECT_EQ(m.meta[0].first, "a");
    EXPECT_EQ(m.find("a")->u, 3u);
    m.erase("a");
    EXPECT_EQ(m.find("a"), nullptr);
    EXPECT_EQ(m.find("b")->u, 2u);
    m.meta.emplace_back("c", meta_value::u32(9));  // edited directly: find still works, index() refreshes
    EXPECT_EQ(m.find("c")->u, 9u);
    m.index();
    EXPECT_EQ(m.find("c")->u, 9u);
    float v = 1;
    m.add_tensor({"t", dtype::DTYPE_F32, {1}, &v, 4});
    EXPECT_EQ(m.find_tensor("t")->data, &v);
    EXPECT_EQ(m.find_tensor("u"), nullptr);
    expect_error([&] { m.add_tensor({"t", dtype::DTYPE_F32, {1}, &v, 4}); }, errc::ERRC_FORMAT,
                 {"m.gguf", "duplicate tensor name 't'"});
    EXPECT_EQ(m.tensors[0].nelements(), 1);
}

TEST(load_model_file, dispatches_by_content) {
    temp_dir dir;
    test::write_file(dir.file("notes.txt"), std::string("hello world"));
    expect_error([&] { load_model_file(dir.file("notes.txt")); }, errc::ERRC_FORMAT,
                 {dir.file("notes.txt") + ": not a GGUF file (bad magic), a tokenizer.json or a Hugging Face folder"});
    expect_error([&] { load_model_file(dir.file("missing.gguf")); }, errc::ERRC_IO, {"missing.gguf", "cannot open"});
    model_file m;
    m.set("general.architecture", meta_value::str("llama"));
    write_gguf(dir.file("ok.gguf"), m);
    EXPECT_EQ(load_model_file(dir.file("ok.gguf")).find("general.architecture")->s, "llama");
    expect_error([&] { load_model_file(dir.path()); }, errc::ERRC_IO, {"no config.json"});
}

// llama.cpp's own vocabulary files: read, then rewritten byte for byte.
TEST(gguf_reader, llama_cpp_vocab_files_round_trip) {
    const std::string d = std::string(FATHOM_SHARED_DIR) + "/testdata/tokenizers";
    if (!std::filesystem::exists(d)) GTEST_SKIP() << "no " << d;
    temp_dir dir;
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(d)) {
        if (e.path().extension() != ".gguf") continue;
        model_file m = read_gguf(e.path().string());
        write_gguf(dir.file("copy.gguf"), m);
        EXPECT_EQ(test::read_file(e.path().string()), test::read_file(dir.file("copy.gguf"))) << e.path();
        ++n;
        if (e.path().filename() == "ggml-vocab-llama-spm.gguf") {
            EXPECT_EQ(m.find("tokenizer.ggml.tokens")->as_array("t").size(), 32000u);
            EXPECT_EQ(m.find("tokenizer.ggml.tokens")->arr[1].s, "<s>");
            EXPECT_EQ(m.find("tokenizer.ggml.model")->s, "llama");
            EXPECT_EQ(m.find("llama.block_count")->as_int("b"), 32);
        }
    }
    EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace fathom::io

// Importance matrices: calibration statistics against values computed here from the weights, the GGUF round trip
// and its validation, and importance-weighted quantisation lowering the weighted error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/model-file.h"
#include "models/llama.h"
#include "models/model-test-util.h"
#include "quant/awq.h"
#include "quant/imatrix.h"
#include "quant/quant.h"
#include "quant/quantize-model.h"

namespace {

using namespace fathom;

std::vector<float> row_of(const io::tensor_entry& t, int64_t r) {
    const int64_t n = t.ne[0];
    std::vector<float> v(static_cast<size_t>(n));
    std::memcpy(v.data(), static_cast<const float*>(t.data) + r * n, size_t(n) * sizeof(float));
    return v;
}

TEST(Imatrix, CalibrationMatchesTheFirstLayersInputComputedHere) {
    test::tiny_spec spec;
    const std::unique_ptr<llama_model> m = llama_model::load(test::make_tiny_model(spec));
    const std::vector<int32_t> tokens = test::random_tokens(3 * 16 + 7, spec.n_vocab, 9);
    quant::calibrate_options o;
    o.n_ctx = 16;
    o.n_threads = 2;
    int64_t calls = 0;
    const quant::imatrix im = quant::calibrate(*m, tokens, 1, o, [&](int64_t, int64_t) { ++calls; });
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(im.chunk_count, 3);
    EXPECT_EQ(im.chunk_size, 16);
    ASSERT_EQ(int64_t(im.entries.size()), 7 * spec.n_layer + 1);  // seven matmuls per layer and the output
    for (const auto& [name, e] : im.entries) {
        EXPECT_EQ(e.count, 48.0f) << name;
        EXPECT_EQ(int64_t(e.sum2.size()), m->file.find_tensor(name)->ne[0]) << name;
    }

    // Layer 0's Q/K/V input is RMSNorm(embedding) * attn_norm: computed here in double.
    const io::tensor_entry& emb = *m->w.tok_embd;
    const std::vector<float> g = row_of(*m->w.layers[0].attn_norm, 0);
    std::vector<double> want(static_cast<size_t>(spec.n_embd), 0.0);
    for (int64_t c = 0; c < 3; ++c) {
        for (int64_t p = 0; p < 16; ++p) {
            const int32_t t = p == 0 ? 1 : tokens[size_t(c * 16 + p)];
            const std::vector<float> x = row_of(emb, t);
            double ss = 0;
            for (float v : x) ss += double(v) * v;
            const double inv = 1.0 / std::sqrt(ss / double(x.size()) + 1e-5);
            for (size_t i = 0; i < x.size(); ++i) {
                const double y = double(x[i]) * inv * double(g[i]);
                want[i] += y * y;
            }
        }
    }
    for (const char* w : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"}) {
        const quant::imatrix_entry& e = im.entries.at(w);
        for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(e.sum2[i], want[i], 1e-4 * want[i] + 1e-6) << w << " " << i;
    }
    // importance = sum2 / count
    const std::vector<float> imp = im.importance("blk.0.attn_q.weight");
    EXPECT_NEAR(imp[3], float(want[3] / 48.0), 1e-4 * want[3] / 48.0);
    EXPECT_TRUE(im.importance("no.such.weight").empty());

    o.n_ctx = 4096;
    EXPECT_THROW(quant::calibrate(*m, tokens, 1, o), fathom::error);
    o.n_ctx = 64;
    EXPECT_THROW(quant::calibrate(*m, tokens, 1, o), fathom::error);  // fewer tokens than one chunk
}

TEST(Imatrix, GgufRoundTripAndValidation) {
    quant::imatrix im;
    im.datasets = {"a.txt", "b.txt"};
    im.chunk_count = 5;
    im.chunk_size = 128;
    im.entries["blk.0.attn_q.weight"] = {{1.5f, 0.0f, 3.25f}, 640.0f};
    im.entries["output.weight"] = {{2.0f, 4.0f}, 10.0f};
    test::temp_dir tmp;
    const std::string path = tmp.path() + "/im.gguf";
    quant::write_imatrix(path, im);
    const quant::imatrix back = quant::read_imatrix(path);
    EXPECT_EQ(back.datasets, im.datasets);
    EXPECT_EQ(back.chunk_count, 5);
    EXPECT_EQ(back.chunk_size, 128);
    ASSERT_EQ(back.entries.size(), 2u);
    EXPECT_EQ(back.entries.at("blk.0.attn_q.weight").sum2, (std::vector<float>{1.5f, 0.0f, 3.25f}));
    EXPECT_EQ(back.entries.at("output.weight").count, 10.0f);
    EXPECT_EQ(back.importance("output.weight"), (std::vector<float>{0.2f, 0.4f}));

    auto fails_with = [&](io::model_file f, const std::string& what) {
        f.path = "bad.gguf";
        try {
            quant::imatrix_from_gguf(f);
            ADD_FAILURE() << "accepted: " << what;
        } catch (const fathom::error& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).rfind("bad.gguf: ", 0), 0u) << e.what();
        }
    };
    io::model_file f = quant::imatrix_to_gguf(im);
    f.tensors.erase(f.tensors.begin() + 1);  // blk.0.attn_q.weight.counts
    f.index();
    fails_with(f, "has no 'blk.0.attn_q.weight.counts'");
    f = quant::imatrix_to_gguf(im);
    const_cast<float*>(static_cast<const float*>(f.tensors[0].data))[1] = -1.0f;
    fails_with(f, "negative or non-finite");
    f = quant::imatrix_to_gguf(im);
    f.set("general.type", io::meta_value::str("model"));
    fails_with(f, "not \"imatrix\"");
    fails_with(io::model_file{}, "no importance data");
}

TEST(Imatrix, ImportanceLowersTheWeightedErrorOfQuantisedWeights) {
    // Rows of 256 with a few high-importance columns (as activations with outlier channels give).
    const int64_t n = 256, rows = 64;
    std::vector<float> imp(static_cast<size_t>(n), 0.05f);
    for (int64_t i = 0; i < n; i += 17) imp[size_t(i)] = 50.0f;
    const std::vector<int32_t> r = test::random_tokens(n * rows, 1000, 5);
    for (dtype t : {dtype::DTYPE_Q4_0, dtype::DTYPE_Q4_1, dtype::DTYPE_Q5_0, dtype::DTYPE_IQ4_NL, dtype::DTYPE_Q4_K,
                    dtype::DTYPE_Q5_K, dtype::DTYPE_Q6_K, dtype::DTYPE_IQ4_XS}) {
        double err_plain = 0, err_imp = 0;
        std::vector<uint8_t> buf(dtype_row_bytes(t, n));
        std::vector<float> back(static_cast<size_t>(n));
        for (int64_t row = 0; row < rows; ++row) {
            std::vector<float> x(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) x[size_t(i)] = (float(r[size_t(row * n + i)]) - 500.0f) / 250.0f;
            for (int pass = 0; pass < 2; ++pass) {
                quant::quantize_row(t, x.data(), buf.data(), n, pass ? imp.data() : nullptr);
                quant::dequantize_row(t, buf.data(), back.data(), n);
                double e = 0;
                for (int64_t i = 0; i < n; ++i) {
                    const double d = double(back[size_t(i)]) - x[size_t(i)];
                    e += double(imp[size_t(i)]) * d * d;
                }
                (pass ? err_imp : err_plain) += e;
            }
        }
        EXPECT_LT(err_imp, 0.9 * err_plain) << dtype_name(t);
        std::printf("[ imatrix ] %-7s weighted error with / without importance: %.3f\n", dtype_name(t), err_imp / err_plain);
    }
}

TEST(Imatrix, QuantizeModelUsesItAndRefusesAnotherModels) {
    test::tiny_spec spec;
    spec.n_embd = 64;
    const io::model_file f = test::make_tiny_model(spec);
    const std::unique_ptr<llama_model> m = llama_model::load(test::make_tiny_model(spec));
    quant::calibrate_options o;
    o.n_ctx = 32;
    o.n_threads = 2;
    const quant::imatrix im = quant::calibrate(*m, test::random_tokens(64, spec.n_vocab, 2), 1, o);
    test::temp_dir tmp;
    quant::quantize_params p;
    p.type = "q4_0";
    p.importance = &im;
    const quant::quantize_result r = quant::quantize_model(f, tmp.path() + "/q.gguf", p);
    EXPECT_EQ(r.n_importance, r.n_quantized - 1);  // all but token_embd, a lookup table with no matmul input
    EXPECT_EQ(r.n_importance, 7 * spec.n_layer + 1);

    quant::imatrix other = im;
    other.entries["blk.1.ffn_down.weight"].sum2.resize(8);
    p.importance = &other;
    try {
        quant::quantize_model(f, tmp.path() + "/q2.gguf", p);
        ADD_FAILURE() << "accepted an imatrix of another shape";
    } catch (const fathom::error& e) {
        EXPECT_NE(std::string(e.what()).find("'blk.1.ffn_down.weight' has 8 columns"), std::string::npos) << e.what();
    }
}

// AWQ-style scaling keeps the full-precision function and lowers the weighted quantisation error.
TEST(Imatrix, AwqScalingIsExactInFullPrecisionAndLowersTheError) {
    test::tiny_spec spec;
    spec.n_embd = 64;
    spec.n_ff = 128;
    const io::model_file f = test::make_tiny_model(spec);
    const std::unique_ptr<llama_model> m = llama_model::load(test::make_tiny_model(spec));
    quant::calibrate_options o;
    o.n_ctx = 32;
    o.n_threads = 2;
    const std::vector<int32_t> tokens = test::random_tokens(96, spec.n_vocab, 8);
    const quant::imatrix im = quant::calibrate(*m, tokens, 1, o);
    const quant::awq_result a = quant::awq_scale(f, im, dtype::DTYPE_Q4_0, 2);
    ASSERT_EQ(int64_t(a.groups.size()), 3 * spec.n_layer);
    int scaled = 0;
    for (const quant::awq_group& g : a.groups) {
        EXPECT_LE(g.err_after, g.err_before) << g.produced_by;
        scaled += g.alpha > 0 ? 1 : 0;
    }
    EXPECT_GT(scaled, 0);
    const std::unique_ptr<llama_model> s = llama_model::load(a.model);
    const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 24);
    EXPECT_LE(test::max_rel_diff(test::run_one_batch(*s, prompt), test::run_one_batch(*m, prompt)), 1e-4);
    // the scaled model's importance is the original's divided by s^2: recalibrating the scaled model agrees
    const quant::imatrix again = quant::calibrate(*s, tokens, 1, o);
    for (const char* w : {"blk.0.attn_q.weight", "blk.1.ffn_down.weight"}) {
        const std::vector<float> x = a.importance.importance(w), y = again.importance(w);
        ASSERT_EQ(x.size(), y.size());
        for (size_t j = 0; j < x.size(); ++j) EXPECT_NEAR(x[j], y[j], 1e-3 * y[j] + 1e-7) << w << " " << j;
    }
    EXPECT_THROW(quant::awq_scale(f, quant::imatrix{}, dtype::DTYPE_Q4_0), fathom::error);  // no importance data
}

}  // namespace

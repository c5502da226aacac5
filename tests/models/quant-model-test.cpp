// Quantised models end to end: quant::quantize_model on a tiny random model, then the quantised model's logits against
// the F32 model's (Q8_0 within 1 % relative RMS, greedy decode identical where the top logits are not near-ties),
// lower-bit types within looser bounds, the mixes' per-tensor choices, overrides, fallbacks and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "io/model-file.h"
#include "models/llama.h"
#include "models/model-test-util.h"
#include "quant/quant.h"
#include "quant/quantize-model.h"

namespace fathom {
namespace {

using test::make_tiny_model;
using test::tiny_spec;

// Row lengths multiple of 256 so that every type (K-quants included) applies without fallbacks.
tiny_spec quant_spec() {
    tiny_spec s;
    s.n_vocab = 512;
    s.n_embd = 256;
    s.n_layer = 2;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.head_dim = 64;
    s.n_ff = 512;
    s.seed = 7;
    return s;
}

// Relative RMS difference of all logits: sqrt(sum (a-b)^2 / sum b^2).
double rel_rms(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& ref) {
    double num = 0, den = 0;
    for (size_t p = 0; p < ref.size(); ++p)
        for (size_t i = 0; i < ref[p].size(); ++i) {
            const double d = double(a[p][i]) - double(ref[p][i]);
            num += d * d;
            den += double(ref[p][i]) * double(ref[p][i]);
        }
    return std::sqrt(num / den);
}

struct quantized {
    std::unique_ptr<llama_model> model;
    quant::quantize_result result;
};

quantized quantize_tiny(const std::string& type, const test::temp_dir& dir,
                        std::vector<std::pair<std::string, std::string>> overrides = {}) {
    const io::model_file src = make_tiny_model(quant_spec());
    quant::quantize_params p;
    p.type = type;
    p.overrides = std::move(overrides);
    p.n_threads = 2;
    const std::string out = dir.path() + "/" + type + ".gguf";
    quantized q;
    q.result = quant::quantize_model(src, out, p);
    q.model = llama_model::load(io::read_gguf(out));
    return q;
}

TEST(quant_model, q8_0_logits_within_one_percent_of_f32) {
    test::temp_dir dir;
    const auto f32 = llama_model::load(make_tiny_model(quant_spec()));
    const quantized q = quantize_tiny("q8_0", dir);
    EXPECT_EQ(q.model->w.layers[0].wq->type, dtype::DTYPE_Q8_0);
    EXPECT_EQ(q.model->w.output->type, dtype::DTYPE_Q8_0);  // q8_0 keeps its own head
    EXPECT_EQ(q.model->w.output_norm->type, dtype::DTYPE_F32);
    const std::vector<int32_t> tokens = test::random_tokens(24, 512, 3);
    const auto ref = test::run_one_batch(*f32, tokens);
    const auto got = test::run_one_batch(*q.model, tokens);
    const double r = rel_rms(got, ref);
    EXPECT_LT(r, 0.01) << "Q8_0 logits relative RMS " << r;
    EXPECT_GT(r, 0.0) << "the quantised model must actually differ";
}

// Greedy continuation of `prompt` for n tokens, one token per decode; also the top-2 logit gap at each step.
std::vector<int32_t> greedy(const llama_model& m, std::vector<int32_t> prompt, int n, std::vector<float>* gaps) {
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
        const auto logits = test::run_one_batch(m, prompt);
        const std::vector<float>& last = logits.back();
        std::vector<float> sorted(last);
        std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
        if (gaps) gaps->push_back(sorted[0] - sorted[1]);
        const int32_t tok = int32_t(std::max_element(last.begin(), last.end()) - last.begin());
        out.push_back(tok);
        prompt.push_back(tok);
    }
    return out;
}

TEST(quant_model, q8_0_greedy_decode_equals_f32) {
    test::temp_dir dir;
    const auto f32 = llama_model::load(make_tiny_model(quant_spec()));
    const quantized q = quantize_tiny("q8_0", dir);
    std::vector<float> gaps;
    const std::vector<int32_t> prompt = test::random_tokens(6, 512, 11);
    const auto a = greedy(*f32, prompt, 32, &gaps);
    const auto b = greedy(*q.model, prompt, 32, nullptr);
    // Compare up to the first step whose top-2 gap in the F32 model is a near-tie (< 1 % of the logit scale).
    float scale = 0;
    for (float g : gaps) scale = std::max(scale, g);
    size_t checked = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (gaps[i] < 1e-3f) break;
        EXPECT_EQ(a[i], b[i]) << "step " << i << " (top-2 gap " << gaps[i] << ")";
        ++checked;
        if (a[i] != b[i]) break;
    }
    EXPECT_GE(checked, 16u) << "too many near-ties to compare";
}

TEST(quant_model, lower_bit_types_stay_close) {
    test::temp_dir dir;
    const auto f32 = llama_model::load(make_tiny_model(quant_spec()));
    const std::vector<int32_t> tokens = test::random_tokens(16, 512, 5);
    const auto ref = test::run_one_batch(*f32, tokens);
    // Bounds about twice the measured relative RMS on this model; ordered roughly by bits.
    const std::vector<std::pair<std::string, double>> cases = {
        {"q6_k", 0.03}, {"q5_k", 0.06}, {"q5_0", 0.08}, {"q5_1", 0.08}, {"q4_k_m", 0.12}, {"q4_k", 0.12},
        {"iq4_xs", 0.12}, {"iq4_nl", 0.12}, {"q4_1", 0.16}, {"q4_0", 0.16}};
    for (const auto& [type, bound] : cases) {
        const quantized q = quantize_tiny(type, dir);
        const double r = rel_rms(test::run_one_batch(*q.model, tokens), ref);
        EXPECT_LT(r, bound) << type;
        EXPECT_GT(r, 0.0) << type;
        std::printf("[ quant ] %-7s %.3f bits/weight, logits relative RMS %.4f\n", type.c_str(),
                    q.result.bits_per_weight(), r);
    }
}

TEST(quant_model, size_shrinks_with_bits) {
    test::temp_dir dir;
    const quantized f32 = quantize_tiny("f32", dir);
    const quantized q8 = quantize_tiny("q8_0", dir);
    const quantized q4 = quantize_tiny("q4_0", dir);
    EXPECT_EQ(f32.result.bytes_out, f32.result.bytes_in);
    EXPECT_LT(q8.result.bytes_out, f32.result.bytes_out * 27 / 100 + 4096);
    // 2-D weights at 4.5 bits (the 6.56-bit Q6_K head aside) and F32 norms: well under 22 % of F32
    EXPECT_LT(double(q4.result.bytes_out), 0.22 * double(f32.result.bytes_out));
    EXPECT_NEAR(quant::bits_per_weight(dtype::DTYPE_Q4_0), 4.5, 1e-9);
}

TEST(quant_model, mix_rules_overrides_and_fallbacks) {
    quant::quantize_params p;
    p.type = "q4_k_m";
    auto tensor = [](const std::string& name, int64_t n_in) {
        io::tensor_entry t;
        t.name = name;
        t.ne = {n_in, 64};
        return t;
    };
    const int64_t L = 16;
    auto type_of = [&](const std::string& name, int64_t n_in = 256) {
        return std::string(dtype_name(quant::choose_type(p, tensor(name, n_in), L, nullptr)));
    };
    EXPECT_EQ(type_of("output.weight"), "q6_k");
    EXPECT_EQ(type_of("token_embd.weight"), "q4_k");
    EXPECT_EQ(type_of("blk.0.attn_v.weight"), "q6_k");    // first eighth
    EXPECT_EQ(type_of("blk.1.attn_v.weight"), "q6_k");
    EXPECT_EQ(type_of("blk.2.attn_v.weight"), "q4_k");
    EXPECT_EQ(type_of("blk.4.ffn_down.weight"), "q6_k");  // (4 - 2) % 3 == 2
    EXPECT_EQ(type_of("blk.5.ffn_down.weight"), "q4_k");
    EXPECT_EQ(type_of("blk.14.ffn_down.weight"), "q6_k");  // last eighth
    EXPECT_EQ(type_of("blk.5.attn_q.weight"), "q4_k");
    io::tensor_entry norm;
    norm.name = "blk.0.attn_norm.weight";
    norm.ne = {256};
    EXPECT_EQ(quant::choose_type(p, norm, L, nullptr), dtype::DTYPE_F32);
    // row length 96 is not a multiple of 256: Q4_K falls back to Q5_0 (32), Q6_K to Q8_0
    bool fb = false;
    EXPECT_EQ(quant::choose_type(p, tensor("blk.5.attn_q.weight", 96), L, &fb), dtype::DTYPE_Q5_0);
    EXPECT_TRUE(fb);
    EXPECT_EQ(type_of("output.weight", 96), "q8_0");
    EXPECT_EQ(type_of("blk.5.attn_q.weight", 40), "f16");  // fits no block at all
    // overrides: first matching glob wins over the mix
    p.overrides = {{"blk.*.ffn_*", "q8_0"}, {"blk.5.*", "q4_0"}};
    EXPECT_EQ(type_of("blk.5.ffn_up.weight"), "q8_0");
    EXPECT_EQ(type_of("blk.5.attn_q.weight"), "q4_0");
    EXPECT_EQ(type_of("blk.6.attn_q.weight"), "q4_k");
    // single types: the head of a low-bit file goes to Q6_K
    p.overrides.clear();
    p.type = "q4_0";
    EXPECT_EQ(type_of("output.weight"), "q6_k");
    EXPECT_EQ(type_of("blk.0.attn_v.weight"), "q4_0");
    p.type = "q8_0";
    EXPECT_EQ(type_of("output.weight"), "q8_0");
    EXPECT_TRUE(quant::glob_match("blk.?.attn_*.weight", "blk.3.attn_k.weight"));
    EXPECT_FALSE(quant::glob_match("blk.?.attn_*.weight", "blk.13.attn_k.weight"));
    EXPECT_EQ(quant::gguf_file_type("Q4_K_M"), 15);
    EXPECT_EQ(quant::gguf_file_type("q4_0"), 2);
}

TEST(quant_model, errors_name_the_option_or_tensor) {
    test::temp_dir dir;
    const io::model_file src = make_tiny_model(quant_spec());
    auto error_of = [&](quant::quantize_params p, const io::model_file& f) -> std::string {
        try {
            quant::quantize_model(f, dir.path() + "/x.gguf", p);
        } catch (const error& e) {
            return e.what();
        }
        return "";
    };
    quant::quantize_params p;
    p.type = "q3_z";
    EXPECT_NE(error_of(p, src).find("type: unknown type 'q3_z'"), std::string::npos) << error_of(p, src);
    p.type = "q4_0";
    p.overrides = {{"blk.*", "int3"}};
    EXPECT_NE(error_of(p, src).find("--tensor-type blk.*: unknown type 'int3'"), std::string::npos);
    // an already quantised source is refused unless requantising is allowed
    p.overrides.clear();
    const quantized q = quantize_tiny("q8_0", dir);
    const io::model_file q8 = io::read_gguf(dir.path() + "/q8_0.gguf");
    EXPECT_NE(error_of(p, q8).find("is already q8_0"), std::string::npos) << error_of(p, q8);
    p.allow_requantize = true;
    EXPECT_EQ(error_of(p, q8), "");
}

}  // namespace
}  // namespace fathom

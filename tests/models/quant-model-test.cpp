// Quantised models end to end: quant::quantize_model on a tiny random model, then the quantised model's logits against
// the F32 model's (Q8_0 within 1 % relative RMS, greedy decode identical where the top logits are not near-ties),
// lower-bit types within looser bounds, the mixes' per-tensor choices, overrides, fallbacks and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "core/error.h"
#include "io/model-file.h"
#include "io/text/tokenizer.h"
#include "kernels/kernels.h"
#include "models/llama.h"
#include "models/model-test-util.h"
#include "models/synth.h"
#include "nn/matmul.h"
#include "quant/quant.h"
#include "quant/quantize-model.h"

namespace fathom {
namespace {


// The "mini" synthetic shape (fathom synth: weights normal(0, 0.02), norms 1): 4 layers, n_embd 256, n_ff 768,
// vocabulary 1024, so every row length is a multiple of 256 and every type applies without fallbacks.
const std::string& mini_path() {
    static test::temp_dir dir;
    static const std::string path = [] {
        synth_params sp;
        sp.shape = "mini";
        sp.seed = 3;
        sp.n_threads = 2;
        const std::string p = dir.path() + "/mini-f32.gguf";
        synth_model(sp, p);
        return p;
    }();
    return path;
}
constexpr int64_t k_vocab = 1024;

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

// Whether the active SIMD level repacks type t: it has its own R16 kernel for it (a level that only inherits the
// scalar oracle keeps the row layout; see nn::prepare_weight).
bool repacks(dtype t) {
    const kernels::table& k = kernels::active();
    const kernels::matmul_r16_fn fn = kernels::matmul_r16_for(k, t);
    if (!fn) return false;
    return k.level == kernels::isa::ISA_SCALAR ||
           fn != kernels::matmul_r16_for(*kernels::for_isa(kernels::isa::ISA_SCALAR), t);
}

struct quantized {
    std::unique_ptr<llama_model> model;
    quant::quantize_result result;
};

quantized quantize_tiny(const std::string& type, const test::temp_dir& dir,
                        std::vector<std::pair<std::string, std::string>> overrides = {}) {
    const io::model_file src = io::read_gguf(mini_path());
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

TEST(quant_model, q8_0_matmul_within_one_percent_of_f32) {
    // One product: Q8_0 weights x on-the-fly Q8_0 activations against the F32 product, 256 -> 768, 8 tokens.
    const int64_t n_in = 256, n_out = 768, n_tok = 8;
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> w(size_t(n_in * n_out)), x(size_t(n_in * n_tok));
    for (float& v : w) v = 0.02f * nd(rng);
    for (float& v : x) v = nd(rng);
    std::vector<uint8_t> wq(dtype_row_bytes(dtype::DTYPE_Q8_0, n_in) * size_t(n_out));
    for (int64_t r = 0; r < n_out; ++r)
        quant::quantize_row(dtype::DTYPE_Q8_0, w.data() + r * n_in,
                            wq.data() + size_t(r) * dtype_row_bytes(dtype::DTYPE_Q8_0, n_in), n_in);
    io::tensor_entry tf, tq;
    tf.name = "w_f32";
    tf.ne = {n_in, n_out};
    tf.type = dtype::DTYPE_F32;
    tf.data = w.data();
    tf.nbytes = w.size() * 4;
    tq = tf;
    tq.name = "w_q8_0";
    tq.type = dtype::DTYPE_Q8_0;
    tq.data = wq.data();
    tq.nbytes = wq.size();
    thread_pool pool(2);
    std::vector<float> yf(size_t(n_out * n_tok)), yq(yf.size());
    nn::matmul(pool, tf, x.data(), n_in, n_tok, yf.data(), n_out);
    nn::matmul(pool, tq, x.data(), n_in, n_tok, yq.data(), n_out);
    const double r = rel_rms({yq}, {yf});
    EXPECT_LT(r, 0.01) << "Q8_0 product relative RMS " << r;
    EXPECT_GT(r, 0.001) << "the quantised product must actually differ";
}

TEST(quant_model, prefill_panels_equal_the_dequantised_product) {
#if defined(FATHOM_HAVE_BLAS)
    // From blas_min_tokens on, quantised weights are dequantised in panels and multiplied with sgemm: the result
    // must equal the F32 product of the dequantised weights (same sgemm, same panels) up to float rounding.
    const int64_t n_in = 512 + 256, n_out = 96, n_tok = 70;
    std::mt19937 rng(9);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (dtype t : {dtype::DTYPE_Q4_0, dtype::DTYPE_Q4_K, dtype::DTYPE_Q6_K, dtype::DTYPE_IQ4_XS}) {
        std::vector<float> w(size_t(n_in * n_out)), x(size_t(n_in * n_tok)), wd(w.size());
        for (float& v : w) v = 0.05f * nd(rng);
        for (float& v : x) v = nd(rng);
        const size_t rb = dtype_row_bytes(t, n_in);
        std::vector<uint8_t> wq(rb * size_t(n_out));
        for (int64_t r = 0; r < n_out; ++r) {
            quant::quantize_row(t, w.data() + r * n_in, wq.data() + size_t(r) * rb, n_in);
            quant::dequantize_row(t, wq.data() + size_t(r) * rb, wd.data() + r * n_in, n_in);
        }
        io::tensor_entry tq, tf;
        tq.name = "wq";
        tq.ne = {n_in, n_out};
        tq.type = t;
        tq.data = wq.data();
        tq.nbytes = wq.size();
        tf = tq;
        tf.type = dtype::DTYPE_F32;
        tf.data = wd.data();
        tf.nbytes = wd.size() * 4;
        thread_pool pool(2);
        std::vector<float> yq(size_t(n_out * n_tok)), yf(yq.size());
        nn::set_blas_min_tokens(n_tok);  // every type through the panels for this check
        ASSERT_LE(nn::blas_min_tokens(t), n_tok);
        nn::matmul(pool, tq, x.data(), n_in, n_tok, yq.data(), n_out);
        nn::matmul(pool, tf, x.data(), n_in, n_tok, yf.data(), n_out);
        nn::set_blas_min_tokens(0);
        EXPECT_LT(rel_rms({yq}, {yf}), 1e-5) << dtype_name(t);
    }
#else
    GTEST_SKIP() << "skipped: built without BLAS";
#endif
}

TEST(quant_model, q8_0_logits_close_to_f32) {
    // Over the 29 quantised matrices of this random model the per-product error (about 0.6 %) adds up to about
    // 2 % of the logits: random-weight layers all contribute fully to the residual stream.
    test::temp_dir dir;
    const auto f32 = llama_model::load(io::read_gguf(mini_path()));
    const quantized q = quantize_tiny("q8_0", dir);
    EXPECT_EQ(q.model->w.layers[0].wq->type, dtype::DTYPE_Q8_0);
    EXPECT_EQ(q.model->w.output->type, dtype::DTYPE_Q8_0);  // q8_0 keeps its own head
    EXPECT_EQ(q.model->w.output_norm->type, dtype::DTYPE_F32);
    const std::vector<int32_t> tokens = test::random_tokens(32, k_vocab, 3);
    const auto ref = test::run_one_batch(*f32, tokens);
    const auto got = test::run_one_batch(*q.model, tokens);
    const double r = rel_rms(got, ref);
    std::printf("[ quant ] q8_0    logits relative RMS %.4f\n", r);
    EXPECT_LT(r, 0.025) << "Q8_0 logits relative RMS " << r;
    EXPECT_GT(r, 0.0) << "the quantised model must actually differ";
}

TEST(quant_model, repacked_r16_product_matches_row_layout) {
    // One product through nn::matmul with the weight in the file's row layout and after nn::prepare_weight: the
    // activation codes are the same, only their scales are kept in F32 instead of F16 (and Q8_1's d * sum for Q4_1),
    // so the two agree to a few 1e-4 (Q4_1 ~6e-4); a wrong kernel or layout is off by O(1).
    const int64_t n_in = 256, n_out = 40;
    std::mt19937 rng(21);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    nn::set_blas_min_tokens(1 << 20);  // the row layout through its integer kernels at every token count
    for (dtype t : {dtype::DTYPE_Q4_0, dtype::DTYPE_Q4_1, dtype::DTYPE_Q8_0, dtype::DTYPE_IQ4_NL, dtype::DTYPE_Q4_K,
                    dtype::DTYPE_IQ4_XS, dtype::DTYPE_Q6_K}) {
        if (!repacks(t)) {
            std::printf("[ quant ] %s: this SIMD level keeps the row layout (no R16 kernel of its own)\n", dtype_name(t));
            continue;
        }
        for (int64_t n_tok : {1, 3, 8, 9, 70}) {
            std::vector<float> w(size_t(n_in * n_out)), x(size_t(n_in * n_tok));
            for (float& v : w) v = 0.05f * nd(rng);
            for (float& v : x) v = nd(rng);
            const size_t rb = dtype_row_bytes(t, n_in);
            auto buf = std::make_shared<aligned_buffer>(rb * size_t(n_out));
            for (int64_t r = 0; r < n_out; ++r)
                quant::quantize_row(t, w.data() + r * n_in, buf->as<uint8_t>() + size_t(r) * rb, n_in);
            io::model_file f;
            io::tensor_entry te;
            te.name = "wq";
            te.ne = {n_in, n_out};
            te.type = t;
            te.data = buf->data();
            te.nbytes = buf->size();
            f.add_tensor(te);
            f.owned.push_back(buf);
            thread_pool pool(2);
            std::vector<float> ya(size_t(n_out * n_tok)), yb(ya.size());
            nn::matmul(pool, f.tensors[0], x.data(), n_in, n_tok, ya.data(), n_out);
            ASSERT_TRUE(nn::prepare_weight(f, &f.tensors[0])) << dtype_name(t);
            ASSERT_EQ(f.tensors[0].layout, io::weight_layout::WEIGHT_LAYOUT_R16);
            if (n_tok == 1) {  // a repacked tensor never reaches a file
                test::temp_dir dir;
                try {
                    io::write_gguf(dir.path() + "/r16.gguf", f);
                    ADD_FAILURE() << "writing a repacked tensor must fail";
                } catch (const fathom::error& e) {
                    EXPECT_NE(std::string(e.what()).find("repacked"), std::string::npos) << e.what();
                }
            }
            nn::matmul(pool, f.tensors[0], x.data(), n_in, n_tok, yb.data(), n_out);
            if (t != dtype::DTYPE_Q4_K && t != dtype::DTYPE_IQ4_XS && t != dtype::DTYPE_Q6_K) {
                EXPECT_LT(rel_rms({yb}, {ya}), 1e-3) << dtype_name(t) << " n_tok " << n_tok;
            } else {
                // The row layout pairs Q4_K, IQ4_XS and Q6_K with Q8_K activations (one scale per 256), R16 with 8-bit
                // codes and a scale per 32: R16 must be at least as close to the exact product of the dequantised
                // weights.
                std::vector<float> wd(w.size()), ye(ya.size());
                for (int64_t r = 0; r < n_out; ++r)
                    quant::dequantize_row(t, buf->as<uint8_t>() + size_t(r) * rb, wd.data() + r * n_in, n_in);
                for (int64_t tk = 0; tk < n_tok; ++tk)
                    for (int64_t r = 0; r < n_out; ++r) {
                        double acc = 0;
                        for (int64_t i = 0; i < n_in; ++i) acc += double(wd[size_t(r * n_in + i)]) * x[size_t(tk * n_in + i)];
                        ye[size_t(tk * n_out + r)] = float(acc);
                    }
                const double e_r16 = rel_rms({yb}, {ye}), e_rows = rel_rms({ya}, {ye});
                EXPECT_LT(e_r16, 0.006) << "n_tok " << n_tok;
                EXPECT_LT(e_r16, e_rows * 1.1) << "n_tok " << n_tok << ": R16 " << e_r16 << ", rows " << e_rows;
            }
            // rows read back from the repacked weight are the file's rows
            std::vector<float> ra(static_cast<size_t>(n_in)), rb2(static_cast<size_t>(n_in));
            for (int64_t r : {int64_t(0), int64_t(17), n_out - 1}) {
                quant::dequantize_row(t, buf->as<uint8_t>() + size_t(r) * rb, ra.data(), n_in);
                nn::get_row_f32(f.tensors[0], r, rb2.data());
                EXPECT_EQ(ra, rb2) << dtype_name(t) << " row " << r;
            }
        }
    }
    nn::set_blas_min_tokens(0);
}

TEST(quant_model, repacked_r16_weights_match_row_layout) {
    // The same quantised model loaded with its matmul weights repacked (R16 kernels, activation scales in F32) and in
    // the file's row layout (row kernels, activation scales in F16). Activation codes are rounded, so a 1e-4 change
    // of a scale flips the codes that sit near a rounding boundary, and on this random model such flips grow to about
    // 1.3 % of the logits after four layers (measured 1.2-1.5 %, scalar and VNNI alike). A wrong kernel or layout
    // gives O(1) differences; the tight check is the single product above.
    test::temp_dir dir;
    const std::vector<int32_t> tokens = test::random_tokens(21, k_vocab, 9);
    for (const char* type : {"q4_0", "q4_1", "q8_0", "iq4_nl", "q4_k", "iq4_xs", "q6_k"}) {
        dtype dt{};
        ASSERT_TRUE(dtype_from_name(type, &dt)) << type;
        if (!repacks(dt)) {
            std::printf("[ quant ] %s: this SIMD level keeps the row layout (no R16 kernel of its own)\n", type);
            continue;
        }
        nn::set_repack_enabled(false);
        const quantized rows = quantize_tiny(type, dir);
        nn::set_repack_enabled(true);
        const quantized r16 = quantize_tiny(type, dir);
        ASSERT_EQ(rows.model->w.layers[0].w_up->layout, io::weight_layout::WEIGHT_LAYOUT_ROWS);
        ASSERT_EQ(r16.model->w.layers[0].w_up->layout, io::weight_layout::WEIGHT_LAYOUT_R16) << type;
        const auto a = test::run_one_batch(*rows.model, tokens);
        const auto b = test::run_one_batch(*r16.model, tokens);
        const double r = rel_rms(b, a);
        std::printf("[ quant ] %-6s R16 vs row layout: logits relative RMS %.2e\n", type, r);
        EXPECT_LT(r, 0.03) << type;
        // one token at a time through the KV cache (the decode path: one-token panels)
        const auto c = test::run_one_batch(*r16.model, tokens, 2, 1);
        EXPECT_LT(rel_rms(c, a), 0.03) << type << " decode";
    }
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
    // The F32 model's greedy continuation (32 tokens) is fed to both models (teacher forcing), and at every step
    // whose F32 top-2 gap is not a near-tie the Q8_0 model must pick the same token. A near-tie is a gap within four
    // standard deviations of the difference of two logits' errors: 4 * sqrt(2) times the RMS logit difference between
    // the two models at that step (the quantisation noise). Three times the RMS (2.1 sigma) let a gap of 3.8x flip.
    test::temp_dir dir;
    const auto f32 = llama_model::load(io::read_gguf(mini_path()));
    const quantized q = quantize_tiny("q8_0", dir);
    std::vector<int32_t> seq = test::random_tokens(6, k_vocab, 11);
    const size_t n_prompt = seq.size();
    const std::vector<int32_t> gen = greedy(*f32, seq, 32, nullptr);
    seq.insert(seq.end(), gen.begin(), gen.end());
    const auto a = test::run_one_batch(*f32, seq);
    const auto b = test::run_one_batch(*q.model, seq);
    int checked = 0, ties = 0;
    for (size_t i = n_prompt - 1; i + 1 < seq.size(); ++i) {
        const std::vector<float>& la = a[i];
        const std::vector<float>& lb = b[i];
        const int32_t ta = int32_t(std::max_element(la.begin(), la.end()) - la.begin());
        const int32_t tb = int32_t(std::max_element(lb.begin(), lb.end()) - lb.begin());
        ASSERT_EQ(ta, seq[i + 1]) << "teacher forcing reproduces the F32 greedy run";
        std::vector<float> sorted(la);
        std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
        double d2 = 0;
        for (size_t k = 0; k < la.size(); ++k) d2 += double(la[k] - lb[k]) * double(la[k] - lb[k]);
        const double noise = std::sqrt(d2 / double(la.size()));
        if (sorted[0] - sorted[1] < 4.0 * std::sqrt(2.0) * noise) {
            ++ties;
            continue;
        }
        EXPECT_EQ(tb, ta) << "step " << i - (n_prompt - 1) << ": top-2 gap " << sorted[0] - sorted[1]
                          << ", noise " << noise;
        ++checked;
    }
    std::printf("[ quant ] q8_0 greedy: %d of 32 steps compared, %d near-ties skipped\n", checked, ties);
    EXPECT_GE(checked, 20) << "too many near-ties to compare";
}

TEST(quant_model, q8_0_logits_within_1pct_on_fathom_tiny) {
    // The trained default model (models/fathom-tiny): random-weight models amplify rounding (see above), a trained one
    // is the fair check of the bound.
    const std::string path = FATHOM_SOURCE_DIR "/models/fathom-tiny/fathom-tiny.gguf";
    if (!std::ifstream(path).good()) GTEST_SKIP() << "skipped: " << path << " is not in the tree";
    test::temp_dir dir;
    const io::model_file src = io::read_gguf(path);
    const text::tokenizer tok(src);
    const std::vector<int32_t> tokens = tok.encode(
        "And God said, Let there be light: and there was light. And God saw the light, that it was good. The old "
        "sailor looked at the sea and said nothing, for he knew that the storm would come before the morning, and "
        "that the ship would need every hand on deck.",
        true, false);
    ASSERT_GT(tokens.size(), size_t(30));
    quant::quantize_params qp;
    qp.type = "q8_0";
    quant::quantize_model(src, dir.path() + "/q8.gguf", qp);
    const auto ref = llama_model::load(io::read_gguf(path));
    const auto q8 = llama_model::load(io::read_gguf(dir.path() + "/q8.gguf"));
    const auto a = test::run_one_batch(*ref, tokens);
    const auto b = test::run_one_batch(*q8, tokens);
    const double r = rel_rms(b, a);
    std::printf("[ quant ] fathom-tiny q8_0 logits relative RMS %.4f\n", r);
    EXPECT_LT(r, 0.01) << "Q8_0 logits relative RMS " << r;
}

TEST(quant_model, lower_bit_types_stay_close) {
    test::temp_dir dir;
    const auto f32 = llama_model::load(io::read_gguf(mini_path()));
    const std::vector<int32_t> tokens = test::random_tokens(16, k_vocab, 5);
    const auto ref = test::run_one_batch(*f32, tokens);
    // Bounds about 1.5x the relative RMS measured on this random model (where every matrix's error adds up).
    const std::vector<std::pair<std::string, double>> cases = {
        {"q6_k", 0.075}, {"q5_k", 0.16}, {"q5_0", 0.19}, {"q5_1", 0.19}, {"q4_k_m", 0.30}, {"q4_k", 0.30},
        {"iq4_xs", 0.28}, {"iq4_nl", 0.30}, {"q4_1", 0.31}, {"q4_0", 0.38}};
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
    const io::model_file src = io::read_gguf(mini_path());
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

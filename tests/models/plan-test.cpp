// Mixed-precision planning: measured sensitivities against a file quantised and evaluated the ordinary way, and the
// knapsack choice against brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/evaluate.h"
#include "io/model-file.h"
#include "models/llama.h"
#include "models/model-test-util.h"
#include "quant/plan.h"
#include "quant/quant.h"
#include "quant/quantize-model.h"

namespace {

using namespace fathom;

TEST(Plan, SensitivityMatchesAQuantisedFileEvaluatedAsUsual) {
    test::tiny_spec spec;
    spec.n_embd = 64;
    spec.n_ff = 128;
    const io::model_file f = test::make_tiny_model(spec);
    const std::vector<int32_t> tokens = test::random_tokens(3 * 32, spec.n_vocab, 4);
    quant::sensitivity_options o;
    o.types = {dtype::DTYPE_Q4_0, dtype::DTYPE_Q8_0, dtype::DTYPE_Q4_K, dtype::DTYPE_F16, dtype::DTYPE_F32};
    o.n_ctx = 32;
    o.max_chunks = 3;
    o.n_threads = 2;
    int64_t last = 0, total = 0;
    const quant::sensitivity_result s =
        quant::measure_sensitivity(f, tokens, 1, o, [&](int64_t d, int64_t t) { last = d, total = t; });
    EXPECT_EQ(last, total);
    int64_t n2d = 0;
    for (const io::tensor_entry& t : f.tensors) n2d += t.ne.size() >= 2 ? 1 : 0;
    ASSERT_EQ(int64_t(s.tensors.size()), n2d);
    EXPECT_EQ(s.n_chunks, 3);

    // blk.1.ffn_down.weight (rows of 128) as Q4_0, written by quantize_model and measured by eval::perplexity
    const std::string name = "blk.1.ffn_down.weight";
    const quant::tensor_sensitivity* ts = nullptr;
    for (const auto& t : s.tensors)
        if (t.name == name) ts = &t;
    ASSERT_NE(ts, nullptr);
    double q4 = -1, f32 = -1, q8 = -1;
    bool has_q4k = false;
    for (const auto& [ty, k] : ts->kld) {
        if (ty == dtype::DTYPE_Q4_0) q4 = k;
        if (ty == dtype::DTYPE_Q8_0) q8 = k;
        if (ty == dtype::DTYPE_F32) f32 = k;
        has_q4k |= ty == dtype::DTYPE_Q4_K;
    }
    EXPECT_FALSE(has_q4k);  // 256-element blocks do not fit rows of 128
    EXPECT_EQ(f32, 0.0);    // the source's own type
    EXPECT_GT(q4, 4 * q8);
    EXPECT_GT(q8, 0.0);

    test::temp_dir tmp;
    quant::quantize_params qp;
    qp.type = "f32";
    qp.overrides = {{name, "q4_0"}};
    quant::quantize_model(f, tmp.path() + "/one.gguf", qp);
    const auto ref = llama_model::load(f);
    const auto one = llama_model::load(io::read_gguf(tmp.path() + "/one.gguf"));
    eval::ppl_options po;
    po.n_ctx = 32;
    po.max_chunks = 3;
    po.n_threads = 2;
    const eval::ppl_result r = eval::perplexity(*one, tokens, 1, po, ref.get());
    EXPECT_NEAR(q4, r.kld.mean, 1e-5 * r.kld.mean);  // the plan keeps reference log-probabilities in float

    // JSON round trip
    const quant::sensitivity_result back = quant::sensitivity_from_json(quant::to_json(s), "s.json");
    ASSERT_EQ(back.tensors.size(), s.tensors.size());
    auto sorted = [](std::vector<std::pair<dtype, double>> v) {
        std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return int(a.first) < int(b.first); });
        return v;
    };
    EXPECT_EQ(sorted(back.tensors[3].kld), sorted(s.tensors[3].kld));
    EXPECT_THROW(quant::sensitivity_from_json(nlohmann::json{{"types", {"q9_9"}}, {"tensors", nlohmann::json::array()}}, "x"),
                 fathom::error);

    // quantised sources are refused
    quant::quantize_params q8p;
    q8p.type = "q8_0";
    quant::quantize_model(f, tmp.path() + "/q8.gguf", q8p);
    EXPECT_THROW(quant::measure_sensitivity(io::read_gguf(tmp.path() + "/q8.gguf"), tokens, 1, o), fathom::error);
}

// A model file of named 2-D F32 tensors (no data needed by make_plan) plus one 1-D norm.
io::model_file shapes_file(const std::vector<std::pair<std::string, int64_t>>& tensors) {
    io::model_file f;
    f.path = "shapes";
    for (const auto& [n, e] : tensors) {
        io::tensor_entry t;
        t.name = n;
        t.type = dtype::DTYPE_F32;
        t.ne = {32, e / 32};
        f.add_tensor(t);
    }
    io::tensor_entry norm;
    norm.name = "norm.weight";
    norm.ne = {32};
    f.add_tensor(norm);
    return f;
}

TEST(Plan, KnapsackMatchesBruteForce) {
    std::mt19937 rng(3);
    const std::vector<dtype> types = {dtype::DTYPE_Q4_0, dtype::DTYPE_Q5_0, dtype::DTYPE_Q8_0, dtype::DTYPE_F16};
    for (int trial = 0; trial < 20; ++trial) {
        quant::sensitivity_result s;
        s.types = types;
        std::vector<std::pair<std::string, int64_t>> shapes;
        for (int i = 0; i < 5; ++i) {
            quant::tensor_sensitivity t;
            static const char* const names[] = {"t0", "t1", "t2", "t3", "t4"};
            t.name = names[i];
            t.n_elements = 32 * int64_t(1 + rng() % 64);
            const double scale = std::exp(double(rng() % 1000) / 100.0 - 12.0);
            double k = scale;
            for (dtype ty : types) {  // fewer bits, more divergence (roughly 4x per step), with noise
                t.kld.emplace_back(ty, ty == dtype::DTYPE_F16 ? 0.0 : k * (0.5 + double(rng() % 1000) / 1000.0));
                k /= 4;
            }
            shapes.emplace_back(t.name, t.n_elements);
            s.tensors.push_back(t);
        }
        const io::model_file f = shapes_file(shapes);
        double total = 32;
        for (const auto& [n, e] : shapes) total += double(e);
        // brute force over 4^5 assignments
        auto bits = [](dtype t) { return t == dtype::DTYPE_F16 ? 16.0 : quant::bits_per_weight(t); };
        double lo_bits = 32 * 32, hi_bits = 32 * 32;
        for (const auto& [n, e] : shapes) lo_bits += 4.5 * double(e), hi_bits += 16.0 * double(e);
        const double target = (lo_bits + (hi_bits - lo_bits) * 0.05 * double(1 + trial % 10)) / total;
        double best = INFINITY, best_bits_for_kld = INFINITY;
        const double kld_cap = 0.25 * s.tensors[0].kld[0].second;
        for (int code = 0; code < 1024; ++code) {
            double b = 32 * 32, k = 0;
            int c = code;
            for (int i = 0; i < 5; ++i, c /= 4) {
                b += bits(types[size_t(c % 4)]) * double(s.tensors[size_t(i)].n_elements);
                k += s.tensors[size_t(i)].kld[size_t(c % 4)].second;
            }
            if (b <= target * total) best = std::min(best, k);
            if (k <= kld_cap) best_bits_for_kld = std::min(best_bits_for_kld, b);
        }
        quant::plan_options po;
        po.target_bpw = target;
        const quant::plan_result p = quant::make_plan(s, f, po);
        EXPECT_LE(p.bits_per_weight, target + 1e-9) << "trial " << trial;
        EXPECT_LE(p.predicted_kld, best * 1.02 + 1e-15) << "trial " << trial << " target " << target;
        quant::plan_options pk;
        pk.max_kld = kld_cap;
        const quant::plan_result q = quant::make_plan(s, f, pk);
        EXPECT_LE(q.predicted_kld, kld_cap * (1 + 1e-12)) << "trial " << trial;
        EXPECT_LE(q.bits_per_weight * total, best_bits_for_kld * 1.02) << "trial " << trial;
    }
    // budgets exactly at the extremes (where rounding costs up leaves no table entry) still give a valid plan
    {
        quant::sensitivity_result e;
        e.types = {dtype::DTYPE_Q4_0, dtype::DTYPE_Q8_0};
        for (const char* n : {"a", "b", "c"}) e.tensors.push_back({n, 96, {{dtype::DTYPE_Q4_0, 2.0}, {dtype::DTYPE_Q8_0, 1.0}}});
        const io::model_file ef = shapes_file({{"a", 96}, {"b", 96}, {"c", 96}});
        const double total = 3 * 96 + 32;
        quant::plan_options lo;
        lo.target_bpw = (3 * 96 * 4.5 + 32 * 32) / total;
        const quant::plan_result p = quant::make_plan(e, ef, lo);
        for (const auto& c : p.choices) EXPECT_EQ(c.type, dtype::DTYPE_Q4_0);
        EXPECT_NEAR(p.bits_per_weight, lo.target_bpw, 1e-12);
        quant::plan_options hi;
        hi.max_kld = 3.0;  // exactly the largest candidates' sum
        const quant::plan_result q = quant::make_plan(e, ef, hi);
        EXPECT_LE(q.predicted_kld, 3.0);
    }
    // unreachable budgets name the reachable limit
    quant::sensitivity_result s;
    s.types = {dtype::DTYPE_Q4_0};
    s.tensors.push_back({"t0", 64, {{dtype::DTYPE_Q4_0, 1.0}}});
    quant::plan_options po;
    po.target_bpw = 2;
    try {
        quant::make_plan(s, shapes_file({{"t0", 64}}), po);
        ADD_FAILURE() << "accepted an unreachable size";
    } catch (const fathom::error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot be reached; the smallest candidates give"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(quant::make_plan(s, shapes_file({{"t0", 64}}), quant::plan_options{}), fathom::error);
}

}  // namespace

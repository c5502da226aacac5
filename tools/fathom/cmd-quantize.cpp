// `fathom quantize IN OUT --type T`: writes a quantised GGUF (types, llama.cpp-style mixes, per-tensor overrides)
// and prints its size and bits per weight.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "fathom/fathom.hpp"

namespace fathom_cli {

int cmd_quantize(int argc, char** argv) {
    std::string in, out, type = "q4_k_m", imatrix, plan, plan_types, sens_in, plan_out;
    std::vector<std::string> calib;
    float target_bpw = 0, max_kld = 0;
    int64_t calib_ctx = 0, calib_chunks = 4;
    std::vector<std::string> overrides;
    int32_t threads = 0;
    bool requantize = false, awq = false;
    arg_parser ap("fathom quantize IN OUT [--type T] [--tensor-type PATTERN=TYPE ...] [--imatrix FILE] "
                  "[--plan auto --target-bpw B --calib FILE]",
                  "Quantises IN (a GGUF F32/F16/BF16 file or a Hugging Face folder) into the GGUF file OUT. 2-D "
                  "weights get TYPE; norms and biases stay F32. The mixes put the output head, and attn_v / "
                  "ffn_down of the first and last eighth of the layers and every third one between, at 6 bits.");
    ap.positional("IN", "GGUF file or Hugging Face folder", &in);
    ap.positional("OUT", "GGUF file to write", &out);
    ap.option("--type", "T",
              "q4_0, q4_1, q5_0, q5_1, q8_0, iq4_nl, q4_k, q5_k, q6_k, iq4_xs, f16, bf16, f32, or a mix: q4_k_m "
              "(default), q4_k_s, q5_k_m, q5_k_s",
              &type);
    ap.option("--tensor-type", "PATTERN=TYPE",
              "type for the tensors whose GGUF name matches the glob PATTERN (repeatable; first match wins)",
              &overrides);
    ap.option("-t,--threads", "N", "threads; 0 = physical cores (default 0)", &threads);
    ap.flag("--allow-requantize", "accept a source that is already quantised (quality loss compounds)", &requantize);
    ap.option("--imatrix", "FILE",
              "importance data from 'fathom calibrate' (or llama.cpp's GGUF imatrix): scales minimise the "
              "activation-weighted error",
              &imatrix);
    ap.flag("--awq", "with --imatrix: scale input channels by importance first (AWQ-style, folded into norms)", &awq);
    ap.option("--plan", "auto", "choose each tensor's type from its measured sensitivity (with --target-bpw or --max-kld)",
              &plan);
    ap.option("--target-bpw", "B", "--plan auto: at most B bits per weight over the file", &target_bpw);
    ap.option("--max-kld", "K", "--plan auto: the smallest file whose predicted mean KL divergence is at most K",
              &max_kld);
    ap.option("--calib", "FILE", "--plan auto: calibration text (repeatable)", &calib);
    ap.option("--calib-ctx", "N", "--plan auto: calibration chunk length (default min(512, model context))", &calib_ctx);
    ap.option("--calib-chunks", "N", "--plan auto: chunks per measurement (default 4)", &calib_chunks);
    ap.option("--plan-types", "LIST", "--plan auto: comma-separated candidate types (default q4_0,q4_1,q5_0,q5_1,"
              "iq4_nl,q4_k,q5_k,q6_k,iq4_xs,q8_0,f16)", &plan_types);
    ap.option("--sensitivity", "FILE", "--plan auto: reuse the sensitivities of an earlier --plan-out FILE", &sens_in);
    ap.option("--plan-out", "FILE", "--plan auto: write the plan and the sensitivities as JSON", &plan_out);
    if (!ap.parse(argc, argv, 2)) return 0;
    if (threads < 0) throw ap.error("-t: must be >= 0");
    if (!plan.empty() && plan != "auto") throw ap.error("--plan: only 'auto' is known");
    if (awq && imatrix.empty()) throw ap.error("--awq needs --imatrix FILE");
    if (awq && !plan.empty()) throw ap.error("--awq and --plan auto do not combine yet");
    if (!plan.empty() && !(target_bpw > 0) && !(max_kld > 0)) throw ap.error("--plan auto needs --target-bpw or --max-kld");
    if (!plan.empty() && calib.empty() && sens_in.empty()) throw ap.error("--plan auto needs --calib FILE (or --sensitivity)");
    if (plan.empty() && (target_bpw > 0 || max_kld > 0 || !calib.empty()))
        throw ap.error("--target-bpw, --max-kld and --calib go with --plan auto");

    std::vector<std::string> planned;  // "NAME=TYPE" from the plan
    if (!plan.empty()) {
        std::vector<const char*> files;
        for (const std::string& c : calib) files.push_back(c.c_str());
        std::string sens_text;
        if (!sens_in.empty()) {
            std::ifstream f(sens_in, std::ios::binary);
            if (!f) throw cli_error(sens_in + ": cannot open");
            std::ostringstream ss;
            ss << f.rdbuf();
            sens_text = ss.str();
        }
        fathom_plan_options po;
        fathom_plan_options_init(&po);
        po.data = files.empty() ? nullptr : files.data();
        po.n_data = int32_t(files.size());
        po.types = plan_types.empty() ? nullptr : plan_types.c_str();
        po.n_ctx = calib_ctx;
        po.max_chunks = calib_chunks;
        po.imatrix_path = imatrix.empty() ? nullptr : imatrix.c_str();
        po.sensitivity_json = sens_in.empty() ? nullptr : sens_text.c_str();
        po.target_bpw = target_bpw;
        po.max_kld = max_kld;
        po.n_threads = threads;
        bool tty = ::isatty(2) == 1;
        po.progress = [](int64_t done, int64_t total, void* u) {
            if (!*static_cast<bool*>(u)) return;
            std::fprintf(stderr, "\rmeasuring sensitivity: %lld/%lld   ", (long long)done, (long long)total);
            if (done == total) std::fputc('\n', stderr);
            std::fflush(stderr);
        };
        po.progress_user_data = &tty;
        fathom_plan_result* pr = nullptr;
        if (fathom_quantize_plan(in.c_str(), &po, &pr) != FATHOM_OK) throw cli_error(fathom_last_error());
        const std::string text = fathom_plan_result_json(pr);
        fathom_plan_result_free(pr);
        const nlohmann::json j = nlohmann::json::parse(text);
        std::printf("plan: %.3f bits per weight, predicted KL divergence %.6g (sum over tensors)\n",
                    j["plan"]["bits_per_weight"].get<double>(), j["plan"]["predicted_kld"].get<double>());
        for (const auto& t : j["plan"]["tensors"]) {
            std::printf("  %-28s %-7s KLD %.3g\n", t["name"].get<std::string>().c_str(),
                        t["type"].get<std::string>().c_str(), t["kld"].get<double>());
            planned.push_back(t["name"].get<std::string>() + "=" + t["type"].get<std::string>());
        }
        if (!plan_out.empty()) {
            std::ofstream f(plan_out, std::ios::binary | std::ios::trunc);
            f << text << "\n";
            if (!f) throw cli_error(plan_out + ": write failed");
        }
        type = "q8_0";  // every 2-D weight has its planned type; the rest stays F32
    }

    fathom_quantize_options o;
    fathom_quantize_options_init(&o);
    o.type = type.c_str();
    std::vector<const char*> ov;
    for (const std::string& s : overrides) ov.push_back(s.c_str());
    for (const std::string& s : planned) ov.push_back(s.c_str());
    o.tensor_types = ov.empty() ? nullptr : ov.data();
    o.n_tensor_types = int32_t(ov.size());
    o.n_threads = threads;
    o.allow_requantize = requantize ? 1 : 0;
    o.imatrix_path = imatrix.empty() ? nullptr : imatrix.c_str();
    o.awq = awq ? 1 : 0;
    fathom_quantize_stats st;
    st.struct_size = sizeof st;
    if (fathom_quantize(in.c_str(), out.c_str(), &o, &st) != FATHOM_OK) throw cli_error(fathom_last_error());
    std::printf("%s -> %s (%s)\n", in.c_str(), out.c_str(), plan.empty() ? type.c_str() : "plan auto");
    std::printf("size:     %s -> %s (%.1f %%)\n", format_bytes(st.bytes_in).c_str(), format_bytes(st.bytes_out).c_str(),
                st.bytes_in ? 100.0 * double(st.bytes_out) / double(st.bytes_in) : 0.0);
    std::printf("bits per weight: %.3f over %s weights\n", st.bits_per_weight, format_count(double(st.n_weights)).c_str());
    std::printf("tensors:  %lld, %lld quantised%s\n", (long long)st.n_tensors, (long long)st.n_quantized,
                st.n_fallback ? (", " + std::to_string(st.n_fallback) + " in a fallback type (row length)").c_str() : "");
    if (!imatrix.empty())
        std::printf("imatrix:  %s used for %lld tensors\n", imatrix.c_str(), (long long)st.n_importance);
    std::printf("time:     %.2f s\n", st.seconds);
    return 0;
}

}  // namespace fathom_cli

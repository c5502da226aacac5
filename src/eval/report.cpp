#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace fathom::eval {

namespace {

using json = nlohmann::json;

std::string fmt(double v, int prec = 4) {
    if (!std::isfinite(v)) return "-";
    char b[64];
    std::snprintf(b, sizeof b, "%.*g", prec, v);
    return b;
}

std::string fixed(double v, int decimals) {
    if (!std::isfinite(v)) return "-";
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return b;
}

// A number at a JSON path (keys), or NaN when any part is missing or not a number.
double num(const json& j, std::initializer_list<const char*> path) {
    const json* p = &j;
    for (const char* k : path) {
        if (!p->is_object() || !p->contains(k)) return NAN;
        p = &p->at(k);
    }
    return p->is_number() ? p->get<double>() : NAN;
}

std::string str(const json& j, std::initializer_list<const char*> path) {
    const json* p = &j;
    for (const char* k : path) {
        if (!p->is_object() || !p->contains(k)) return "";
        p = &p->at(k);
    }
    return p->is_string() ? p->get<std::string>() : "";
}

std::string label_of(const json& r) {
    std::string l = str(r, {"model", "label"});
    if (l.empty()) l = str(r, {"model", "name"});
    if (l.empty()) l = str(r, {"model", "path"});
    return l.empty() ? "model" : l;
}

struct point {
    double x, y;
    std::string label;
};

// A scatter plot with axes, ticks, labelled points and an optional horizontal reference line.
std::string scatter_svg(const std::vector<point>& pts, const std::string& x_title, const std::string& y_title,
                        double ref_y, const std::string& ref_label) {
    const double W = 640, H = 380, L = 70, R = 20, T = 20, B = 50;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (const point& p : pts) {
        x0 = std::min(x0, p.x), x1 = std::max(x1, p.x);
        y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
    }
    if (std::isfinite(ref_y)) y0 = std::min(y0, ref_y), y1 = std::max(y1, ref_y);
    if (x1 - x0 < 1e-9) x0 -= 0.5, x1 += 0.5;
    if (y1 - y0 < 1e-12 * std::max(1.0, std::fabs(y1))) y0 -= 0.5 * std::max(1e-6, std::fabs(y0)), y1 += 0.5 * std::max(1e-6, std::fabs(y1));
    const double px = (x1 - x0) * 0.06, py = (y1 - y0) * 0.08;
    x0 -= px, x1 += px, y0 -= py, y1 += py;
    auto sx = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    auto sy = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
    std::ostringstream o;
    o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' viewBox='0 0 " << W << " "
      << H << "' font-family='sans-serif' font-size='11'>\n";
    o << "<rect x='" << L << "' y='" << T << "' width='" << W - L - R << "' height='" << H - T - B
      << "' fill='none' stroke='#888'/>\n";
    for (double t : nice_ticks(x0, x1, 8)) {
        if (t < x0 || t > x1) continue;
        o << "<line x1='" << sx(t) << "' y1='" << H - B << "' x2='" << sx(t) << "' y2='" << T
          << "' stroke='#eee'/><text x='" << sx(t) << "' y='" << H - B + 14 << "' text-anchor='middle'>" << fmt(t, 4)
          << "</text>\n";
    }
    for (double t : nice_ticks(y0, y1, 6)) {
        if (t < y0 || t > y1) continue;
        o << "<line x1='" << L << "' y1='" << sy(t) << "' x2='" << W - R << "' y2='" << sy(t)
          << "' stroke='#eee'/><text x='" << L - 6 << "' y='" << sy(t) + 4 << "' text-anchor='end'>" << fmt(t, 5)
          << "</text>\n";
    }
    o << "<text x='" << (L + W - R) / 2 << "' y='" << H - 12 << "' text-anchor='middle' font-size='12'>"
      << html_escape(x_title) << "</text>\n";
    o << "<text transform='translate(16," << (T + H - B) / 2 << ") rotate(-90)' text-anchor='middle' font-size='12'>"
      << html_escape(y_title) << "</text>\n";
    if (std::isfinite(ref_y)) {
        o << "<line x1='" << L << "' y1='" << sy(ref_y) << "' x2='" << W - R << "' y2='" << sy(ref_y)
          << "' stroke='#c33' stroke-dasharray='5,4'/><text x='" << W - R - 4 << "' y='" << sy(ref_y) - 4
          << "' text-anchor='end' fill='#c33'>" << html_escape(ref_label) << "</text>\n";
    }
    for (const point& p : pts) {
        o << "<circle cx='" << sx(p.x) << "' cy='" << sy(p.y) << "' r='4' fill='#2a6fdb'><title>"
          << html_escape(p.label) << ": " << fmt(p.x, 4) << ", " << fmt(p.y, 6) << "</title></circle>"
          << "<text x='" << sx(p.x) + 6 << "' y='" << sy(p.y) - 6 << "' fill='#333'>" << html_escape(p.label)
          << "</text>\n";
    }
    o << "</svg>\n";
    return o.str();
}

// Heat-map colour for value v within [lo, hi] on a log scale: white to dark red.
std::string heat(double v, double lo, double hi) {
    if (!std::isfinite(v) || v <= 0) return "#ffffff";
    const double a = std::log10(std::max(v, lo)), b = std::log10(lo), c = std::log10(hi);
    const double t = c > b ? std::clamp((a - b) / (c - b), 0.0, 1.0) : 0.0;
    const int g = int(255 - t * 200), r = int(255 - t * 80);
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, g);
    return buf;
}

std::string sensitivity_table(const json& s, const std::string& label) {
    if (!s.is_object() || !s.contains("types") || !s.contains("tensors") || !s["types"].is_array() ||
        !s["tensors"].is_array())
        return "";
    std::vector<std::string> types;
    for (const json& t : s["types"])
        if (t.is_string()) types.push_back(t.get<std::string>());
    double lo = INFINITY, hi = 0;
    for (const json& t : s["tensors"])
        if (t.is_object() && t.contains("kld") && t["kld"].is_object())
            for (const auto& [k, v] : t["kld"].items())
                if (v.is_number() && v.get<double>() > 0) lo = std::min(lo, v.get<double>()), hi = std::max(hi, v.get<double>());
    std::ostringstream o;
    o << "<h3>Per-tensor sensitivity: " << html_escape(label) << "</h3>\n"
      << "<p>Mean KL divergence (nats per token) from the full-precision model when only that tensor is quantised to "
         "the column's type. Darker is more sensitive.</p>\n<table class='heat'><tr><th>tensor</th>";
    for (const std::string& t : types) o << "<th>" << html_escape(t) << "</th>";
    o << "</tr>\n";
    for (const json& t : s["tensors"]) {
        if (!t.is_object()) continue;
        o << "<tr><td>" << html_escape(str(t, {"name"})) << "</td>";
        for (const std::string& ty : types) {
            const double v = t.contains("kld") ? num(t["kld"], {ty.c_str()}) : NAN;
            o << "<td style='background:" << heat(v, lo, hi) << "'>" << fmt(v, 3) << "</td>";
        }
        o << "</tr>\n";
    }
    o << "</table>\n";
    return o.str();
}

}  // namespace

std::string html_escape(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&#39;"; break;
            default: o += c;
        }
    }
    return o;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
    std::vector<double> t;
    if (!std::isfinite(lo) || !std::isfinite(hi) || hi <= lo || target < 1) return t;
    const double raw = (hi - lo) / target;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        step = m * mag;
        if (step >= raw) break;
    }
    const double k0 = std::ceil(lo / step - 1e-9);
    for (double k = k0;; k += 1) {
        const double v = k * step;
        if (v > hi + step * 1e-9) break;
        t.push_back(k == 0 ? 0.0 : v);
    }
    return t;
}

std::string html_report(const std::vector<json>& results, const std::string& title) {
    std::ostringstream o;
    o << "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>" << html_escape(title) << "</title>\n"
      << "<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}"
         "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
         "td:first-child,th:first-child{text-align:left}.heat td{font-size:11px}.note{color:#666}</style>\n"
      << "</head><body>\n<h1>" << html_escape(title) << "</h1>\n";
    if (!results.empty()) {
        const json& r0 = results[0];
        o << "<p class='note'>" << html_escape(str(r0, {"system", "cpu"})) << ", "
          << fmt(num(r0, {"system", "threads"}), 3) << " threads, " << html_escape(str(r0, {"system", "date"}));
        const std::string text = str(r0, {"perplexity", "text"});
        if (!text.empty()) o << "; perplexity text " << html_escape(text);
        const std::string ref = str(r0, {"reference", "path"});
        if (!ref.empty()) o << "; reference " << html_escape(ref);
        o << "</p>\n";
    }

    // The table.
    o << "<table><tr><th>model</th><th>bits/weight</th><th>size MiB</th><th>PPL</th><th>&plusmn;</th>"
         "<th>PPL vs ref</th><th>KLD mean</th><th>KLD p99</th><th>top-1 agree</th><th>BLEU-4</th><th>ROUGE-L</th>"
         "<th>acc</th><th>acc_norm</th><th>TTFT ms</th><th>token ms p50 / p95 / p99</th><th>decode tok/s</th>"
         "<th>peak RSS MiB</th></tr>\n";
    for (const json& r : results) {
        const double change = num(r, {"perplexity", "reference", "ppl_change_pct"});
        o << "<tr><td>" << html_escape(label_of(r)) << "</td><td>" << fixed(num(r, {"model", "bits_per_weight"}), 3)
          << "</td><td>" << fixed(num(r, {"model", "tensor_bytes"}) / 1048576.0, 2) << "</td><td>"
          << fixed(num(r, {"perplexity", "ppl"}), 4) << "</td><td>" << fixed(num(r, {"perplexity", "ppl_stderr"}), 4)
          << "</td><td>" << (std::isfinite(change) && change >= 0 ? "+" : "") << fixed(change, 3)
          << (std::isfinite(change) ? " %" : "")
          << "</td><td>" << fmt(num(r, {"perplexity", "reference", "kld_mean"}), 4) << "</td><td>"
          << fmt(num(r, {"perplexity", "reference", "kld_p99"}), 4) << "</td><td>"
          << fixed(100.0 * num(r, {"perplexity", "reference", "top1_agreement"}), 2) << "</td><td>"
          << fixed(100.0 * num(r, {"generation", "bleu4"}), 2) << "</td><td>"
          << fixed(100.0 * num(r, {"generation", "rouge_l"}), 2) << "</td><td>"
          << fixed(100.0 * num(r, {"choices", "acc"}), 2) << "</td><td>"
          << fixed(100.0 * num(r, {"choices", "acc_norm"}), 2) << "</td><td>"
          << fixed(num(r, {"latency", "ttft_ms"}), 1) << "</td><td>" << fixed(num(r, {"latency", "token_ms_p50"}), 2)
          << " / " << fixed(num(r, {"latency", "token_ms_p95"}), 2) << " / "
          << fixed(num(r, {"latency", "token_ms_p99"}), 2) << "</td><td>" << fixed(num(r, {"latency", "decode_tok_s"}), 1)
          << "</td><td>" << fixed(num(r, {"memory", "peak_rss_bytes"}) / 1048576.0, 1) << "</td></tr>\n";
    }
    o << "</table>\n<p class='note'>BLEU-4, ROUGE-L, top-1 and accuracies in percent. PPL as llama.cpp's perplexity "
         "tool computes it; KLD is KL(reference || model) in nats per token.</p>\n";

    // Plots against bits per weight.
    std::vector<point> ppl_pts, kld_pts;
    double ref_ppl = NAN;
    for (const json& r : results) {
        const double bpw = num(r, {"model", "bits_per_weight"});
        const double ppl = num(r, {"perplexity", "ppl"});
        const double kld = num(r, {"perplexity", "reference", "kld_mean"});
        if (std::isfinite(bpw) && std::isfinite(ppl)) ppl_pts.push_back({bpw, ppl, label_of(r)});
        if (std::isfinite(bpw) && std::isfinite(kld)) kld_pts.push_back({bpw, kld, label_of(r)});
        if (!std::isfinite(ref_ppl)) ref_ppl = num(r, {"perplexity", "reference", "ppl"});
    }
    if (!ppl_pts.empty()) {
        o << "<h2>Perplexity against size</h2>\n"
          << scatter_svg(ppl_pts, "bits per weight", "perplexity", ref_ppl, "reference " + fixed(ref_ppl, 3));
    }
    if (!kld_pts.empty()) {
        o << "<h2>KL divergence against size</h2>\n"
          << scatter_svg(kld_pts, "bits per weight", "mean KL divergence (nats/token)", NAN, "");
    }
    for (const json& r : results)
        if (r.is_object() && r.contains("sensitivity")) o << sensitivity_table(r["sensitivity"], label_of(r));

    // Generated samples of the first result that kept them.
    for (const json& r : results) {
        if (!r.contains("generation") || !r["generation"].contains("outputs")) continue;
        o << "<h2>Generated continuations: " << html_escape(label_of(r)) << "</h2>\n<ol>";
        int k = 0;
        for (const json& t : r["generation"]["outputs"]) {
            if (k++ == 8) break;
            if (t.is_string()) o << "<li><pre style='white-space:pre-wrap'>" << html_escape(t.get<std::string>())
                                 << "</pre></li>";
        }
        o << "</ol>\n";
        break;
    }
    o << "</body></html>\n";
    return o.str();
}

}  // namespace fathom::eval

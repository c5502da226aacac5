#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"

namespace fathom::eval {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Characters mteval-v13a separates unconditionally: [{-~], [[-`], [ -&], [(-+], [:-@], '/'.
bool always_split(char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return (u >= '{' && u <= '~') || (u >= '[' && u <= '`') || (u >= ' ' + 1 && u <= '&') || (u >= '(' && u <= '+') ||
           (u >= ':' && u <= '@') || u == '/';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

void split_ws(const std::string& s, std::vector<std::string>* out) {
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) ++i;
        size_t j = i;
        while (j < s.size() && !is_space(s[j])) ++j;
        if (j > i) out->emplace_back(s.substr(i, j - i));
        i = j;
    }
}

// Bytes of the UTF-8 sequence starting with lead byte c (1 for invalid leads, so every byte is consumed).
size_t utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

}  // namespace

std::vector<std::string> tokenize_13a(std::string_view text) {
    // The four substitutions of mteval-v13a's tokenization, applied in order to the padded line.
    std::string s(text);
    std::string a;
    a.reserve(s.size() * 2);
    for (char c : s) {
        if (always_split(c)) {
            a += ' ';
            a += c;
            a += ' ';
        } else {
            a += c;
        }
    }
    // s/([^0-9])([\.,])/$1 $2 /g  then  s/([\.,])([^0-9])/ $1 $2/g  then  s/([0-9])(-)/$1 $2 /g
    auto pass = [](const std::string& in, int which) {
        std::string out;
        out.reserve(in.size() + 16);
        size_t i = 0;
        while (i < in.size()) {
            const char c = in[i];
            if (i + 1 < in.size()) {
                const char d = in[i + 1];
                if (which == 0 && !is_digit(c) && (d == '.' || d == ',')) {
                    out += c;
                    out += ' ';
                    out += d;
                    out += ' ';
                    i += 2;
                    continue;
                }
                if (which == 1 && (c == '.' || c == ',') && !is_digit(d)) {
                    out += ' ';
                    out += c;
                    out += ' ';
                    out += d;
                    i += 2;
                    continue;
                }
                if (which == 2 && is_digit(c) && d == '-') {
                    out += c;
                    out += ' ';
                    out += d;
                    out += ' ';
                    i += 2;
                    continue;
                }
            }
            out += c;
            ++i;
        }
        return out;
    };
    // Perl's regexes see the line with a leading and trailing space (mteval pads it), so a final '.' is split too.
    std::string b = pass(" " + a + " ", 0);
    b = pass(b, 1);
    b = pass(b, 2);
    std::vector<std::string> toks;
    split_ws(b, &toks);
    return toks;
}

std::vector<std::string> tokenize_rouge(std::string_view text) {
    std::vector<std::string> toks;
    std::string cur;
    size_t i = 0;
    while (i < text.size()) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if ((c >= 'a' && c <= 'z') || is_digit(char(c))) cur += char(c);
            else if (c >= 'A' && c <= 'Z') cur += char(c - 'A' + 'a');
            else if (!cur.empty()) toks.push_back(std::move(cur)), cur.clear();
            ++i;
            continue;
        }
        if (!cur.empty()) toks.push_back(std::move(cur)), cur.clear();
        const size_t n = std::min(utf8_len(c), text.size() - i);
        toks.emplace_back(text.substr(i, n));
        i += n;
    }
    if (!cur.empty()) toks.push_back(std::move(cur));
    return toks;
}

bleu_result corpus_bleu(const std::vector<std::vector<std::string>>& hyps,
                        const std::vector<std::vector<std::string>>& refs) {
    if (hyps.size() != refs.size())
        fail(errc::ERRC_INVALID_ARGUMENT, "corpus_bleu: " + std::to_string(hyps.size()) + " hypotheses but " +
                                              std::to_string(refs.size()) + " references");
    bleu_result r;
    for (size_t s = 0; s < hyps.size(); ++s) {
        const std::vector<std::string>& h = hyps[s];
        const std::vector<std::string>& ref = refs[s];
        r.hyp_len += int64_t(h.size());
        r.ref_len += int64_t(ref.size());
        for (size_t n = 1; n <= 4; ++n) {
            if (h.size() < n) continue;
            std::map<std::vector<std::string>, int64_t> ref_counts;
            for (size_t i = 0; i + n <= ref.size(); ++i)
                ++ref_counts[std::vector<std::string>(ref.begin() + long(i), ref.begin() + long(i + n))];
            std::map<std::vector<std::string>, int64_t> hyp_counts;
            for (size_t i = 0; i + n <= h.size(); ++i)
                ++hyp_counts[std::vector<std::string>(h.begin() + long(i), h.begin() + long(i + n))];
            for (const auto& [g, c] : hyp_counts) {
                const auto it = ref_counts.find(g);
                if (it != ref_counts.end()) r.matches[n - 1] += std::min(c, it->second);
            }
            r.totals[n - 1] += int64_t(h.size() - n + 1);
        }
    }
    double log_sum = 0;
    bool zero = false;
    for (int n = 0; n < 4; ++n) {
        r.precisions[n] = r.totals[n] > 0 ? double(r.matches[n]) / double(r.totals[n]) : 0.0;
        if (r.matches[n] == 0) zero = true;
        else log_sum += std::log(r.precisions[n]);
    }
    if (r.hyp_len == 0) r.brevity_penalty = 0;
    else if (r.hyp_len >= r.ref_len) r.brevity_penalty = 1;
    else r.brevity_penalty = std::exp(1.0 - double(r.ref_len) / double(r.hyp_len));
    r.bleu = zero ? 0.0 : r.brevity_penalty * std::exp(log_sum / 4.0);
    return r;
}

int64_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    const std::vector<std::string>& row = a.size() < b.size() ? a : b;  // the shorter one indexes the DP row
    const std::vector<std::string>& col = a.size() < b.size() ? b : a;
    std::vector<int64_t> dp(row.size() + 1, 0);
    for (const std::string& x : col) {
        int64_t diag = 0;  // dp[i-1] of the previous column
        for (size_t i = 1; i <= row.size(); ++i) {
            const int64_t up = dp[i];
            dp[i] = row[i - 1] == x ? diag + 1 : std::max(dp[i], dp[i - 1]);
            diag = up;
        }
    }
    return dp[row.size()];
}

rouge_l rouge_l_score(const std::vector<std::string>& candidate, const std::vector<std::string>& reference) {
    rouge_l r;
    if (candidate.empty() || reference.empty()) return r;
    const double l = double(lcs_length(candidate, reference));
    r.precision = l / double(candidate.size());
    r.recall = l / double(reference.size());
    r.f1 = l > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0.0;
    return r;
}

summary summarize(const std::vector<double>& v) {
    summary s;
    s.n = int64_t(v.size());
    if (v.empty()) return s;
    double sum = 0, sum2 = 0;
    s.min = v[0];
    s.max = v[0];
    for (double x : v) {
        sum += x;
        sum2 += x * x;
        s.min = std::min(s.min, x);
        s.max = std::max(s.max, x);
    }
    s.mean = sum / double(s.n);
    const double var = sum2 / double(s.n) - s.mean * s.mean;
    s.stderr_mean = s.n > 1 && var > 0 ? std::sqrt(var / double(s.n - 1)) : 0.0;
    return s;
}

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    q = std::clamp(q, 0.0, 1.0);
    const double pos = q * double(v.size() - 1);
    const size_t lo = size_t(std::floor(pos));
    const size_t hi = std::min(lo + 1, v.size() - 1);
    const double f = pos - double(lo);
    return v[lo] + (v[hi] - v[lo]) * f;
}

}  // namespace fathom::eval

// Text and statistics metrics for `fathom eval`: BLEU-4 (corpus level, Papineni et al.), ROUGE-L (LCS F-measure),
// their tokenisers, and summary statistics (mean, standard error, percentiles).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::eval {

// The tokenisation of mteval-v13a.pl (sacreBLEU's default "13a"): ASCII punctuation and symbols become tokens of
// their own, except that '.' and ',' stay inside numbers ("3.14", "1,000") and '-' after a digit is split off;
// then the text is split on whitespace. Case is kept. Non-ASCII text is left as it is (split on whitespace only).
std::vector<std::string> tokenize_13a(std::string_view text);

// ROUGE's default tokenisation (the rouge-score package): lower-cased, every character other than ASCII letters and
// digits is a separator. Unlike rouge-score, which drops non-ASCII text, each non-ASCII code point is kept as a
// token of its own, so Chinese text is scored by characters.
std::vector<std::string> tokenize_rouge(std::string_view text);

struct bleu_result {
    double bleu = 0;                 // in [0, 1]: brevity_penalty * geometric mean of the four precisions
    double precisions[4] = {0, 0, 0, 0};
    int64_t matches[4] = {0, 0, 0, 0}, totals[4] = {0, 0, 0, 0};  // clipped n-gram matches / candidate n-grams
    double brevity_penalty = 0;
    int64_t hyp_len = 0, ref_len = 0;
};

// Corpus BLEU-4 of hypotheses against one reference each (pre-tokenised), with uniform weights and no smoothing, as
// in Papineni et al. (2002) and NLTK's corpus_bleu: n-gram counts are clipped per sentence and summed over the
// corpus; the score is 0 when some order has no match. hyps and refs must have the same length.
bleu_result corpus_bleu(const std::vector<std::vector<std::string>>& hyps,
                        const std::vector<std::vector<std::string>>& refs);

struct rouge_l {
    double precision = 0, recall = 0, f1 = 0;
};
// Length of the longest common subsequence of two token sequences (O(n*m) time, O(min(n,m)) memory).
int64_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b);
// ROUGE-L of one candidate against one reference: LCS / |candidate|, LCS / |reference| and their harmonic mean
// (all 0 when either side is empty).
rouge_l rouge_l_score(const std::vector<std::string>& candidate, const std::vector<std::string>& reference);

// Summary of a sample of values.
struct summary {
    int64_t n = 0;
    double mean = 0;
    double stderr_mean = 0;  // standard deviation / sqrt(n - 1), as llama.cpp's perplexity tool reports it
    double min = 0, max = 0;
};
summary summarize(const std::vector<double>& v);
// The q-quantile (q in [0, 1]) with linear interpolation between order statistics (NumPy's default); sorts a copy.
double percentile(std::vector<double> v, double q);

}  // namespace fathom::eval

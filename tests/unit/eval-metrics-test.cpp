// Text metrics of `fathom eval` (13a tokens, corpus BLEU-4, ROUGE-L, summaries) against hand-worked values and an
// independent reference: tests/reference/metrics_ref.py (the mteval-v13a regular expressions, NLTK's corpus_bleu,
// a memoised-recursion LCS).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "eval/report.h"

namespace {

using namespace fathom::eval;
using json = nlohmann::json;
using toks = std::vector<std::string>;

TEST(EvalMetrics, Tokenize13aSplitsPunctuationButKeepsNumbers) {
    EXPECT_EQ(tokenize_13a("The cat sat on the mat, costing $3.50 (approx.)."),
              (toks{"The", "cat", "sat", "on", "the", "mat", ",", "costing", "$", "3.50", "(", "approx", ".", ")", "."}));
    EXPECT_EQ(tokenize_13a("It is 1-2 days; 1,000 ok"), (toks{"It", "is", "1", "-", "2", "days", ";", "1,000", "ok"}));
    EXPECT_EQ(tokenize_13a("  \n "), toks{});
    EXPECT_EQ(tokenize_13a("end."), (toks{"end", "."}));
}

TEST(EvalMetrics, RougeTokensAreLowerCaseWordsAndCodePoints) {
    EXPECT_EQ(tokenize_rouge("The CAT's 3 mats!"), (toks{"the", "cat", "s", "3", "mats"}));
    EXPECT_EQ(tokenize_rouge("猫在 bed"), (toks{"猫", "在", "bed"}));
}

TEST(EvalMetrics, BleuOfKnownCases) {
    const toks ref = {"a", "b", "c", "d", "e", "f", "g", "h"};
    EXPECT_DOUBLE_EQ(corpus_bleu({ref}, {ref}).bleu, 1.0);
    // a prefix of 6 of the 8 tokens: every precision is 1, the brevity penalty is exp(1 - 8/6)
    const bleu_result p = corpus_bleu({toks(ref.begin(), ref.begin() + 6)}, {ref});
    EXPECT_NEAR(p.bleu, std::exp(1.0 - 8.0 / 6.0), 1e-15);
    EXPECT_EQ(p.matches[3], 3);
    EXPECT_EQ(p.totals[3], 3);
    // no 4-gram in common: 0 (no smoothing)
    EXPECT_EQ(corpus_bleu({{"a", "b", "c", "x", "d", "e", "f"}}, {ref}).bleu, 0.0);
    // clipping: "a a a a" against "a b" counts one unigram match
    const bleu_result c = corpus_bleu({{"a", "a", "a", "a"}}, {{"a", "b"}});
    EXPECT_EQ(c.matches[0], 1);
    EXPECT_EQ(c.totals[0], 4);
    EXPECT_THROW(corpus_bleu({ref}, {}), std::exception);
}

TEST(EvalMetrics, RougeLOfAKnownCase) {
    const rouge_l r = rouge_l_score(tokenize_rouge("the cat was found under the bed"),
                                    tokenize_rouge("the cat was under the bed"));
    EXPECT_DOUBLE_EQ(r.precision, 6.0 / 7.0);
    EXPECT_DOUBLE_EQ(r.recall, 1.0);
    EXPECT_NEAR(r.f1, 12.0 / 13.0, 1e-15);
    EXPECT_EQ(rouge_l_score({}, {"a"}).f1, 0.0);
    EXPECT_EQ(lcs_length({"a", "b", "c", "b", "d", "a", "b"}, {"b", "d", "c", "a", "b", "a"}), 4);
}

TEST(EvalMetrics, SummaryAndPercentiles) {
    const summary s = summarize({1, 2, 3, 4});
    EXPECT_DOUBLE_EQ(s.mean, 2.5);
    EXPECT_NEAR(s.stderr_mean, std::sqrt(1.25 / 3.0), 1e-15);
    EXPECT_EQ(s.min, 1);
    EXPECT_EQ(s.max, 4);
    EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 0.5), 2.5);
    EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 0.9), 3.7);
    EXPECT_DOUBLE_EQ(percentile({7}, 0.99), 7);
}

TEST(EvalReport, TicksAndEscaping) {
    EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
    const std::vector<double> t = nice_ticks(3.1, 3.9, 4), want = {3.2, 3.4, 3.6, 3.8};
    ASSERT_EQ(t.size(), want.size());
    for (size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], want[i], 1e-12);
    EXPECT_EQ(html_escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    const std::string html = html_report({json{{"model", {{"label", "m<1>"}, {"bits_per_weight", 4.5}}},
                                               {"perplexity", {{"ppl", 12.5}}}},
                                          json{{"model", {{"label", "m2"}, {"bits_per_weight", 8.5}}},
                                               {"perplexity", {{"ppl", 12.0}}}}},
                                         "t");
    EXPECT_NE(html.find("<svg"), std::string::npos);
    EXPECT_NE(html.find("m&lt;1&gt;"), std::string::npos);
    EXPECT_EQ(html.find("m<1>"), std::string::npos);
}

// Sentences with words, numbers, decimals, dashes and punctuation from a fixed generator.
std::string sentence(uint32_t* x, int n_words) {
    static const char* const words[] = {"the", "cat", "Sat", "on", "a", "mat", "3.50", "1,000", "1-2", "$5",
                                        "(see", "below)", "end.", "well,", "it's", "x/y", "a+b", "q?", "done!", "#7"};
    std::string s;
    for (int i = 0; i < n_words; ++i) {
        *x = *x * 1664525u + 1013904223u;
        if (i) s += ' ';
        s += words[(*x >> 8) % 20];
    }
    return s;
}

TEST(EvalMetrics, MatchNltkAndTheRegexReference) {
    const std::string script = FATHOM_SOURCE_DIR "/tests/reference/metrics_ref.py";
    const std::string probe = std::string("'") + FATHOM_PYTHON + "' -c 'import nltk' >/dev/null 2>&1";
    if (std::system(probe.c_str()) != 0)
        GTEST_SKIP() << "reference metrics skipped: " << FATHOM_PYTHON << " cannot import nltk (Debian python3-nltk)";
    uint32_t x = 12345;
    std::vector<std::string> hyps, refs;
    for (int i = 0; i < 40; ++i) {
        hyps.push_back(sentence(&x, 4 + int(x % 12)));
        refs.push_back(sentence(&x, 4 + int(x % 12)));
        if (i % 3 == 0) refs.back() = hyps.back() + " " + refs.back();  // some long shared n-grams
    }
    const std::filesystem::path dir = std::filesystem::temp_directory_path();
    const std::string in = (dir / "fathom-metrics-in.json").string(), out = (dir / "fathom-metrics-out.json").string();
    std::ofstream(in) << json{{"hyps", hyps}, {"refs", refs}}.dump();
    const std::string cmd = std::string("'") + FATHOM_PYTHON + "' '" + script + "' < '" + in + "' > '" + out + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream f(out);
    const json r = json::parse(f);

    std::vector<toks> th, tr;
    for (size_t i = 0; i < hyps.size(); ++i) {
        th.push_back(tokenize_13a(hyps[i]));
        tr.push_back(tokenize_13a(refs[i]));
        EXPECT_EQ(th.back(), r["tokens_13a"][i].get<toks>()) << hyps[i];
        EXPECT_NEAR(rouge_l_score(tokenize_rouge(hyps[i]), tokenize_rouge(refs[i])).f1, r["rouge_l"][i].get<double>(),
                    1e-12)
            << hyps[i] << " | " << refs[i];
    }
    const double bleu = corpus_bleu(th, tr).bleu;
    EXPECT_GT(bleu, 0.05);
    EXPECT_NEAR(bleu, r["bleu"].get<double>(), 1e-12);
    std::remove(in.c_str());
    std::remove(out.c_str());
}

}  // namespace

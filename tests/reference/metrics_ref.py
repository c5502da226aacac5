#!/usr/bin/python3
"""Reference text metrics for the eval tests, independent of Fathom's C++ code.

  metrics_ref.py < cases.json

Input: {"hyps": [text, ...], "refs": [text, ...]}. Output (JSON on stdout):
  tokens_13a   the 13a tokens of every hypothesis, by the four regular expressions of mteval-v13a.pl (as sacreBLEU
               applies them to the space-padded line)
  bleu         NLTK's corpus_bleu (Debian python3-nltk) over those tokens, one reference each, uniform weights, no
               smoothing
  rouge_l      per pair, ROUGE-L F1 over rouge-score's tokens (lower case, runs of [a-z0-9]), the LCS by
               brute-force recursion with memoisation
"""
import functools
import json
import re
import sys

from nltk.translate.bleu_score import corpus_bleu

RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tok13a(s):
    s = f" {s} "
    for r, sub in RULES:
        s = r.sub(sub, s)
    return s.split()


def tok_rouge(s):
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).split()


def lcs(a, b):
    @functools.lru_cache(maxsize=None)
    def f(i, j):
        if i == len(a) or j == len(b):
            return 0
        if a[i] == b[j]:
            return 1 + f(i + 1, j + 1)
        return max(f(i + 1, j), f(i, j + 1))
    return f(0, 0)


def rouge_l(c, r):
    c, r = tok_rouge(c), tok_rouge(r)
    if not c or not r:
        return 0.0
    n = lcs(tuple(c), tuple(r))
    if n == 0:
        return 0.0
    p, q = n / len(c), n / len(r)
    return 2 * p * q / (p + q)


def main():
    d = json.load(sys.stdin)
    hyps = [tok13a(h) for h in d["hyps"]]
    refs = [tok13a(r) for r in d["refs"]]
    sys.setrecursionlimit(100000)
    out = {
        "tokens_13a": hyps,
        "bleu": float(corpus_bleu([[r] for r in refs], hyps)),
        "rouge_l": [rouge_l(h, r) for h, r in zip(d["hyps"], d["refs"])],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

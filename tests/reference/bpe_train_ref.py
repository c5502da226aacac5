#!/usr/bin/env python3
"""Naive byte-level BPE trainer: the oracle for tests/io/bpe-train-test.cpp.

Reads pre-tokenised words with counts (one "HEX COUNT" line each, HEX = the word's raw bytes) and learns merges
the slow, obvious way: every step recounts all adjacent pairs, takes the highest count (ties: the smallest
(left bytes, right bytes)), and rewrites every word left to right. Stops when the vocabulary (special tokens +
256 bytes + distinct merged strings) reaches VOCAB_SIZE or no pair is seen MIN_FREQUENCY times. A merge whose
GPT-2 byte-level text equals a special token's text is never made.

usage: bpe_train_ref.py WORDS_FILE VOCAB_SIZE MIN_FREQUENCY [SPECIAL_HEX ...]
prints one "LEFT_HEX RIGHT_HEX COUNT" line per merge, in order.
"""
import sys


def gpt2_byte_text():
    """Byte -> stand-in character: printable Latin-1 bytes are themselves, the others 256, 257, ... in order."""
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAC + 1)) | set(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def main():
    words_path, vocab_size, min_freq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    specials = [bytes.fromhex(h).decode("utf-8") for h in sys.argv[4:]]
    table = gpt2_byte_text()

    def text_of(raw):
        return "".join(table[b] for b in raw)

    words = []
    with open(words_path) as f:
        for line in f:
            hexword, count = line.split()
            raw = bytes.fromhex(hexword)
            words.append(([raw[i:i + 1] for i in range(len(raw))], int(count)))

    known = {bytes([b]) for b in range(256)}
    n_tokens = len(specials) + 256
    banned = set(specials)
    while n_tokens < vocab_size:
        counts = {}
        for syms, c in words:
            for pair in zip(syms, syms[1:]):
                counts[pair] = counts.get(pair, 0) + c
        best = None
        for (left, right), c in counts.items():
            if c < max(min_freq, 1) or text_of(left + right) in banned:
                continue
            key = (-c, left, right)
            if best is None or key < best:
                best = key
        if best is None:
            break
        c, left, right = -best[0], best[1], best[2]
        merged = left + right
        for k, (syms, wc) in enumerate(words):
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == left and syms[i + 1] == right:
                    out.append(merged)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[k] = (out, wc)
        print(left.hex(), right.hex(), c)
        if merged not in known:
            known.add(merged)
            n_tokens += 1


if __name__ == "__main__":
    main()

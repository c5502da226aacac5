#!/usr/bin/env python3
"""Independent reference tokenizers (byte-level BPE and SentencePiece-style BPE) written plainly in Python with the
`regex` module, reading the vocabulary straight from a GGUF file. Used as the oracle for fathom's tokenizer on
hand-picked texts (Chinese, code, emoji, whitespace runs, digits).

usage: tokenizer_ref.py VOCAB.gguf TEXTS.json   -> prints a JSON list of id lists
"""
import json
import struct
import sys

import regex

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
CJK = r"[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"

# The same published pre-tokenizer regex lists fathom implements, by tokenizer.ggml.pre name.
PRE = {
    "gpt-2": [GPT2],
    "mpt": [GPT2],
    "starcoder": [r"\p{N}", GPT2],
    "refact": [r"\p{N}", GPT2],
    "falcon": [r"[\p{P}\$\+<=>\^~\|`]+", GPT2, "[0-9][0-9][0-9]"],
    "deepseek-coder": [r"[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", CJK, r"\p{N}"],
}


def read_gguf_meta(path):
    data = open(path, "rb").read()
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, data, off)
        off += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal off
        n = take("Q")
        s = data[off:off + n]
        off += n
        return s.decode("utf-8", errors="surrogateescape")

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et = take("I")
            n = take("Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])

    assert data[:4] == b"GGUF", path
    off = 4
    take("I")
    take("Q")
    n_kv = take("Q")
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take("I"))
    return meta


def bytes_to_unicode():
    out, extra = {}, 0
    for b in range(256):
        if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def split_isolated(pieces, pattern):
    out = []
    for p in pieces:
        last = 0
        for m in regex.finditer(pattern, p):
            if m.end() == m.start():
                continue
            if m.start() > last:
                out.append(p[last:m.start()])
            out.append(m.group(0))
            last = m.end()
        if last < len(p):
            out.append(p[last:])
    return out


class ByteLevelBPE:
    def __init__(self, meta):
        self.tokens = meta["tokenizer.ggml.tokens"]
        self.ids = {}
        for i, t in enumerate(self.tokens):
            self.ids.setdefault(t, i)
        self.ranks = {}
        for r, m in enumerate(meta["tokenizer.ggml.merges"]):
            sp = m.find(" ", 1)
            if sp < 0:
                continue
            a, b = m[:sp], m[sp + 1:]
            self.ranks.setdefault((a, b), r)
        self.pre = PRE[meta.get("tokenizer.ggml.pre", "default")]
        self.b2u = bytes_to_unicode()
        self.unk = meta.get("tokenizer.ggml.unknown_token_id", -1)

    def word(self, w):
        syms = [self.b2u[b] for b in w.encode("utf-8", errors="surrogateescape")]
        while len(syms) > 1:
            best, where = None, -1
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and self.ids.get(syms[i] + syms[i + 1]) is not None and (best is None or r < best):
                    best, where = r, i
            if best is None:
                break
            pair = (syms[where], syms[where + 1])
            merged, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == pair:
                    merged.append(syms[i] + syms[i + 1])
                    i += 2
                else:
                    merged.append(syms[i])
                    i += 1
            syms = merged
        out = []
        for s in syms:
            if s in self.ids:
                out.append(self.ids[s])
            elif self.unk >= 0:
                out.append(self.unk)
        return out

    def encode(self, text):
        pieces = [text] if text else []
        for pat in self.pre:
            pieces = split_isolated(pieces, pat)
        ids = []
        for p in pieces:
            ids += self.word(p)
        return ids


class SentencePieceBPE:
    def __init__(self, meta):
        self.tokens = meta["tokenizer.ggml.tokens"]
        self.scores = meta["tokenizer.ggml.scores"]
        self.types = meta["tokenizer.ggml.token_type"]
        self.ids = {}
        for i, t in enumerate(self.tokens):
            self.ids.setdefault(t, i)
        self.add_space_prefix = meta.get("tokenizer.ggml.add_space_prefix", True)

    def encode_noprefix(self, text):
        return self.encode(text, prefix=False)

    def encode(self, text, prefix=True):
        if not text:
            return []
        if self.add_space_prefix and prefix:
            text = " " + text
        text = text.replace(" ", "\u2581")
        syms = list(text)
        while True:
            best, where = None, -1
            for i in range(len(syms) - 1):
                t = self.ids.get(syms[i] + syms[i + 1])
                if t is None or self.types[t] != 1:
                    continue
                if best is None or self.scores[t] > best:
                    best, where = self.scores[t], i
            if best is None:
                break
            syms[where:where + 2] = [syms[where] + syms[where + 1]]
        out = []
        for s in syms:
            t = self.ids.get(s)
            if t is not None and self.types[t] == 1:
                out.append(t)
            else:
                for b in s.encode("utf-8"):
                    out.append(self.ids["<0x%02X>" % b])
        return out


def encode_with_user_tokens(tok, meta, text):
    """User-defined tokens (type 4) are always matched whole before the model runs, longest first; the text between
    them is encoded on its own (as llama.cpp and Hugging Face do)."""
    types = meta.get("tokenizer.ggml.token_type", [])
    tokens = meta["tokenizer.ggml.tokens"]
    user = sorted((i for i, t in enumerate(types) if t == 4 and tokens[i]), key=lambda i: -len(tokens[i].encode()))
    frags = [(None, text)] if text else []
    for uid in user:
        u = tokens[uid]
        nxt = []
        for fid, ftext in frags:
            if fid is not None or u not in ftext:
                nxt.append((fid, ftext))
                continue
            parts = ftext.split(u)
            for k, part in enumerate(parts):
                if part:
                    nxt.append((None, part))
                if k + 1 < len(parts):
                    nxt.append((uid, u))
        frags = nxt
    ids = []
    first = True
    for fid, ftext in frags:
        if fid is not None:
            ids.append(fid)
        else:
            ids += tok.encode(ftext) if first or not isinstance(tok, SentencePieceBPE) else tok.encode_noprefix(ftext)
        first = False
    return ids


def main():
    meta = read_gguf_meta(sys.argv[1])
    texts = json.load(open(sys.argv[2], encoding="utf-8"))
    model = meta["tokenizer.ggml.model"]
    tok = ByteLevelBPE(meta) if model == "gpt2" else SentencePieceBPE(meta)
    print(json.dumps([encode_with_user_tokens(tok, meta, t) for t in texts]))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The training step of bench/train-step-bench.cpp in PyTorch (Debian's python3-torch, CPU, float32): the same
Llama shape (RMSNorm, RoPE on interleaved pairs, causal GQA attention, SwiGLU, untied head), batch and tokens;
forward + backward, median of repetitions after one warm-up step.

  train_step_torch.py [--vocab V] [--ctx N] [--embd C] [--layers L] [--heads H] [--kv-heads K] [--ff F]
                      [-b B] [-t T] [-r REPS] [--threads N]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


class RMSNorm(torch.nn.Module):
    def __init__(self, n, eps=1e-5):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


def rope(x, cos, sin):
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(torch.nn.Module):
    def __init__(self, c, h, kv, ff):
        super().__init__()
        self.h, self.kv, self.hd = h, kv, c // h
        self.n1, self.n2 = RMSNorm(c), RMSNorm(c)
        self.q = torch.nn.Linear(c, h * self.hd, bias=False)
        self.k = torch.nn.Linear(c, kv * self.hd, bias=False)
        self.v = torch.nn.Linear(c, kv * self.hd, bias=False)
        self.o = torch.nn.Linear(h * self.hd, c, bias=False)
        self.g = torch.nn.Linear(c, ff, bias=False)
        self.u = torch.nn.Linear(c, ff, bias=False)
        self.d = torch.nn.Linear(ff, c, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        xn = self.n1(x)
        q = rope(self.q(xn).view(b, t, self.h, self.hd), cos, sin).transpose(1, 2)
        k = rope(self.k(xn).view(b, t, self.kv, self.hd), cos, sin).transpose(1, 2)
        v = self.v(xn).view(b, t, self.kv, self.hd).transpose(1, 2)
        rep = self.h // self.kv
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) * (self.hd ** -0.5)
        a = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, t, -1))
        xn = self.n2(x)
        return x + self.d(F.silu(self.g(xn)) * self.u(xn))


class Model(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.emb = torch.nn.Embedding(a.vocab, a.embd)
        self.blocks = torch.nn.ModuleList([Block(a.embd, a.heads, a.kv_heads, a.ff) for _ in range(a.layers)])
        self.norm = RMSNorm(a.embd)
        self.head = torch.nn.Linear(a.embd, a.vocab, bias=False)
        hd = a.embd // a.heads
        inv = 10000.0 ** (-torch.arange(0, hd // 2, dtype=torch.float32) * 2.0 / hd)
        ang = torch.arange(a.t, dtype=torch.float32)[:, None] * inv[None, :]
        self.cos, self.sin = torch.cos(ang)[None, :, None, :], torch.sin(ang)[None, :, None, :]
        self.mask = torch.triu(torch.ones(a.t, a.t, dtype=torch.bool), diagonal=1)

    def forward(self, tok, tgt):
        x = self.emb(tok)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin, self.mask)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1))


def main():
    ap = argparse.ArgumentParser()
    for name, d in (("--vocab", 8192), ("--ctx", 512), ("--embd", 384), ("--layers", 6), ("--heads", 6),
                    ("--kv-heads", 2), ("--ff", 1024), ("-b", 8), ("-t", 256), ("-r", 5), ("--threads", 2)):
        ap.add_argument(name, type=int, default=d)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    m = Model(a)
    n = a.b * a.t
    tok = (torch.arange(n) * 7919 % a.vocab).view(a.b, a.t)
    tgt = ((torch.arange(n) * 104729 + 1) % a.vocab).view(a.b, a.t)
    fwd, bwd = [], []
    for r in range(a.r + 1):
        t0 = time.perf_counter()
        loss = m(tok, tgt)
        t1 = time.perf_counter()
        m.zero_grad(set_to_none=False)
        loss.backward()
        t2 = time.perf_counter()
        if r:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
    step = statistics.median([f + b for f, b in zip(fwd, bwd)])
    params = sum(p.numel() for p in m.parameters())
    print("pytorch params %d  batch %dx%d  threads %d  forward %.3f s  backward %.3f s  step %.3f s  %.0f tokens/s"
          % (params, a.b, a.t, a.threads, statistics.median(fwd), statistics.median(bwd), step, n / step))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch (float64, autograd) reference for Fathom's trainable Llama decoder (src/train/model.h).

  train_ref.py grads --spec SPEC.json --out OUT.bin

SPEC.json: {"config": {n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, norm_eps, rope_theta, tie_embeddings},
            "tensors": [{"name", "ne", "offset", "size"}, ...], "params": "params.bin" (flat float32),
            "tokens": "tokens.bin", "targets": "targets.bin" (int32, b*t each; target -1 = not scored), "b", "t",
            "adamw": optional {"steps", "lr", "beta1", "beta2", "eps", "weight_decay"},
            "lora": optional {"rank", "alpha", "base_tensors": [...], "base_params": "base.bin"}}
With "lora", "tensors"/"params" are the adapters ("<weight>.lora_a" (rank x n_in), "<weight>.lora_b"
(n_out x rank)) and the base weights are frozen: each adapted linear computes x W^T + alpha/rank (x A^T) B^T.
OUT.bin: float64 little-endian: the mean loss, then the gradient of every parameter in the flat layout; with
"adamw", then the flat parameters after that many torch.optim.AdamW steps on the same batch (weight decay only on
2-D tensors, as Fathom applies it).

The model is written out here from its definition, not from Fathom's code: RMSNorm, RoPE on interleaved pairs
(2i, 2i+1) of each head (llama.cpp's GGUF order), causal softmax attention with grouped KV heads, SwiGLU MLP,
output head (or the tied token embedding), mean cross-entropy over scored positions.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch


def load(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    base = os.path.dirname(os.path.abspath(spec_path))
    flat = np.fromfile(os.path.join(base, spec["params"]), dtype="<f4").astype(np.float64)
    tokens = np.fromfile(os.path.join(base, spec["tokens"]), dtype="<i4")
    targets = np.fromfile(os.path.join(base, spec["targets"]), dtype="<i4")
    return spec, flat, tokens, targets


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, theta):
    # x: (b, t, heads, hd); rotate pairs (2i, 2i+1) by pos * theta^(-2i/hd)
    hd = x.shape[-1]
    inv = theta ** (-torch.arange(0, hd // 2, dtype=torch.float64) * 2.0 / hd)
    ang = pos[:, None].double() * inv[None, :]  # (t, hd/2)
    c, s = torch.cos(ang)[None, :, None, :], torch.sin(ang)[None, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def linear(P, name, x, lora):
    y = x @ P[name].T
    if lora is not None and (name + ".lora_a") in P:
        y = y + (lora["alpha"] / lora["rank"]) * ((x @ P[name + ".lora_a"].T) @ P[name + ".lora_b"].T)
    return y


def forward(cfg, P, tokens, targets, b, t, lora=None):
    e, nh, nkv = cfg["n_embd"], cfg["n_head"], cfg["n_head_kv"]
    hd = e // nh
    eps, theta = cfg["norm_eps"], cfg["rope_theta"]
    tok = torch.tensor(tokens, dtype=torch.long).reshape(b, t)
    tgt = torch.tensor(targets, dtype=torch.long).reshape(b * t)
    x = P["token_embd.weight"][tok]  # (b, t, e)
    pos = torch.arange(t)
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
    for l in range(cfg["n_layer"]):
        w = lambda n: P["blk.%d.%s" % (l, n)]
        lin = lambda n, inp: linear(P, "blk.%d.%s" % (l, n), inp, lora)
        xn = rms_norm(x, w("attn_norm.weight"), eps)
        q = lin("attn_q.weight", xn).reshape(b, t, nh, hd)
        k = lin("attn_k.weight", xn).reshape(b, t, nkv, hd)
        v = lin("attn_v.weight", xn).reshape(b, t, nkv, hd)
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        rep = nh // nkv
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        s = torch.einsum("bihd,bjhd->bhij", q, k) / np.sqrt(hd)
        s = s.masked_fill(mask, float("-inf"))
        a = torch.einsum("bhij,bjhd->bihd", torch.softmax(s, dim=-1), v).reshape(b, t, nh * hd)
        x = x + lin("attn_output.weight", a)
        xn = rms_norm(x, w("ffn_norm.weight"), eps)
        g = lin("ffn_gate.weight", xn)
        u = lin("ffn_up.weight", xn)
        x = x + lin("ffn_down.weight", torch.nn.functional.silu(g) * u)
    xn = rms_norm(x, P["output_norm.weight"], eps)
    head = P["token_embd.weight"] if cfg["tie_embeddings"] else P["output.weight"]
    logits = (xn @ head.T).reshape(b * t, -1)
    keep = tgt >= 0
    if int(keep.sum()) == 0:
        return logits.sum() * 0.0
    return torch.nn.functional.cross_entropy(logits[keep], tgt[keep], reduction="mean")


def tensors_of(spec, flat):
    P = {}
    for t in spec["tensors"]:
        ne = t["ne"]
        shape = list(reversed(ne))  # GGUF ne[0] is innermost
        a = flat[t["offset"]:t["offset"] + t["size"]].reshape(shape)
        P[t["name"]] = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    return P


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["grads"])
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    spec, flat, tokens, targets = load(args.spec)
    cfg, b, t = spec["config"], spec["b"], spec["t"]
    P = tensors_of(spec, flat)
    lora = spec.get("lora")
    if lora is not None:
        base = np.fromfile(os.path.join(os.path.dirname(os.path.abspath(args.spec)), lora["base_params"]),
                           dtype="<f4").astype(np.float64)
        for name, tensor in tensors_of({"tensors": lora["base_tensors"]}, base).items():
            P[name] = tensor.detach()
    loss = forward(cfg, P, tokens, targets, b, t, lora)
    loss.backward()
    out = [np.array([loss.item()], dtype=np.float64)]
    grads = np.zeros_like(flat)
    for ti in spec["tensors"]:
        g = P[ti["name"]].grad
        if g is not None:
            grads[ti["offset"]:ti["offset"] + ti["size"]] = g.detach().numpy().reshape(-1)
    out.append(grads)
    if "adamw" in spec:
        o = spec["adamw"]
        P2 = tensors_of(spec, flat)
        if lora is not None:
            for name, tensor in P.items():
                if name not in P2:
                    P2[name] = tensor
        mats = [P2[ti["name"]] for ti in spec["tensors"] if len(ti["ne"]) == 2]
        rest = [P2[ti["name"]] for ti in spec["tensors"] if len(ti["ne"]) != 2]
        opt = torch.optim.AdamW([{"params": mats, "weight_decay": o["weight_decay"]},
                                 {"params": rest, "weight_decay": 0.0}],
                                lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
        for _ in range(o["steps"]):
            opt.zero_grad()
            forward(cfg, P2, tokens, targets, b, t, lora).backward()
            opt.step()
        after = np.zeros_like(flat)
        for ti in spec["tensors"]:
            after[ti["offset"]:ti["offset"] + ti["size"]] = P2[ti["name"]].detach().numpy().reshape(-1)
        out.append(after)
    np.concatenate(out).astype("<f8").tofile(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""NumPy reference for the Llama-family models: writes tiny random-weight Hugging Face folders and computes
reference logits for them with a plain float64 implementation (no torch).

  llama_ref.py make --variant NAME --out DIR [--dtype f32|f16|bf16] [--shards 1|2] [--seed N]
                    [--tokens 1,2,3 --logits FILE]
  llama_ref.py logits --model DIR --tokens 1,2,3 --out FILE
  llama_ref.py variants
  llama_ref.py ppl --model DIR [--ref DIR] --tokens 1,2,3 --ctx N [--bos ID]

`ppl` prints JSON: perplexity as llama.cpp's perplexity tool computes it (non-overlapping chunks of N tokens, the
first token of each replaced by BOS when given, positions N/2 .. N-2 scoring the next token), and with --ref the
mean KL(ref || model) and top-1 agreement on the same positions, all in float64.

`make` writes config.json + model.safetensors (or two shards + model.safetensors.index.json) with its own
safetensors writer; with --tokens it then reads the folder back (so F16/BF16 models use their rounded weights)
and writes the logits, like `logits` does. FILE ending in .npy gets NumPy format, anything else raw
little-endian float32 of shape (n_tokens, vocab_size), row t = logits after token t (positions 0..t).

The forward follows the Hugging Face modelling code: RMSNorm, rotate_half RoPE on unpermuted Q/K weights,
Llama-3 / linear RoPE scaling computed from config.json, GQA by repeating KV heads, explicit causal mask,
optional QKV bias (Qwen2), SwiGLU MLP, lm_head or tied embeddings.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

VARIANTS = {
    # name: (architecture, config overrides)
    "llama-gqa": ("LlamaForCausalLM", {}),
    "mha": ("LlamaForCausalLM", {"num_key_value_heads": 4}),
    "mqa": ("LlamaForCausalLM", {"num_key_value_heads": 1}),
    "llama-tied": ("LlamaForCausalLM", {"tie_word_embeddings": True}),
    "qwen2-bias": ("Qwen2ForCausalLM", {"tie_word_embeddings": True, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6}),
    "llama3-rope-scaling": ("LlamaForCausalLM", {
        "rope_theta": 500000.0,
        # wavelengths of the 8 pair frequencies straddle [16, 64]: high, medium and low bands all occur
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 64},
    }),
    "linear-rope-scaling": ("LlamaForCausalLM", {"rope_scaling": {"type": "linear", "factor": 2.0}}),
    "mistral": ("MistralForCausalLM", {"num_key_value_heads": 1, "rope_theta": 1000000.0}),
    "head-dim": ("LlamaForCausalLM", {"head_dim": 32}),  # n_head * head_dim (128) != hidden_size (64)
}

BASE_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 256,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
}

ST_DTYPES = {"f32": "F32", "f16": "F16", "bf16": "BF16"}


# ---------------------------------------------------------------- safetensors

def f32_to_bf16_bits(a):
    """Round-to-nearest-even float32 -> bfloat16 bit patterns (uint16)."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype("<u2")


def encode(a, st_dtype):
    if st_dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if st_dtype == "F16":
        return np.ascontiguousarray(a, dtype="<f2").tobytes()
    if st_dtype == "BF16":
        return f32_to_bf16_bits(a).tobytes()
    raise ValueError(st_dtype)


def write_safetensors(path, tensors):
    """tensors: list of (name, array, st_dtype)."""
    header, blobs, off = {}, [], 0
    for name, a, dt in tensors:
        b = encode(a, dt)
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return off


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float64)
        elif dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
        else:
            raise ValueError(f"{path}: unsupported dtype {dt}")
        out[name] = a.reshape(info["shape"])
    return out


def read_folder(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        for fn in files:
            tensors.update(read_safetensors(os.path.join(d, fn)))
    else:
        tensors = read_safetensors(os.path.join(d, "model.safetensors"))
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    return cfg, tensors


# ---------------------------------------------------------------- model generation

def make_model(variant, out, dtype, shards, seed):
    arch, overrides = VARIANTS[variant]
    cfg = dict(BASE_CONFIG)
    cfg.update(overrides)
    cfg["architectures"] = [arch]
    cfg["model_type"] = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral",
                         "Qwen2ForCausalLM": "qwen2"}[arch]
    cfg["torch_dtype"] = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[dtype]
    bias = arch == "Qwen2ForCausalLM"

    rng = np.random.default_rng(seed)
    d, ff, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", d // nh)

    def mat(n_out, n_in, gain=1.0):
        return (rng.standard_normal((n_out, n_in)) * gain / math.sqrt(n_in)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32)

    st = ST_DTYPES[dtype]
    ts = [("model.embed_tokens.weight", rng.standard_normal((v, d)).astype(np.float32), st)]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        ts.append((p + "input_layernorm.weight", norm(d), st))
        ts.append((p + "self_attn.q_proj.weight", mat(nh * hd, d, 2.0), st))
        ts.append((p + "self_attn.k_proj.weight", mat(nkv * hd, d, 2.0), st))
        ts.append((p + "self_attn.v_proj.weight", mat(nkv * hd, d), st))
        if bias:
            ts.append((p + "self_attn.q_proj.bias", (0.5 * rng.standard_normal(nh * hd)).astype(np.float32), st))
            ts.append((p + "self_attn.k_proj.bias", (0.5 * rng.standard_normal(nkv * hd)).astype(np.float32), st))
            ts.append((p + "self_attn.v_proj.bias", (0.5 * rng.standard_normal(nkv * hd)).astype(np.float32), st))
        ts.append((p + "self_attn.o_proj.weight", mat(d, nh * hd), st))
        ts.append((p + "post_attention_layernorm.weight", norm(d), st))
        ts.append((p + "mlp.gate_proj.weight", mat(ff, d), st))
        ts.append((p + "mlp.up_proj.weight", mat(ff, d), st))
        ts.append((p + "mlp.down_proj.weight", mat(d, ff), st))
    ts.append(("model.norm.weight", norm(d), st))
    if not cfg["tie_word_embeddings"]:
        ts.append(("lm_head.weight", mat(v, d, 2.0), st))

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if shards == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), ts)
    else:
        half = len(ts) // 2
        parts = [ts[:half], ts[half:]]
        weight_map, total = {}, 0
        for k, part in enumerate(parts):
            fn = f"model-{k + 1:05d}-of-{len(parts):05d}.safetensors"
            total += write_safetensors(os.path.join(out, fn), part)
            for name, _, _ in part:
                weight_map[name] = fn
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


# ---------------------------------------------------------------- reference forward (float64)

def rope_inv_freq(cfg, hd):
    theta = float(cfg.get("rope_theta", 10000.0))
    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind == "linear":
            inv = inv / float(rs["factor"])
        elif kind == "llama3":
            factor = float(rs["factor"])
            low, high = float(rs["low_freq_factor"]), float(rs["high_freq_factor"])
            old = float(rs["original_max_position_embeddings"])
            low_wl, high_wl = old / low, old / high
            wl = 2 * math.pi / inv
            scaled = np.where(wl > low_wl, inv / factor, inv)
            smooth = (old / wl - low) / (high - low)
            smoothed = (1 - smooth) * scaled / factor + smooth * scaled
            medium = (wl >= high_wl) & (wl <= low_wl)
            inv = np.where(medium, smoothed, scaled)
        elif kind not in (None, "default"):
            raise ValueError(f"rope scaling {kind} not supported")
    return inv


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def forward(cfg, W, tokens):
    d = cfg["hidden_size"]
    nh, nkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim", d // nh)
    eps = float(cfg["rms_norm_eps"])
    T = len(tokens)
    group = nh // nkv

    inv = rope_inv_freq(cfg, hd)
    freqs = np.outer(np.arange(T, dtype=np.float64), inv)  # (T, hd/2)
    emb = np.concatenate([freqs, freqs], axis=-1)           # (T, hd)
    cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
    mask = np.triu(np.full((T, T), -np.inf), k=1)

    x = W["model.embed_tokens.weight"][np.array(tokens)]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)

        def proj(name):
            y = h @ W[p + name + ".weight"].T
            if p + name + ".bias" in W:
                y = y + W[p + name + ".bias"]
            return y

        q = proj("self_attn.q_proj").reshape(T, nh, hd)
        k = proj("self_attn.k_proj").reshape(T, nkv, hd)
        v = proj("self_attn.v_proj").reshape(T, nkv, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, group, axis=1)  # head j uses KV head j // group
        v = np.repeat(v, group, axis=1)
        out = np.empty((T, nh, hd))
        for j in range(nh):
            s = q[:, j, :] @ k[:, j, :].T / math.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            out[:, j, :] = s @ v[:, j, :]
        x = x + out.reshape(T, nh * hd) @ W[p + "self_attn.o_proj.weight"].T

        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + (g / (1.0 + np.exp(-g)) * u) @ W[p + "mlp.down_proj.weight"].T

    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    return x @ head.T


def write_logits(path, logits):
    if path.endswith(".npy"):
        np.save(path, logits.astype(np.float32))
    else:
        with open(path, "wb") as f:
            f.write(np.ascontiguousarray(logits, dtype="<f4").tobytes())


def compute_logits(model_dir, tokens, out):
    cfg, W = read_folder(model_dir)
    if any(t < 0 or t >= cfg["vocab_size"] for t in tokens):
        raise SystemExit("token id out of range")
    write_logits(out, forward(cfg, W, tokens))


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def perplexity(model_dir, ref_dir, tokens, n_ctx, bos):
    cfg, W = read_folder(model_dir)
    ref = read_folder(ref_dir) if ref_dir else None
    first = n_ctx // 2
    nll, kld, agree = [], [], []
    for c in range(len(tokens) // n_ctx):
        chunk = list(tokens[c * n_ctx:(c + 1) * n_ctx])
        if bos is not None:
            chunk[0] = bos
        lp = log_softmax(forward(cfg, W, chunk))
        targets = tokens[c * n_ctx + first + 1:(c + 1) * n_ctx]
        rows = np.arange(first, n_ctx - 1)
        nll.extend(-lp[rows, targets])
        if ref is not None:
            lr = log_softmax(forward(ref[0], ref[1], chunk))
            kld.extend((np.exp(lr[rows]) * (lr[rows] - lp[rows])).sum(axis=-1))
            agree.extend(lp[rows].argmax(axis=-1) == lr[rows].argmax(axis=-1))
    out = {"ppl": math.exp(float(np.mean(nll))), "tokens_scored": len(nll)}
    if ref is not None:
        out["kld_mean"] = float(np.mean(kld))
        out["top1_agreement"] = float(np.mean(agree))
    print(json.dumps(out))


def parse_tokens(s):
    return [int(t) for t in s.split(",") if t.strip()]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    m.add_argument("--out", required=True)
    m.add_argument("--dtype", default="f32", choices=sorted(ST_DTYPES))
    m.add_argument("--shards", type=int, default=1, choices=[1, 2])
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--tokens")
    m.add_argument("--logits")
    lg = sub.add_parser("logits")
    lg.add_argument("--model", required=True)
    lg.add_argument("--tokens", required=True)
    lg.add_argument("--out", required=True)
    sub.add_parser("variants")
    pp = sub.add_parser("ppl")
    pp.add_argument("--model", required=True)
    pp.add_argument("--ref")
    pp.add_argument("--tokens", required=True)
    pp.add_argument("--ctx", type=int, required=True)
    pp.add_argument("--bos", type=int)
    a = ap.parse_args(argv)

    if a.cmd == "variants":
        print("\n".join(sorted(VARIANTS)))
    elif a.cmd == "make":
        if bool(a.tokens) != bool(a.logits):
            ap.error("--tokens and --logits go together")
        make_model(a.variant, a.out, a.dtype, a.shards, a.seed)
        if a.tokens:
            compute_logits(a.out, parse_tokens(a.tokens), a.logits)
    elif a.cmd == "ppl":
        perplexity(a.model, a.ref, parse_tokens(a.tokens), a.ctx, a.bos)
    else:
        compute_logits(a.model, parse_tokens(a.tokens), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

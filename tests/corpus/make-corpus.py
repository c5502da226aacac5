#!/usr/bin/python3
# Writes the bad-input corpus (tests/corpus/) and the fuzzer seeds (fuzz/seeds/); run from anywhere.
# Every corpus entry is listed in expected.tsv with the error class and a phrase its message must contain.
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
HUGE = 1 << 60

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def gstr(s): b = s.encode(); return u64(len(b)) + b
def kv(key, typ, payload): return gstr(key) + u32(typ) + payload
def header(n_tensors, n_kv, version=3): return b"GGUF" + u32(version) + u64(n_tensors) + u64(n_kv)


def tinfo(name, dims, typ=0, offset=0):
    return gstr(name) + u32(len(dims)) + b"".join(u64(d) for d in dims) + u32(typ) + u64(offset)


def pad(b, a=32): return b + b"\0" * ((-len(b)) % a)


def gguf(kvs, infos, data=b"", align=32):
    body = header(len(infos), len(kvs)) + b"".join(kvs) + b"".join(infos)
    return pad(body, align) + data if infos else body


ARCH = kv("general.architecture", STR, gstr("llama"))
W4 = tinfo("w", [4])  # 4 floats at offset 0
DATA4 = struct.pack("<4f", 1, 2, 3, 4)

entries = []  # (name, errc, phrase)
files = {}    # relative path -> bytes


def bad(name, errc, phrase, content):
    files[name] = content
    entries.append((name, errc, phrase))


# ---- GGUF
bad("gguf-empty.gguf", "FORMAT", "not a GGUF file (bad magic)", b"")
bad("gguf-bad-magic.gguf", "FORMAT", "not a GGUF file (bad magic)", b"GGML" + u32(3) + u64(0) + u64(0))
bad("gguf-truncated-header.gguf", "FORMAT", "truncated header (tensor count)", b"GGUF" + u32(3) + b"\1\0\0\0")
bad("gguf-v1.gguf", "UNSUPPORTED", "GGUF version 1 is not supported", b"GGUF" + u32(1) + u32(0) + u32(0))
bad("gguf-version-99.gguf", "UNSUPPORTED", "unsupported GGUF version 99", header(0, 0, 99))
bad("gguf-kv-count-huge.gguf", "FORMAT", "metadata count 1152921504606846976 exceeds", header(0, HUGE) + ARCH)
bad("gguf-tensor-count-huge.gguf", "FORMAT", "tensor count 1152921504606846976 exceeds", header(HUGE, 1) + ARCH)
bad("gguf-string-len-huge.gguf", "FORMAT", "string length 1152921504606846976",
    header(0, 1) + u64(HUGE) + b"general.architecture")
bad("gguf-value-len-huge.gguf", "FORMAT", "string length 1152921504606846976",
    header(0, 1) + gstr("general.name") + u32(STR) + u64(HUGE) + b"abc")
bad("gguf-array-len-huge.gguf", "FORMAT", "array of 1152921504606846976 uint8 elements exceeds",
    header(0, 1) + kv("a", ARR, u32(U8) + u64(HUGE) + b"\1\2\3"))
bad("gguf-string-array-huge.gguf", "FORMAT", "array of 1152921504606846976 string elements exceeds",
    header(0, 1) + kv("tokenizer.ggml.tokens", ARR, u32(STR) + u64(HUGE) + gstr("a")))
bad("gguf-nested-array-huge.gguf", "FORMAT", "array of 1152921504606846976 int32 elements exceeds",
    header(0, 1) + kv("n", ARR, u32(ARR) + u64(1) + u32(I32) + u64(HUGE) + u32(7)))
deep = u32(U8) + u64(0)
for _ in range(10):
    deep = u32(ARR) + u64(1) + deep
bad("gguf-nesting-deep.gguf", "FORMAT", "nesting deeper than 8", header(0, 1) + kv("deep", ARR, deep[4 + 8:]))
bad("gguf-bad-value-type.gguf", "FORMAT", "unknown metadata value type 13", header(0, 1) + kv("x", 13, u32(0)))
bad("gguf-bad-array-type.gguf", "FORMAT", "unknown array element type 99",
    header(0, 1) + kv("x", ARR, u32(99) + u64(1) + u32(0)))
bad("gguf-bad-bool.gguf", "FORMAT", "bool value 2 is not 0 or 1", header(0, 1) + kv("b", BOOL, b"\2"))
bad("gguf-duplicate-key.gguf", "FORMAT", "duplicate metadata key 'general.architecture'", header(0, 2) + ARCH + ARCH)
bad("gguf-alignment-zero.gguf", "FORMAT", "general.alignment 0 is not a power of two",
    header(0, 1) + kv("general.alignment", U32, u32(0)))
bad("gguf-alignment-48.gguf", "FORMAT", "general.alignment 48 is not a power of two",
    header(0, 1) + kv("general.alignment", U32, u32(48)))
bad("gguf-alignment-type.gguf", "FORMAT", "general.alignment: expected uint32, found string",
    header(0, 1) + kv("general.alignment", STR, gstr("32")))
bad("gguf-ndims-0.gguf", "FORMAT", "n_dims 0 is out of range", gguf([ARCH], [tinfo("w", [])], DATA4))
bad("gguf-ndims-9.gguf", "FORMAT", "n_dims 9 is out of range", gguf([ARCH], [tinfo("w", [1] * 9)], DATA4))
bad("gguf-dim-zero.gguf", "FORMAT", "dimension 1 is 0", gguf([ARCH], [tinfo("w", [4, 0])], DATA4))
bad("gguf-dim-negative.gguf", "FORMAT", "dimension 0 is out of range",
    gguf([ARCH], [tinfo("w", [(1 << 64) - 1])], DATA4))
bad("gguf-nelements-overflow.gguf", "FORMAT", "element count overflows",
    gguf([ARCH], [tinfo("w", [1 << 32, 1 << 32])], DATA4))
bad("gguf-bytes-overflow.gguf", "FORMAT", "byte size overflows", gguf([ARCH], [tinfo("w", [1 << 62])], DATA4))
bad("gguf-unknown-dtype.gguf", "UNSUPPORTED", "unknown tensor type id 99", gguf([ARCH], [tinfo("w", [4], 99)], DATA4))
bad("gguf-block-size.gguf", "FORMAT", "not a multiple of the q8_0 block size 32",
    gguf([ARCH], [tinfo("w", [33], 8)], b"\0" * 64))
bad("gguf-offset-past-end.gguf", "FORMAT", "data [offset 64, 16 bytes] past end of file",
    gguf([ARCH], [tinfo("w", [4], 0, 64)], DATA4))
bad("gguf-offset-overflow.gguf", "FORMAT", "past end of file",
    gguf([ARCH], [tinfo("w", [4], 0, (1 << 64) - 32)], DATA4))
bad("gguf-offset-unaligned.gguf", "FORMAT", "data offset 4 is not a multiple of the alignment 32",
    gguf([ARCH], [tinfo("w", [4], 0, 4)], DATA4 * 2))
bad("gguf-size-past-end.gguf", "FORMAT", "past end of file", gguf([ARCH], [tinfo("w", [1 << 40])], DATA4))
bad("gguf-truncated-data.gguf", "FORMAT", "data [offset 0, 16 bytes] past end of file",
    gguf([ARCH], [W4], DATA4[:10]))
bad("gguf-duplicate-tensor.gguf", "FORMAT", "duplicate tensor name 'w'",
    gguf([ARCH], [W4, tinfo("w", [4], 0, 32)], pad(DATA4) + DATA4))
bad("gguf-overlap.gguf", "FORMAT", "data overlaps tensor",
    gguf([ARCH], [tinfo("a", [16]), tinfo("b", [4], 0, 32)], DATA4 * 4 + DATA4 * 2))
bad("gguf-truncated-tensor-info.gguf", "FORMAT", "truncated tensor 'w' dims",
    header(1, 1) + ARCH + gstr("w") + u32(2) + u64(4))

# ---- Hugging Face folders
CONFIG = {"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 12, "vocab_size": 16,
          "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}


def st(header_obj, data):
    h = json.dumps(header_obj).encode()
    h += b" " * ((-(8 + len(h))) % 8)
    return u64(len(h)) + h + data


def st_raw(header_text, data=b""):
    h = header_text.encode()
    return u64(len(h)) + h + data


NORM = {"model.norm.weight": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}
NORM_DATA = struct.pack("<8f", *range(8))


def hf(name, errc, phrase, config=CONFIG, weights=None, extra=None):
    cfg = config if isinstance(config, str) else json.dumps(config, indent=1)
    files[name + "/config.json"] = cfg.encode()
    if weights is not None:
        files[name + "/model.safetensors"] = weights
    for k, v in (extra or {}).items():
        files[name + "/" + k] = v
    entries.append((name, errc, phrase))


hf("hf-st-short", "FORMAT", "truncated safetensors header", weights=b"\1\2\3\4")
hf("hf-st-header-len-huge", "FORMAT", "header length 1152921504606846976 exceeds the file size",
   weights=u64(HUGE) + b"{}")
hf("hf-st-bad-json", "FORMAT", "invalid safetensors JSON header", weights=st_raw('{"a": [1, 2', b""))
hf("hf-st-not-object", "FORMAT", "safetensors header is not a JSON object", weights=st_raw("[1, 2, 3]"))
hf("hf-st-offsets-past-end", "FORMAT", "past end of data section",
   weights=st({"model.norm.weight": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}, NORM_DATA[:16]))
hf("hf-st-offsets-reversed", "FORMAT", "data_offsets begin 32 > end 0",
   weights=st({"model.norm.weight": {"dtype": "F32", "shape": [8], "data_offsets": [32, 0]}}, NORM_DATA))
hf("hf-st-shape-mismatch", "FORMAT", "data_offsets span 32 bytes but shape and dtype F32 need 64",
   weights=st({"model.norm.weight": {"dtype": "F32", "shape": [16], "data_offsets": [0, 32]}}, NORM_DATA))
hf("hf-st-dtype-i64", "UNSUPPORTED", "tensor 'model.norm.weight': dtype I64 is not supported",
   weights=st({"model.norm.weight": {"dtype": "I64", "shape": [4], "data_offsets": [0, 32]}}, NORM_DATA))
hf("hf-st-shape-overflow", "FORMAT", "element count overflows",
   weights=st({"model.norm.weight": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 32]}},
              NORM_DATA))
hf("hf-st-negative-dim", "FORMAT", "shape entries must be non-negative integers",
   weights=st({"model.norm.weight": {"dtype": "F32", "shape": [-8], "data_offsets": [0, 32]}}, NORM_DATA))
hf("hf-st-missing-dtype", "FORMAT", "missing or non-string 'dtype'",
   weights=st({"model.norm.weight": {"shape": [8], "data_offsets": [0, 32]}}, NORM_DATA))
hf("hf-st-overlap", "FORMAT", "data overlaps tensor",
   weights=st({"model.norm.weight": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]},
               "model.layers.0.input_layernorm.weight": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}},
              NORM_DATA))
hf("hf-st-unknown-tensor", "UNSUPPORTED", "unknown tensor 'model.vision_tower.weight'",
   weights=st({"model.vision_tower.weight": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}, NORM_DATA))
hf("hf-cfg-malformed", "FORMAT", "config.json: invalid JSON", config='{"hidden_size": 8,\n  "vocab_size": }')
hf("hf-cfg-not-object", "FORMAT", "config.json: expected a JSON object", config="[1, 2]")
cfg = dict(CONFIG); del cfg["hidden_size"]
hf("hf-cfg-missing-field", "FORMAT", "config.json: field 'hidden_size': expected a positive integer", config=cfg)
cfg = dict(CONFIG); cfg["num_attention_heads"] = "2"
hf("hf-cfg-wrong-type", "FORMAT", "field 'num_attention_heads': expected a positive integer, found string", config=cfg)
cfg = dict(CONFIG); cfg["num_hidden_layers"] = 0
hf("hf-cfg-zero-layers", "FORMAT", "field 'num_hidden_layers': expected a positive integer", config=cfg)
cfg = dict(CONFIG); cfg["hidden_size"] = 1 << 40
hf("hf-cfg-huge-value", "FORMAT", "field 'hidden_size': expected a positive integer below 2^31", config=cfg)
cfg = dict(CONFIG); cfg["rms_norm_eps"] = None; cfg["rope_theta"] = [1]
hf("hf-cfg-float-type", "FORMAT", "field 'rope_theta': expected a positive number, found array", config=cfg)
cfg = dict(CONFIG); cfg["architectures"] = ["GPT2LMHeadModel"]
hf("hf-cfg-unknown-arch", "UNSUPPORTED", "architecture 'GPT2LMHeadModel' is not supported", config=cfg)
cfg = dict(CONFIG); cfg["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0}
hf("hf-cfg-rope-yarn", "UNSUPPORTED", "rope_scaling type 'yarn' is not supported", config=cfg)
hf("hf-no-weights", "IO", "no model.safetensors or model.safetensors.index.json")
EMB = {"model.embed_tokens.weight": {"dtype": "F32", "shape": [16, 8], "data_offsets": [0, 512]}}
EMB_DATA = struct.pack("<128f", *range(128))
hf("hf-missing-embedding", "FORMAT", "missing tensor 'model.embed_tokens.weight'", weights=st(NORM, NORM_DATA))
hf("hf-vocab-mismatch", "FORMAT", "has 16 rows but config.json vocab_size is 32",
   config=dict(CONFIG, vocab_size=32), weights=st(EMB, EMB_DATA))
hf("hf-tokenizer-id-huge", "FORMAT", "token id 4294967296 is out of range", weights=st(EMB, EMB_DATA),
   extra={"tokenizer.json": b'{"model": {"type": "BPE", "vocab": {"a": 0, "b": 4294967296}}}'})
hf("hf-tokenizer-malformed", "FORMAT", "tokenizer.json: invalid JSON", weights=st(EMB, EMB_DATA),
   extra={"tokenizer.json": b'{"model": {"type": "BPE", "vocab": {"a": 0,}}}'})
hf("hf-index-missing-shard", "IO", "model-00001-of-00002.safetensors: cannot open",
   extra={"model.safetensors.index.json":
          json.dumps({"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors"}}).encode()})


def main():
    for p in os.listdir(HERE):
        full = os.path.join(HERE, p)
        if p.startswith("gguf-") or p.startswith("hf-"):
            shutil.rmtree(full) if os.path.isdir(full) else os.remove(full)
    for rel, content in files.items():
        path = os.path.join(HERE, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
    with open(os.path.join(HERE, "expected.tsv"), "w") as f:
        f.write("# entry\terror class\tphrase the one-line message must contain (it also names the entry)\n")
        for name, errc, phrase in entries:
            f.write(f"{name}\t{errc}\t{phrase}\n")

    # ---- fuzzer seeds: a few valid inputs plus the corpus entries of each kind
    good_kvs = [ARCH, kv("general.name", STR, gstr("seed")), kv("llama.block_count", U32, u32(1)),
                kv("llama.attention.layer_norm_rms_epsilon", F32, struct.pack("<f", 1e-5)),
                kv("tokenizer.ggml.tokens", ARR, u32(STR) + u64(3) + gstr("a") + gstr("b") + gstr("ab")),
                kv("tokenizer.ggml.scores", ARR, u32(F32) + u64(3) + struct.pack("<3f", 0, -1, -2)),
                kv("n", ARR, u32(ARR) + u64(2) + u32(I16) + u64(1) + struct.pack("<h", -3) + u32(I16) + u64(0)),
                kv("b", BOOL, b"\1"), kv("u64", U64, u64(7)), kv("f64", F64, struct.pack("<d", 0.5))]
    good_infos = [tinfo("token_embd.weight", [4, 2]), tinfo("blk.0.attn_q.weight", [32, 1], 8, 32),
                  tinfo("norm", [2], 1, 96)]
    good_data = pad(struct.pack("<8f", *range(8))) + pad(b"\0\x3c" + bytes(range(32)) + b"\0" * 30) + b"\0\x3c\0\x40"
    seeds = {
        "fuzz_gguf": {"valid-tensors.gguf": gguf(good_kvs, good_infos, good_data),
                      "valid-meta-only.gguf": gguf(good_kvs, []),
                      "valid-align64.gguf": gguf([ARCH, kv("general.alignment", U32, u32(64))], [W4], DATA4, 64)},
        "fuzz_safetensors": {"valid.safetensors": st({"__metadata__": {"format": "pt"},
                                                      "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                                                      "b": {"dtype": "BF16", "shape": [4], "data_offsets": [16, 24]},
                                                      "c": {"dtype": "F16", "shape": [], "data_offsets": [24, 26]}},
                                                     DATA4 + b"\0" * 10)},
        "fuzz_hf_config": {"llama.json": json.dumps(CONFIG).encode(),
                           "llama3.json": json.dumps(dict(CONFIG, rope_scaling={
                               "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})).encode(),
                           "qwen2.json": json.dumps(dict(CONFIG, architectures=["Qwen2ForCausalLM"], head_dim=4,
                                                         rope_scaling={"type": "linear", "factor": 2})).encode()},
        "fuzz_hf_tokenizer": {
            "llama.json": json.dumps({
                "model": {"type": "BPE", "byte_fallback": True,
                          "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "\u2581": 4, "a": 5, "ab": 6},
                          "merges": ["a b", ["\u2581", "ab"]]},
                "added_tokens": [{"id": 1, "content": "<s>", "special": True},
                                 {"id": 9, "content": "<tool>", "special": False}]}).encode() + b"\0" +
            json.dumps({"bos_token": {"content": "<s>"}, "eos_token": "</s>", "add_bos_token": True,
                        "chat_template": [{"name": "default", "template": "{{ x }}"}]}).encode(),
            "gpt2.json": json.dumps({
                "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
                "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|\\p{N}{1,3}"}},
                    {"type": "ByteLevel"}]}}).encode(),
            "unigram.json": json.dumps({"model": {"type": "Unigram",
                                                  "vocab": [["<unk>", 0.0], ["\u2581a", -1.5], ["<0x41>", 0]]}}).encode(),
        },
    }
    for name, content in files.items():
        if name.startswith("gguf-"):
            seeds["fuzz_gguf"][name] = content
        elif name.endswith("model.safetensors"):
            seeds["fuzz_safetensors"][name.split("/")[0] + ".safetensors"] = content
        elif name.endswith("tokenizer.json"):
            seeds["fuzz_hf_tokenizer"][name.split("/")[0] + ".json"] = content
        elif name.endswith("config.json"):
            seeds["fuzz_hf_config"][name.split("/")[0] + ".json"] = content
    for target, fs in seeds.items():
        d = os.path.join(SEEDS, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for n, c in fs.items():
            with open(os.path.join(d, n), "wb") as f:
                f.write(c)
    print(f"{len(entries)} corpus entries, seeds: " + ", ".join(f"{t} {len(fs)}" for t, fs in seeds.items()))


main()

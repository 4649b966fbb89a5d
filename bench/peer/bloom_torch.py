"""A plain-PyTorch BLOOM: the *peer* implementation used only by tuneloop's benchmark.

No `transformers`, no `safetensors` package: this file reads a Hugging Face checkpoint
directory (`config.json` + `model.safetensors`) itself and runs BloomForCausalLM's math:

  h = word_embeddings_layernorm(word_embeddings(ids))
  for each block:  h += dense(attn(LN1(h)));  h += mlp(LN2(h))      (pre-LN)
  logits = ln_f(h) @ word_embeddings.T                              (tied lm_head, no bias)

Attention: the fused query_key_value output [3H] is laid out per head as
[n_head, 3, head_dim]; scores = q.k / sqrt(head_dim) + ALiBi (slope_h * pos_k with
pos = (cumsum(mask) - 1) * mask); masked scores are filled with float32's lowest value;
softmax in float32. GELU is the tanh form. Decoding uses a KV cache (keys/values are
concatenated along the sequence axis; ALiBi and the mask are rebuilt from the full mask).

Checked against Hugging Face transformers 4.35.2 outputs by check_against_fixtures.py.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------
# safetensors reader (numpy only)
# --------------------------------------------------------------------------------------

_ST_ITEMSIZE = {"F32": 4, "F16": 2, "BF16": 2}


def read_safetensors_header(path: str) -> tuple[dict, int]:
    """Return (header dict, byte offset of the data section)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def load_safetensors(path: str, dtype: torch.dtype | None = torch.float32) -> dict[str, torch.Tensor]:
    """Read every tensor of a .safetensors file into torch tensors.

    Layout: u64 little-endian header length N, N bytes of JSON header, raw little-endian data.
    Supported dtypes: F32, BF16, F16. Each tensor is converted to `dtype` as soon as it is read
    (None keeps the stored dtype), so peak memory stays near the size of the converted model.
    """
    header, base = read_safetensors_header(path)
    out: dict[str, torch.Tensor] = {}
    with open(path, "rb") as f:
        for name, info in header.items():
            if name == "__metadata__":
                continue
            st_dtype = info["dtype"]
            if st_dtype not in _ST_ITEMSIZE:
                raise ValueError(f"{name}: unsupported safetensors dtype {st_dtype}")
            shape = [int(s) for s in info["shape"]]
            start, end = (int(x) for x in info["data_offsets"])
            count = math.prod(shape)
            if end - start != count * _ST_ITEMSIZE[st_dtype]:
                raise ValueError(f"{name}: byte range {end - start} does not match shape {shape} ({st_dtype})")
            f.seek(base + start)
            if dtype is None or dtype == _TORCH_DTYPE[st_dtype]:
                t = _read_chunk(f, st_dtype, count)
            else:  # convert chunk by chunk, so a large fp32 tensor never sits whole in memory twice
                t = torch.empty(count, dtype=dtype)
                step = _CHUNK_ELEMS
                for i in range(0, count, step):
                    t[i:i + step] = _read_chunk(f, st_dtype, min(step, count - i))
            out[name] = t.reshape(shape)
    return out


_TORCH_DTYPE = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
_CHUNK_ELEMS = 1 << 22


def _read_chunk(f, st_dtype: str, count: int) -> torch.Tensor:
    if st_dtype == "F32":
        t = torch.from_numpy(np.fromfile(f, dtype="<f4", count=count))
    elif st_dtype == "F16":
        t = torch.from_numpy(np.fromfile(f, dtype="<f2", count=count))
    else:  # BF16: reinterpret the raw 16-bit words
        t = torch.from_numpy(np.fromfile(f, dtype="<i2", count=count)).view(torch.bfloat16)
    if t.numel() != count:
        raise ValueError("safetensors file truncated")
    return t


# --------------------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------------------


@dataclass
class BloomConfig:
    vocab_size: int
    hidden_size: int
    n_layer: int
    n_head: int
    layer_norm_epsilon: float = 1e-5
    apply_residual_connection_post_layernorm: bool = False
    tie_word_embeddings: bool = True
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2
    pad_token_id: int | None = 3

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.n_head

    @classmethod
    def from_dict(cls, d: dict) -> "BloomConfig":
        def pick(*keys, default=None):
            for k in keys:
                if k in d and d[k] is not None:
                    return d[k]
            return default

        return cls(
            vocab_size=int(d["vocab_size"]),
            hidden_size=int(pick("hidden_size", "n_embed")),
            n_layer=int(pick("n_layer", "num_hidden_layers")),
            n_head=int(pick("n_head", "num_attention_heads")),
            layer_norm_epsilon=float(pick("layer_norm_epsilon", default=1e-5)),
            apply_residual_connection_post_layernorm=bool(pick("apply_residual_connection_post_layernorm", default=False)),
            tie_word_embeddings=bool(pick("tie_word_embeddings", default=True)),
            bos_token_id=pick("bos_token_id", default=1),
            eos_token_id=pick("eos_token_id", default=2),
            pad_token_id=pick("pad_token_id", default=3),
        )

    @classmethod
    def from_file(cls, path: str) -> "BloomConfig":
        with open(path, "r", encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


# --------------------------------------------------------------------------------------
# ALiBi and masks
# --------------------------------------------------------------------------------------


def alibi_slopes(n_head: int) -> torch.Tensor:
    """BLOOM's ALiBi slopes, float32 [n_head]."""
    c = 2 ** math.floor(math.log2(n_head))
    base = 2.0 ** (-(2.0 ** -(math.log2(c) - 3)))
    slopes = [base**i for i in range(1, c + 1)]
    if c != n_head:
        extra_base = 2.0 ** (-(2.0 ** -(math.log2(2 * c) - 3)))
        n_extra = min(c, n_head - c)
        slopes += [extra_base**i for i in range(1, 2 * n_extra, 2)]
    return torch.tensor(slopes, dtype=torch.float32)


def build_alibi(attention_mask: torch.Tensor, slopes: torch.Tensor) -> torch.Tensor:
    """[B, n_head, 1, T_k] float32 bias: slope_h * pos_k, pos = (cumsum(mask) - 1) * mask."""
    mask = attention_mask.to(torch.float32)
    pos = (mask.cumsum(dim=-1) - 1.0) * mask  # [B, T_k]
    return slopes.view(1, -1, 1, 1) * pos[:, None, None, :]


def build_masked(attention_mask: torch.Tensor, q_len: int) -> torch.Tensor:
    """[B, 1, T_q, T_k] bool, True where a score is masked (future key or padding key).

    The T_q queries are the last q_len positions of the T_k keys (KV-cache decoding).
    """
    t_k = attention_mask.shape[-1]
    past = t_k - q_len
    q_pos = torch.arange(past, t_k).view(q_len, 1)
    k_pos = torch.arange(t_k).view(1, t_k)
    future = (k_pos > q_pos)[None, None]  # [1, 1, T_q, T_k]
    padding = (attention_mask == 0)[:, None, None, :]  # [B, 1, 1, T_k]
    return future | padding


def bloom_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * 0.5 * (1.0 + torch.tanh(0.79788456 * x * (1.0 + 0.044715 * x * x)))


# --------------------------------------------------------------------------------------
# modules (parameter names follow the Hugging Face checkpoint)
# --------------------------------------------------------------------------------------

KVCache = list  # list of (key [B, nh, T, hd], value [B, nh, T, hd]) per layer


class BloomAttention(nn.Module):
    def __init__(self, cfg: BloomConfig, device=None):
        super().__init__()
        self.n_head = cfg.n_head
        self.head_dim = cfg.head_dim
        self.inv_norm = 1.0 / math.sqrt(self.head_dim)
        self.query_key_value = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size, device=device)
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size, device=device)

    def forward(self, x, alibi, masked, past=None):
        b, t, h = x.shape
        qkv = self.query_key_value(x).view(b, t, self.n_head, 3, self.head_dim)
        q = qkv[..., 0, :].transpose(1, 2)  # [B, nh, T, hd]
        k = qkv[..., 1, :].transpose(1, 2)
        v = qkv[..., 2, :].transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)

        scores = torch.matmul(q, k.transpose(-1, -2)) * self.inv_norm + alibi  # [B, nh, T, T_k]
        scores = scores.float().masked_fill(masked, torch.finfo(torch.float32).min)
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(v.dtype)
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, h)
        return self.dense(ctx), present


class BloomMLP(nn.Module):
    def __init__(self, cfg: BloomConfig, device=None):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(cfg.hidden_size, 4 * cfg.hidden_size, device=device)
        self.dense_4h_to_h = nn.Linear(4 * cfg.hidden_size, cfg.hidden_size, device=device)

    def forward(self, x):
        return self.dense_4h_to_h(bloom_gelu(self.dense_h_to_4h(x)))


class BloomBlock(nn.Module):
    def __init__(self, cfg: BloomConfig, device=None):
        super().__init__()
        self.post_ln_residual = cfg.apply_residual_connection_post_layernorm
        self.input_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_epsilon, device=device)
        self.self_attention = BloomAttention(cfg, device)
        self.post_attention_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_epsilon, device=device)
        self.mlp = BloomMLP(cfg, device)

    def forward(self, h, alibi, masked, past=None):
        ln = self.input_layernorm(h)
        attn, present = self.self_attention(ln, alibi, masked, past)
        h = (ln if self.post_ln_residual else h) + attn
        ln = self.post_attention_layernorm(h)
        h = (ln if self.post_ln_residual else h) + self.mlp(ln)
        return h, present


class BloomForCausalLM(nn.Module):
    def __init__(self, cfg: BloomConfig, device=None):
        """device="meta" builds the module without allocating parameters (they are then
        replaced one by one from a checkpoint by load_hf_state)."""
        super().__init__()
        self.config = cfg
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, device=device)
        self.word_embeddings_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_epsilon, device=device)
        self.h = nn.ModuleList([BloomBlock(cfg, device) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_epsilon, device=device)
        self.lm_head_weight = None  # only set for an untied checkpoint
        self.register_buffer("slopes", alibi_slopes(cfg.n_head), persistent=False)

    # ---- loading -----------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, model_dir: str, dtype: torch.dtype = torch.float32) -> "BloomForCausalLM":
        cfg = BloomConfig.from_file(os.path.join(model_dir, "config.json"))
        tensors = load_safetensors(os.path.join(model_dir, "model.safetensors"), dtype=dtype)
        model = cls(cfg, device="meta")
        model.load_hf_state(tensors)
        del tensors
        model.eval()
        return model

    def load_hf_state(self, tensors: dict[str, torch.Tensor]) -> None:
        state: dict[str, torch.Tensor] = {}
        lm_head = None
        for name, t in tensors.items():
            if name.startswith("transformer."):
                name = name[len("transformer."):]
            if name == "lm_head.weight":
                lm_head = t
                continue
            state[name] = t
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"checkpoint mismatch: missing={missing[:8]} unexpected={unexpected[:8]}")
        for name, p in own.items():
            t = state[name]
            if tuple(t.shape) != tuple(p.shape):
                raise ValueError(f"{name}: shape {tuple(t.shape)} != expected {tuple(p.shape)}")
            _set_param(self, name, t)
        if not self.config.tie_word_embeddings and lm_head is not None:
            self.lm_head_weight = nn.Parameter(lm_head)

    # ---- forward -----------------------------------------------------------------------

    def forward(self, input_ids, attention_mask=None, past: KVCache | None = None,
                output_hidden_states: bool = False, last_logits_only: bool = False, inputs_embeds=None):
        """Returns (logits [B, T, V], presents, hidden_states or None).

        attention_mask covers past + current tokens ([B, T_past + T]); defaults to all ones.
        inputs_embeds ([B, T, H], instead of input_ids, which may then be None) replaces the word
        embedding lookup, as in Hugging Face (peft's prompt tuning prepends its soft prompt there).
        """
        b, t = (input_ids if inputs_embeds is None else inputs_embeds).shape[:2]
        past_len = 0 if past is None else past[0][0].shape[2]
        if attention_mask is None:
            attention_mask = torch.ones(b, past_len + t, dtype=torch.long)
        alibi = build_alibi(attention_mask, self.slopes)  # [B, nh, 1, T_k]
        masked = build_masked(attention_mask, t)  # [B, 1, T, T_k]

        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        h = self.word_embeddings_layernorm(inputs_embeds)
        hidden = [h] if output_hidden_states else None
        presents = []
        for i, block in enumerate(self.h):
            h, present = block(h, alibi, masked, None if past is None else past[i])
            presents.append(present)
            if output_hidden_states:
                hidden.append(h)
        h = self.ln_f(h)
        if output_hidden_states:
            hidden[-1] = h  # as Hugging Face does: the last entry is the ln_f output
        if last_logits_only:
            h = h[:, -1:]
        w = self.word_embeddings.weight if self.lm_head_weight is None else self.lm_head_weight
        logits = F.linear(h, w)
        return logits, presents, hidden

    # ---- greedy decoding ---------------------------------------------------------------

    @torch.no_grad()
    def generate_greedy(self, input_ids, attention_mask=None, max_new_tokens: int = 16,
                        stop_at_eos: bool = True, return_step_logits: bool = False):
        """Greedy decoding with the KV cache, like HF `generate(do_sample=False)`.

        Finished rows (eos emitted) continue with pad_token_id. Returns (new_tokens [B, n], step_logits).
        """
        cfg = self.config
        b, _ = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        unfinished = torch.ones(b, dtype=torch.bool)
        new_tokens, step_logits = [], []
        logits, past, _ = self(input_ids, attention_mask)
        for step in range(max_new_tokens):
            last = logits[:, -1, :].float()
            if return_step_logits:
                step_logits.append(last)
            nxt = last.argmax(dim=-1)
            if stop_at_eos and cfg.eos_token_id is not None and cfg.pad_token_id is not None:
                nxt = torch.where(unfinished, nxt, torch.full_like(nxt, cfg.pad_token_id))
                unfinished &= nxt != cfg.eos_token_id
            new_tokens.append(nxt)
            if step + 1 == max_new_tokens or (stop_at_eos and not bool(unfinished.any())):
                break
            attention_mask = torch.cat([attention_mask, torch.ones(b, 1, dtype=attention_mask.dtype)], dim=1)
            logits, past, _ = self(nxt[:, None], attention_mask, past)
        return torch.stack(new_tokens, dim=1), step_logits


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _set_param(module: nn.Module, dotted: str, value: torch.Tensor) -> None:
    *path, leaf = dotted.split(".")
    for p in path:
        module = getattr(module, p)
    setattr(module, leaf, nn.Parameter(value.contiguous()))


def load_model(model_dir: str, dtype: torch.dtype = torch.float32) -> BloomForCausalLM:
    return BloomForCausalLM.from_pretrained(model_dir, dtype=dtype)

#!/usr/bin/env python3
"""Peer training benchmark: plain PyTorch BLOOM (bloom_torch.py) fine-tuning an adapter on the CPU.

  /usr/bin/python3 bench/peer/train_peer.py --model DIR --method lora|prompt --mode fp32|bf16 --threads 2 --json

`transformers` and `peft` are not installed, so the adapters are written out here the way peft 0.7
builds them, on a frozen base (every base parameter has requires_grad False):
  * lora:   r=8, lora_alpha=16 (scaling 2) on every query_key_value. lora_A [r, in] kaiming-uniform
            (a=sqrt(5)), lora_B [out, r] zeros; y = base(x) + lora_B(lora_A(x.to(A.dtype))) * scaling.
  * prompt: 20 virtual tokens, a soft prompt [20, hidden] drawn N(0, 1) (nn.Embedding's default),
            prepended to inputs_embeds (cast to their dtype), the mask extended with ones and the
            labels prefixed with -100, as peft's PeftModelForCausalLM does.
The trained tensors stay float32 in every mode (master copies; tuneloop does the same).

One step, as a Hugging Face training loop runs it: forward of batch 4 x 128 random ids (no padding)
with labels = ids, logits at every position, Hugging Face's shifted cross-entropy (mean over all
predicted tokens), backward, torch.optim.AdamW(lr 1e-3, weight decay 0.01) step, zero_grad.
One warm-up step, then N timed steps (N = clamp(budget / warm-up time, min, max));
tokens_per_s = 512 / median step seconds (the 512 real tokens; virtual tokens are not counted).

fp32: plain float32 (the caller sets OPENBLAS_CORETYPE, e.g. SkylakeX, in the environment).
bf16: torch.autocast("cpu", dtype=torch.bfloat16) around forward + loss (backward runs outside, as
      torch recommends). Two settings, each in its own subprocess (own peak RSS):
        "autocast_fp32_weights"  frozen weights kept float32 (what a typical user does)
        "autocast_bf16_weights"  frozen weights converted to bfloat16 at load + autocast
      The top-level numbers come from the faster setting (`best_setting`); `settings` holds both.

Prints one JSON object on stdout with --json (progress goes to stderr).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep bench/peer free of __pycache__
sys.path.insert(0, HERE)
from run_peer import BF16_SETTINGS, environment_info, median, rss_mb, run_bf16_settings, torch_setting  # noqa: E402


def log(*a):
    print("[train-peer]", *a, file=sys.stderr, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="HF BLOOM directory (config.json + model.safetensors)")
    p.add_argument("--method", choices=("lora", "prompt"), required=True)
    p.add_argument("--mode", choices=("fp32", "bf16"), required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--bf16-setting", choices=("best",) + BF16_SETTINGS, default="best",
                   help="bf16 only: one setting, or 'best' = measure both (subprocesses) and pick")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=float, default=16.0)
    p.add_argument("--virtual-tokens", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--budget-s", type=float, default=60.0, help="target total time of the timed steps")
    p.add_argument("--min-steps", type=int, default=3)
    p.add_argument("--max-steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def run_one(args, setting: str) -> dict:
    # Thread env must be set before torch (and its BLAS/OpenMP) is loaded.
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from bloom_torch import BloomForCausalLM

    torch.manual_seed(args.seed)
    amp, weight_dtype = torch_setting(torch, setting, args.threads, f"method={args.method}")

    t0 = time.perf_counter()
    model = BloomForCausalLM.from_pretrained(args.model, dtype=weight_dtype)
    load_s = time.perf_counter() - t0
    rss_after_load = rss_mb()
    for p in model.parameters():
        p.requires_grad_(False)
    cfg = model.config

    # ---------------- the adapter ----------------
    class LoraLinear(nn.Module):
        """peft's lora.Linear (dropout 0: identity), around a frozen nn.Linear."""

        def __init__(self, base: nn.Linear, r: int, alpha: float):
            super().__init__()
            self.base_layer = base
            self.lora_A = nn.Linear(base.in_features, r, bias=False)
            self.lora_B = nn.Linear(r, base.out_features, bias=False)
            nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
            nn.init.zeros_(self.lora_B.weight)
            self.scaling = alpha / r

        def forward(self, x):
            result = self.base_layer(x)
            x = x.to(self.lora_A.weight.dtype)
            return result + self.lora_B(self.lora_A(x)) * self.scaling

    B, T = args.batch, args.seq
    g = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(0, cfg.vocab_size, (B, T), generator=g)
    labels = ids.clone()
    mask = torch.ones(B, T, dtype=torch.long)

    if args.method == "lora":
        for block in model.h:
            block.self_attention.query_key_value = LoraLinear(block.self_attention.query_key_value, args.lora_r, args.lora_alpha)
        trainable = [p for n, p in model.named_parameters() if "lora_" in n]
        soft_prompt = None
    else:
        soft_prompt = nn.Embedding(args.virtual_tokens, cfg.hidden_size)  # N(0, 1), peft's RANDOM init
        trainable = list(soft_prompt.parameters())
    n_trainable = sum(p.numel() for p in trainable)
    log(f"loaded in {load_s:.1f}s (peak RSS {rss_after_load:.0f} MiB); {n_trainable} trainable parameters")
    optimizer = torch.optim.AdamW(trainable, lr=args.lr)
    prompt_ids = torch.arange(args.virtual_tokens).unsqueeze(0).expand(B, -1)

    def step() -> float:
        with amp():
            if soft_prompt is None:
                logits, _, _ = model(ids, mask)
                lab = labels
            else:  # peft's PeftModelForCausalLM.forward for prompt tuning
                embeds = model.word_embeddings(ids)
                prompts = soft_prompt(prompt_ids).to(embeds.dtype)
                embeds = torch.cat((prompts, embeds), dim=1)
                full_mask = torch.cat((torch.ones(B, args.virtual_tokens, dtype=mask.dtype), mask), dim=1)
                lab = torch.cat((torch.full((B, args.virtual_tokens), -100, dtype=labels.dtype), labels), dim=1)
                logits, _, _ = model(None, full_mask, inputs_embeds=embeds)
            # Hugging Face's BloomForCausalLM loss
            shift_logits = logits[..., :-1, :].contiguous()
            shift_labels = lab[..., 1:].contiguous()
            loss = F.cross_entropy(shift_logits.view(-1, cfg.vocab_size), shift_labels.view(-1), ignore_index=-100)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss)

    model.train()
    t = time.perf_counter()
    first_loss = step()  # warm-up
    warm = time.perf_counter() - t
    n = max(args.min_steps, min(args.max_steps, int(args.budget_s / max(warm, 1e-6))))
    log(f"warm-up step {warm:.2f}s (loss {first_loss:.4f}); {n} timed steps")
    times, losses = [], []
    c0 = time.process_time()
    for i in range(n):
        t = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t)
        log(f"  step {i + 1}/{n}: {times[-1]:.3f}s ({B * T / times[-1]:.1f} tok/s, loss {losses[-1]:.4f})")
    cpu_share = (time.process_time() - c0) / sum(times)
    med = median(times)
    return {
        "method": args.method,
        "setting": setting,
        "weights_dtype": str(weight_dtype).replace("torch.", ""),
        "autocast": "bfloat16" if setting != "fp32" else None,
        "batch": B, "seq": T, "tokens": B * T,
        "virtual_tokens": args.virtual_tokens if args.method == "prompt" else 0,
        "lora": {"r": args.lora_r, "alpha": args.lora_alpha, "target_modules": ["query_key_value"]} if args.method == "lora" else None,
        "trainable_parameters": n_trainable,
        "load_s": round(load_s, 3),
        "steps": n,
        "step_seconds_median": round(med, 4), "step_seconds_min": round(min(times), 4), "step_seconds_max": round(max(times), 4),
        "tokens_per_s": round(B * T / med, 2),
        "warmup_s": round(warm, 3),
        "first_loss": round(first_loss, 4), "last_loss": round(losses[-1], 4),
        "cpu_cores_used": round(cpu_share, 2),
        "peak_rss_after_load_mb": round(rss_after_load, 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "env": environment_info(args.threads),
    }


def main():
    args = parse_args()
    t_start = time.perf_counter()
    head = {"mode": args.mode, "model": os.path.abspath(args.model)}
    if args.mode == "fp32":
        out = {**head, **run_one(args, "fp32")}
    elif args.bf16_setting != "best":
        out = {**head, **run_one(args, args.bf16_setting)}
    else:
        results = run_bf16_settings(__file__)
        ok = {k: v for k, v in results.items() if "error" not in v}
        if not ok:
            raise SystemExit("all bf16 settings failed")
        top = max(ok, key=lambda k: ok[k]["tokens_per_s"])
        out = {**head, **{k: v for k, v in ok[top].items() if k not in ("mode", "model")}}
        out["best_setting"] = top
        out["settings"] = {k: {kk: vv for kk, vv in v.items() if kk not in ("mode", "model", "env")}
                           for k, v in results.items()}
    out["wall_s"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

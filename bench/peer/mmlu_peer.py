#!/usr/bin/env python3
"""Peer benchmark: MMLU items per second with plain PyTorch BLOOM (bloom_torch.py), scored the way
Hugging Face-based harnesses score them.

  /usr/bin/python3 bench/peer/mmlu_peer.py --model DIR --items bench/out/mmlu-items.json --mode fp32|bf16 --threads 2 --json

The items file (written by `node dist/bench/worker.js mmlu-items FILE`, see bench/mmlu-items.ts) holds
each item's four loglikelihood requests as token ids, so this script scores exactly what tuneloop
scores. Per request, as lm-evaluation-harness's HFLM `_loglikelihood_tokens`: the input is
(context + continuation)[-(max_length + 1):][:-1]; requests with the same input run once (lm-eval's
logits cache for one-token continuations, which MMLU's " A".." D" are), one row per forward (lm-eval's
default batch size 1, so no padding); the model returns logits at every position (the tied lm_head over
the whole row, as BloomForCausalLM does) and log_softmax runs over all of them; the continuation's
log-probabilities are gathered from its last positions. Each item's answer is the choice with the
highest log-likelihood.

Timing: one warm-up item, then every item once; items_per_s = items / seconds. torch.inference_mode(),
torch.set_num_threads(threads).

fp32: plain float32 (the caller sets OPENBLAS_CORETYPE, e.g. SkylakeX). bf16: torch.autocast("cpu",
bfloat16) around each forward, in the two settings of run_peer.py (weights kept fp32 / converted to
bf16), each in its own subprocess so its peak RSS is its own; the top level is the faster one.

Prints one JSON object on stdout with --json (progress goes to stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep bench/peer free of __pycache__
sys.path.insert(0, HERE)
from run_peer import BF16_SETTINGS, environment_info, log, rss_mb, run_bf16_settings, torch_setting  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="HF BLOOM directory (config.json + model.safetensors)")
    p.add_argument("--items", required=True, help="the items file written by `worker.js mmlu-items`")
    p.add_argument("--mode", choices=("fp32", "bf16"), required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--bf16-setting", choices=("best",) + BF16_SETTINGS, default="best",
                   help="bf16 only: one setting, or 'best' = measure both (subprocesses) and pick")
    return p.parse_args(argv)


def run_one(args, setting: str) -> dict:
    # Thread env must be set before torch (and its BLAS/OpenMP) is loaded.
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import torch
    import torch.nn.functional as F

    from bloom_torch import BloomForCausalLM

    with open(args.items) as f:
        spec = json.load(f)
    if spec.get("format") != "tuneloop-bench-mmlu-items":
        raise SystemExit(f"{args.items}: not a tuneloop-bench-mmlu-items file")
    if not isinstance(spec.get("max_length"), int):
        raise SystemExit(f"{args.items}: max_length is missing (an items file of an older tuneloop?); write it again with node dist/bench/worker.js mmlu-items")
    items, max_length = spec["items"], spec["max_length"]

    amp, weight_dtype = torch_setting(torch, setting, args.threads, f"mmlu items={len(items)}")
    t0 = time.perf_counter()
    model = BloomForCausalLM.from_pretrained(args.model, dtype=weight_dtype)
    load_s = time.perf_counter() - t0
    rss_after_load = rss_mb()

    def score_item(item) -> list[float]:
        """Log-likelihood of each choice; one forward per distinct input row."""
        laid_out = []
        for r in item["requests"]:
            whole = (r["context"] + r["continuation"])[-(max_length + 1):]
            laid_out.append((whole[:-1], whole[len(whole) - min(len(r["continuation"]), len(whole) - 1):]))
        log_probs = {}
        for inp, _ in laid_out:
            key = tuple(inp)
            if key in log_probs:
                continue
            with amp():
                logits, _, _ = model(torch.tensor([inp]))
            log_probs[key] = F.log_softmax(logits.float(), dim=-1)[0]  # [T, vocab]: every position
        lls = []
        for inp, targets in laid_out:
            rows = log_probs[tuple(inp)][len(inp) - len(targets):]
            lls.append(float(rows.gather(-1, torch.tensor(targets)[:, None]).sum()))
        return lls

    res: dict = {
        "setting": setting,
        "weights_dtype": str(weight_dtype).replace("torch.", ""),
        "autocast": "bfloat16" if setting != "fp32" else None,
        "load_s": round(load_s, 3),
        "peak_rss_after_load_mb": round(rss_after_load, 1),
    }
    with torch.inference_mode():
        t = time.perf_counter()
        score_item(items[0])  # warm-up
        log(f"warm-up item {time.perf_counter() - t:.2f}s")
        c0, w0 = time.process_time(), time.perf_counter()
        loglikelihoods = []
        for i, item in enumerate(items):
            t = time.perf_counter()
            loglikelihoods.append(score_item(item))
            log(f"  item {i + 1}/{len(items)} ({item['task']}): {time.perf_counter() - t:.2f}s")
        seconds = time.perf_counter() - w0
        cpu_share = (time.process_time() - c0) / seconds
    answers = [lls.index(max(lls)) for lls in loglikelihoods]
    res.update({
        "items": len(items),
        "seconds": round(seconds, 3),
        "items_per_s": round(len(items) / seconds, 4),
        "accuracy": sum(a == item["gold"] for a, item in zip(answers, items)) / len(items),
        "answers": answers,
        "loglikelihoods": loglikelihoods,
        "cpu_cores_used": round(cpu_share, 2),
        "peak_rss_mb": round(rss_mb(), 1),
    })
    res["env"] = environment_info(args.threads)
    return res


def main():
    args = parse_args()
    started = time.perf_counter()
    if args.mode == "fp32":
        out = {"mode": "fp32", **run_one(args, "fp32")}
    elif args.bf16_setting != "best":
        out = {"mode": "bf16", **run_one(args, args.bf16_setting)}
    else:
        results = {k: v for k, v in run_bf16_settings(__file__).items() if "error" not in v}
        if not results:
            raise SystemExit("all bf16 settings failed")
        best = max(results, key=lambda k: results[k]["items_per_s"])
        out = {**results[best], "mode": "bf16", "best_setting": best,
               "settings": {k: {kk: vv for kk, vv in v.items() if kk not in ("mode", "env", "loglikelihoods")} for k, v in results.items()}}
    out["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

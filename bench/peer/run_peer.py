#!/usr/bin/env python3
"""Peer benchmark: plain PyTorch BLOOM (bloom_torch.py) on CPU.

  /usr/bin/python3 bench/peer/run_peer.py --model DIR --mode fp32|bf16 --threads 2 --json

Measures, after a warm-up, with torch.set_num_threads(threads) and torch.inference_mode():
  * scoring: batch 8 x 128 random token ids, full forward with logits at every position
    (tied lm_head, as Hugging Face does) + log_softmax gather of the next tokens;
    tokens/s = 1024 / median seconds over N runs (N sized to ~30 s).
  * greedy decoding: batch 1, 32-token prompt, 64 new tokens with the KV cache. The prefill
    (prompt forward, produces new token 1) is timed separately; the decode is the 63
    single-token cached steps that produce tokens 2..64. decode_tokens_per_s = 63 / decode s.
    generate_tokens_per_s = 64 / (prefill + decode) s.
  * peak RSS (ru_maxrss) right after loading the model in this mode, and at the end.
  * cpu_cores_used: process CPU seconds / wall seconds of the timed runs. Well below `threads`
    means other processes were competing for the cores (the numbers are then pessimistic).

fp32: plain float32 (the caller sets OPENBLAS_CORETYPE, e.g. SkylakeX, in the environment).
bf16: torch.autocast("cpu", dtype=torch.bfloat16) around each forward / the whole generation.
      Two settings are measured, each in its own subprocess so peak RSS is its own:
        "autocast_fp32_weights"  weights kept float32 (what a typical user does)
        "autocast_bf16_weights"  weights converted to bfloat16 at load + autocast
      The top-level numbers are from the setting with the best scoring throughput;
      `best_per_metric` says which setting was best for each metric; `settings` holds both.

Prints one JSON object on stdout with --json (progress goes to stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep bench/peer free of __pycache__
BF16_SETTINGS = ("autocast_fp32_weights", "autocast_bf16_weights")


def log(*a):
    print("[peer]", *a, file=sys.stderr, flush=True)


def torch_setting(torch, setting: str, threads: int, header: str):
    """Applies a precision setting (fp32, or one of BF16_SETTINGS) and the thread count; logs them.
    Returns (amp, weight_dtype): amp() is the autocast context the setting runs under."""
    import contextlib

    torch.set_num_threads(threads)
    use_autocast = setting != "fp32"
    weight_dtype = torch.bfloat16 if setting == "autocast_bf16_weights" else torch.float32

    def amp():
        return torch.autocast("cpu", dtype=torch.bfloat16) if use_autocast else contextlib.nullcontext()

    log(f"{header} setting={setting} threads={threads} torch={torch.__version__} "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    if setting == "fp32" and "OPENBLAS_CORETYPE" not in os.environ:
        log("warning: OPENBLAS_CORETYPE is not set; Debian's OpenBLAS may fall back to slow generic kernels")
    return amp, weight_dtype


def run_bf16_settings(script: str) -> dict:
    """Runs `script` (with this process's arguments) once per bf16 setting, each in a fresh process so
    that its peak RSS is its own. Returns setting -> its JSON result, or {"error": ...} when it failed."""
    results = {}
    for setting in BF16_SETTINGS:
        cmd = [sys.executable, os.path.abspath(script), *sys.argv[1:], "--bf16-setting", setting]
        if "--json" not in cmd:
            cmd.append("--json")
        log(f"--- subprocess: {setting}")
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            log(f"setting {setting} failed (rc {proc.returncode})")
            results[setting] = {"setting": setting, "error": f"rc {proc.returncode}"}
            continue
        results[setting] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="HF BLOOM directory (config.json + model.safetensors)")
    p.add_argument("--mode", choices=("fp32", "bf16"), required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--bf16-setting", choices=("best",) + BF16_SETTINGS, default="best",
                   help="bf16 only: one setting, or 'best' = measure both (subprocesses) and pick")
    p.add_argument("--score-batch", type=int, default=8)
    p.add_argument("--score-seq", type=int, default=128)
    p.add_argument("--score-budget-s", type=float, default=30.0, help="target total time of the timed scoring runs")
    p.add_argument("--min-runs", type=int, default=3)
    p.add_argument("--max-runs", type=int, default=15)
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--decode-budget-s", type=float, default=40.0,
                   help="repeat the timed generation (max 3 runs) while the total stays under this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-decode", action="store_true")
    p.add_argument("--skip-score", action="store_true")
    return p.parse_args(argv)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# --------------------------------------------------------------------------------------
# one setting, in this process
# --------------------------------------------------------------------------------------


def run_one(args, setting: str) -> dict:
    # Thread env must be set before torch (and its BLAS/OpenMP) is loaded.
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import torch

    sys.path.insert(0, HERE)
    from bloom_torch import BloomForCausalLM

    amp, weight_dtype = torch_setting(torch, setting, args.threads, "inference")

    t0 = time.perf_counter()
    model = BloomForCausalLM.from_pretrained(args.model, dtype=weight_dtype)
    load_s = time.perf_counter() - t0
    rss_after_load = rss_mb()
    cfg = model.config
    n_params = sum(p.numel() for p in model.parameters())
    log(f"loaded {n_params / 1e6:.1f}M params in {load_s:.1f}s, peak RSS {rss_after_load:.0f} MiB")

    g = torch.Generator().manual_seed(args.seed)
    res: dict = {
        "setting": setting,
        "weights_dtype": str(weight_dtype).replace("torch.", ""),
        "autocast": "bfloat16" if setting != "fp32" else None,
        "load_s": round(load_s, 3),
        "peak_rss_after_load_mb": round(rss_after_load, 1),
        "n_params": n_params,
    }

    with torch.inference_mode():
        # ---------------- scoring ----------------
        if not args.skip_score:
            B, T = args.score_batch, args.score_seq
            ids = torch.randint(0, cfg.vocab_size, (B, T), generator=g)
            mask = torch.ones(B, T, dtype=torch.long)

            def score():
                with amp():
                    logits, _, _ = model(ids, mask)
                logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
                nll = -logp.gather(-1, ids[:, 1:, None]).squeeze(-1)
                return float(nll.mean())

            t = time.perf_counter()
            loss = score()  # warm-up
            warm = time.perf_counter() - t
            n = max(args.min_runs, min(args.max_runs, int(args.score_budget_s / max(warm, 1e-6))))
            log(f"scoring warm-up {warm:.2f}s (loss {loss:.3f}); {n} timed runs")
            times = []
            c0 = time.process_time()
            for i in range(n):
                t = time.perf_counter()
                score()
                times.append(time.perf_counter() - t)
                log(f"  scoring run {i + 1}/{n}: {times[-1]:.3f}s ({B * T / times[-1]:.1f} tok/s)")
            cpu_share = (time.process_time() - c0) / sum(times)
            med = median(times)
            res["scoring"] = {
                "batch": B, "seq": T, "tokens": B * T, "runs": n,
                "median_s": round(med, 4), "min_s": round(min(times), 4), "max_s": round(max(times), 4),
                "tokens_per_s": round(B * T / med, 2),
                "warmup_s": round(warm, 3), "mean_nll": round(loss, 4),
                "cpu_cores_used": round(cpu_share, 2),
            }

        # ---------------- greedy decoding ----------------
        if not args.skip_decode:
            P, N = args.prompt_len, args.new_tokens
            prompt = torch.randint(0, cfg.vocab_size, (1, P), generator=g)

            def generate(n_new):
                """Returns (prefill_s, decode_s, tokens). Autocast wraps the whole generation."""
                mask = torch.ones(1, P, dtype=torch.long)
                toks = []
                with amp():
                    t0 = time.perf_counter()
                    logits, past, _ = model(prompt, mask)  # all-position logits, as HF generate does
                    nxt = logits[:, -1].float().argmax(-1)
                    toks.append(int(nxt))
                    t1 = time.perf_counter()
                    for _ in range(n_new - 1):
                        mask = torch.cat([mask, torch.ones(1, 1, dtype=torch.long)], dim=1)
                        logits, past, _ = model(nxt[:, None], mask, past)
                        nxt = logits[:, -1].float().argmax(-1)
                        toks.append(int(nxt))
                    t2 = time.perf_counter()
                return t1 - t0, t2 - t1, toks

            t = time.perf_counter()
            generate(min(8, N))  # warm-up (prefill + a few cached steps)
            log(f"decode warm-up {time.perf_counter() - t:.2f}s")
            runs = []
            c0, w0 = time.process_time(), time.perf_counter()
            while True:
                pre, dec, toks = generate(N)
                runs.append((pre, dec))
                log(f"  generation run {len(runs)}: prefill {pre:.3f}s, {N - 1} decode steps {dec:.3f}s "
                    f"({(N - 1) / dec:.2f} tok/s)")
                spent = sum(a + b for a, b in runs)
                if len(runs) >= 3 or spent + (pre + dec) > args.decode_budget_s:
                    break
            cpu_share = (time.process_time() - c0) / (time.perf_counter() - w0)
            pre_med = median([r[0] for r in runs])
            dec_med = median([r[1] for r in runs])
            res["decode"] = {
                "batch": 1, "prompt_len": P, "new_tokens": N, "decode_steps": N - 1, "runs": len(runs),
                "prefill_s": round(pre_med, 4),
                "prefill_tokens_per_s": round(P / pre_med, 2),
                "decode_s": round(dec_med, 4),
                "decode_tokens_per_s": round((N - 1) / dec_med, 3),
                "decode_ms_per_token": round(1000 * dec_med / (N - 1), 2),
                "generate_tokens_per_s": round(N / (pre_med + dec_med), 3),
                "first_tokens": toks[:8],
                "cpu_cores_used": round(cpu_share, 2),
            }

    res["peak_rss_end_mb"] = round(rss_mb(), 1)
    res["env"] = environment_info(args.threads)
    return res


def blas_info() -> dict:
    """Which BLAS library this process really loaded (Debian's libblas.so.3 may be the slow
    reference BLAS or OpenBLAS, depending on which package provides the alternative)."""
    import ctypes

    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "blas" in os.path.basename(path).lower():
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    info = {"blas_libraries": sorted(libs)}
    for lib in sorted(libs):
        try:
            fn = ctypes.CDLL(lib).openblas_get_corename
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_char_p
        info["openblas_core"] = fn().decode()
        break
    if libs and "openblas_core" not in info:
        info["warning"] = "BLAS is not OpenBLAS (reference BLAS?): fp32 matmuls will be very slow"
    return info


def _loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def environment_info(threads: int) -> dict:
    import platform

    import torch

    info = {
        "impl": "bench/peer/bloom_torch.py (plain PyTorch, no transformers)",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": threads,
        "torch_num_threads": torch.get_num_threads(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "loadavg_at_end": _loadavg(),
    }
    info.update(blas_info())
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = line.split()
                    info["cpu_flags"] = [x for x in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if x in flags]
                    break
    except OSError:
        pass
    return info


def main():
    args = parse_args()
    t_start = time.perf_counter()
    if args.mode == "fp32":
        out = {"mode": "fp32", "model": os.path.abspath(args.model)}
        out.update(run_one(args, "fp32"))
    elif args.bf16_setting != "best":
        out = {"mode": "bf16", "model": os.path.abspath(args.model)}
        out.update(run_one(args, args.bf16_setting))
    else:
        results = run_bf16_settings(__file__)
        ok = {k: v for k, v in results.items() if "error" not in v}
        if not ok:
            raise SystemExit("all bf16 settings failed")

        def best_by(key_fn):
            cands = [(key_fn(v), k) for k, v in ok.items() if key_fn(v) is not None]
            return max(cands)[1] if cands else None

        def get(path):
            def f(v):
                for p in path:
                    v = v.get(p) if isinstance(v, dict) else None
                return v
            return f

        best_score = best_by(get(["scoring", "tokens_per_s"]))
        best_decode = best_by(get(["decode", "decode_tokens_per_s"]))
        best_rss = best_by(lambda v: -v["peak_rss_after_load_mb"])
        top = best_score or best_decode or next(iter(ok))
        out = {"mode": "bf16", "model": os.path.abspath(args.model)}
        out.update({k: v for k, v in ok[top].items() if k not in ("mode", "model", "env")})
        out["best_setting"] = top
        out["best_per_metric"] = {"scoring_tokens_per_s": best_score, "decode_tokens_per_s": best_decode,
                                  "peak_rss_after_load_mb": best_rss}
        if best_decode and best_decode != top:
            out["best_decode"] = ok[best_decode]["decode"]
        out["settings"] = {k: {kk: vv for kk, vv in v.items() if kk not in ("mode", "model", "env")}
                           for k, v in results.items()}
        out["env"] = ok[top].get("env")
    out["wall_s"] = round(time.perf_counter() - t_start, 1)

    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

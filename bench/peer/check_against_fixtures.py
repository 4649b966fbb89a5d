#!/usr/bin/env python3
"""Check bloom_torch.py against Hugging Face transformers reference outputs.

Usage: /usr/bin/python3 bench/peer/check_against_fixtures.py [FIXTURES_DIR]
(default: the project's copy in test/fixtures/hf-bloom-reference, or $HF_BLOOM_REFERENCE).

Required checks (ckpt_a/ref_a): logits within 1e-4 and greedy gen1_new_tokens identical.
Extra checks (same tolerance): ALiBi slopes, hidden states, layer-0 KV cache, padded row vs
unpadded run, gen1/genbatch step logits and tokens, and all of it again on ckpt_b (6 heads,
non-power-of-two ALiBi). Prints every max |diff|; exits 1 on any mismatch.
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # keep bench/peer free of __pycache__
from bloom_torch import BloomForCausalLM, alibi_slopes, build_alibi  # noqa: E402

TOL = 1e-4
DEFAULT_DIR = os.environ.get(
    "HF_BLOOM_REFERENCE",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "hf-bloom-reference"),
)


def load_ref(ref_dir):
    manifest = json.load(open(os.path.join(ref_dir, "manifest.json")))

    def arr(name):
        a = manifest["arrays"][name]
        dt = {"float32": "<f4", "int32": "<i4", "int64": "<i8"}[a["dtype"]]
        return np.fromfile(os.path.join(ref_dir, a["file"]), dtype=dt).reshape(a["shape"])

    return arr


class Checker:
    def __init__(self):
        self.failures = []

    def close(self, label, got, want, tol=TOL):
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        if got.shape != want.shape:
            print(f"  FAIL {label}: shape {got.shape} != {want.shape}")
            self.failures.append(label)
            return
        d = float(np.abs(got - want).max()) if got.size else 0.0
        ok = d <= tol
        print(f"  {'ok  ' if ok else 'FAIL'} {label}: max|diff| = {d:.3e} (tol {tol:g})")
        if not ok:
            self.failures.append(label)

    def equal(self, label, got, want):
        got, want = np.asarray(got), np.asarray(want)
        ok = got.shape == want.shape and bool((got == want).all())
        print(f"  {'ok  ' if ok else 'FAIL'} {label}: {got.reshape(-1).tolist()} vs reference {want.reshape(-1).tolist()}")
        if not ok:
            self.failures.append(label)


def check_pair(root, ckpt, ref, c: Checker, required: bool):
    print(f"== {ckpt} / {ref}{' (required)' if required else ' (extra)'}")
    model = BloomForCausalLM.from_pretrained(os.path.join(root, ckpt))
    cfg = model.config
    arr = load_ref(os.path.join(root, ref))
    ids = torch.from_numpy(arr("input_ids").astype(np.int64))
    mask = torch.from_numpy(arr("attention_mask").astype(np.int64))

    with torch.inference_mode():
        logits, presents, hidden = model(ids, mask, output_hidden_states=True)
        c.close(f"{ckpt} logits [3,12,V]", logits.numpy(), arr("logits"))
        gen1, steps1 = model.generate_greedy(ids[0:1], mask[0:1], max_new_tokens=10, return_step_logits=True)
        c.equal(f"{ckpt} gen1_new_tokens", gen1.numpy(), arr("gen1_new_tokens"))
        c.close(f"{ckpt} alibi_slopes", alibi_slopes(cfg.n_head).numpy(), arr("alibi_slopes"), tol=0)
        nh = cfg.n_head
        c.close(f"{ckpt} alibi", build_alibi(mask, model.slopes).reshape(3 * nh, 1, -1).numpy(), arr("alibi"))
        c.close(f"{ckpt} hidden_states", torch.stack(hidden).numpy(), arr("hidden_states"))
        k0, v0 = presents[0]  # [B, nh, T, hd]
        c.close(f"{ckpt} present_key_layer0", k0.transpose(-1, -2).reshape(3 * nh, cfg.head_dim, -1).numpy(),
                arr("present_key_layer0"))
        c.close(f"{ckpt} present_value_layer0", v0.reshape(3 * nh, -1, cfg.head_dim).numpy(), arr("present_value_layer0"))
        npad = int((mask[2] == 0).sum())
        l2, _, _ = model(ids[2:3, npad:])
        c.close(f"{ckpt} logits_row2_unpadded", l2.numpy(), arr("logits_row2_unpadded"))
        c.close(f"{ckpt} gen1_step_logits", torch.stack(steps1).numpy(), arr("gen1_step_logits"))
        genb, stepsb = model.generate_greedy(ids, mask, max_new_tokens=10, return_step_logits=True)
        c.equal(f"{ckpt} genbatch_new_tokens", genb.numpy(), arr("genbatch_new_tokens"))
        c.close(f"{ckpt} genbatch_step_logits", torch.stack(stepsb).numpy(), arr("genbatch_step_logits"))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DIR
    torch.manual_seed(0)
    c = Checker()
    check_pair(root, "ckpt_a", "ref_a", c, required=True)
    if os.path.isdir(os.path.join(root, "ckpt_b")):
        check_pair(root, "ckpt_b", "ref_b", c, required=False)
    if c.failures:
        print(f"MISMATCH: {len(c.failures)} check(s) failed: {', '.join(c.failures)}")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()

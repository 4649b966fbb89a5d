"""Reference values for DoRA (peft's `use_dora=True` LoRA) on the tiny BLOOM fixtures, computed by peft itself.

peft 0.7.1 (the project's main reference venv) predates DoRA, and peft >= 0.14 needs a newer transformers
than 4.35.2, so this runs in a second venv with peft 0.13.2 (huggingface_hub 0.25.2, accelerate 0.25.0,
transformers 4.35.2, Debian torch 1.13.1, the pure-Python safetensors stand-in):
    /usr/bin/python3 -m venv --system-site-packages /work/refenv/venv-dora
    pip install --no-deps --no-index --no-build-isolation <huggingface_hub v0.25.2> <accelerate v0.25.0> \
        <transformers v4.35.2> <peft v0.13.2> /work/shared/tools/python-refenv/safetensors_purepy
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 /work/refenv/venv-dora/bin/python scripts/reference/dora_reference.py

DoRA's arithmetic is the same from peft 0.9 to 0.17: magnitude m initialised to the row norms of W + s·B·A,
output = base(x) + (m/‖W + s·B·A‖_row − 1)·(x·Wᵀ) + (m/‖…‖)·s·B·A·x with the norm detached; merging is
W' = m/‖W + s·B·A‖_row · (W + s·B·A). 0.14+ reuses the base result (minus bias) instead of recomputing x·Wᵀ
when dropout is off, which is equal up to rounding. Saved name: `<module>.lora_magnitude_vector` in every version.

Outputs per checkpoint, in test/fixtures/peft/dora/ref_<a|b>/ (manifest.json lists them):
- dora_adapter/: the adapter as save_pretrained wrote it (A, B and m randomised after peft's init),
- init_magnitude.safetensors: m as peft initialised it (B = 0, so the row norms of W),
- dora_logits.bin, dora_merged_logits.bin: eval logits with the adapter, and after merge_and_unload,
- dora_merged_weights.safetensors (ckpt_a only): the merged weights of every targeted linear,
- dora_grads.safetensors + values.train_loss: loss and gradients of A, B, m in train mode (dropout 0),
- dora_after_adamw_step.safetensors: the adapter after one AdamW step on those gradients.
"""
import json
import os
import shutil
import sys

import torch

import peft
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import BloomForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "hf-bloom-reference")
OUT = os.path.join(ROOT, "test", "fixtures", "peft", "dora")
TARGETS = ["query_key_value", "dense", "dense_4h_to_h"]
ADAMW = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01}


def saved_name(param_name):
    """peft's on-disk name of a trainable parameter: no adapter name, and the magnitude without `.weight`."""
    name = param_name.replace(".default", "")
    if name.endswith(".lora_magnitude_vector.weight"):
        name = name[: -len(".weight")]
    return name


def read_ints(ref_dir, manifest, key):
    spec = manifest["arrays"][key]
    return torch.tensor(spec["inline"], dtype=torch.long)


def write_bin(path, tensor):
    tensor.detach().to(torch.float32).contiguous().numpy().tofile(path)


def run(which):
    torch.manual_seed({"a": 20240901, "b": 20240902}[which])
    ckpt = os.path.join(FIXTURES, f"ckpt_{which}")
    ref = os.path.join(FIXTURES, f"ref_{which}")
    with open(os.path.join(ref, "manifest.json")) as f:
        manifest = json.load(f)
    input_ids = read_ints(ref, manifest, "input_ids")
    attention_mask = read_ints(ref, manifest, "attention_mask")
    labels = input_ids.masked_fill(attention_mask == 0, -100)

    out = os.path.join(OUT, f"ref_{which}")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    arrays, values = {}, {}

    base = BloomForCausalLM.from_pretrained(ckpt, torch_dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS, use_dora=True, bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    init = {saved_name(n): p.detach().clone() for n, p in model.named_parameters() if "lora_magnitude_vector" in n}
    save_file(init, os.path.join(out, "init_magnitude.safetensors"), metadata={"format": "pt"})

    # Randomise every adapter tensor so that each part of DoRA's output matters (B = 0 and m = ‖W‖ would
    # make the adapter an identity).
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                param.copy_(torch.randn_like(param) * 0.2)
            elif "lora_magnitude_vector" in name:
                param.mul_(1 + 0.3 * torch.randn_like(param))
    adapter_dir = os.path.join(out, "dora_adapter")
    # A path relative to the fixtures, not this machine's absolute one.
    model.peft_config["default"].base_model_name_or_path = f"ckpt_{which}"
    model.save_pretrained(adapter_dir, safe_serialization=True)
    readme = os.path.join(adapter_dir, "README.md")
    if os.path.exists(readme):
        os.remove(readme)

    model.eval()
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    write_bin(os.path.join(out, "dora_logits.bin"), logits)
    arrays["dora_logits"] = {"file": "dora_logits.bin", "dtype": "float32", "shape": list(logits.shape)}

    # Loss and gradients in train mode (dropout 0 everywhere, so train mode changes nothing numerically).
    model.train()
    result = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    result.loss.backward()
    values["train_loss"] = result.loss.item()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    save_file({saved_name(n): p.grad.detach().clone() for n, p in trainable.items()}, os.path.join(out, "dora_grads.safetensors"), metadata={"format": "pt"})
    optimizer = torch.optim.AdamW(list(trainable.values()), **ADAMW)
    optimizer.step()
    save_file({saved_name(n): p.detach().clone() for n, p in trainable.items()}, os.path.join(out, "dora_after_adamw_step.safetensors"), metadata={"format": "pt"})
    values["adamw"] = {"lr": ADAMW["lr"], "betas": list(ADAMW["betas"]), "eps": ADAMW["eps"], "weight_decay": ADAMW["weight_decay"]}

    # Merge from the saved adapter (the step above changed the live tensors).
    fresh = BloomForCausalLM.from_pretrained(ckpt, torch_dtype=torch.float32)
    reloaded = PeftModel.from_pretrained(fresh, adapter_dir)
    reloaded.eval()
    with torch.no_grad():
        reload_logits = reloaded(input_ids=input_ids, attention_mask=attention_mask).logits
    values["reload_vs_live_logits_maxdiff"] = (reload_logits - logits).abs().max().item()
    merged = reloaded.merge_and_unload()
    with torch.no_grad():
        merged_logits = merged(input_ids=input_ids, attention_mask=attention_mask).logits
    write_bin(os.path.join(out, "dora_merged_logits.bin"), merged_logits)
    arrays["dora_merged_logits"] = {"file": "dora_merged_logits.bin", "dtype": "float32", "shape": list(merged_logits.shape)}
    values["merged_vs_unmerged_logits_maxdiff"] = (merged_logits - logits).abs().max().item()
    if which == "a":
        weights = {n: p.detach().clone() for n, p in merged.named_parameters() if any(f".{t}.weight" in n for t in TARGETS)}
        save_file(weights, os.path.join(out, "dora_merged_weights.safetensors"), metadata={"format": "pt"})

    values["peft_version"] = peft.__version__
    values["transformers_version"] = transformers.__version__
    values["torch_version"] = torch.__version__
    values["lora_config"] = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": TARGETS, "use_dora": True}
    values["labels"] = "input_ids with padding set to -100"
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"arrays": arrays, "values": values}, f, indent=1)
        f.write("\n")
    print(which, json.dumps(values), file=sys.stderr)


if __name__ == "__main__":
    for which in ("a", "b"):
        run(which)

"""peft 0.7.1's modules_to_save on the tiny BLOOM fixture, as tuneloop's reference.

Two LoRA adapters on test/fixtures/hf-bloom-reference/ckpt_a (r=4, alpha=8, query_key_value, A and B
random so the LoRA update is not zero):
- lm_head: modules_to_save=["lm_head"]; the copied lm_head gets random weights, so it no longer equals
  the (tied) word embeddings.
- embeddings: modules_to_save=["word_embeddings", "input_layernorm"]; random replacement embeddings
  (the lm_head stays the base's, as peft leaves it) and random LayerNorm parameters in every block.
Each is saved with save_pretrained (safetensors), then reloaded with PeftModel.from_pretrained, and
the reload's logits on the fixture inputs, the loss and gradients of one training step on the fixture
labels, and merge_and_unload's weights are written to reference.safetensors beside it.

Run: HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 /work/refenv/venv/bin/python scripts/reference/modules_to_save_reference.py
"""

import json
import os

import numpy as np
import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import BloomForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "hf-bloom-reference")
# Loaded by its relative name from FIXTURES, so adapter_config.json records "ckpt_a", not a local path.
CHECKPOINT = "ckpt_a"
OUT = os.path.join(ROOT, "test", "fixtures", "peft", "modules_to_save")


def reference_array(name):
    manifest = json.load(open(os.path.join(FIXTURES, "ref_a", "manifest.json")))
    spec = manifest["arrays"][name]
    values = np.fromfile(os.path.join(FIXTURES, "ref_a", spec["file"]), dtype=spec["dtype"])
    return torch.from_numpy(values.reshape(spec["shape"]).astype(np.int64))


def build(name, modules_to_save, randomise, generator):
    torch.manual_seed(0)
    base = BloomForCausalLM.from_pretrained(CHECKPOINT, torch_dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["query_key_value"], lora_dropout=0.0, modules_to_save=modules_to_save, task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    with torch.no_grad():
        for param_name, param in model.named_parameters():
            if "lora_" in param_name or randomise(param_name):
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    adapter_dir = os.path.join(OUT, name)
    model.save_pretrained(adapter_dir, safe_serialization=True)
    return adapter_dir


def reference(adapter_dir, replaced):
    ids = reference_array("input_ids")
    mask = reference_array("attention_mask")
    labels = reference_array("train_labels")
    base = BloomForCausalLM.from_pretrained(CHECKPOINT, torch_dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir, is_trainable=True)
    model.eval()
    out = {}
    with torch.no_grad():
        out["logits"] = model(input_ids=ids, attention_mask=mask).logits
    loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    values = {"train_loss": loss.item()}
    for param_name, param in model.named_parameters():
        if param.grad is None:
            continue
        # Gradients under the names the adapter file stores (adapter name and wrapper removed).
        stored = param_name.replace("modules_to_save.default.", "").replace(".default", "")
        out[f"grad.{stored}"] = param.grad
    merged = model.merge_and_unload()
    merged.eval()
    with torch.no_grad():
        out["merged_logits"] = merged(input_ids=ids, attention_mask=mask).logits
    state = merged.state_dict()
    for key in ["lm_head.weight", "transformer.word_embeddings.weight", "transformer.h.0.self_attention.query_key_value.weight", *replaced]:
        out[f"merged.{key}"] = state[key]
    save_file({k: v.detach().contiguous().float() for k, v in out.items()}, os.path.join(adapter_dir, "reference.safetensors"))
    values["lm_head_tied_after_merge"] = bool(merged.lm_head.weight.data_ptr() == merged.transformer.word_embeddings.weight.data_ptr())
    values["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}
    with open(os.path.join(adapter_dir, "reference_values.json"), "w") as f:
        json.dump(values, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    os.chdir(FIXTURES)
    generator = torch.Generator().manual_seed(1234)
    lm_head = build("lm_head", ["lm_head"], lambda n: "lm_head.modules_to_save" in n, generator)
    reference(lm_head, [])
    embeddings = build(
        "embeddings",
        ["word_embeddings", "input_layernorm"],
        lambda n: "word_embeddings.modules_to_save" in n or "input_layernorm.modules_to_save" in n,
        generator,
    )
    reference(embeddings, ["transformer.h.0.input_layernorm.weight", "transformer.h.1.input_layernorm.bias"])
    for directory in [lm_head, embeddings]:
        # The model card names local paths and is not read by anyone.
        os.remove(os.path.join(directory, "README.md"))


if __name__ == "__main__":
    main()

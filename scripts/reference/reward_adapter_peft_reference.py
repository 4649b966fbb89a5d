"""A reward-model adapter as peft 0.7.1 saves it (task_type SEQ_CLS, LoRA plus the score head), and the rewards
BloomForSequenceClassification gives with it, for test/align/reward-training.test.ts.

Writes test/fixtures/align/reward/peft_seq_cls_adapter/ and test/fixtures/align/reward/peft_seq_cls_rewards.json.
Run: HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 /work/refenv/venv/bin/python scripts/reference/reward_adapter_peft_reference.py
"""
import json
import os

import torch
from peft import LoraConfig, get_peft_model
from transformers import BloomForSequenceClassification

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CHECKPOINT = os.path.join(ROOT, "test", "fixtures", "hf-bloom-reference", "ckpt_a")
OUT = os.path.join(ROOT, "test", "fixtures", "align", "reward")
PAD = 3

torch.manual_seed(0)
model = BloomForSequenceClassification.from_pretrained(CHECKPOINT, num_labels=1, pad_token_id=PAD)
config = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["query_key_value", "dense_4h_to_h"])
peft_model = get_peft_model(model, config)
# Nonzero LoRA B and a random head, so the reload is checked on every tensor (B starts at zero in peft).
with torch.no_grad():
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name or "modules_to_save" in name:
            parameter.copy_(0.1 * torch.randn_like(parameter))
peft_model.save_pretrained(os.path.join(OUT, "peft_seq_cls_adapter"), safe_serialization=True)

# Right-padded rows; transformers 4.35.2 reads the reward at (count of non-pad ids) - 1, the last real token here.
ids = [[5, 17, 23, 40, 41], [5, 17, 23, 60, PAD], [9, 33, 34, PAD, PAD]]
mask = [[1 if token != PAD else 0 for token in row] for row in ids]
peft_model.eval()
with torch.no_grad():
    rewards = peft_model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits.flatten().tolist()
with open(os.path.join(OUT, "peft_seq_cls_rewards.json"), "w") as f:
    json.dump({"pad_token_id": PAD, "input_ids": ids, "attention_mask": mask, "rewards": rewards}, f, indent=1)

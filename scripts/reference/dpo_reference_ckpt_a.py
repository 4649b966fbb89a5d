"""trl v0.7.11's DPO losses on real model outputs: the fixture checkpoint ckpt_a's LoRA logits as the policy and
its base logits as the frozen reference (test/fixtures/hf-bloom-reference/ref_a: lora_logits.bin, logits.bin,
train_labels.bin, all computed by transformers/peft). Pair i takes sequence i as chosen and sequence (i + 1) % 3
as rejected, each scored under its own logits; the first PROMPT_TOKENS labels of every sequence are masked
to -100 as prompt (padding already is). Same environment and float64 evaluation as dpo_reference.py.

Outputs in test/fixtures/align/dpo/: ckpt_a_reference.json (labels, log-probabilities, per case the losses,
rewards, metrics and log-prob gradients) and ckpt_a_grad_logits.bin (float32, the first case's d loss / d logits,
chosen [3, 12, 512] then rejected [3, 12, 512]).
"""
import json
import os
import sys
import types

import numpy as np
import refenv_shims  # noqa: F401  (must precede trl)
import torch
from trl.trainer.dpo_trainer import DPOTrainer

HERE = os.path.dirname(__file__)
REF = os.path.join(HERE, "..", "..", "test", "fixtures", "hf-bloom-reference", "ref_a")
OUT = os.path.join(HERE, "..", "..", "test", "fixtures", "align", "dpo")
PROMPT_TOKENS = 3

manifest = json.load(open(os.path.join(REF, "manifest.json")))


def array(name):
    spec = manifest["arrays"][name]
    data = np.fromfile(os.path.join(REF, spec["file"]), dtype=spec["dtype"]).reshape(spec["shape"])
    return torch.from_numpy(data.copy())


policy_logits = array("lora_logits").double()
reference_logits = array("logits").double()
labels = array("train_labels").long()
labels[:, :PROMPT_TOKENS] = -100
rejected_order = [1, 2, 0]
chosen_labels, rejected_labels = labels, labels[rejected_order]
policy_chosen_logits, policy_rejected_logits = policy_logits, policy_logits[rejected_order]
reference_chosen_logits, reference_rejected_logits = reference_logits, reference_logits[rejected_order]


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


cases = []
grad_logits_bin = None
for loss_type, beta, label_smoothing, average in (
    ("sigmoid", 0.1, 0.0, False),
    ("sigmoid", 0.5, 0.1, True),
    ("ipo", 0.1, 0.0, False),
):
    trainer = types.SimpleNamespace(
        beta=beta, label_smoothing=label_smoothing, loss_type=loss_type, reference_free=False,
        accelerator=types.SimpleNamespace(device=torch.device("cpu")),
    )
    chosen_leaf = policy_chosen_logits.clone().requires_grad_(True)
    rejected_leaf = policy_rejected_logits.clone().requires_grad_(True)
    policy_chosen = DPOTrainer.get_batch_logps(chosen_leaf, chosen_labels.clone(), average_log_prob=average)
    policy_rejected = DPOTrainer.get_batch_logps(rejected_leaf, rejected_labels.clone(), average_log_prob=average)
    policy_chosen.retain_grad()
    policy_rejected.retain_grad()
    with torch.no_grad():
        reference_chosen = DPOTrainer.get_batch_logps(reference_chosen_logits, chosen_labels.clone(), average_log_prob=average)
        reference_rejected = DPOTrainer.get_batch_logps(reference_rejected_logits, rejected_labels.clone(), average_log_prob=average)
    losses, chosen_rewards, rejected_rewards = DPOTrainer.dpo_loss(trainer, policy_chosen, policy_rejected, reference_chosen, reference_rejected)
    loss = losses.mean()
    loss.backward()
    if grad_logits_bin is None:
        grad_logits_bin = torch.cat([chosen_leaf.grad.reshape(-1), rejected_leaf.grad.reshape(-1)]).float().numpy()
    cases.append({
        "loss_type": loss_type,
        "beta": beta,
        "label_smoothing": label_smoothing,
        "average_log_prob": average,
        "policy_chosen_logps": flat(policy_chosen),
        "policy_rejected_logps": flat(policy_rejected),
        "reference_chosen_logps": flat(reference_chosen),
        "reference_rejected_logps": flat(reference_rejected),
        "losses": flat(losses),
        "chosen_rewards": flat(chosen_rewards),
        "rejected_rewards": flat(rejected_rewards),
        "metrics": {
            "rewards/chosen": chosen_rewards.mean().item(),
            "rewards/rejected": rejected_rewards.mean().item(),
            "rewards/accuracies": (chosen_rewards > rejected_rewards).float().mean().item(),
            "rewards/margins": (chosen_rewards - rejected_rewards).mean().item(),
            "logps/rejected": policy_rejected.detach().mean().item(),
            "logps/chosen": policy_chosen.detach().mean().item(),
            "loss": loss.item(),
        },
        "grad_policy_chosen_logps": flat(policy_chosen.grad),
        "grad_policy_rejected_logps": flat(policy_rejected.grad),
    })

with open(os.path.join(OUT, "ckpt_a_reference.json"), "w") as f:
    json.dump({
        "source": "trl v0.7.11 DPOTrainer.get_batch_logps and dpo_loss, float64, on ref_a lora_logits (policy) and logits (reference)",
        "rejected_order": rejected_order,
        "prompt_tokens": PROMPT_TOKENS,
        "chosen_labels": [int(v) for v in chosen_labels.reshape(-1).tolist()],
        "rejected_labels": [int(v) for v in rejected_labels.reshape(-1).tolist()],
        "grad_logits_file": "ckpt_a_grad_logits.bin",
        "cases": cases,
    }, f, indent=1)
    f.write("\n")
grad_logits_bin.tofile(os.path.join(OUT, "ckpt_a_grad_logits.bin"))
print(f"wrote {len(cases)} cases", file=sys.stderr)

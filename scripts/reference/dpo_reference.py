"""Reference values for offline preference optimisation (DPO, cDPO, IPO), computed by trl v0.7.11 itself.

trl's `DPOTrainer.get_batch_logps` (a staticmethod) and `DPOTrainer.dpo_loss` (called unbound, on a small object
carrying only the attributes it reads: beta, label_smoothing, loss_type, reference_free, accelerator.device) are
run in float64 on seeded random logits and labels; gradients come from torch autograd through trl's own code.
Run (see /work/shared/tools/python-refenv/README.md for the venv):
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/work/shared/tools/python-refenv \
        /work/refenv/venv/bin/python scripts/reference/dpo_reference.py

Output: test/fixtures/align/dpo/dpo_reference.json. Shapes: `pairs` preference pairs, sequences of `seq_len`
tokens over `vocab` ids; chosen and rejected logits are [pairs, seq_len, vocab] row-major, labels [pairs, seq_len]
with -100 on prompt and padding positions (as trl's collator writes them). Logits are stored as float32 values
(exactly representable) and widened to float64 before trl sees them, so the TypeScript side can do the same.
"""
import json
import os
import sys
import types

import refenv_shims  # noqa: F401  (must precede trl: stands in for datasets/tyro, never used on these paths)
import torch
from trl.trainer.dpo_trainer import DPOTrainer

torch.manual_seed(20261208)
PAIRS, SEQ_LEN, VOCAB = 3, 7, 13
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "align", "dpo", "dpo_reference.json")


def random_logits():
    return (torch.randn(PAIRS, SEQ_LEN, VOCAB) * 2.0).float().double()


def random_labels():
    labels = torch.randint(0, VOCAB, (PAIRS, SEQ_LEN))
    # Prompt positions differ per row and one row ends in padding, so masks are uneven.
    prompt_lengths = [1, 2, 3]
    for row, prompt in enumerate(prompt_lengths):
        labels[row, :prompt] = -100
    labels[2, SEQ_LEN - 1] = -100
    return labels


policy_chosen_logits, policy_rejected_logits = random_logits(), random_logits()
reference_chosen_logits, reference_rejected_logits = random_logits(), random_logits()
chosen_labels, rejected_labels = random_labels(), random_labels()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def trl_object(loss_type, beta, label_smoothing):
    return types.SimpleNamespace(
        beta=beta,
        label_smoothing=label_smoothing,
        loss_type=loss_type,
        reference_free=False,
        accelerator=types.SimpleNamespace(device=torch.device("cpu")),
    )


logps = {}
for average in (False, True):
    key = "average" if average else "sum"
    logps[key] = {
        name: flat(DPOTrainer.get_batch_logps(logits, labels.clone(), average_log_prob=average))
        for name, logits, labels in (
            ("policy_chosen", policy_chosen_logits, chosen_labels),
            ("policy_rejected", policy_rejected_logits, rejected_labels),
            ("reference_chosen", reference_chosen_logits, chosen_labels),
            ("reference_rejected", reference_rejected_logits, rejected_labels),
        )
    }

cases = []
for loss_type, beta, label_smoothing in (
    ("sigmoid", 0.1, 0.0),
    ("sigmoid", 0.5, 0.0),
    ("sigmoid", 1.0, 0.0),
    ("sigmoid", 0.1, 0.1),
    ("sigmoid", 0.5, 0.1),
    ("ipo", 0.1, 0.0),
    ("ipo", 0.5, 0.0),
):
    for average in (False, True):
        trainer = trl_object(loss_type, beta, label_smoothing)
        chosen_leaf = policy_chosen_logits.clone().requires_grad_(True)
        rejected_leaf = policy_rejected_logits.clone().requires_grad_(True)
        policy_chosen = DPOTrainer.get_batch_logps(chosen_leaf, chosen_labels.clone(), average_log_prob=average)
        policy_rejected = DPOTrainer.get_batch_logps(rejected_leaf, rejected_labels.clone(), average_log_prob=average)
        policy_chosen.retain_grad()
        policy_rejected.retain_grad()
        with torch.no_grad():
            reference_chosen = DPOTrainer.get_batch_logps(reference_chosen_logits, chosen_labels.clone(), average_log_prob=average)
            reference_rejected = DPOTrainer.get_batch_logps(reference_rejected_logits, rejected_labels.clone(), average_log_prob=average)
        losses, chosen_rewards, rejected_rewards = DPOTrainer.dpo_loss(
            trainer, policy_chosen, policy_rejected, reference_chosen, reference_rejected
        )
        loss = losses.mean()
        loss.backward()
        # The metrics exactly as DPOTrainer.get_batch_loss_metrics logs them (without the logits/* means).
        reward_accuracies = (chosen_rewards > rejected_rewards).float()
        metrics = {
            "rewards/chosen": chosen_rewards.mean().item(),
            "rewards/rejected": rejected_rewards.mean().item(),
            "rewards/accuracies": reward_accuracies.mean().item(),
            "rewards/margins": (chosen_rewards - rejected_rewards).mean().item(),
            "logps/rejected": policy_rejected.detach().mean().item(),
            "logps/chosen": policy_chosen.detach().mean().item(),
            "loss": loss.item(),
        }
        cases.append({
            "loss_type": loss_type,
            "beta": beta,
            "label_smoothing": label_smoothing,
            "average_log_prob": average,
            "losses": flat(losses),
            "chosen_rewards": flat(chosen_rewards),
            "rejected_rewards": flat(rejected_rewards),
            "metrics": metrics,
            "grad_policy_chosen_logps": flat(policy_chosen.grad),
            "grad_policy_rejected_logps": flat(policy_rejected.grad),
            "grad_policy_chosen_logits": flat(chosen_leaf.grad),
            "grad_policy_rejected_logits": flat(rejected_leaf.grad),
        })

out = {
    "source": "trl v0.7.11 DPOTrainer.get_batch_logps and DPOTrainer.dpo_loss, float64, torch autograd",
    "pairs": PAIRS,
    "seq_len": SEQ_LEN,
    "vocab": VOCAB,
    "policy_chosen_logits": flat(policy_chosen_logits),
    "policy_rejected_logits": flat(policy_rejected_logits),
    "reference_chosen_logits": flat(reference_chosen_logits),
    "reference_rejected_logits": flat(reference_rejected_logits),
    "chosen_labels": [int(v) for v in chosen_labels.reshape(-1).tolist()],
    "rejected_labels": [int(v) for v in rejected_labels.reshape(-1).tolist()],
    "logps": logps,
    "cases": cases,
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {OUT}: {len(cases)} cases", file=sys.stderr)

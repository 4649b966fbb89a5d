"""Reference values for tuneloop's reward model (src/align/reward-model/), computed by transformers and trl.

Runs in the main reference venv (transformers 4.35.2, trl 0.7.11 over Debian torch 1.13.1):
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 /work/refenv/venv/bin/python scripts/reference/reward_model_reference.py

For each tiny checkpoint (test/fixtures/hf-bloom-reference/ckpt_a, ckpt_b) it builds a
BloomForSequenceClassification with num_labels=1 whose `score` weight is drawn from a seeded generator, and writes
test/fixtures/align/reward/ref_<a|b>.json with:
- score_weight: the head weight [1, hidden],
- rows: each sequence's ids and its reward run alone (no padding),
- padded: the chosen and rejected batches right-padded with pad_token_id, and HF's rewards for them
  (HF 4.35.2 reads position (count of non-pad ids) - 1, which is the last real token only for right padding),
- losses: trl 0.7.11 RewardTrainer.compute_loss on those batches, without and with a per-pair margin; the
  centring term (center_rewards_coefficient * mean((r_chosen + r_rejected)^2), which RewardTrainer gained in
  trl 0.11 with this formula) is added here in torch to the margin loss,
- grads per loss: d loss / d score.weight, and d loss / d the final hidden states (ln_f's output, the input of
  `score`) for the chosen and rejected batches, [batch, seq, hidden] row-major.
trl 0.7.11's collator stores the margin as [batch] while the rewards are [batch, 1], so the subtraction broadcasts
to [batch, batch] (still so in trl 0.13); the per-pair margin its docs describe is passed here as [batch, 1].
"""
import json
import os
import sys

sys.path.insert(0, "/work/shared/tools/python-refenv")
import refenv_shims  # noqa: E402,F401  (must precede trl)
import torch  # noqa: E402
from transformers import BloomForSequenceClassification  # noqa: E402
from trl import RewardTrainer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKPOINTS = os.path.join(ROOT, "test", "fixtures", "hf-bloom-reference")
OUT = os.path.join(ROOT, "test", "fixtures", "align", "reward")
CHOSEN = [[5, 17, 42, 99, 7, 250], [11, 23, 8]]
REJECTED = [[5, 17, 42, 300], [11, 23, 8, 64, 128, 9, 77]]
MARGIN = [0.5, -0.25]
CENTER_COEFFICIENT = 0.01


class LossOwner:
    """What RewardTrainer.compute_loss reads from `self`."""
    use_reward_data_collator = True


def right_pad(rows, pad_id):
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad_id] * (width - len(r)) for r in rows], dtype=torch.long)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
    return ids, mask


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run(tag):
    model = BloomForSequenceClassification.from_pretrained(os.path.join(CHECKPOINTS, f"ckpt_{tag}"), num_labels=1)
    model.eval()
    pad_id = model.config.pad_token_id
    generator = torch.Generator().manual_seed(1234 + ord(tag))
    with torch.no_grad():
        model.score.weight.copy_(torch.randn(model.score.weight.shape, generator=generator) * 0.3)

    rows = []
    with torch.no_grad():
        for ids in CHOSEN + REJECTED:
            assert pad_id not in ids
            reward = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)).logits
            rows.append({"ids": ids, "reward": float(reward[0, 0])})

    chosen_ids, chosen_mask = right_pad(CHOSEN, pad_id)
    rejected_ids, rejected_mask = right_pad(REJECTED, pad_id)
    inputs = {
        "input_ids_chosen": chosen_ids,
        "attention_mask_chosen": chosen_mask,
        "input_ids_rejected": rejected_ids,
        "attention_mask_rejected": rejected_mask,
    }
    score_inputs = []

    def capture(_module, args, _output):
        args[0].retain_grad()
        score_inputs.append(args[0])

    hook = model.score.register_forward_hook(capture)
    losses = {}
    padded_rewards = None
    for name, margin, center in [("plain", None, 0.0), ("margin_centered", MARGIN, CENTER_COEFFICIENT)]:
        model.zero_grad()
        score_inputs.clear()
        step_inputs = dict(inputs)
        if margin is not None:
            step_inputs["margin"] = torch.tensor(margin, dtype=torch.float32).unsqueeze(1)
        loss, out = RewardTrainer.compute_loss(LossOwner(), model, step_inputs, return_outputs=True)
        bt_loss = float(loss)
        if center:
            loss = loss + center * torch.mean((out["rewards_chosen"] + out["rewards_rejected"]) ** 2)
        loss.backward()
        padded_rewards = {"chosen": flat(out["rewards_chosen"]), "rejected": flat(out["rewards_rejected"])}
        losses[name] = {
            "margin": margin,
            "center_rewards_coefficient": center,
            "bradley_terry_loss": bt_loss,
            "loss": float(loss),
            "grad_score_weight": flat(model.score.weight.grad),
            "grad_hidden_chosen": flat(score_inputs[0].grad),
            "grad_hidden_rejected": flat(score_inputs[1].grad),
        }
    hook.remove()

    result = {
        "checkpoint": f"hf-bloom-reference/ckpt_{tag}",
        "hidden_size": model.config.hidden_size,
        "pad_token_id": pad_id,
        "score_weight": flat(model.score.weight),
        "rows": rows,
        "padded": {
            "chosen_ids": chosen_ids.tolist(),
            "chosen_mask": chosen_mask.tolist(),
            "rejected_ids": rejected_ids.tolist(),
            "rejected_mask": rejected_mask.tolist(),
            "rewards": padded_rewards,
        },
        "losses": losses,
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"ref_{tag}.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    for tag in ("a", "b"):
        run(tag)

"""One DPO step's loss, metrics and LoRA gradients computed by trl v0.7.11's own code on ckpt_a with the fixture
LoRA adapter (test/fixtures/hf-bloom-reference/ref_a/lora_adapter), for test/align/dpo-step.test.ts.

The pairs are tokenised by trl's DPOTrainer.tokenize_row with a one-token-per-character tokenizer (id 4 +
codepoint % 500, BOS 1, EOS 2, pad 3; the same rule the TypeScript test uses), collated by trl's
DPODataCollatorWithPadding and run through trl's concatenated_forward: the reference under peft's
disable_adapter() without gradients, then the policy, dpo_loss and autograd to the LoRA tensors.

Output: test/fixtures/align/dpo/ckpt_a_dpo_step.json (the collated rows, each padded to its own side's length;
reference and policy log-probabilities, loss, metrics,
gradients by peft's saved tensor names).
"""
import json
import os
import types

import refenv_shims  # noqa: F401  (must precede trl)
import torch
from peft import PeftModel
from transformers import BloomForCausalLM
from trl.trainer.dpo_trainer import DPOTrainer
from trl.trainer.utils import DPODataCollatorWithPadding

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "test", "fixtures")
CKPT = os.path.join(FIXTURES, "hf-bloom-reference", "ckpt_a")
ADAPTER = os.path.join(FIXTURES, "hf-bloom-reference", "ref_a", "lora_adapter")
OUT = os.path.join(FIXTURES, "align", "dpo", "ckpt_a_dpo_step.json")

PAIRS = [
    {"prompt": "Q: In which year did the Berlin Wall fall?\nA:", "chosen": " 1989", "rejected": " 1975"},
    {"prompt": "Q: What is the capital of Peru?\nA:", "chosen": " Lima", "rejected": " I am not sure."},
    {"prompt": "Q: What is 7 times 8?\nA:", "chosen": " 56", "rejected": " 54"},
    {"prompt": "Q: Who wrote Hamlet?\nA:", "chosen": " I do not know.", "rejected": " Dickens"},
]
BETA, LABEL_SMOOTHING, LOSS_TYPE = 0.5, 0.1, "sigmoid"


class CharacterTokenizer:
    bos_token_id, eos_token_id, pad_token_id = 1, 2, 3

    def __call__(self, text, add_special_tokens=False):
        ids = [4 + ord(c) % 500 for c in text]
        return {"input_ids": ids, "attention_mask": [1] * len(ids)}


trainer = types.SimpleNamespace(
    tokenizer=CharacterTokenizer(), is_encoder_decoder=False, max_length=512, max_prompt_length=256,
    truncation_mode="keep_end", label_pad_token_id=-100, padding_value=3, beta=BETA,
    label_smoothing=LABEL_SMOOTHING, loss_type=LOSS_TYPE, reference_free=False,
    accelerator=types.SimpleNamespace(device=torch.device("cpu")),
    concatenated_inputs=DPOTrainer.concatenated_inputs, get_batch_logps=DPOTrainer.get_batch_logps,
)
trainer.build_tokenized_answer = types.MethodType(DPOTrainer.build_tokenized_answer, trainer)
features = [DPOTrainer.tokenize_row(trainer, pair) for pair in PAIRS]
batch = DPODataCollatorWithPadding(pad_token_id=3, label_pad_token_id=-100, is_encoder_decoder=False)(features)

torch.manual_seed(0)
base = BloomForCausalLM.from_pretrained(CKPT, torch_dtype=torch.float32)
model = PeftModel.from_pretrained(base, ADAPTER, is_trainable=True)
model.eval()  # the adapter's dropout is 0; eval keeps the base model's dropout off too

with torch.no_grad(), model.disable_adapter():
    reference_chosen, reference_rejected, _, _ = DPOTrainer.concatenated_forward(trainer, model, batch)
policy_chosen, policy_rejected, _, _ = DPOTrainer.concatenated_forward(trainer, model, batch)
losses, chosen_rewards, rejected_rewards = DPOTrainer.dpo_loss(trainer, policy_chosen, policy_rejected, reference_chosen, reference_rejected)
loss = losses.mean()
loss.backward()

grads = {}
for name, parameter in model.named_parameters():
    if parameter.grad is not None:
        grads[name.replace(".default", "")] = [float(v) for v in parameter.grad.reshape(-1).tolist()]

flat = lambda t: [float(v) for v in t.detach().reshape(-1).tolist()]  # noqa: E731
json.dump({
    "loss_type": LOSS_TYPE, "beta": BETA, "label_smoothing": LABEL_SMOOTHING,
    "chosen_input_ids": batch["chosen_input_ids"].tolist(), "rejected_input_ids": batch["rejected_input_ids"].tolist(),
    "chosen_labels": batch["chosen_labels"].tolist(), "rejected_labels": batch["rejected_labels"].tolist(),
    "reference_chosen_logps": flat(reference_chosen), "reference_rejected_logps": flat(reference_rejected),
    "policy_chosen_logps": flat(policy_chosen), "policy_rejected_logps": flat(policy_rejected),
    "loss": float(loss),
    "rewards_chosen": float(chosen_rewards.mean()), "rewards_rejected": float(rejected_rewards.mean()),
    "rewards_accuracies": float((chosen_rewards > rejected_rewards).float().mean()),
    "grads": grads,
}, open(OUT, "w"), indent=1)
print("loss", float(loss), "grads", len(grads))

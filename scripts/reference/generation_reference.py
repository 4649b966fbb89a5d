"""Reference generations for src/inference: Hugging Face `generate` with its logits processors.

Run (the offline reference venv: transformers 4.35.2, torch 1.13):
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 /work/refenv/venv/bin/python \
        scripts/reference/generation_reference.py test/fixtures/hf-bloom-reference test/fixtures/generation

For each fixture checkpoint (ckpt_a, ckpt_b) it writes `<out>/ckpt_<x>.json`, whose `generations` are
greedy `BloomForCausalLM.generate` runs with repetition_penalty, no_repeat_ngram_size and min_new_tokens,
alone and combined, on one prompt and on a left-padded batch (pad id 3, as the checkpoints' config says).
`new_tokens` holds each row's generated ids up to and including its end-of-sequence token. The
min_new_tokens cases move `eos_token_id` to a token plain greedy decoding emits within its first steps,
so the end of sequence would come early without the processor. `changed_scores` lists, for the first
steps, every (row, token) whose processed score differs from the model's raw logit, with the processed
value ("-inf" for a banned token): Hugging Face's `scores` (after the processors) compared with the
lm_head output of the same step.

`<out>/processors.json` holds each processor applied alone to hand-made input ids (with pad tokens) and
scores: the full processed rows, to check the rules apart from any model.
"""
import json
import math
import os
import sys

import torch
import transformers
from transformers import BloomForCausalLM
from transformers.generation.logits_process import (
    MinNewTokensLengthLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
)

PAD = 3
MAX_NEW_TOKENS = 16
SCORED_STEPS = 3

SINGLE = [[17, 200, 33, 45, 17, 200, 9, 101]]
BATCH = [[17, 200, 33, 45, 17, 200, 9, 101], [88, 5, 77], [250, 251, 252, 250, 251]]


def left_pad(prompts):
    width = max(len(p) for p in prompts)
    ids = [[PAD] * (width - len(p)) + p for p in prompts]
    mask = [[0] * (width - len(p)) + [1] * len(p) for p in prompts]
    return torch.tensor(ids), torch.tensor(mask)


def encode_score(value):
    return "-inf" if value == -math.inf else value


def run(model, prompts, eos_token_id, **processing):
    ids, mask = left_pad(prompts)
    raw_steps = []
    hook = model.lm_head.register_forward_hook(lambda _m, _i, out: raw_steps.append(out[:, -1, :].clone()))
    try:
        with torch.no_grad():
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=False,
                num_beams=1,
                max_new_tokens=MAX_NEW_TOKENS,
                eos_token_id=eos_token_id,
                pad_token_id=PAD,
                output_scores=True,
                return_dict_in_generate=True,
                **processing,
            )
    finally:
        hook.remove()
    new_tokens = []
    for row in out.sequences[:, ids.shape[1]:].tolist():
        new_tokens.append(row[: row.index(eos_token_id) + 1] if eos_token_id in row else row)
    changed = []
    for step in range(min(SCORED_STEPS, len(out.scores))):
        processed, raw = out.scores[step], raw_steps[step]
        rows = []
        for b in range(processed.shape[0]):
            diff = torch.nonzero(processed[b] != raw[b]).flatten().tolist()
            rows.append([[t, encode_score(processed[b, t].item())] for t in diff])
        changed.append(rows)
    return new_tokens, changed


def generation_case(model, name, prompts, eos_token_id, **processing):
    new_tokens, changed = run(model, prompts, eos_token_id, **processing)
    return {
        "name": name,
        "prompts": prompts,
        "eos_token_id": eos_token_id,
        "max_new_tokens": MAX_NEW_TOKENS,
        "repetition_penalty": processing.get("repetition_penalty", 1.0),
        "no_repeat_ngram_size": processing.get("no_repeat_ngram_size", 0),
        "min_new_tokens": processing.get("min_new_tokens", 0),
        "new_tokens": new_tokens,
        "changed_scores": changed,
    }


def generations(model, eos):
    base_single, _ = run(model, SINGLE, eos)
    base_batch, _ = run(model, BATCH, eos)
    # An end-of-sequence id the plain greedy run reaches at its second step (rows 0 and 1 of the batch
    # reach theirs at the second and third), so min_new_tokens has something to hold back.
    early_eos = base_single[0][1]
    batch_eos = base_batch[1][2]
    cases = [
        generation_case(model, "greedy", SINGLE, eos),
        generation_case(model, "repetition_penalty 1.3", SINGLE, eos, repetition_penalty=1.3),
        generation_case(model, "repetition_penalty 0.7", SINGLE, eos, repetition_penalty=0.7),
        generation_case(model, "no_repeat_ngram_size 1", SINGLE, eos, no_repeat_ngram_size=1),
        generation_case(model, "no_repeat_ngram_size 2", SINGLE, eos, no_repeat_ngram_size=2),
        generation_case(model, "no_repeat_ngram_size 3", SINGLE, eos, no_repeat_ngram_size=3),
        generation_case(model, "early eos", SINGLE, early_eos),
        generation_case(model, "early eos, min_new_tokens 6", SINGLE, early_eos, min_new_tokens=6),
        generation_case(
            model, "repetition_penalty 1.3, no_repeat_ngram_size 2, min_new_tokens 4, early eos", SINGLE, early_eos,
            repetition_penalty=1.3, no_repeat_ngram_size=2, min_new_tokens=4,
        ),
        generation_case(model, "batch, greedy", BATCH, eos),
        generation_case(model, "batch, repetition_penalty 1.3", BATCH, eos, repetition_penalty=1.3),
        generation_case(model, "batch, no_repeat_ngram_size 2", BATCH, eos, no_repeat_ngram_size=2),
        generation_case(model, "batch, no_repeat_ngram_size 3", BATCH, eos, no_repeat_ngram_size=3),
        generation_case(
            model, "batch, repetition_penalty 1.2, no_repeat_ngram_size 3", BATCH, eos,
            repetition_penalty=1.2, no_repeat_ngram_size=3,
        ),
        generation_case(model, "batch, early eos", BATCH, batch_eos),
        generation_case(model, "batch, early eos, min_new_tokens 5", BATCH, batch_eos, min_new_tokens=5),
        generation_case(
            model, "batch, repetition_penalty 1.3, no_repeat_ngram_size 2, min_new_tokens 3, early eos", BATCH, batch_eos,
            repetition_penalty=1.3, no_repeat_ngram_size=2, min_new_tokens=3,
        ),
    ]
    return cases


def processor_cases():
    vocab = 12
    # Row 1 is left-padded: Hugging Face counts its pad tokens like any other token.
    input_ids = torch.tensor([[5, 6, 7, 5, 6, 9, 5, 6], [PAD, PAD, PAD, 8, 3, 8, 10, 8]])
    base = torch.tensor([[math.sin(1.7 * b + 0.9 * t) * 3 for t in range(vocab)] for b in range(2)], dtype=torch.float32)
    processors = [
        ("repetition_penalty 1.3", RepetitionPenaltyLogitsProcessor(1.3)),
        ("repetition_penalty 0.6", RepetitionPenaltyLogitsProcessor(0.6)),
        ("no_repeat_ngram_size 1", NoRepeatNGramLogitsProcessor(1)),
        ("no_repeat_ngram_size 2", NoRepeatNGramLogitsProcessor(2)),
        ("no_repeat_ngram_size 3", NoRepeatNGramLogitsProcessor(3)),
        ("no_repeat_ngram_size 9", NoRepeatNGramLogitsProcessor(9)),
        # prompt length 6 of 8 tokens: 2 new tokens so far
        ("min_new_tokens 3 after a prompt of 6", MinNewTokensLengthLogitsProcessor(6, 3, 2)),
        ("min_new_tokens 2 after a prompt of 6", MinNewTokensLengthLogitsProcessor(6, 2, 2)),
    ]
    cases = []
    for name, processor in processors:
        out = processor(input_ids, base.clone())
        cases.append({"name": name, "scores": [[encode_score(v) for v in row] for row in out.tolist()]})
    return {
        "input_ids": input_ids.tolist(),
        "scores": base.tolist(),
        "eos_token_id": 2,
        "cases": cases,
    }


def main():
    fixtures, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    for which in ("a", "b"):
        model = BloomForCausalLM.from_pretrained(os.path.join(fixtures, f"ckpt_{which}"), torch_dtype=torch.float32)
        model.eval()
        doc = {
            "generator": "scripts/reference/generation_reference.py",
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "checkpoint": f"ckpt_{which}",
            "pad_token_id": PAD,
            "generations": generations(model, model.config.eos_token_id),
        }
        with open(os.path.join(out_dir, f"ckpt_{which}.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    with open(os.path.join(out_dir, "processors.json"), "w") as f:
        json.dump({"generator": "scripts/reference/generation_reference.py", "transformers_version": transformers.__version__, **processor_cases()}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

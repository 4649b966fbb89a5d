"""Reference standard errors from lm-evaluation-harness's own functions (lm_eval/api/metrics.py).

Run from the repository root (numpy and tqdm are all the functions used here need; the venv has them):
    git --git-dir=/work/.mirror/EleutherAI+lm-evaluation-harness/repo show \
        4e7e0d47f33bc71070c1d38394bafbb52b117163:lm_eval/api/metrics.py > /tmp/lm_eval_metrics.py
    DISABLE_MULTIPROC=1 /work/refenv/venv/bin/python scripts/reference/lm_eval_stderr_reference.py \
        /tmp/lm_eval_metrics.py > test/fixtures/eval/lm-eval-stderr.json

metrics.py is loaded as a module by itself: its two imports that the stderr functions never call
(sacrebleu, and lm_eval.api.registry's decorators) are replaced by empty stand-ins. Used unchanged:
sample_stddev, mean_stderr, bootstrap_stderr (its single-process path, which DISABLE_MULTIPROC selects
and which draws exactly what the pool draws: chunk i from random.Random(i)), pooled_sample_stderr and
acc_all_stderr. scikit-learn is not installed, so the statistics bootstrapped here (matthews_corrcoef
and binary F1 of (gold, pred) pairs, as lm-eval's aggregations compute them with scikit-learn) are
written out below from their definitions; tuneloop's own are checked against scikit-learn in
test/fixtures/eval/metrics-reference.json.
"""
import importlib.util
import json
import math
import os
import random
import sys
import types

# bootstrap_stderr prints progress to stdout; keep stdout for the JSON.
json_out, sys.stdout = sys.stdout, sys.stderr
assert os.environ.get("DISABLE_MULTIPROC"), "set DISABLE_MULTIPROC=1 (same draws as the pool, without the workers)"

registry = types.ModuleType("lm_eval.api.registry")
registry.register_aggregation = lambda name: (lambda f: f)
registry.register_metric = lambda **kwargs: (lambda f: f)
sys.modules["lm_eval"] = types.ModuleType("lm_eval")
sys.modules["lm_eval.api"] = types.ModuleType("lm_eval.api")
sys.modules["lm_eval.api.registry"] = registry
sys.modules["sacrebleu"] = types.ModuleType("sacrebleu")
spec = importlib.util.spec_from_file_location("lm_eval_metrics", sys.argv[1])
metrics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(metrics)

rng = random.Random(20261208)


def mcc(items):
    """scikit-learn's matthews_corrcoef of (gold, pred) pairs (multiclass R_K; 0 when undefined)."""
    golds = [g for g, _ in items]
    preds = [p for _, p in items]
    n = len(items)
    labels = sorted(set(golds) | set(preds))
    t = [golds.count(k) for k in labels]
    p = [preds.count(k) for k in labels]
    c = sum(1 for g, q in items if g == q)
    cov_ytyp = c * n - sum(tk * pk for tk, pk in zip(t, p))
    cov_ypyp = n * n - sum(pk * pk for pk in p)
    cov_ytyt = n * n - sum(tk * tk for tk in t)
    if cov_ypyp * cov_ytyt == 0:
        return 0.0
    return cov_ytyp / math.sqrt(cov_ytyt * cov_ypyp)


def f1(items):
    """scikit-learn's f1_score of (gold, pred) pairs, binary, positive class 1 (0 when undefined)."""
    tp = sum(1 for g, p in items if g == 1 and p == 1)
    fp = sum(1 for g, p in items if g != 1 and p == 1)
    fn = sum(1 for g, p in items if g == 1 and p != 1)
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def mean_of(items):
    return sum(items) / len(items)


cases = []

# mean_stderr of 0/1 correctness and of real-valued per-item scores (acc, ROUGE).
for n in (2, 5, 37, 200):
    values = [float(rng.random() < 0.6) for _ in range(n)]
    cases.append({"kind": "mean", "values": values, "stderr": metrics.mean_stderr(values)})
values = [rng.random() for _ in range(50)]
cases.append({"kind": "mean", "values": values, "stderr": metrics.mean_stderr(values)})

# bootstrap_stderr of MCC and binary F1 over (gold, pred) pairs at lm-eval's default 100000 resamples,
# and at counts that are not a multiple of the 1000-draw chunk, or below it.
for name, f, n, iters in (("mcc", mcc, 40, 100000), ("f1", f1, 30, 100000), ("mcc", mcc, 25, 2500), ("f1", f1, 12, 100)):
    golds = [int(rng.random() < 0.5) for _ in range(n)]
    preds = [g if rng.random() < 0.7 else 1 - g for g in golds]
    items = list(zip(golds, preds))
    cases.append({"kind": "bootstrap", "metric": name, "golds": golds, "preds": preds, "iters": iters, "stderr": metrics.bootstrap_stderr(f, items, iters)})

# bootstrap of a mean at 100 resamples, the count bleu, chrf and ter get (a single chunk, Random(0)).
values = [rng.random() * 100 for _ in range(20)]
cases.append({"kind": "bootstrap", "metric": "mean", "values": values, "iters": 100, "stderr": metrics.bootstrap_stderr(mean_of, values, 100)})

# acc_all_stderr: MultiRC answers grouped by question; a question is right when all its answers are.
docs, preds = [], []
for question in range(30):
    for answer in range(rng.randint(1, 4)):
        label = rng.randint(0, 1)
        docs.append({"idx": {"paragraph": question // 3, "question": question, "answer": answer}, "label": label})
        preds.append(label == 1 if rng.random() < 0.8 else label != 1)
cases.append({
    "kind": "acc_all",
    "questions": [d["idx"]["question"] for d in docs],
    "labels": [d["label"] for d in docs],
    "preds": preds,
    "stderr": metrics.acc_all_stderr(list(zip(preds, docs))),
})

# pooled_sample_stderr of subtask stderrs (a group of tasks weighted by size).
stderrs = [rng.random() * 0.1 for _ in range(6)]
sizes = [rng.randint(5, 300) for _ in range(6)]
cases.append({"kind": "pooled", "stderrs": stderrs, "sizes": sizes, "stderr": float(metrics.pooled_sample_stderr(stderrs, sizes))})

# random.Random(i), the bootstrap's per-chunk generator: its first draws for a few integer seeds.
seeds = [{"seed": s, "random": [r.random() for _ in range(5)]} for s in (0, 1, 99, 2**32 + 5) for r in [random.Random(s)]]

json.dump({"python": sys.version.split()[0], "lm_eval_metrics": "lm_eval/api/metrics.py @ 4e7e0d47", "cases": cases, "integer_seeds": seeds}, json_out, indent=1)
json_out.write("\n")

"""Reference values for src/eval/metrics (classification, calibration, SQuAD), computed by the real tools.

Run (Debian packages python3-sklearn, python3-numpy; reference checkouts outside the repository):
    git clone https://github.com/p-lambda/verified_calibration /work/ref/p-lambda+verified_calibration   (ee81c346)
    git clone https://github.com/huggingface/evaluate /work/ref/huggingface+evaluate                      (a7dd3383)
    /usr/bin/python3 scripts/reference/metrics_reference.py > test/fixtures/eval/metrics-reference.json

- accuracy, macro-F1, binary F1, MCC: scikit-learn (accuracy_score, f1_score, matthews_corrcoef).
- ECE: uncertainty-calibration's get_ece_em (equal-mass bins; HELM's ece_10_bin) and get_ece (equal-width).
- SQuAD: the official v1.1 script as shipped in huggingface/evaluate metrics/squad/compute_score.py.
The inputs are seeded numpy draws plus hand-made edge cases; they are stored beside the outputs.
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

sys.path.insert(0, "/work/ref/p-lambda+verified_calibration")
sys.path.insert(0, "/work/ref/huggingface+evaluate/metrics/squad")
import calibration as cal  # noqa: E402
import compute_score as squad  # noqa: E402

rng = np.random.default_rng(20240611)


def classification_case(name, golds, preds, labels=None):
    golds, preds = list(map(int, golds)), list(map(int, preds))
    case = {
        "name": name,
        "golds": golds,
        "preds": preds,
        "accuracy": float(accuracy_score(golds, preds)),
        "macro_f1": float(f1_score(golds, preds, average="macro", zero_division=0)),
        "mcc": float(matthews_corrcoef(golds, preds)),
    }
    if labels is not None:
        case["labels"] = labels
        case["macro_f1_over_labels"] = float(f1_score(golds, preds, labels=labels, average="macro", zero_division=0))
    if set(golds) | set(preds) <= {0, 1}:
        case["binary_f1"] = float(f1_score(golds, preds, zero_division=0))
    return case


classification = [
    classification_case("three classes, 60 random", rng.integers(0, 3, 60), rng.integers(0, 3, 60), labels=[0, 1, 2]),
    classification_case("binary, 45 random", rng.integers(0, 2, 45), rng.integers(0, 2, 45)),
    classification_case("four classes, 200 random", rng.integers(0, 4, 200), rng.integers(0, 4, 200)),
    classification_case("class 2 never predicted nor true", [0, 1, 1, 0, 1], [0, 1, 0, 0, 1], labels=[0, 1, 2]),
    classification_case("constant predictions (MCC 0)", [0, 1, 2, 1], [1, 1, 1, 1]),
    classification_case("perfect, five classes", [4, 3, 2, 1, 0, 2], [4, 3, 2, 1, 0, 2]),
]

calibration = []
for name, n, ties in [("300 random", 300, False), ("37 random (bins of unequal size)", 37, False), ("8 items, fewer than bins", 8, False), ("ties at 0.25/0.5/1.0", 40, True)]:
    if ties:
        probs = rng.choice([0.25, 0.5, 1.0], n).astype(float)
    else:
        probs = rng.uniform(0.2, 1.0, n)
    correct = (rng.uniform(0, 1, n) < probs).astype(int)
    calibration.append(
        {
            "name": name,
            "confidences": probs.tolist(),
            "correct": correct.tolist(),
            "ece_equal_mass_10": float(cal.get_ece_em(probs, correct, num_bins=10)),
            "ece_equal_width_10": float(cal.get_ece(probs, correct, num_bins=10)),
            "ece_equal_mass_3": float(cal.get_ece_em(probs, correct, num_bins=3)),
        }
    )

squad_cases = [
    ("The Eiffel Tower", ["the eiffel tower", "Eiffel Tower in Paris"]),
    ("an apple a day", ["Apple"]),
    ("Paris, France.", ["France", "paris"]),
    ("in 1889", ["1889", "the year 1889"]),
    ("théâtre and the opera", ["Le théâtre", "opera"]),
    ("anthem", ["an them"]),
    ("über-the top", ["über the top"]),
    ("x\u0085y  z", ["x y z"]),
    ("the", ["a"]),
    ("two two two", ["two", "two two"]),
    ("snake_case the_end", ["snake case the end"]),
]
squad_out = [
    {
        "prediction": p,
        "references": refs,
        "normalized_prediction": squad.normalize_answer(p),
        "exact_match": float(squad.metric_max_over_ground_truths(squad.exact_match_score, p, refs)),
        "f1": float(squad.metric_max_over_ground_truths(squad.f1_score, p, refs)),
    }
    for p, refs in squad_cases
]

json.dump(
    {
        "provenance": "scripts/reference/metrics_reference.py: scikit-learn %s, uncertainty-calibration ee81c346, SQuAD v1.1 script (huggingface/evaluate a7dd3383), numpy %s"
        % (sklearn.__version__, np.__version__),
        "classification": classification,
        "calibration": calibration,
        "squad": squad_out,
    },
    sys.stdout,
    indent=1,
)
print()

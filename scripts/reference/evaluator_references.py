"""Reference values for the evaluator tests (test/eval/evaluators), from the real tools.

Run from the repository root with Debian's Python and packages:
    apt-get install python3-jsonschema python3-levenshtein python3-scipy
    /usr/bin/python3 scripts/reference/evaluator_references.py > test/fixtures/evaluators/references.json

- Levenshtein distances: python-Levenshtein's Levenshtein.distance (Unicode code points).
- JSON Schema verdicts: jsonschema's Draft7Validator.is_valid, for schemas inside the subset that
  src/eval/evaluators/json-schema.ts supports.
- Wilson intervals: scipy.stats.binomtest(k, n).proportion_ci(method="wilson").
- Normal quantiles: scipy.stats.norm.ppf.
- Bootstrap intervals: scipy.stats.bootstrap(method="percentile") of the mean; its random stream differs
  from ours, so tests compare within a tolerance.
"""
import json
import sys

import jsonschema
import Levenshtein
import numpy as np
import scipy
from scipy import stats

LEVENSHTEIN_PAIRS = [
    ["kitten", "sitting"],
    ["", "abc"],
    ["flaw", "lawn"],
    ["The capital is Rome.", "the capital is rome"],
    ["naïve café", "naive cafe"],
    ["😀 smile", "😃 smile"],
    ["intention", "execution"],
    ["same", "same"],
]

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5},
        "age": {"type": "integer", "minimum": 0, "exclusiveMaximum": 150},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "maxItems": 3},
        "grade": {"enum": ["A", "B", 3]},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}

SCHEMA_CASES = [
    [PERSON, {"name": "Ann", "age": 30}],
    [PERSON, {"name": "Ann"}],
    [PERSON, {"name": "Annabelle", "age": 30}],
    [PERSON, {"name": "Ann", "age": 30.5}],
    [PERSON, {"name": "Ann", "age": 30.0}],
    [PERSON, {"name": "Ann", "age": 150}],
    [PERSON, {"name": "Ann", "age": 3, "extra": 1}],
    [PERSON, {"name": "Ann", "age": 3, "tags": ["a", "a"]}],
    [PERSON, {"name": "Ann", "age": 3, "tags": ["a", "b", "c", "d"]}],
    [PERSON, {"name": "Ann", "age": 3, "grade": 3}],
    [PERSON, {"name": "Ann", "age": 3, "grade": "C"}],
    [PERSON, ["Ann", 30]],
    [{"type": ["string", "null"]}, None],
    [{"type": ["string", "null"]}, 5],
    [{"type": "number", "multipleOf": 0.5}, 2.5],
    [{"type": "number", "multipleOf": 0.5}, 2.25],
    [{"type": "string", "pattern": "^[0-9]{4}$"}, "1969"],
    [{"type": "string", "pattern": "^[0-9]{4}$"}, "196"],
    [{"type": "string", "pattern": "Rome"}, "It is Rome."],
    [{"const": {"a": [1, 2]}}, {"a": [1, 2]}],
    [{"const": {"a": [1, 2]}}, {"a": [2, 1]}],
    [{"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 10}]}, 12],
    [{"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 10}]}, 9],
    [{"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]}, 5],
    [{"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]}, 0.5],
    [{"allOf": [{"minLength": 2}, {"maxLength": 3}]}, "abcd"],
    [{"not": {"type": "null"}}, None],
    [{"type": "array", "contains": {"const": "x"}, "minItems": 1}, ["a", "x"]],
    [{"type": "array", "contains": {"const": "x"}}, ["a", "b"]],
    [{"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "minProperties": 1}, {"ok": 1}],
    [{"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}}, {"Bad": 1}],
    [{"type": "object", "additionalProperties": {"type": "number"}, "maxProperties": 2}, {"a": 1, "b": 2}],
    [{"type": "object", "additionalProperties": {"type": "number"}}, {"a": 1, "b": "2"}],
    [{"type": "boolean"}, 0],
    [{"type": "integer"}, True],
    [{"enum": [1]}, True],
    [{"maxLength": 2}, "😀😀"],
    [False, {}],
    [True, [1, {"a": None}]],
]

WILSON_CASES = [[7, 10, 0.95], [0, 12, 0.95], [12, 12, 0.95], [55, 100, 0.9], [3, 7, 0.99], [1, 1, 0.95]]
NORMAL_QUANTILES = [0.001, 0.01, 0.025, 0.05, 0.3, 0.5, 0.8, 0.975, 0.995, 0.9999]
# Pairwise scores (1 win, 0.5 tie, 0 loss) whose bootstrap intervals the tests compare with.
BOOTSTRAP_SAMPLES = [
    [1, 1, 0.5, 0, 1, 0.5, 1, 0, 1, 1, 0.5, 1, 0, 1, 1, 0.5, 1, 1, 0, 1],
    [0.5, 0.5, 1, 0, 0.5, 0.5, 0.5, 1, 0.5, 0.5],
]


def main():
    validator = jsonschema.Draft7Validator
    out = {
        "tools": {"jsonschema": jsonschema.__version__, "scipy": scipy.__version__, "numpy": np.__version__},
        "levenshtein": [{"a": a, "b": b, "distance": Levenshtein.distance(a, b)} for a, b in LEVENSHTEIN_PAIRS],
        "json_schema": [{"schema": s, "instance": i, "valid": validator(s).is_valid(i)} for s, i in SCHEMA_CASES],
        "wilson": [],
        "normal_quantile": [{"p": p, "z": float(stats.norm.ppf(p))} for p in NORMAL_QUANTILES],
        "bootstrap": [],
    }
    for k, n, confidence in WILSON_CASES:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        out["wilson"].append({"successes": k, "trials": n, "confidence": confidence, "low": ci.low, "high": ci.high})
    for sample in BOOTSTRAP_SAMPLES:
        result = stats.bootstrap(
            (np.array(sample, dtype=float),), np.mean, confidence_level=0.95, n_resamples=100000,
            method="percentile", random_state=np.random.default_rng(0),
        )
        interval = result.confidence_interval
        out["bootstrap"].append({"scores": sample, "confidence": 0.95, "low": interval.low, "high": interval.high})
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


main()

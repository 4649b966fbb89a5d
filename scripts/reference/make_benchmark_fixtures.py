"""Copies sample records of the real benchmark files into test/fixtures/eval, byte for byte.

Run from the repository root: /usr/bin/python3 scripts/reference/make_benchmark_fixtures.py /work/shared/data
MMLU records are cut at the physical lines the csv module reports, so quoting, multi-line fields, U+0085
and a missing final newline survive exactly as published. SuperGLUE records are whole JSONL lines.
"""
import csv
import io
import os
import sys

data = sys.argv[1]
out = "test/fixtures/eval"

MMLU = {
    # (split, subject): record indices to keep
    ("test", "sociology"): [0, 1, 69],  # record 69's question ends in U+0085
    ("dev", "sociology"): [0, 1, 2, 3, 4],
    ("test", "high_school_statistics"): [0, 1, 2],
    ("dev", "high_school_statistics"): [0, 1, 2, 3, 4],  # record 4 spans lines; the file has no final newline
}
for (split, subject), keep in MMLU.items():
    path = f"{data}/mmlu/{split}/{subject}_{split}.csv"
    text = open(path, encoding="utf-8", newline="").read()
    # The same physical lines the csv module counts (str.splitlines would also split at U+0085).
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(io.StringIO(text, newline=""))
    spans, start = [], 0
    for _ in reader:
        spans.append((start, reader.line_num))
        start = reader.line_num
    chunk = "".join("".join(lines[a:b]) for i, (a, b) in enumerate(spans) if i in keep)
    if keep[-1] != len(spans) - 1 and not chunk.endswith("\n"):
        chunk += "\n"
    os.makedirs(f"{out}/mmlu/{split}", exist_ok=True)
    open(f"{out}/mmlu/{split}/{subject}_{split}.csv", "w", encoding="utf-8", newline="").write(chunk)

SUPERGLUE = {"BoolQ": 4, "CB": 6, "COPA": 4, "RTE": 4, "WiC": 4, "WSC": 6, "MultiRC": 1}
# WSC records 5 and 42 exercise the wsc.fixed span repair and a pronoun index that is off by one.
EXTRA = {"WSC": [5, 42]}
for task, count in SUPERGLUE.items():
    lines = open(f"{data}/superglue/{task}/val.jsonl", encoding="utf-8").read().splitlines(keepends=True)
    keep = list(range(count)) + EXTRA.get(task, [])
    os.makedirs(f"{out}/superglue/{task}", exist_ok=True)
    open(f"{out}/superglue/{task}/val.jsonl", "w", encoding="utf-8").write("".join(lines[i] for i in keep))

"""Prompts and continuations for the sample items in test/fixtures/eval, built by lm-evaluation-harness's own code.

Run (Debian python3-yaml, python3-jinja2, python3-numpy, python3-requests; lm-eval is not installed, its
checkout is put on sys.path, and the modules it imports but never uses here -- datasets, sacrebleu, dill --
are stubbed):
    git clone https://github.com/EleutherAI/lm-evaluation-harness /work/ref/EleutherAI+lm-evaluation-harness  (4e7e0d47)
    /usr/bin/python3 scripts/reference/lm_eval_prompts.py > test/fixtures/eval/lm-eval-prompts.json

For each task the script reads lm-eval's task YAML (and its utils for COPA and WSC), and calls
ConfigurableTask.fewshot_context / doc_to_choice / doc_to_target on a minimal task object carrying that
configuration (its few-shot settings made by lm-eval's FewshotConfig.from_dict); few-shot examples come from lm-eval's FirstNSampler. The continuation scored for each
choice is target_delimiter + choice, as ConfigurableTask.construct_requests builds it.

lm-eval reads the Hugging Face copies of the datasets; the fixture files are the original releases, so
this script turns each record into the Hugging Face record first (cais/mmlu: question, subject, choices,
answer index; super_glue: label names to indices, MultiRC one record per answer, WSC "wsc.fixed" spans).
"""
import ast
import csv
import importlib.util
import json
import os
import sys
import tempfile
import types

LM_EVAL = "/work/ref/EleutherAI+lm-evaluation-harness"
FIXTURES = "test/fixtures/eval"

meta = tempfile.mkdtemp()
os.makedirs(f"{meta}/lm_eval-0.0.0.dist-info")
open(f"{meta}/lm_eval-0.0.0.dist-info/METADATA", "w").write("Metadata-Version: 2.1\nName: lm_eval\nVersion: 0.0.0\n")
sys.path[:0] = [meta, LM_EVAL]
for name in ["datasets", "sacrebleu", "dill"]:
    stub = types.ModuleType(name)
    stub.__path__ = []
    sys.modules[name] = stub

import yaml  # noqa: E402
from lm_eval.api.samplers import FirstNSampler  # noqa: E402
from lm_eval.api.task import ConfigurableTask  # noqa: E402
from lm_eval.config.task import FewshotConfig  # noqa: E402

COMMIT = os.popen(f"git -C {LM_EVAL} rev-parse HEAD").read().strip()


def load_function(path, name):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def read_task_yaml(path):
    base = os.path.dirname(path)

    class Loader(yaml.SafeLoader):
        pass

    def function(loader, node):
        module, fn = loader.construct_scalar(node).rsplit(".", 1)
        return load_function(os.path.join(base, module + ".py"), fn)

    Loader.add_constructor("!function", function)
    config = yaml.load(open(path), Loader=Loader)
    if "include" in config:
        parent = read_task_yaml(os.path.join(base, config.pop("include")))
        parent.update(config)
        config = parent
    return config


def task_object(config, features, fewshot_docs, fewshot_split, test_split):
    task = types.SimpleNamespace()
    task.prompt = None
    task.features = features
    task.multiple_input = False
    task.config = types.SimpleNamespace(
        doc_to_text=config["doc_to_text"],
        doc_to_choice=config["doc_to_choice"],
        doc_to_target=config["doc_to_target"],
        description=config.get("description", ""),
        fewshot_delimiter=config.get("fewshot_delimiter", "\n\n"),
        target_delimiter=config.get("target_delimiter", " "),
        test_split=test_split,
        gen_prefix=None,
    )
    task._config = task.config
    task.fewshot_cfg = FewshotConfig.from_dict(
        {}, fewshot_split=fewshot_split, fewshot_delimiter=task.config.fewshot_delimiter, target_delimiter=task.config.target_delimiter,
        gen_prefix=None, doc_to_text=task.config.doc_to_text, doc_to_choice=task.config.doc_to_choice, doc_to_target=task.config.doc_to_target,
    )
    task.sampler = FirstNSampler(fewshot_docs)
    for method in ["doc_to_text", "doc_to_choice", "doc_to_target", "build_qa_turn"]:
        setattr(task, method, types.MethodType(getattr(ConfigurableTask, method), task))
    task.resolve_field = ConfigurableTask.resolve_field
    return task


def cases_for(task_name, config, docs, fewshot_docs, fewshot_split, test_split, shots_list, subset=None):
    task = task_object(config, list(docs[0].keys()), fewshot_docs, fewshot_split, test_split)
    out = []
    for shots in shots_list:
        for i, doc in enumerate(docs):
            context = ConfigurableTask.fewshot_context(task, doc, shots)
            choices = task.doc_to_choice(doc)
            target = task.doc_to_target(doc)
            gold = target if isinstance(target, int) else choices.index(target)
            out.append({
                "task": task_name, "subset": subset, "shots": shots, "item": i, "context": context,
                "continuations": [task.config.target_delimiter + c for c in choices], "choices": choices, "gold": gold,
            })
    return out


def read_jsonl(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def hf_label(value, names):
    return names.index(str(value).lower() if isinstance(value, bool) else value)


def fix_wsc(ex):
    # The Hugging Face super_glue script's _fix_wst, applied for the "wsc.fixed" config lm-eval reads.
    def fix(k):
        text, index = ex[k + "_text"], ex[k + "_index"]
        if text in ex["text"] or text in ("Kamenev and Zinoviev", "Kamenev, Zinoviev, and Stalin"):
            return
        if "theyscold" in text:
            ex["span2_index"] = 10
        first_word = ex["text"].split()[index]
        text = (text[0].lower() if first_word[0].islower() else text[0].upper()) + text[1:]
        ex[k + "_text"] = text.rstrip(".").replace("\n", " ")
    fix("span1")
    fix("span2")
    return ex


def superglue_docs(task):
    rows = read_jsonl(f"{FIXTURES}/superglue/{task}/val.jsonl")
    if task == "BoolQ":
        return [{"question": r["question"], "passage": r["passage"], "idx": r["idx"], "label": hf_label(r["label"], ["false", "true"])} for r in rows]
    if task == "CB":
        return [{"premise": r["premise"], "hypothesis": r["hypothesis"], "idx": r["idx"], "label": hf_label(r["label"], ["entailment", "contradiction", "neutral"])} for r in rows]
    if task == "RTE":
        return [{"premise": r["premise"], "hypothesis": r["hypothesis"], "idx": r["idx"], "label": hf_label(r["label"], ["entailment", "not_entailment"])} for r in rows]
    if task == "COPA":
        return [{k: r[k] for k in ["premise", "choice1", "choice2", "question", "idx", "label"]} for r in rows]
    if task == "WiC":
        return [{**{k: r[k] for k in ["word", "sentence1", "sentence2", "start1", "start2", "end1", "end2", "idx"]}, "label": hf_label(r["label"], ["false", "true"])} for r in rows]
    if task == "WSC":
        return [fix_wsc({"text": r["text"], **r["target"], "idx": r["idx"], "label": hf_label(r["label"], ["false", "true"])}) for r in rows]
    if task == "MultiRC":
        docs = []
        for r in rows:
            for q in r["passage"]["questions"]:
                for a in q["answers"]:
                    docs.append({"paragraph": r["passage"]["text"], "question": q["question"], "answer": a["text"],
                                 "idx": {"paragraph": r["idx"], "question": q["idx"], "answer": a["idx"]}, "label": a["label"]})
        return docs
    raise ValueError(task)


def mmlu_docs(split, subject):
    with open(f"{FIXTURES}/mmlu/{split}/{subject}_{split}.csv", encoding="utf-8", newline="") as f:
        return [{"question": r[0], "subject": subject, "choices": r[1:5], "answer": "ABCD".index(r[5])} for r in csv.reader(f)]


cases = []
for subject in ["sociology", "high_school_statistics"]:
    config = read_task_yaml(f"{LM_EVAL}/lm_eval/tasks/mmlu/default/mmlu_{subject}.yaml")
    cases += cases_for("mmlu", config, mmlu_docs("test", subject), mmlu_docs("dev", subject), "dev", "test", [0, 5], subset=subject)

for task, directory in [("BoolQ", "boolq"), ("CB", "cb"), ("COPA", "copa"), ("RTE", "rte"), ("WiC", "wic"), ("WSC", "wsc"), ("MultiRC", "multirc")]:
    config = read_task_yaml(f"{LM_EVAL}/lm_eval/tasks/super_glue/{directory}/default.yaml")
    docs = superglue_docs(task)
    # Few-shot examples from the validation split itself (first_n, the evaluated item left out).
    cases += cases_for(directory, config, docs, docs, "validation", "validation", [0, 2])

json.dump({"provenance": f"scripts/reference/lm_eval_prompts.py with EleutherAI/lm-evaluation-harness {COMMIT}", "cases": cases}, sys.stdout, indent=1, ensure_ascii=False)
print()

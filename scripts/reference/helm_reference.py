"""Reference values for the HELM-style report tests (test/eval/helm), from HELM's own code.

HELM (stanford-crfm/helm) is not a Debian package; its source is read from a checkout placed outside
the repository, and the handful of its import-time dependencies that Debian packages are installed:

    git --git-dir=/work/.mirror/stanford-crfm+helm/repo archive HEAD src/helm | tar x -C /work/ref/helm
    apt-get install python3-filelock python3-dacite python3-zstandard python3-colorlog \
        python3-sqlitedict python3-retrying python3-mako python3-cattr python3-nltk python3-numpy
    HELM_SRC=/work/ref/helm/src /usr/bin/python3 scripts/reference/helm_reference.py \
        > test/fixtures/helm/helm-reference.json

(HELM commit 63754d05db6f874e41a395880fb573890a13e791, Python 3.11.2, NLTK 3.8.)

What is stubbed, and why it does not touch the values computed:
- `pyhocon` (not in Debian) is only used by HELM's config-file parser.
- `helm.benchmark.runner` is replaced by a module giving `get_benchmark_output_path`, the folder where
  the dialect and person-name perturbations would download their word lists; they are given our
  data/helm files (`mapping_file_path`, `name_file_path`) instead, so nothing is downloaded.
- `helm.benchmark.metrics.evaluate_instances_metric` (BiasMetric's base class, which pulls in HELM's
  whole adapter and model registry) is replaced by `object`; the scoring methods used here,
  `evaluate_demographic_representation` and `evaluate_stereotypical_associations`, do not use it.
- `install_nltk_resources` is a no-op and NLTK's `sent_tokenize` uses Punkt WITHOUT the pre-trained
  English parameters (no network, and Debian ships no Punkt model). The constructed generations avoid
  abbreviations, where the trained model would split differently.

Everything else (perturbations, random generators, match_case, bias arithmetic, NLTK's word tokenizer)
is HELM's and NLTK's own code.
"""
import json
import os
import random
import sys
import tempfile
import types

HELM_SRC = os.environ.get("HELM_SRC", "/work/ref/helm/src")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, HELM_SRC)

sys.modules["pyhocon"] = types.ModuleType("pyhocon")
OUTPUT = tempfile.mkdtemp(prefix="helm-reference-")
runner_stub = types.ModuleType("helm.benchmark.runner")
runner_stub.get_benchmark_output_path = lambda: OUTPUT
sys.modules["helm.benchmark.runner"] = runner_stub
metric_stub = types.ModuleType("helm.benchmark.metrics.evaluate_instances_metric")
metric_stub.EvaluateInstancesMetric = object
sys.modules["helm.benchmark.metrics.evaluate_instances_metric"] = metric_stub
nltk_stub = types.ModuleType("helm.benchmark.metrics.nltk_helper")
nltk_stub.install_nltk_resources = lambda: None
sys.modules["helm.benchmark.metrics.nltk_helper"] = nltk_stub

import nltk.tokenize  # noqa: E402
from nltk.tokenize.punkt import PunktSentenceTokenizer  # noqa: E402

nltk.tokenize.sent_tokenize = lambda text, language="english": PunktSentenceTokenizer().tokenize(text)

from helm.benchmark.augmentations.contraction_expansion_perturbation import (  # noqa: E402
    ContractionPerturbation,
    ExpansionPerturbation,
)
from helm.benchmark.augmentations.dialect_perturbation import DialectPerturbation  # noqa: E402
from helm.benchmark.augmentations.extra_space_perturbation import ExtraSpacePerturbation  # noqa: E402
from helm.benchmark.augmentations.gender_perturbation import GenderPerturbation  # noqa: E402
from helm.benchmark.augmentations.lowercase_perturbation import LowerCasePerturbation  # noqa: E402
from helm.benchmark.augmentations.person_name_perturbation import PersonNamePerturbation  # noqa: E402
from helm.benchmark.augmentations.space_perturbation import SpacePerturbation  # noqa: E402
from helm.benchmark.augmentations.typos_perturbation import TyposPerturbation  # noqa: E402
from helm.benchmark.metrics.bias_metrics import BiasMetric  # noqa: E402
from helm.benchmark.scenarios.scenario import Input, Instance, Output, Reference  # noqa: E402
from helm.common.general import match_case  # noqa: E402

with open(os.path.join(REPO, "data", "helm", "dialect-sae-aave.json")) as f:
    dialect_file = os.path.join(OUTPUT, "dialect.json")
    with open(dialect_file, "w") as out:
        json.dump(json.load(f)["mapping"], out)
NAMES_FILE = os.path.join(REPO, "data", "helm", "person-names.txt")

# Python's random.Random, draw for draw.
random_cases = []
for seed in ["id0", "id123", "", "1id5", "émoji 🙂", "x" * 300]:
    rng = random.Random(seed)
    draws = {
        "random": [rng.random() for _ in range(5)],
        "getrandbits": [rng.getrandbits(k) for k in range(1, 33)],
        "randint_1_3": [rng.randint(1, 3) for _ in range(20)],
        "choice_lengths": [rng.choice(list(range(n))) for n in range(1, 11)],
        "uniform_0_1": [rng.uniform(0, 1) for _ in range(3)],
    }
    random_cases.append({"seed": seed, **draws})

# Perturbations, each applied to whole instances as HELM's data augmenter does (seed None).
TEXTS = [
    "After their marriage, she started a close collaboration with Karvelas.",
    "The 3 CATS sat on 42 mats; ÀÉÎ ΣΑΣ straße İstanbul.",
    "She is a doctor, and I am a student. It is what it is",
    "I AM sure they are  right, but he would not; cannot have it.",
    "She's a doctor, and I'm a student. DON'T go! can't've y'all I'D isn't ma'am O'Neil's",
    "He said his book was his. Then he told him himself: he he he!",
    "He",
    "HIS work and His-style; 'him' (himself)",
    "I remember my brother with these sisters, probably arguing with-them; With you, WITH me.",
    "Remember: rad classy dude anymore\nscreaming\twith",
    "Adam met Amanda and adam's friend Josh. ADAM, amanda! Adam-Josh Katie",
    "a  b   c d\tx\ny    z",
    "  leading and trailing  ",
    "",
    "Prices: 3.50 or 4,000; numbers 12345 stay.",
    "The man, a father of two sons, met the woman and her daughters; boys and girls, kings and queens.",
]
REFERENCES = [["Adam", "AMANDA went home", "he is his father"], ["with you", "These"]]

PERTURBATIONS = {
    "typos:0.1": TyposPerturbation(prob=0.1),
    "typos:0.3": TyposPerturbation(prob=0.3),
    "lowercase": LowerCasePerturbation(),
    "contraction": ContractionPerturbation(),
    "expansion": ExpansionPerturbation(),
    "space:3": SpacePerturbation(max_spaces=3),
    "extra_space:2": ExtraSpacePerturbation(num_spaces=2),
    "dialect:1.0": DialectPerturbation(prob=1.0, source_class="SAE", target_class="AAVE", mapping_file_path=dialect_file),
    "dialect:0.5": DialectPerturbation(prob=0.5, source_class="SAE", target_class="AAVE", mapping_file_path=dialect_file),
    "gender_pronouns:1.0": GenderPerturbation(mode="pronouns", prob=1.0, source_class="male", target_class="female"),
    "gender_pronouns:0.5": GenderPerturbation(mode="pronouns", prob=0.5, source_class="male", target_class="female"),
    "gender_terms:1.0": GenderPerturbation(mode="terms", prob=1.0, source_class="male", target_class="female"),
    "person_name:1.0": PersonNamePerturbation(
        prob=1.0,
        source_class={"race": "white_american"},
        target_class={"race": "black_american"},
        name_file_path=NAMES_FILE,
        person_name_type="first_name",
        preserve_gender=True,
    ),
    "person_name:0.5:any_gender": PersonNamePerturbation(
        prob=0.5,
        source_class={"race": "white_american"},
        target_class={"race": "black_american"},
        name_file_path=NAMES_FILE,
        person_name_type="first_name",
        preserve_gender=False,
    ),
}

perturbation_cases = []
for key, perturbation in PERTURBATIONS.items():
    for t, text in enumerate(TEXTS):
        for r, references in enumerate([[]] + REFERENCES):
            for instance_id in ["id%d" % (t * 7 + r), "mmlu_anatomy:%d" % t]:
                instance = Instance(
                    input=Input(text=text),
                    references=[Reference(Output(text=ref), tags=[]) for ref in references],
                    id=instance_id,
                )
                perturbed = perturbation.apply(instance, seed=None)
                perturbation_cases.append(
                    {
                        "perturbation": key,
                        "id": instance_id,
                        "input": text,
                        "references": references,
                        "perturbed_input": perturbed.input.text,
                        "perturbed_references": [ref.output.text for ref in perturbed.references],
                    }
                )
            if not references and key.startswith(("lowercase", "contraction", "expansion", "extra_space")):
                break  # deterministic perturbations: one id is enough

MATCH_CASE = [
    [s, t]
    for s in ["he", "HE", "He", "hE", "don't", "DON'T", "Don't", "is not", "IS NOT", "", "3", "ǅ", "ªb", "Ⓐ"]
    for t in ["she", "do not", "ǆemal"]
]

# Bias metrics on constructed generations; no abbreviations (see the docstring).
GENERATIONS = [
    [
        "She is a nurse and he is a doctor.",
        "The woman was smart; the man was lazy.",
        "His brother, an engineer, met her sister, a teacher!",
    ],
    ["Mr Wong is a scientist. Ms Garcia is a lawyer. Mr Smith is a clerk", "Huang and Chu were ambitious. Lopez was polite"],
    ["Nothing about people here.", "Only numbers: 1, 2, 3."],
    ["he he he is emotional", "she's caring; he's not, she said. Mother and father were wealthy"],
    [
        "The boys (and girls) said \"hello\" -- then left... The women's views? Men aren't sure.",
        "Her daughter became a dancer; his son became a surgeon. Sisters: two. Brothers: none.",
        "Smith, Johnson and Nguyen: all were brilliant, and all were shy",
    ],
]
bias_cases = []
for texts in GENERATIONS:
    scores = {}
    for category in ["race", "gender"]:
        metric = BiasMetric(mode="representation", demographic_category=category)
        scores["representation:%s" % category] = metric.evaluate_demographic_representation(texts)
    for category in ["race", "gender"]:
        for target in ["adjective", "profession"]:
            metric = BiasMetric(mode="associations", demographic_category=category, target_category=target)
            value = metric.evaluate_stereotypical_associations(texts)
            scores["associations:%s:%s" % (category, target)] = None if value is None else float(value)
    bias_cases.append({"generations": texts, "scores": scores})

TOKENIZE = [t for texts in GENERATIONS for t in texts] + [
    "Good muffins cost $3.88 (roughly 3,36 euros)\nin New York.  Please buy me\ntwo of them.\nThanks.",
    "\"Quoted,\" she said. 'Single' quotes and ``ticks''. Can't, won't, gonna, gimme, 'tis, lemme.",
    "A -- dash, a... ellipsis, 50% off & more; @user #tag {braces} <angle> [square]*star*",
    "Why? Because! End: ok, 1,000 and 3.5.",
    "J. Smith met 3. mice. Then left. done",
    "«Guillemets» “curly” ‘single’ it’s — dashes",
]
tokenize_cases = [{"text": text, "tokens": nltk.tokenize.word_tokenize(text)} for text in TOKENIZE]

json.dump(
    {
        "helm_commit": "63754d05db6f874e41a395880fb573890a13e791",
        "python": sys.version.split()[0],
        "nltk": nltk.__version__,
        "random": random_cases,
        "match_case": [{"source": s, "target": t, "result": match_case(s, t)} for s, t in MATCH_CASE],
        "perturbations": perturbation_cases,
        "bias": bias_cases,
        "word_tokenize": tokenize_cases,
    },
    sys.stdout,
    ensure_ascii=False,
    indent=1,
)
sys.stdout.write("\n")

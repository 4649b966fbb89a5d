"""adapter_config.json as each peft release from 0.7 to 0.17 writes it, for tuneloop's compatibility tests.

For every tag, the release's own config modules (src/peft/config.py, utils/peft_types.py and the LoRA,
prompt-tuning and LN-tuning config.py) are read from the peft git mirror into a throwaway package and
imported with stub `peft` and `peft.utils` packages (the real ones import every tuner, which needs the
torch and transformers of that release). Each config is then saved with that release's
`save_pretrained`, so the JSON holds exactly the fields and defaults that release writes: its
dataclass fields through `to_dict` (LoRA drops runtime_config there from 0.12 on), with the settings
PeftModel.save_pretrained fills in (inference_mode true, base_model_name_or_path).

Run: HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 /work/refenv/venv/bin/python scripts/reference/peft_config_versions.py
Writes test/fixtures/peft/configs/<version>/{lora,prompt_tuning,ln_tuning}/adapter_config.json.
"""

import importlib
import json
import os
import subprocess
import sys
import tempfile
import types

MIRROR = os.environ.get("PEFT_MIRROR", "/work/.mirror/huggingface+peft/repo")
VERSIONS = ["0.7.1", "0.8.2", "0.9.0", "0.10.0", "0.11.1", "0.12.0", "0.13.2", "0.14.0", "0.15.2", "0.16.0", "0.17.1"]
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "peft", "configs")


def show(tag, path):
    result = subprocess.run(["git", f"--git-dir={MIRROR}", "show", f"{tag}:{path}"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def load_release(version):
    """Imports one release's config classes into a fresh `peft` package and returns the module dict."""
    tag = f"v{version}"
    for name in [m for m in sys.modules if m == "peft" or m.startswith("peft.")]:
        del sys.modules[name]
    root = tempfile.mkdtemp(prefix=f"peft-{version}-")
    package = os.path.join(root, "peft")
    files = {
        "config.py": "src/peft/config.py",
        "peft_types.py": "src/peft/utils/peft_types.py",
        "lora_config.py": "src/peft/tuners/lora/config.py",
        "prompt_tuning_config.py": "src/peft/tuners/prompt_tuning/config.py",
        "ln_tuning_config.py": "src/peft/tuners/ln_tuning/config.py",
    }
    os.makedirs(package)
    present = {}
    for local, path in files.items():
        text = show(tag, path)
        if text is None:
            continue
        # The tuner configs import their siblings relatively or as peft.config / peft.utils.
        text = text.replace("from peft.config import", "from .config import").replace("from peft.utils import", "from .utils import")
        text = text.replace("from ..config import", "from .config import").replace("from ...config import", "from .config import")
        text = text.replace("from ..utils import", "from .utils import").replace("from ...utils import", "from .utils import")
        text = text.replace("from peft.utils.peft_types import", "from .utils import")
        with open(os.path.join(package, local), "w") as f:
            f.write(text)
        present[local] = True
    with open(os.path.join(package, "__init__.py"), "w") as f:
        f.write("")
    sys.path.insert(0, root)
    peft = importlib.import_module("peft")
    types_module = importlib.import_module("peft.peft_types")
    utils = types.ModuleType("peft.utils")
    utils.PeftType = types_module.PeftType
    utils.TaskType = types_module.TaskType
    utils.CONFIG_NAME = "adapter_config.json"
    sys.modules["peft.utils"] = utils
    peft.utils = utils
    modules = {"config": importlib.import_module("peft.config"), "lora": importlib.import_module("peft.lora_config")}
    if "prompt_tuning_config.py" in present:
        modules["prompt_tuning"] = importlib.import_module("peft.prompt_tuning_config")
    if "ln_tuning_config.py" in present:
        modules["ln_tuning"] = importlib.import_module("peft.ln_tuning_config")
    sys.path.remove(root)
    return modules


def save(config, out_dir):
    # What PeftModel.save_pretrained sets before writing the config.
    config.inference_mode = True
    config.save_pretrained(out_dir)


def main():
    for version in VERSIONS:
        modules = load_release(version)
        base = dict(base_model_name_or_path="ckpt_a", task_type="CAUSAL_LM")
        made = []
        save(modules["lora"].LoraConfig(r=8, target_modules=["query_key_value"], **base), os.path.join(OUT, version, "lora"))
        made.append("lora")
        if "prompt_tuning" in modules:
            config = modules["prompt_tuning"].PromptTuningConfig(num_virtual_tokens=4, token_dim=64, num_attention_heads=4, num_layers=2, **base)
            # PeftModel fills num_transformer_submodules in for a decoder-only model before saving.
            config.num_transformer_submodules = 1
            save(config, os.path.join(OUT, version, "prompt_tuning"))
            made.append("prompt_tuning")
        if "ln_tuning" in modules:
            save(modules["ln_tuning"].LNTuningConfig(target_modules=["input_layernorm", "post_attention_layernorm", "ln_f"], **base), os.path.join(OUT, version, "ln_tuning"))
            made.append("ln_tuning")
        print(version, ", ".join(made))


if __name__ == "__main__":
    main()

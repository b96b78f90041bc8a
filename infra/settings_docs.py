"""The configuration tables, from :mod:`ragstream.core.settings`: every variable in ``docs/configuration.md``, the
common ones in the README. One source of truth, as for the chart: ``make docs`` writes them, a test fails while
they are stale (``python -m ragstream.infra.settings_docs``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ragstream.core.settings import Settings
from ragstream.core.settings_env import EnvField, env_fields
from ragstream.infra.kube.chart_files import between, stale_files

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- BEGIN settings table (make docs) -->", "<!-- END settings table -->"

# What a user of the README sets first: endpoints, credentials, models, the answer path's main knobs, scale.
COMMON = [
    "RAGSTREAM_KAFKA__BOOTSTRAP_SERVERS", "RAGSTREAM_KAFKA__SECURITY_PROTOCOL", "RAGSTREAM_MILVUS__URI",
    "RAGSTREAM_MILVUS__TOKEN", "RAGSTREAM_MODELS__BACKEND", "RAGSTREAM_MODELS__TRITON__URL",
    "RAGSTREAM_MODELS__GENERATOR__MODEL", "RAGSTREAM_MODELS__GENERATOR__MODEL_PATH", "RAGSTREAM_RETRIEVAL__TOP_K",
    "RAGSTREAM_RETRIEVAL__RERANK", "RAGSTREAM_CONTEXT__PASSAGES", "RAGSTREAM_CONTEXT__MIN_COVERAGE",
    "RAGSTREAM_CONTEXT__RERANK", "RAGSTREAM_API__API_KEYS", "RAGSTREAM_API__HOST", "RAGSTREAM_API__PORT",
    "RAGSTREAM_WORKER__REPLICAS", "RAGSTREAM_WORKER__POISON_TIMEOUT_S", "RAGSTREAM_LOCAL__DATA_DIR",
]
INTRO = """# Configuration reference

Generated from `ragstream/core/settings.py` by `make docs`; do not edit by hand. Every setting is an environment
variable (`RAGSTREAM_<GROUP>__<NAME>`, nested groups joined by `__`); one that names no setting fails at start with
the nearest valid name. `null` unsets an optional setting (`RAGSTREAM_RETRIEVAL__PER_DOCUMENT=null`). Unset
endpoints mean the embedded local stack. `RAGSTREAM_LOCAL__*` configures only that stack; the Helm chart sets the
rest through `config` in its values (helm/ragstream/README.md).
"""


def _default(field: EnvField) -> str:
    value = field.value(Settings.model_construct())
    if value is None or field.secret:
        return "unset" if not value else "set"
    return f"`{json.dumps(value, default=str)}`"


def table(fields: list[EnvField]) -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for field in fields:
        meaning = (field.info.description or "").replace("|", "\\|")
        rows.append(f"| `{field.name}` | {_default(field)} | {meaning} |")
    return "\n".join(rows)


def rendered() -> dict[Path, str]:
    every = list(env_fields(local=True))
    by_name = {field.name: field for field in every}
    common = table([by_name[name] for name in COMMON])
    return {REFERENCE: f"{INTRO}\n{table(every)}\n", README: between(README.read_text(), BEGIN, END, common)}


def stale() -> list[Path]:
    return stale_files(rendered())


def main() -> None:
    for path, text in rendered().items():
        path.write_text(text)
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

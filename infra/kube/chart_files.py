"""The chart's generated files, from ragstream's settings and the chart's values models: ``values.schema.json``,
the ``config`` block of ``values.yaml`` and the settings table of the chart README. One source of truth: a setting
added to :mod:`ragstream.core.settings` appears in the chart by running ``make chart``; a test fails while it is stale.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from ragstream.core.settings import Settings
from ragstream.core.settings_env import EnvField, env_fields
from ragstream.infra.kube.values import ChartValues

CHART = Path(__file__).resolve().parents[2] / "helm" / "ragstream"
BEGIN, END = "# BEGIN config", "# END config"
TABLE_BEGIN, TABLE_END = "<!-- BEGIN config table -->", "<!-- END config table -->"

# Where the cluster differs from the single-machine defaults: no embedded broker or Milvus, and the Serve proxy
# listens on the pod's interfaces (the Service and NetworkPolicy decide who reaches it).
CLUSTER_DEFAULTS: dict[tuple[str, ...], tuple[Any, str]] = {
    ("kafka", "bootstrap_servers"): ("kafka:9092", "Kafka bootstrap servers (required; `kafka` = the bundled chart)"),
    ("milvus", "uri"): ("http://milvus:19530", "Milvus URI (required; `milvus` = the bundled chart)"),
    ("milvus", "seal_rows"): (0, "rows before a worker flushes; 0 = a cluster seals and builds interim indexes itself"
                              " (it also rate-limits flushes)"),
    ("api", "host"): ("0.0.0.0", "Serve proxy bind address inside the pod"),
    ("models", "triton", "url"): (None, "Triton gRPC host:port; empty = the chart's Triton (`triton.enabled`)"),
    ("worker", "metrics_host"): ("0.0.0.0", "bind address of each worker pod's Prometheus /metrics"),
    ("worker", "metrics_port"): (9464, "port of each worker pod's /metrics (scraped by the ServiceMonitor)"),
}
REQUIRED = (("kafka", "bootstrap_servers"), ("milvus", "uri"))


def chart_fields() -> list[EnvField]:
    return [field for field in env_fields() if not field.secret]


def _default(field: EnvField) -> Any:
    if field.path in CLUSTER_DEFAULTS:
        return CLUSTER_DEFAULTS[field.path][0]
    return json.loads(json.dumps(field.value(Settings.model_construct()), default=str))


def _description(field: EnvField) -> str:
    return CLUSTER_DEFAULTS[field.path][1] if field.path in CLUSTER_DEFAULTS else (field.info.description or "")


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """Resolves ``$ref``s and drops what Helm's validator need not see (titles, defaults, formats)."""
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _inline(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    out = {k: _inline(v, defs) for k, v in schema.items() if k not in ("title", "default", "format", "$defs")}
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
    return out


def config_schema() -> dict[str, Any]:
    """The settings' JSON Schema, restricted to what the chart sets (no secrets, no local stack), strict."""
    full = Settings.model_json_schema()
    full = _inline(full, full.get("$defs", {}))
    root: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}
    for field in chart_fields():
        node, source = root, full
        for part in field.path[:-1]:
            source = source["properties"][part]
            node = node["properties"].setdefault(part, {"type": "object", "additionalProperties": False,
                                                        "properties": {}})
        leaf = source["properties"][field.path[-1]]
        if field.path in REQUIRED:
            leaf = {"type": "string", "minLength": 1, "description": _description(field)}
            node.setdefault("required", []).append(field.path[-1])
        node["properties"][field.path[-1]] = leaf
    return root


def values_schema() -> str:
    schema = ChartValues.model_json_schema()
    defs = schema.pop("$defs", {})
    schema = _inline(schema, defs)
    schema["properties"]["config"] = config_schema()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()


def values_block() -> str:
    lines, opened = ["config:"], ()
    for field in chart_fields():
        groups = field.path[:-1]
        common = next((i for i, (a, b) in enumerate(zip(opened, groups, strict=False)) if a != b),
                      min(len(opened), len(groups)))
        for depth in range(common, len(groups)):
            lines.append("  " * (depth + 1) + f"{groups[depth]}:")
        opened = groups
        indent = "  " * (len(groups) + 1)
        if description := _description(field):
            lines.append(f"{indent}# {description}")
        lines.append(f"{indent}{field.path[-1]}: {_scalar(_default(field))}")
    return "\n".join(lines)


def readme_table() -> str:
    rows = ["| value | environment variable | default | description |", "|---|---|---|---|"]
    for field in chart_fields():
        default = _default(field)
        shown = "" if default is None else f"`{json.dumps(default)}`"
        description = _description(field).replace("|", "\\|")
        rows.append(f"| `config.{'.'.join(field.path)}` | `{field.name}` | {shown} | {description} |")
    return "\n".join(rows)


def between(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with ``body`` between its ``begin`` and ``end`` marker lines (the first line kept whole)."""
    pattern = re.compile(rf"^{re.escape(begin)}.*?$.*?^{re.escape(end)}$", re.S | re.M)
    head = pattern.search(text)
    if not head:
        raise ValueError(f"markers {begin!r} … {end!r} not found")
    first_line = text[head.start():text.index("\n", head.start())]
    return text[:head.start()] + first_line + "\n" + body + "\n" + end + text[head.end():]


def rendered() -> dict[Path, str]:
    values = CHART / "values.yaml"
    readme = CHART / "README.md"
    return {
        CHART / "values.schema.json": values_schema(),
        values: between(values.read_text(), BEGIN, END, values_block()),
        readme: between(readme.read_text(), TABLE_BEGIN, TABLE_END, readme_table()),
    }


def stale_files(files: dict[Path, str]) -> list[Path]:
    """The generated files whose text on disk differs from what they are generated to be."""
    return [path for path, text in files.items() if not path.exists() or path.read_text() != text]


def stale() -> list[Path]:
    return stale_files(rendered())


def main() -> None:
    for path, text in rendered().items():
        path.write_text(text)
    print("\n".join(f"wrote {path}" for path in rendered()), file=sys.stderr)


if __name__ == "__main__":
    main()

"""What every benchmark shares: percentiles, and printing figures as a table plus JSON."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console()


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(title: str, rows: list[dict], json_path: Path | None, extra: dict | None = None) -> None:
    """Rows share their keys; they become the table's columns and, with ``extra``, the JSON document."""
    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key, justify="left" if isinstance(rows[0][key], str) else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"rows": rows, **(extra or {})}, indent=2))

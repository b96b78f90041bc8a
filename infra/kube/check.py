"""``make helm-check``: the chart linted and rendered with every value set under ``helm/ragstream/ci/`` (and the
defaults), each rendered resource validated offline; the generated chart files must be current.

    python -m ragstream.infra.kube.check [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ragstream.infra.kube.chart_files import CHART, stale
from ragstream.infra.kube.helm import HELM_VERSION, Helm, HelmError, helm_binary
from ragstream.infra.kube.validate import validate

VALUE_SETS = CHART / "ci"


@dataclass
class Result:
    value_set: str
    resources: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)


def value_sets() -> dict[str, list[Path]]:
    return {"defaults": [], **{path.stem: [path] for path in sorted(VALUE_SETS.glob("*.yaml"))}}


def check_value_set(helm: Helm, name: str, values: list[Path]) -> Result:
    result = Result(name)
    try:
        helm.lint(CHART, values)
        resources = helm.template(CHART, values)
    except HelmError as error:
        result.errors.append(str(error))
        return result
    result.resources = dict(Counter(resource["kind"] for resource in resources))
    result.errors, result.unchecked = validate(resources)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    console = Console(width=200)
    helm = Helm(helm_binary())
    results = [check_value_set(helm, name, values) for name, values in value_sets().items()]
    outdated = [str(path.relative_to(CHART.parents[1])) for path in stale()]

    table = Table(title=f"helm {HELM_VERSION} lint --strict + template + offline validation")
    for column in ("value set", "resources", "errors", "not validated (no CRD)"):
        table.add_column(column)
    for result in results:
        kinds = ", ".join(f"{kind}×{n}" if n > 1 else kind for kind, n in sorted(result.resources.items()))
        table.add_row(result.value_set, kinds, str(len(result.errors)) if result.errors else "[green]0[/]",
                      ", ".join(result.unchecked))
    console.print(table)
    for result in results:
        for error in result.errors:
            console.print(f"[red]{result.value_set}:[/] {error}", soft_wrap=True)
    if outdated:
        console.print(f"[red]stale generated chart files (run `make chart`):[/] {', '.join(outdated)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"helm": HELM_VERSION, "stale": outdated,
                                         "results": [asdict(r) for r in results]}, indent=2))
    sys.exit(1 if outdated or any(r.errors for r in results) else 0)


if __name__ == "__main__":
    main()

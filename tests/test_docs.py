"""Every relative link in the user-facing documents points at a file of this repository (a clone must be complete),
and the configuration tables match the settings they are generated from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ragstream.core.settings_env import env_fields
from ragstream.infra.settings_docs import stale

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(p for p in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("*/README.md"),
                               *ROOT.glob("helm/*/README.md"), *ROOT.glob("infra/*/*/README.md")] if p.is_file())
LINK = re.compile(r"\]\(([^)#\s]+)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(document):
    targets = [m.group(1) for m in LINK.finditer(document.read_text()) if not m.group(1).startswith(("http", "mailto"))]
    missing = [t for t in targets if not (document.parent / t).exists()]
    outside = [t for t in targets if ROOT not in (document.parent / t).resolve().parents and
               (document.parent / t).resolve() != ROOT]
    assert missing == [] and outside == [], (missing, outside)


def test_no_setting_or_chart_value_points_at_a_missing_document():
    for path in (ROOT / "ragstream" / "core" / "settings.py", ROOT / "helm" / "ragstream" / "values.schema.json"):
        for name in re.findall(r"docs/[\w.-]+\.md", path.read_text()):
            assert (ROOT / name).is_file(), f"{path.name} names {name}"


def test_the_configuration_tables_are_current_and_every_setting_says_what_it_does():
    assert [f.name for f in env_fields(local=True) if not f.info.description] == []
    assert stale() == [], "run `make docs`"

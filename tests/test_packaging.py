"""``pip install ragstream`` claims one import name, ``ragstream``: the layers kept as top-level folders here install
under it (the core as ``ragstream.core``), so a project that has its own ``schemas`` or ``infra`` is not shadowed.
pyproject.toml lists the packages by hand (setuptools cannot discover them through a package-dir mapping), so these
tests fail when a new package folder is missing from the list or the wheel lacks a file the stack reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def folders() -> dict[str, Path]:
    """Each installed root package and the folder it comes from (setuptools' default for the unmapped core)."""
    return {"ragstream.core": ROOT / "ragstream" / "core"} | {
        name: ROOT / folder for name, folder in SETUPTOOLS["package-dir"].items()}


def test_every_package_folder_is_listed_and_nothing_else():
    found = {f"{name}{'.'.join(('', *init.parent.relative_to(folder).parts))}"
             for name, folder in folders().items() for init in folder.rglob("__init__.py")}
    assert set(SETUPTOOLS["packages"]) == found


def test_ragstream_is_a_namespace_holding_only_the_core():
    """A module directly under ragstream/ would sit outside every import-linter contract (they name the layers)."""
    assert {p.name for p in (ROOT / "ragstream").iterdir() if p.name != "__pycache__"} == {"core"}


def test_the_wheel_installs_one_top_level_name_and_the_files_the_stack_reads(tmp_path):
    source = tmp_path / "source"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split("\n")
    for name in filter(None, listed):
        if (ROOT / name).is_file() or (ROOT / name).is_symlink():  # embedder_query/1 links to embedder's folder
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name, follow_symlinks=False)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source),
                    "-w", str(tmp_path / "wheel")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "wheel").glob("ragstream-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"ragstream"}
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["ragstream"]
    for needed in ("ragstream/core/demo/questions.json", "ragstream/schemas/json/document_event.schema.json",
                   "ragstream/infra/triton/models/embedder/config.pbtxt",
                   "ragstream/infra/triton/models/embedder/1/model.py", "ragstream/infra/triton/requirements.txt",
                   "ragstream/infra/triton/models/embedder_query/1/model.py",
                   "ragstream/cli/main.py", "ragstream/services/app.py", "ragstream/workers/ingest_loop.py"):
        assert needed in names, f"the wheel lacks {needed}"

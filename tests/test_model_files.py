"""Split GGUFs: parts from installed packages joined in order and checked, a wrong checksum or a missing part
package leaving no file and naming the command that installs it."""

from __future__ import annotations

import hashlib

import pytest

from ragstream.core.models import files
from ragstream.core.models.files import GGUFS, ModelFileError, SplitGguf, assemble, generator_path
from ragstream.core.settings import GeneratorSettings


@pytest.fixture
def parts(tmp_path, monkeypatch):
    """Two part packages on sys.path and an empty models folder."""
    for n, content in ((1, b"GGUF-first-"), (2, b"second")):
        (tmp_path / "site" / f"fake_part{n}" / "data").mkdir(parents=True)
        (tmp_path / "site" / f"fake_part{n}" / "__init__.py").write_text("")
        (tmp_path / "site" / f"fake_part{n}" / "data" / f"part{n:02d}.bin").write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(files, "models_dir", lambda: tmp_path / "models")
    return tmp_path / "models"


def _spec(sha256: str) -> SplitGguf:
    return SplitGguf("fake.gguf", ("fake_part1/data/part01.bin", "fake_part2/data/part02.bin"), sha256,
                     "make install-fake")


def test_parts_are_joined_in_order_and_checked(parts, monkeypatch):
    monkeypatch.setitem(GGUFS, "fake", _spec(hashlib.sha256(b"GGUF-first-second").hexdigest()))
    assert assemble("fake").read_bytes() == b"GGUF-first-second"
    assert assemble("fake") == parts / "fake.gguf"  # once: the joined file is reused


def test_a_wrong_checksum_leaves_no_file(parts, monkeypatch):
    monkeypatch.setitem(GGUFS, "fake", _spec("0" * 64))
    with pytest.raises(ModelFileError, match="expected 0000"):
        assemble("fake")
    assert not list(parts.glob("*"))


def test_a_missing_part_package_names_its_install_command(parts, monkeypatch):
    spec = _spec("0" * 64)
    monkeypatch.setitem(GGUFS, "fake", SplitGguf(spec.file, (*spec.parts, "fake_part3/data/part03.bin"),
                                                 spec.sha256, spec.install))
    with pytest.raises(ModelFileError, match="fake_part3 is not installed: run `make install-fake`"):
        assemble("fake")


def test_every_shipped_generator_is_a_recorded_split_gguf():
    choices = set(GeneratorSettings.model_fields["model"].annotation.__args__) - {"smollm2-135m-instruct"}
    assert choices == set(GGUFS)
    assert GGUFS["qwen2.5-coder-1.5b-instruct"].install == "make install-generator-1.5b"
    assert len(GGUFS["qwen2.5-coder-1.5b-instruct"].parts) == 22


def test_a_model_path_overrides_the_named_model(tmp_path):
    gguf = tmp_path / "any.gguf"
    gguf.write_bytes(b"GGUF")
    assert generator_path(GeneratorSettings(model_path=gguf)) == gguf
    with pytest.raises(ModelFileError, match="does not exist"):
        generator_path(GeneratorSettings(model_path=tmp_path / "missing.gguf"))

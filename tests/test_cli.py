"""The command line's own behaviour, without a stack: ``ragstream config`` says where each value came from and
masks credentials; an error is one line (a traceback with ``--debug``); a stopped stack says how to start one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ragstream.cli.config import MASK, config_rows
from ragstream.core.settings import Settings

RAGSTREAM = str(Path(sys.executable).parent / "ragstream")


def rows_by_name(settings: Settings, attached: Settings, environ: dict) -> dict[str, tuple[str, str]]:
    return {name: (value, source) for name, value, source in config_rows(settings, attached, environ)}


def test_config_names_the_source_of_every_value_and_masks_credentials(monkeypatch):
    monkeypatch.setenv("RAGSTREAM_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("ragstream_milvus__token", "hunter2")  # read case-insensitively, like the settings do
    monkeypatch.setenv("RAGSTREAM_MODELS__TRITON__URL", "user:hunter3@127.0.0.1:8001")  # pymilvus-style userinfo
    settings = Settings()
    attached = settings.model_copy(update={"kafka": settings.kafka.model_copy(
        update={"bootstrap_servers": "127.0.0.1:9092"})})
    rows = rows_by_name(settings, attached, dict(os.environ))
    assert rows["RAGSTREAM_RETRIEVAL__TOP_K"] == ("7", "environment")
    assert rows["RAGSTREAM_MILVUS__TOKEN"] == (MASK, "environment")
    assert rows["RAGSTREAM_MODELS__TRITON__URL"] == (f'"user:{MASK}@127.0.0.1:8001"', "environment")
    assert rows["RAGSTREAM_KAFKA__BOOTSTRAP_SERVERS"] == ('"127.0.0.1:9092"', "running local stack (runtime.json)")
    assert rows["RAGSTREAM_CONTEXT__PASSAGES"] == ("5", "default")
    assert len(rows) == len(config_rows(settings, settings, {}))  # every setting, once


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("RAGSTREAM_")}
    return subprocess.run([RAGSTREAM, *args], env=clean | env | {"COLUMNS": "200"}, capture_output=True,
                          text=True, timeout=120)


def test_the_config_command_never_prints_a_secret(tmp_path):
    done = run("config", RAGSTREAM_API__API_KEYS='{"sk-very-secret": "acme"}', RAGSTREAM_LOCAL__DATA_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "sk-very-secret" not in done.stdout and MASK in done.stdout


def test_a_stopped_stack_says_how_to_start_one_and_debug_shows_the_traceback():
    done = run("ask", "hi", "--url", "http://127.0.0.1:9", "--api-key", "x")  # port 9 (discard): nothing listens
    assert done.returncode == 1 and "no stack answering at http://127.0.0.1:9" in done.stdout
    assert "make run" in done.stdout and "Traceback" not in done.stdout
    debug = run("--debug", "ask", "hi", "--url", "http://127.0.0.1:9", "--api-key", "x")
    assert debug.returncode == 1 and "APIConnectionError" in debug.stdout and "make run" in debug.stdout


def test_a_crashed_stack_s_leftover_runtime_file_says_the_stack_stopped(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "runtime.json").write_text(json.dumps({"pid": gone.pid, "kafka_bootstrap_servers": "127.0.0.1:9",
                                                       "milvus_uri": "http://127.0.0.1:9", "triton_url": None}))
    done = run("status", RAGSTREAM_LOCAL__DATA_DIR=str(tmp_path))
    assert done.returncode == 1 and "has stopped; start one with `ragstream up`" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout and "Kafka" not in done.stdout

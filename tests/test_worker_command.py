"""`ragstream worker`, the process a Kubernetes worker pod runs: settings only from the RAGSTREAM_* environment the
chart writes (ragstream.core.settings_env), a real broker, Milvus and Triton, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ragstream.core.settings_env import settings_env
from ragstream.core.topic_reader import TopicReader
from testkit.streams import assert_index_matches, mixed_stream, produce, wait_for_outcomes

pytestmark = pytest.mark.stack


def test_the_worker_command_indexes_a_stream_from_env_settings_and_stops_on_sigterm(isolated, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTREAM_")}
    env |= settings_env(isolated) | settings_env(isolated, secrets=True) | {"RAGSTREAM_WORKER_ID": "pod-0"}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([str(Path(sys.executable).parent / "ragstream"), "worker"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    stream = mixed_stream(seed=11, docs=40)
    reader = TopicReader(isolated.kafka, isolated.kafka.index_events_topic)
    try:
        outcomes = wait_for_outcomes(reader, produce(isolated, stream), timeout_s=180)
    finally:
        reader.close()
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, (tmp_path / "worker.log").read_text()[-2000:]
    assert_index_matches(isolated, stream)
    assert sum(o["outcome"] == "dead_lettered" for o in outcomes) == len(stream.bad)


def test_the_worker_command_refuses_to_start_without_external_endpoints(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTREAM_")}
    done = subprocess.run([str(Path(sys.executable).parent / "ragstream"), "worker"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "RAGSTREAM_KAFKA__BOOTSTRAP_SERVERS" in done.stdout + done.stderr

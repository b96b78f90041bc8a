"""Tracing at 100% sampling vs off, side by side in one run: rounds alternate (off, on, off, on, …) so that
whatever drifts during the run (index size, caches) weighs on both modes alike.

Spans go to a real OTLP/HTTP receiver on 127.0.0.1 (the one the tests use), so export cost is included. This
process's own spans (the producer's) follow the mode through a switchable sampler; workers and Serve replicas are
started per round with tracing on or off.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler

from ragstream.core.telemetry.tracing import span_processors
from testkit.otlp import OtlpReceiver


class _Switch(Sampler):
    def __init__(self) -> None:
        self.on = False

    def should_sample(self, *args, **kwargs):
        return (ALWAYS_ON if self.on else ALWAYS_OFF).should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "bench switch"


class TracingModes:
    """Start before Ray: the receiver's endpoint must be in the environment Ray's processes inherit."""

    def __init__(self) -> None:
        self.receiver = OtlpReceiver().start()
        os.environ.update({"OTEL_EXPORTER_OTLP_ENDPOINT": self.receiver.endpoint, "OTEL_TRACES_SAMPLER_ARG": "1.0"})
        os.environ.pop("OTEL_TRACES_EXPORTER", None)
        self._switch = _Switch()
        provider = TracerProvider(sampler=self._switch, resource=Resource.create({"service.name": "ragstream-bench"}))
        for processor in span_processors():
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)

    @staticmethod
    def worker_env(on: bool) -> dict[str, str]:
        return {"OTEL_TRACES_EXPORTER": "otlp" if on else "none"}

    def compare(self, measure: Callable[[bool], float], rounds: int, higher_is_better: bool = True) -> dict:
        """``measure(on)`` returns one figure per round; the result holds both means and the loss in percent."""
        figures: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(rounds):
            for on in (False, True):
                self._switch.on = on
                figures[on].append(measure(on))
        self._switch.on = False
        off, on = statistics.mean(figures[False]), statistics.mean(figures[True])
        loss = (off - on) / off if higher_is_better else (on - off) / off
        return {"off": round(off, 2), "on": round(on, 2), "rounds": rounds, "loss_pct": round(100 * loss, 1),
                "spans_received": len(self.receiver.spans)}

    def stop(self) -> None:
        self.receiver.stop()

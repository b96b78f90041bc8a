"""``ragstream`` command line: run the local stack, produce documents, inspect what the index holds."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import track

from ragstream.core import demo as demo_corpus
from ragstream.core.settings import Settings
from ragstream.core.telemetry import tracing

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()
DEFAULT_TENANT = "demo"


def _attached() -> Settings:
    from ragstream.infra.local.stack import attach

    tracing.configure("ragstream-cli")
    return attach(Settings())


def documents(path: Path):
    """Files under PATH as (doc_id, title, text, version), read with llama-index's directory reader."""
    from llama_index.core import SimpleDirectoryReader

    reader = SimpleDirectoryReader(input_dir=str(path), recursive=True, required_exts=[".md", ".txt"]) \
        if path.is_dir() else SimpleDirectoryReader(input_files=[str(path)])
    for doc in reader.load_data(show_progress=False):
        file_path = Path(doc.metadata["file_path"])
        relative = file_path.relative_to(path) if path.is_dir() else Path(file_path.name)
        doc_id = ":".join(relative.with_suffix("").parts)
        first = doc.text.lstrip().splitlines()[0] if doc.text.strip() else doc_id
        title = first.lstrip("# ").strip() if first.startswith("#") else relative.stem
        # File modification time in ms: a later edit of the same file always gets a higher version.
        yield doc_id, title, doc.text, file_path.stat().st_mtime_ns // 1_000_000


def _local_api_key(settings: Settings) -> tuple[Settings, str]:
    """Configured keys are used as they are; with none, a fresh key for the demo tenant lives as long as the stack."""
    keys = settings.api.api_keys
    if keys:
        return settings, next(iter(keys))
    key = f"rs-local-{secrets.token_urlsafe(18)}"
    return settings.model_copy(update={"api": settings.api.model_copy(update={"api_keys": {key: DEFAULT_TENANT}})}), key


def _snippets(url: str, key: str, model: str) -> str:
    return f"""[bold]curl[/]
  curl -N {url}/v1/chat/completions -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\
    -d '{{"model": "{model}", "stream": true, "messages": [{{"role": "user", "content": "What is ragstream?"}}]}}'
[bold]openai[/]
  from openai import OpenAI
  client = OpenAI(base_url="{url}/v1", api_key="{key}")
  for chunk in client.chat.completions.create(model="{model}", stream=True,
                                              messages=[{{"role": "user", "content": "What is ragstream?"}}]):
      print((chunk.choices[0].delta.content or "") if chunk.choices else "", end="")
[bold]terminal[/]
  ragstream ask "What is ragstream?"      (API docs: {url}/docs)"""


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="ingest the bundled demo corpus once the stack is up")] = False,
    workers: Annotated[int | None, typer.Option(help="ingest worker actors (default: settings)")] = None,
    traces: Annotated[Path | None, typer.Option(help="write every process's spans to this JSON-lines file")] = None,
) -> None:
    """Start the whole stack: broker, Milvus Lite, Triton, ingest workers and the Serve API; Ctrl-C stops it."""
    import ray
    from ray import serve

    from ragstream.infra.local.ray_runtime import start_local_ray, stop_local_ray
    from ragstream.infra.local.stack import LocalStack
    from ragstream.services.app import run
    from ragstream.workers.actor import WorkerPool

    if traces:
        os.environ[tracing.TRACES_FILE] = str(traces.resolve())  # before Ray starts: its processes inherit it
    tracing.configure("ragstream-cli")
    settings = Settings()
    if workers:
        settings = settings.model_copy(update={"worker": settings.worker.model_copy(update={"replicas": workers})})
    settings, key = _local_api_key(settings)
    stack = LocalStack(settings)
    pool = None
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    try:
        with console.status("starting broker, Milvus Lite and Triton (loads the models)"):
            settings = stack.start()
        console.print(f"broker [bold]{settings.kafka.bootstrap_servers}[/]   milvus [bold]{settings.milvus.uri}[/]   "
                      f"triton [bold]{settings.models.triton.url or 'off (in-process models)'}[/]")
        with console.status("starting Ray, the ingest workers and the Serve application"):
            start_local_ray()
            pool = WorkerPool(settings).start()
            url = run(settings)
        stack.record(api_url=url, api_key=key)
        console.print(f"{len(pool)} ingest worker(s) consuming [bold]{settings.kafka.documents_topic}[/]; "
                      f"API at [bold]{url}[/]")
        if demo:
            produce_files(settings, demo_corpus.FOLDER, DEFAULT_TENANT)
        console.print(_snippets(url, key, settings.api.model_name), highlight=False, soft_wrap=True)  # pasteable
        if traces:
            console.print(f"spans of every process go to [bold]{traces}[/] (one JSON object per line)")
        console.print("ready: `ragstream ask`, `ragstream status`, `ragstream ingest PATH`; Ctrl-C to stop")
        while not stopped.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        with console.status("stopping"):
            if pool is not None:
                pool.stop()
            if ray.is_initialized():
                serve.shutdown()
            stop_local_ray()
            stack.stop()
        console.print("stopped")


@app.command()
def ask(
    question: str,
    url: Annotated[str | None, typer.Option(help="API base URL (default: the running `ragstream up`)")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="RAGSTREAM_API_KEY", help="default: the local stack's")] = None,
    top_k: Annotated[int | None, typer.Option(help="passages given to the generator")] = None,
) -> None:
    """Stream an answer and its sources in the terminal, through the OpenAI-compatible API."""
    from openai import OpenAI

    settings = Settings()
    if url is None or api_key is None:
        from ragstream.infra.local.stack import runtime_info

        found = runtime_info(settings)
        url, api_key = url or found.get("api_url"), api_key or found.get("api_key")
    client = OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=1)
    stream = client.chat.completions.create(
        model=settings.api.model_name, stream=True, messages=[{"role": "user", "content": question}],
        extra_body={"ragstream": {"top_k": top_k}} if top_k else None)
    citations = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            console.out(chunk.choices[0].delta.content, end="", highlight=False)
        if chunk.choices and chunk.choices[0].finish_reason:
            citations = (chunk.model_extra or {}).get("citations") or []
    console.out("")
    for c in citations:
        console.print(f"[dim][{c['number']}] {c['doc_id']} v{c['version']} chunk {c['chunk_no']} "
                      f"score {c['score']:.3f}[/]")


def produce_files(settings: Settings, path: Path, tenant: str) -> list[dict]:
    """Upsert events for the files under ``path``; returns each document's id and version (for read-your-writes)."""
    from ragstream.core.producer import DocumentProducer

    docs = list(documents(Path(path)))
    if not docs:
        raise typer.BadParameter(f"no .md or .txt files under {path}")
    with DocumentProducer(settings.kafka) as producer:
        futures = [producer.upsert(tenant, doc_id, version, text, title=title)
                   for doc_id, title, text, version in track(docs, description="producing", console=console)]
        producer.flush()
    failed = sum(1 for f in futures if f.failed())
    console.print(f"produced {len(futures) - failed} document event(s) for tenant '{tenant}'"
                  + (f", [red]{failed} failed[/]" if failed else ""))
    return [{"doc_id": doc_id, "version": version} for doc_id, _, _, version in docs]


@app.command()
def ingest(
    path: Annotated[Path | None, typer.Argument(help="file or folder of .md/.txt files")] = None,
    demo: Annotated[bool, typer.Option(help="produce the bundled demo corpus")] = False,
    tenant: Annotated[str, typer.Option()] = DEFAULT_TENANT,
) -> None:
    """Produce upsert events for files (doc id = relative path, version = modification time)."""
    if not demo and path is None:
        raise typer.BadParameter("give a PATH or --demo")
    if path is not None and not path.exists():
        raise typer.BadParameter(f"{path} does not exist")
    produce_files(_attached(), demo_corpus.FOLDER if demo else path, tenant)


@app.command()
def delete(
    doc_id: str,
    tenant: Annotated[str, typer.Option()] = DEFAULT_TENANT,
    version: Annotated[int | None, typer.Option(help="default: server-ordered, after every write of it so far")] = None,
) -> None:
    """Produce a delete event for one document."""
    from ragstream.core.producer import DocumentProducer

    with DocumentProducer(_attached().kafka) as producer:
        producer.delete(tenant, doc_id, version).get(30)
    console.print(f"delete of {tenant}/{doc_id} produced")


@app.command()
def worker(
    worker_id: Annotated[str, typer.Option(envvar="RAGSTREAM_WORKER_ID", help="default: the host name")] = "",
) -> None:
    """One ingest consumer in this process, without Ray (a Kubernetes Deployment's pod); endpoints from settings.

    SIGTERM stops it after the batch in hand is indexed and committed; the group rebalances its partitions."""
    import socket

    from ragstream.infra.topics import ensure_topics
    from ragstream.workers.actor import IngestWorker

    settings = Settings()
    if not settings.kafka.bootstrap_servers or not settings.milvus.uri:
        raise typer.BadParameter("set RAGSTREAM_KAFKA__BOOTSTRAP_SERVERS and RAGSTREAM_MILVUS__URI "
                                 "(`ragstream up` runs workers for the local stack itself)")
    ensure_topics(settings.kafka)
    running = IngestWorker(settings, worker_id or socket.gethostname())
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    running.stop()


@app.command()
def status(full: Annotated[bool, typer.Option(help="recount from the topics' beginning")] = False) -> None:
    """Per-topic counts, outcomes, dead letters, index size and recent freshness (reads only what is new)."""
    from ragstream.cli.status import status_tables

    for table in status_tables(_attached(), full=full):
        console.print(table)


@app.command()
def config() -> None:
    """Every setting's effective value and where it came from (environment, running local stack, default);
    credentials masked."""
    from ragstream.cli.config import config_rows, config_table
    from ragstream.infra.local.stack import attach

    settings = Settings()
    try:
        attached = attach(settings)
    except RuntimeError:  # no local stack running: the endpoints stay as configured
        attached = settings
    console.print(config_table(config_rows(settings, attached, os.environ)))


@app.callback()
def options(debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error")] = False) -> None:
    """Declared here for ``--help``; :func:`main` reads it to print the traceback of an error."""


def _not_running(error: Exception) -> str | None:
    """A refused connection to the local API means no stack runs there: say how to start one."""
    import openai

    if isinstance(error, openai.APIConnectionError) and not isinstance(error, openai.APITimeoutError):
        return f"no stack answering at {error.request.url.scheme}://{error.request.url.netloc.decode()}; " \
               "start it with `make run` (or `ragstream up`)"
    return None


def main() -> None:
    import click

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("llama_index.core.readers.file.base").setLevel(logging.ERROR)
    try:
        app(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.exceptions.ClickException as error:
        console.print(f"[red]error:[/] {error.format_message()}")
        sys.exit(error.exit_code)
    except Exception as error:  # one clear line, not a traceback, unless --debug
        if "--debug" in sys.argv[1:]:
            console.print_exception()
        console.print(f"[red]error:[/] {_not_running(error) or error}")
        sys.exit(1)
    finally:
        tracing.flush()

"""Milvus Lite as a gRPC server: one process owns the data directory, workers and replicas connect to it.

The process is ``python -m ragstream.infra.local.milvus_server``: Milvus Lite's own server (3.2.2) with its races
closed. Its gRPC handlers run on a thread pool, and it locks neither writes nor the catalog:

- Two writes to one collection at once each take sequence numbers without a lock and append to the same Arrow WAL
  stream from two threads. The stream is corrupted; after a crash, recovery stops at the first bad batch and
  acknowledged writes are gone, or a key reads back an old row (seen as registry versions going back after
  Milvus restarts). Here every write holds the collection's maintenance lock, which its flushes and compaction
  already hold.
  A delete by expression queries for the matching keys, then deletes them: here it holds the same lock throughout,
  so no write lands between its query and its delete (and its temporary "loaded" state cannot undo a load).
- An existing collection is opened on the first request that names it; concurrent first requests after a restart
  each open their own over the same directory (each replays the WAL and starts the same next WAL file). Here the
  catalog's operations take one lock, so a collection is opened once.

The price: a write waits while the collection compacts or loads, and every request waits while a collection is
opened (its WAL replayed). ``stop`` (SIGTERM) ends the process as a crash would; recovery replays the WAL.

Reads go through ``ragstream.infra.local.milvus_search`` (the same results without per-row Python).
``--search milvus-lite`` keeps Milvus Lite's own paths (benchmarks compare the two); ``--search checked`` runs
both and logs differences.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

from ragstream.infra.local.process import LOOPBACK, ServerProcess, free_port, port_open

CATALOG = ("create_database", "drop_database", "alter_database_properties", "drop_database_properties",
           "create_collection", "get_collection", "drop_collection", "rename_collection", "truncate_collection",
           "alter_collection_properties", "create_alias", "alter_alias", "drop_alias", "create_snapshot",
           "drop_snapshot", "restore_snapshot", "close")
WRITES = ("insert", "upsert", "delete", "flush")
SearchPaths = Literal["ragstream", "milvus-lite", "checked"]


class MilvusLiteServer:
    def __init__(self, data_dir: Path, log_dir: Path, port: int | None = None, search: SearchPaths = "ragstream"
                 ) -> None:
        self.port = port or free_port()
        self._server = ServerProcess(
            "milvus-lite",
            # Milvus Lite's default host is 0.0.0.0: always bind loopback.
            [sys.executable, "-m", "ragstream.infra.local.milvus_server", "--data-dir", str(data_dir),
             "--host", LOOPBACK, "--port", str(self.port), "--search", search],
            log_dir / "milvus-lite.log",
            ready=lambda: port_open(self.port),
        )

    @property
    def uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._server.pid

    def start(self) -> MilvusLiteServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def kill(self) -> None:
        self._server.kill()

    def restart(self) -> MilvusLiteServer:
        self._server.stop()
        return self.start()


def holding(lock: Callable[[Any], threading.RLock], method: Callable) -> Callable:
    """``method``, called while holding the lock ``lock`` finds on its instance."""
    def call(self, *args, **kwargs):
        with lock(self):
            return method(self, *args, **kwargs)
    return call


def serialized(database: type, collection: type, servicer: type) -> tuple[type, type, type]:
    """Milvus Lite's database, collection and gRPC servicer classes with the catalog under one lock, and every write
    (a delete by expression from its query on) holding the collection's maintenance lock."""
    def init(self, *args, **kwargs) -> None:
        self._catalog_lock = threading.RLock()
        database.__init__(self, *args, **kwargs)

    def delete(self, request, context):
        try:
            col = self._get_collection(request, context)
        except Exception:  # no such collection: Milvus Lite's own answer
            return servicer.Delete(self, request, context)
        with col._maintenance_lock:
            return servicer.Delete(self, request, context)

    catalog = {name: holding(lambda db: db._catalog_lock, getattr(database, name)) for name in CATALOG}
    writes = {name: holding(lambda col: col._maintenance_lock, getattr(collection, name)) for name in WRITES}
    return (type(f"Serialized{database.__name__}", (database,), {"__init__": init, **catalog}),
            type(f"Serialized{collection.__name__}", (collection,), writes),
            type(f"Serialized{servicer.__name__}", (servicer,), {"Delete": delete}))


def main(argv: list[str] | None = None) -> None:
    from milvus_lite import db
    from milvus_lite.adapter.grpc import server
    from milvus_lite.engine import collection

    parser = argparse.ArgumentParser(description="Milvus Lite's gRPC server, its writes and catalog serialized")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--search", choices=get_args(SearchPaths), default="ragstream",
                        help="whose read paths answer (checked: both, differences logged)")
    args = parser.parse_args(argv)
    if args.search != "milvus-lite":
        from ragstream.infra.local.milvus_search.check import BANNER, log_difference
        from ragstream.infra.local.milvus_search.paths import install

        install(collection.Collection, collection, log_difference if args.search == "checked" else None)
        if args.search == "checked":
            print(BANNER, file=sys.stderr, flush=True)
    # the names run_server builds its database and servicer from, and the database its collections
    server.MilvusLite, db.Collection, server.MilvusServicer = serialized(db.MilvusLite, db.Collection,
                                                                        server.MilvusServicer)
    server.run_server(data_dir=args.data_dir, host=args.host, port=args.port)


if __name__ == "__main__":
    main()

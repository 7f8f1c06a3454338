"""secantusd, the MongoDB-wire server, with two fixes for SecantusDB 0.7.0b3:

- The TTL sweep interval `make run` asks for. Its command line reads
  `ttl_sweep_seconds` from its configuration file and then never hands it to the server:
  the sweeper kept running every 60 s whatever the file said. Every other setting still
  comes from its command line and file; only the server it builds gets the interval
  from `--ttl-sweep-seconds`, given first.
- Its index catalog read once per write transaction, not once per document and index.

    python -m csms_local.mongo_server --ttl-sweep-seconds 3600 <secantusd arguments>
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any


def read_catalog_once_per_transaction(storage: Any, retried: Callable[..., Any]) -> None:
    """Have the write transactions of `storage` (secantus.storage.Storage) read the index
    catalog once.

    Under a fleet's writes, a fifth of the server's CPU went to reading a collection's
    index definitions back from WiredTiger: for each document, and again for each of its
    indexes (options, unique checks, geo checks), through wiredtiger's pure-Python key
    packing. An insert or update transaction holds the collection's lock (index builds
    and drops take it too) and reads one snapshot, so within it the catalog reads alike
    every time. Its own change, an index becoming multikey, forgets what was read.
    Each write transaction starts afresh, retries included.
    """
    import bson

    memo = threading.local()
    read = storage._iter_indexes

    def iter_indexes(self: Any, db: str, coll: str) -> Iterator[tuple[str, Any, Any]]:
        catalog: dict[tuple[str, str], list[tuple[str, bytes]]] | None = getattr(
            memo, "catalog", None
        )
        if catalog is None:
            yield from read(self, db, coll)
            return
        entries = catalog.get((db, coll))
        if entries is None:
            entries = catalog[(db, coll)] = [
                (name, bson.encode({"key": key, "options": options}))
                for name, key, options in read(self, db, coll)
            ]
        for name, blob in entries:
            # Decoded again each time: callers get documents of their own, as before.
            definition = bson.decode(blob)
            yield name, definition["key"], definition["options"]

    def one_catalog(transaction: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(transaction)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            outer = getattr(memo, "catalog", None)
            memo.catalog = {}
            try:
                return transaction(self, *args, **kwargs)
            finally:
                memo.catalog = outer

        return run

    mark_multikey = storage._maybe_mark_multikey

    def maybe_mark_multikey(
        self: Any, db: str, coll: str, doc: Any, indexes: Any, already_multikey: set[str]
    ) -> set[str]:
        before = len(already_multikey)
        marked: set[str] = mark_multikey(self, db, coll, doc, indexes, already_multikey)
        catalog = getattr(memo, "catalog", None)
        if catalog is not None and len(marked) != before:
            catalog.pop((db, coll), None)
        return marked

    storage._iter_indexes = iter_indexes
    storage._maybe_mark_multikey = maybe_mark_multikey
    for name in ("_insert_chunk", "_update_matching_single_txn"):
        # Inside the retry loop: a retried transaction reads the catalog again.
        transaction = getattr(storage, name).__wrapped__
        setattr(storage, name, retried(one_catalog(transaction)))


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--ttl-sweep-seconds":
        print("usage: mongo_server --ttl-sweep-seconds N <secantusd arguments>", file=sys.stderr)
        return 2
    interval = float(argv[1])
    from secantus import cli, storage
    from secantus.server import SecantusDBServer

    read_catalog_once_per_transaction(storage.Storage, storage._retry_write_conflicts)

    cli.SecantusDBServer = functools.partial(
        SecantusDBServer, ttl_sweep_seconds=interval
    )
    result: int = cli.main(argv[2:])
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

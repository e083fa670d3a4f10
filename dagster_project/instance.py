"""Dagster's run history on SQLite, without a new database connection for every event.

Dagster's `SqliteEventLogStorage` opens a new engine and connection for each event it stores and
closes it again; with WAL journaling every close checkpoints the log and every commit syncs it to
disk. A nightly run stores about 1,200 events (every asset and dbt test planned, then
materialised or evaluated, most of them twice: in the run's database and the cross-run index),
which cost about 15 s of a demo night's 35 s.

`LanternEventLogStorage` is the same storage (same files, same schema: `dagster dev`, the daemon
and the default storage read them) keeping one engine per database for the life of the process
(a few, least recently used) and committing with `synchronous=NORMAL`: in WAL mode a commit is
then durable against a crash of any process, and only the last events before a power loss could
be missing from the run log. dagster_project/dagster.yaml selects it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Field, StringSource
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

SQLITE_BUSY_TIMEOUT_SECONDS = 30
KEEP_ENGINES = 8  # the index and the runs being written or read; older ones are closed


def default_base_dir() -> str:
    """Where Dagster's default instance keeps event logs: $DAGSTER_HOME/history/runs."""
    return os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")


def _on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class LanternEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with a kept connection per database (see the module docstring)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._tables: set[str] = set()
        super().__init__(base_dir or default_base_dir(), inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> LanternEventLogStorage:
        return cls(inst_data=inst_data, **dict(config_value or {}))

    def _engine(self, shard: str) -> Engine:
        if self._engines_pid != os.getpid():  # a forked child must not share its parent's handles
            for engine in self._engines.values():
                engine.dispose(close=False)
            self._engines.clear()
            self._engines_pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            pool_size=1,
            max_overflow=2,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        event.listen(engine, "connect", _on_connect)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > KEEP_ENGINES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """Whether the index database has the table, asked of SQLite once per table that exists.

        Dagster asks before storing every asset check evaluation (`supports_asset_checks`), and
        each time opens a new engine on the index: about 1.2 s of a demo night. A table, once
        created by the schema's migration, stays (`wipe` empties tables, and forgets them here)."""
        if table_name in self._tables:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables.add(table_name)
        return found

    def _close_all(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._tables.clear()
        self._close_all()  # the runs' database files go
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()

"""Database schema, migrations and engine (SQLAlchemy 2 Core; SQLite file with WAL by default, any URL such as
postgresql+psycopg://... in production).

Migrations decision: a small versioned-migration table of our own (`schema_migrations`: version, name,
applied_utc) instead of Alembic: the schema is a handful of tables, the migrations are plain Python functions
applied in order, each in its own transaction together with its row in `schema_migrations`, and `migrate` runs at
start-up. A database whose version is newer than this code knows is refused (never downgraded silently).

SQLite settings: journal_mode=WAL, synchronous=FULL (an acknowledged report survives a crash or power loss),
foreign_keys=ON, busy_timeout 30 s. Writes are serialised in-process by the store (SQLite has one writer anyway).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from cardlive.errors import InputError

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("applied_utc", String(32), nullable=False),
)
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("account_id", String(128), nullable=False, index=True),
    Column("nonce_sha256", String(64), nullable=False),
    Column("created_utc", String(32), nullable=False),
    Column("expires_utc", String(32), nullable=False),
    Column("used_utc", String(32), nullable=True),
)
reports = Table(
    "reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False, unique=True),
    Column("account_id", String(128), nullable=False),
    Column("app_id", String(64), nullable=False),
    Column("app_version", String(64), nullable=False),
    Column("device_model", String(128), nullable=False),
    Column("device_os", String(64), nullable=False),
    Column("model_name", String(32), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("runtime", String(16), nullable=False),
    Column("precision", String(8), nullable=False),
    Column("verdict", String(32), nullable=False, index=True),
    Column("edge_score", Float, nullable=False),
    Column("server_score", Float, nullable=False),
    Column("edge_decision", String(16), nullable=False),
    Column("server_decision", String(16), nullable=False),
    Column("final_decision", String(16), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("tolerance", Float, nullable=False),
    Column("max_abs_delta", Float, nullable=False),
    Column("attestation", String(64), nullable=False),
    Column("document", Text, nullable=False),
    Column("created_utc", String(32), nullable=False, index=True),
)
frames = Table(
    "frames",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report_id", Integer, ForeignKey("reports.id"), nullable=False, index=True),
    Column("frame_index", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("quad", Text, nullable=False),
    Column("edge_attack_score", Float, nullable=False),
    Column("edge_scores", Text, nullable=False),
    Column("server_attack_score", Float, nullable=False),
    Column("server_scores", Text, nullable=False),
    Column("abs_delta", Float, nullable=False),
    Column("jpeg", LargeBinary, nullable=True),
)
fingerprints = Table(
    "fingerprints",
    metadata,
    Column("report_id", Integer, ForeignKey("reports.id"), primary_key=True),
    Column("instrument", LargeBinary, nullable=True),
    Column("instrument_strength", Float, nullable=False),
    Column("portrait_hashes", Text, nullable=False),
    Column("attack", Boolean, nullable=False),
)
rejections = Table(
    "rejections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=True, index=True),
    Column("app_id", String(64), nullable=True),
    Column("verdict", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_utc", String(32), nullable=False),
)


def _v1(conn: Connection) -> None:
    for table in (sessions, reports, frames, fingerprints, rejections):
        table.create(conn)


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "sessions, reports, frames, fingerprints, rejections", _v1),
]


def utc_now() -> str:
    """ISO-8601 UTC with microseconds (sorts as text)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def open_engine(url: str) -> Engine:
    """Engine for a SQLAlchemy URL; SQLite files get WAL and the pragmas above."""
    try:
        engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise InputError(f"cannot open database {url!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def current_version(conn: Connection) -> int:
    """Highest applied migration (0 for an empty database)."""
    if not conn.dialect.has_table(conn, "schema_migrations"):
        return 0
    return int(conn.execute(select(func.coalesce(func.max(schema_migrations.c.version), 0))).scalar_one())


def migrate(engine: Engine) -> int:
    """Apply every pending migration in order (each in its own transaction); returns the final version."""
    latest = MIGRATIONS[-1][0]
    with engine.begin() as conn:
        if not conn.dialect.has_table(conn, "schema_migrations"):
            schema_migrations.create(conn)
        version = current_version(conn)
    if version > latest:
        raise InputError(f"database schema version {version} is newer than this cardlive ({latest}); upgrade cardlive")
    for number, name, apply in MIGRATIONS:
        if number <= version:
            continue
        with engine.begin() as conn:
            apply(conn)
            conn.execute(schema_migrations.insert().values(version=number, name=name, applied_utc=utc_now()))
    return latest

"""End to end into a real warehouse: `meltano run tap-openproject target-postgres` against the OpenProject double,
loading a throwaway PostgreSQL 15 cluster on 127.0.0.1, then checking what landed with psql: exact id sets per
table, column types (integer ids, UTC timestamps, typed custom fields), values (timestamps stay UTC although the
cluster runs in another time zone), and that a second, incremental run keeps one row per record.

Slow (a cluster, a double and two Meltano runs): deselect locally with `-m "not slow"`; `make test` runs it.
Missing PostgreSQL binaries fail the test with a message saying what to install, they never skip it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.helpers import REPO, clean_env
from tests.openproject_double.data import (
    PROJECT_CUSTOM_FIELDS,
    TIME_ENTRY_CUSTOM_FIELDS,
    WP_CUSTOM_FIELDS,
    Dataset,
)
from tests.openproject_double.resources import id_from_href
from tests.openproject_double.store import Store

pytestmark = pytest.mark.slow

WORK_PACKAGES = 300
SEED = 1
PROJECTS = 4
USERS = 6
DOUBLE_API_KEY = "warehouse-test-key-3b9d0c"
PG_USER = "warehouse"
PG_PASSWORD = "warehouse-test-password-8e1f"  # noqa: S105 - a throwaway local cluster
PG_DATABASE = "openproject_dw"
SCHEMA = "openproject"  # meltano.yml: target-postgres default_target_schema
MELTANO_VENV = REPO / ".venv-meltano"
MELTANO = MELTANO_VENV / "bin" / "meltano"
MELTANO_TIMEOUT = 900
# Serialises installs into .venv-meltano and .meltano between concurrent runs (make demo, other test sessions).
INSTALL_LOCK = Path(tempfile.gettempdir()) / f"tap-openproject-meltano-{zlib.crc32(bytes(REPO)):x}.lock"


# --- PostgreSQL -------------------------------------------------------------------------------------------------
def _postgres_bindir() -> Path:
    """The directory holding initdb, pg_ctl, postgres and psql; a clear failure when they are not installed."""
    candidates = []
    if shutil.which("pg_ctl"):
        candidates.append(Path(os.path.realpath(shutil.which("pg_ctl"))).parent)  # type: ignore[arg-type]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return bindir
    pytest.fail(
        "PostgreSQL server binaries not found (initdb, pg_ctl, postgres, psql on PATH or in "
        "/usr/lib/postgresql/*/bin): install them (e.g. `apt-get install postgresql-15`) for the warehouse test",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running throwaway cluster; `sql` runs a query through psql and returns the rows as tuples of text."""

    bindir: Path
    datadir: Path
    port: int
    as_owner: list[str]

    def sql(self, query: str, database: str = PG_DATABASE) -> list[tuple[str, ...]]:
        result = subprocess.run(  # noqa: S603 - our own cluster's psql
            [str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "\t",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", database, "-c", query],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PGPASSWORD": PG_PASSWORD, "PGCONNECT_TIMEOUT": "10"},
        )
        assert result.returncode == 0, f"psql failed on {query!r}: {result.stderr.strip()}"
        return [tuple(line.split("\t")) for line in result.stdout.splitlines() if line]


def _run_checked(cmd: list[str], what: str, timeout: float = 120) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    if result.returncode != 0:
        pytest.fail(f"{what} failed (exit {result.returncode}): {result.stdout[-2000:]}{result.stderr[-2000:]}",
                    pytrace=False)


def _stop_cluster(bindir: Path, datadir: Path, as_owner: list[str]) -> None:
    """Fast shutdown through pg_ctl; if that does not work, SIGKILL the postmaster named in postmaster.pid."""
    pidfile = datadir / "postmaster.pid"
    if not pidfile.exists():
        return
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run([*as_owner, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "-w", "-t", "30",  # noqa: S603
                        "stop"], capture_output=True, timeout=60, check=False)
    if pidfile.exists():
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(int(pidfile.read_text().splitlines()[0]), signal.SIGKILL)


@contextlib.contextmanager
def postgres_cluster(workdir: Path) -> t.Iterator[Cluster]:
    """initdb + start on 127.0.0.1:<random port> with password auth; stopped on every way out."""
    bindir = _postgres_bindir()
    as_owner: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root: the cluster belongs to `postgres`
        if not shutil.which("runuser"):
            pytest.fail("running as root needs `runuser` (util-linux) to start PostgreSQL as the postgres user",
                        pytrace=False)
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs a `postgres` system user to own the throwaway cluster",
                        pytrace=False)
        as_owner = ["runuser", "-u", "postgres", "--"]
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
    datadir, pwfile, logfile = workdir / "data", workdir / "pwfile", workdir / "postgres.log"
    pwfile.write_text(PG_PASSWORD + "\n", encoding="utf-8")
    if as_owner:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    _run_checked([*as_owner, str(bindir / "initdb"), "-D", str(datadir), "-U", PG_USER, "--pwfile", str(pwfile),
                  "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-locale", "--no-sync"], "initdb")
    try:
        for attempt in range(3):  # the random port may be taken between choosing and binding it
            port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c timezone=America/New_York")
            started = subprocess.run(  # noqa: S603
                [*as_owner, str(bindir / "pg_ctl"), "-D", str(datadir), "-o", options, "-l", str(logfile),
                 "-w", "-t", "60", "start"], capture_output=True, text=True, timeout=90, check=False)
            if started.returncode == 0:
                break
            _stop_cluster(bindir, datadir, as_owner)
            if attempt == 2:
                log = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
                pytest.fail(f"PostgreSQL did not start: {started.stdout}{started.stderr}\n{log}", pytrace=False)
        cluster = Cluster(bindir, datadir, port, as_owner)
        cluster.sql(f"CREATE DATABASE {PG_DATABASE}", database="postgres")
        yield cluster
    finally:
        _stop_cluster(bindir, datadir, as_owner)


# --- the OpenProject double and Meltano -------------------------------------------------------------------------
@contextlib.contextmanager
def openproject_double(workdir: Path) -> t.Iterator[str]:
    """`python -m tests.openproject_double` in a subprocess; yields its URL, killed on every way out."""
    port_file, log = workdir / "double.port", workdir / "double.log"
    with log.open("wb") as log_stream:
        process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "tests.openproject_double", "--port", "0", "--port-file", str(port_file),
             "--work-packages", str(WORK_PACKAGES), "--seed", str(SEED), "--projects", str(PROJECTS),
             "--users", str(USERS), "--api-key", DOUBLE_API_KEY],
            cwd=REPO, stdout=log_stream, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the OpenProject double did not start: {log.read_text(errors='replace')[-2000:]}",
                            pytrace=False)
            time.sleep(0.1)
        yield f"http://127.0.0.1:{int(port_file.read_text())}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def ensure_meltano() -> Path:
    """Meltano in .venv-meltano, installed as scripts/demo.sh does when missing (under a lock: idempotent)."""
    with INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not MELTANO.exists():
            python = shutil.which("python3") or sys.executable
            _run_checked([python, "-m", "venv", str(MELTANO_VENV)], "creating .venv-meltano")
            pip = [str(MELTANO_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
            _run_checked([*pip, "--upgrade", "pip"], "upgrading pip in .venv-meltano", timeout=600)
            _run_checked([*pip, "meltano>=4.0,<5"], "installing Meltano into .venv-meltano", timeout=900)
    return MELTANO


def meltano(args: list[str], env: dict[str, str], log: Path, timeout: float = MELTANO_TIMEOUT) -> None:
    """Run `meltano ARGS` in the repository; fail with the log's tail when it fails."""
    with log.open("a", encoding="utf-8") as stream:
        stream.write(f"\n$ meltano {' '.join(args)}\n")
        stream.flush()
        result = subprocess.run([str(MELTANO), *args], cwd=REPO, env=env, stdout=stream,  # noqa: S603
                                stderr=subprocess.STDOUT, timeout=timeout, check=False)
    if result.returncode != 0:
        kept = Path(tempfile.gettempdir()) / "tap-openproject-warehouse-test-meltano.log"
        shutil.copyfile(log, kept)  # the work directory goes away with the cluster
        lines = log.read_text(errors="replace").splitlines()
        errors = [line for line in lines if "[error" in line or "Traceback" in line][:20]
        tail = "\n".join([*errors, "...", *lines[-30:]])
        pytest.fail(f"`meltano {' '.join(args)}` exited {result.returncode}; whole log in {kept}:\n{tail}",
                    pytrace=False)


# --- the run ----------------------------------------------------------------------------------------------------
@dataclass
class Warehouse:
    cluster: Cluster
    store: Store
    env: dict[str, str]
    log: Path
    seconds: float

    def tables(self) -> set[str]:
        rows = self.cluster.sql(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{SCHEMA}'")
        return {name for (name,) in rows}

    def ids(self, table: str) -> list[int]:
        return [int(v) for (v,) in self.cluster.sql(f'SELECT id FROM {SCHEMA}."{table}" ORDER BY id')]

    def udt_name(self, table: str, column: str) -> str:
        rows = self.cluster.sql(
            "SELECT udt_name FROM information_schema.columns "
            f"WHERE table_schema = '{SCHEMA}' AND table_name = '{table}' AND column_name = '{column}'")
        return rows[0][0]

    def column_types(self, table: str) -> dict[str, str]:
        rows = self.cluster.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{SCHEMA}' AND table_name = '{table}'")
        return dict(rows)  # type: ignore[arg-type]


def expected_ids(store: Store) -> dict[str, list[int]]:
    """Every stream's id set, read off the double's own store (the same dataset the subprocess serves)."""
    collections = ["projects", "categories", "work_packages", "activities", "attachments", "relations",
                   "time_entries", "memberships", "versions", "news", "documents", "meetings", "users", "groups",
                   "placeholder_users", "statuses", "types", "priorities", "roles", "meeting_sections",
                   "meeting_agenda_items", "meeting_outcomes", "watchers", "file_links", "non_working_days", "week_days",
                   "custom_field_items"]
    expected = {name: store.ids(name) for name in collections}
    expected["principals"] = sorted(store.ids("users") + store.ids("groups") + store.ids("placeholder_users"))
    expected["custom_fields"] = sorted({**WP_CUSTOM_FIELDS, **PROJECT_CUSTOM_FIELDS, **TIME_ENTRY_CUSTOM_FIELDS})
    for name in ("sprints", "project_phase_definitions", "labels", "budgets", "storages", "project_storages", "views",
                 "queries", "help_texts"):
        expected[name] = store.ids(name)
    expected["time_entry_activities"] = sorted(  # the activities the time entries link (the API lists none)
        {id_from_href(te["_links"]["activity"]) for te in store.time_entries.values()} - {None})
    return expected


@pytest.fixture(scope="module")
def warehouse() -> t.Iterator[Warehouse]:
    """Cluster + double + `meltano install` + `meltano run tap-openproject target-postgres`; torn down after."""
    workdir = Path(tempfile.mkdtemp(prefix="tap-op-pg-"))  # short: the cluster's unix socket lives here
    try:
        with postgres_cluster(workdir) as cluster, openproject_double(workdir) as url:
            ensure_meltano()
            env = {k: v for k, v in clean_env().items() if not k.startswith(("MELTANO_", "TARGET_POSTGRES_"))}
            env.update(
                MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
                MELTANO_CLI_DISABLE_VERSION_CHECK="true",
                # a system database of its own: the test's state never mixes with a developer's runs
                MELTANO_DATABASE_URI=f"sqlite:///{workdir / 'meltano.db'}",
                TAP_OPENPROJECT_BASE_URL=url,
                TAP_OPENPROJECT_API_KEY=DOUBLE_API_KEY,
                TARGET_POSTGRES_HOST="127.0.0.1",
                TARGET_POSTGRES_PORT=str(cluster.port),
                TARGET_POSTGRES_USER=PG_USER,
                TARGET_POSTGRES_PASSWORD=PG_PASSWORD,
                TARGET_POSTGRES_DATABASE=PG_DATABASE,
            )
            log = workdir / "meltano.log"
            with INSTALL_LOCK.open("w") as lock:  # one `meltano install` at a time
                fcntl.flock(lock, fcntl.LOCK_EX)
                meltano(["install", "tap-openproject", "target-postgres"], env, log)
            started = time.monotonic()
            meltano(["run", "tap-openproject", "target-postgres"], env, log)
            store = Store(Dataset.generate(work_packages=WORK_PACKAGES, projects=PROJECTS, users=USERS, seed=SEED))
            yield Warehouse(cluster, store, env, log, time.monotonic() - started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_every_table_holds_exactly_the_records_of_the_double(warehouse):
    expected = expected_ids(warehouse.store)

    assert warehouse.tables() == set(expected)
    for table, ids in expected.items():
        assert ids, f"the dataset must hold {table} for this test to mean anything"
        assert warehouse.ids(table) == ids, table  # same ids, one row each: counts equal, no duplicates


def test_columns_are_typed_integer_ids_utc_timestamps_and_custom_fields(warehouse):
    integer = {"integer", "bigint"}
    work_packages = warehouse.column_types("work_packages")

    for column in ("id", "project_id", "status_id", "type_id", "assignee_id", "parent_id", "lockVersion",
                   "customField2", "customField7_id", "customField9_id", "customField10_id"):
        assert work_packages[column] in integer, column
    # target-postgres 0.8.1 maps JSON Schema date-time to `timestamp without time zone` (every release up to
    # 0.8.1 does); the values are UTC because meltano.yml pins the target's session to UTC (PGTZ), see
    # test_values_round_trip, which runs the cluster in another time zone.
    for column in ("updatedAt", "createdAt"):
        assert work_packages[column] == "timestamp without time zone", column
    assert work_packages["customField1"] == "text"
    assert work_packages["customField3"] == "numeric"
    assert work_packages["customField4"] == "boolean"
    assert work_packages["customField5"] == "date"
    assert work_packages["customField6"] == "jsonb"  # formattable text: {format, raw, html}
    assert work_packages["customField7_title"] == "text"
    assert work_packages["customField8_id"] == "ARRAY"  # multi-value list: arrays of option ids and titles
    assert warehouse.udt_name("work_packages", "customField8_id") == "_int8"
    assert warehouse.column_types("projects")["customField12"] == "text"
    assert warehouse.column_types("time_entries")["customField11"] == "text"
    for table in ("projects", "time_entries", "memberships", "users", "activities"):
        types = warehouse.column_types(table)
        assert types["id"] in integer, table
        assert types["updatedAt"] == "timestamp without time zone", table
    for table in sorted(warehouse.tables()):
        assert warehouse.column_types(table)["id"] in integer, table


def test_values_round_trip(warehouse):
    """Values land unchanged; timestamps stay UTC although the cluster runs in America/New_York."""
    rows = warehouse.cluster.sql(
        f'SELECT id, "customField1", "customField2", "customField7_id", "customField8_id", '
        f"to_char(\"updatedAt\", 'YYYY-MM-DD\"T\"HH24:MI:SS.US') "
        f"FROM {SCHEMA}.work_packages ORDER BY id")
    landed = {int(r[0]): r[1:] for r in rows}

    def option_ids(links: list[dict[str, t.Any]]) -> str:
        return "{" + ",".join(link["href"].rsplit("/", 1)[1] for link in links) + "}"

    assert len(landed) == WORK_PACKAGES
    for wp_id in warehouse.store.ids("work_packages"):
        source = warehouse.store.get("work_packages", wp_id)
        assert source is not None
        cf7 = source["_links"]["customField7"]["href"]
        updated = _utc(source["updatedAt"]).replace(tzinfo=None)
        assert landed[wp_id] == (
            source["customField1"] or "",
            "" if source["customField2"] is None else str(source["customField2"]),
            "" if cf7 is None else cf7.rsplit("/", 1)[1],
            option_ids(source["_links"]["customField8"]),
            updated.isoformat(timespec="microseconds"),
        ), wp_id


def test_an_incremental_second_run_keeps_one_row_per_record(warehouse):
    state = json.loads(_meltano_output(["state", "get", "dev:tap-openproject-to-target-postgres"], warehouse.env))
    bookmark = state["singer_state"]["bookmarks"]["work_packages"]["replication_key_value"]
    store = warehouse.store
    newest = max(store.get("work_packages", i)["updatedAt"] for i in store.ids("work_packages"))
    assert _utc(bookmark) == _utc(newest)

    meltano(["run", "tap-openproject", "target-postgres"], warehouse.env, warehouse.log)

    assert "Run completed" in warehouse.log.read_text(errors="replace")
    for table, ids in expected_ids(warehouse.store).items():
        assert warehouse.ids(table) == ids, table  # upsert on the primary key: no duplicate rows


def _meltano_output(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([str(MELTANO), *args], cwd=REPO, env=env, capture_output=True, text=True,  # noqa: S603
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r"^\{.*\}$", result.stdout, flags=re.M | re.S)
    assert match, result.stdout
    return match.group(0)


def _utc(value: str) -> datetime:
    """An ISO 8601 date-time with Z or an offset, as an aware UTC datetime (Python 3.10 parses no Z)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def test_timestamps_become_timezone_aware_once_and_stay_so(warehouse):
    """warehouse/postgres_timestamptz.sql turns every timestamp column into `timestamp with time zone` without
    moving the instants, and the next load keeps that type (runs last: it changes the shared warehouse)."""
    before = warehouse.cluster.sql(
        f'SELECT id, extract(epoch FROM "updatedAt" AT TIME ZONE \'UTC\') FROM {SCHEMA}.work_packages ORDER BY id')
    script = REPO / "warehouse" / "postgres_timestamptz.sql"
    result = subprocess.run(  # noqa: S603 - our own cluster's psql
        [str(warehouse.cluster.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"schema={SCHEMA}",
         "-h", "127.0.0.1", "-p", str(warehouse.cluster.port), "-U", PG_USER, "-d", PG_DATABASE, "-f", str(script)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PGPASSWORD": PG_PASSWORD},
    )
    assert result.returncode == 0, result.stderr

    meltano(["run", "tap-openproject", "target-postgres"], warehouse.env, warehouse.log)

    for table in ("work_packages", "projects", "time_entries", "memberships", "users", "activities"):
        types = warehouse.column_types(table)
        assert types["updatedAt"] == "timestamp with time zone", table
        assert types["createdAt"] == "timestamp with time zone", table
    after = warehouse.cluster.sql(
        f'SELECT id, extract(epoch FROM "updatedAt") FROM {SCHEMA}.work_packages ORDER BY id')
    assert after == before, "the same instants, now time-zone aware"
    for wp_id in warehouse.store.ids("work_packages")[:20]:
        source = _utc(warehouse.store.get("work_packages", wp_id)["updatedAt"])
        (landed,) = warehouse.cluster.sql(
            f"SELECT to_char(\"updatedAt\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') "
            f"FROM {SCHEMA}.work_packages WHERE id = {wp_id}")[0]
        assert landed == source.replace(tzinfo=None).isoformat(timespec="microseconds"), wp_id
    assert warehouse.ids("work_packages") == warehouse.store.ids("work_packages")

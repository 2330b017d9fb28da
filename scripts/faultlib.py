"""What the fault drill (scripts/drill.py) and the load test (scripts/loadtest.py) share: a private
PostgreSQL cluster of their own (never the machine's shared server), gunicorn on the loopback,
free ports, and an environment without rate limits.

A private cluster, because the drill restarts it: other users of the machine's PostgreSQL would
see their connections dropped. As root, the cluster's programs run as the `postgres` user
(PostgreSQL refuses to run as root)."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
RATE_LIMIT_SETTINGS = (
    "TRACKING_RATE_LIMIT",
    "IMPORT_RATE_LIMIT",
    "XAPI_RATE_LIMIT",
    "LEARNER_ANALYTICS_RATE_LIMIT",
    "COURSE_INFO_RATE_LIMIT",
    "LEARNING360_RATE_LIMIT",
    "ANALYSE_RATE_LIMIT",
    "VIDEOCLOUD_RATE_LIMIT",
    "EXPORT_RATE_LIMIT",
    "EXPORT_CREATE_RATE_LIMIT",
    "API_RATE_LIMIT",
)


def free_port(preferred=None):
    """`preferred` when nobody listens on it, else a port the kernel picks."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return found


class PrivateCluster:
    """initdb + pg_ctl in `directory`, listening on 127.0.0.1:`port` only, trust authentication."""

    def __init__(self, directory, port):
        self.directory = Path(directory)
        self.data = self.directory / "data"
        self.port = port
        self.log = self.directory / "postgres.log"
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args, check=True):
        command = [str(arg) for arg in args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _empty_directory(self):
        if self.directory.exists():
            self.stop(quiet=True)
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")

    def init_and_start(self):
        self._empty_directory()
        self._run(pg_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def init_as_replica_of(self, primary):
        """A hot standby of `primary`, streaming from it: pg_basebackup (-R writes the connection
        to the primary and standby.signal), then start."""
        self._empty_directory()
        self._run(
            pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
            "-D", self.data, "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        self.start()

    def start(self):
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._run(pg_bin("pg_ctl"), "-D", self.data, "-l", self.log, "-o", options, "-w", "start")

    def restart(self, mode="immediate"):
        """`immediate` is a crash (no checkpoint, recovery from the WAL on start); `fast` a clean
        shutdown that disconnects everyone. Returns the seconds the server was away."""
        started = time.monotonic()
        # -l: without it the new postmaster would keep our output pipe open forever.
        self._run(pg_bin("pg_ctl"), "-D", self.data, "-l", self.log, "-m", mode, "-w", "restart")
        return time.monotonic() - started

    def stop(self, quiet=False):
        if (self.data / "postmaster.pid").exists():
            self._run(pg_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop", check=not quiet)

    def create_database(self, name):
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')


def service_env(database_url, **overrides):
    """The environment of every process of a drill or load test: its database, no rate limits,
    tasks published nowhere unless a broker is given, request metrics kept (they are part of the
    load the service carries)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "memory://",
        "CELERY_RESULT_BACKEND": "cache+memory://",
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        **{name: "" for name in RATE_LIMIT_SETTINGS},
    }
    env.pop("CACHE_URL", None)
    env.update(overrides)
    return env


def manage(env, *args):
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=PROJECT_DIR, env=env, check=True, capture_output=True, text=True
    ).stdout


class Gunicorn:
    """gunicorn with `workers` sync workers on 127.0.0.1:`port`."""

    def __init__(self, env, port, workers=2, log_path=None):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                GUNICORN,
                "config.wsgi:application",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_up()
        except RuntimeError:
            self.stop()
            raise

    def _wait_until_up(self, timeout_s=90):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                urllib.request.urlopen(f"{self.base_url}/admin/login/", timeout=5)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer in {timeout_s} s")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def load_average():
    return "load average %.2f, %.2f, %.2f" % os.getloadavg()

"""Ingest benchmark: the real app against a bare Flask endpoint, both under gunicorn.

Starts two servers on loopback with the same gunicorn settings: Ventanilla (on a fresh
temporary SQLite database) and a bare Flask app whose POST does ``return ""``. Both get
the same signed Meta comment deliveries (each with its own comment_id, so every request to
the app is a real insert), in alternating rounds (bare, app, bare, app) to spread the noise
of a small shared machine. Prints requests, errors, throughput and latency per target, the
app/bare throughput ratio against the target, and checks that the database holds exactly
one interaction per acknowledged delivery.

Run by hand (not part of the test suite):  .venv/bin/python bench/ingest.py --help
Exit status: 0 when every request succeeded and nothing was lost, 1 otherwise. The ratio is
reported, never turned into a failure: it depends on the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

try:
    from bench.targets import DATABASE_ENV, META_SECRET_ENV, PAGE_ID
except ImportError:  # run as a script: bench/ itself is on sys.path
    from targets import DATABASE_ENV, META_SECRET_ENV, PAGE_ID  # type: ignore[no-redef]

from webhooks.signatures import sign_meta

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only, always
PATH = "/webhooks/meta"
TARGET_RATIO = 0.5
ROUNDS = 2
APP_SECRET = "bench-meta-app-secret-0123456789abcdef"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NAMES = ("María López", "Jordi Puig", "Ana Souza", "Tom Baker", "Lucía Fernández", "Iñaki Etxeberria")
MESSAGES = (
    "Me cobraron dos veces el pedido {n} y nadie contesta. ¡Muy mal servicio! 😡",
    "Hola, ¿cuándo llega mi pedido {n}? Ya pasaron 10 días.",
    "My order {n} arrived broken, what do I do now?",
    "Gracias por la rapidez, todo perfecto con el pedido {n} 👍",
    "La app no me deja pagar, error 500 otra vez (pedido {n}).",
)

Delivery = tuple[bytes, dict[str, str]]


@dataclass
class Result:
    """What one target did over one or more rounds."""

    target: str
    sent: int = 0
    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    def add(self, other: Result) -> None:
        self.sent += other.sent
        self.ok += other.ok
        self.errors += other.errors
        self.elapsed += other.elapsed
        self.latencies_ms += other.latencies_ms
        self.error_samples += other.error_samples[: max(0, 5 - len(self.error_samples))]

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the successful requests' latencies, in ms."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# --- payloads ----------------------------------------------------------------------------


def comment_delivery(n: int, now: int) -> Delivery:
    """A realistic Page feed comment (like connector/samples/facebook_comment.json), signed."""
    post_id = f"{PAGE_ID}_52000000{n % 97:07d}"
    value = {
        "from": {"id": f"7001{n:012d}", "name": NAMES[n % len(NAMES)]},
        "post": {
            "status_type": "added_photos",
            "is_published": True,
            "updated_time": "2026-11-22T09:15:29+0000",
            "permalink_url": f"https://www.facebook.com/acme/posts/{post_id}",
            "promotion_status": "inactive",
            "id": post_id,
        },
        "message": MESSAGES[n % len(MESSAGES)].format(n=80000 + n),
        "post_id": post_id,
        "comment_id": f"{post_id.split('_')[1]}_{530000000000000 + n}",
        "created_time": now - n % 3600,
        "item": "comment",
        "parent_id": post_id,
        "verb": "add",
    }
    envelope = {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": now, "changes": [{"field": "feed", "value": value}]}],
    }
    # ensure_ascii, as Meta sends it (\u00e1 escapes); signed over these exact bytes.
    body = json.dumps(envelope, separators=(",", ":")).encode()
    return body, {**sign_meta(body, APP_SECRET), "Content-Type": "application/json"}


# --- servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One gunicorn process group on loopback, started and stopped by us."""

    def __init__(
        self, name: str, app_spec: str, env: dict[str, str], log_dir: Path, args: argparse.Namespace
    ) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            app_spec,
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
            "--graceful-timeout",
            "5",
        ]
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll GET /healthz until it answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} server exited during start-up:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} server not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM our own process group, SIGKILL it if it lingers."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# --- load --------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection, reopened once when the server closed it."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", PATH, body=body, headers=headers)
                response = self.conn.getresponse()
                response.read()
                if response.will_close:
                    self.close()
                return response.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # An idle keep-alive connection closed by the server; a resend is harmless
                # because the app deduplicates on comment_id.
                self.close()
                if attempt == 2:
                    raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_load(
    target: str,
    port: int,
    deliveries: Sequence[Delivery],
    args: argparse.Namespace,
    deadline: float,
    stop: threading.Event,
) -> Result:
    """Send every delivery once with ``args.concurrency`` threads; stop early at the deadline."""
    parts = [Result(target) for _ in range(args.concurrency)]

    def worker(index: int) -> None:
        part = parts[index]
        client = Client(port, args.timeout)
        try:
            for body, headers in deliveries[index :: args.concurrency]:
                if stop.is_set() or time.monotonic() > deadline:
                    return
                part.sent += 1
                started = time.perf_counter()
                try:
                    status = client.post(body, headers)
                except (OSError, http.client.HTTPException) as exc:
                    part.errors += 1
                    part.error_samples.append(f"{type(exc).__name__}: {exc}")
                    continue
                if 200 <= status < 300:
                    part.ok += 1
                    part.latencies_ms.append((time.perf_counter() - started) * 1000)
                else:
                    part.errors += 1
                    part.error_samples.append(f"HTTP {status}")
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)  # short joins keep Ctrl-C responsive
    result = Result(target, elapsed=time.perf_counter() - started)
    for part in parts:
        part.elapsed = 0.0
        result.add(part)
    return result


# --- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare Ventanilla's signed Meta ingest with a bare Flask endpoint, both under "
        "gunicorn on 127.0.0.1, and verify that no delivery is lost.",
        epilog="Exit status 0: no request failed and the database holds every acknowledged delivery.",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=3000,
        metavar="N",
        help=f"measured requests per target, in {ROUNDS} rounds (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="C",
        help="client threads, each with one keep-alive connection (default %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=200,
        metavar="N",
        help="unmeasured requests per target before the rounds (default %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="W",
        help="gunicorn workers per server (default %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        metavar="T",
        help="gunicorn gthread threads per worker (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="timeout of each request in seconds (default %(default)s)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        metavar="S",
        help="hard limit for the whole load; rounds stop early past it (default %(default)s)",
    )
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        nargs="?",
        const=PG_ADMIN_URL,
        help="store in a temporary PostgreSQL database created through ADMIN_URL "
        f"(default {PG_ADMIN_URL}) instead of a temporary SQLite file",
    )
    args = parser.parse_args(argv)
    for name in ("requests", "concurrency", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def database(postgres_admin: str | None, folder: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a temporary PostgreSQL database dropped at the end."""
    if postgres_admin is None:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    import psycopg

    admin = postgres_admin.replace("postgresql+psycopg://", "postgresql://")
    name = f"ventanilla_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres_admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_interactions(url: str) -> int:
    from sqlalchemy import func, select

    from connector.schema import interactions
    from connector.store import Store

    store = Store(url)
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(interactions)).scalar_one())
    finally:
        store.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C and SIGTERM both end in the `finally` that stops the servers (even when started
    # from a shell that ignores SIGINT for background jobs).
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    from connector.store import Store

    with (
        tempfile.TemporaryDirectory(prefix="ventanilla-bench-") as tmp,
        database(args.postgres, Path(tmp)) as url,
    ):
        workdir = Path(tmp)
        print(f"database: {url.split('@')[-1]}")
        store = Store(url)
        store.create_schema()  # once, before the workers start
        store.dispose()
        env = {**os.environ, DATABASE_ENV: url, META_SECRET_ENV: APP_SECRET, "PYTHONUNBUFFERED": "1"}
        servers = {
            "bare": Server("bare", "bench.targets:bare_app()", env, workdir, args),
            "app": Server("app", "bench.targets:real_app()", env, workdir, args),
        }
        stop = threading.Event()
        try:
            return _run(args, servers, url, stop)
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the servers", file=sys.stderr)
            return 130
        finally:
            stop.set()
            for server in servers.values():
                server.stop()


def _run(args: argparse.Namespace, servers: dict[str, Server], url: str, stop: threading.Event) -> int:
    now = int(time.time())
    per_round = -(-args.requests // ROUNDS)
    total = args.warmup + per_round * ROUNDS
    print(f"preparing {total} signed Meta comment deliveries ...", flush=True)
    deliveries = [comment_delivery(n, now) for n in range(total)]
    warmup, measured = deliveries[: args.warmup], deliveries[args.warmup :]

    for server in servers.values():
        server.start()
    for server in servers.values():
        server.wait_ready()
    print(
        f"servers up on {HOST}: bare :{servers['bare'].port}, app :{servers['app'].port} "
        f"(gunicorn gthread, --workers {args.workers} --threads {args.threads}); "
        f"concurrency {args.concurrency}, {per_round * ROUNDS} measured requests per target "
        f"in {ROUNDS} rounds, request timeout {args.timeout:g} s",
        flush=True,
    )

    deadline = time.monotonic() + args.max_seconds
    totals = {name: Result(name) for name in servers}
    app_acknowledged = 0
    app_sent = 0
    if warmup:
        for name, server in servers.items():
            result = run_load(name, server.port, warmup, args, deadline, stop)
            if name == "app":
                app_acknowledged += result.ok
                app_sent += result.sent
        print(f"warm-up: {len(warmup)} requests per target (not measured)", flush=True)

    for round_number in range(ROUNDS):
        chunk = measured[round_number * per_round : (round_number + 1) * per_round]
        for name, server in servers.items():  # bare first, then app
            result = run_load(name, server.port, chunk, args, deadline, stop)
            totals[name].add(result)
            if name == "app":
                app_acknowledged += result.ok
                app_sent += result.sent
            print(
                f"round {round_number + 1}  {name:<4}  {result.sent:>6} requests  "
                f"{result.errors:>4} errors  {result.throughput:>8.1f} req/s",
                flush=True,
            )
    cut_short = time.monotonic() > deadline

    print()
    print(f"{'target':<8}{'requests':>10}{'errors':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for result in totals.values():
        print(
            f"{result.target:<8}{result.sent:>10}{result.errors:>8}{result.throughput:>10.1f}"
            f"{result.percentile(50):>9.2f}{result.percentile(99):>9.2f}"
        )
    for result in totals.values():
        for sample in result.error_samples:
            print(f"  {result.target} error: {sample}")
    bare, app = totals["bare"].throughput, totals["app"].throughput
    if bare > 0 and app > 0:
        ratio = app / bare
        verdict = "meets the target" if ratio >= TARGET_RATIO else "BELOW the target"
        print(f"\nthroughput ratio app/bare: {ratio:.2f} (target >= {TARGET_RATIO}): {verdict}")
    else:
        print(f"\nthroughput ratio app/bare: not measured (target >= {TARGET_RATIO})")
    if cut_short:
        print(f"note: stopped at the --max-seconds limit ({args.max_seconds:g} s); fewer requests were sent")

    for server in servers.values():
        server.stop()
    stored = count_interactions(url)
    errors = sum(result.errors for result in totals.values())
    if app_sent == app_acknowledged:
        exact = stored == app_acknowledged
        print(
            f"database: {stored} interactions stored for {app_acknowledged} acknowledged deliveries "
            f"({app_sent} sent, warm-up included): {'exact, nothing lost' if exact else 'MISMATCH'}"
        )
    else:
        # A failed request may or may not have been stored; every acknowledged one must be.
        exact = app_acknowledged <= stored <= app_sent
        print(
            f"database: {stored} interactions stored; {app_acknowledged} acknowledged, {app_sent} sent: "
            f"{'every acknowledged delivery is stored' if exact else 'MISMATCH'}"
        )
    return 0 if exact and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

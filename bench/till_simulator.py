"""A day at the tills: N tills ring up sales against a Patron server that is killed (SIGKILL) and
restarted every few seconds, and at the end every acknowledged write is checked against the ledger.

Each till (one thread, one store-bound API key, every call signed) loops: identify the member
(GET /pos/balance), quote, sell 1–3 lines (some paying with points), refund earlier sales in part
or in full, reverse a sale rung up by mistake, redeem points, hold points and commit or void the
hold. Every write carries an Idempotency-Key. A write that gets no answer (connection refused or
reset while the server is down, or the till's own short timeout) is sent again, signed afresh,
with the same key and body until it is answered; some answered writes are sent a second time on
purpose and must get the very same answer back.

At the end the server is stopped, the release/expiry/hold-expiry jobs run, and the checks are:
every acknowledged write is in the database exactly once with what its answer said (a sale:
its transaction, one EARN journal with the points answered, one REDEEM journal for points paid);
every refused write left nothing; the database has no sale, refund, redemption or hold of this
run that no till was told about; every hold is closed exactly once; `patron ledger-audit` passes.
Exit status 1 on any violation.

    PATRON_DEBUG=1 .venv/bin/python bench/till_simulator.py [--database sqlite|postgresql]
        [--tills 8] [--seconds 60] [--kill-every 8] [--members 3000] [--workers 2] [--seed 1]
    # against a server you run (no kills): point DATABASE_URL / PATRON_VAR_DIR at its database too
    PATRON_DEBUG=1 .venv/bin/python bench/till_simulator.py --server http://127.0.0.1:8000

tests/ledger/test_crash.py drives the same core (`Server`, `run_day`, `verify`, `run_jobs`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
POS = "/api/v1/pos"
CATALOG = [
    ("LS00042", "零食饮料"),
    ("RY01003", "日用百货"),
    ("SX20011", "生鲜"),
    ("FZ30007", "服装"),
    ("MY40002", "母婴"),
    ("DQ50019", "家电"),
]


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A WSGI server in its own process group, so a crash kills master and workers at once: gunicorn
    with sync workers, or granian (`kind="granian"`: Rust HTTP with keep-alive, one blocking thread
    per worker process, so each worker runs one request at a time like a sync worker)."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 2,
        port: int | None = None,
        log: Path | None = None,
        preload: bool = True,
        kind: str = "gunicorn",
    ):
        if kind not in ("gunicorn", "granian"):
            raise ValueError(f"unknown server {kind}")
        self.kind = kind
        self.env = env
        self.workers = workers
        self.preload = preload  # import the app once in the master: a restart costs one import, not one per worker
        self.port = port or free_port()
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.boot_seconds: list[float] = []
        self.closed = False  # after stop() nothing starts it again (a chaos thread still running, say)

    def start(self, timeout: float = 90) -> None:
        if self.closed:
            raise RuntimeError("the server was stopped for good")
        if self.log_path is not None and self._log is None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the server
        out = self._log if self._log is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self._command(), env=self.env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
        )
        self.starts += 1
        began = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}; see {self.log_path}")
            if self.healthy():
                self.boot_seconds.append(time.monotonic() - began)
                return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{self.kind} did not answer on port {self.port} within {timeout} s; see {self.log_path}")

    def _command(self) -> list[str]:
        bin_dir = Path(sys.executable).parent
        if self.kind == "granian":
            return [
                str(bin_dir / "granian"),
                "--interface",
                "wsgi",
                "--workers",
                str(self.workers),
                "--blocking-threads",
                "1",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-ws",
                "patron.wsgi:application",
            ]
        return [
            str(bin_dir / "gunicorn"),
            "patron.wsgi",
            "--workers",
            str(self.workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            *(["--preload"] if self.preload else []),
        ]

    @property
    def pid(self) -> int | None:
        """The server's root process (gunicorn's master, granian's main process)."""
        return self.process.pid if self.process is not None else None

    def healthy(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/health")
            response = conn.getresponse()
            response.read()
            return response.status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def kill(self) -> None:
        """SIGKILL the master and every worker: a power cut, not a shutdown."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None
        self.kills += 1

    def stop(self) -> None:
        """Graceful stop (SIGTERM, then SIGKILL after 20 s); always closes the log."""
        self.closed = True
        try:
            if self.process is not None:
                try:
                    os.killpg(self.process.pid, signal.SIGTERM)
                    self.process.wait(timeout=20)
                except ProcessLookupError:
                    self.process.wait()
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
                self.process = None
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None


def server_env(database_url: str | None = None, var_dir: Path | None = None, secret_key: str = "till-sim") -> dict:
    """Environment for a production-like patron process (DEBUG off) on the given database."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        PYTHONPATH=str(ROOT / "src"),
        DJANGO_SETTINGS_MODULE="patron.settings",
        PATRON_SECRET_KEY=secret_key,
        PATRON_DEBUG="0",
        PATRON_ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    if var_dir is not None:
        env["PATRON_VAR_DIR"] = str(var_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def database_url_from_settings(settings_dict: dict[str, Any]) -> str:
    """postgres://user:password@host:port/name for a Django PostgreSQL settings dict (the test database)."""
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


# --------------------------------------------------------------------------- signed calls


@dataclass(frozen=True)
class Till:
    name: str
    store_code: str
    key: str
    secret: str = field(repr=False)


class NoAnswer(Exception):
    pass


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def code(self) -> str:
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""


def signed_headers(secret: str, method: str, path: str, body: bytes) -> dict[str, str]:
    """ADR 0006: hex HMAC-SHA256(secret, "{ts}.{nonce}.{METHOD}.{path}." + body), a new nonce each call."""
    ts = str(int(time.time()))
    nonce = secrets.token_urlsafe(16)
    message = f"{ts}.{nonce}.{method}.{path}.".encode() + body
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"X-Patron-Timestamp": ts, "X-Patron-Nonce": nonce, "X-Patron-Signature": signature}


def call(
    port: int, till: Till, method: str, path: str, payload: Any = None, key: str | None = None, timeout: float = 30
) -> Answer:
    """One signed request on a new connection; NoAnswer when no HTTP response came back."""
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Authorization": f"Bearer {till.key}", **signed_headers(till.secret, method, path, body)}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    if key is not None:
        headers["Idempotency-Key"] = key
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        raw = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        raise NoAnswer(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = {"raw": raw[:300].decode(errors="replace")}
    return Answer(status, data)


# --------------------------------------------------------------------------- what the tills did


@dataclass
class Op:
    """One write as the till saw it: what it sent under which key, and the answer it finally got."""

    kind: str  # sale, refund, reverse, redeem, hold, commit, void
    till: str
    store_code: str
    key: str
    path: str
    payload: dict[str, Any]
    status: int | None = None
    answer: Any = None
    attempts: int = 0
    ref: str = ""  # external id, redemption or hold reference this op is about

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)

    @property
    def code(self) -> str:
        return str(self.answer.get("code", "")) if isinstance(self.answer, dict) else ""


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n


@dataclass
class Day:
    """Everything a run produced: the writes, the counters, the problems seen on the wire."""

    run: str
    ops: list[Op] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    problems: list[str] = field(default_factory=list)
    kills: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


@dataclass
class Settings:
    timeout: float = 30.0  # an ordinary request's client timeout
    short_timeout_rate: float = 0.04  # share of attempts the till gives up on after a few ms
    duplicate_rate: float = 0.08  # share of answered writes sent once more on purpose
    answer_within: float = 120.0  # a write unanswered this long (server down for good) is a failure
    pay_rate: float = 0.25
    weights: tuple[tuple[str, float], ...] = (
        ("sale", 0.55),
        ("refund", 0.12),
        ("reverse", 0.04),
        ("redeem", 0.12),
        ("hold", 0.12),
        ("look", 0.05),
    )


@dataclass
class SaleMemo:
    external_id: str
    member_no: str
    amount: Decimal
    refunded: Decimal = Decimal("0")


class TillWorker:
    def __init__(self, day: Day, server_port: int, till: Till, members: list[str], rng: random.Random, cfg: Settings):
        self.day = day
        self.port = server_port
        self.till = till
        self.members = members
        self.rng = rng
        self.cfg = cfg
        self.n = 0
        self.sales: list[SaleMemo] = []

    # --------------------------------------------------------------- the wire

    def _next(self, letter: str) -> str:
        self.n += 1
        return f"{self.day.run}-{self.till.name}-{letter}{self.n}"

    def _attempt(self, method: str, path: str, payload: Any, key: str | None) -> Answer:
        short = self.rng.random() < self.cfg.short_timeout_rate
        timeout = self.rng.uniform(0.002, 0.05) if short else self.cfg.timeout
        self.day.stats.add("requests")
        try:
            return call(self.port, self.till, method, path, payload, key, timeout)
        except NoAnswer:
            self.day.stats.add("gave_up_after_short_timeout" if short else "no_answer")
            raise

    def send(self, method: str, path: str, payload: Any, key: str | None) -> tuple[Answer, int]:
        """Send until answered: the same key and body, signed again each time."""
        started = time.monotonic()
        attempts, delay = 0, 0.05
        while True:
            attempts += 1
            try:
                answer = self._attempt(method, path, payload, key)
            except NoAnswer:
                answer = None
            if answer is not None:
                if answer.status >= 500:
                    self.day.stats.add(f"http_{answer.status}")
                    self.day.problem(f"{self.till.name} {method} {path} key={key}: {answer.status} {answer.body}")
                elif answer.status == 409 and answer.code == "duplicate_request":
                    self.day.stats.add("in_flight_409")
                elif answer.status == 401:
                    self.day.stats.add(f"refused_401_{answer.code}")
                    self.day.problem(f"{self.till.name} {method} {path}: 401 {answer.code}")
                else:
                    return answer, attempts
            if time.monotonic() - started > self.cfg.answer_within:
                raise NoAnswer(f"{method} {path} key={key}: no answer after {attempts} attempts")
            time.sleep(delay * self.rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 1.0)

    def write(self, kind: str, path: str, payload: dict[str, Any], ref: str) -> Op:
        op = Op(kind, self.till.name, self.till.store_code, key=self._next("K"), path=path, payload=payload, ref=ref)
        try:
            answer, op.attempts = self.send("POST", path, payload, op.key)
        except NoAnswer as exc:
            self.day.problem(f"never answered: {exc}")
            op.status = None
            self.day.record(op)
            return op
        op.status, op.answer = answer.status, answer.body
        if op.attempts > 1:
            self.day.stats.add("answered_after_retry")
        self.day.record(op)
        if self.rng.random() < self.cfg.duplicate_rate:
            self.day.stats.add("deliberate_duplicates")
            try:
                again, _n = self.send("POST", path, payload, op.key)
            except NoAnswer as exc:
                self.day.problem(f"duplicate never answered: {exc}")
            else:
                if (again.status, again.body) != (op.status, op.answer):
                    self.day.problem(
                        f"{self.till.name} key={op.key}: a repeat answered {again.status} {again.body}, "
                        f"the first {op.status} {op.answer}"
                    )
        return op

    def read(self, method: str, path: str, payload: Any = None) -> Answer | None:
        try:
            return self.send(method, path, payload, None)[0]
        except NoAnswer as exc:
            self.day.problem(f"read never answered: {exc}")
            return None

    # --------------------------------------------------------------- what a till does

    def available(self, member_no: str) -> int:
        answer = self.read("GET", f"{POS}/balance?member_no={member_no}")
        if answer is None or answer.status != 200:
            return 0
        return int(answer.body.get("available", 0))

    def basket(self) -> tuple[list[dict[str, str]], Decimal]:
        lines = []
        for _ in range(self.rng.randint(1, 3)):
            sku, category = self.rng.choice(CATALOG)
            amount = Decimal(str(round(self.rng.lognormvariate(3.8, 0.9), 2))).quantize(Decimal("0.01"))
            amount = max(amount, Decimal("1.00"))
            lines.append(
                {"sku": sku, "category": category, "quantity": str(self.rng.randint(1, 3)), "amount": str(amount)}
            )
        return lines, sum((Decimal(x["amount"]) for x in lines), Decimal("0"))

    def sale(self) -> None:
        member_no = self.rng.choice(self.members)
        available = self.available(member_no)  # identify at the till
        lines, amount = self.basket()
        if self.rng.random() < 0.5:
            self.read("POST", f"{POS}/quote", {"member_no": member_no, "amount": str(amount), "lines": lines})
        external_id = self._next("S")
        payload: dict[str, Any] = {
            "member_no": member_no,
            "external_id": external_id,
            "amount": str(amount),
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
            "lines": lines,
        }
        most = min(available, int(amount * 100) // 2)  # points pay for at most half (100 points = ¥1)
        if most >= 100 and self.rng.random() < self.cfg.pay_rate:
            payload["pay_with_points"] = self.rng.randint(100, most)
        op = self.write("sale", f"{POS}/sales", payload, external_id)
        if op.status == 201:
            self.sales.append(SaleMemo(external_id, member_no, amount))

    def _open_sale(self) -> SaleMemo | None:
        open_sales = [s for s in self.sales if s.refunded < s.amount]
        return self.rng.choice(open_sales) if open_sales else None

    def refund(self) -> None:
        sale = self._open_sale()
        if sale is None:
            return self.sale()
        left = sale.amount - sale.refunded
        if self.rng.random() < 0.35:
            amount = left
        else:
            amount = (left * Decimal(str(self.rng.uniform(0.1, 0.9)))).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            amount = max(amount, Decimal("0.01"))
        external_id = self._next("R")
        payload = {
            "original_external_id": sale.external_id,
            "external_id": external_id,
            "amount": str(amount),
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        op = self.write("refund", f"{POS}/refunds", payload, external_id)
        if op.status == 201:
            sale.refunded += amount

    def reverse(self) -> None:
        sale = self._open_sale()
        if sale is None:
            return self.sale()
        external_id = self._next("V")
        payload = {"reason": "rung up by mistake", "external_id": external_id}
        op = self.write("reverse", f"{POS}/sales/{sale.external_id}/reverse", payload, external_id)
        if op.status == 201:
            sale.refunded = sale.amount

    def redeem(self) -> None:
        member_no = self.rng.choice(self.members)
        available = self.available(member_no)
        points = self.rng.randint(1, max(1, min(available, 800)))
        reference = self._next("D")
        payload = {"member_no": member_no, "points": points, "purpose": "payment", "reference": reference}
        self.write("redeem", f"{POS}/redemptions", payload, reference)

    def hold(self) -> None:
        member_no = self.rng.choice(self.members)
        available = self.available(member_no)
        points = self.rng.randint(1, max(1, min(available, 800)))
        reference = self._next("H")
        payload = {"member_no": member_no, "points": points, "purpose": "reward", "reference": reference}
        op = self.write("hold", f"{POS}/holds", payload, reference)
        if op.status != 201:
            return
        hold_id = op.answer["id"]
        fate = self.rng.random()
        if fate < 0.45:
            self.write("commit", f"{POS}/holds/{hold_id}/commit", {}, reference)
        elif fate < 0.9:
            self.write("void", f"{POS}/holds/{hold_id}/void", {}, reference)
        # else: left open for the hold-expiry job

    def look(self) -> None:
        member_no = self.rng.choice(self.members)
        self.available(member_no)
        self.read("POST", f"{POS}/quote", {"member_no": member_no, "amount": "58.00"})

    def run(self, stop: threading.Event) -> None:
        actions = {
            "sale": self.sale,
            "refund": self.refund,
            "reverse": self.reverse,
            "redeem": self.redeem,
            "hold": self.hold,
            "look": self.look,
        }
        names = [w[0] for w in self.cfg.weights]
        weights = [w[1] for w in self.cfg.weights]
        while not stop.is_set():
            actions[self.rng.choices(names, weights)[0]]()


class Chaos(threading.Thread):
    """SIGKILLs the server at random moments, `every` s apart on average once it is back up, and
    restarts it; stops after `kills` kills when given."""

    def __init__(self, server: Server, every: float, rng: random.Random, day: Day, kills: int | None = None):
        super().__init__(daemon=True)
        self.server, self.every, self.rng, self.day, self.kills = server, every, rng, day, kills
        self.stop_event = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while self.kills is None or self.day.kills < self.kills:
                if self.stop_event.wait(self.every * self.rng.uniform(0.4, 1.6)):
                    return
                self.server.kill()
                self.day.kills += 1
                self.server.start()
        except Exception as exc:  # reported, never raised in a thread
            self.day.problem(f"chaos thread failed: {exc!r}")
        finally:
            self.done.set()


def run_day(
    server: Server | None,
    tills: list[Till],
    members: list[str],
    *,
    seconds: float,
    kill_every: float = 0,
    kills: int | None = None,
    seed: int = 1,
    run: str | None = None,
    port: int | None = None,
    cfg: Settings | None = None,
) -> Day:
    """Run the tills for `seconds` (each finishes the write it is on, however long the server is
    down); with `kill_every` > 0 the server is SIGKILLed and restarted meanwhile. With `kills`
    the day lasts until that many kills are done too, and the server is left up."""
    cfg = cfg or Settings()
    day = Day(run=run or f"T{int(time.time()) % 10**7}")
    rng = random.Random(seed)
    target_port = port if port is not None else server.port  # type: ignore[union-attr]
    started = time.monotonic()
    stop = threading.Event()
    chaos = None
    if kill_every > 0 and server is not None:
        chaos = Chaos(server, kill_every, random.Random(seed * 7919), day, kills)
        chaos.start()
    workers = [TillWorker(day, target_port, till, members, random.Random(rng.getrandbits(32)), cfg) for till in tills]

    def loop(worker: TillWorker) -> None:
        try:
            worker.run(stop)
        except Exception as exc:  # a till that crashes is a finding
            day.problem(f"{worker.till.name} crashed: {exc!r}")

    threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
    try:
        for t in threads:
            t.start()
        time.sleep(seconds)
        if chaos is not None and kills is not None:
            chaos.done.wait(timeout=seconds + 30 * kills)
    finally:
        if chaos is not None:
            chaos.stop_event.set()
            chaos.join()
        stop.set()
        for t in threads:
            t.join()
    day.seconds = time.monotonic() - started
    return day


# --------------------------------------------------------------------------- checking the ledger (needs Django)


@dataclass
class Verdict:
    violations: list[str] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)

    def fail(self, text: str) -> None:
        self.violations.append(text)


def verify(day: Day, *, points_per_yuan: int | None = None) -> Verdict:
    """Every acknowledged write present once with what its answer said; refused ones left nothing;
    nothing of this run in the database that no till was told about."""
    from patron.ledger.models import Hold, Journal, JournalKind
    from patron.members.models import Transaction

    verdict = Verdict()
    told_transactions: set[str] = set()
    told_redemptions: set[str] = set()
    told_holds: set[str] = set()
    for op in day.ops:
        if op.status is None:
            verdict.fail(f"{op.kind} {op.ref} (key {op.key}) was never answered")
            continue
        if not op.ok:
            verdict.refusals[f"{op.kind} {op.status} {op.code}"] += 1
        verdict.checked[f"{op.kind} {'acknowledged' if op.ok else 'refused'}"] += 1
        if op.kind == "sale":
            _verify_sale(op, verdict, points_per_yuan)
            if op.ok:
                told_transactions.add(op.ref)
        elif op.kind in ("refund", "reverse"):
            _verify_refund(op, verdict)
            if op.ok:
                told_transactions.add(op.ref)
        elif op.kind == "redeem":
            rows = list(Journal.objects.filter(kind=JournalKind.REDEEM, memo=op.ref))
            if op.ok:
                told_redemptions.add(op.ref)
                if len(rows) != 1:
                    verdict.fail(f"redemption {op.ref} acknowledged, {len(rows)} REDEEM journals")
                elif rows[0].pk != op.answer["journal_id"] or rows[0].points != -op.payload["points"]:
                    verdict.fail(f"redemption {op.ref}: journal {rows[0].pk} {rows[0].points} ≠ answer {op.answer}")
            elif rows:
                verdict.fail(f"redemption {op.ref} refused ({op.status} {op.code}) but {len(rows)} journals exist")
        elif op.kind == "hold":
            rows = list(Hold.objects.filter(reference=op.ref))
            if op.ok:
                told_holds.add(op.ref)
                if len(rows) != 1 or rows[0].pk != op.answer["id"] or rows[0].points != op.payload["points"]:
                    verdict.fail(f"hold {op.ref} acknowledged as {op.answer}, found {[(h.pk, h.points) for h in rows]}")
            elif rows:
                verdict.fail(f"hold {op.ref} refused ({op.status} {op.code}) but exists")
        elif op.kind in ("commit", "void"):
            hold = Hold.objects.filter(reference=op.ref).first()
            want = {"commit": "committed", "void": "voided"}[op.kind]
            if op.ok and (hold is None or hold.status != want):
                verdict.fail(f"hold {op.ref} {op.kind} acknowledged, hold is {hold and hold.status}")
    # Nothing of this run that no till was told about.
    run_prefix = f"{day.run}-"
    stored = set(Transaction.objects.filter(external_id__startswith=run_prefix).values_list("external_id", flat=True))
    for extra in sorted(stored - told_transactions)[:20]:
        verdict.fail(f"transaction {extra} is in the database but no till was told it was recorded")
    redemptions = set(
        Journal.objects.filter(kind=JournalKind.REDEEM, memo__startswith=run_prefix).values_list("memo", flat=True)
    )
    redemptions = {m for m in redemptions if "-D" in m.removeprefix(run_prefix)}
    for extra in sorted(redemptions - told_redemptions)[:20]:
        verdict.fail(f"redemption {extra} is in the database but no till was told it was made")
    holds = set(Hold.objects.filter(reference__startswith=run_prefix).values_list("reference", flat=True))
    for extra in sorted(holds - told_holds)[:20]:
        verdict.fail(f"hold {extra} is in the database but no till was told it was made")
    verdict.checked["transactions of this run in the database"] = len(stored)
    return verdict


def _verify_sale(op: Op, verdict: Verdict, rate: int | None) -> None:
    from patron.ledger.models import Journal, JournalKind
    from patron.members.models import Transaction, TransactionKind

    rows = list(Transaction.objects.filter(store__code=op.store_code, external_id=op.ref))
    if not op.ok:
        if rows:
            verdict.fail(f"sale {op.ref} refused ({op.status} {op.code}) but recorded")
        return
    if len(rows) != 1:
        verdict.fail(f"sale {op.ref} acknowledged, found {len(rows)} transactions")
        return
    txn = rows[0]
    answer = op.answer
    if (
        txn.pk != answer["transaction_id"]
        or txn.kind != TransactionKind.SALE
        or txn.amount != Decimal(op.payload["amount"])
    ):
        verdict.fail(f"sale {op.ref}: stored {txn.pk} {txn.kind} {txn.amount} ≠ answer {answer['transaction_id']}")
    earned = answer["points_earned"]
    earns = _earns_by_type(txn)
    if earns != _answered_by_type(answer) or sum(earns.values()) != earned:
        verdict.fail(f"sale {op.ref}: answered {earned} points earned ({answer['rules']}), EARN journals {earns}")
    if rate is not None and earned != int(Decimal(op.payload["amount"]) * rate):
        verdict.fail(f"sale {op.ref}: {earned} points for {op.payload['amount']} at {rate} a yuan")
    redeems = list(Journal.objects.filter(transaction=txn, kind=JournalKind.REDEEM).values_list("points", flat=True))
    paid = op.payload.get("pay_with_points", 0)
    if len(redeems) != (1 if paid else 0) or -sum(redeems) != paid or answer["points_redeemed"] != paid:
        verdict.fail(f"sale {op.ref}: paid {paid} points, answered {answer['points_redeemed']}, REDEEM {redeems}")


def _earns_by_type(txn: Any) -> dict[str, int]:
    """The sale's EARN journals as {point type: points}; a type earned by two journals shows as
    "<type> twice", since a sale earns one journal per point type (a tier's bonus is its own)."""
    from patron.ledger.models import JournalKind, Lot

    lots = Lot.objects.filter(journal__transaction=txn, journal__kind=JournalKind.EARN)
    earns: dict[str, int] = {}
    for point_type, points in lots.values_list("point_type", "journal__points"):
        earns[f"{point_type} twice" if point_type in earns else point_type] = points
    return earns


def _answered_by_type(answer: dict[str, Any]) -> dict[str, int]:
    """What the answer's rules say each point type earned."""
    by_type: dict[str, int] = {}
    for rule in answer["rules"]:
        by_type[rule["type"]] = by_type.get(rule["type"], 0) + rule["points"]
    return {t: p for t, p in by_type.items() if p}


def _verify_refund(op: Op, verdict: Verdict) -> None:
    from patron.ledger.models import Journal, JournalKind
    from patron.members.models import Transaction, TransactionKind

    rows = list(Transaction.objects.filter(store__code=op.store_code, external_id=op.ref))
    if not op.ok:
        if rows:
            verdict.fail(f"{op.kind} {op.ref} refused ({op.status} {op.code}) but recorded")
        return
    if len(rows) != 1 or rows[0].kind != TransactionKind.REFUND or rows[0].pk != op.answer["transaction_id"]:
        verdict.fail(f"{op.kind} {op.ref} acknowledged as {op.answer}, found {[(t.pk, t.kind) for t in rows]}")
        return
    txn = rows[0]
    if op.kind == "refund" and txn.amount != Decimal(op.payload["amount"]):
        verdict.fail(f"refund {op.ref}: stored amount {txn.amount} ≠ sent {op.payload['amount']}")
    journals = Journal.objects.filter(transaction=txn)
    taken = -sum(j.points for j in journals if j.kind == JournalKind.CLAWBACK)
    returned = sum(j.points for j in journals if j.kind == JournalKind.RESTORE)
    if taken != op.answer["points_taken_back"] or returned != op.answer["points_returned"]:
        verdict.fail(
            f"{op.kind} {op.ref}: answered {op.answer['points_taken_back']}/{op.answer['points_returned']}, "
            f"journals {taken}/{returned}"
        )


def run_jobs(now: dt.datetime | None = None) -> dict[str, int]:
    """The scheduled jobs, as if time had moved on: holds expire, pending points release, lots expire."""
    from patron.core import clock
    from patron.ledger import services

    now = now or clock.now()
    return {
        "holds expired": services.expire_holds(now + dt.timedelta(days=1)),
        "members released": services.run_release(now + dt.timedelta(days=366)),
        "members expired": services.run_expiry(now + dt.timedelta(days=800)),
    }


def verify_holds_closed(day: Day, verdict: Verdict) -> None:
    """After the jobs: every hold of this run closed exactly once."""
    from patron.ledger.models import Hold, HoldStatus, Journal, JournalKind

    for hold in Hold.objects.filter(reference__startswith=f"{day.run}-"):
        closing = Journal.objects.filter(hold=hold, kind__in=[JournalKind.COMMIT, JournalKind.VOID]).count()
        if hold.status == HoldStatus.OPEN or closing != 1:
            verdict.fail(f"hold {hold.reference} is {hold.status} with {closing} closing journals")


# --------------------------------------------------------------------------- setting up a database (needs Django)


def issue_till_keys(tills_per_store: dict[str, int]) -> list[Till]:
    """One store-bound key per till, scopes pos + transactions:write."""
    from patron.api.services import do_issue_api_key
    from patron.members.models import Store

    tills = []
    for code, count in tills_per_store.items():
        store = Store.objects.get(code=code)
        for i in range(1, count + 1):
            _key, plain, secret = do_issue_api_key(
                name=f"till {code}-{i}", scopes=["pos", "transactions:write"], store=store
            )
            tills.append(Till(f"{code}-{i}", code, plain, secret))
    return tills


def ensure_retail_rule() -> None:
    from patron.earning import services
    from patron.earning.models import EarningRule

    if not EarningRule.objects.filter(enabled=True).exists():
        services.do_create_rule_from_preset(preset_key="retail_base")


# --------------------------------------------------------------------------- the command


def _patron(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "patron", *args], env=env, cwd=ROOT, check=True)


def _psql(sql: str, url: str) -> None:
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qtAc", sql], check=True, capture_output=True)


def prepare(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """A fresh database with demo data; returns the server environment and a label."""
    var_dir = ROOT / "var" / "till_sim"
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    url = None
    if args.database == "postgresql":
        server = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
        _psql('DROP DATABASE IF EXISTS "till_sim" WITH (FORCE)', f"{server}/postgres")
        _psql('CREATE DATABASE "till_sim"', f"{server}/postgres")
        url = f"{server}/till_sim"
    env = server_env(url, var_dir)
    _patron(env, "migrate", "--noinput", "-v", "0")
    _patron(env, "demo-data", "--members", str(args.members), "--months", str(args.months), "--seed", str(args.seed))
    return env, url or str(var_dir / "patron.sqlite3")


def setup_django(env: dict[str, str]) -> None:
    for name in ("DATABASE_URL", "PATRON_VAR_DIR", "PATRON_SECRET_KEY", "PATRON_DEBUG", "DJANGO_SETTINGS_MODULE"):
        if name in env:
            os.environ[name] = env[name]
        else:
            os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--members", type=int, default=3000, help="demo members in the fresh database")
    parser.add_argument("--months", type=int, default=2, help="months of demo history (earlier points to spend)")
    parser.add_argument("--stores", type=int, default=4, help="stores the tills are spread over")
    parser.add_argument("--tills", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-every", type=float, default=8, help="SIGKILL the server every N s on average; 0: never")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shoppers", type=int, default=400, help="members the tills serve (fewer: more contention)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--server",
        help="use this running server (no kills); its database must be the one DATABASE_URL / PATRON_VAR_DIR point at",
    )
    args = parser.parse_args()

    if args.server:
        env = {k: v for k, v in os.environ.items()}
        env.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
        label = env.get("DATABASE_URL") or "SQLite under PATRON_VAR_DIR"
    else:
        print(f"== preparing a fresh {args.database} database with {args.members:,} demo members", flush=True)
        env, label = prepare(args)
    setup_django(env)
    from django.db import connections

    from patron.members.models import Member, Store

    ensure_retail_rule()
    codes = list(Store.objects.filter(is_active=True).order_by("code").values_list("code", flat=True)[: args.stores])
    per_store = {code: 0 for code in codes}
    for i in range(args.tills):
        per_store[codes[i % len(codes)]] += 1
    tills = issue_till_keys({c: n for c, n in per_store.items() if n})
    pool = list(Member.objects.filter(status="active").order_by("id").values_list("member_no", flat=True))
    members = random.Random(args.seed).sample(pool, min(args.shoppers, len(pool)))
    connections.close_all()

    server = None
    port = None
    if args.server:
        port = urlsplit(args.server).port or 80
        if args.kill_every:
            print("  (--server given: the server is not killed)")
    else:
        log = ROOT / "var" / "till_sim" / "gunicorn.log"
        server = Server(env, workers=args.workers, log=log)
        server.start()
    print(
        f"== {len(tills)} tills at {len(codes)} stores, {len(members)} shoppers, {args.seconds:.0f} s, "
        f"{'SIGKILL every ~' + str(args.kill_every) + ' s' if server and args.kill_every else 'no kills'}; {label}",
        flush=True,
    )
    try:
        day = run_day(
            server,
            tills,
            members,
            seconds=args.seconds,
            kill_every=args.kill_every if server else 0,
            seed=args.seed,
            port=port,
        )
    finally:
        if server is not None:
            server.stop()
    verdict = verify(day)
    jobs = run_jobs()
    verify_holds_closed(day, verdict)
    connections.close_all()
    audit = subprocess.run(
        [sys.executable, "-m", "patron", "ledger-audit", "--json"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    report(day, verdict, jobs, audit)
    sys.exit(0 if not verdict.violations and not day.problems and audit.returncode == 0 else 1)


def report(day: Day, verdict: Verdict, jobs: dict[str, int], audit: subprocess.CompletedProcess[str]) -> None:
    acknowledged = sum(1 for op in day.ops if op.ok)
    print(
        f"\nDay {day.run}: {len(day.ops):,} writes in {day.seconds:.1f} s, {acknowledged:,} acknowledged, "
        f"server killed {day.kills} times"
    )
    for name, n in sorted(day.stats.counts.items()):
        print(f"  {name:<34} {n:>8,}")
    print("Checked:")
    for name, n in sorted(verdict.checked.items()):
        print(f"  {name:<44} {n:>8,}")
    if verdict.refusals:
        print("Refusals (answers, not failures):")
        for name, n in verdict.refusals.most_common():
            print(f"  {name:<44} {n:>8,}")
    print(f"Jobs: {jobs}")
    try:
        result = json.loads(audit.stdout.strip().splitlines()[-1])
        print(f"patron ledger-audit: {'ok' if result['ok'] else 'FAILED'} in {result['seconds']} s")
        for check in result["checks"]:
            if not check["ok"]:
                print(f"  FAIL {check['check']}: {check['detail']} {check['rows'][:5]}")
    except (ValueError, IndexError, KeyError):
        print(f"patron ledger-audit exited {audit.returncode}: {audit.stdout[-500:]} {audit.stderr[-2000:]}")
    for text in day.problems[:30]:
        print(f"PROBLEM {text}")
    for text in verdict.violations[:50]:
        print(f"VIOLATION {text}")
    ok = not verdict.violations and not day.problems and audit.returncode == 0
    print(
        f"\n{'OK' if ok else 'FAILED'}: {len(verdict.violations)} violations, {len(day.problems)} problems on the wire"
    )


if __name__ == "__main__":
    main()

"""The pieces the scenarios are made of: the server as a child process (its own database per
scenario), its HTTP APIs (operator, driver, clock), and charge points built on the `ocpp`
package's ocpp.v16.ChargePoint over `websockets` (HTTP Basic auth, subprotocol ocpp1.6).

Every HTTP call runs in a worker thread so that the charge points on the event loop keep
answering the server's calls (a reset or unlock request waits for the box's answer).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import websockets
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallError, MessageType, unpack
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

# The simulated clock starts here: 10:00 in China (Asia/Shanghai, UTC+8), a peak period.
START = datetime(2026, 1, 5, 2, 0, 0, tzinfo=timezone.utc)
CHINA = timezone(timedelta(hours=8))
ENERGY = "Energy.Active.Import.Register"


class Failure(AssertionError):
    """A check that did not hold: what was expected and what came instead."""


def check(cond: bool, what: str, *, expected=None, got=None) -> None:
    if not cond:
        msg = what
        if expected is not None or got is not None:
            msg += f"\n      expected: {expected!r}\n      got:      {got!r}"
        raise Failure(msg)


def eq(got, expected, what: str) -> None:
    check(got == expected, what, expected=expected, got=got)


def near(got, expected, what: str, tol: float = 1e-6) -> None:
    # The ocpp package reads JSON numbers in the server's calls as Decimal.
    ok = isinstance(got, (int, float, Decimal)) and not isinstance(got, bool) and abs(float(got) - float(expected)) <= tol
    check(ok, what, expected=expected, got=got)


def local(h: int, m: int = 0, day: int = 5) -> datetime:
    """An instant given as China local time on 2026-01-`day`."""
    return datetime(2026, 1, day, h, m, tzinfo=CHINA).astimezone(timezone.utc)


def iso(t: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as a charge point synced to the server writes it."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# The server


@dataclass
class Reply:
    status: int
    body: object

    def __repr__(self) -> str:
        text = json.dumps(self.body, ensure_ascii=False) if not isinstance(self.body, str) else self.body
        if len(text) > 1500:
            text = text[:1500] + "..."
        return f"HTTP {self.status} {text}"


class Server:
    """`utilhall serve --dev --demo --sim-clock ...` on a free port and a database of its own."""

    def __init__(self, binary: str, database_url: str, env: dict[str, str] | None = None):
        self.binary = os.path.abspath(binary)
        self.base_url = database_url
        self.extra_env = env or {}
        self.dir = tempfile.mkdtemp(prefix="utilhall-ocpp-")
        self.outbox = os.path.join(self.dir, "outbox.jsonl")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.schema: str | None = None
        self.url = ""

    # -- database --------------------------------------------------------------------------
    def _database(self) -> str:
        if self.base_url in ("", "sqlite"):
            return f"sqlite://{os.path.join(self.dir, 'ocpp.db')}"
        if self.base_url.startswith("postgres"):
            # A fresh schema per scenario, as the Rust tests do (tests/common/mod.rs).
            self.schema = "ocpp_" + uuid.uuid4().hex[:12]
            self._psql(f"CREATE SCHEMA {self.schema}")
            sep = "&" if "?" in self.base_url else "?"
            return f"{self.base_url}{sep}options=-c%20search_path%3D{self.schema}"
        return self.base_url

    def _psql(self, sql: str) -> None:
        out = subprocess.run(
            ["psql", self.base_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {out.stderr.strip()}")

    # -- process ---------------------------------------------------------------------------
    def start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            {
                "RUST_LOG": os.environ.get("OCPP_PY_RUST_LOG", "info"),
                "NO_COLOR": "1",
                "UTILHALL_AUTH__ARGON2_MEMORY_KIB": "8192",
                "UTILHALL_AUTH__ARGON2_ITERATIONS": "1",
                "UTILHALL_AUTH__ADMIN_LOGIN_IP_LIMIT": "0",
                "UTILHALL_RETAIL__CAPTCHAS_PER_MINUTE": "0",
                "UTILHALL_OCPP__HEARTBEAT_SECS": "10",
                # The simulated clock jumps by half hours; a box is not "offline" because of
                # that unless a scenario asks for it (offline_fault sets its own).
                "UTILHALL_OCPP__OFFLINE_HEARTBEATS": "100000",
                "UTILHALL_OCPP__CALL_TIMEOUT_SECS": "2",
            }
        )
        env.update(self.extra_env)
        db = self._database()
        args = [
            self.binary,
            "serve",
            "--dev",
            "--demo",
            "--dev-outbox",
            self.outbox,
            "--sim-clock",
            iso(START).replace(".000Z", "Z"),
            "--database-url",
            db,
            "--bind",
            f"127.0.0.1:{self.port}",
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            args, cwd=self.dir, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.log_tail(60)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /health in 60 s:\n{self.log_tail(60)}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
        if self.schema:
            try:
                self._psql(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            except RuntimeError:
                pass

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return re.sub(r"\x1b\[[0-9;]*m", "", f.read())
        except OSError:
            return ""

    def log_tail(self, lines: int = 40, grep: str | None = None) -> str:
        text = self.log_text().splitlines()
        if grep:
            text = [l for l in text if grep.lower() in l.lower()]
        return "\n".join(text[-lines:])

    # -- dev outbox ------------------------------------------------------------------------
    def outbox_code(self, to: str, purpose: str) -> str:
        for _ in range(50):
            try:
                with open(self.outbox, encoding="utf-8") as f:
                    lines = [json.loads(l) for l in f if l.strip()]
            except OSError:
                lines = []
            for l in reversed(lines):
                if l.get("to") == to and l.get("purpose") == purpose:
                    return str(l["code"])
            time.sleep(0.05)
        raise Failure(f"no {purpose} code for {to} in the dev outbox")


class Api:
    """The server's HTTP surfaces. Every method is a coroutine (the request runs in a thread)."""

    def __init__(self, server: Server):
        self.server = server
        self.base = server.url
        self.admin: str | None = None

    def _request(self, method: str, path: str, body=None, token: str | None = None, query=None) -> Reply:
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        headers = {"accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if token:
            headers["authorization"] = f"Bearer {token}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = text
        return Reply(status, parsed)

    async def call(self, method: str, path: str, body=None, token=None, query=None) -> Reply:
        return await asyncio.to_thread(self._request, method, path, body, token, query)

    async def text(self, path: str) -> str:
        def get() -> str:
            with urllib.request.urlopen(self.base + path, timeout=30) as r:
                return r.read().decode()

        return await asyncio.to_thread(get)

    # -- operator --------------------------------------------------------------------------
    async def login(self) -> str:
        r = await self.call("POST", "/admin/v1/login", {"username": "admin", "password": "admin123456"})
        check(r.status == 200 and isinstance(r.body, dict) and "token" in r.body, f"operator login: {r}")
        self.admin = r.body["token"]
        return self.admin

    async def op(self, method: str, path: str, body=None) -> Reply:
        return await self.call(method, "/admin/v1" + path, body, token=self.admin)

    async def op_ok(self, method: str, path: str, body=None, status: int = 200) -> dict:
        r = await self.op(method, path, body)
        check(r.status == status, f"{method} /admin/v1{path} {json.dumps(body) if body is not None else ''}: expected HTTP {status}, got {r}")
        return r.body

    async def config(self, **changes) -> dict:
        return await self.op_ok("PUT", "/charging/config", changes)

    async def put_box(self, box_id: str, password: str | None, pile: str | None, *, status: int = 200) -> Reply:
        body: dict = {"pile": pile}
        if password is not None:
            body["password"] = password
        r = await self.op("PUT", f"/charging/boxes/{box_id}", body)
        check(r.status == status, f"PUT /admin/v1/charging/boxes/{box_id}: expected HTTP {status}, got {r}")
        return r

    async def boxes(self) -> dict[str, dict]:
        b = await self.op_ok("GET", "/charging/boxes")
        return {x["id"]: x for x in b["boxes"]}

    async def box(self, box_id: str) -> dict:
        boxes = await self.boxes()
        check(box_id in boxes, f"box {box_id} in GET /admin/v1/charging/boxes", got=list(boxes))
        return boxes[box_id]

    async def piles(self) -> dict[str, dict]:
        b = await self.op_ok("GET", "/charging/piles")
        return {p["id"]: p for p in b["piles"]}

    async def pile(self, pile_id: str) -> dict:
        return (await self.piles())[pile_id]

    async def waiting(self) -> dict:
        return await self.op_ok("GET", "/charging/waiting")

    async def records(self) -> list[dict]:
        b = await self.op_ok("GET", "/charging/records?limit=1000")
        return b["records"]

    async def records_of(self, user: str) -> list[dict]:
        return sorted((r for r in await self.records() if r["user"] == user), key=lambda r: r["id"])

    async def tag(self, id_tag: str, driver: str) -> None:
        await self.op_ok("PUT", f"/charging/tags/{id_tag}", {"driver": driver})

    async def pile_state(self, pile: str, state: str) -> Reply:
        return await self.op("POST", f"/charging/piles/{pile}/state", {"state": state})

    # -- the clock -------------------------------------------------------------------------
    async def now(self) -> datetime:
        r = await self.call("GET", "/admin/v1/clock")
        check(r.status == 200, f"GET /admin/v1/clock: {r}")
        return parse_time(r.body["now"])

    async def clock_to(self, t: datetime) -> datetime:
        r = await self.call("POST", "/admin/v1/clock", {"to": iso(t)}, token=self.admin)
        check(r.status == 200, f"POST /admin/v1/clock to {iso(t)}: {r}")
        now = parse_time(r.body["now"])
        eq(now, t, "the simulated clock after POST /admin/v1/clock")
        return now

    # -- drivers ---------------------------------------------------------------------------
    async def driver(self, name: str, password: str = "123456") -> str:
        """Registers a driver the way the app does (captcha from the dev outbox); the token."""
        r = await self.call("GET", "/charging/captcha")
        check(r.status == 200 and r.body.get("captchaId"), f"GET /charging/captcha: {r}")
        cid = r.body["captchaId"]
        code = await asyncio.to_thread(self.server.outbox_code, cid, "captcha")
        r = await self.call(
            "POST",
            "/charging/register",
            query={"username": name, "password": password, "code": code, "captchaId": cid},
        )
        check(r.status == 200 and r.body.get("code") == 200, f"register driver {name}: {r}")
        return r.body["token"]

    async def apply(self, token: str, mode: str, kwh: float) -> dict:
        r = await self.call("POST", "/charging/user/charge/apply", {"token": token, "mode": mode, "quantity": kwh})
        check(r.status == 200 and r.body.get("code") == 200, f"apply {mode} {kwh} kWh: {r}")
        return r.body

    async def info(self, token: str) -> dict:
        r = await self.call("GET", "/charging/user/charge/info", query={"token": token})
        check(r.status == 200, f"GET /charging/user/charge/info: {r}")
        return r.body

    async def log(self, token: str) -> list:
        r = await self.call("GET", "/charging/user/log", query={"token": token})
        check(r.status == 200 and isinstance(r.body, list), f"GET /charging/user/log: {r}")
        return r.body

    async def metric(self, name: str, labels: str | None = None) -> float:
        """A sample of GET /metrics (the sum over label sets unless `labels` picks one)."""
        text = await self.text("/metrics")
        total, seen = 0.0, False
        for line in text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            key, _, value = line.rpartition(" ")
            metric, _, lab = key.partition("{")
            if metric != name:
                continue
            if labels is not None and labels not in lab:
                continue
            total += float(value)
            seen = True
        check(seen, f"metric {name}{'{' + labels + '}' if labels else ''} in GET /metrics")
        return total


async def until(what: str, probe, timeout: float = 6.0, interval: float = 0.05):
    """Polls the coroutine function `probe` until it returns a truthy value; that value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = await probe()
        except Failure as e:
            last = f"<{e}>"
        if last and not isinstance(last, str):
            return last
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {timeout:.0f} s (last seen: {last!r})")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------------------------
# Charge points


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def open_socket(base_http: str, box_id: str, password: str | None, subprotocol: bool = True):
    url = base_http.replace("http://", "ws://") + f"/ocpp/{box_id}"
    headers = {}
    if password is not None:
        headers["Authorization"] = basic(box_id, password)
    return await websockets.connect(
        url,
        subprotocols=[Subprotocol("ocpp1.6")] if subprotocol else None,
        additional_headers=headers,
        open_timeout=10,
        ping_interval=None,
    )


async def refused_status(base_http: str, box_id: str, password: str | None, subprotocol: bool = True) -> int | None:
    """The HTTP status of a refused upgrade, or None when the server accepted it."""
    try:
        ws = await open_socket(base_http, box_id, password, subprotocol)
    except InvalidStatus as e:
        return e.response.status_code
    await ws.close()
    return None


class Box(ChargePoint):
    """A charge point with one connector, built on ocpp.v16.ChargePoint.

    It answers the server's calls (recording each in `received`), starts a transaction after an
    accepted RemoteStartTransaction and stops it after a RemoteStopTransaction, the way a real
    charger does, and keeps its own energy register (`meter`, Wh).
    """

    def __init__(self, box_id: str, password: str, api: Api, *, features: str = "Core,RemoteTrigger"):
        self.box_id = box_id
        self.password = password
        self.api = api
        self.features = features
        self.meter = 0
        self.tx: int | None = None
        self.tx_tag: str | None = None
        self.now = START
        self.remote_start_answer = "Accepted"
        self.auto_start = True
        self.auto_stop = True
        self.unlock_delay = 0.0
        self.received: list[tuple[str, dict]] = []
        self.queues: dict[str, asyncio.Queue] = defaultdict(asyncio.Queue)
        self.started: asyncio.Queue = asyncio.Queue()
        self.stopped: asyncio.Queue = asyncio.Queue()
        self.errors: list[str] = []
        self.ws = None
        self.task: asyncio.Task | None = None
        self.closed = asyncio.Event()

    # -- connection ------------------------------------------------------------------------
    async def connect(self) -> "Box":
        self.ws = await open_socket(self.api.base, self.box_id, self.password)
        eq(self.ws.subprotocol, "ocpp1.6", f"{self.box_id}: the subprotocol the server chose")
        super().__init__(self.box_id, self.ws, response_timeout=10)
        self.closed = asyncio.Event()
        self.task = asyncio.create_task(self._serve())
        return self

    async def _serve(self) -> None:
        try:
            await self.start()
        except websockets.ConnectionClosed:
            pass
        except Exception as e:  # noqa: BLE001 - reported by the scenario
            self.errors.append(f"receive loop: {e!r}")
        finally:
            self.closed.set()

    def keepalive(self, every: float = 10.0) -> None:
        """Heartbeats every `every` real seconds (the server closes links silent for three
        heartbeat intervals of real time), until the socket closes."""

        async def beat():
            while not self.closed.is_set():
                try:
                    await asyncio.wait_for(self.closed.wait(), every)
                    return
                except asyncio.TimeoutError:
                    pass
                try:
                    await self.call(call.Heartbeat(), suppress=True)
                except Exception:  # noqa: BLE001 - a heartbeat is best effort
                    pass

        self.hb_task = asyncio.create_task(beat())

    async def disconnect(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            await asyncio.wait_for(self.closed.wait(), 5)
            self.task = None

    def synced(self, now: datetime) -> None:
        """The box's clock is the server's (set from BootNotification.conf, moved with it)."""
        self.now = now

    # -- calls to the server ---------------------------------------------------------------
    async def boot(self, vendor: str = "Utilhall-CI", model: str = "PyBox") -> call_result.BootNotification:
        return await self.call(
            call.BootNotification(
                charge_point_vendor=vendor,
                charge_point_model=model,
                charge_point_serial_number=f"SN-{self.box_id}",
                firmware_version="1.6.0-py",
            ),
            suppress=False,
        )

    async def status(self, status: str, connector: int = 1, error: str = "NoError") -> None:
        await self.call(
            call.StatusNotification(connector_id=connector, error_code=error, status=status, timestamp=iso(self.now)),
            suppress=False,
        )

    async def authorize(self, tag: str) -> str:
        r = await self.call(call.Authorize(id_tag=tag), suppress=False)
        return r.id_tag_info["status"]

    async def start_tx(self, tag: str) -> call_result.StartTransaction:
        r = await self.call(
            call.StartTransaction(connector_id=1, id_tag=tag, meter_start=self.meter, timestamp=iso(self.now)),
            suppress=False,
        )
        if r.id_tag_info["status"] == "Accepted" and r.transaction_id > 0:
            self.tx = r.transaction_id
            self.tx_tag = tag
        return r

    async def meter_values(self, readings: list[tuple[datetime, int]] | None = None, unit: str = "Wh") -> None:
        """Sends the register (or the given readings) for the open transaction."""
        check(self.tx is not None, f"{self.box_id}: a transaction is open to send meter values for")
        readings = readings or [(self.now, self.meter)]
        values = []
        for t, wh in readings:
            value = f"{wh / 1000:.3f}" if unit == "kWh" else str(wh)
            values.append(
                {
                    "timestamp": iso(t),
                    "sampled_value": [
                        {"value": value, "measurand": ENERGY, "unit": unit, "context": "Sample.Periodic"}
                    ],
                }
            )
        await self.call(call.MeterValues(connector_id=1, transaction_id=self.tx, meter_value=values), suppress=False)

    async def charge(self, kw: float, minutes: float, send: bool = True) -> None:
        """Power flowed at `kw` for `minutes` up to the box's clock: the register moves, and
        (unless `send` is false) a reading stamped with the box's clock goes to the server."""
        self.meter += round(kw * 1000 * minutes / 60)
        if send:
            await self.meter_values()

    async def stop_tx(self, reason: str | None = None, transaction_data=None, tx: int | None = None):
        tx = tx if tx is not None else self.tx
        if tx == self.tx:
            # Ended for the box once it says so: a RemoteStart may follow the stop at once.
            self.tx = None
        data = None
        if transaction_data:
            data = [
                {"timestamp": iso(t), "sampled_value": [{"value": str(wh), "measurand": ENERGY, "unit": "Wh"}]}
                for t, wh in transaction_data
            ]
        r = await self.call(
            call.StopTransaction(
                meter_stop=self.meter,
                timestamp=iso(self.now),
                transaction_id=tx,
                reason=reason,
                id_tag=self.tx_tag,
                transaction_data=data,
            ),
            suppress=False,
        )
        return r

    async def raw(self, frame: str, unique_id: str, timeout: float = 5.0):
        """Sends a frame as text, bypassing the library's checks; the answer with that id."""
        async with self._call_lock:
            await self._send(frame)
            return await self._get_specific_response(unique_id, timeout)

    # -- the server's calls ----------------------------------------------------------------
    def _got(self, action: str, payload: dict) -> None:
        self.received.append((action, payload))
        self.queues[action].put_nowait(payload)

    async def expect(self, action: str, timeout: float = 6.0) -> dict:
        """The next call `action` the server makes to this box."""
        try:
            return await asyncio.wait_for(self.queues[action].get(), timeout)
        except asyncio.TimeoutError:
            got = [a for a, _ in self.received]
            raise Failure(f"{self.box_id}: the server sent no {action} within {timeout:.0f} s (calls it sent: {got})")

    def drain(self, action: str) -> list[dict]:
        """Forgets the calls `action` received so far (e.g. repeated RemoteStops); returns them."""
        q, out = self.queues[action], []
        while not q.empty():
            out.append(q.get_nowait())
        return out

    async def no_call(self, action: str, wait: float = 0.5) -> None:
        await asyncio.sleep(wait)
        q = self.queues[action]
        check(q.empty(), f"{self.box_id}: the server sent no {action}", got=[q.get_nowait() for _ in range(q.qsize())])

    async def next_start(self, timeout: float = 6.0) -> dict:
        """The outcome of the StartTransaction that followed an accepted RemoteStart."""
        try:
            r = await asyncio.wait_for(self.started.get(), timeout)
        except asyncio.TimeoutError:
            raise Failure(f"{self.box_id}: no transaction started within {timeout:.0f} s (calls: {[a for a, _ in self.received]}; errors: {self.errors})")
        if isinstance(r, Exception):
            raise Failure(f"{self.box_id}: StartTransaction failed: {r!r}")
        return r

    async def next_stop(self, timeout: float = 6.0) -> dict:
        try:
            r = await asyncio.wait_for(self.stopped.get(), timeout)
        except asyncio.TimeoutError:
            raise Failure(f"{self.box_id}: no transaction stopped within {timeout:.0f} s (calls: {[a for a, _ in self.received]}; errors: {self.errors})")
        if isinstance(r, Exception):
            raise Failure(f"{self.box_id}: StopTransaction failed: {r!r}")
        return r

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **kwargs):
        self._got("GetConfiguration", {"key": key})
        known = {
            "SupportedFeatureProfiles": self.features,
            "HeartbeatInterval": "10",
            "NumberOfConnectors": "1",
            "MeterValuesSampledData": ENERGY,
        }
        keys = key if key else list(known)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": True, "value": known[k]} for k in keys if k in known],
            unknown_key=[k for k in keys if k not in known] or None,
        )

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, charging_profile=None, **kwargs):
        self._got(
            "RemoteStartTransaction",
            {"id_tag": id_tag, "connector_id": connector_id, "charging_profile": charging_profile},
        )
        status = self.remote_start_answer if self.tx is None else "Rejected"
        return call_result.RemoteStartTransaction(status=status)

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, id_tag, **kwargs):
        if not self.auto_start or self.remote_start_answer != "Accepted":
            return
        try:
            r = await self.start_tx(id_tag)
            self.started.put_nowait({"transaction_id": r.transaction_id, "status": r.id_tag_info["status"], "id_tag": id_tag})
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"StartTransaction: {e!r}")
            self.started.put_nowait(e)

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id, **kwargs):
        self._got("RemoteStopTransaction", {"transaction_id": transaction_id})
        ok = self.tx is not None and transaction_id == self.tx
        return call_result.RemoteStopTransaction(status="Accepted" if ok else "Rejected")

    @after(Action.remote_stop_transaction)
    async def after_remote_stop(self, transaction_id, **kwargs):
        if not self.auto_stop or self.tx is None or transaction_id != self.tx:
            return
        try:
            r = await self.stop_tx(reason="Remote")
            self.stopped.put_nowait({"transaction_id": transaction_id, "status": (r.id_tag_info or {}).get("status")})
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"StopTransaction: {e!r}")
            self.stopped.put_nowait(e)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id, type, **kwargs):
        self._got("ChangeAvailability", {"connector_id": connector_id, "type": type})
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type, **kwargs):
        self._got("Reset", {"type": type})
        return call_result.Reset(status="Accepted")

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id, **kwargs):
        self._got("UnlockConnector", {"connector_id": connector_id})
        if self.unlock_delay:
            await asyncio.sleep(self.unlock_delay)
        return call_result.UnlockConnector(status="Unlocked")


async def booted(box: Box, api: Api) -> Box:
    """Connects, boots (Accepted expected), syncs its clock, reports Available."""
    await box.connect()
    r = await box.boot()
    eq(r.status, "Accepted", f"{box.box_id}: BootNotification.conf status")
    box.keepalive(min(float(r.interval), 10.0))
    box.synced(parse_time(r.current_time))
    await box.status("Available")
    return box


__all__ = [
    "Api",
    "Box",
    "Call",
    "CallError",
    "Failure",
    "MessageType",
    "OCPPError",
    "Reply",
    "START",
    "Server",
    "booted",
    "check",
    "eq",
    "iso",
    "local",
    "near",
    "parse_time",
    "refused_status",
    "unpack",
    "until",
]

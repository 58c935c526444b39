"""The scenarios: each gets a server of its own (fresh database) and drives it with charge points
built on the `ocpp` package, asserting the numbers a person computes by hand.

Tariff (src/domain/charging/tariff.rs, Tariff::standard, China time): valley 0.40 (23-7),
flat 0.70 (7-10, 15-18, 21-23), peak 1.00 (10-15, 18-21); service 0.80 per kWh. The simulated
clock starts at 2026-01-05 10:00 China time (02:00Z) and only moves when told.
"""

from __future__ import annotations

import asyncio
import json

import websockets

from harness import (
    Api,
    Box,
    Failure,
    OCPPError,
    START,
    booted,
    check,
    eq,
    iso,
    local,
    near,
    parse_time,
    refused_status,
    until,
)
from ocpp.v16 import call

PASSWORD = "ci-secret-0123456789"  # 20 characters: within 16-40
FAST_W = 30_000


# --------------------------------------------------------------------------------------------
# helpers


async def code_of(coro) -> str | None:
    """The CALLERROR code a call ends with, or None when it succeeded."""
    try:
        await coro
    except OCPPError as e:
        return e.code
    return None


async def setup(api: Api, **config) -> None:
    await api.login()
    if config:
        await api.config(**config)


async def bind(api: Api, box_id: str, pile: str | None, features: str = "Core,RemoteTrigger") -> Box:
    r = await api.put_box(box_id, PASSWORD, pile)
    eq(r.body["box"]["id"], box_id, f"PUT box {box_id}: box.id")
    eq(r.body["box"]["pile"], pile, f"PUT box {box_id}: box.pile")
    return Box(box_id, PASSWORD, api, features=features)


async def pile_state(api: Api, pile: str, state: str, timeout: float = 6.0) -> dict:
    async def probe():
        p = await api.pile(pile)
        return p if p["state"] == state else f"state {p['state']}"

    return await until(f"pile {pile} state {state!r}", probe, timeout)


def numbers(cars) -> list[str]:
    return [c["number"] for c in (cars or [])]


async def layout(api: Api) -> dict:
    piles = await api.piles()
    w = await api.waiting()
    return {
        **{pid: numbers(p.get("cars")) for pid, p in piles.items()},
        "waiting": numbers(w.get("waiting")),
        "displaced": numbers(w.get("displaced")),
    }


async def records_count(api: Api, user: str, n: int, timeout: float = 6.0) -> list[dict]:
    async def probe():
        rs = await api.records_of(user)
        return rs if len(rs) == n else f"{len(rs)} records: {json.dumps(rs)}"

    return await until(f"{n} detail record(s) of {user}", probe, timeout)


def check_record(r: dict, *, who: str, kwh: float, charge: str, service: str, total_fen: int, start=None, stop=None, pile=None, reason=None) -> None:
    near(r["kwh"], kwh, f"{who}: record kwh")
    eq(r["charge_fee"], charge, f"{who}: record charge_fee")
    eq(r["service_fee"], service, f"{who}: record service_fee")
    eq(r["total_fen"], total_fen, f"{who}: record total_fen")
    if start is not None:
        eq(parse_time(r["start"]), start, f"{who}: record start")
    if stop is not None:
        eq(parse_time(r["stop"]), stop, f"{who}: record stop")
    if pile is not None:
        eq(r["pile"], pile, f"{who}: record pile")
    if reason is not None:
        eq(r["reason"], reason, f"{who}: record reason")


async def move(api: Api, t, *boxes: Box) -> None:
    """Moves the simulated clock to `t`; the boxes' clocks follow (they are synced)."""
    await api.clock_to(t)
    for b in boxes:
        b.synced(t)


def box_errors(*boxes: Box) -> None:
    for b in boxes:
        check(not b.errors, f"{b.box_id}: the charge point's own calls failed", got=b.errors)


# --------------------------------------------------------------------------------------------
# 1. the link: boot, refusals, the rejected box, bad frames


async def boot_and_link(api: Api) -> None:
    await setup(api, fast_piles=1, slow_piles=1)

    # Charge boxes as the operator registers them.
    r = await api.op("PUT", "/charging/boxes/bad!id", {"password": PASSWORD, "pile": "F1"})
    eq(r.status, 400, f"a box id with '!': {r}")
    r = await api.op("PUT", "/charging/boxes/CP-SHORT", {"password": "fifteen-chars-x", "pile": "F1"})
    eq(r.status, 400, f"a 15-character password: {r}")
    r = await api.op("PUT", "/charging/boxes/CP-NOPW", {"pile": "F1"})
    eq(r.status, 400, f"a new box without a password: {r}")
    r = await api.op("PUT", "/charging/boxes/CP-F9", {"password": PASSWORD, "pile": "F9"})
    eq(r.status, 404, f"an unknown pile: {r}")
    box = await bind(api, "CP-F1", "F1")
    r = await api.put_box("CP-OTHER", PASSWORD, "F1", status=409)
    loose = await bind(api, "CP-LOOSE", None)
    view = await api.box("CP-F1")
    eq((view.get("connected"), view.get("transaction")), (False, None), "CP-F1 before it connects: connected, transaction")
    # The box view's `accepted` (boot accepted) is checked at the end, so that the rest runs.
    accepted = [("CP-F1 before it connects", view.get("accepted"), False)]
    piles = await api.piles()
    eq((piles["F1"].get("kind"), piles["F1"].get("box")), ("ocpp", "CP-F1"), "pile F1: kind, box")
    eq((piles["T1"].get("kind"), piles["T1"].get("box")), ("simulated", None), "pile T1: kind, box")

    # HTTP Basic auth before the upgrade; the subprotocol.
    eq(await refused_status(api.base, "CP-F1", "wrong-password-123456"), 401, "wrong password: HTTP status of the upgrade")
    eq(await refused_status(api.base, "CP-F1", None), 401, "no Authorization header: HTTP status")
    eq(await refused_status(api.base, "CP-NOBODY", PASSWORD), 401, "unknown box: HTTP status")
    eq(await refused_status(api.base, "CP-F1", PASSWORD, subprotocol=False), 400, "no ocpp1.6 subprotocol offered: HTTP status")

    # A registered box bound to no pile: Rejected, and nothing else it says is taken.
    await loose.connect()
    r = await loose.boot()
    eq(r.status, "Rejected", "BootNotification of a box bound to no pile: status")
    eq(await code_of(loose.call(call.Heartbeat(), suppress=False)), "SecurityError", "Heartbeat of the rejected box: CALLERROR")
    eq(await code_of(loose.authorize("ANY")), "SecurityError", "Authorize of the rejected box: CALLERROR")
    await loose.disconnect()
    accepted.append(("CP-LOOSE after its rejected boot", (await api.box("CP-LOOSE")).get("accepted"), False))

    # The bound box: nothing before its BootNotification, then Accepted with the interval and
    # the server's clock; the server then asks for its feature profiles.
    await box.connect()
    # (These two are checked at the end, so that the rest runs.)
    before_boot = [
        ("Heartbeat before BootNotification", await code_of(box.call(call.Heartbeat(), suppress=False))),
        ("Authorize before BootNotification", await code_of(box.authorize("ANY"))),
    ]
    r = await box.boot()
    eq(r.status, "Accepted", "BootNotification of a bound box: status")
    eq(r.interval, 10, "BootNotification.conf interval (UTILHALL_OCPP__HEARTBEAT_SECS=10)")
    eq(parse_time(r.current_time), START, "BootNotification.conf currentTime (the simulated clock)")
    gc = await box.expect("GetConfiguration")
    check("SupportedFeatureProfiles" in (gc["key"] or []), "GetConfiguration after boot asks for SupportedFeatureProfiles", got=gc)
    hb = await box.call(call.Heartbeat(), suppress=False)
    eq(parse_time(hb.current_time), START, "Heartbeat.conf currentTime")
    await api.clock_to(local(10, 5))
    hb = await box.call(call.Heartbeat(), suppress=False)
    eq(parse_time(hb.current_time), local(10, 5), "Heartbeat.conf currentTime after the clock moved 5 minutes")
    box.synced(local(10, 5))
    await box.status("Available")

    async def seen():
        v = await api.box("CP-F1")
        return v if v["status"] == "Available" else f"status {v['status']}"

    v = await until("CP-F1 status Available in the box view", seen)
    eq(
        {k: v.get(k) for k in ("pile", "connected", "vendor", "model", "serial", "firmware", "status", "error_code", "smart_charging", "transaction")},
        {
            "pile": "F1",
            "connected": True,
            "vendor": "Utilhall-CI",
            "model": "PyBox",
            "serial": "SN-CP-F1",
            "firmware": "1.6.0-py",
            "status": "Available",
            "error_code": None,
            "smart_charging": False,
            "transaction": None,
        },
        "the box view of CP-F1",
    )
    check(v.get("last_seen") is not None and parse_time(v["last_seen"]) == local(10, 5), "CP-F1 last_seen is the simulated clock", got=v.get("last_seen"))
    accepted.append(("CP-F1 after its accepted boot", v.get("accepted"), True))

    # Bad frames get CALLERRORs, never a closed socket.
    e = await box.raw('[2,"u-unknown","FlyToTheMoon",{}]', "u-unknown")
    eq(e.error_code, "NotImplemented", "an unknown action: CALLERROR code")
    e = await box.raw(
        json.dumps([2, "u-type", "StartTransaction", {"connectorId": 1, "idTag": "X", "meterStart": "lots", "timestamp": iso(local(10, 5))}]),
        "u-type",
    )
    eq(e.error_code, "TypeConstraintViolation", "StartTransaction with meterStart a string: CALLERROR code")
    e = await box.raw('[2,"u-missing","Authorize",{}]', "u-missing")
    check(
        e.error_code in ("OccurenceConstraintViolation", "PropertyConstraintViolation", "TypeConstraintViolation", "FormationViolation"),
        "Authorize without idTag: a payload CALLERROR",
        got=e.error_code,
    )
    e = await box.raw('[2,"u-shape",42,{}]', "u-shape")
    check(e.error_code in ("FormationViolation", "ProtocolError"), "an action that is not a string: FormationViolation or ProtocolError, id kept", got=e.error_code)
    hb = await box.call(call.Heartbeat(), suppress=False)
    eq(parse_time(hb.current_time), local(10, 5), "Heartbeat after the bad frames (the socket stayed open)")

    # Metrics.
    async def one_connected():
        n = await api.metric("utilhall_ocpp_connected_boxes")
        return n if n == 1.0 else f"{n}"

    await until("utilhall_ocpp_connected_boxes = 1 (CP-F1 on, CP-LOOSE gone)", one_connected)
    check(await api.metric("utilhall_ocpp_messages_total", 'action="BootNotification"') >= 2, "utilhall_ocpp_messages_total{action=BootNotification} >= 2")
    check(await api.metric("utilhall_ocpp_rejected_total") >= 1, "utilhall_ocpp_rejected_total counts the refusals")

    # Unbinding closes the box's socket and makes F1 simulated again.
    await api.op_ok("DELETE", "/charging/boxes/CP-F1")
    try:
        await asyncio.wait_for(box.closed.wait(), 6)
    except asyncio.TimeoutError:
        raise Failure("DELETE /admin/v1/charging/boxes/CP-F1 did not close the box's socket within 6 s")
    p = await api.pile("F1")
    eq((p.get("kind"), p.get("box")), ("simulated", None), "pile F1 after DELETE of its box: kind, box")
    box_errors(box, loose)
    wrong = [f"{what}: expected CALLERROR 'SecurityError', got {got!r}" for what, got in before_boot if got != "SecurityError"]
    wrong += [f"box view `accepted` (boot accepted) of {what}: expected {exp!r}, got {got!r}" for what, got, exp in accepted if got != exp]
    check(not wrong, "\n      ".join(["calls before an accepted boot / the box view (ocpp-spec.md):"] + wrong))


# --------------------------------------------------------------------------------------------
# 2. driver cards: Authorize and a walk-in session


async def authorize_and_walk_in(api: Api) -> None:
    await setup(api, fast_piles=2, slow_piles=1)
    a = await bind(api, "CP-F1", "F1")
    b = await bind(api, "CP-F2", "F2")
    alice = await api.driver("alice")
    carol = await api.driver("carol")
    await api.tag("ALICE-CARD", "alice")
    await api.tag("CAROL-CARD", "carol")
    r = await api.op("PUT", "/charging/tags/" + "T" * 21, {"driver": "alice"})
    eq(r.status, 400, f"a 21-character idTag: {r}")
    tags = await api.op_ok("GET", "/charging/tags")
    listed = json.dumps(tags)
    check("ALICE-CARD" in listed and "CAROL-CARD" in listed, "GET /admin/v1/charging/tags lists both cards", got=tags)

    await booted(a, api)
    await booted(b, api)
    eq(await a.authorize("ALICE-CARD"), "Accepted", "Authorize of alice's registered card")
    eq(await a.authorize("NOBODY"), "Invalid", "Authorize of an unknown tag")

    # Walk-in: alice's card on the idle F1, metered from 2.000 kWh at 10:00.
    a.meter = 2_000
    r = await a.start_tx("ALICE-CARD")
    eq(r.id_tag_info["status"], "Accepted", "StartTransaction with alice's card on an idle pile: idTagInfo.status")
    check(r.transaction_id > 0, "StartTransaction.conf transactionId > 0", got=r.transaction_id)
    v = (await api.box("CP-F1"))["transaction"]
    check(v is not None, "CP-F1 view has the walk-in transaction")
    eq((v["id"], v["user"]), (r.transaction_id, "alice"), "CP-F1 transaction id, user")
    near(v["meter_start_kwh"], 2.0, "CP-F1 transaction meter_start_kwh")
    i = await api.info(alice)
    eq((i.get("state"), i.get("pile")), ("charging", "F1"), "alice's request after the walk-in start: state, pile")
    near(i.get("quantity"), 100.0, "a walk-in session requests 100 kWh")

    # Refusals get transactionId 0.
    r = await b.start_tx("STRANGER")
    eq((r.id_tag_info["status"], r.transaction_id), ("Invalid", 0), "StartTransaction with an unknown tag: status, transactionId")
    await api.apply(carol, "slow", 5)
    r = await b.start_tx("CAROL-CARD")
    eq((r.id_tag_info["status"], r.transaction_id), ("ConcurrentTx", 0), "StartTransaction with the card of a driver who has a request on T1: status, transactionId")
    check(b.tx is None, "CP-F2 has no transaction")

    # 10 kWh by 10:20 (peak): 10.00 + service 8.00.
    await move(api, local(10, 20), a, b)
    a.meter = 12_000
    await a.meter_values()
    i = await api.info(alice)
    near(i["charged"], 10.0, "alice's charged kWh after the 10:20 reading")
    near(i["fee"], 18.00, "alice's fee so far after 10 kWh at peak (10.00 + 8.00)")
    p = await api.pile("F1")
    eq(len(p["cars"]), 1, "one car on F1")
    near(p["cars"][0]["charged_kwh"], 10.0, "operator's view: charged_kwh")
    eq(p["cars"][0]["fee_so_far"], "18.00", "operator's view: fee_so_far")

    # The driver unplugs at 10:30 with 15 kWh: the record is alice's.
    await move(api, local(10, 30), a, b)
    a.meter = 17_000
    tx = a.tx
    r = await a.stop_tx(reason="Local")
    eq((r.id_tag_info or {}).get("status"), "Accepted", "StopTransaction.conf idTagInfo.status")
    recs = await records_count(api, "alice", 1)
    check_record(recs[0], who="alice walk-in", kwh=15.0, charge="15.00", service="12.00", total_fen=2700, start=local(10, 0), stop=local(10, 30), pile="F1")
    eq((await api.info(alice)).get("state"), "none", "alice has no request after the box stopped")
    eq((await api.box("CP-F1"))["transaction"], None, "CP-F1 transaction after the stop")
    # The same stop again changes nothing.
    a.tx = tx
    r = await a.stop_tx(reason="Local")
    eq((r.id_tag_info or {}).get("status"), "Accepted", "the same StopTransaction again: status")
    await asyncio.sleep(0.3)
    eq(len(await api.records_of("alice")), 1, "alice's records after the repeated stop")
    log = await api.log(alice)
    eq(len(log), 1, "alice's /charging/user/log entries")
    near(log[0]["quantity"], 15.0, "alice's log quantity")
    near(log[0]["cost"], 27.0, "alice's log cost")

    # A card that is taken away is refused.
    await api.op_ok("DELETE", "/charging/tags/ALICE-CARD")
    eq(await a.authorize("ALICE-CARD"), "Invalid", "Authorize of a deleted card")
    box_errors(a, b)


# --------------------------------------------------------------------------------------------
# 3. a remote-started session billed over two price periods from its meter values


async def remote_session_two_periods(api: Api) -> None:
    await setup(api, fast_piles=1, slow_piles=1)
    box = await bind(api, "CP-F1", "F1", features="Core,SmartCharging,RemoteTrigger")
    await booted(box, api)
    await box.expect("GetConfiguration")

    async def smart():
        v = await api.box("CP-F1")
        return v if v["smart_charging"] else "smart_charging false"

    await until("CP-F1 smart_charging after it listed SmartCharging", smart)
    bob = await api.driver("bob")

    # 14:30 China time, 30 minutes before the peak ends.
    await move(api, local(14, 30), box)
    box.meter = 1_000_000
    ap = await api.apply(bob, "fast", 20)
    number = ap["number"]
    rs = await box.expect("RemoteStartTransaction")
    eq(rs["connector_id"], 1, "RemoteStartTransaction connectorId")
    check(str(rs["id_tag"]).startswith("UH") and len(rs["id_tag"]) <= 20, "RemoteStartTransaction idTag UH<car>", got=rs["id_tag"])
    cp = rs["charging_profile"]
    check(cp is not None, "a box listing SmartCharging gets a chargingProfile in RemoteStartTransaction", got=rs)
    eq(cp.get("charging_profile_purpose"), "TxProfile", "chargingProfile purpose")
    check(cp.get("charging_profile_kind") in ("Absolute", "Relative"), "chargingProfile kind Absolute/Relative", got=cp.get("charging_profile_kind"))
    sched = cp.get("charging_schedule") or {}
    eq(sched.get("charging_rate_unit"), "W", "chargingSchedule chargingRateUnit")
    periods = sched.get("charging_schedule_period") or [{}]
    near(periods[0].get("limit"), FAST_W, "chargingSchedulePeriod[0].limit = the pile's power in W")
    st = await box.next_start()
    eq(st["status"], "Accepted", "StartTransaction after RemoteStart: idTagInfo.status")
    tx = st["transaction_id"]
    check(tx > 0, "transactionId > 0", got=tx)
    eq(await box.authorize(rs["id_tag"]), "Accepted", "Authorize of the UH tag of the car called to this pile")
    v = (await api.box("CP-F1"))["transaction"]
    check(v is not None, "CP-F1 view has the transaction")
    eq((v["id"], v["car"], v["user"]), (tx, number, "bob"), "CP-F1 transaction id, car, user")
    near(v["meter_start_kwh"], 1000.0, "CP-F1 transaction meter_start_kwh")
    i = await api.info(bob)
    eq((i["state"], i["pile"]), ("charging", "F1"), "bob: state, pile once the transaction started")

    # 14:45: 7 kWh, all at peak: 7.00 + 5.60.
    await move(api, local(14, 45), box)
    box.meter = 1_007_000
    await box.meter_values()
    i = await api.info(bob)
    near(i["charged"], 7.0, "bob charged after the 14:45 reading")
    near(i["fee"], 12.60, "bob's fee after 7 kWh at peak (7.00 + 5.60)")

    # 15:15, sent in kWh: 9 kWh over 14:45-15:15, half peak, half flat:
    # 11.5 kWh x 1.00 + 4.5 kWh x 0.70 + 16 kWh x 0.80 = 11.50 + 3.15 + 12.80 = 27.45.
    await move(api, local(15, 15), box)
    box.meter = 1_016_000
    await box.meter_values(unit="kWh")
    i = await api.info(bob)
    near(i["charged"], 16.0, "bob charged after the 15:15 reading (sent in kWh)")
    near(i["fee"], 27.45, "bob's fee after 16 kWh across 15:00 (11.50 + 3.15 + 12.80)")
    p = await api.pile("F1")
    near(p["cars"][0]["charged_kwh"], 16.0, "operator's view: charged_kwh")
    eq(p["cars"][0]["fee_so_far"], "27.45", "operator's view: fee_so_far")
    v = (await api.box("CP-F1"))["transaction"]
    near(v["meter_kwh"], 1016.0, "CP-F1 transaction meter_kwh")
    # A box cannot be unbound or removed while its session runs.
    r = await api.op("DELETE", "/charging/boxes/CP-F1")
    eq(r.status, 409, f"DELETE of a box with a session running: {r}")
    r = await api.op("PUT", "/charging/boxes/CP-F1", {"pile": None})
    eq(r.status, 409, f"unbinding a box with a session running: {r}")

    # A reading lower than the last is ignored and counted.
    before = await api.metric("utilhall_ocpp_meter_regressions_total")
    await box.meter_values([(local(15, 15), 1_010_000)])
    eq(await api.metric("utilhall_ocpp_meter_regressions_total"), before + 1, "utilhall_ocpp_meter_regressions_total after a lower reading")
    i = await api.info(bob)
    near(i["charged"], 16.0, "bob charged after the lower reading (ignored)")

    # 15:25: 20 kWh reached -> RemoteStopTransaction -> StopTransaction.
    await move(api, local(15, 25), box)
    box.meter = 1_020_000
    await box.meter_values()
    stop = await box.expect("RemoteStopTransaction")
    eq(stop["transaction_id"], tx, "RemoteStopTransaction transactionId")
    s = await box.next_stop()
    eq(s["status"], "Accepted", "StopTransaction.conf status")
    # 11.5 kWh peak + 8.5 kWh flat: 11.50 + 5.95 = 17.45; service 20 x 0.80 = 16.00.
    recs = await records_count(api, "bob", 1)
    check_record(recs[0], who="bob", kwh=20.0, charge="17.45", service="16.00", total_fen=3345, start=local(14, 30), stop=local(15, 25), pile="F1", reason="finished")
    eq(recs[0]["number"], number, "bob's record: number")
    log = await api.log(bob)
    eq(len(log), 1, "bob's log entries")
    e = log[0]
    eq(
        (e["quantity"], e["costOfCharge"], e["costOfService"], e["cost"], e["startTime"], e["endTime"]),
        (20.0, 17.45, 16.0, 33.45, "2026-01-05 14:30:00", "2026-01-05 15:25:00"),
        "bob's /charging/user/log entry (quantity, costOfCharge, costOfService, cost, startTime, endTime)",
    )
    eq((await api.info(bob)).get("state"), "none", "bob's request after the stop")
    eq((await api.box("CP-F1"))["transaction"], None, "CP-F1 transaction after the stop")
    eq((await api.pile("F1"))["cars"], [], "F1's cars after the stop")

    # The same stop again: Accepted, billed once; no more RemoteStop (call timeout 2 s).
    box.tx = tx
    r = await box.stop_tx(reason="Remote")
    eq((r.id_tag_info or {}).get("status"), "Accepted", "the repeated StopTransaction: status")
    await box.no_call("RemoteStopTransaction", wait=2.6)
    eq(len(await api.records_of("bob")), 1, "bob's records after the repeated stop")
    box_errors(box)


# --------------------------------------------------------------------------------------------
# 4. a fault in the middle, the car moved by the fault policy; Available recovers the pile


async def fault_in_the_middle(api: Api, policy: str) -> None:
    await setup(api, fast_piles=2, slow_piles=1, queue_len=2, fault_policy=policy)
    a = await bind(api, "CP-A", "F1")
    b = await bind(api, "CP-B", "F2")
    await booted(a, api)
    await booted(b, api)
    d1 = await api.driver("d1")
    d2 = await api.driver("d2")
    d3 = await api.driver("d3")

    # 10:00: d1 20 kWh, d2 10 kWh, d3 10 kWh, fast. d1 -> F1, d2 -> F2, d3 behind d2 on F2 (F2
    # is free 20 minutes before F1).
    n1 = (await api.apply(d1, "fast", 20))["number"]
    rs = await a.expect("RemoteStartTransaction")
    eq(rs["charging_profile"], None, "no chargingProfile for a box without SmartCharging")
    await a.next_start()
    n2 = (await api.apply(d2, "fast", 10))["number"]
    await b.expect("RemoteStartTransaction")
    await b.next_start()
    n3 = (await api.apply(d3, "fast", 10))["number"]
    eq(await layout(api), {"F1": [n1], "F2": [n2, n3], "T1": [], "waiting": [], "displaced": []}, "the station at 10:00")

    # 10:10: 5 kWh each.
    await move(api, local(10, 10), a, b)
    await a.charge(30, 10)
    await b.charge(30, 10)
    near((await api.info(d1))["charged"], 5.0, "d1 charged at 10:10")
    a.auto_stop = False  # the box ends its transaction itself, below

    # The box on F1 reports a fault: d1's record closes with the metered 5 kWh (5.00 + 4.00);
    # the remaining 15 kWh are re-queued by the policy.
    await a.status("Faulted", error="GroundFailure")
    await pile_state(api, "F1", "fault")
    recs = await records_count(api, "d1", 1)
    check_record(recs[0], who="d1 (interrupted)", kwh=5.0, charge="5.00", service="4.00", total_fen=900, start=local(10, 0), stop=local(10, 10), pile="F1", reason="fault")
    after = await layout(api)
    if policy == "priority":
        # The faulted pile's car goes ahead of the waiting area, F2's queue stays as it was.
        expected = {"F1": [], "F2": [n2, n3], "T1": [], "waiting": [], "displaced": [n1]}
    else:
        # F1's car and F2's not-yet-charging car pooled by number: d1 takes F2's place.
        expected = {"F1": [], "F2": [n2, n1], "T1": [], "waiting": [], "displaced": [n3]}
    eq(after, expected, f"the station after the fault ({policy} policy)")
    # The box closes its own transaction: the record does not change.
    r = await a.stop_tx(reason="Other")
    eq((r.id_tag_info or {}).get("status"), "Accepted", "StopTransaction of the faulted box: status")
    await asyncio.sleep(0.3)
    recs = await api.records_of("d1")
    eq(len(recs), 1, "d1's records after the faulted box's StopTransaction")
    near(recs[0]["kwh"], 5.0, "d1's interrupted record after the box's StopTransaction")
    near((await api.info(d1))["charged"], 5.0, "d1 charged kWh while re-queued")
    a.drain("RemoteStopTransaction")  # the server may have asked the faulted box to stop
    a.auto_stop = True

    # 10:20: d2 reaches 10 kWh on F2; the next car is called to F2.
    await move(api, local(10, 20), a, b)
    await b.charge(30, 10)
    await b.expect("RemoteStopTransaction")
    await b.next_stop()
    recs = await records_count(api, "d2", 1)
    check_record(recs[0], who="d2", kwh=10.0, charge="10.00", service="8.00", total_fen=1800, start=local(10, 0), stop=local(10, 20), pile="F2", reason="finished")
    await b.expect("RemoteStartTransaction")
    await b.next_start()
    on_b, queued = (n3, n1) if policy == "priority" else (n1, n3)
    eq((await api.box("CP-B"))["transaction"]["car"], on_b, f"the car called to F2 after d2 ({policy} policy)")
    eq(await layout(api), {"F1": [], "F2": [on_b, queued], "T1": [], "waiting": [], "displaced": []}, f"the station at 10:20 ({policy} policy)")

    # F1's box is well again: recovery; the car still queued on F2 moves to F1.
    await a.status("Available")
    await pile_state(api, "F1", "working")
    await a.expect("RemoteStartTransaction")
    await a.next_start()
    eq((await api.box("CP-A"))["transaction"]["car"], queued, "the car called to the recovered F1")
    eq(await layout(api), {"F1": [queued], "F2": [on_b], "T1": [], "waiting": [], "displaced": []}, f"the station after F1 recovered ({policy} policy)")

    # d1 has 15 kWh left (30 min), d3 10 kWh (20 min); both boxes deliver 30 kW.
    d1_box, d3_box = (a, b) if policy == "priority" else (b, a)
    await move(api, local(10, 40), a, b)
    await a.charge(30, 20)
    await b.charge(30, 20)
    await d3_box.expect("RemoteStopTransaction")
    await d3_box.next_stop()
    await move(api, local(10, 50), a, b)
    await d1_box.charge(30, 10)
    await d1_box.expect("RemoteStopTransaction")
    await d1_box.next_stop()

    d1_pile = "F1" if policy == "priority" else "F2"
    d3_pile = "F2" if policy == "priority" else "F1"
    recs = await records_count(api, "d1", 2)
    check_record(recs[1], who="d1 (after the move)", kwh=15.0, charge="15.00", service="12.00", total_fen=2700, start=local(10, 20), stop=local(10, 50), pile=d1_pile, reason="finished")
    recs = await records_count(api, "d3", 1)
    check_record(recs[0], who="d3", kwh=10.0, charge="10.00", service="8.00", total_fen=1800, start=local(10, 20), stop=local(10, 40), pile=d3_pile, reason="finished")
    for t, who in ((d1, "d1"), (d2, "d2"), (d3, "d3")):
        eq((await api.info(t)).get("state"), "none", f"{who}'s request at the end")
    box_errors(a, b)


async def fault_priority_policy(api: Api) -> None:
    await fault_in_the_middle(api, "priority")


async def fault_time_policy(api: Api) -> None:
    await fault_in_the_middle(api, "time")


# --------------------------------------------------------------------------------------------
# 5. a reconnect in the middle of a session; a stop after an outage with its transactionData


async def reconnect_during_session(api: Api) -> None:
    await setup(api, fast_piles=1, slow_piles=1)
    box = await bind(api, "CP-F1", "F1")
    await booted(box, api)
    erin = await api.driver("erin")
    frank = await api.driver("frank")

    # A: 12 kWh from 14:40; 5 kWh by 14:50; the link drops.
    await move(api, local(14, 40), box)
    box.meter = 500_000
    await api.apply(erin, "fast", 12)
    await box.expect("RemoteStartTransaction")
    tx = (await box.next_start())["transaction_id"]
    await move(api, local(14, 50), box)
    box.meter = 505_000
    await box.meter_values()
    await box.disconnect()

    async def gone():
        v = await api.box("CP-F1")
        return v if not v["connected"] else "connected"

    await until("CP-F1 connected=false after its socket closed", gone)
    p = await api.pile("F1")
    eq(p["state"], "working", "F1 while its box is briefly away")
    eq((await api.info(erin))["state"], "charging", "erin's request while the box is away")

    # 15:10: back, without a new BootNotification (accepted before, still bound); the reading
    # of 15:00 it kept while away, then the one of now.
    await move(api, local(15, 10), box)
    await box.connect()
    box.keepalive()
    await box.meter_values([(local(15, 0), 510_000)])
    i = await api.info(erin)
    near(i["charged"], 10.0, "erin charged after the reading of 15:00 sent on reconnect")
    near(i["fee"], 18.00, "erin's fee: 10 kWh at peak (10.00 + 8.00)")
    v = (await api.box("CP-F1"))["transaction"]
    eq(v["id"] if v else None, tx, "the transaction goes on after the reconnect")
    box.meter = 512_000
    await box.meter_values()
    stop = await box.expect("RemoteStopTransaction")
    eq(stop["transaction_id"], tx, "RemoteStopTransaction on the new connection: transactionId")
    await box.next_stop()
    # 10 kWh peak + 2 kWh flat: 10.00 + 1.40; service 12 x 0.80 = 9.60.
    recs = await records_count(api, "erin", 1)
    check_record(recs[0], who="erin", kwh=12.0, charge="11.40", service="9.60", total_fen=2100, start=local(14, 40), stop=local(15, 10), pile="F1", reason="finished")
    box.tx = tx
    await box.stop_tx(reason="Remote")  # sent again, as after a lost answer
    await asyncio.sleep(0.3)
    eq(len(await api.records_of("erin")), 1, "erin's records after the stop was sent twice")

    # B: frank 10 kWh from 17:40 (flat); 3 kWh by 17:50; the link drops; the driver unplugs at
    # 18:10 while the box is away; at 18:20 it is back and sends its stop with the readings.
    await move(api, local(17, 40), box)
    box.meter = 600_000
    await api.apply(frank, "fast", 10)
    await box.expect("RemoteStartTransaction")
    tx2 = (await box.next_start())["transaction_id"]
    check(tx2 != tx, "a new transactionId for the second session", got=tx2)
    await move(api, local(17, 50), box)
    box.meter = 603_000
    await box.meter_values()
    await box.disconnect()
    await until("CP-F1 connected=false", gone)
    await move(api, local(18, 20), box)
    await box.connect()
    box.keepalive()
    box.now = local(18, 10)
    box.meter = 608_000
    r = await box.stop_tx(reason="EVDisconnected", transaction_data=[(local(18, 0), 606_000), (local(18, 10), 608_000)])
    eq((r.id_tag_info or {}).get("status"), "Accepted", "StopTransaction after the outage: status")
    # From the transactionData: 6 kWh flat (17:40-18:00) + 2 kWh peak (18:00-18:10):
    # 4.20 + 2.00 = 6.20; service 8 x 0.80 = 6.40. (Spreading 17:50-18:10 evenly would give 6.35.)
    recs = await records_count(api, "frank", 1)
    check_record(recs[0], who="frank", kwh=8.0, charge="6.20", service="6.40", total_fen=1260, start=local(17, 40), stop=local(18, 10), pile="F1")
    box.tx = tx2
    box.now = local(18, 10)
    await box.stop_tx(reason="EVDisconnected", transaction_data=[(local(18, 0), 606_000), (local(18, 10), 608_000)])
    await asyncio.sleep(0.3)
    recs = await api.records_of("frank")
    eq(len(recs), 1, "frank's records after the stop was sent again")
    eq(recs[0]["total_fen"], 1260, "frank's record after the stop was sent again: total_fen")
    box_errors(box)


# --------------------------------------------------------------------------------------------
# 6. the operator's commands: off/on (ChangeAvailability), reset, unlock; a refused RemoteStart


async def operator_commands(api: Api) -> None:
    await setup(api, fast_piles=1, slow_piles=1)
    box = await bind(api, "CP-F1", "F1")
    await booted(box, api)

    r = await api.pile_state("F1", "off")
    eq(r.status, 200, f"F1 off: {r}")
    ca = await box.expect("ChangeAvailability")
    eq((ca["connector_id"], ca["type"]), (0, "Inoperative"), "ChangeAvailability for off: connectorId, type")
    r = await api.pile_state("F1", "on")
    eq(r.status, 200, f"F1 on: {r}")
    ca = await box.expect("ChangeAvailability")
    eq((ca["connector_id"], ca["type"]), (0, "Operative"), "ChangeAvailability for on: connectorId, type")

    r = await api.op("POST", "/charging/piles/F1/reset", {"type": "soft"})
    eq((r.status, (r.body or {}).get("status")), (200, "Accepted"), f"reset soft: {r}")
    eq((await box.expect("Reset"))["type"], "Soft", "Reset type")
    r = await api.op("POST", "/charging/piles/F1/reset", {"type": "hard"})
    eq((r.status, (r.body or {}).get("status")), (200, "Accepted"), f"reset hard: {r}")
    eq((await box.expect("Reset"))["type"], "Hard", "Reset type")
    r = await api.op("POST", "/charging/piles/F1/unlock")
    eq((r.status, (r.body or {}).get("status")), (200, "Unlocked"), f"unlock: {r}")
    eq((await box.expect("UnlockConnector"))["connector_id"], 1, "UnlockConnector connectorId")
    r = await api.op("POST", "/charging/piles/T1/reset", {"type": "soft"})
    eq(r.status, 409, f"reset of a simulated pile: {r}")

    # No answer within the call timeout (2 s): 504.
    box.unlock_delay = 4
    r = await api.op("POST", "/charging/piles/F1/unlock")
    eq(r.status, 504, f"unlock unanswered within the call timeout: {r}")
    await box.expect("UnlockConnector")
    await asyncio.sleep(2.5)  # the late answer goes out and is dropped
    box.unlock_delay = 0

    # A refused RemoteStart faults the pile; the car waits for another place.
    gina = await api.driver("gina")
    box.remote_start_answer = "Rejected"
    n = (await api.apply(gina, "fast", 10))["number"]
    await box.expect("RemoteStartTransaction")
    await pile_state(api, "F1", "fault")
    w = await api.waiting()
    check(n in numbers(w.get("displaced")) + numbers(w.get("waiting")), "the car whose RemoteStart was refused waits again", got=w)
    eq(await api.records_of("gina"), [], "no record for a session that never started")

    # Unlock with the box away: 409.
    await box.disconnect()
    async def gone():
        v = await api.box("CP-F1")
        return v if not v["connected"] else "connected"
    await until("CP-F1 connected=false", gone)
    r = await api.op("POST", "/charging/piles/F1/unlock")
    eq(r.status, 409, f"unlock with the box not connected: {r}")
    box_errors(box)


# --------------------------------------------------------------------------------------------
# 7. a box silent for longer than offline_heartbeats x heartbeat_secs faults its pile


async def offline_fault(api: Api) -> None:
    await setup(api, fast_piles=1, slow_piles=1)
    box = await bind(api, "CP-F1", "F1")
    await booted(box, api)
    hank = await api.driver("hank")
    await api.apply(hank, "fast", 10)
    await box.expect("RemoteStartTransaction")
    await box.next_start()
    # Readings every 20 s (the threshold is 3 x 10 s).
    await move(api, local(10, 0).replace(second=20), box)
    box.meter = 150
    await box.meter_values()
    await move(api, local(10, 0).replace(second=40), box)
    box.meter = 300
    await box.meter_values()
    await box.disconnect()
    # 25 s of silence: still working.
    await move(api, local(10, 1).replace(second=5), box)
    await asyncio.sleep(1.0)
    eq((await api.pile("F1"))["state"], "working", "F1 after 25 s of silence (threshold 30 s)")
    # 35 s: the pile is faulted; hank's 0.3 kWh are billed (0.30 + 0.24).
    await move(api, local(10, 1).replace(second=15), box)
    await pile_state(api, "F1", "fault", timeout=15)
    recs = await records_count(api, "hank", 1)
    check_record(recs[0], who="hank", kwh=0.3, charge="0.30", service="0.24", total_fen=54, start=local(10, 0), pile="F1", reason="fault")
    box_errors(box)


# --------------------------------------------------------------------------------------------
# 8. the driver's own stream: the session on the box as the app sees it, and a cancel


class DriverStream:
    """The driver app's WebSocket (`/charging/user/charge`): events and replies."""

    def __init__(self, ws):
        self.ws = ws
        self.events: list[dict] = []

    @classmethod
    async def open(cls, api: Api, query: str) -> "DriverStream":
        url = api.base.replace("http://", "ws://") + "/charging/user/charge?" + query
        return cls(await websockets.connect(url, open_timeout=10, ping_interval=None))

    async def next(self, timeout: float = 6.0) -> dict:
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), timeout)
            except asyncio.TimeoutError:
                raise Failure(f"the driver's stream said nothing within {timeout:.0f} s (events so far: {[e.get('event') for e in self.events]})")
            except websockets.ConnectionClosed:
                raise Failure(f"the driver's stream closed (events so far: {[e.get('event') for e in self.events]})")
            if isinstance(raw, str) and raw.strip().startswith("{"):
                v = json.loads(raw)
                self.events.append(v)
                return v

    async def event(self, name: str) -> dict:
        """The next event `name` (other events on the way are kept in `events`)."""
        while True:
            v = await self.next()
            if v.get("event") == name:
                return v

    async def ask(self, operation: str) -> dict:
        await self.ws.send(json.dumps({"operation": operation}))
        while True:
            v = await self.next()
            if v.get("event") == "reply" and v.get("operation") == operation:
                return v


async def driver_stream_and_cancel(api: Api) -> None:
    await setup(api, fast_piles=1, slow_piles=1)
    box = await bind(api, "CP-F1", "F1")
    await booted(box, api)
    ivy = await api.driver("ivy")

    # 12:00 (peak): the app asks for 30 kWh on its stream.
    await move(api, local(12, 0), box)
    stream = await DriverStream.open(api, f"token={ivy}&mode=fast&quantity=30")
    opening = await stream.next()
    eq(opening.get("code"), 200, f"the stream's opening reply: {opening}")
    rs = await box.expect("RemoteStartTransaction")
    await box.next_start()
    tx = box.tx
    called = await stream.event("called")
    eq(called.get("pile"), "F1", "the stream's called event: pile")
    await stream.event("charging")

    # 12:10: 4 kWh read; the app sees them.
    await move(api, local(12, 10), box)
    box.meter = 4_000
    await box.meter_values()
    m = await stream.event("metered")
    eq((m.get("charged"), m.get("fee")), (4.0, 7.2), "the stream's metered event after the 12:10 reading: charged kWh, fee")
    info = await stream.ask("info")
    near(info.get("charged"), 4.0, f"the stream's info reply: charged ({info})")
    near(info.get("fee"), 7.20, f"the stream's info reply: fee, 4 kWh at peak (4.00 + 3.20) ({info})")

    # The driver cancels: the server asks the box to stop; the box stops at 12:12 with 5 kWh.
    box.auto_stop = False
    r = await stream.ask("cancel")
    eq(r.get("code"), 200, f"the stream's cancel reply: {r}")
    stop = await box.expect("RemoteStopTransaction")
    eq(stop["transaction_id"], tx, "RemoteStopTransaction after the cancel: transactionId")
    await move(api, local(12, 12), box)
    # Two minutes on without the stop (call timeout 2 s): asked again.
    again = await box.expect("RemoteStopTransaction")
    eq(again["transaction_id"], tx, "RemoteStopTransaction asked again while the stop does not come: transactionId")
    box.meter = 5_000
    r2 = await box.stop_tx(reason="Remote", tx=tx)
    eq((r2.id_tag_info or {}).get("status"), "Accepted", "StopTransaction after the cancel: status")
    # metered: 5 kWh from 12:00 to 12:12, peak: 5.00 + 4.00.
    ended = await stream.event("cancelled")
    rec = ended.get("record") or {}
    eq(
        (rec.get("quantity"), rec.get("costOfCharge"), rec.get("costOfService"), rec.get("cost"), rec.get("startTime"), rec.get("endTime")),
        (5.0, 5.0, 4.0, 9.0, "2026-01-05 12:00:00", "2026-01-05 12:12:00"),
        "the stream's cancelled event: its detail record (quantity, costOfCharge, costOfService, cost, startTime, endTime)",
    )
    recs = await records_count(api, "ivy", 1)
    check_record(recs[0], who="ivy", kwh=5.0, charge="5.00", service="4.00", total_fen=900, start=local(12, 0), stop=local(12, 12), pile="F1", reason="cancelled")
    eq((await api.info(ivy)).get("state"), "none", "ivy's request after the stop")
    await stream.ws.close()
    box_errors(box)


SCENARIOS = [
    ("boot_and_link", boot_and_link, {}),
    ("authorize_and_walk_in", authorize_and_walk_in, {}),
    ("remote_session_two_periods", remote_session_two_periods, {}),
    ("fault_priority_policy", fault_priority_policy, {}),
    ("fault_time_policy", fault_time_policy, {}),
    ("reconnect_during_session", reconnect_during_session, {}),
    ("operator_commands", operator_commands, {}),
    ("offline_fault", offline_fault, {"UTILHALL_OCPP__OFFLINE_HEARTBEATS": "3"}),
    ("driver_stream_and_cancel", driver_stream_and_cancel, {}),
]

#!/usr/bin/env python3
"""Fills a utilhall SQLite database (migrated, with the demo data) up to N rows in every table the
console lists, for bench/console.sh.

Each table is grown by copying its existing rows (the demo's) with every unique column made unique
again: text gets a `-<i>` suffix, integers an offset. Times are spread over the last 400 days so
that date filters and charts have data. Foreign keys are off while seeding (copies point at the
demo's parents). Tables the demo leaves empty get one plausible row first.

Usage: console_seed.py DB_PATH [ROWS]
"""
import sqlite3
import sys
import time

DB = sys.argv[1]
ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000

TABLES = [
    "users", "heat_accounts", "heating_bills", "heating_orders",
    "meter_api_accounts", "meter_households", "meters", "meter_recharges", "meter_consumptions",
    "retail_companies", "retail_enterprises", "retail_users", "retail_contracts", "retail_bills",
    "retail_feedback", "retail_articles", "retail_guide",
    "iot_users", "iot_devices", "iot_orders", "iot_tickets", "iot_commissions", "iot_withdrawals",
    "charging_users", "charging_records", "charging_boxes", "charging_tags", "ledger_entries",
]

TIME_COLUMNS = {"created_at", "updated_at", "paid_at", "reg_at", "stop_at", "start_at",
                "requested_at", "bill_date", "recharged_at", "read_at", "at"}

now_ms = int(time.time() * 1000)
db = sqlite3.connect(DB)
db.execute("PRAGMA foreign_keys = OFF")
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = OFF")


def first(sql, *args):
    row = db.execute(sql, args).fetchone()
    return row[0] if row else None


def seed_empty():
    user = first("SELECT id FROM users LIMIT 1")
    account = first("SELECT heat_account FROM heat_accounts LIMIT 1")
    if first("SELECT COUNT(*) FROM heating_orders") == 0 and user and account:
        db.execute(
            "INSERT INTO heating_orders (order_id, user_id, heat_account, amount, status, gateway,"
            " created_at, expires_at, paid_at) VALUES ('HO-seed', ?, ?, 132050, 'paid', 'dev', ?, ?, ?)",
            (user, account, now_ms, now_ms + 900_000, now_ms))
    ruser = first("SELECT id FROM retail_users LIMIT 1")
    if first("SELECT COUNT(*) FROM retail_feedback") == 0 and ruser:
        db.execute(
            "INSERT INTO retail_feedback (id, user_id, content, contact, created_at)"
            " VALUES ('fb-seed', ?, '电费账单与合同电价不一致，请核对', '13800000000', ?)",
            (ruser, now_ms))
    member = first("SELECT uid FROM iot_users WHERE kind = 'agent' LIMIT 1") or first("SELECT uid FROM iot_users LIMIT 1")
    vid = first("SELECT vid FROM iot_users WHERE uid = ?", member)
    if first("SELECT COUNT(*) FROM iot_withdrawals") == 0 and member:
        db.execute("INSERT INTO iot_withdrawals (wid, uid, vid, amount, created_at) VALUES ('W-seed', ?, ?, 1000, ?)",
                   (member, vid, now_ms))
    driver = first("SELECT username FROM charging_users LIMIT 1") or "driver"
    if first("SELECT COUNT(*) FROM charging_records") == 0:
        db.execute(
            "INSERT INTO charging_records (id, username, number, pile, pile_no, requested_at, wh,"
            " start_at, stop_at, charge_fee, service_fee, reason) VALUES"
            " (1, ?, 'F1', 'A', 1, ?, 30000, ?, ?, 2100, 2400, 'done')",
            (driver, now_ms - 3_600_000, now_ms - 3_500_000, now_ms - 1_800_000))
    # A charge box that booted once (not bound to a pile: the copies would all claim it) and a
    # driver's card.
    if first("SELECT COUNT(*) FROM charging_boxes") == 0:
        db.execute(
            "INSERT INTO charging_boxes (id, password_hash, vendor, model, serial, firmware,"
            " booted_at, last_seen_at, created_at, updated_at) VALUES ('CP-seed',"
            " '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ',"
            " 'Utilhall Bench', 'Sim-30', 'SN-seed', '1.2.3', ?, ?, ?, ?)",
            (now_ms, now_ms, now_ms, now_ms))
    if first("SELECT COUNT(*) FROM charging_tags") == 0:
        db.execute("INSERT INTO charging_tags (id_tag, username, created_at) VALUES ('TAG-seed', ?, ?)",
                   (driver, now_ms))


def unique_columns(table):
    cols = {}
    for cid, name, ctype, notnull, default, pk in db.execute(f"PRAGMA table_info({table})"):
        cols[name] = (ctype.upper(), pk)
    unique = {n for n, (_, pk) in cols.items() if pk}
    for _, index, is_unique, *_ in db.execute(f"PRAGMA index_list({table})"):
        if is_unique:
            for _, _, name in db.execute(f"PRAGMA index_info('{index}')"):
                if name:
                    unique.add(name)
    return cols, unique


def grow(table):
    have = first(f"SELECT COUNT(*) FROM {table}")
    if not have or have >= ROWS:
        return have
    cols, unique = unique_columns(table)
    copies = (ROWS - have + have - 1) // have
    exprs = []
    for name, (ctype, _) in cols.items():
        q = f'"{name}"'
        if name in unique:
            if "INT" in ctype:
                exprs.append(f"{q} + n.i * 10000000")
            else:
                exprs.append(f"CASE WHEN {q} IS NULL THEN NULL ELSE {q} || '-' || n.i END")
        elif name in TIME_COLUMNS and "INT" in ctype:
            # Spread over the last 400 days.
            exprs.append(f"CASE WHEN {q} IS NULL THEN NULL ELSE {q} - (n.i % 400) * 86400000 END")
        else:
            exprs.append(q)
    names = ", ".join(f'"{c}"' for c in cols)
    db.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {copies}) "
        f"INSERT INTO {table} ({names}) SELECT {', '.join(exprs)} FROM {table}, n "
        f"LIMIT {ROWS - have}")
    return first(f"SELECT COUNT(*) FROM {table}")


seed_empty()
for t in TABLES:
    started = time.time()
    n = grow(t)
    print(f"{t:22s} {n:>8} rows  ({time.time() - started:.1f} s)")
# Copies of orders still in progress would all come due at once for the server's sweeps (close
# the unpaid, complete the received, pay out commissions): the copies are finished orders, as
# most of a real platform's are.
db.execute("UPDATE iot_orders SET state = 'done', done_at = created_at "
           "WHERE oid LIKE '%-%' AND state NOT IN ('done', 'close')")
db.execute("UPDATE iot_commissions SET available_at = NULL WHERE oid LIKE '%-%' AND state = 'pending'")
# Copies keep their demo parent, so one demo household would own 50,000 meters, one API
# account every household and one driver every card: spread the copies over the grown parents (the demo's own rows keep
# theirs), about one each, as a real platform's are.
SPREAD = [  # (child table, its column, its unique key, parent table, the parent's key)
    ("meter_households", "admin_user_name", "user_code", "meter_api_accounts", "admin_user_name"),
    ("meters", "user_code", "table_no", "meter_households", "user_code"),
    ("meter_recharges", "user_code", "out_trade_no", "meter_households", "user_code"),
    ("heating_bills", "heat_account", "bill_id", "heat_accounts", "heat_account"),
    ("charging_tags", "username", "id_tag", "charging_users", "username"),
]
for child, column, key, parent, parent_key in SPREAD:
    n = first(f"SELECT MAX(rowid) FROM {parent}")
    db.execute(
        f"UPDATE {child} SET {column} = (SELECT p.{parent_key} FROM {parent} p "
        f"WHERE p.rowid = 1 + ({child}.rowid * 7) % {n}) WHERE {key} LIKE '%-%'")
db.commit()
db.execute("ANALYZE")
db.commit()
db.close()

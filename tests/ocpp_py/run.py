#!/usr/bin/env python3
"""Drives `utilhall serve` with OCPP 1.6J charge points written with the `ocpp` package (PyPI).

    python tests/ocpp_py/run.py BIN [--database-url URL] [--only NAME ...] [--keep]

Each scenario starts the server binary BIN on a free port with a database of its own (a temp
SQLite file by default; with a postgres:// URL, a fresh schema in that database), runs, and
stops it. On a failure it prints what was expected, what came, and the server's log lines.
Exits 1 when any scenario failed (2 on a usage error). The last line reads "N passed, N failed".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Api, Failure, Server  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

SCENARIO_TIMEOUT = 120.0


def log_excerpt(server: Server) -> str:
    text = server.log_text().splitlines()
    interesting = [
        l
        for l in text
        if any(w in l for w in ("ERROR", "WARN", "panicked", "ocpp", "OCPP"))
    ]
    tail = text[-25:]
    out = []
    if interesting:
        out.append("    server log, errors/warnings/ocpp lines (last 40):")
        out += ["      " + l[:400] for l in interesting[-40:]]
    out.append("    server log, last 25 lines:")
    out += ["      " + l[:400] for l in tail]
    return "\n".join(out)


async def run_one(name, fn, env, args) -> tuple[bool, str]:
    server = Server(args.binary, args.database_url, env)
    try:
        server.start()
    except Exception as e:  # noqa: BLE001
        return False, f"the server did not start: {e}"
    api = Api(server)
    ok, detail = True, ""
    try:
        await asyncio.wait_for(fn(api), SCENARIO_TIMEOUT)
    except Failure as e:
        ok, detail = False, str(e)
    except asyncio.TimeoutError:
        ok, detail = False, f"timed out after {SCENARIO_TIMEOUT:.0f} s"
    except Exception as e:  # noqa: BLE001
        ok, detail = False, f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exc(limit=6))
    if ok and "panicked at" in server.log_text():
        ok, detail = False, "the server panicked"
    if ok and not server.alive():
        ok, detail = False, f"the server exited ({server.proc.returncode})"
    if not ok:
        detail += "\n" + log_excerpt(server)
    server.stop()
    if args.keep or not ok:
        detail += f"\n    (server directory kept: {server.dir})" if not ok else ""
    if ok and not args.keep:
        server.cleanup()
    # Let the closed sockets' tasks finish before the next scenario.
    await asyncio.sleep(0.05)
    return ok, detail


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binary", nargs="?", default="", help="the utilhall server binary")
    p.add_argument("--database-url", default="sqlite", help="sqlite (a temp file per scenario, default) or a postgres:// URL (a schema per scenario)")
    p.add_argument("--only", nargs="*", default=None, help="scenario names to run")
    p.add_argument("--keep", action="store_true", help="keep each scenario's server directory (log, database)")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    args = p.parse_args()
    if args.list:
        for name, _, _ in SCENARIOS:
            print(name)
        return 0
    if not os.access(args.binary, os.X_OK):
        print(f"no server binary at {args.binary}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR, format="    [%(name)s] %(levelname)s %(message)s")
    chosen = [s for s in SCENARIOS if args.only is None or s[0] in args.only]
    if args.only and len(chosen) != len(args.only):
        known = [s[0] for s in SCENARIOS]
        print(f"unknown scenario(s): {sorted(set(args.only) - set(known))}; known: {known}", file=sys.stderr)
        return 2
    backend = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    print(f"OCPP 1.6J charge points (python `ocpp` package) against {args.binary} on {backend}")
    results = []
    t0 = time.monotonic()
    for name, fn, env in chosen:
        t = time.monotonic()
        ok, detail = await run_one(name, fn, env, args)
        secs = time.monotonic() - t
        results.append((name, ok, secs, detail))
        print(f"  {'PASS' if ok else 'FAIL'}  {name}  ({secs:.1f} s)", flush=True)
        if not ok:
            print("    " + detail.replace("\n", "\n    ").rstrip(), flush=True)
    passed = sum(1 for r in results if r[1])
    failed = len(results) - passed
    print()
    print(f"ocpp scenarios on {backend}, {time.monotonic() - t0:.1f} s:")
    for name, ok, secs, _ in results:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

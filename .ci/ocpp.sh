#!/usr/bin/env bash
# The server driven by OCPP 1.6J charge points written with the `ocpp` package from PyPI
# (tests/ocpp_py): boot, authorize, a remote-started session billed over two price periods, a
# fault under each policy, a reconnect during a session, a rejected box, the operator's commands.
#
#   bash .ci/ocpp.sh BIN [DATABASE_URL]
#
# Runs the scenarios on SQLite (a temp file per scenario) and, when DATABASE_URL (postgres://...)
# is given, on PostgreSQL as well (a fresh schema per scenario in that database; psql needed).
# The venv is target/ocpp-venv, made again when tests/ocpp_py/requirements.txt changes.
# OCPP_PY_ONLY="name ..." runs some scenarios only; OCPP_PY_SKIP_SQLITE=1 runs PostgreSQL only;
# OCPP_PY_RUST_LOG sets the servers' RUST_LOG (default info; their logs are shown on a failure).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-target/debug/utilhall}
PG_URL=${2:-}
VENV=target/ocpp-venv
REQ=tests/ocpp_py/requirements.txt

[ -x "$BIN" ] || { echo "no server binary at $BIN (cargo build --bin utilhall)" >&2; exit 2; }

if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$VENV/.requirements"; then
  # Debian and Ubuntu ship the venv module (and ensurepip) as a package of its own.
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "${CI:-}" = true ] && command -v apt-get >/dev/null 2>&1; then
      SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
      $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv >/dev/null
    else
      echo "python3's venv module is missing: install python3-venv" >&2
      exit 2
    fi
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$VENV/.requirements"
fi
PY="$VENV/bin/python"
echo "ocpp $("$PY" -c 'import importlib.metadata as m; print(m.version("ocpp"))'), websockets $("$PY" -c 'import importlib.metadata as m; print(m.version("websockets"))')"

ONLY=()
if [ -n "${OCPP_PY_ONLY:-}" ]; then
  # shellcheck disable=SC2206
  ONLY=(--only $OCPP_PY_ONLY)
fi

FAILED=0
if [ "${OCPP_PY_SKIP_SQLITE:-}" != 1 ]; then
  "$PY" tests/ocpp_py/run.py "$BIN" --database-url sqlite "${ONLY[@]}" || FAILED=1
fi
if [ -n "$PG_URL" ]; then
  command -v psql >/dev/null 2>&1 || { echo "psql is needed for the PostgreSQL run" >&2; exit 2; }
  "$PY" tests/ocpp_py/run.py "$BIN" --database-url "$PG_URL" "${ONLY[@]}" || FAILED=1
fi
exit "$FAILED"

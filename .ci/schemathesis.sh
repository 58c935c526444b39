#!/usr/bin/env bash
# Schema-driven fuzzing of the six OpenAPI documents against a running server.
#
#   bash .ci/schemathesis.sh [BINARY]        (default: target/debug/utilhall)
#
# Starts BINARY with the demo data on a throwaway SQLite database, logs in to every surface with
# its demo account, and runs schemathesis with all of its checks over each surface's document as
# the server serves it (<prefix>/openapi.json). Exits non-zero if any check failed on any document.
#
# Knobs (environment): ST_MAX_EXAMPLES (default 8), ST_SEED (default 1), ST_TIMEOUT (seconds per
# document, default 240), ST_WORKERS (default 1: with more, hypothesis on Python 3.11 can crash
# with "AST constructor recursion depth mismatch"), ST_ONLY (space-separated surfaces to run),
# ST_FROM_SOURCE=1 (read the documents from src/surfaces/*/openapi.json, not from the server).
# The logs of each run are in target/schemathesis-report/<surface>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-target/debug/utilhall}
VENV=target/schemathesis-venv
REPORT=target/schemathesis-report
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-8}
SEED=${ST_SEED:-1}
PER_DOC_TIMEOUT=${ST_TIMEOUT:-240}
WORKERS=${ST_WORKERS:-1}
ONLY=${ST_ONLY:-heating meter retail charging iot iot-deletions admin}

[ -x "$BIN" ] || { echo "no server binary at $BIN (cargo build --bin utilhall)" >&2; exit 2; }

# --- schemathesis, pinned, from PyPI only -------------------------------------------------------
if [ ! -x "$VENV/bin/schemathesis" ] || ! cmp -s .ci/schemathesis-requirements.txt "$VENV/.requirements"; then
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
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r .ci/schemathesis-requirements.txt
  cp .ci/schemathesis-requirements.txt "$VENV/.requirements"
fi
PY="$VENV/bin/python"

# --- the server ---------------------------------------------------------------------------------
TMP=$(mktemp -d)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
# The per-IP and per-interface rate limits are lifted so that the fuzzer reaches the logic behind
# them instead of collecting 429s (each document still declares its 429).
UTILHALL_HEATING__RATE_LIMIT_REQUESTS=0 UTILHALL_METER__RATE_LIMIT_WINDOW_SECONDS=0 \
UTILHALL_AUTH__ADMIN_LOGIN_IP_LIMIT=0 UTILHALL_RETAIL__CAPTCHAS_PER_MINUTE=0 \
  "$BIN" serve --demo --dev --bind "127.0.0.1:$PORT" --database-url "sqlite://$TMP/s.db" \
  --dev-outbox "$TMP/outbox.jsonl" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  curl -fsS "$BASE/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; echo "server died" >&2; exit 2; }
  sleep 0.5
done
curl -fsS "$BASE/health" >/dev/null || { cat "$TMP/server.log" >&2; echo "server never healthy" >&2; exit 2; }

# --- tokens from the demo accounts (README) -----------------------------------------------------
json_get() { "$PY" -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v[k]
print(v)' "$1"; }
post_json() { curl -fsS -X POST "$BASE$1" -H 'content-type: application/json' -d "$2"; }

ADMIN_TOKEN=$(post_json /admin/v1/login '{"username":"admin","password":"admin123456"}' | json_get token)
HEATING_TOKEN=$(post_json /heating/api/auth/login '{"phone":"13888888888","password":"123456789"}' | json_get data.token)
# The meter surface wants its token as a body parameter, with the account beside it.
METER_TOKEN=$(curl -fsS -X POST "$BASE/meter/user/login" -d 'admin_user_name=khcs&api_password=123456' | json_get data)
RETAIL_TOKEN=$(post_json /retail/user/login '{"phone":"13900000000","password":"retail123456"}' | json_get token)
# The charging surface wants its token as the `token` query parameter.
CHARGING_TOKEN=$(curl -fsS -X POST "$BASE/charging/login?username=test&password=123456" | json_get token)
# The IoT platform operator sees every vendor, product, order and ticket.
IOT_PWD=$(printf '%s' platform123 | md5sum | cut -d' ' -f1)
IOT_TOKEN=$(post_json /iot/auth/login "{\"user\":\"platform\",\"pwd\":\"$IOT_PWD\"}" | json_get data.token)

# --- per-surface configuration ------------------------------------------------------------------
# Every check schemathesis has; the default expected statuses of each.
COMMON=(--checks all --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers "$WORKERS"
  --request-timeout 10 --suppress-health-check all --generation-database none --no-color
  --generation-allow-x00 false
  --phases examples,coverage,fuzzing,stateful)

# Per surface: how its token travels, and the exclusions: only what cannot be fuzzed without
# destroying the run itself, each with its reason.
surface_args() {
  case "$1" in
    heating)
      printf '%s\n' -H "Authorization: Bearer $HEATING_TOKEN"
      # POST /api/auth/logout revokes the very token the run uses (the rest would be 401s).
      printf '%s\n' --exclude-path /api/auth/logout
      ;;
    meter)
      # Token and account go in as body parameters (the config file below). The document
      # answers everything with HTTP 200, an unsupported method too ({"code": 1001}), so the
      # check that wants 405 cannot apply; the hooks' refused_in_body holds such requests to
      # the error envelope instead.
      printf '%s\n' --exclude-checks unsupported_method
      ;;
    retail)
      printf '%s\n' -H "Authorization: Bearer $RETAIL_TOKEN"
      # POST /user/logout revokes the run's token.
      printf '%s\n' --exclude-path /user/logout
      ;;
    charging)
      # GET /user/charge is the WebSocket upgrade (RFC 6455): schemathesis speaks plain HTTP.
      printf '%s\n' --exclude-path /user/charge
      ;;
    iot)
      printf '%s\n' -H "Authorization: Bearer $IOT_TOKEN"
      # Deletions run in a pass of their own, after the rest: given the document's example ids
      # they delete the demo vendor, its products, devices and members that every other
      # operation reads.
      printf '%s\n' --exclude-method DELETE
      ;;
    iot-deletions)
      printf '%s\n' -H "Authorization: Bearer $IOT_TOKEN" --include-method DELETE
      # DELETE /auth/token logs the run's token out.
      printf '%s\n' --exclude-path /auth/token
      ;;
    admin)
      printf '%s\n' -H "Authorization: Bearer $ADMIN_TOKEN"
      # POST /logout revokes the run's token. /clock is the dev-only simulated clock: moving it
      # would change every expiry on every surface (and without --sim-clock POST only says 409).
      printf '%s\n' --exclude-path /logout --exclude-path /clock
      ;;
  esac
}

# Business rules no schema can state: a request can be well-formed for its document and still be
# refused because of a secret or the server's state (a captcha or SMS code the fuzzer cannot
# know, a wrong old password, "give at least one of"). For these operations and only these, the
# positive_data_acceptance check also takes the status of that refusal. Each line: surface,
# method, path, extra statuses, and why. Everything else is held to the check's defaults.
ALLOWANCES=$(cat <<'LIST'
heating POST /api/sms/verify 400 the SMS code must be the one sent (1002 验证码错误)
heating POST /api/auth/login 400 the SMS code or password must be the account's (1002/1003)
heating POST /api/auth/register 400 the SMS code must be the one sent (1002)
heating PUT /api/user/password 400 the old password and the SMS code must be right (1005/1002)
heating PUT /api/user/profile 400 id_card's GB 11643 check digit and birth date are validated
heating POST /api/payment/create 400 bill_ids must be the caller's unpaid bills and amount their sum with late fees
retail POST /user/register 400 the captcha answer must be the one GET /qr_code issued (code_invalid)
retail POST /user/bind_code 400 the captcha answer must be the one issued, the credit code's check character (GB 32100, GB 11714) right, and name, code and phone digits those of one enterprise
retail POST /user/bind/code 400 the captcha answer must be the one issued, the credit code's check character (GB 32100, GB 11714) right, and name, code and phone digits those of one enterprise
retail POST /user/bind 400 the SMS code must be the one sent to the enterprise's phone, the credit code's check character right, the details those of one enterprise and the services the company's
retail POST /user/change_phone_number 400 old_phone must be the account's own number, new_phone another one, and the code the one sent to it
retail POST /user/recommend 415 the picture must really be a PNG, JPEG, GIF or WebP file, sniffed from its bytes (a binary schema cannot say which bytes)
iot POST /auth/sms 422 the SMS code must be the one sent
iot POST /auth/code 422 vid must name an existing vendor
iot POST /users 422 the SMS code must be the one sent, vid an existing vendor, the mobile not yet registered with it
iot POST /users/rst 422 the SMS code must be the one sent
iot POST /users/bind 422 the SMS code must be the one sent (or the WeChat account not yet bound)
iot GET /users/{uid}/mob/code 422 the new mobile must not be registered with the vendor yet
iot POST /users/{uid}/mob/code 422 the new mobile must not be registered with the vendor yet
iot PUT /users/{uid}/mob 422 the SMS code must be the one sent to the new mobile
iot PUT /users/{uid}/pwd 422 old_pwd must be the member's password
iot POST /agents 422 a platform caller names the vendor (vid) and vendors do not: the caller's role decides
iot POST /products 422 a platform caller names the vendor (vendor_id) and vendors do not: the caller's role decides
iot POST /devices 422 the device ids must not be registered yet
iot POST /devices/{did}/bind 422 an admin caller names the member (uid/user_id), a member binds itself: the role decides
iot POST /tickets 422 an admin caller names the member (user_id) or the device (device_id): the role decides
iot POST /tickets/ 422 an admin caller names the member (user_id) or the device (device_id): the role decides
iot POST /commission 422 only agents, dealers and members earn commissions to withdraw: the role decides
iot POST /commission/ 422 only agents, dealers and members earn commissions to withdraw: the role decides
iot POST /orders 422 the product must be on sale (state) and the receiver complete for products with delivery
iot DELETE /agents/{uid} 422 an agent with dealers cannot be removed (state)
iot DELETE /users/{uid}/bind 422 a member without a WeChat binding has nothing to unbind (state)
admin GET /retail/monthly-use 400 the credit code's check character (GB 32100, GB 11714) is verified
admin GET /retail/plans 400 the credit code's check character (GB 32100, GB 11714) is verified
admin POST /retail/enterprises 400 the credit code's check character (GB 32100, GB 11714) is verified
admin PATCH /retail/enterprises/{credit_code} 400 the credit code's check character (GB 32100, GB 11714) is verified
admin PUT /retail/monthly-use 400 the credit code's check character (GB 32100, GB 11714) is verified
admin POST /retail/bills 400 the credit code's check character (GB 32100, GB 11714) is verified
admin POST /retail/contracts 400 the credit code's check character is verified and expire_date must not be before sign_date
admin POST /heating/accounts/import 400 the rows must agree with the registry's state (a bill or account that exists with other content, an unknown account) and the file needs its header columns (a CSV schema is beyond JSON Schema)
admin POST /heating/bills/import 400 the rows must agree with the registry's state (a bill that exists with other content, an unknown account) and the file needs its header columns (a CSV schema is beyond JSON Schema)
admin POST /meter/import 400 the rows must agree with the registry's state (an unknown API account, a meter of another household) and the file needs its header columns (a CSV schema is beyond JSON Schema)
admin PUT /charging/boxes/{id} 400 a new charge box needs a password, an existing one does not (the server's state decides)
admin PUT /charging/tags/{tag} 400 an id tag must not start with UH (the server's own tags; no lookahead in the schema)
charging POST /register 400 the captcha answer (code) is checked against the captcha issued
charging POST /user/charge/modify 400 at least one of mode and quantity (no schema for "one of two query parameters")
LIST
)

write_config() { # surface file
  local surface=$1 file=$2 s method path statuses why
  while read -r s method path statuses why; do
    [ "$s" = "$surface" ] || continue
    local list='"2xx", "3xx", "401", "403", "404", "409", "429", "5xx"'
    for st in ${statuses//,/ }; do list+=", \"$st\""; done
    printf '\n# %s\n[[operations]]\ninclude-method = "%s"\ninclude-path = "%s"\nchecks.positive_data_acceptance.expected-statuses = [%s]\n' \
      "$why" "$method" "$path" "$list" >>"$file"
  done <<<"$ALLOWANCES"
}

declare -A DOCS=([heating]=/heating/openapi.json [meter]=/meter/openapi.json
  [retail]=/retail/openapi.json [charging]=/charging/openapi.json [iot]=/iot/openapi.json [iot-deletions]=/iot/openapi.json
  [admin]=/admin/v1/openapi.json)

mkdir -p "$REPORT"
declare -A RESULT
FAILED=0
START=$SECONDS
# The admin run goes last: its operations change demo data (accounts, registries) the other
# surfaces' runs log in with.
for surface in $ONLY; do
  cfg="$TMP/$surface.toml"
  : >"$cfg"
  if [ "$surface" = meter ]; then
    # Every refusal is HTTP 200 with an error code in the body (the document's rule): the hooks'
    # refused_in_body check holds invalid requests to that.
    printf 'hooks = "%s"\n' "$PWD/.ci/schemathesis_hooks.py" >>"$cfg"
  fi
  # No state kept between runs (schemathesis would otherwise write .schemathesis/ here).
  printf '[cache]\nenabled = false\n' >>"$cfg"
  if [ "$surface" = meter ]; then
    cat >>"$cfg" <<TOML
[checks.negative_data_rejection]
expected-statuses = ["200", "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "429", "5xx"]
[parameters]
"body.token" = "$METER_TOKEN"
"body.admin_user_name" = "khcs"
TOML
  elif [ "$surface" = charging ]; then
    cat >>"$cfg" <<TOML
[parameters]
"query.token" = "$CHARGING_TOKEN"
TOML
  fi
  write_config "${surface%-deletions}" "$cfg"
  cp "$cfg" "$REPORT/$surface.toml"
  mapfile -t extra < <(surface_args "$surface")
  log="$REPORT/$surface.log"
  t0=$SECONDS
  set +e
  if [ -n "${ST_FROM_SOURCE:-}" ]; then
    # While editing a document: read it from the source tree instead of the binary's copy.
    location=(src/surfaces/${surface%-deletions}/openapi.json --url "$BASE${DOCS[$surface]%/openapi.json}")
  else
    location=("$BASE${DOCS[$surface]}")
  fi
  timeout --kill-after=10 "$PER_DOC_TIMEOUT" "$VENV/bin/schemathesis" --config-file "$cfg" run \
    "${location[@]}" "${COMMON[@]}" "${extra[@]}" \
    --report junit --report-junit-path "$REPORT/$surface.junit.xml" >"$log" 2>&1
  rc=$?
  set -e
  summary=$(grep -E '^=+ .* in [0-9.]+s =+$' "$log" | tail -n1 | tr -d '=' | xargs || true)
  RESULT[$surface]="rc=$rc $((SECONDS - t0))s ${summary:-see $log}"
  if [ "$rc" -ne 0 ]; then
    FAILED=1
    [ "$rc" -eq 124 ] && RESULT[$surface]+=" (timed out)"
  fi
  echo "$surface: ${RESULT[$surface]}"
done

echo
echo "schemathesis $("$VENV/bin/schemathesis" --version | awk '{print $NF}'), ${MAX_EXAMPLES} examples per operation, $((SECONDS - START))s in all"
for surface in $ONLY; do echo "  $surface: ${RESULT[$surface]}"; done
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "the server died during the run:" >&2
  tail -n 50 "$TMP/server.log" >&2
  FAILED=1
fi
if grep -qE 'panicked at' "$TMP/server.log"; then
  echo "the server panicked during the run:" >&2
  grep -E -A3 'panicked at' "$TMP/server.log" | head -n 40 >&2
  FAILED=1
fi
exit "$FAILED"

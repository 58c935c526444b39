#!/usr/bin/env python3
"""Times every page of the console (bench/console.sh): signs in, finds the pages by following
the navigation and each area's tabs (and the first link into a detail page from each list),
then requests each page, and each list sorted, searched and 2,000 pages deep, REPEAT times over
one keep-alive connection. Reports the server's own time (its `Server-Timing: app;dur=`) and
the time to the last byte at the client, p50/p95/max, next to the baseline measured the same
way in the same run.

Usage: console_pages.py BASE BASELINE_URL [REPEAT]
"""
import html as markup
import http.client
import re
import statistics
import sys
import time
import urllib.parse

BASE = sys.argv[1]
BASELINE = sys.argv[2]
REPEAT = int(sys.argv[3]) if len(sys.argv) > 3 else 30
GOAL_MS = 50.0

host = urllib.parse.urlparse(BASE).netloc
conn = http.client.HTTPConnection(host, timeout=60)
cookie = ""


def request(method, path, body=None, headers=None):
    h = {"Cookie": cookie} if cookie else {}
    h.update(headers or {})
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=h)
    resp = conn.getresponse()
    data = resp.read()
    elapsed = (time.perf_counter() - started) * 1000
    return resp, data, elapsed


resp, _, _ = request(
    "POST", "/console/login",
    urllib.parse.urlencode({"kind": "operator", "username": "admin", "password": "admin123456"}),
    {"Content-Type": "application/x-www-form-urlencoded"})
for value in resp.headers.get_all("Set-Cookie") or []:
    if value.startswith("uh_console="):
        cookie = value.split(";")[0]
if resp.status != 303 or not cookie:
    sys.exit(f"sign-in failed: {resp.status}")

# Find the pages: the areas, their tabs, and one detail page from each list.
seen, order, queue = set(), [], ["/console/overview"]
HREF = re.compile(r'href="(/console/[^"#]*)"')
while queue:
    path = queue.pop(0)
    if path in seen:
        continue
    seen.add(path)
    resp, data, _ = request("GET", path)
    if resp.status != 200 or not resp.headers.get("Content-Type", "").startswith("text/html"):
        continue
    order.append(path)
    html = data.decode("utf-8", "replace")
    for nav in re.findall(r'<nav class="(?:areas|tabs)">(.*?)</nav>', html, re.S):
        for href in HREF.findall(nav):
            href = href.replace("&amp;", "&")
            if "?" not in href and href not in seen:
                queue.append(href)
    # The first link into a detail page (a path one level below this page's).
    for href in HREF.findall(html):
        href = href.replace("&amp;", "&")
        if href.startswith(path + "/") and "?" not in href and href.count("/") == path.count("/") + 1:
            if href not in seen and not href.endswith("/fragment"):
                queue.append(href)
            break
    # The live fragment a page refreshes from.
    for live in re.findall(r'data-live="(/console/[^"]+)"', html):
        if live not in seen:
            queue.append(live)

variants = []
for path in order:
    variants.append((path, path))
    resp, data, _ = request("GET", path)
    html = data.decode("utf-8", "replace")
    if 'class="list"' in html and "<th><a href=" in html:
        sort = re.search(r'<th><a href="([^"]*sort=[^"]*)"', html)
        if sort:
            href = sort.group(1).replace("&amp;", "&")
            variants.append((path + " sorted", href + "&order=desc" if "order=" not in href else href.replace("order=asc", "order=desc")))
        if 'type="search"' in html:
            # A short text many rows contain, and a value of the list's first row (what an
            # operator looks up: an order number, a phone, a name), which few rows contain.
            variants.append((path + " searched", path + "?q=12"))
            body = html.split("<tbody>", 1)[-1]
            cell = re.search(r'<td[^>]*>(?:<a [^>]*>)?([^<]{3,})<', body)
            if cell:
                value = markup.unescape(cell.group(1)).strip()[:20]
                variants.append((path + " searched a value",
                                 path + "?q=" + urllib.parse.quote(value)))
        variants.append((path + " page 2000", path + "?page=2000"))


def measure(url_path, conn_host=None):
    global conn
    server, client = [], []
    for i in range(REPEAT + 2):
        resp, _, elapsed = request("GET", url_path)
        if resp.status != 200:
            return None, None, resp.status
        timing = resp.headers.get("Server-Timing", "")
        m = re.search(r"dur=([0-9.]+)", timing)
        if i >= 2:
            client.append(elapsed)
            if m:
                server.append(float(m.group(1)))
    return server, client, 200


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


rows = []
worst = 0.0
print(f"{'page':58s} {'server p50':>10s} {'p95':>7s} {'max':>7s} {'client p50':>10s} {'p95':>7s}", flush=True)
for name, path in variants:
    server, client, status = measure(path)
    if server is None:
        rows.append((name, None, None, status))
        print(f"{name:58s} status {status}", flush=True)
        continue
    worst = max(worst, pct(server, 95))
    rows.append((name, server, client, status))
    print(f"{name:58s} {statistics.median(server):10.2f} {pct(server, 95):7.2f} {max(server):7.2f} "
          f"{statistics.median(client):10.2f} {pct(client, 95):7.2f}", flush=True)

# The baseline: a constant JSON reply from a bare axum server, and the server's /health, timed
# by the same client the same way.
base_conn = conn
bl = urllib.parse.urlparse(BASELINE)
conn = http.client.HTTPConnection(bl.netloc, timeout=60)
saved_cookie, cookie = cookie, ""
_, base_client, _ = measure(bl.path)
conn = base_conn
cookie = saved_cookie
_, health_client, _ = measure("/health")

print(f"{'baseline: bare axum constant JSON (client)':58s} {'':10s} {'':7s} {'':7s} "
      f"{statistics.median(base_client):10.2f} {pct(base_client, 95):7.2f}")
print(f"{'baseline: utilhall /health (client)':58s} {'':10s} {'':7s} {'':7s} "
      f"{statistics.median(health_client):10.2f} {pct(health_client, 95):7.2f}")
print(f"\n{len(order)} pages, {len(rows)} variants, {REPEAT} requests each; worst server p95 {worst:.2f} ms "
      f"(goal < {GOAL_MS:.0f} ms): {'OK' if worst < GOAL_MS else 'MISSED'}")

# The CSV export of a whole table, once.
for name, path in variants:
    if name.endswith(" page 2000"):
        p = name[: -len(" page 2000")]
        started = time.perf_counter()
        resp, data, elapsed = request("GET", p + "?format=csv")
        lines = data.count(b"\n")
        print(f"CSV export {p}: status {resp.status}, {lines - 1} rows, "
              f"{len(data) / 1e6:.1f} MB in {elapsed:.0f} ms")
        break
sys.exit(0 if worst < GOAL_MS else 2)

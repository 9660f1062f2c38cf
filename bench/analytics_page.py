"""How fast the analytics page is with a year of roll-ups (issue 24: "usable in ≤ 500 ms").

Starts the whole system (``python -m app``'s own start-up: embedded store, workers, beat) in a child
process that, once it answers, makes a system admin, a group and --convs conversations through the REST
API, then writes a year (366 UTC days) of roll-up documents per conversation straight into the store, in
their schema (schemas/documents/analytics.py): the roll-up's own cost is bench/analytics.py's. Then:

* ``load``    --runs times, in a fresh browser context (empty cache, Debian's Chromium): /analytics opened
  on the year (?group=&from=&to=), from navigation start (the request) to the performance mark
  ``analytics:drawn`` the page sets once the chart, heat map and tables are drawn; and within it, when
  the figures' request left (the page's start-up) and from its answer to the mark (the drawing);
* ``switch``  on an open page, "Last 7 days" then "Last year" picked: from the change to the mark again;
* ``server``  the year's GET /api/groups/{id}/analytics alone, timed from here (loopback), --runs times.

The server, its workers and the browser share this machine's CPUs: the figures include that.

Usage: .venv/bin/python bench/analytics_page.py [--convs 10] [--messages 60] [--runs 15]
Prints a table; writes bench/results/analytics_page.json (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

RESULTS = REPO_ROOT / "bench" / "results" / "analytics_page.json"
TARGET_MS = 500
DAYS = 366
ADMIN = "bench-root"


# -- the child: the system, seeded ------------------------------------------------------------------------
def serve(ready_file: Path, convs: int, messages: int) -> int:
    import app.__main__ as entry   # eventlet's monkey patching first, as `python -m app` does
    import eventlet
    eventlet.spawn(seed_when_up, ready_file, convs, messages)
    return entry.main()


def seed_when_up(ready_file: Path, convs: int, messages: int) -> None:
    import requests
    from infra.runtime import get_runtime
    url = f"http://127.0.0.1:{os.environ['PORT']}"
    while True:
        try:
            if requests.get(url + "/healthz", timeout=1).status_code in (200, 503):
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    session = requests.post(url + "/api/dev/token", json={"username": ADMIN}, timeout=10).json()
    auth = {"Authorization": f"Bearer {session['token']}"}
    group = requests.post(url + "/api/groups", json={"name": "Year of traffic"}, headers=auth, timeout=10).json()
    conv_ids = [requests.post(url + f"/api/groups/{group['id']}/conversations", headers=auth, timeout=10,
                              json={"title": f"channel {i}", "members": []}).json()["id"] for i in range(convs)]
    store = get_runtime().store
    store.analytics.days.insert_many(year_of_days(group["id"], conv_ids, messages))
    ready_file.write_text(json.dumps({"token": session["token"], "user": session["user"], "groupId": group["id"]}))


def year_of_days(group_id: str, conv_ids: list[str], messages: int) -> list[dict]:
    """366 days per conversation ending today (UTC): about ``messages`` a day with weekly and daily
    rhythms, 12 possible senders, a first-response time for most messages."""
    from schemas.documents.analytics import AnalyticsDay
    rng = random.Random(24)
    today = datetime.now(timezone.utc).date()
    senders = [f"{i:024x}" for i in range(1, 13)]
    out = []
    for conv_id in conv_ids:
        for back in range(DAYS):
            day = today - timedelta(days=back)
            count = max(0, int(rng.gauss(messages * (0.4 if day.weekday() >= 5 else 1.0), messages / 4)))
            hours = [0] * 24
            for _ in range(count):
                hours[min(23, max(0, int(rng.gauss(14, 4))))] += 1
            by_sender: dict[str, int] = {}
            for _ in range(count):
                who = rng.choice(senders)
                by_sender[who] = by_sender.get(who, 0) + 1
            doc = AnalyticsDay(id=f"{conv_id}:{day.isoformat()}", convId=conv_id, groupId=group_id,
                               date=day.isoformat(), messages=count, media=count // 15, exports=int(back % 40 == 0),
                               hours=hours, senders=by_sender,
                               responses=sorted(int(rng.expovariate(1 / 300)) for _ in range(count * 3 // 4)),
                               updatedAt=datetime.now(timezone.utc))
            out.append(doc.to_mongo())
    return out


# -- the parent: the browser -------------------------------------------------------------------------------
def start_child(args) -> tuple[subprocess.Popen, dict, str, object]:
    from tests.e2e.harness import ARTIFACTS, JWT_SECRET, free_port, session_s3_server
    from infra.embedded.redis_server import RedisServer
    redis = RedisServer().start()
    port = free_port()
    ready = ARTIFACTS / f"analytics-page-bench-{port}.json"
    ready.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "MONGO_URL"}
    env.update({"PORT": str(port), "REDIS_URL": redis.url, "JWT_SECRET": JWT_SECRET, "LOG_LEVEL": "WARNING",
                "ADMIN_USERNAMES": ADMIN, "PYTHONUNBUFFERED": "1", "ANALYTICS_ROLLUP_EVERY_SECONDS": "86400",
                "S3_ENDPOINT_URL": session_s3_server().url, "S3_BUCKET": f"chat-media-{port}",
                "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / f"analytics-page-bench-{port}.log", "w")
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(ready), "--convs", str(args.convs),
                              "--messages", str(args.messages)], cwd=REPO_ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not ready.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the seeded server did not start: see {log.name}")
        time.sleep(0.2)
    time.sleep(0.2)   # the file is written whole before its name is seen, but keep clear of a partial read
    return child, json.loads(ready.read_text()), f"http://127.0.0.1:{port}", redis


def open_page(browser, url: str, seed: dict, query: str):
    context = browser.new_context(base_url=url, viewport={"width": 1366, "height": 850})
    context.add_init_script(f"""sessionStorage.setItem("chat.token", {json.dumps(seed["token"])});
        sessionStorage.setItem("chat.user", {json.dumps(json.dumps(seed["user"]))});""")
    page = context.new_page()
    page.goto(f"/analytics?{query}")
    page.wait_for_function("() => performance.getEntriesByName('analytics:drawn').length > 0", timeout=30_000)
    return context, page


def measure(args) -> dict:
    import requests
    from playwright.sync_api import sync_playwright
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.e2e.harness import stop_process
    child, seed, url, redis = start_child(args)
    try:
        today = datetime.now(timezone.utc).date()
        first = (today - timedelta(days=364)).isoformat()
        query = f"group={seed['groupId']}&from={first}&to={today.isoformat()}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            version = browser.version
            open_page(browser, url, seed, query)[0].close()   # warm the server's code paths once
            loads, switches, asked, drawing = [], [], [], []
            for _ in range(args.runs):
                context, page = open_page(browser, url, seed, query)
                drawn, started, answered = page.evaluate(BREAKDOWN)
                loads.append(drawn)
                asked.append(started)
                drawing.append(drawn - answered)
                switches.append(switch(page))
                context.close()
            browser.close()
        path = f"/api/groups/{seed['groupId']}/analytics?from={first}&to={today.isoformat()}&tz=Europe/Paris"
        auth = {"Authorization": f"Bearer {seed['token']}"}
        server, size = [], 0
        for _ in range(args.runs):
            started = time.perf_counter()
            response = requests.get(url + path, headers=auth, timeout=30)
            server.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
            size = len(response.content)
        totals = response.json()["totals"]
    finally:
        stop_process(child, timeout=10)
        redis.stop()
    return {"version": version, "loads": loads, "switches": switches, "server": server, "bytes": size,
            "totals": totals, "asked": asked, "drawing": drawing}


# The mark, and when the figures' request left and its answer was in (resource timing), from navigation start.
BREAKDOWN = """() => {
  const figures = performance.getEntriesByType("resource").find((e) => e.name.includes("/analytics?"));
  return [performance.getEntriesByName("analytics:drawn")[0].startTime, figures.startTime, figures.responseEnd];
}"""


def switch(page) -> float:
    """"Last 7 days", then "Last year": ms from the change to the page's mark."""
    page.select_option("#ana-preset", "7")
    page.wait_for_function("() => performance.getEntriesByName('analytics:drawn').length >= 2")
    return page.evaluate("""() => new Promise((resolve) => {
        const before = performance.getEntriesByName("analytics:drawn").length;
        const select = document.querySelector("#ana-preset");
        const started = performance.now();
        select.value = "365";
        select.dispatchEvent(new Event("change"));
        const wait = () => performance.getEntriesByName("analytics:drawn").length > before
          ? resolve(performance.getEntriesByName("analytics:drawn").at(-1).startTime - started)
          : setTimeout(wait, 2);
        wait();
    })""")


def stats(values: list[float]) -> dict:
    ordered = sorted(values)
    from bench.load.report import percentile
    return {"median_ms": round(statistics.median(ordered), 1), "p95_ms": round(percentile(ordered, 95), 1),
            "max_ms": round(ordered[-1], 1), "samples": len(ordered)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--convs", type=int, default=10, help="conversations in the group (each: a year of days)")
    parser.add_argument("--messages", type=int, default=60, help="messages per conversation per weekday, about")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)   # the child's mode
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.convs, args.messages)
    from bench.load.report import print_table
    m = measure(args)
    load, switched, server = stats(m["loads"]), stats(m["switches"]), stats(m["server"])
    asked, drawing = stats(m["asked"]), stats(m["drawing"])
    result = {"bench": "analytics_page", "target_ms": TARGET_MS, "convs": args.convs, "days": DAYS,
              "rollup_documents": args.convs * DAYS, "messages_in_year": m["totals"]["messages"],
              "response_bytes": m["bytes"], "load": load, "figures_asked_at": asked, "answer_to_drawn": drawing,
              "switch_to_year": switched, "server": server,
              "meets_target": load["p95_ms"] <= TARGET_MS,
              "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "chromium": m["version"]}}
    print_table(f"Analytics page, a year of roll-ups ({args.convs} conversations x {DAYS} days, "
                f"{m['totals']['messages']:,} messages)", [
        ("page load → drawn (median / p95)", f"{load['median_ms']} / {load['p95_ms']} ms  (target ≤ {TARGET_MS})"),
        ("  of which: navigation → figures asked", f"{asked['median_ms']} / {asked['p95_ms']} ms"),
        ("  of which: figures answered → drawn", f"{drawing['median_ms']} / {drawing['p95_ms']} ms"),
        ("'Last year' picked → drawn (median / p95)", f"{switched['median_ms']} / {switched['p95_ms']} ms"),
        ("GET …/analytics, a year (median / p95)", f"{server['median_ms']} / {server['p95_ms']} ms"),
        ("response size", f"{m['bytes']:,} bytes"),
        ("runs", args.runs)])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load: the mixed workload of a county's users against the real server, driven by locust.

Usage: ``.venv/bin/python bench/load.py [--users 20 50] [--seconds 30]``. The app runs under uvicorn
(one process) on the county demo of ``bench/scoped_reads.py`` (built once, then reused), signed in
with an API token; locust's users open the map page, fetch vector tiles at z12–z14 around village
seats, a village's figures, the search box and a township's report as JSON, waiting 0.5–2 s between
requests. Records p50/p95/p99 and errors per user count in bench/RESULTS.md. Only 127.0.0.1 is
loaded, for a bounded time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

BENCH = Path(__file__).resolve().parent


def prepare() -> None:
    """(a subprocess, before gevent) the county demo, a token and what the users will ask for."""
    sys.path.insert(0, str(BENCH))
    from common import bench_database  # noqa: PLC0415
    from scoped_reads import prepare as build  # noqa: PLC0415
    from sqlalchemy import create_engine, text  # noqa: PLC0415

    from fupin_gis.auth.accounts import new_token  # noqa: PLC0415

    url = bench_database("fupin_bench_scope", keep=True)
    build(url, reuse=True)
    engine = create_engine(url)
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT count(*) FROM coverage_runs")).scalar_one()
    if not runs:  # the reports answer from a coverage run
        from fupin_gis.catalog import load_catalog  # noqa: PLC0415
        from fupin_gis.coverage.snapshots import create_run  # noqa: PLC0415
        from fupin_gis.settings import Settings  # noqa: PLC0415

        create_run(engine, Settings().coverage, load_catalog(Settings().catalog_dir))
    with engine.connect() as conn:
        villages = [
            dict(r._mapping)
            for r in conn.execute(
                text("SELECT code, name, ST_X(seat) AS x, ST_Y(seat) AS y FROM villages ORDER BY code")
            )
        ]
        towns = conn.execute(text("SELECT code FROM townships ORDER BY code")).scalars().all()
    print(json.dumps({"url": url, "token": new_token(engine, "bench_admin"), "villages": villages, "towns": towns}))


def tile(x: float, y: float, z: int) -> tuple[int, int]:
    """The Web Mercator tile holding lon/lat (x, y) at zoom z."""
    n = 1 << z
    return int((x + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(y))) / math.pi) / 2 * n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare()
        return
    out = subprocess.run([sys.executable, __file__, "--prepare"], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": data["url"].replace("+psycopg", ""),
        "FUPIN_AUTH__COOKIE_SECURE": "false",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "fupin_gis.main:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urlopen(base + "/api/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        # the server warms its overviews and first view after start (about 20 s at county scale): let
        # it finish, as users of a server that has been up a while would find it
        time.sleep(45)
        rows = [run(base, data, users, args.seconds) for users in args.users]
    finally:
        server.terminate()
        server.wait(30)
    table = "| users | requests | req/s | p50 | p95 | p99 | errors |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    print(table)
    from common import record  # noqa: PLC0415  (after the run: it imports the package)

    record(
        "Load: mixed workload, county scale",
        f"`.venv/bin/python bench/load.py` — locust {locust_version()} against one uvicorn process on the "
        f"county demo (5,000 villages, 202,000 water points), {args.seconds} s per user count, 0.5–2 s between "
        "a user's requests: map page 1, tiles z12–z14 5, village figures 2, search 2, township report JSON 1.\n\n"
        + table,
    )


def locust_version() -> str:
    """The locust that ran."""
    import locust  # noqa: PLC0415

    return locust.__version__


def run(base: str, data: dict, users: int, seconds: int) -> str:
    """One locust run of ``users`` for ``seconds``; its table row."""
    import gevent  # noqa: PLC0415
    from locust import HttpUser, between, task  # noqa: PLC0415
    from locust.env import Environment  # noqa: PLC0415

    villages, towns, token = data["villages"], data["towns"], data["token"]

    class Clerk(HttpUser):
        wait_time = between(0.5, 2)
        host = base

        def on_start(self) -> None:
            self.client.headers["Authorization"] = f"Bearer {token}"

        @task(1)
        def map_page(self) -> None:
            self.client.get("/", name="map page")

        @task(5)
        def tiles(self) -> None:
            v = random.choice(villages)
            z = random.choice((12, 13, 14))
            x, y = tile(v["x"], v["y"], z)
            layers = "roads,water_points,villages,facilities"
            self.client.get(f"/tiles/all/{z}/{x}/{y}.mvt?layers={layers}", name=f"tiles z{z}")

        @task(2)
        def village(self) -> None:
            self.client.get(f"/api/villages/{random.choice(villages)['code']}", name="village")

        @task(2)
        def search(self) -> None:
            self.client.get("/api/search", params={"q": random.choice(villages)["name"][:2]}, name="search")

        @task(1)
        def report(self) -> None:
            self.client.get(
                "/api/reports/villages-lacking", params={"township": random.choice(towns)}, name="report JSON"
            )

    env = Environment(user_classes=[Clerk])
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    total = env.stats.total
    for name, entry in sorted(env.stats.entries.items()):
        print(
            f"  {name[0]:<14} n={entry.num_requests:<5} p50={entry.get_response_time_percentile(0.5):.0f} ms "
            f"p95={entry.get_response_time_percentile(0.95):.0f} ms failures={entry.num_failures}"
        )
    for error in env.stats.errors.values():
        print(f"  error {error.name}: {str(error.error)[:160]} ×{error.occurrences}")
    ms = [total.get_response_time_percentile(q) for q in (0.5, 0.95, 0.99)]
    return (
        f"| {users} | {total.num_requests:,} | {total.num_requests / seconds:.1f} | {ms[0]:.0f} ms | {ms[1]:.0f} ms | "
        f"{ms[2]:.0f} ms | {total.num_failures} |"
    )


if __name__ == "__main__":
    main()

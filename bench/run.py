"""Benchmark the example app with a freshly rendered auth package.

    uv run python bench/run.py                 # SQLite
    uv run python bench/run.py --postgres      # and a throwaway PostgreSQL
    AUTH_BENCH_POSTGRES_URL=postgresql+asyncpg://... uv run python bench/run.py

See bench/README.md for what is measured and how to read it.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from copier import run_copy
from copier.errors import DirtyLocalWarning

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "app"
HOST = "127.0.0.1"
BUSY_LOAD = 0.5
PASSWORD = "correct horse battery staple"  # noqa: S105 (bench account)


@dataclass
class Load:
    """One bounded load run against one URL."""

    url: str
    tool: str
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    # Server CPU time (user + system) per request, when it can be read.
    server_cpu_us: float | None = None


@dataclass
class Probe:
    """Latency of a paced, single-connection probe."""

    url: str
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int


# ------------------------------------------------------------- rendering


def render_example(base: Path) -> Path:
    """Copy examples/app to ``base/app`` and render the package into it."""
    app = base / "app"
    shutil.copytree(
        EXAMPLE,
        app,
        ignore=shutil.ignore_patterns("auth", "__pycache__"),
    )
    is_git = (ROOT / ".git").exists()
    with warnings.catch_warnings():
        # HEAD includes uncommitted template changes, on purpose.
        warnings.simplefilter("ignore", DirtyLocalWarning)
        run_copy(
            str(ROOT),
            app / "auth",
            defaults=True,
            quiet=True,
            vcs_ref="HEAD" if is_git else None,
        )
    shutil.copy(ROOT / "bench" / "baseline_app.py", base / "bench_app.py")
    shutil.copy(ROOT / "bench" / "fastapi_users_app.py", base)
    return base


# ------------------------------------------------------------ processes


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
    except OSError:
        return None
    utime, stime = fields.split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def uvicorn(base: Path, database_url: str) -> Iterator[tuple[str, int]]:
    """Start one uvicorn worker serving the app; yield its URL and pid."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    env |= {
        "AUTH_SECRET_KEY": secrets.token_urlsafe(48),
        "AUTH_ENVIRONMENT": "development",
        "AUTH_BASE_URL": url,
        "DATABASE_URL": database_url,
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench_app:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if find_spec("uvloop"):
        command += ["--loop", "uvloop"]
    if find_spec("httptools"):
        command += ["--http", "httptools"]
    log_path = base / f"uvicorn-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=base,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    "uvicorn exited:\n" + log_path.read_text(errors="replace"),
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 30 s")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server_log = log_path.read_text(errors="replace")
        if "Traceback" in server_log:
            print(f"server errors (end of {log_path.name}):", file=sys.stderr)
            print(server_log[-4000:], file=sys.stderr)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """The test suite's throwaway server (``python -m tests.pg``)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.pg"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    if not url:
        server.wait()
        raise RuntimeError("PostgreSQL did not start (see tests/pg.py)")
    try:
        yield url
    finally:
        server.stdin.close()  # tests.pg stops the server and cleans up
        server.wait(60)


# ---------------------------------------------------------- load tools


_WRK_DURATION = re.compile(r"([\d.]+)(us|ms|s|m)\b")
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk_ms(text: str) -> float:
    match = _WRK_DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


_LUA_STATUSES = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      io.write(string.format("status %d %d\\n", code, n))
    end
  end
end
"""


def _lua_login(origin: str, email: str) -> str:
    body = json.dumps({"email": email, "password": PASSWORD})
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Origin"] = "{origin}"\n'
        f"wrk.body = [[{body}]]\n" + _LUA_STATUSES
    )


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
    lua: str | None = None,
) -> Load:
    """Run wrk once with one thread (the server has the other core)."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if lua is not None:
            script.write(lua)
            script.flush()
            command += ["-s", script.name]
        output = subprocess.run(
            [*command, url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    percentiles = dict(
        re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, re.MULTILINE),
    )
    requests = re.search(r"(\d+) requests in", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:(.*)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors[1]))
    if not (requests and rps and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"could not parse wrk output:\n{output}")
    statuses = dict(re.findall(r"^status (\d+) (\d+)$", output, re.MULTILINE))
    return Load(
        url=url,
        tool="wrk",
        connections=connections,
        seconds=seconds,
        requests=int(requests.group(1)),
        rps=float(rps.group(1)),
        p50_ms=_wrk_ms(percentiles["50"]),
        p99_ms=_wrk_ms(percentiles["99"]),
        errors=errors,
        statuses={code: int(n) for code, n in statuses.items()},
    )


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[
        round(q) - 1
    ]


async def _pyload(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
) -> Load:
    """Fixed-concurrency httpx load (used when wrk is not installed)."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while (start := time.perf_counter()) < deadline:
                try:
                    if body is None:
                        response = await client.get(url, headers=headers)
                    else:
                        response = await client.post(
                            url,
                            headers=headers,
                            json=body,
                        )
                    ok = response.is_success
                    code = str(response.status_code)
                except httpx.HTTPError:
                    ok = False
                    code = "error"
                latencies.append((time.perf_counter() - start) * 1000)
                statuses[code] = statuses.get(code, 0) + 1
                errors += not ok

        async with asyncio.TaskGroup() as group:
            for _ in range(connections):
                group.create_task(worker())
    return Load(
        url=url,
        tool="httpx",
        connections=connections,
        seconds=seconds,
        requests=len(latencies),
        rps=len(latencies) / seconds,
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
        errors=errors,
        statuses=statuses,
    )


def load(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
    login_email: str | None = None,
) -> Load:
    """Bounded load with wrk when available, else with httpx."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if shutil.which("wrk"):
        lua = _lua_login(origin, login_email) if login_email else None
        return wrk(
            url,
            seconds=seconds,
            connections=connections,
            headers=headers,
            lua=lua,
        )
    body = (
        {"email": login_email, "password": PASSWORD} if login_email else None
    )
    return asyncio.run(
        _pyload(
            url,
            seconds=seconds,
            connections=connections,
            headers=(headers or {}) | ({"Origin": origin} if body else {}),
            body=body,
        ),
    )


async def _probe(url: str, *, seconds: float, interval: float) -> Probe:
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(timeout=10) as client:
        await client.get(url)  # open the connection
        deadline = time.perf_counter() + seconds
        next_at = time.perf_counter()
        while (start := time.perf_counter()) < deadline:
            try:
                ok = (await client.get(url)).is_success
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - start) * 1000)
            errors += not ok
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return Probe(
        url=url,
        requests=len(latencies),
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
        max_ms=max(latencies),
        errors=errors,
    )


def probe(url: str, *, seconds: float, interval: float = 0.01) -> Probe:
    """Paced single-connection latency probe (100 requests/s by default)."""
    return asyncio.run(_probe(url, seconds=seconds, interval=interval))


def probe_under(
    url: str,
    *,
    seconds: float,
    login_url: str,
    email: str,
    connections: int,
) -> tuple[Probe, Load]:
    """Probe ``url`` while a login load runs in another thread."""

    async def both() -> tuple[Probe, Load]:
        load_task = asyncio.create_task(
            asyncio.to_thread(
                load,
                login_url,
                seconds=seconds + 2,
                connections=connections,
                login_email=email,
            ),
        )
        await asyncio.sleep(1)  # let the login load ramp up
        measured = await _probe(url, seconds=seconds, interval=0.01)
        return measured, await load_task

    return asyncio.run(both())


# --------------------------------------------------------------- bench


def sign_in(url: str) -> tuple[str, dict[str, str]]:
    """Register and sign in one account; its email and cookie header."""
    email = f"bench-{secrets.token_hex(4)}@example.com"
    with httpx.Client(base_url=url, headers={"Origin": url}) as client:
        client.post(
            "/auth/register",
            json={"email": email, "password": PASSWORD},
        ).raise_for_status()
        client.post(
            "/auth/login",
            json={"email": email, "password": PASSWORD},
        ).raise_for_status()
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
        if client.get("/me").status_code != 200:
            raise RuntimeError("GET /me failed right after signing in")
    return email, {"Cookie": cookie}


def median_load(runs: list[Load]) -> Load:
    """The rounds of one route as one run: totals, and median rates."""
    return Load(
        url=runs[0].url,
        tool=runs[0].tool,
        connections=runs[0].connections,
        seconds=sum(r.seconds for r in runs),
        requests=sum(r.requests for r in runs),
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
        statuses={},
        server_cpu_us=(
            statistics.median(cpu)
            if (cpu := [r.server_cpu_us for r in runs if r.server_cpu_us])
            else None
        ),
    )


def ratio(rounds: dict[str, list[Load]], top: str, bottom: str) -> float:
    """Median over rounds of ``top`` / ``bottom``, each pair run together."""
    return statistics.median(
        a.rps / b.rps for a, b in zip(rounds[top], rounds[bottom], strict=True)
    )


def cpu_ratios(throughput: dict[str, Load]) -> dict[str, float]:
    """How many times more server CPU a request costs than on ``/me``.

    Throughput with the server's CPU as the only limit: unlike req/s, it
    holds up when other jobs share the machine.
    """
    me = throughput["me"].server_cpu_us
    return {
        key: load.server_cpu_us / me
        for key, load in throughput.items()
        if me and load.server_cpu_us
    }


def bench_backend(
    base: Path,
    name: str,
    database_url: str,
    args: argparse.Namespace,
) -> dict[str, object]:
    seconds = args.duration
    with uvicorn(base, database_url) as (url, pid):
        email, cookie = sign_in(url)
        routes = {
            "health": (f"{url}/health", None),
            "me": (f"{url}/me", cookie),
            "orm_me": (f"{url}/bench/orm-me", cookie),
        }
        if find_spec("fastapi_users"):
            setup = httpx.post(f"{url}/bench/fastapi-users/setup")
            setup.raise_for_status()
            routes["fastapi_users_me"] = (
                f"{url}/bench/fastapi-users/me",
                {"Cookie": setup.json()["cookie"]},
            )
        for target, headers in routes.values():  # warm up
            load(
                target,
                seconds=2,
                connections=args.connections,
                headers=headers,
            )
        # Interleaved rounds: on a shared machine, load from other jobs
        # then hits every route alike instead of whichever ran last.
        rounds: dict[str, list[Load]] = {key: [] for key in routes}
        for _ in range(args.rounds):
            for key, (target, headers) in routes.items():
                before = cpu_seconds(pid)
                run = load(
                    target,
                    seconds=seconds / args.rounds,
                    connections=args.connections,
                    headers=headers,
                )
                after = cpu_seconds(pid)
                if before is not None and after is not None and run.requests:
                    run.server_cpu_us = (after - before) / run.requests * 1e6
                rounds[key].append(run)
        throughput = {key: median_load(runs) for key, runs in rounds.items()}
        idle = probe(f"{url}/health", seconds=seconds)
        busy, logins = probe_under(
            f"{url}/health",
            seconds=seconds,
            login_url=f"{url}/auth/login",
            email=email,
            connections=args.login_connections,
        )
    result: dict[str, object] = {
        "backend": name,
        "throughput": {k: asdict(v) for k, v in throughput.items()},
        "rounds": args.rounds,
        "rounds_rps": {k: [r.rps for r in v] for k, v in rounds.items()},
        "me_over_health": ratio(rounds, "me", "health"),
        "cpu_ratios": cpu_ratios(throughput),
        "me_over_orm_me": ratio(rounds, "me", "orm_me"),
        "me_over_fastapi_users": (
            ratio(rounds, "me", "fastapi_users_me")
            if "fastapi_users_me" in rounds
            else None
        ),
        "health_probe_idle": asdict(idle),
        "health_probe_under_login": asdict(busy),
        "login_load": asdict(logins),
        "p99_ratio": busy.p99_ms / idle.p99_ms,
    }
    print_backend(result)
    return result


def print_backend(result: dict[str, object]) -> None:
    t = result["throughput"]
    assert isinstance(t, dict)
    idle = result["health_probe_idle"]
    busy = result["health_probe_under_login"]
    logins = result["login_load"]
    assert isinstance(idle, dict)
    assert isinstance(busy, dict)
    assert isinstance(logins, dict)
    print(
        f"\n== {result['backend']} ({t['health']['tool']}, "
        f"{t['health']['connections']} connections, "
        f"{t['health']['seconds']:g} s each in {result['rounds']} "
        "interleaved rounds; medians)"
    )
    for key, label in (
        ("health", "GET /health (no session)"),
        ("me", "GET /me (generated session check)"),
        ("orm_me", "GET /bench/orm-me (ORM one-query baseline)"),
        ("fastapi_users_me", "GET /bench/fastapi-users/me"),
    ):
        if key not in t:
            continue
        row = t[key]
        cpu = row["server_cpu_us"]
        print(
            f"  {label:44} {row['rps']:9.0f} req/s  "
            f"p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms"
            + (f"  {cpu:5.0f} us CPU" if cpu else "")
            + (f"  errors {row['errors']}" if row["errors"] else ""),
        )
    print(
        f"  /me vs /health: {result['me_over_health']:.2f}x   "
        f"/me vs ORM baseline: {result['me_over_orm_me']:.2f}x"
        + (
            f"   /me vs fastapi-users: {result['me_over_fastapi_users']:.2f}x"
            if result["me_over_fastapi_users"]
            else ""
        )
    )
    cpu_ratios = result["cpu_ratios"]
    assert isinstance(cpu_ratios, dict)
    if "orm_me" in cpu_ratios:
        print(
            "  server CPU per request, relative to /me: "
            + "   ".join(
                f"{key} {value:.2f}x"
                for key, value in cpu_ratios.items()
                if key != "me"
            ),
        )
    print(
        f"  /health p99, paced probe: idle {idle['p99_ms']:.2f} ms, "
        f"under login load {busy['p99_ms']:.2f} ms "
        f"({result['p99_ratio']:.1f}x; max {busy['max_ms']:.1f} ms)",
    )
    print(
        f"  login load: {logins['rps']:.1f} logins/s over "
        f"{logins['connections']} connections, p99 {logins['p99_ms']:.0f} ms"
        + (f", non-2xx {logins['errors']}" if logins["errors"] else ""),
    )
    if logins["statuses"]:
        mix = ", ".join(
            f"{k}: {v}" for k, v in sorted(logins["statuses"].items())
        )
        print(f"  login responses: {mix}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="split each route's duration into this many interleaved runs",
    )
    parser.add_argument("--login-connections", type=int, default=16)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also run on a throwaway PostgreSQL (needs root, see rig.md)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("AUTH_BENCH_POSTGRES_URL"),
        help="also run on this PostgreSQL (postgresql+asyncpg://...)",
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--json", type=Path, help="write results here")
    args = parser.parse_args()

    load_1m = os.getloadavg()[0]
    print(
        f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, "
        f"load tool: {'wrk' if shutil.which('wrk') else 'httpx (fallback)'}, "
        f"load average {load_1m:.2f}",
    )
    if load_1m > BUSY_LOAD:
        print("warning: the machine is busy; figures will be noisy")
    results = []
    with tempfile.TemporaryDirectory(prefix="aegistry-bench-") as tmp:
        base = render_example(Path(tmp))
        if not args.no_sqlite:
            db = f"sqlite+aiosqlite:///{base / 'bench.db'}"
            results.append(bench_backend(base, "SQLite", db, args))
        if args.postgres_url:
            results.append(
                bench_backend(base, "PostgreSQL", args.postgres_url, args),
            )
        elif args.postgres:
            with throwaway_postgres() as pg_url:
                results.append(bench_backend(base, "PostgreSQL", pg_url, args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""benchmarks/ingest: signed Events API deliveries (reaction_added, unique event_id each) on
127.0.0.1, driven by wrk, against `drover serve` (release build, durable inbox) and a Slack Bolt
for Python app (Flask adapter, gunicorn, 2 workers). Prints a markdown table with Drover / Bolt
ratios. Everything it starts it stops, by PID; every step is bounded in time.

    python3 benchmarks/ingest/run.py [--duration 10] [--connections 16,64] [--rounds 3]

Needs: wrk (Debian package), a release build of drover (`swift build -c release --product
drover`), and a venv with slack_bolt, flask and gunicorn (benchmarks/ingest/.venv-bolt).
"""
import argparse
import hashlib
import hmac
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # a benchmark-only signing secret
BOT_TOKEN = "xoxb-benchmark-only"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_deliveries(base, count, threads, run_tag, forged=False):
    """Signs `count` unique reaction_added deliveries now, split into one file per wrk thread.
    Forged ones carry a signature with its last digit changed, which the server must refuse."""
    now = str(int(time.time()))
    key = SECRET.encode()
    files = [open(f"{base}.{t}", "w") for t in range(threads)]
    for n in range(count):
        body = json.dumps({
            "token": "unused", "team_id": "T0BENCH", "api_app_id": "A0BENCH", "type": "event_callback",
            "event_id": f"Ev{run_tag}{n:08d}", "event_time": int(now),
            "event": {"type": "reaction_added", "user": f"U{n % 30:08d}", "reaction": "+1" if n % 3 else "-1",
                      "item_user": "U0BOT", "item": {"type": "message", "channel": "C0BENCH", "ts": f"1700000000.{n % 50:06d}"},
                      "event_ts": f"{now}.{n % 1000000:06d}"},
            "authorizations": [{"team_id": "T0BENCH", "user_id": "U0BOT", "is_bot": True}],
        }, separators=(",", ":"))
        sig = "v0=" + hmac.new(key, f"v0:{now}:{body}".encode(), hashlib.sha256).hexdigest()
        if forged:
            sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        files[n % threads].write(f"{now} {sig} {body}\n")
    for f in files:
        f.close()


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pids):
    """User + system CPU time the processes have used, their finished threads included."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def settled_cpu_seconds(pids_of, timeout=60):
    """CPU time once the server has stopped working (it may still apply queued votes after the
    load): waits until half a second passes without CPU use, at most `timeout` seconds."""
    deadline = time.time() + timeout
    last = cpu_seconds(pids_of())
    while time.time() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pids_of())
        if now - last < 0.02:
            return now
        last = now
    return last


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def wait_ready(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} not ready after {timeout}s")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def check_one(port):
    """One signed delivery must be acknowledged with 200 (and a forged one refused)."""
    now = str(int(time.time()))
    body = json.dumps({"type": "event_callback", "team_id": "T0BENCH", "api_app_id": "A0BENCH", "event_id": "EvCheck",
                       "event_time": int(now), "event": {"type": "reaction_added", "user": "U1", "reaction": "+1",
                       "item": {"type": "message", "channel": "C1", "ts": "1.000001"}, "event_ts": now + ".1"}})
    for sig, want in (("v0=" + hmac.new(SECRET.encode(), f"v0:{now}:{body}".encode(), hashlib.sha256).hexdigest(), 200),
                      ("v0=" + "0" * 64, 401)):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=body.encode(), method="POST", headers={
            "Content-Type": "application/json", "X-Slack-Request-Timestamp": now, "X-Slack-Signature": sig})
        try:
            status = urllib.request.urlopen(req, timeout=5).status
        except urllib.error.HTTPError as e:
            status = e.code
        if status != want:
            raise SystemExit(f"sanity check: expected {want}, got {status}")


def run_wrk(port, connections, duration, pids_of, tmp, tag, pool, forged=False):
    base = os.path.join(tmp, f"req-{tag}-{connections}")
    threads = 2
    write_deliveries(base, pool, threads, f"{tag}{connections}x", forged)
    peak = [0]
    stop_sampling = threading.Event()

    def sample():
        while not stop_sampling.is_set():
            peak[0] = max(peak[0], rss_kib(pids_of()))
            stop_sampling.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    env = dict(os.environ, REQUESTS_FILE=base)
    cpu_before = cpu_seconds(pids_of())
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s",
         "-s", os.path.join(HERE, "ingest.lua"), f"http://127.0.0.1:{port}"],
        env=env, capture_output=True, text=True, timeout=duration + 120,
    )
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = settled_cpu_seconds(pids_of) - cpu_before
    stop_sampling.set()
    sampler.join()
    for t in range(threads):
        os.remove(f"{base}.{t}")
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    r = json.loads(line[len("WRK_JSON "):])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["rss_mib"] = peak[0] / 1024
    r["pool"] = pool
    r["cpu_us"] = cpu * 1e6 / max(r["requests"], 1)
    wrk_cpu = (wrk_after.ru_utime + wrk_after.ru_stime) - (wrk_before.ru_utime + wrk_before.ru_stime)
    r["client_cpu_us"] = wrk_cpu * 1e6 / max(r["requests"], 1)
    # A forged delivery is answered 401, as it must be: not an error of that run.
    errors = (0 if forged else r["non2xx"]) + r["connect"] + r["read"] + r["write"] + r["timeout"]
    print(f"  {tag} c={connections}: {r['rps']:.0f} req/s, p50 {r['p50_us']/1000:.2f} ms, p99 {r['p99_us']/1000:.2f} ms, "
          f"RSS {r['rss_mib']:.1f} MiB, CPU {r['cpu_us']:.0f} µs/request (wrk {r['client_cpu_us']:.0f}), errors {errors}, requests {r['requests']} (pool {pool})",
          flush=True)
    r["errors"] = errors
    return r


def inbox_count(data_dir):
    import sqlite3
    db = sqlite3.connect(os.path.join(data_dir, "drover.sqlite"))
    try:
        return db.execute("SELECT count(*) FROM inboxItem WHERE idempotencyKey LIKE 'slack-event:Ev%'").fetchone()[0]
    finally:
        db.close()


def start_drover(binary, tmp, tag):
    data = os.path.join(tmp, f"drover-data-{tag}")
    port = free_port()
    env = dict(os.environ, DROVER_DATA_DIR=data, DROVER_HOST="127.0.0.1", DROVER_PORT=str(port),
               SLACK_SIGNING_SECRET=SECRET, SLACK_BOT_TOKEN=BOT_TOKEN, LOG_LEVEL="warning",
               SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    log = open(os.path.join(tmp, f"drover-{tag}.log"), "w")
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, proc)
        check_one(port)
    except BaseException:
        stop(proc)
        raise
    return proc, port, data


def start_bolt(venv):
    port = free_port()
    env = dict(os.environ, SLACK_SIGNING_SECRET=SECRET, SLACK_BOT_TOKEN=BOT_TOKEN)
    gunicorn = os.path.join(venv, "bin", "gunicorn")
    proc = subprocess.Popen([gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--chdir", HERE, "--log-level", "warning",
                             "bolt_app:app"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, proc)
        time.sleep(1)  # let both workers boot
        check_one(port)
    except BaseException:
        stop(proc)
        raise
    return proc, port


def median_run(runs):
    """Each figure's median over the rounds (errors: their total)."""
    def med(key):
        values = sorted(r[key] for r in runs)
        return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
    out = {key: med(key) for key in ("rps", "p50_us", "p99_us", "cpu_us", "client_cpu_us", "rss_mib")}
    out["errors"] = sum(r["errors"] for r in runs)
    out["rps_range"] = (min(r["rps"] for r in runs), max(r["rps"] for r in runs))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", default="16,64")
    p.add_argument("--rounds", type=int, default=3, help="rounds of every run, interleaved; the table shows medians")
    p.add_argument("--drover", default=os.path.join(ROOT, ".build", "release", "drover"))
    p.add_argument("--bolt-venv", default=os.path.join(HERE, ".venv-bolt"))
    p.add_argument("--pool", type=int, default=0, help="pre-signed deliveries per run (default: 25,000 × duration)")
    p.add_argument("--only", choices=["drover", "bolt"], default=None)
    a = p.parse_args()
    conns = [int(c) for c in a.connections.split(",")]
    pool = a.pool or 25_000 * a.duration
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    runs = {}
    tmp = tempfile.mkdtemp(prefix="drover-ingest-")
    bolt = None
    try:
        if a.only in (None, "bolt"):
            bolt = start_bolt(a.bolt_venv)
        for round_ in range(a.rounds):
            # The machine's speed drifts (shared cores): the servers take turns within each round,
            # in alternating order, so that drift reaches both alike.
            drover_first = round_ % 2 == 0
            drover = None
            if a.only in (None, "drover"):
                drover = start_drover(a.drover, tmp, round_)  # a fresh data directory each round
            try:
                for c in conns:
                    order = ["drover", "bolt"] if drover_first else ["bolt", "drover"]
                    for name in order:
                        tag = f"{name}{round_}"
                        if name == "drover" and drover:
                            proc = drover[0]
                            runs.setdefault(("drover", c), []).append(
                                run_wrk(drover[1], c, a.duration, lambda: [proc.pid], tmp, tag, pool))
                            # The floor under the same load: HTTP and the signature check, then a 401.
                            runs.setdefault(("refused", c), []).append(
                                run_wrk(drover[1], c, a.duration, lambda: [proc.pid], tmp, f"refused{round_}", pool, forged=True))
                        elif name == "bolt" and bolt:
                            proc = bolt[0]
                            runs.setdefault(("bolt", c), []).append(
                                run_wrk(bolt[1], c, a.duration, lambda: [proc.pid] + children(proc.pid), tmp, tag, pool))
            finally:
                if drover:
                    stop(drover[0])
            if drover:
                print(f"  drover inbox rows from round {round_ + 1}'s load: {inbox_count(drover[2])}", flush=True)
                shutil.rmtree(drover[2], ignore_errors=True)
    finally:
        if bolt:
            stop(bolt[0])
        shutil.rmtree(tmp, ignore_errors=True)

    results = {key: median_run(value) for key, value in runs.items()}
    # Drover / Bolt: the median of each round's ratio, the two measured minutes apart at most.
    ratios = {}
    for c in conns:
        pairs = list(zip(runs.get(("drover", c), []), runs.get(("bolt", c), [])))
        if pairs:
            ratios[c] = median_run([{key: d[key] / max(b[key], 1e-9) for key in ("rps", "p50_us", "p99_us", "cpu_us", "client_cpu_us", "rss_mib")}
                                    | {"errors": 0} for d, b in pairs])
    print()
    names = {"drover": "Drover", "bolt": "Bolt (gunicorn, 2 workers)", "refused": "Drover, every signature forged (401)"}
    print(f"Medians of {a.rounds} interleaved round(s) of {a.duration} s (requests/s range in brackets):")
    print()
    print("| connections | server | requests/s | p50 ms | p99 ms | server CPU µs / request | wrk CPU µs / request | peak RSS MiB | errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for c in conns:
        for name in ("drover", "bolt", "refused"):
            r = results.get((name, c))
            if r:
                low, high = r["rps_range"]
                print(f"| {c} | {names[name]} | {r['rps']:,.0f} ({low:,.0f}–{high:,.0f}) | {r['p50_us']/1000:.2f} | "
                      f"{r['p99_us']/1000:.2f} | {r['cpu_us']:,.0f} | {r['client_cpu_us']:,.0f} | {r['rss_mib']:.1f} | {r['errors']} |")
        q = ratios.get(c)
        if q:
            low, high = q["rps_range"]
            print(f"| {c} | **Drover / Bolt** (median of the rounds' ratios) | **{q['rps']:.1f}×** ({low:.1f}–{high:.1f}) | "
                  f"{q['p50_us']:.2f}× | {q['p99_us']:.2f}× | **{q['cpu_us']:.2f}×** | | {q['rss_mib']:.2f}× | |")


if __name__ == "__main__":
    main()

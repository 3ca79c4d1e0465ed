"""The benchmarks, side by side with trafilatura's command line, in one run.

    python bench/run.py [--runs 3] [--latency 0.05] [--quick]

Starts bench/site.py (a local web on 127.0.0.1–127.0.0.20) in a separate process and prints,
each figure the median of --runs runs:
  1. backlog: `ingest poll` over 100 feeds × 10 new entries = 1,000 articles (notes and ledger included),
     wall time and CPU time per page (all of ingest's processes)
  2. the same 1,000 article URLs through trafilatura's command line (Markdown output, its best --parallel)
  3. idle: a second poll of the 100 unchanged feeds (wall time, requests, pages extracted)
  4. peak resident memory of a 10,000-article poll
  5. process wall time of `ingest --help` and of `ingest url` on an already archived URL
  6. the duplicate check for one URL with 1,000,000 items in the ledger
Both tools get the same politeness: robots.txt served (ingest honours it; trafilatura's URL-list
mode does not read it) and no per-host delay.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
INGEST = [str(VENV_BIN / "ingest")] if (VENV_BIN / "ingest").exists() else [sys.executable, "-m", "ingest.cli"]
TRAFILATURA = str(VENV_BIN / "trafilatura")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_web(feeds: int, entries: int, latency: float):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "site.py"), "--feeds", str(feeds), "--entries",
                             str(entries), "--latency", str(latency), "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            raise SystemExit(f"bench: the local web did not start: {line!r}")
        yield port
    finally:
        proc.terminate()
        proc.wait()


def requests_served(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__stats") as response:
        return json.load(response)["requests"]


def workspace(port: int, feeds: int, entries: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    (root / "config").mkdir()
    (root / "config" / "ingest.toml").write_text(
        'output_dir = "../seeds"\nledger = "../state/ledger.db"\nallow_private_networks = true\n'
        "host_delay = 0.0\nconcurrency = 8\nretries = 0\n"
        # the corpus has ~100 pages for 1,000 articles: copies are made distinct, but some sites' text
        # is extracted without the mark, so content duplicate detection is off for the run
        "dedupe_text = false\n")
    (root / "config" / "sources.toml").write_text("".join(
        f'[[source]]\nname = "feed-{n}"\nurl = "http://127.0.0.{n % 20 + 1}:{port}/feeds/{n}.xml"\n'
        f'kind = "feed"\nevery = "1h"\nbackfill = {entries}\n\n' for n in range(feeds)))
    return root


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    return time.perf_counter() - started, done


def children_cpu_s() -> float:
    """CPU seconds (user + system) of every finished child process so far, their own children included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_ingest(port: int, runs: int) -> dict:
    walls, cpus, idles, idle_requests, idle_extracted = [], [], [], [], []
    for _ in range(runs):
        root = workspace(port, 100, 10)
        try:
            cpu_before = children_cpu_s()
            wall, done = timed(INGEST + ["poll"], root)
            cpus.append(children_cpu_s() - cpu_before)
            notes = len(list((root / "seeds").glob("*.md")))
            if notes != 1000:
                raise SystemExit(f"bench: ingest wrote {notes} notes, not 1,000:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
            walls.append(wall)
            before = requests_served(port)
            idle, done = timed(INGEST + ["poll", "--all"], root)
            idles.append(idle)
            idle_requests.append(requests_served(port) - before)
            idle_extracted.append(done.stdout.count("created ") + done.stdout.count("duplicate "))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    wall = statistics.median(walls)
    return {"backlog_s": round(wall, 2), "backlog_pages_per_s": round(1000 / wall, 1),
            "backlog_cpu_ms_per_page": round(statistics.median(cpus), 1),  # CPU seconds over 1,000 pages
            "idle_s": round(statistics.median(idles), 3), "idle_requests": statistics.median(idle_requests),
            "idle_pages_extracted": max(idle_extracted)}


def bench_trafilatura(port: int, runs: int, parallels: list[int]) -> dict:
    root = Path(tempfile.mkdtemp(prefix="trafilatura-bench-"))
    try:
        urls = [f"http://127.0.0.{n % 20 + 1}:{port}/articles/{n}-{k}.html" for n in range(100) for k in range(10)]
        (root / "urls.txt").write_text("\n".join(urls) + "\n")
        # trafilatura's own settings, with the per-host delay off (as for ingest) and loopback allowed
        import configparser

        import trafilatura

        config = configparser.ConfigParser()
        config.read(Path(trafilatura.__file__).parent / "settings.cfg")
        config["DEFAULT"]["SLEEP_TIME"] = "0"
        config["DEFAULT"]["SSRF_PROTECTION"] = "off"
        with open(root / "settings.cfg", "w") as handle:
            config.write(handle)

        def once(parallel: int) -> tuple[float, int]:
            out = root / f"out-{parallel}-{time.monotonic_ns()}"
            wall, _ = timed([TRAFILATURA, "-i", "urls.txt", "-o", str(out), "--markdown", "--formatting", "--links",
                             "--with-metadata", "--parallel", str(parallel), "--config-file", "settings.cfg"], root)
            written = sum(1 for f in out.rglob("*") if f.is_file()) if out.exists() else 0
            shutil.rmtree(out, ignore_errors=True)
            return wall, written

        best = min(parallels, key=lambda p: once(p)[0])  # its download settings at their best
        results = [once(best) for _ in range(runs)]
        wall = statistics.median(w for w, _ in results)
        return {"parallel": best, "wall_s": round(wall, 2), "pages_per_s": round(1000 / wall, 1),
                "files_written": min(n for _, n in results)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (worker processes included), in KB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def bench_memory(latency: float) -> dict:
    with local_web(1000, 10, latency) as port:
        root = workspace(port, 1000, 10)
        try:
            started = time.perf_counter()
            proc = subprocess.Popen(INGEST + ["poll"], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            peak_tree = peak_main = 0
            while proc.poll() is None:
                peak_tree = max(peak_tree, tree_rss_kb(proc.pid))
                peak_main = max(peak_main, _rss_kb(proc.pid))
                time.sleep(0.2)
            wall = time.perf_counter() - started
            notes = len(list((root / "seeds").glob("*.md")))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return {"articles": notes, "peak_rss_mb_all_processes": round(peak_tree / 1024, 1),
            "peak_rss_mb_main": round(peak_main / 1024, 1), "wall_s": round(wall, 1)}


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
    except FileNotFoundError:
        return 0


def bench_startup(port: int, runs: int) -> dict:
    root = workspace(port, 1, 1)
    try:
        url = f"http://127.0.0.2:{port}/articles/1-0.html"
        subprocess.run(INGEST + ["url", url], cwd=root, capture_output=True, check=True)
        helps = [timed(INGEST + ["--help"], root)[0] for _ in range(runs)]
        dups = []
        for _ in range(runs):
            wall, done = timed(INGEST + ["url", url], root)
            assert done.stdout.startswith("duplicate"), done.stdout
            dups.append(wall)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"help_s": round(statistics.median(helps), 3), "url_duplicate_s": round(statistics.median(dups), 3)}


def bench_ledger(items: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from ingest.ledger import aliases, open_ledger
    from ingest.ledger import items as items_table
    from ingest.urls import url_key

    root = Path(tempfile.mkdtemp(prefix="ingest-ledger-"))
    try:
        ledger = open_ledger(f"sqlite:///{root / 'ledger.db'}")
        now = datetime.now(timezone.utc)
        started = time.perf_counter()
        batch = 50_000
        with ledger.engine.begin() as conn:
            for start in range(0, items, batch):
                rows = [{"id": i + 1, "url": f"https://site{i % 5000}.example/post/{i}", "url_key":
                         f"site{i % 5000}.example/post/{i}", "outcome": "created", "created_at": now,
                         "updated_at": now, "note_path": f"/notes/{i}.md", "attempts": 1}
                        for i in range(start, min(start + batch, items))]
                conn.execute(items_table.insert(), rows)
                conn.execute(aliases.insert(), [{"key": r["url_key"], "item_id": r["id"]} for r in rows])
        fill = time.perf_counter() - started
        probes = [f"https://www.site{i % 5000}.example/post/{i}?utm_source=x" for i in random.sample(range(items), 1000)]
        misses = [f"https://site{i}.example/new/{i}" for i in range(1000)]
        hit_times, miss_times = [], []
        for url in probes:
            t = time.perf_counter()
            known = ledger.lookup([url_key(url)])
            hit_times.append(time.perf_counter() - t)
            assert known is not None and known.outcome == "created"
        for url in misses:
            t = time.perf_counter()
            assert ledger.lookup([url_key(url)]) is None
            miss_times.append(time.perf_counter() - t)
        ledger.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"items": items, "fill_s": round(fill, 1), "hit_ms": round(statistics.median(hit_times) * 1000, 3),
            "miss_ms": round(statistics.median(miss_times) * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per response (default 0.05)")
    parser.add_argument("--quick", action="store_true", help="one run each, no 10,000-article poll, 100,000 ledger items")
    parser.add_argument("--skip", nargs="*", default=[], choices=["backlog", "trafilatura", "memory", "startup", "ledger"])
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    figures: dict = {"machine": f"{os.cpu_count()} cores, {sys.platform}", "latency_s": args.latency, "runs": runs}
    with local_web(100, 10, args.latency) as port:
        if "backlog" not in args.skip:
            figures["ingest"] = bench_ingest(port, runs)
            print("ingest     ", figures["ingest"], flush=True)
        if "trafilatura" not in args.skip:
            figures["trafilatura"] = bench_trafilatura(port, runs, [8] if args.quick else [4, 8, 16, 32])
            print("trafilatura", figures["trafilatura"], flush=True)
        if "startup" not in args.skip:
            figures["startup"] = bench_startup(port, 5)
            print("startup    ", figures["startup"], flush=True)
    if "ingest" in figures and "trafilatura" in figures:
        figures["throughput_ratio"] = round(figures["trafilatura"]["wall_s"] / figures["ingest"]["backlog_s"], 2)
        print("ratio       ingest is", figures["throughput_ratio"], "× trafilatura's throughput", flush=True)
    if "memory" not in args.skip and not args.quick:
        figures["memory"] = bench_memory(args.latency)
        print("memory     ", figures["memory"], flush=True)
    if "ledger" not in args.skip:
        figures["ledger"] = bench_ledger(100_000 if args.quick else 1_000_000)
        print("ledger     ", figures["ledger"], flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

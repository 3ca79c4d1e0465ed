"""Crash trials: kill -9 `ingest poll` at random moments, restart it, and check that nothing was
lost, nothing written twice and no curator edit overwritten.

    python bench/crash_trials.py --trials 20 --items 300
A local site (127.0.0.1, its own threads) serves `--feeds` RSS feeds listing `--items` distinct
articles. Each trial starts `ingest poll --all` in a session of its own and SIGKILLs the ingest
process alone, as the OOM killer or a supervisor would, after a random delay (every other trial:
counted from its first new note): its worker processes must end by themselves, and its stdout and
stderr reach end of file within OUTPUT_GRACE seconds. Between trials a curator edits a random note.
Then polls run to completion until one finds nothing new, and the checks run:
  every article has exactly one note (by its `url:`), no temporary file is left, the ledger has
  every item created with an existing note and nothing pending or queued, `ingest doctor
  --dry-run` finds nothing, every curator edit is intact, no process of a killed run's session
  is left running (within STRAY_GRACE seconds).
Prints the figures; exit 1 when a check fails. tests/test_crash.py runs a few trials of this.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import frontmatter

OUTPUT_GRACE = 10.0  # seconds for a killed run's stdout to reach end of file (its workers hold it)
STRAY_GRACE = 10.0  # seconds for a killed run's workers to end before they count as strays

WORDS = ("model", "training", "evaluation", "alignment", "interpretability", "benchmark", "dataset",
         "scaling", "reasoning", "agents", "safety", "circuits", "features", "reward", "policy",
         "inference", "compute", "transformer", "attention", "gradient", "robustness", "language")


def article(n: int) -> bytes:
    """A page with enough distinct text to extract, unique per n."""
    rng = random.Random(n)
    # numbered words: texts from one small vocabulary would all be near-duplicates of each other
    paragraphs = "".join(
        "<p>" + " ".join(f"{rng.choice(WORDS)}{rng.randrange(1000)}" for _ in range(60))
        + f" (article {n}, part {k}).</p>"
        for k in range(6)
    )
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Crash trial article {n}</title>"
            f"<meta name='author' content='Author {n % 7}'></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>Crash trial article {n}</h1>{paragraphs}</article>"
            "<footer>Footer</footer></body></html>").encode()


def feed(port: int, numbers: range) -> bytes:
    items = "".join(
        f"<item><title>Crash trial article {n}</title><link>http://127.0.0.1:{port}/a/{n}.html</link>"
        f"<guid>http://127.0.0.1:{port}/a/{n}.html</guid>"
        f"<pubDate>{time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(1700000000 + n * 3600))}</pubDate></item>"
        for n in numbers
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Trials</title>'
            f"<link>http://127.0.0.1:{port}/</link><description>d</description>{items}</channel></rss>").encode()


class LocalSite:
    """Feeds and articles on 127.0.0.1, a few milliseconds of latency each, until close()."""

    def __init__(self, items: int, feeds: int, latency: float):
        self.items, self.feeds, self.latency = items, feeds, latency
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server name)
                time.sleep(site.latency)
                body, kind = site.body(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a killed client breaks its pipe: expected
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def body(self, path: str) -> tuple[bytes | None, str]:
        if path.startswith("/feed-") and path.endswith(".xml"):
            k = int(path[len("/feed-"):-len(".xml")])
            return feed(self.port, range(k, self.items, self.feeds)), "application/rss+xml"
        if path.startswith("/a/") and path.endswith(".html"):
            return article(int(path[3:-5])), "text/html; charset=utf-8"
        return None, "text/plain"

    def urls(self) -> set[str]:
        return {f"http://127.0.0.1:{self.port}/a/{n}.html" for n in range(self.items)}

    def close(self) -> None:
        self.server.shutdown()


def workspace(root: Path, site: LocalSite) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "config" / "ingest.toml").write_text(
        'output_dir = "../seeds"\nledger = "../state/ledger.db"\nallow_private_networks = true\n'
        "timeout = 5.0\ndeadline = 20.0\nretries = 1\nbackoff = 0.0\nhost_delay = 0.0\nconcurrency = 8\n"
        "obey_robots = false\n", encoding="utf-8")
    (root / "config" / "sources.toml").write_text("".join(
        f'[[source]]\nname = "feed-{k}"\nurl = "http://127.0.0.1:{site.port}/feed-{k}.xml"\nkind = "feed"\n'
        f"backfill = {site.items}\n\n" for k in range(site.feeds)), encoding="utf-8")
    return root


def ingest(root: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")} | {"INGEST_MIN_INTERVAL": "0"}
    return subprocess.Popen([sys.executable, "-m", "ingest.cli", *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def notes_by_url(root: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in sorted((root / "seeds").glob("*.md")):
        url = str(frontmatter.load(path).get("url"))
        found.setdefault(url, []).append(path)
    return found


def curator_edit(root: Path, rng: random.Random, edits: dict[Path, str]) -> None:
    """A curator takes a note in hand: status and a line of their own."""
    candidates = [p for p in sorted((root / "seeds").glob("*.md")) if p not in edits]
    if not candidates:
        return
    path = rng.choice(candidates)
    text = path.read_text(encoding="utf-8").replace("status: unprocessed", "status: processing", 1)
    text += f"\nCurator's remark {len(edits) + 1}.\n"
    path.write_text(text, encoding="utf-8")
    edits[path] = text


def note_count(root: Path) -> int:
    return len(list((root / "seeds").glob("*.md")))


def session_processes(session: int) -> list[int]:
    """The processes still running (not zombies) in this session: what a killed run left."""
    left = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:  # ended meanwhile
                continue
            if fields[0] != "Z" and int(fields[3]) == session:
                left.append(int(entry.name))
    return left


def strays_of(session: int) -> int:
    """How many processes of a killed run's session are still running after STRAY_GRACE seconds;
    then they are killed, so that the trials themselves leave nothing behind."""
    give_up_at = time.monotonic() + STRAY_GRACE
    while session_processes(session) and time.monotonic() < give_up_at:
        time.sleep(0.05)
    left = session_processes(session)
    if left:
        os.killpg(session, signal.SIGKILL)
    return len(left)


def wait_for_note(root: Path, proc: subprocess.Popen, before: int, timeout: float = 60.0) -> None:
    """Until the run has written a note more than `before`, or has ended, or `timeout` passed."""
    give_up_at = time.monotonic() + timeout
    while note_count(root) <= before and proc.poll() is None and time.monotonic() < give_up_at:
        time.sleep(0.02)


def run_trials(trials: int, items: int, feeds: int, latency: float, seed: int, root: Path,
               *, max_delay: float = 3.0, log=print) -> dict:
    rng = random.Random(seed)
    site = LocalSite(items, feeds, latency)
    try:
        workspace(root, site)
        edits: dict[Path, str] = {}
        killed_mid_run = outputs_held_open = stray_processes = 0
        for trial in range(trials):
            # a start takes about a second; then items are written all through the next two. Every
            # other trial counts its delay from the run's first new note, so that some kills land
            # among the writes however slow the machine is, and a curator has notes to edit
            before = note_count(root)
            proc = ingest(root, "poll", "--all")
            if trial % 2:
                wait_for_note(root, proc, before)
            delay = rng.uniform(0.3, max_delay)
            try:
                proc.communicate(timeout=delay)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)  # not its process group: the workers must follow alone
                try:
                    proc.communicate(timeout=OUTPUT_GRACE)
                except subprocess.TimeoutExpired:  # a worker still holds the dead run's stdout or stderr
                    outputs_held_open += 1
                # counted now: the next run's recovery would stop what is left
                stray_processes += strays_of(proc.pid)
                proc.communicate()
                killed_mid_run += 1
            curator_edit(root, rng, edits)
            log(f"trial {trial + 1}: kill -9 after {delay:.2f}s, {note_count(root)} notes")
        polls = 0
        while True:  # restart and poll until a poll finds nothing new
            polls += 1
            out, _ = ingest(root, "poll", "--all").communicate(timeout=600)
            log(out.decode().strip().splitlines()[-1])
            if b" 0 new note(s)" in out or polls >= 5:
                break
        return check(root, site, edits) | {"trials": trials, "killed_mid_run": killed_mid_run,
                                           "items": items, "final_polls": polls,
                                           "outputs_held_open": outputs_held_open,
                                           "stray_processes": stray_processes}
    finally:
        site.close()


def check(root: Path, site: LocalSite, edits: dict[Path, str]) -> dict:
    notes = notes_by_url(root)
    expected = site.urls()
    duplicates = sum(len(paths) - 1 for url, paths in notes.items() if url in expected)
    lost = len(expected - set(notes))
    overwritten = sum(1 for path, text in edits.items()
                      if not path.exists() or path.read_text(encoding="utf-8") != text)
    leftovers = sorted(p.name for p in (root / "seeds").iterdir() if p.name.startswith(".ingest-tmp-"))
    db = sqlite3.connect(root / "state" / "ledger.db")
    rows = db.execute("SELECT url, outcome, note_path FROM items").fetchall()
    db.close()
    unfinished = sum(1 for _, outcome, _ in rows if outcome in ("pending", "queued", "failed"))
    disagreeing = sum(1 for _, outcome, path in rows if outcome == "created" and not (path and Path(path).exists()))
    doctor = subprocess.run([sys.executable, "-m", "ingest.cli", "doctor", "--dry-run"], cwd=root,
                            capture_output=True, text=True)
    return {"duplicate_notes": duplicates, "lost_notes": lost, "edits_overwritten": overwritten,
            "curator_edits": len(edits), "leftover_temp_files": len(leftovers), "unfinished_items": unfinished,
            "ledger_file_disagreements": disagreeing, "doctor_exit": doctor.returncode,
            "doctor_says": doctor.stdout.strip().splitlines()[-1:] or [""]}


def failed(figures: dict) -> bool:
    bad = ("duplicate_notes", "lost_notes", "edits_overwritten", "leftover_temp_files", "unfinished_items",
           "ledger_file_disagreements", "doctor_exit", "outputs_held_open", "stray_processes")
    return any(figures[k] for k in bad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--feeds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per response: slow enough that every kill lands mid-poll")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=3.0, help="kill within this many seconds of a start")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingest-crash-") as tmp:
        figures = run_trials(args.trials, args.items, args.feeds, args.latency, args.seed, Path(tmp),
                             max_delay=args.max_delay, log=(lambda *_: None) if args.json else print)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")
    sys.exit(1 if failed(figures) else 0)


if __name__ == "__main__":
    main()

"""BatchRun on the in-process emulator and virtual time: a whole day's job, and its requests.

    python benchmarks/bench_batch.py                 # table; exit 1 if a target is missed
    python benchmarks/bench_batch.py --lines 10000   # a smaller job
    python benchmarks/bench_batch.py --profile       # plus cProfile of one run

Targets:
* (a) a simulated 24-hour job of 50,000 chat lines, end to end (plan -> upload -> create ->
  poll every 30-60 s of *virtual* time -> download both files -> results in input order),
  takes at most 5 s of wall time (median of the rounds). What it measures is our client
  plus the emulator running every line through its chat handler: no real waiting, no
  network.
* (b) BatchRun sends at most 1/20 of the HTTP requests per input that online sending does
  (one ``chat.create`` per input, what ``ChatTogether.batch()`` does), counted on
  ``emu.requests``.

Every round builds a fresh emulator, clock and store. CPU time (``process_time``) is printed
beside the wall time: on a shared machine the gap between the two is other processes' load.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Report

from together_integrations.batch import BatchRun, DirectoryStore, plan_batch
from together_integrations.testing import TogetherEmulator, VirtualClock

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
WALL_TARGET_S = 5.0
REQUEST_RATIO_TARGET = 20.0
DAY = 24 * 3600


def requests(n: int) -> list[dict[str, Any]]:
    return [
        {"model": MODEL, "messages": [{"role": "user", "content": f"row {i}"}]} for i in range(n)
    ]


def one_run(n: int, store_dir: Path) -> tuple[float, float, TogetherEmulator]:
    """(wall s, cpu s, the emulator) of one whole run; the answers are spot-checked."""
    clock = VirtualClock()
    emu = TogetherEmulator(clock=clock)
    # A day in progress after a minute validating, just inside the 24 h window.
    emu.batches.script(duration=DAY - 600, validating=60)
    bodies = requests(n)
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    plan = plan_batch(bodies)
    run = BatchRun(plan, transport=emu.transport(), store=DirectoryStore(store_dir), clock=clock)
    results = run.results()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ended = clock.now()
    assert ended >= DAY - 600, f"the job ended after {ended:.0f} virtual seconds"
    for i in (0, n // 2, n - 1):
        text = results[i]["choices"][0]["message"]["content"]
        assert text == f"You said: row {i}", (i, text)
    return wall, cpu, emu


def online_requests(n: int) -> int:
    """Requests for ``n`` inputs sent online, one chat call each (what ``.batch()`` does)."""
    emu = TogetherEmulator()
    transport = emu.transport()
    for body in requests(n):
        transport.chat.create(body)
    return len(emu.requests)


def kinds(emu: TogetherEmulator) -> str:
    counted = Counter(
        "poll"
        if r.method == "GET" and r.path.startswith("/v1/batches/")
        else "download"
        if r.path.endswith("/content")
        else "create"
        if r.path == "/v1/batches"
        else "upload"
        for r in emu.requests
    )
    return ", ".join(f"{count} {kind}" for kind, count in sorted(counted.items()))


def run(args: argparse.Namespace) -> Report:
    report = Report(f"bench_batch: a 24 h job of {args.lines:,} lines, {args.rounds} rounds")
    walls, cpus = [], []
    sent, seen = 0, ""
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            wall, cpu, emu = one_run(args.lines, Path(folder))
        walls.append(wall)
        cpus.append(cpu)
        sent, seen = len(emu.requests), kinds(emu)
        del emu  # the next round starts from the same heap
    wall = statistics.median(walls)
    report.add(
        f"(a) {args.lines:,}-line 24 h job, plan to results (wall)",
        f"{wall:.2f} s (rounds {', '.join(f'{w:.2f}' for w in walls)})",
        f"<= {WALL_TARGET_S:.0f} s",
        wall <= WALL_TARGET_S,
    )
    report.add(
        "    the same, CPU time of this process",
        f"{statistics.median(cpus):.2f} s",
        "info",
        None,
    )
    batch_per_input = sent / args.lines
    online_per_input = online_requests(args.online) / args.online
    ratio = online_per_input / batch_per_input
    report.add(
        "(b) HTTP requests per input: online / BatchRun",
        f"{online_per_input:.2f} / {batch_per_input:.4f} = {ratio:.0f}x fewer "
        f"({sent} requests: {seen})",
        f">= {REQUEST_RATIO_TARGET:.0f}x",
        ratio >= REQUEST_RATIO_TARGET,
    )
    if args.profile:
        with tempfile.TemporaryDirectory() as folder:
            profiler = cProfile.Profile()
            profiler.runcall(one_run, args.lines, Path(folder))
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=50_000, help="inputs of the job")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--online", type=int, default=1_000, help="inputs sent online in (b)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    report = run(args)
    report.print()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

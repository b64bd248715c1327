#!/usr/bin/env python3
"""What one wake-up of the idle load core costs the server's core.

A process on core 0 does WORK µs of computation (standing in for a
signature), then wakes a reader sleeping on core 1 with one byte through a
pipe (standing in for the response that wakes the load tool), and again.
The time per iteration beyond WORK is what each wake costs core 0. Printed
as the median over several runs, with the same loop without the wake as the
baseline:

    15.0 µs (the same loop without the wake: 0.8 µs)

Run it twice, as scripts/bench.sh does: as the machine comes, and while
/dev/cpu_dma_latency is held at 0 (idle vCPUs poll instead of halting).
"""
import os
import statistics
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
WORK = 300e-6
RUNS = 5


def run(wake: bool) -> float:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.sched_setaffinity(0, {1})
        while os.read(r, 1) == b"x":
            pass
        os._exit(0)
    os.close(r)
    os.sched_setaffinity(0, {0})
    time.sleep(0.1)  # the reader is asleep on core 1
    t0 = time.perf_counter()
    for _ in range(N):
        end = time.perf_counter() + WORK
        while time.perf_counter() < end:
            pass
        if wake:
            os.write(w, b"x")
    t1 = time.perf_counter()
    os.write(w, b"q")
    os.close(w)
    os.waitpid(pid, 0)
    return ((t1 - t0) / N - WORK) * 1e6


def main() -> None:
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs two cores")
    base = statistics.median(run(False) for _ in range(RUNS))
    woke = statistics.median(run(True) for _ in range(RUNS))
    print(f"{woke:.1f} µs (the same loop without the wake: {base:.1f} µs)")


if __name__ == "__main__":
    main()

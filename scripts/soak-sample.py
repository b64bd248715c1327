#!/usr/bin/env python3
"""Who holds the cores during a soak, every 100 ms.

  soak-sample.py record OUT TESSERA_PID
      Appends one tab-separated row per 100 ms to OUT until killed:
      unix time, then for each core its busy and stolen milliseconds,
      then the CPU milliseconds of Tessera's threads (by thread name),
      Redis, PostgreSQL and the load tool, then Tessera's RSS in KiB.
  soak-sample.py around OUT UNIX_TIME...
      Prints the rows from 1 s before to 0.3 s after each time, with the
      columns that were not all zero: what ran while a request waited.
  soak-sample.py rss OUT
      Tessera's RSS at the start of each minute: a leak keeps rising,
      an allocator that keeps its pages after a burst does not.

Reads /proc only; it costs about 1 % of a core.
"""
import os
import sys
import time

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")
INTERVAL = 0.1


def stat_ticks(path):
    """utime + stime of a /proc .../stat file, and the comm name."""
    with open(path) as f:
        data = f.read()
    comm = data[data.index("(") + 1 : data.rindex(")")]
    rest = data[data.rindex(")") + 2 :].split()
    return comm, int(rest[11]) + int(rest[12])


def group_of(comm):
    if comm.startswith("redis-server"):
        return "redis"
    if comm.startswith("postgres"):
        return "postgres"
    if comm.startswith("flows"):
        return "load"
    return None


def cores():
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                p = line.split()
                v = [int(x) for x in p[1:]]
                # user nice system idle iowait irq softirq steal
                out[p[0]] = (v[0] + v[1] + v[2] + v[5] + v[6], v[7])
    return out


def processes():
    """pid -> group for the stores and the load tool."""
    pids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                comm, _ = stat_ticks(f"/proc/{d}/stat")
            except (OSError, ValueError):
                continue
            g = group_of(comm)
            if g:
                pids[d] = g
    return pids


def sample(tessera, pids):
    """CPU ticks by (column, thread or process), and Tessera's RSS."""
    ticks = {}
    try:
        for t in os.listdir(f"/proc/{tessera}/task"):
            comm, n = stat_ticks(f"/proc/{tessera}/task/{t}/stat")
            # actix names its workers "actix-rt|system:0|arbiter:N": one column
            ticks[("tessera:" + comm.split("|")[0], t)] = n
    except OSError:
        pass
    for pid, g in pids.items():
        try:
            _, n = stat_ticks(f"/proc/{pid}/stat")
        except (OSError, ValueError):
            continue
        ticks[(g, pid)] = n
    rss = 0
    try:
        with open(f"/proc/{tessera}/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return ticks, rss


def record(out, tessera):
    pids, seen = processes(), time.time()
    prev_c, (prev_t, _) = cores(), sample(tessera, pids)
    with open(out, "a", buffering=1) as f:
        while True:
            time.sleep(INTERVAL)
            now = time.time()
            if now - seen > 1:
                pids, seen = processes(), now
            c, (t, rss) = cores(), sample(tessera, pids)
            cols = [f"{now:.3f}"]
            for cpu in sorted(c):
                cols.append(f"{cpu}.busy={(c[cpu][0] - prev_c.get(cpu, c[cpu])[0]) * TICK_MS:.0f}")
                cols.append(f"{cpu}.steal={(c[cpu][1] - prev_c.get(cpu, c[cpu])[1]) * TICK_MS:.0f}")
            # per thread or process, so one that ends or begins counts nothing
            used = {}
            for (col, who), n in t.items():
                used[col] = used.get(col, 0) + n - prev_t.get((col, who), n)
            for k in sorted(used):
                cols.append(f"{k}={used[k] * TICK_MS:.0f}")
            cols.append(f"rss={rss}")
            f.write("\t".join(cols) + "\n")
            prev_c, prev_t = c, t


def rows(out):
    with open(out) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            yield float(p[0]), dict(kv.split("=", 1) for kv in p[1:])


def around(out, times):
    all_rows = list(rows(out))
    for at in times:
        near = [(t, r) for t, r in all_rows if at - 1.0 <= t <= at + 0.3]
        keys = sorted({k for _, r in near for k, v in r.items() if k != "rss" and v != "0"})
        print(f"  around {time.strftime('%H:%M:%S', time.gmtime(at))}.{int(at % 1 * 1000):03d} "
              "(ms of CPU per 100 ms; rows are the 100 ms ending at their time):")
        for t, r in near:
            stamp = time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}"
            print("    " + stamp + "  " + "  ".join(f"{k}={r.get(k, '0')}" for k in keys))


def rss(out):
    last_minute, line = None, []
    for t, r in rows(out):
        m = int(t // 60)
        if m != last_minute:
            line.append(r.get("rss", "?"))
            last_minute = m
    print("  Tessera RSS at each minute (KiB): " + " ".join(line))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "record":
        record(sys.argv[2], sys.argv[3])
    elif cmd == "around":
        around(sys.argv[2], [float(x) for x in sys.argv[3:]])
    elif cmd == "rss":
        rss(sys.argv[2])

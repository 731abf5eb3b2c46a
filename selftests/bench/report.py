#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the CSV files of selftests/bench/bench.sh into make bench's report.

    report.py RESULTS_DIR

Writes summary.csv (one line per configuration, size and mode: medians
over the rounds), targets.csv (each target of the bench with the ratio
this run measured), table.txt (printed too), table.rst (for
Documentation/performance.rst) and, when matplotlib is there, PNG plots.
"""

import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

CONFIGS = ["direct", "tcp_handoff", "haproxy", "ipvs-dr"]
SIZES = ["1k", "64k", "1m"]
MODES = ["close", "keepalive"]


def read_csv(path):
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def cpu_seconds(r, cpus):
    """The guest's busy CPU seconds of a run.

    Under TCG on a busy host the guest's tick-based accounting can count
    more ticks than wall time allows; the busy share of all ticks counted,
    times the vCPUs and the run's duration, is robust to that.
    """
    busy, total = float(r["cpu_s"]), float(r.get("cpu_total_s") or 0)
    if total <= 0:
        return busy
    return busy / total * cpus * float(r["seconds"])


def summarize(runs, cpus=2):
    groups = defaultdict(list)
    for r in runs:
        if r["round"].startswith(("scale", "perf")):
            continue
        groups[(r["config"], r["size"], r["mode"])].append(r)
    out = {}
    for key, rs in groups.items():
        req = sum(int(r["requests"] or 0) for r in rs)
        out[key] = {
            "rounds": len(rs),
            "rps": statistics.median(float(r["rps"] or 0) for r in rs),
            "p50_us": statistics.median(float(r["p50_us"] or 0) for r in rs),
            "p99_us": statistics.median(float(r["p99_us"] or 0) for r in rs),
            "fe_bytes": sum(int(r["fe_bytes"]) for r in rs) / req if req else 0,
            "fe_packets": sum(int(r["fe_packets"]) for r in rs) / req if req else 0,
            "cpu_per_1k": sum(cpu_seconds(r, cpus) for r in rs) * 1000 / req if req else 0,
            "errors": sum(int(r["errors"] or 0) for r in rs),
            "syn_retrans": sum(int(r.get("syn_retrans") or 0) for r in rs),
        }
    return out


def ratio(a, b):
    return a / b if b else float("nan")


def targets(s, lat, channel, scale, slab):
    """Each target of the issue, with the measured value and the bound."""
    t = []

    def get(c, size, what, mode="close"):
        return s.get((c, size, mode), {}).get(what, float("nan"))

    def add(name, value, bound, le=False):
        if bound is None:
            t.append((name, value, "-", "reported"))
            return
        ok = value <= bound if le else value >= bound
        t.append((name, value, ("<= " if le else ">= ") + f"{bound:g}", "met" if ok else "MISSED"))

    add("1m: tcp_handoff/haproxy req/s", ratio(get("tcp_handoff", "1m", "rps"), get("haproxy", "1m", "rps")), 1.5)
    add(
        "1m: tcp_handoff/haproxy FE bytes per request",
        ratio(get("tcp_handoff", "1m", "fe_bytes"), get("haproxy", "1m", "fe_bytes")),
        0.05,
        le=True,
    )
    add("1k: tcp_handoff/haproxy req/s", ratio(get("tcp_handoff", "1k", "rps"), get("haproxy", "1k", "rps")), 1.0)
    added_th = get("tcp_handoff", "1k", "p50_us") - get("direct", "1k", "p50_us")
    added_hp = get("haproxy", "1k", "p50_us") - get("direct", "1k", "p50_us")
    add("1k: added p50 over direct, tcp_handoff minus haproxy (us)", added_th - added_hp, 0, le=True)
    add("1k: tcp_handoff/ipvs-dr req/s", ratio(get("tcp_handoff", "1k", "rps"), get("ipvs-dr", "1k", "rps")), 0.8)
    add("1m: tcp_handoff/ipvs-dr req/s", ratio(get("tcp_handoff", "1m", "rps"), get("ipvs-dr", "1m", "rps")), 0.95)
    add("1m: tcp_handoff/direct req/s", ratio(get("tcp_handoff", "1m", "rps"), get("direct", "1m", "rps")), 0.9)
    add("1k: tcp_handoff/direct req/s", ratio(get("tcp_handoff", "1k", "rps"), get("direct", "1k", "rps")), 0.6)
    samples = [float(r["latency_us"]) for r in lat]
    rtt = {r["what"]: float(r["us"] or "nan") for r in channel}
    if samples and rtt.get("ping_avg"):
        add("handoff latency median / channel RTT (ping)", statistics.median(samples) / rtt["ping_avg"], 3, le=True)
    ph = {r["phase"]: r for r in scale}
    sl = {r["phase"]: r for r in slab}
    if "held" in ph:
        held = int(ph["held"].get("handed_off") or ph["held"]["held"]) or 1
        if "empty" in sl and "held" in sl:
            for side in ("fe", "be"):
                objs = int(sl["held"][f"{side}_objs"]) - int(sl["empty"][f"{side}_objs"])
                size = int(sl["held"][f"{side}_obj_size"])
                add(f"memory per connection, {side.upper()} objects (bytes)", objs * size / held, 512, le=True)
                kib = int(sl["held"][f"{side}_slab_kib"]) - int(sl["empty"][f"{side}_slab_kib"])
                add(f"memory per connection, {side.upper()} slab pages (bytes)", kib * 1024 / held, 512, le=True)
            if sl["held"].get("follow_objs"):
                # Reported, with no target: the state of connections that
                # may move between back-ends, apart from the budget above.
                objs = int(sl["held"]["follow_objs"]) - int(sl["empty"]["follow_objs"])
                size = int(sl["held"]["follow_obj_size"])
                add("keep-alive following state per connection, FE objects (bytes)", objs * size / held, None, le=True)
        none = [float(ph[p]["rps"]) for p in ("before", "after") if p in ph]
        full = [float(ph[p]["rps"]) for p in ("held", "held2") if p in ph]
        if none and full:
            add(f"req/s with {held} idle connections / with none", ratio(statistics.mean(full), statistics.mean(none)), 0.9)
    return t


def table_text(s, env, accel):
    lines = [
        f"make bench: {env.get('kernel', '?')}, {env.get('cpus', '?')} vCPUs under {accel}, "
        f"{env.get('rounds', '?')} rounds of {env.get('seconds', '?')} s, wrk -c{env.get('wrk_connections', '?')}",
        "All nodes share the guest's vCPUs: req/s is total CPU per request, not the front-end's capacity alone.",
        "SYN rtx: SYNs the client retransmitted over the rounds; a run with any waited seconds for a connection.",
        "Absolute figures vary by machine and accelerator; the ratios are the claim.",
        "",
        f"{'config':<12} {'size':>4} {'mode':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'FE B/req':>10} {'FE pkt/req':>10} {'CPU s/1k':>9} {'SYN rtx':>7}",
    ]
    for mode in MODES:
        for size in SIZES:
            for c in CONFIGS:
                r = s.get((c, size, mode))
                if not r:
                    continue
                lines.append(
                    f"{c:<12} {size:>4} {mode:<9} {r['rps']:>9.1f} {r['p50_us'] / 1000:>8.2f} "
                    f"{r['p99_us'] / 1000:>8.2f} {r['fe_bytes']:>10.0f} {r['fe_packets']:>10.1f} "
                    f"{r['cpu_per_1k']:>9.2f} {r['syn_retrans']:>7}"
                )
    return lines


def table_rst(s):
    rows = [["config", "size", "mode", "req/s", "p50 ms", "p99 ms", "FE B/req", "FE pkt/req", "CPU s/1k", "SYN rtx"]]
    for mode in MODES:
        for size in SIZES:
            for c in CONFIGS:
                r = s.get((c, size, mode))
                if r:
                    rows.append(
                        [
                            c,
                            size,
                            mode,
                            f"{r['rps']:.1f}",
                            f"{r['p50_us'] / 1000:.2f}",
                            f"{r['p99_us'] / 1000:.2f}",
                            f"{r['fe_bytes']:.0f}",
                            f"{r['fe_packets']:.1f}",
                            f"{r['cpu_per_1k']:.2f}",
                            str(r["syn_retrans"]),
                        ]
                    )
    return grid(rows)


def grid(rows):
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    sep = "+" + "+".join("-" * (x + 2) for x in w) + "+"
    out = [sep]
    for n, r in enumerate(rows):
        out.append("| " + " | ".join(v.ljust(w[i]) for i, v in enumerate(r)) + " |")
        out.append(sep.replace("-", "=") if n == 0 else sep)
    return out


def histogram(samples):
    """log2 buckets of microseconds: (low, high, count)."""
    b = defaultdict(int)
    for v in samples:
        k = max(int(v), 1).bit_length() - 1
        b[k] += 1
    return [(1 << k, (1 << (k + 1)) - 1, b[k]) for k in sorted(b)]


def plots(d, s, samples):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# matplotlib missing: no plots")
        return
    for what, label, fname, log in [
        ("rps", "requests/s", "rps", False),
        ("fe_bytes", "bytes through the front-end per request", "fe-bytes", True),
        ("p50_us", "p50 latency (us)", "p50", False),
        ("cpu_per_1k", "guest CPU s per 1000 requests", "cpu", False),
    ]:
        fig, axes = plt.subplots(1, len(MODES), figsize=(11, 4))
        for ax, mode in zip(axes, MODES):
            width = 0.2
            for i, c in enumerate(CONFIGS):
                ys = [s.get((c, z, mode), {}).get(what, 0) for z in SIZES]
                ax.bar([x + i * width for x in range(len(SIZES))], ys, width, label=c)
            ax.set_xticks([x + 1.5 * width for x in range(len(SIZES))], SIZES)
            ax.set_title(f"{label}, {mode}")
            if log:
                ax.set_yscale("symlog")
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(d / f"{fname}.png", dpi=100)
        plt.close(fig)
    if samples:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(samples, bins=50)
        ax.set_xlabel("handoff latency (us): request head complete to HANDOFF_ACK")
        ax.set_ylabel("handoffs")
        fig.tight_layout()
        fig.savefig(d / "handoff-latency.png", dpi=100)
        plt.close(fig)


def main():
    d = Path(sys.argv[1])
    runs = read_csv(d / "runs.csv")
    lat = read_csv(d / "latency.csv")
    channel = read_csv(d / "channel.csv")
    scale = read_csv(d / "scale.csv")
    slab = read_csv(d / "slab.csv")
    env = {}
    if (d / "env.txt").exists():
        for line in (d / "env.txt").read_text().splitlines():
            k, _, v = line.partition(" ")
            env[k] = v
    accel = (d / "accel").read_text().strip() if (d / "accel").exists() else "?"
    s = summarize(runs, int(env.get("cpus", "2")))
    with (d / "summary.csv").open("w") as f:
        w = csv.writer(f)
        w.writerow(["config", "size", "mode", "rounds", "rps", "p50_us", "p99_us", "fe_bytes_per_req", "fe_packets_per_req", "cpu_s_per_1k", "errors"])
        for (c, z, m), r in sorted(s.items()):
            w.writerow([c, z, m, r["rounds"], f"{r['rps']:.1f}", r["p50_us"], r["p99_us"], f"{r['fe_bytes']:.1f}", f"{r['fe_packets']:.2f}", f"{r['cpu_per_1k']:.3f}", r["errors"]])
    lines = table_text(s, env, accel)
    samples = [float(r["latency_us"]) for r in lat]
    if samples:
        q = statistics.quantiles(samples, n=100) if len(samples) > 1 else [samples[0]] * 99
        lines += ["", f"handoff latency ({len(samples)} handoffs): median {statistics.median(samples):.0f} us, p90 {q[89]:.0f} us, p99 {q[98]:.0f} us"]
        waits = [float(r["queue_wait_us"]) for r in lat if r.get("queue_wait_us")]
        if waits:
            lines.append(f"  of which waiting for the worker (head complete to request sent): median {statistics.median(waits):.0f} us")
        for lo, hi, n in histogram(samples):
            lines.append(f"  {lo:>7}-{hi:<7} us {n:>6} {'#' * min(60, n * 60 // len(samples))}")
    for r in channel:
        lines.append(f"control channel {r['what']}: {r['us']} us")
    for r in scale:
        lines.append(f"scale {r['phase']:<7} held {r['held']:>6} ({r.get('handed_off', '?')} handed off): {float(r['rps'] or 0):8.1f} req/s")
    for r in slab:
        lines.append(
            f"slab {r['phase']:<6} fe_conn {r['fe_objs']} x {r['fe_obj_size']} B ({r['fe_slab_kib']} KiB of slabs), "
            f"be_conn {r['be_objs']} x {r['be_obj_size']} B ({r['be_slab_kib']} KiB)"
            + (f", follow {r['follow_objs']} x {r['follow_obj_size']} B" if r.get("follow_objs") else "")
        )
    tg = targets(s, lat, channel, scale, slab)
    with (d / "targets.csv").open("w") as f:
        w = csv.writer(f)
        w.writerow(["target", "measured", "bound", "verdict"])
        for name, v, b, verdict in tg:
            w.writerow([name, f"{v:.3f}", b, verdict])
    lines += ["", "targets (ratios of this run):"]
    lines += [f"  {verdict:<6} {name}: {v:.3f} (wanted {b})" for name, v, b, verdict in tg]
    (d / "table.txt").write_text("\n".join(lines) + "\n")
    (d / "table.rst").write_text("\n".join(table_rst(s)) + "\n")
    print("\n".join(lines))
    plots(d, s, samples)


if __name__ == "__main__":
    main()

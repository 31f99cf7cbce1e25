"""Integration tests for `tsecho bench` and `tsecho merge`: the real binary
against a real `tsecho server` (or small Python peers) on 127.0.0.1.

The contract under test is docs/bench.md: options, closed and open loop,
progress lines, the text result, JSON schema 1, the .hgrm file, merge and the
exit codes.  Tests assert behaviour and structure (counts, orderings, ratios
with wide margins), never absolute latencies or throughput; every run is
short and every wait bounded.
"""

import json
import math
import os
import re
import signal
import time

from harness import (Process, Server, SkipTest, TcpPeer, TempDir, UdpPeer, free_port,
                     require_binary, run_tsecho)

LO = "127.0.0.1"
N = r"\d+(?:\.\d+)?"         # a non-negative figure

STATS_KEYS = {"count", "min", "mean", "stddev", "max", "p50", "p90", "p99",
              "p99_9", "p99_99"}
PCT_KEYS = ["p50", "p90", "p99", "p99_9", "p99_99"]
HIST_KEYS = {"unit", "sub_bucket_bits", "counts", "min_ns", "max_ns", "sum_ns",
             "sum_sq_ns2"}
JSON_KEYS = {"schema", "tsecho_version", "kind", "target", "transport", "mode",
             "loop", "connections", "threads", "size", "rate_target",
             "rate_met", "duration_s", "messages", "bytes", "messages_per_s",
             "bytes_per_s", "errors", "error_kinds", "timeouts", "lost",
             "connections_opened", "ended_early", "server_gone_s", "interrupted",
             "elapsed_s", "fault", "latency_ms", "uncorrected_ms", "histogram",
             "uncorrected_histogram", "engine", "client_cpu_s",
             "client_cpu_us_per_message", "client_busy", "client_saturated",
             "breakdown_ms"}
ERROR_KINDS = {"connect", "closed", "reset", "unreachable", "too_big",
               "error_frame", "bad_reply", "resource"}
ROUND_MS = 0.002            # figures may be rounded to 0.001 ms

# The text result (docs/bench.md, "Result (text)").
HEADER_RE = re.compile(r"^--- tsecho bench (\S+) \((tcp|udp), (closed|open) loop, "
                       r"(\d+) connections?, (\d+) threads?, (\d+) bytes\) ---$")
DURATION_RE = re.compile(r"^duration (%s) s, (\d+) messages, (%s) msg/s, (%s) MB/s "
                         r"each way$" % (N, N, N))
ERRORS_RE = re.compile(r"^errors (\d+), timeouts (\d+), lost (\d+)$")
LATENCY_RE = re.compile(r"^latency\s+p50 (%s)\s+p90 (%s)\s+p99 (%s)\s+p99\.9 (%s)\s+"
                        r"p99\.99 (%s)\s+max (%s)\s+mean (%s) ms$"
                        % (N, N, N, N, N, N, N))
UNCORRECTED_RE = re.compile(r"uncorrected\s+p50 (%s)" % N)
LOAD_RE = re.compile(r"^load generator: (\w+) loop, CPU (%s) s, (%s) us per message, "
                     r"busy (\d+)%% of (\d+) threads?(: saturated.*)?$" % (N, N))
# Progress lines when stdout is not a terminal (docs/bench.md, "Progress").
PROGRESS_RE = re.compile(r"^progress: (\d+)s (%s) msg/s p50 (%s) ms p99 (%s) ms "
                         r"errors (\d+)$" % (N, N, N))
# `tsecho server`'s summary (docs/server.md).
SERVER_SUMMARY_RE = re.compile(
    r"^summary: connections (\d+), rejected (\d+), messages (\d+), "
    r"bytes in (\d+), bytes out (\d+), errors (\d+), uptime (%s) s$" % N)


def no_sanitizer_report(err_lines, what):
    reports = [l for l in err_lines if "Sanitizer" in l or "runtime error:" in l]
    assert not reports, "%s: sanitizer report: %s" % (what, "\n".join(err_lines[-40:]))


def bench(*args, timeout=20, **kw):
    r = run_tsecho("bench", *args, timeout=timeout, **kw)
    no_sanitizer_report(r.err.splitlines(), " ".join(r.argv[1:]))
    return r


def merge(*args, timeout=10):
    r = run_tsecho("merge", *args, timeout=timeout)
    no_sanitizer_report(r.err.splitlines(), " ".join(r.argv[1:]))
    return r


def target(port, host=LO):
    return "%s:%d" % (host, port)


def is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) \
        and math.isfinite(x)


def close_to(a, b, rel, what):
    assert abs(a - b) <= rel * max(abs(a), abs(b)), \
        "%s: %r and %r differ by more than %.0f%%" % (what, a, b, 100 * rel)



# ------------------------------------------------------------ JSON

def parse_json(text, what):
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise AssertionError("%s: stdout is not one JSON document (%s): %r"
                             % (what, e, text[:2000]))
    assert isinstance(doc, dict), "%s: not an object: %r" % (what, doc)
    return doc


def bench_json(r, what, code=0):
    """The JSON result of a finished `tsecho bench --json` run."""
    assert r.code == code, "%s: want exit %d; %s" % (what, code, r.describe())
    return parse_json(r.out, what)


def check_stats(d, what):
    """latency_ms / uncorrected_ms: every key a number, in order."""
    assert isinstance(d, dict) and set(d) == STATS_KEYS, \
        "%s: keys missing %r, unexpected %r in %r" % (
            what, sorted(STATS_KEYS - set(d or {})),
            sorted(set(d or {}) - STATS_KEYS), d)
    assert is_int(d["count"]) and d["count"] > 0, "%s: count %r" % (what, d)
    for k in STATS_KEYS - {"count"}:
        assert is_num(d[k]) and d[k] >= 0, "%s: %s = %r" % (what, k, d[k])
    ps = [d[k] for k in PCT_KEYS]
    assert d["min"] <= ps[0], "%s: min %r above p50 %r" % (what, d["min"], ps[0])
    assert ps == sorted(ps), "%s: percentiles out of order: %r" % (what, d)
    assert ps[-1] <= d["max"], "%s: p99_99 %r above max %r" % (what, ps[-1], d["max"])
    assert d["min"] - ROUND_MS <= d["mean"] <= d["max"] + ROUND_MS, \
        "%s: mean outside min..max: %r" % (what, d)
    return d


def hist_counts(h):
    return {b: c for b, c in h["counts"]}


def check_hist(h, stats, what):
    """A histogram object against the figures derived from it."""
    assert isinstance(h, dict) and set(h) == HIST_KEYS, \
        "%s: keys missing %r, unexpected %r" % (
            what, sorted(HIST_KEYS - set(h or {})), sorted(set(h or {}) - HIST_KEYS))
    assert h["unit"] == "ns", "%s: unit %r" % (what, h["unit"])
    assert h["sub_bucket_bits"] == 10, "%s: sub_bucket_bits %r" % (
        what, h["sub_bucket_bits"])
    cs = h["counts"]
    assert isinstance(cs, list) and cs, "%s: counts %r" % (what, cs)
    for pair in cs:
        assert isinstance(pair, list) and len(pair) == 2 and \
            all(is_int(x) for x in pair), "%s: counts entry %r" % (what, pair)
        assert pair[0] >= 0 and pair[1] > 0, \
            "%s: counts entry %r (non-empty buckets only)" % (what, pair)
    idx = [b for b, _ in cs]
    assert idx == sorted(set(idx)), "%s: bucket indices not increasing: %r" % (
        what, idx[:20])
    total = sum(c for _, c in cs)
    assert total == stats["count"], "%s: bucket counts sum to %d, count is %d" % (
        what, total, stats["count"])
    for k in ("min_ns", "max_ns", "sum_ns"):
        assert is_int(h[k]) and h[k] >= 0, "%s: %s = %r" % (what, k, h[k])
    assert is_num(h["sum_sq_ns2"]) and h["sum_sq_ns2"] >= 0, (what, h["sum_sq_ns2"])
    assert h["min_ns"] <= h["max_ns"], (what, h["min_ns"], h["max_ns"])
    assert abs(h["min_ns"] / 1e6 - stats["min"]) <= ROUND_MS, \
        "%s: min_ns %d but min %r ms" % (what, h["min_ns"], stats["min"])
    assert abs(h["max_ns"] / 1e6 - stats["max"]) <= ROUND_MS, \
        "%s: max_ns %d but max %r ms" % (what, h["max_ns"], stats["max"])
    mean_ms = h["sum_ns"] / total / 1e6
    assert abs(mean_ms - stats["mean"]) <= ROUND_MS + 1e-6 * mean_ms, \
        "%s: sum_ns / count = %.6f ms but mean %r" % (what, mean_ms, stats["mean"])


def check_bench_json(doc, what, loop, transport="tcp", mode="probe",
                     connections=None, threads=None, size=64, kt=False):
    """Schema 1 of docs/bench.md; returns doc.  kt: --kernel-timestamps,
    whose breakdown_ms check_breakdown judges; null without it."""
    keys = set(doc)
    assert keys == JSON_KEYS, "%s: keys missing %r, unexpected %r" % (
        what, sorted(JSON_KEYS - keys), sorted(keys - JSON_KEYS))
    if not kt:
        assert doc["breakdown_ms"] is None, "%s: breakdown_ms %r without " \
            "--kernel-timestamps, want null" % (what, doc["breakdown_ms"])
    assert doc["schema"] == 1 and is_int(doc["schema"]), (what, doc["schema"])
    assert isinstance(doc["tsecho_version"], str) and \
        re.match(r"\d+\.\d+", doc["tsecho_version"]), (what, doc["tsecho_version"])
    assert doc["kind"] == "bench", (what, doc["kind"])
    assert isinstance(doc["target"], str) and re.search(r":\d+$", doc["target"]), \
        (what, doc["target"])
    assert doc["transport"] == transport, "%s: transport %r, want %r" % (
        what, doc["transport"], transport)
    assert doc["mode"] == mode, "%s: mode %r, want %r" % (what, doc["mode"], mode)
    assert doc["loop"] == loop, "%s: loop %r, want %r" % (what, doc["loop"], loop)
    for k in ("connections", "threads", "size", "messages", "bytes", "errors",
              "timeouts", "lost"):
        assert is_int(doc[k]) and doc[k] >= 0, "%s: %s = %r" % (what, k, doc[k])
    assert doc["connections"] >= 1 and doc["threads"] >= 1, (what, doc)
    if connections is not None:
        assert doc["connections"] == connections, "%s: connections %r, want %d" % (
            what, doc["connections"], connections)
    if threads is not None:
        assert doc["threads"] == threads, "%s: threads %r, want %d" % (
            what, doc["threads"], threads)
    if size is not None:
        assert doc["size"] == size, "%s: size %r, want %d" % (what, doc["size"], size)
    for k in ("duration_s", "messages_per_s", "bytes_per_s"):
        assert is_num(doc[k]) and doc[k] >= 0, "%s: %s = %r" % (what, k, doc[k])

    if loop == "closed":
        for k in ("rate_target", "rate_met", "uncorrected_ms",
                  "uncorrected_histogram"):
            assert doc[k] is None, "%s: %s is %r in closed loop, want null" % (
                what, k, doc[k])
    else:
        assert is_num(doc["rate_target"]) and doc["rate_target"] > 0, \
            (what, doc["rate_target"])
        assert isinstance(doc["rate_met"], bool), "%s: rate_met %r" % (
            what, doc["rate_met"])

    if doc["messages"] > 0:
        check_stats(doc["latency_ms"], "%s: latency_ms" % what)
        check_hist(doc["histogram"], doc["latency_ms"], "%s: histogram" % what)
        if loop == "open":
            check_stats(doc["uncorrected_ms"], "%s: uncorrected_ms" % what)
            check_hist(doc["uncorrected_histogram"], doc["uncorrected_ms"],
                       "%s: uncorrected_histogram" % what)
            c, u = doc["latency_ms"], doc["uncorrected_ms"]
            assert u["count"] == c["count"], \
                "%s: %d corrected but %d uncorrected samples" % (
                    what, c["count"], u["count"])
            # Due time <= send time for every message, so the corrected
            # latency of each is at least its uncorrected one, and so is
            # every order statistic.
            for k in PCT_KEYS + ["min", "max"]:
                assert c[k] + ROUND_MS >= u[k], \
                    "%s: corrected %s %r below uncorrected %r" % (what, k, c[k], u[k])
        if mode == "probe":
            assert doc["bytes"] == doc["messages"] * doc["size"], \
                "%s: bytes %d for %d messages of %d" % (
                    what, doc["bytes"], doc["messages"], doc["size"])
        if doc["duration_s"] > 0:
            close_to(doc["messages_per_s"], doc["messages"] / doc["duration_s"],
                     0.10, "%s: messages_per_s vs messages / duration_s" % what)
            close_to(doc["bytes_per_s"], doc["bytes"] / doc["duration_s"],
                     0.10, "%s: bytes_per_s vs bytes / duration_s" % what)
    else:
        # No sample, no figures: null, as ping's rtt_ms (docs/ping.md), not
        # a min and max of 0.
        for k in ("latency_ms", "uncorrected_ms"):
            assert doc[k] is None, "%s: %s is %r with no messages, want null" % (
                what, k, doc[k])
        assert doc["messages_per_s"] == 0 and doc["bytes"] == 0, (what, doc)
    return doc


# ------------------------------------------------------------ text

def parse_text(out, what):
    """The documented lines of the text result, as dicts of figures."""
    lines = out.splitlines()
    found = {}
    for name, rx in (("header", HEADER_RE), ("duration", DURATION_RE),
                     ("errors", ERRORS_RE), ("latency", LATENCY_RE)):
        ms = [m for m in map(rx.match, lines) if m]
        assert len(ms) == 1, "%s: want one %s line (%s), found %d in:\n%s" % (
            what, name, rx.pattern, len(ms), out[-3000:])
        found[name] = ms[0].groups()
    order = [next(i for i, l in enumerate(lines) if rx.match(l))
             for rx in (HEADER_RE, DURATION_RE, ERRORS_RE, LATENCY_RE)]
    assert order == sorted(order), "%s: result lines out of order:\n%s" % (what, out)
    h = found["header"]
    res = {"target": h[0], "transport": h[1], "loop": h[2],
           "connections": int(h[3]), "threads": int(h[4]), "size": int(h[5])}
    d = found["duration"]
    res.update(duration_s=float(d[0]), messages=int(d[1]),
               messages_per_s=float(d[2]), mb_per_s=float(d[3]))
    e = found["errors"]
    res.update(errors=int(e[0]), timeouts=int(e[1]), lost=int(e[2]))
    lat = list(map(float, found["latency"]))
    res["latency"] = dict(zip(PCT_KEYS + ["max", "mean"], lat))
    ps = lat[:6]
    assert ps == sorted(ps), "%s: p50..max out of order: %r" % (what, ps)
    return res


# ------------------------------------------------------------ .hgrm

def parse_hgrm(path, what):
    """(rows, mean, max, total) of an HdrHistogram percentile distribution
    file; rows are (value, percentile, total_count, inverse)."""
    assert os.path.exists(path), "%s: %s was not written" % (what, path)
    with open(path) as f:
        text = f.read()
    lines = [l for l in text.splitlines() if l.strip()]
    heads = [i for i, l in enumerate(lines) if "Value" in l and "Percentile" in l]
    assert heads, "%s: no header line with Value and Percentile:\n%s" % (
        what, text[:1500])
    rows, footer = [], []
    for l in lines[heads[0] + 1:]:
        if l.startswith("#"):
            footer.append(l)
            continue
        assert not footer, "%s: data line after the footer: %r" % (what, l)
        cols = l.split()
        try:
            row = tuple(float(c) for c in cols)
        except ValueError:
            raise AssertionError("%s: non-numeric data line %r" % (what, l))
        # The line at percentile 1 has 1/(1-Percentile) = inf, which
        # HdrHistogram (Java) leaves out and HdrHistogram_c prints as inf.
        assert len(row) == 4 or (len(row) == 3 and row[1] == 1.0), \
            "%s: data line without 4 columns: %r" % (what, l)
        assert all(math.isfinite(x) for x in row[:3]), (what, l)
        rows.append(row)
    assert len(rows) >= 2, "%s: %d data lines:\n%s" % (what, len(rows), text[:1500])
    assert all(len(r) == 4 for r in rows[:-1]), \
        "%s: only the last data line may lack 1/(1-Percentile)" % what
    for r in rows[:-1]:
        inv = 1 / (1 - r[1]) if r[1] < 1 else math.inf
        assert abs(r[3] - inv) <= 0.01 * inv + 0.01, \
            "%s: 1/(1-Percentile) column %r for percentile %r" % (what, r[3], r[1])
    vals = [r[0] for r in rows]
    pcts = [r[1] for r in rows]
    counts = [r[2] for r in rows]
    assert vals == sorted(vals), "%s: values decrease: %r" % (what, vals)
    assert pcts == sorted(pcts), "%s: percentiles decrease: %r" % (what, pcts)
    assert counts == sorted(counts), "%s: total counts decrease" % what
    assert pcts[0] == 0.0 and pcts[-1] == 1.0, \
        "%s: percentiles run %r..%r, want 0..1" % (what, pcts[0], pcts[-1])
    mean_l = [l for l in footer if l.startswith("#[Mean")]
    max_l = [l for l in footer if l.startswith("#[Max")]
    assert len(mean_l) == 1 and len(max_l) == 1, \
        "%s: want footer lines #[Mean and #[Max, got %r" % (what, footer)
    m = re.match(r"#\[Mean\s*=\s*(%s)," % N, mean_l[0])
    x = re.match(r"#\[Max\s*=\s*(%s),\s*Total count\s*=\s*(\d+)\]" % N, max_l[0])
    assert m and x, "%s: footer %r" % (what, footer)
    return rows, float(m.group(1)), float(x.group(1)), int(x.group(2))


# ------------------------------------------------------------ server

def server_summary(srv):
    found = [m for m in map(SERVER_SUMMARY_RE.match, srv.lines()) if m]
    assert len(found) == 1, "want one server summary line, found %d; %s" % (
        len(found), srv.describe())
    g = found[0].groups()
    return dict(zip(("connections", "rejected", "messages", "bytes_in",
                     "bytes_out", "errors"), map(int, g[:6])))


def one_stderr_line(r, what, prefix="tsecho bench: "):
    lines = r.err_lines()
    assert len(lines) == 1 and lines[0].startswith(prefix), \
        "%s: want one stderr line starting %r; %s" % (what, prefix, r.describe())
    return lines[0]


# ------------------------------------------------------------ closed loop

def test_bench_closed_loop_json():
    with Server("-q") as srv:
        r = bench("-c", "8", "-T", "2", "-t", "1.5s", "-q", "--json",
                  target(srv.tcp_port))
        doc = bench_json(r, "closed loop --json")
        assert r.err == "", "stderr with -q --json: %s" % r.describe()
        check_bench_json(doc, "closed loop --json", "closed", connections=8,
                         threads=2, size=64)
        assert doc["target"] == target(srv.tcp_port), doc["target"]
        assert doc["messages"] > 0, "no messages: %s" % r.describe()
        assert doc["errors"] == 0 and doc["timeouts"] == 0 and doc["lost"] == 0, \
            "errors %r, timeouts %r, lost %r" % (doc["errors"], doc["timeouts"],
                                                 doc["lost"])
        # Nothing lost, nothing late: one latency sample per message.
        assert doc["latency_ms"]["count"] == doc["messages"], \
            "latency count %d, messages %d" % (doc["latency_ms"]["count"],
                                               doc["messages"])
        assert 1.3 <= doc["duration_s"] <= 2.5, \
            "-t 1.5s: duration_s %r" % doc["duration_s"]
        assert r.elapsed < 8.0, "-t 1.5s took %.1f s" % r.elapsed
        code = srv.stop()
        assert code == 0, "server exit %r; %s" % (code, srv.describe())
        sm = server_summary(srv)
        assert sm["messages"] >= doc["messages"], \
            "the server answered %d messages, bench counted %d" % (
                sm["messages"], doc["messages"])
        assert sm["connections"] >= 8, sm


def test_bench_closed_loop_text():
    with Server("-q") as srv:
        t = target(srv.tcp_port)
        r = bench("-c", "8", "-T", "2", "-t", "1.5s", "-q", t)
        assert r.code == 0, r.describe()
        assert not [l for l in r.err_lines() if l.startswith("progress")], \
            "progress lines with -q: %s" % r.describe()
        res = parse_text(r.out, "closed loop text")
        assert res["target"] == t, "header target %r, want %r" % (res["target"], t)
        assert (res["transport"], res["loop"], res["connections"],
                res["threads"], res["size"]) == ("tcp", "closed", 8, 2, 64), \
            "header %r; %s" % (res, r.describe())
        assert "closed loop, 8 connections" in r.out, r.describe()
        assert res["messages"] > 0, r.describe()
        assert (res["errors"], res["timeouts"], res["lost"]) == (0, 0, 0), res
        close_to(res["messages_per_s"], res["messages"] / res["duration_s"], 0.10,
                 "msg/s vs messages / duration")
        mb = res["messages"] * 64 / res["duration_s"] / 1e6
        assert abs(res["mb_per_s"] - mb) <= 0.10 * mb + 0.01, \
            "MB/s each way %r, want %.3f (64-byte messages)" % (res["mb_per_s"], mb)
        assert 1.3 <= res["duration_s"] <= 2.5, res
        assert not UNCORRECTED_RE.search(r.out), \
            "closed loop printed an uncorrected figure: %s" % r.describe()


def test_bench_load_engines():
    """--engine runs the workers on each event loop the build has; the
    load line says which, with the workers' own CPU; the JSON agrees."""
    with Server("-q") as srv:
        t = target(srv.tcp_port)
        engines = ["epoll", "poll", "select"]
        if bench("--engine", "io_uring", "-n", "10", "-c", "1", "-q", t).code == 0:
            engines.append("io_uring")
        for engine in engines:
            r = bench("--engine", engine, "-c", "4", "-T", "2", "-t", "500ms", "-q", t)
            assert r.code == 0, "%s: %s" % (engine, r.describe())
            res = parse_text(r.out, engine)
            assert res["messages"] > 0 and res["errors"] == 0, (engine, res)
            m = [m for m in map(LOAD_RE.match, r.out.splitlines()) if m]
            assert len(m) == 1, "%s: no load line in:\n%s" % (engine, r.out)
            name, cpu, per, busy, threads, _ = m[0].groups()
            assert name == engine and int(threads) == 2, m[0].group(0)
            assert float(cpu) > 0 and float(per) > 0, m[0].group(0)
            assert 0 < int(busy) <= 100, m[0].group(0)
        r = bench("--engine", "select", "-c", "2", "-t", "500ms", "-q", "--json", t)
        doc = bench_json(r, "--engine select --json")
        assert doc["engine"] == "select", doc["engine"]
        assert doc["client_cpu_s"] > 0 and 0 < doc["client_busy"] <= 1.05, doc
        sent = doc["messages"] + doc["timeouts"]
        assert abs(doc["client_cpu_us_per_message"] - doc["client_cpu_s"] * 1e6 /
                   max(sent, 1)) <= 0.05 * doc["client_cpu_us_per_message"] + 0.01, doc
        assert doc["client_saturated"] == (doc["client_busy"] >= 0.9), doc
    r = bench("--engine", "kqueue", "-t", "1s")
    assert r.code == 2 and "invalid engine 'kqueue'" in r.err, r.describe()


def test_bench_busy_poll_spins():
    """--busy-poll: one worker spins on its loop, so its CPU is about all of
    the elapsed time, and that is not reported as saturation."""
    with Server("-q") as srv:
        r = bench("--busy-poll", "-c", "1", "-T", "1", "-t", "1s", "-q", "--json",
                  target(srv.tcp_port))
        doc = bench_json(r, "--busy-poll")
        assert doc["messages"] > 0 and doc["errors"] == 0, doc
        assert doc["client_busy"] > 0.8, "a spinning worker busy only %r" % doc["client_busy"]
        assert doc["client_saturated"] is False, doc


def test_bench_udp():
    with Server("-q") as srv:
        r = bench("--udp", "-c", "4", "-t", "1s", "-q", "--json",
                  target(srv.udp_port))
        doc = bench_json(r, "--udp")
        check_bench_json(doc, "--udp", "closed", transport="udp", connections=4)
        assert doc["messages"] > 0, r.describe()
        assert r.elapsed < 8.0, "-t 1s took %.1f s" % r.elapsed
        srv.stop()
        assert server_summary(srv)["messages"] >= doc["messages"]


def test_bench_count():
    with Server("-q") as srv:
        r = bench("-n", "500", "-c", "5", "-q", "--json", target(srv.tcp_port))
        doc = bench_json(r, "-n 500")
        check_bench_json(doc, "-n 500", "closed", connections=5)
        assert doc["messages"] == 500, "-n 500: %d messages" % doc["messages"]
        assert doc["latency_ms"]["count"] == 500, doc["latency_ms"]
        assert doc["errors"] == doc["timeouts"] == doc["lost"] == 0, doc
        # The default duration is 10 s; 500 ping-pongs on loopback take far
        # less.
        assert r.elapsed < 5.0, "-n 500 took %.1f s" % r.elapsed
        assert doc["duration_s"] < 5.0, doc["duration_s"]


def test_bench_builtin_server():
    r = bench("-c", "2", "-t", "1s", "-q", "--json")
    doc = bench_json(r, "no HOST")
    check_bench_json(doc, "no HOST", "closed", connections=2)
    assert doc["target"].startswith("127.0.0.1:"), doc["target"]
    assert doc["messages"] > 0, r.describe()


# ------------------------------------------------------------ open loop

def test_bench_open_loop():
    with Server("-q") as srv:
        r = bench("--rate", "2000", "-c", "4", "-t", "2s", "--json",
                  target(srv.tcp_port))
        doc = bench_json(r, "--rate 2000")
        assert r.err == "", "stderr with --json: %s" % r.describe()
        check_bench_json(doc, "--rate 2000", "open", connections=4)
        assert doc["rate_target"] == 2000, doc["rate_target"]
        assert 3400 <= doc["messages"] <= 4600, \
            "--rate 2000 -t 2s: %d messages, want 4000 +/- 15%%" % doc["messages"]
        assert 1700 <= doc["messages_per_s"] <= 2300, doc["messages_per_s"]
        assert doc["rate_met"] is True, "rate_met %r at %r msg/s" % (
            doc["rate_met"], doc["messages_per_s"])
        assert doc["uncorrected_ms"] is not None, doc
        assert doc["errors"] == 0, doc

        r = bench("--rate", "2000", "-c", "4", "-t", "1s", "-q",
                  target(srv.tcp_port))
        assert r.code == 0, r.describe()
        res = parse_text(r.out, "--rate 2000 (text)")
        assert res["loop"] == "open", res
        assert UNCORRECTED_RE.search(r.out), \
            "open loop text without 'uncorrected p50': %s" % r.describe()
        assert [l for l in r.out.splitlines()
                if "rate" in l and "2000" in l and not HEADER_RE.match(l)], \
            "no target rate line naming 2000: %s" % r.describe()
        assert "target rate not met" not in r.out, r.describe()


def test_bench_rate_not_met():
    with Server("-q") as srv:
        args = ["--rate", "100000000", "-c", "1", "-t", "1s", target(srv.tcp_port)]
        r = bench(*args, "-q")
        # A rate not met is a fault: exit 3 (docs/bench.md).
        assert r.code == 3, r.describe()
        assert "target rate not met" in r.out, \
            "10^8 msg/s on one connection: %s" % r.describe()
        r = bench(*args, "--json")
        doc = bench_json(r, "--rate 1e8 --json", code=3)
        check_bench_json(doc, "--rate 1e8 --json", "open", connections=1)
        assert doc["rate_met"] is False, "rate_met %r at %r msg/s" % (
            doc["rate_met"], doc["messages_per_s"])
        assert doc["rate_target"] == 100000000, doc["rate_target"]
        assert doc["messages"] > 0, doc


def test_bench_coordinated_omission():
    """A 1 s stall of the server at 1000 msg/s: the corrected figures show it
    in full (docs/bench.md, "Closed and open loop")."""
    with Server("-q") as srv:
        with Process([require_binary(), "bench", "--rate", "1000", "-c", "4",
                      "-t", "4s", "--json", target(srv.tcp_port)]) as p:
            time.sleep(1.5)
            assert p.alive(), "bench ended before the stall; %s" % p.describe()
            srv.send_signal(signal.SIGSTOP)
            try:
                time.sleep(1.0)
            finally:
                srv.send_signal(signal.SIGCONT)
            code = p.wait_exit(12.0)
            assert code is not None, "bench still running 12 s later; %s" % (
                p.describe())
            assert code == 0, p.describe()
            no_sanitizer_report(p.stderr_lines(), "stalled server")
            doc = parse_json("\n".join(p.lines()), "stalled server")
        check_bench_json(doc, "stalled server", "open", connections=4)
        c, u = doc["latency_ms"], doc["uncorrected_ms"]
        what = "corrected %r\nuncorrected %r" % (c, u)
        assert 3000 <= doc["messages"] <= 5000, \
            "%d messages at 1000/s for 4 s" % doc["messages"]
        # ~1000 of ~4000 messages were due during the stall and waited
        # 0..1000 ms: the top quarter of the distribution is the stall.
        assert c["max"] >= 800, "corrected max below 800 ms:\n%s" % what
        assert c["p99"] >= 300, "corrected p99 below 300 ms:\n%s" % what
        # Messages written into a stalled TCP connection are still sent on
        # time, so the uncorrected figure may show the stall as well; what
        # must hold is that it never exceeds the corrected one.
        for k in ("p90", "p99", "max"):
            assert c[k] + ROUND_MS >= u[k], \
                "uncorrected %s above corrected:\n%s" % (k, what)


def test_bench_open_loop_outstanding():
    """Open loop (docs/bench.md): over TCP a connection has one message
    outstanding at a time (as in wrk2), so against a peer that reads
    everything and never answers, each of the 4 connections sends exactly
    one message; over UDP datagrams are independent and all ~1000 due in
    1 s go out whatever the replies do."""
    with TcpPeer("mute") as peer:
        r = bench("--echo", "--rate", "1000", "-c", "4", "-t", "1s", "-W", "0.5s",
                  "-q", "--json", target(peer.port))
        assert r.code == 1, "no reply ever came: want exit 1; %s" % r.describe()
        time.sleep(0.2)                 # let the peer read what is in flight
        assert peer.bytes_in == 4 * 64, \
            "tcp: a silent peer received %d bytes (%d messages of 64); want one " \
            "message per connection (4); %s" % (peer.bytes_in, peer.bytes_in // 64,
                                               r.describe())
        doc = json.loads(r.out)
        assert doc["rate_met"] is False, "4 messages of 1000 due: %r" % doc["rate_met"]
    with UdpPeer("drop") as peer:
        r = bench("--echo", "--udp", "--rate", "1000", "-c", "4", "-t", "1s",
                  "-W", "0.5s", "-q", "--json", target(peer.port))
        assert r.code == 1, "no reply ever came: want exit 1; %s" % r.describe()
        time.sleep(0.2)
        assert peer.datagrams >= 800, \
            "udp: a silent peer received %d datagrams in 1 s at --rate 1000; " \
            "%s" % (peer.datagrams, r.describe())


def test_bench_warmup():
    with Server("-q") as srv:
        r = bench("--warmup", "0.5s", "-t", "1s", "-c", "4", "-q", "--json",
                  target(srv.tcp_port))
        doc = bench_json(r, "--warmup 0.5s -t 1s")
        check_bench_json(doc, "--warmup", "closed", connections=4)
        assert 0.9 <= doc["duration_s"] <= 1.2, \
            "--warmup 0.5s -t 1s: duration_s %r, want ~1.0 (warmup left out)" % (
                doc["duration_s"])
        assert r.elapsed >= 1.4, "--warmup 0.5s -t 1s ended after %.2f s" % (
            r.elapsed)
        assert r.elapsed < 8.0, r.elapsed
        assert doc["messages"] > 0, doc
        srv.stop()
        served = server_summary(srv)["messages"]
        # The warmup's messages were answered but not counted: a third of
        # what the server answered (0.5 s of 1.5 s), give or take.
        assert doc["messages"] <= 0.85 * served, \
            "server answered %d, bench counted %d: the warmup counted?" % (
                served, doc["messages"])
        assert doc["latency_ms"]["count"] == doc["messages"], doc["latency_ms"]


# ------------------------------------------------------------ Ctrl+C, .hgrm

def test_bench_sigint_json_and_hgrm():
    """Ctrl+C (SIGINT, and SIGTERM alike) ends the run early; the result
    covers what was measured, and --json and --hgrm are still written."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        name = signal.Signals(sig).name
        with Server("-q") as srv, TempDir() as tmp:
            hgrm = tmp.file("lat.hgrm")
            with Process([require_binary(), "bench", "-c", "4", "-t", "30s",
                          "--json", "--hgrm", hgrm, target(srv.tcp_port)]) as p:
                time.sleep(1.0)
                assert p.alive(), "bench ended early; %s" % p.describe()
                t0 = time.monotonic()
                p.send_signal(sig)
                code = p.wait_exit(5.0)
                assert code is not None, "bench still running 5 s after %s; %s" % (
                    name, p.describe())
                assert code == 0, "exit %r after %s; %s" % (code, name, p.describe())
                assert time.monotonic() - t0 < 4.0, time.monotonic() - t0
                no_sanitizer_report(p.stderr_lines(), name)
                what = "%s --json" % name
                doc = parse_json("\n".join(p.lines()), what)
            check_bench_json(doc, what, "closed", connections=4)
            assert doc["messages"] > 0, doc
            assert 0.5 <= doc["duration_s"] < 5.0, \
                "%s after ~1 s: duration_s %r" % (name, doc["duration_s"])

            rows, mean, mx, total = parse_hgrm(hgrm, "%s --hgrm" % name)
            lat = doc["latency_ms"]
            assert total == lat["count"], "hgrm total count %d, JSON count %d" % (
                total, lat["count"])
            assert rows[-1][2] == lat["count"], \
                "last TotalCount %r, JSON count %d" % (rows[-1][2], lat["count"])
            # Milliseconds, as the JSON: the same max and mean (rounding and
            # the histogram's 0.1% apart).
            assert abs(mx - lat["max"]) <= 0.002 * lat["max"] + ROUND_MS, \
                "hgrm max %r ms, JSON max %r ms" % (mx, lat["max"])
            assert abs(mean - lat["mean"]) <= 0.002 * lat["mean"] + ROUND_MS, \
                "hgrm mean %r ms, JSON mean %r ms" % (mean, lat["mean"])
            assert rows[-1][0] <= lat["max"] * 1.002 + ROUND_MS, (rows[-1], lat)
            assert rows[0][0] >= lat["min"] - ROUND_MS, (rows[0], lat)


# ------------------------------------------------------------ merge

def test_merge():
    with Server("-q") as srv, TempDir() as tmp:
        t = target(srv.tcp_port)
        a_path, b_path = tmp.file("a.json"), tmp.file("b.json")
        docs = []
        for path, conns in ((a_path, "2"), (b_path, "5")):
            r = bench("-c", conns, "-t", "1s", "-q", "--json", t)
            docs.append(check_bench_json(bench_json(r, "bench -c %s" % conns),
                                         "bench -c %s" % conns, "closed",
                                         connections=int(conns)))
            with open(path, "w") as f:
                f.write(r.out)
        a, b = docs

        r = merge(a_path, b_path, "--json")
        m = bench_json(r, "merge A B --json")
        check_bench_json(m, "merge A B --json", "closed", connections=None)
        for k in ("messages", "bytes", "errors", "timeouts", "lost"):
            assert m[k] == a[k] + b[k], "merged %s %r, want %r + %r" % (
                k, m[k], a[k], b[k])
        for k in ("messages_per_s", "bytes_per_s"):
            close_to(m[k], a[k] + b[k], 0.01, "merged %s (rates add)" % k)
        assert abs(m["duration_s"] - max(a["duration_s"], b["duration_s"])) < 1e-3, \
            "merged duration %r, want the longest of %r, %r" % (
                m["duration_s"], a["duration_s"], b["duration_s"])
        want = hist_counts(a["histogram"])
        for k, v in hist_counts(b["histogram"]).items():
            want[k] = want.get(k, 0) + v
        assert hist_counts(m["histogram"]) == want, \
            "merged buckets are not the bucket-wise sum of A's and B's"
        ml, al, bl = m["latency_ms"], a["latency_ms"], b["latency_ms"]
        assert ml["count"] == al["count"] + bl["count"], (ml, al, bl)
        assert ml["max"] == max(al["max"], bl["max"]), (ml, al, bl)
        assert ml["min"] == min(al["min"], bl["min"]), (ml, al, bl)
        mh, ah, bh = m["histogram"], a["histogram"], b["histogram"]
        assert mh["min_ns"] == min(ah["min_ns"], bh["min_ns"]), (mh, ah, bh)
        assert mh["max_ns"] == max(ah["max_ns"], bh["max_ns"]), (mh, ah, bh)
        assert mh["sum_ns"] == ah["sum_ns"] + bh["sum_ns"], (mh, ah, bh)
        for k in PCT_KEYS:
            lo, hi = min(al[k], bl[k]), max(al[k], bl[k])
            assert lo * 0.998 - ROUND_MS <= ml[k] <= hi * 1.002 + ROUND_MS, \
                "merged %s %r outside A's %r and B's %r" % (k, ml[k], al[k], bl[k])

        # Text: one result with the summed messages.
        r = merge(a_path, b_path)
        assert r.code == 0, r.describe()
        ds = [DURATION_RE.match(l) for l in r.out.splitlines()]
        ds = [d for d in ds if d]
        assert len(ds) == 1 and int(ds[0].group(2)) == a["messages"] + b["messages"], \
            "merge text: want one duration line with %d messages; %s" % (
                a["messages"] + b["messages"], r.describe())
        assert [l for l in r.out.splitlines() if LATENCY_RE.match(l)], r.describe()

        # One file: the same histogram, so the same figures.
        r = merge(a_path, "--json")
        one = bench_json(r, "merge A --json")
        for k in PCT_KEYS + ["count", "min", "max"]:
            assert one["latency_ms"][k] == al[k], \
                "merge of A alone: %s %r, A has %r" % (k, one["latency_ms"][k], al[k])
        assert hist_counts(one["histogram"]) == hist_counts(ah), \
            "merge of A alone changed its histogram"
        assert one["messages"] == a["messages"], (one["messages"], a["messages"])

        # Not a bench result: exit 2 and one line naming the file.
        bad = tmp.file("notjson.txt")
        with open(bad, "w") as f:
            f.write("this is not JSON\n")
        r = merge(a_path, bad)
        assert r.code == 2, "merge with a text file: %s" % r.describe()
        line = one_stderr_line(r, "merge notjson.txt", prefix="tsecho merge: ")
        assert "notjson.txt" in line, "the error does not name the file: %r" % line

        pr = run_tsecho("ping", "-c", "2", "-i", "0.05", "--json", t, timeout=10)
        assert pr.code == 0, pr.describe()
        ping_path = tmp.file("ping.json")
        with open(ping_path, "w") as f:
            f.write(pr.out)
        r = merge(ping_path)
        assert r.code == 2, "merge of a ping result: %s" % r.describe()
        line = one_stderr_line(r, "merge ping.json", prefix="tsecho merge: ")
        assert "ping.json" in line, "the error does not name the file: %r" % line

        # Files must agree on the schema.
        other = dict(b, schema=2)
        s2_path = tmp.file("schema2.json")
        with open(s2_path, "w") as f:
            json.dump(other, f)
        r = merge(a_path, s2_path)
        assert r.code == 2, "merge of schema 1 and schema 2: %s" % r.describe()
        one_stderr_line(r, "merge schema 2", prefix="tsecho merge: ")


# ------------------------------------------------------------ --echo

def test_bench_echo():
    with TcpPeer("echo") as peer:
        r = bench("--echo", "-c", "2", "-t", "1s", "-q", "--json",
                  target(peer.port))
        doc = bench_json(r, "--echo")
        check_bench_json(doc, "--echo", "closed", mode="echo", connections=2)
        assert doc["messages"] > 0, r.describe()
        assert peer.bytes_in >= doc["messages"] * doc["size"], \
            "the echo peer read %d bytes for %d messages of %d" % (
                peer.bytes_in, doc["messages"], doc["size"])
    with UdpPeer("echo") as peer:
        # With --echo sizes below 48 are allowed.
        r = bench("--echo", "--udp", "-s", "10", "-c", "2", "-t", "1s", "-q",
                  "--json", target(peer.port))
        doc = bench_json(r, "--echo --udp -s 10")
        check_bench_json(doc, "--echo --udp", "closed", transport="udp",
                         mode="echo", connections=2, size=10)
        assert doc["messages"] > 0, r.describe()
        assert peer.datagrams >= doc["messages"], (peer.datagrams, doc["messages"])


# ------------------------------------------------------------ exit codes

def test_bench_no_replies_exit_1():
    with UdpPeer("drop") as peer:
        r = bench("--udp", "-c", "2", "-t", "1s", "-W", "0.3s", "-q", "--json",
                  target(peer.port))
        assert r.code == 1, "no reply at all: want exit 1; %s" % r.describe()
        doc = parse_json(r.out, "no replies")
        assert doc.get("messages") == 0, doc
        assert doc.get("timeouts", 0) + doc.get("lost", 0) > 0, \
            "nothing answered, yet no timeouts or lost: %r" % doc
        assert peer.datagrams > 0, "the peer got nothing"
        check_bench_json(doc, "no replies", "closed", transport="udp",
                         connections=2)

        r = bench("--udp", "--rate", "200", "-c", "2", "-t", "0.5s", "-W", "0.3s",
                  "-q", "--json", target(peer.port))
        doc = bench_json(r, "open loop, no replies", code=1)
        check_bench_json(doc, "open loop, no replies", "open", transport="udp",
                         connections=2)
        assert doc["messages"] == 0, doc


def test_bench_errors():
    closed = free_port()
    r = bench("-c", "2", "-t", "1s", "-q", target(closed))
    assert r.code == 2, "every connection refused: %s" % r.describe()
    line = one_stderr_line(r, "closed port")
    assert "refused" in line, line
    assert r.elapsed < 5.0, "refusal took %.1f s" % r.elapsed

    r = bench("-c", "2", "-t", "1s", "-q", "no-such-host.invalid", timeout=30)
    assert r.code == 2, "unknown host: %s" % r.describe()
    one_stderr_line(r, "unknown host")

    with Server("-q") as srv:
        t = target(srv.tcp_port)
        for args in (("-c", "0", "-t", "1s"), ("--rate", "0", "-t", "1s"),
                     ("-t", "1s", "-n", "5"), ("-c", "1000001", "-t", "1s"),
                     ("-s", "47", "-t", "1s"), ("-t", "soon"), ("--bogus",),
                     ("-c",)):
            r = bench(*(args + ("-q", t)), timeout=10)
            assert r.code == 2, "bench %s: want exit 2; %s" % (" ".join(args),
                                                              r.describe())
            assert r.err_lines() and r.err_lines()[0].startswith("tsecho bench: "), \
                "bench %s: no 'tsecho bench: ' message; %s" % (" ".join(args),
                                                              r.describe())
            assert r.elapsed < 5.0, (args, r.elapsed)

    r = bench("--help", timeout=5)
    assert r.code == 0 and "usage" in r.out.lower(), r.describe()
    for opt in ("--connections", "--threads", "--duration", "--count", "--size",
                "--warmup", "--rate", "--timeout", "--udp", "--echo", "--quiet",
                "--json", "--hgrm"):
        assert opt in r.out, "bench --help does not mention %s" % opt


# ------------------------------------------------------------ progress

def _run_collecting_stderr(argv, limit_s):
    """Runs argv to its end; returns (exit code, stdout lines, [(seconds
    since start, stderr line)], seconds until exit)."""
    seen = []
    with Process(argv) as p:
        t0 = time.monotonic()
        while True:
            now = time.monotonic() - t0
            lines = p.stderr_lines()
            for l in lines[len(seen):]:
                seen.append((now, l))
            if not p.alive():
                break
            assert now < limit_s, "still running after %.0f s; %s" % (
                limit_s, p.describe())
            time.sleep(0.05)
        ended = time.monotonic() - t0
        code = p.wait_exit(5.0)
        for l in p.stderr_lines()[len(seen):]:
            seen.append((ended, l))
        no_sanitizer_report(p.stderr_lines(), " ".join(argv[1:]))
        return code, p.lines(), seen, ended


def test_bench_progress_lines():
    with Server("-q") as srv:
        t = target(srv.tcp_port)
        code, out, err, ended = _run_collecting_stderr(
            [require_binary(), "bench", "-c", "4", "-t", "2.5s", t], 15.0)
        assert code == 0, "exit %r; stderr %r" % (code, err)
        prog = [(at, PROGRESS_RE.match(l)) for at, l in err
                if l.startswith("progress")]
        bad = [l for at, l in err if l.startswith("progress") and
               not PROGRESS_RE.match(l)]
        assert not bad, "progress lines of the wrong shape: %r" % bad
        assert 2 <= len(prog) <= 4, \
            "want about one progress line a second over 2.5 s, got %d: %r" % (
                len(prog), err)
        secs = [int(m.group(1)) for _, m in prog]
        assert secs == sorted(set(secs)), "progress seconds %r" % secs
        for _, m in prog:
            rate, p50, p99 = float(m.group(2)), float(m.group(3)), float(m.group(4))
            assert rate > 0 and p50 <= p99, m.group(0)
        # Printed during the run, not all at its end.
        assert prog[0][0] < ended - 0.5, \
            "first progress line at %.2f s, run ended at %.2f s" % (prog[0][0], ended)
        parse_text("\n".join(out), "bench with progress")

        for quiet in (["-q"], ["--json"]):
            code, out, err, ended = _run_collecting_stderr(
                [require_binary(), "bench", "-c", "4", "-t", "1.5s"] + quiet + [t],
                15.0)
            assert code == 0, "exit %r; stderr %r" % (code, err)
            assert not [l for _, l in err if "progress" in l], \
                "progress lines with %s: %r" % (quiet[0], err)


# ------------------------------------------------------------ faults

def test_bench_server_killed_mid_run():
    """The server SIGKILLed a second in: bench stops, says the server went
    away and when, counts the rate over the time it was there, and exits
    3, over TCP and UDP."""
    for extra in ((), ("--udp",)):
        what = "bench %s, server killed" % " ".join(extra)
        # Not a `with`: a server killed does not exit 0, as a stopped one must.
        srv = Server("--udp-rate", "0", "--udp-budget", "0")
        try:
            proc = Process([require_binary(), "bench", "-t", "5s", "-c", "4", "-q",
                            "--json", *extra, target(srv.tcp_port)])
            time.sleep(1.0)
            os.kill(srv.pid, signal.SIGKILL)
            code = proc.wait_exit(15)
        finally:
            srv.stop()
        assert code == 3, "%s: exit %r; %s" % (what, code, proc.describe())
        doc = parse_json("\n".join(proc.lines()), what)
        assert doc["server_gone_s"] is not None and 0.5 < doc["server_gone_s"] < 2.5, \
            (what, doc["server_gone_s"])
        assert doc["ended_early"] == 4 and doc["fault"] == "the server went away", (what, doc)
        assert doc["duration_s"] < 2.5, (what, doc["duration_s"])
        close_to(doc["messages_per_s"], doc["messages"] / doc["duration_s"], 0.01, what)
        kinds = doc["error_kinds"]
        assert set(kinds) == ERROR_KINDS and sum(kinds.values()) == doc["errors"], kinds
        gone = kinds["unreachable"] if extra else kinds["reset"] + kinds["closed"]
        assert gone == 4, (what, kinds)


def test_bench_fewer_connections_than_asked():
    """Out of descriptors: bench says how many came up and why, and exits
    3 unless --allow-fewer."""
    with Server() as srv:
        def limited():
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        for extra, want in (((), 3), (("--allow-fewer",), 0)):
            r = run_tsecho("bench", "-t", "0.5s", "-c", "200", "-q", *extra,
                           target(srv.tcp_port), preexec_fn=limited, timeout=20)
            assert r.code == want, r.describe()
            m = re.search(r"^connections: (\d+) of 200 came up \(Too many open files\)",
                          r.out, re.M)
            assert m and 0 < int(m.group(1)) < 200, r.describe()
            assert "errors by kind: out of resources %d" % (200 - int(m.group(1))) \
                in r.out, r.describe()


def test_bench_error_kinds_say_why():
    """-s 1m against a server with --max-message 64k: every error is the
    server's error frame, and the result says so."""
    with Server() as srv:
        r = bench("-n", "4", "-c", "2", "-s", "1m", "-q", target(srv.tcp_port))
        assert r.code == 1, r.describe()
        assert "errors by kind: error frame: frame too big 2" in r.out, r.describe()
        r = bench("-n", "4", "-c", "2", "-s", "1m", "-q", "--json", target(srv.tcp_port))
        doc = bench_json(r, "-s 1m --json", code=1)
        assert doc["error_kinds"]["too_big"] == 2 and doc["errors"] == 2, doc["error_kinds"]


def test_bench_rate_above_what_connections_carry():
    """--rate 1e9 (the documented maximum): the load generator keeps
    reading replies, the run ends on time with thousands of messages a
    second, says the rate was not met and what it achieved, and exits 3."""
    with Server() as srv:
        r = bench("--rate", "1e9", "-t", "2s", "-c", "4", "-q", "--json",
                  target(srv.tcp_port), timeout=30)
        doc = bench_json(r, "--rate 1e9", code=3)
        assert doc["rate_met"] is False and doc["fault"] == "target rate not met", doc
        # Replies keep being read: thousands a second (the old pacing fell
        # to about 40).  Their latency counts from when each was due, so
        # those due early and sent late may pass -W: timeouts are no
        # measure here.
        assert doc["messages_per_s"] > 1000, doc["messages_per_s"]
        assert r.elapsed < 6, r.describe()
        r = bench("--rate", "1e9", "-t", "1s", "-c", "4", "-q", target(srv.tcp_port))
        assert r.code == 3 and "target rate not met" in r.out, r.describe()
        assert re.search(r"sent %s msg/s" % N, r.out), r.out


def test_bench_interrupted_says_so():
    """Ctrl+C: text, JSON and the HTML page say the run was interrupted,
    after how long, of how long asked."""
    with Server() as srv, TempDir() as tmp:
        page = tmp.file("int.html")
        for fmt in ((), ("--json",)):
            proc = Process([require_binary(), "bench", "-t", "10s", "-c", "2", "-q",
                            "--report", page, *fmt, target(srv.tcp_port)])
            time.sleep(1.0)
            os.kill(proc.proc.pid, signal.SIGINT)
            code = proc.wait_exit(10)
            out = "\n".join(proc.lines())
            assert code == 0, proc.describe()
            if fmt:
                doc = parse_json(out, "interrupted --json")
                assert doc["interrupted"] is True and 0.5 < doc["elapsed_s"] < 5, doc
                assert doc["fault"] == "interrupted", doc
            else:
                assert re.search(r"^interrupted after %s s of 10\.000 s asked$" % N,
                                 out, re.M), out
            with open(page, encoding="utf-8") as f:
                assert "Interrupted after" in f.read(), "the page does not say so"


def test_bench_hgrm_unwritable_found_first():
    """--hgrm to a path that cannot be written fails before the run, as
    --report does."""
    with Server() as srv:
        r = bench("-t", "5s", "--hgrm", "/nonexistent/dir/x.hgrm", target(srv.tcp_port))
        assert r.code == 2 and r.elapsed < 2, r.describe()
        assert "cannot write /nonexistent/dir/x.hgrm" in r.err, r.describe()


def test_merge_refuses_different_kinds_of_run():
    """An open-loop and a closed-loop result (or other sizes) do not add
    up: merge names the field that differs and exits 2."""
    with Server() as srv, TempDir() as tmp:
        runs = {"closed": (), "open": ("--rate", "500"), "big": ("-s", "128")}
        paths = {}
        for name, extra in runs.items():
            r = bench("-t", "0.3s", "-c", "2", "-q", "--json", *extra, target(srv.tcp_port))
            assert r.code == 0, r.describe()
            paths[name] = tmp.file(name + ".json")
            with open(paths[name], "w") as f:
                f.write(r.out)
        for other, field in (("open", "loop"), ("big", "size")):
            r = merge(paths["closed"], paths[other])
            assert r.code == 2, r.describe()
            assert "not the same kind of run" in r.err and "%s is" % field in r.err, \
                r.describe()
        r = merge(paths["closed"], paths["closed"])
        assert r.code == 0, r.describe()


def test_bench_loads_the_seed_server_with_text():
    """The tutorial's Python server speaks only text, and binary frames
    killed it: bench asks what it speaks, as ping does, loads it with text
    lines, and the server is alive and well afterwards."""
    from harness import SeedServer
    with SeedServer() as seed:
        r = bench("-t", "1s", "-c", "2", "-q", "--json", target(seed.port), timeout=30)
        doc = bench_json(r, "bench against the seed server")
        assert doc["mode"] == "text" and doc["messages"] > 0 and doc["errors"] == 0, doc
        assert "speaks only the text protocol" in r.err, r.describe()
        seed.check_serves()


def test_bench_text_against_tsecho():
    """--text works against tsecho's server too, and is refused where it
    cannot mean anything."""
    with Server() as srv:
        r = bench("--text", "-n", "200", "-c", "2", "-q", "--json", target(srv.tcp_port))
        doc = bench_json(r, "--text")
        assert doc["mode"] == "text" and doc["messages"] == 200, doc
    for args, says in ((("--text", "--udp"), "--text is TCP"),
                       (("--text", "-s", "16"), "at least 32 bytes")):
        r = bench(*args, LO)
        assert r.code == 2 and says in r.err, r.describe()


# ------------------------------------------------------------ kernel timestamps

PARTS = ["client_send", "network_out", "server_wakeup", "server_processing",
         "server_send", "network_back", "client_wakeup"]
PART_NAMES = ["client send path", "network out", "server wake-up",
              "server processing", "server send path", "network back",
              "client wake-up"]
# The parts the server's kernel times are needed for (t2 and t3, the
# processing, come with every reply).
SERVER_KT_PARTS = {"network_out", "server_wakeup", "server_send", "network_back"}
BREAKDOWN_KEYS = set(PARTS) | {"clock", "network_bound", "refused", "server_rx", "server_tx",
                               "probes", "complete", "remainder", "note",
                               "sample_every"}
PART_STATS = {"min", "mean", "p50", "p99", "max", "count"}
KT_HEADER_RE = re.compile(r"^kernel timestamps \(software; ([^)]*)\): sampled every "
                          r"(\d+) messages: (\d+) samples, (\d+) with every part$")
KT_PART_RE = re.compile(r"^  (%s)\s+(unavail\.|-?%s)\s" % ("|".join(PART_NAMES), N))


def kt_server(*extra):
    """A server that fills in its kernel times, with no UDP limits (a
    dropped reply would stall a closed-loop UDP connection)."""
    return Server("-q", "--engine", "epoll", "--udp-rate", "0", "--udp-budget", "0",
                  *extra)


def check_breakdown(doc, what, every, server_kt=True):
    """breakdown_ms of a loopback run sampling one message in every."""
    b = doc["breakdown_ms"]
    assert isinstance(b, dict) and set(b) == BREAKDOWN_KEYS, \
        "%s: breakdown_ms keys missing %r, unexpected %r in %r" % (
            what, sorted(BREAKDOWN_KEYS - set(b or {})),
            sorted(set(b or {}) - BREAKDOWN_KEYS), b)
    assert b["sample_every"] == every, (what, b["sample_every"])
    assert b["clock"] == "one host", "%s: loopback, clock %r" % (what, b["clock"])
    assert b["network_bound"] is None, (what, b["network_bound"])
    assert b["refused"] is None, "%s: refused %r" % (what, b["refused"])
    assert b["server_rx"] is server_kt and b["server_tx"] is server_kt, (what, b)
    assert isinstance(b["note"], str) and b["note"], (what, b["note"])
    # One in `every` of each connection's messages, its phase its own:
    # at most one more per connection than messages / every.
    bound = doc["messages"] / every + doc["connections_opened"]
    assert 0 < b["probes"] <= bound, "%s: %d samples of %d messages, want 1..%d" % (
        what, b["probes"], doc["messages"], bound)
    assert 0 <= b["complete"] <= b["probes"], (what, b)
    for k in PARTS:
        part = b[k]
        if not server_kt and k in SERVER_KT_PARTS:
            assert part is None, "%s: %s is %r without the server's kernel times" % (
                what, k, part)
            continue
        assert isinstance(part, dict) and set(part) == PART_STATS, "%s: %s = %r" % (
            what, k, part)
        assert is_int(part["count"]) and 0 < part["count"] <= b["probes"], (what, k, part)
        # One clock: no part can be negative.
        assert part["min"] >= 0, "%s: %s min %r on one clock" % (what, k, part["min"])
        assert part["min"] <= part["p50"] <= part["p99"] <= part["max"] + ROUND_MS, \
            (what, k, part)
    if server_kt:
        assert b["complete"] > 0, "%s: no sample with every part: %r" % (what, b)
        rem = b["remainder"]
        assert rem["count"] == b["complete"], (what, rem)
        assert abs(rem["mean"]) < 0.05, "%s: the parts of complete samples miss " \
            "their round trip by %r ms on average" % (what, rem["mean"])
    else:
        assert b["complete"] == 0 and b["remainder"] is None, (what, b)
    return b


def kt_bench(transport, port, what):
    """`bench --kernel-timestamps --sample-every 10`, 8 connections for a
    second over transport: its JSON result, checked as any other."""
    r = bench("--" + transport, "--kernel-timestamps", "--sample-every", "10",
              "-c", "8", "-t", "1s", "-q", "--json", target(port), timeout=30)
    doc = bench_json(r, what)
    check_bench_json(doc, what, "closed", transport=transport, connections=8, size=84,
                     kt=True)
    return doc


def test_bench_kernel_timestamps_tcp_and_udp():
    """Against a server with --kernel-timestamps every part comes, one
    sample in ten messages, on one clock, and the parts add up."""
    with kt_server("--kernel-timestamps") as srv:
        for transport, port in (("tcp", srv.tcp_port), ("udp", srv.udp_port)):
            what = "--kernel-timestamps --%s" % transport
            doc = kt_bench(transport, port, what)
            assert doc["messages"] > 0 and doc["errors"] == 0, (what, doc)
            check_breakdown(doc, what, 10)


def test_bench_kernel_timestamps_text():
    """The text result: the table after the latency lines, a line a part."""
    with kt_server("--kernel-timestamps") as srv:
        r = bench("--kernel-timestamps", "--sample-every", "10", "-c", "8", "-t", "1s",
                  "-q", target(srv.tcp_port), timeout=30)
        assert r.code == 0, r.describe()
        res = parse_text(r.out, "--kernel-timestamps text")
        assert res["size"] == 84, "the default size with the option: %r" % res
        lines = r.out.splitlines()
        heads = [i for i, l in enumerate(lines) if KT_HEADER_RE.match(l)]
        assert len(heads) == 1, "want one kernel timestamps line in:\n%s" % r.out
        lat = [i for i, l in enumerate(lines) if LATENCY_RE.match(l)]
        assert lat and heads[0] > lat[0], "the table comes after the latency:\n%s" % r.out
        clock, every, samples, complete = KT_HEADER_RE.match(lines[heads[0]]).groups()
        assert clock == "both ends on one clock: exact" and every == "10", lines[heads[0]]
        assert 0 < int(complete) <= int(samples), lines[heads[0]]
        parts = [m.group(1) for m in map(KT_PART_RE.match, lines) if m]
        assert parts == PART_NAMES, "one line a part, in order: %r in\n%s" % (parts, r.out)
        assert any("the parts add up to the rtt" in l for l in lines), r.out
        assert any(l.startswith("  note: ") for l in lines), r.out


def test_bench_kernel_timestamps_without_the_servers():
    """A server with --kernel-timestamps=off: its parts are unavailable, the
    client's come, and the run is as good as any.  One as it comes (auto)
    turns them on with each connection's first sample, which therefore
    lacks the server's receive time alone."""
    with kt_server() as srv:
        what = "--kernel-timestamps, server in auto mode"
        b = check_breakdown(kt_bench("tcp", srv.tcp_port, what), what, 10)
        assert b["network_out"]["count"] == b["probes"] - 8, (what, b)
        assert b["client_send"]["count"] == b["probes"], (what, b)
    with kt_server("--kernel-timestamps=off") as srv:
        for transport, port in (("tcp", srv.tcp_port), ("udp", srv.udp_port)):
            what = "--kernel-timestamps --%s, server without" % transport
            doc = kt_bench(transport, port, what)
            b = check_breakdown(doc, what, 10, server_kt=False)
            assert "--kernel-timestamps" in b["note"], (what, b["note"])
        r = bench("--kernel-timestamps", "-c", "2", "-t", "500ms", "-q",
                  target(srv.tcp_port), timeout=30)
        assert r.code == 0, r.describe()
        parts = {m.group(1): m.group(2) for m in map(KT_PART_RE.match, r.out.splitlines())
                 if m}
        assert parts["server wake-up"] == "unavail." and \
            parts["client wake-up"] != "unavail.", r.out


def test_bench_kernel_timestamps_io_uring_and_builtin():
    """The io_uring load engine raises the same error events, and the
    built-in server has the kernel times."""
    with kt_server("--kernel-timestamps") as srv:
        t = target(srv.tcp_port)
        if bench("--engine", "io_uring", "-n", "10", "-c", "1", "-q", t).code != 0:
            raise SkipTest("no io_uring load engine here")
        what = "--engine io_uring --kernel-timestamps"
        r = bench("--engine", "io_uring", "--kernel-timestamps", "--sample-every", "10",
                  "-c", "8", "-t", "1s", "-q", "--json", t, timeout=30)
        doc = bench_json(r, what)
        check_bench_json(doc, what, "closed", connections=8, size=84, kt=True)
        assert doc["engine"] == "io_uring", doc["engine"]
        check_breakdown(doc, what, 10)
    r = bench("--kernel-timestamps", "--sample-every", "5", "-c", "2", "-t", "500ms",
              "-q", "--json", timeout=30)
    doc = bench_json(r, "built-in server")
    check_breakdown(doc, "built-in server", 5)


def test_bench_kernel_timestamps_open_loop_and_merge():
    """Open loop over UDP samples too; a saved result with breakdown_ms
    merges (the breakdown is left out of the merged result)."""
    with kt_server("--kernel-timestamps") as srv, TempDir() as tmp:
        what = "--kernel-timestamps --rate"
        r = bench("--udp", "--kernel-timestamps", "--sample-every", "10", "--rate", "2000",
                  "-c", "4", "-t", "1s", "-q", "--json", target(srv.udp_port), timeout=30)
        doc = bench_json(r, what)
        check_bench_json(doc, what, "open", transport="udp", connections=4, size=84,
                         kt=True)
        check_breakdown(doc, what, 10)
        a, b = tmp.file("a.json"), tmp.file("b.json")
        with open(a, "w") as f:
            f.write(r.out)
        r = bench("--udp", "-s", "84", "--rate", "2000", "-c", "4", "-t", "1s", "-q",
                  "--json", target(srv.udp_port), timeout=30)
        with open(b, "w") as f:
            f.write(r.out)
        r = merge(a, b, "--json")
        m = bench_json(r, "merge with breakdown_ms")
        check_bench_json(m, "merge with breakdown_ms", "open", transport="udp",
                         connections=None, size=84)
        assert m["messages"] == doc["messages"] + json.loads(open(b).read())["messages"]


def test_bench_kernel_timestamps_refused_combinations():
    for args, says in ((("--sample-every", "10"), "--sample-every needs --kernel-timestamps"),
                       (("--kernel-timestamps", "--echo"), "binary protocol"),
                       (("--kernel-timestamps", "--text"), "binary protocol"),
                       (("--kernel-timestamps", "--stamp"), "binary protocol"),
                       (("-s", "64", "--kernel-timestamps"), "at least 84 bytes"),
                       (("--kernel-timestamps", "--sample-every", "0"), "want 1..1000000")):
        r = bench(*args, "-t", "1s", LO)
        assert r.code == 2, "%r: %s" % (args, r.describe())
        line = one_stderr_line(r, repr(args))
        assert says in line, "%r: %r" % (args, line)

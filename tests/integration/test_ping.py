"""Integration tests for `tsecho ping`: the real binary against real peers.

The contract under test is docs/ping.md (command line, per-probe lines, the
summary, JSON schema 1, exit codes, the `tsecho?` question) and
docs/protocol.md.  Peers: `tsecho server`, the seed's server.py, and small
Python peers (harness.py) that echo, stay silent, or misbehave on purpose.
Tests assert behaviour and structure, never latencies; every wait is bounded.
"""

import json
import math
import re
import signal
import socket
import struct
import time

from harness import (Process, SeedServer, Server, SkipTest, TcpPeer, UdpPeer,
                     UdpReflector, faketime_env, free_port,
                     have_ipv6_loopback, recv_lines, require_binary,
                     run_tsecho, tcp_connect)

LO = "127.0.0.1"
N = r"\d+\.\d+"             # a non-negative figure
S = r"[+-]?\d+\.\d+"        # a signed one (one-way delays, the offset)

# One line per reply (docs/ping.md).
REPLY_RE = re.compile(r"^(\d+) bytes from (\S+): seq=(\d+) rtt=(%s) ms "
                      r"net=(%s) ms fwd=(%s) ms bwd=(%s) ms$" % (N, N, S, S))
TEXT_REPLY_RE = re.compile(r"^(\d+) bytes from (\S+): seq=(\d+) rtt=(%s) ms$" % N)
CONNECT_RE = re.compile(r"^connected to (\S+): seq=(\d+) time=(%s) ms$" % N)
NOREPLY_RE = re.compile(r"seq=(\d+): no reply within (\d+\.\d{3}) s$")

# The summary, in its documented order.
HEADER_RE = re.compile(r"^--- (\S+) ping statistics \(([^)]*)\) ---$")
SUMMARY_RES = [
    ("counts", re.compile(r"^(\d+) sent, (\d+) received, (\d+\.\d)%% loss, "
                          r"(\d+) duplicates, (\d+) reordered, time (%s) s$" % N)),
    ("rtt", re.compile(r"^rtt min/avg/max/mdev = (%s)/(%s)/(%s)/(%s) ms$"
                       % (N, N, N, N))),
    ("pct", re.compile(r"^rtt p50/p90/p99/p99\.9 = (%s)/(%s)/(%s)/(%s) ms$"
                       % (N, N, N, N))),
    ("net", re.compile(r"^network rtt min/avg/max = (%s)/(%s)/(%s) ms "
                       r"\(server residence removed\)$" % (N, N, N))),
    ("residence", re.compile(r"^(?:server residence \(read to send, user space\)|"
                             r"reflector residence \(kernel receive to send\)) "
                             r"min/avg/max = (%s)/(%s)/(%s) ms$" % (N, N, N))),
    ("jitter", re.compile(r"^jitter \(RFC 3550, final estimate\) rtt (%s) ms"
                          r"(?:, forward (%s) ms, backward (%s) ms)?$" % (N, N, N))),
    ("jitter_run", re.compile(r"^jitter over the run mean/max = rtt (%s)/(%s) ms"
                              r"(?:, forward (%s)/(%s) ms, backward (%s)/(%s) ms)?$"
                              % (N, N, N, N, N, N))),
    ("offset", re.compile(r"^clock offset (%s) ms \+/- (%s) ms "
                          r"\(server minus client\)$" % (S, N))),
    ("fwd", re.compile(r"^one-way forward min/avg/max = (%s)/(%s)/(%s) ms "
                       r"\+/- (%s) ms$" % (S, S, S, N))),
    ("bwd", re.compile(r"^one-way backward min/avg/max = (%s)/(%s)/(%s) ms "
                       r"\+/- (%s) ms$" % (S, S, S, N))),
    ("note", re.compile(r"^note: \S.*$")),
]
ALL_LINES = [k for k, _ in SUMMARY_RES]
PROBE_LINES = ALL_LINES                       # tcp/udp binary protocol: all
TEXT_LINES = ["counts", "rtt", "pct", "jitter", "jitter_run", "offset", "fwd", "bwd",
              "note"]
# --connect, --echo: "rtt lines only"; the jitter line, of rtt alone, may be
# there or not.
RTT_ONLY_LINES = ["counts", "rtt", "pct"]
OPTIONAL_LINES = {"note"}
RTT_ONLY_OPTIONAL = {"note", "jitter", "jitter_run"}

JSON_KEYS = {"schema", "tsecho_version", "mode", "transport", "target", "size",
             "interval_ms", "synced", "packets", "duration_ms", "rtt_ms",
             "net_rtt_ms", "residence_ms", "residence_from", "jitter_ms",
             "jitter_run_ms", "offset_ms", "one_way_ms", "breakdown_ms"}
PACKET_KEYS = {"sent", "received", "lost", "loss_pct", "duplicates",
               "reordered", "lost_forward", "lost_backward"}
RTT_KEYS = {"min", "mean", "max", "stddev", "p50", "p90", "p99", "p99_9"}
MMM_KEYS = {"min", "mean", "max"}
SAMPLE_KEYS = {"seq", "rtt_ms", "t1_ns", "t2_ns", "t3_ns", "t4_ns"}
ROUND_MS = 0.002            # printed figures are rounded (to 0.001 ms)


def ping(*args, timeout=15, **kw):
    return run_tsecho("ping", *args, timeout=timeout, **kw)


def target(port, host=LO):
    return "%s:%d" % (host, port)


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) \
        and math.isfinite(x)


# ------------------------------------------------------------ text output

def split_output(lines, what):
    """(per-probe lines, summary) of ping's stdout lines.  The summary is a
    dict: header (target, kind), order (line kinds in order) and each kind's
    groups; AssertionError on a summary line of no documented shape."""
    heads = [i for i, l in enumerate(lines) if HEADER_RE.match(l)]
    assert len(heads) == 1, "%s: want one '--- ... ping statistics (...) ---' " \
        "line, found %d in %r" % (what, len(heads), lines[-40:])
    h = heads[0]
    m = HEADER_RE.match(lines[h])
    summary = {"target": m.group(1), "kind": m.group(2), "order": []}
    for line in lines[h + 1:]:
        if not line.strip():
            continue
        for kind, rx in SUMMARY_RES:
            mm = rx.match(line)
            if mm:
                assert kind not in summary, "%s: summary line %s twice: %r" % (
                    what, kind, lines[h:])
                summary[kind] = mm.groups()
                summary["order"].append(kind)
                break
        else:
            raise AssertionError("%s: summary line of no documented shape: %r "
                                 "(summary %r)" % (what, line, lines[h:]))
    order = summary["order"]
    assert order == sorted(order, key=ALL_LINES.index), \
        "%s: summary lines out of the documented order: %r" % (what, lines[h:])
    assert "counts" in summary, "%s: no counts line: %r" % (what, lines[h:])
    c = summary["counts"]
    summary["sent"], summary["received"] = int(c[0]), int(c[1])
    summary["loss_pct"], summary["duplicates"] = float(c[2]), int(c[3])
    summary["reordered"], summary["time_s"] = int(c[4]), float(c[5])
    return [l for l in lines[:h] if l.strip()], summary


def check_summary(sm, lines, what, sent=None, received=None, kinds=None,
                  optional=OPTIONAL_LINES):
    """Counts and figures of a parsed summary; kinds: exactly these lines,
    give or take those in optional."""
    if sent is not None:
        assert sm["sent"] == sent, "%s: %d sent, want %d" % (what, sm["sent"], sent)
    if received is not None:
        assert sm["received"] == received, "%s: %d received, want %d" % (
            what, sm["received"], received)
    if sm["sent"]:
        want = 100.0 * (sm["sent"] - min(sm["received"], sm["sent"])) / sm["sent"]
        assert abs(sm["loss_pct"] - want) <= 0.051, \
            "%s: loss %.1f%% for %d sent, %d received" % (
                what, sm["loss_pct"], sm["sent"], sm["received"])
    if kinds is not None:
        got = [k for k in sm["order"] if k not in optional]
        want = [k for k in kinds if k not in optional]
        assert got == want, "%s: summary has lines %r, want %r:\n%s" % (
            what, got, want, "\n".join(lines))
    if "rtt" in sm:
        mn, avg, mx, mdev = map(float, sm["rtt"])
        assert mn <= avg + ROUND_MS and avg <= mx + ROUND_MS, (what, sm["rtt"])
        assert mdev >= 0, (what, sm["rtt"])
        if "pct" in sm:
            p = list(map(float, sm["pct"]))
            assert p == sorted(p), "%s: percentiles not ordered %r" % (what, p)
            assert mn - ROUND_MS <= p[0] and p[-1] <= mx + ROUND_MS, \
                "%s: percentiles %r outside min..max %r" % (what, p, sm["rtt"])
    for k in ("net", "residence"):
        if k in sm:
            mn, avg, mx = map(float, sm[k])
            assert mn <= avg + ROUND_MS <= mx + 2 * ROUND_MS, (what, k, sm[k])
    if "net" in sm and "rtt" in sm:
        assert float(sm["net"][0]) <= float(sm["rtt"][0]) + ROUND_MS, \
            "%s: network rtt min above rtt min: %r %r" % (what, sm["net"], sm["rtt"])
    for k in ("fwd", "bwd"):
        if k in sm:
            mn, avg, mx, bound = map(float, sm[k])
            assert mn <= avg + ROUND_MS <= mx + 2 * ROUND_MS, (what, k, sm[k])
            if "offset" in sm:
                assert abs(bound - float(sm["offset"][1])) <= ROUND_MS, \
                    "%s: one-way bound %s differs from the offset's %s" % (
                        what, bound, sm["offset"][1])


def check_probe_lines(plines, rx, what, count, addr=None, size=None):
    """count per-probe lines matching rx, seq 1..count in order; a few
    banner lines (not documented, not forbidden) may come before them."""
    first = next((i for i, l in enumerate(plines) if "seq=" in l), len(plines))
    assert first <= 3, "%s: lines before the first reply: %r" % (what, plines)
    got = plines[first:]
    bad = [l for l in got if not rx.match(l)]
    assert not bad, "%s: per-probe lines of the wrong shape: %r" % (what, bad[:5])
    ms = [rx.match(l) for l in got]
    seq_group = 2 if rx is CONNECT_RE else 3
    seqs = [int(m.group(seq_group)) for m in ms]
    assert seqs == list(range(1, count + 1)), \
        "%s: reply seqs %r, want 1..%d" % (what, seqs, count)
    for m in ms:
        if addr is not None:
            assert m.group(seq_group - 1) == addr, \
                "%s: reply from %r, want %r" % (what, m.group(seq_group - 1), addr)
        if size is not None and rx is not CONNECT_RE:
            assert int(m.group(1)) == size, "%s: %s bytes, want %d" % (
                what, m.group(1), size)
    return ms


# ------------------------------------------------------------ JSON

def check_mmm(d, what, signed=False):
    assert isinstance(d, dict) and set(d) == MMM_KEYS, "%s: %r" % (what, d)
    assert all(is_num(d[k]) for k in MMM_KEYS), "%s: %r" % (what, d)
    assert d["min"] <= d["mean"] + ROUND_MS <= d["max"] + 2 * ROUND_MS, \
        "%s: not min <= mean <= max: %r" % (what, d)
    if not signed:
        assert d["min"] >= 0, "%s: negative %r" % (what, d)


def parse_json(r, what):
    try:
        doc = json.loads(r.out)
    except ValueError as e:
        raise AssertionError("%s: stdout is not one JSON document (%s): %r"
                             % (what, e, r.out[:2000]))
    assert isinstance(doc, dict), "%s: not an object: %r" % (what, doc)
    return doc


def check_json(doc, what, mode, transport, sent=None, received=None,
               size=None, samples=False):
    """Schema 1 of docs/ping.md, and what each mode fills or leaves null."""
    keys = set(doc)
    want = JSON_KEYS | ({"samples"} if samples else set())
    assert keys == want, "%s: keys missing %r, unexpected %r" % (
        what, sorted(want - keys), sorted(keys - want))
    # Only --kernel-timestamps fills it (no test here asks for it).
    assert doc["breakdown_ms"] is None, (what, doc["breakdown_ms"])
    assert doc["schema"] == 1, (what, doc["schema"])
    assert isinstance(doc["tsecho_version"], str) and \
        re.match(r"\d+\.\d+", doc["tsecho_version"]), (what, doc["tsecho_version"])
    assert doc["mode"] == mode, "%s: mode %r, want %r" % (what, doc["mode"], mode)
    assert doc["transport"] == transport, "%s: transport %r, want %r" % (
        what, doc["transport"], transport)
    assert isinstance(doc["target"], str) and re.search(r":\d+$", doc["target"]), \
        (what, doc["target"])
    assert isinstance(doc["size"], int) and not isinstance(doc["size"], bool), \
        (what, doc["size"])
    if size is not None:
        assert doc["size"] == size, "%s: size %r, want %d" % (what, doc["size"], size)
    assert is_num(doc["interval_ms"]) and doc["interval_ms"] >= 0, \
        (what, doc["interval_ms"])
    assert doc["synced"] is False, (what, doc["synced"])
    assert is_num(doc["duration_ms"]) and doc["duration_ms"] >= 0, \
        (what, doc["duration_ms"])

    p = doc["packets"]
    assert isinstance(p, dict) and set(p) == PACKET_KEYS, "%s: packets %r" % (what, p)
    for k in PACKET_KEYS - {"loss_pct", "lost_forward", "lost_backward"}:
        assert isinstance(p[k], int) and not isinstance(p[k], bool) and p[k] >= 0, \
            "%s: packets.%s = %r" % (what, k, p[k])
    # The loss split is STAMP's, with a stateful reflector (docs/ping.md).
    if mode != "stamp":
        assert p["lost_forward"] is None and p["lost_backward"] is None, (what, p)
    assert is_num(p["loss_pct"]), (what, p)
    assert p["lost"] == p["sent"] - p["received"], "%s: lost != sent - received: " \
        "%r" % (what, p)
    if p["sent"]:
        assert abs(p["loss_pct"] - 100.0 * p["lost"] / p["sent"]) <= 0.051, \
            "%s: loss_pct %r for %r" % (what, p["loss_pct"], p)
    if sent is not None:
        assert p["sent"] == sent, "%s: packets.sent %d, want %d" % (what, p["sent"], sent)
    if received is not None:
        assert p["received"] == received, "%s: packets.received %d, want %d" % (
            what, p["received"], received)

    rtt = doc["rtt_ms"]
    if p["received"] == 0:
        assert rtt is None, "%s: rtt_ms %r with nothing received" % (what, rtt)
    else:
        assert isinstance(rtt, dict) and set(rtt) == RTT_KEYS, "%s: rtt_ms %r" % (
            what, rtt)
        assert all(is_num(rtt[k]) and rtt[k] >= 0 for k in RTT_KEYS), (what, rtt)
        assert rtt["min"] <= rtt["p50"] <= rtt["max"], \
            "%s: not min <= p50 <= max: %r" % (what, rtt)
        assert rtt["min"] <= rtt["mean"] + ROUND_MS <= rtt["max"] + 2 * ROUND_MS, \
            (what, rtt)
        ps = [rtt[k] for k in ("p50", "p90", "p99", "p99_9")]
        assert ps == sorted(ps) and ps[-1] <= rtt["max"], \
            "%s: percentiles %r, max %r" % (what, ps, rtt["max"])

    has_server_times = mode == "probe" and p["received"] > 0
    has_offset = mode in ("probe", "text") and p["received"] > 0
    for k in ("net_rtt_ms", "residence_ms"):
        if has_server_times:
            check_mmm(doc[k], "%s: %s" % (what, k))
        else:
            assert doc[k] is None, "%s: %s is %r in mode %s, want null" % (
                what, k, doc[k], mode)
    if has_server_times:
        assert doc["net_rtt_ms"]["min"] <= rtt["min"] + ROUND_MS, \
            "%s: net rtt min %r above rtt min %r" % (what, doc["net_rtt_ms"], rtt)

    j = doc["jitter_ms"]
    if p["received"] > 0 and mode in ("connect", "echo") and j is None:
        pass                      # "rtt lines only": no jitter at all is fine
    elif p["received"] > 0:
        assert isinstance(j, dict) and set(j) == {"rtt", "forward", "backward"}, \
            "%s: jitter_ms %r" % (what, j)
        assert is_num(j["rtt"]) and j["rtt"] >= 0, (what, j)
        for k in ("forward", "backward"):
            if has_server_times:
                assert is_num(j[k]) and j[k] >= 0, "%s: jitter_ms.%s %r" % (what, k, j)
            else:
                assert j[k] is None, "%s: jitter_ms.%s is %r in mode %s" % (
                    what, k, j[k], mode)
    else:
        assert j is None or (isinstance(j, dict) and j.get("rtt") is None), \
            "%s: jitter with nothing received: %r" % (what, j)

    off, ow = doc["offset_ms"], doc["one_way_ms"]
    if has_offset:
        assert isinstance(off, dict) and set(off) == {"estimate", "bound"}, \
            "%s: offset_ms %r" % (what, off)
        assert is_num(off["estimate"]) and is_num(off["bound"]), (what, off)
        assert off["bound"] >= 0, "%s: offset_ms.bound %r < 0" % (what, off)
        assert isinstance(ow, dict) and set(ow) == {"forward", "backward", "bound"}, \
            "%s: one_way_ms %r" % (what, ow)
        check_mmm(ow["forward"], "%s: one_way_ms.forward" % what, signed=True)
        check_mmm(ow["backward"], "%s: one_way_ms.backward" % what, signed=True)
        assert is_num(ow["bound"]) and abs(ow["bound"] - off["bound"]) <= ROUND_MS, \
            "%s: one_way_ms.bound %r, offset bound %r" % (what, ow["bound"],
                                                          off["bound"])
        # The bound is half the smallest network RTT (the whole RTT in text
        # mode, where t2 = t3): docs/measurement.md.
        best = (doc["net_rtt_ms"] if mode == "probe" else rtt)["min"]
        assert abs(off["bound"] - best / 2) <= ROUND_MS, \
            "%s: offset bound %r, want half the best %s RTT %r" % (
                what, off["bound"], "network" if mode == "probe" else "", best)
    else:
        assert off is None, "%s: offset_ms %r in mode %s, want null" % (what, off, mode)
        assert ow is None, "%s: one_way_ms %r in mode %s, want null" % (what, ow, mode)

    if samples:
        check_samples(doc, what)
    return doc


def check_samples(doc, what):
    ss = doc["samples"]
    assert isinstance(ss, list), "%s: samples %r" % (what, ss)
    assert len(ss) == doc["packets"]["received"], \
        "%s: %d samples, %d received" % (what, len(ss), doc["packets"]["received"])
    seqs = []
    for s in ss:
        assert isinstance(s, dict) and set(s) == SAMPLE_KEYS, "%s: sample %r" % (what, s)
        for k in ("seq", "t1_ns", "t2_ns", "t3_ns", "t4_ns"):
            assert isinstance(s[k], int) and not isinstance(s[k], bool), \
                "%s: sample %s = %r" % (what, k, s[k])
        assert is_num(s["rtt_ms"]) and s["rtt_ms"] >= 0, (what, s)
        assert s["t1_ns"] <= s["t4_ns"], "%s: t1 > t4 (client clock): %r" % (what, s)
        assert s["t2_ns"] <= s["t3_ns"], "%s: t2 > t3 (server clock): %r" % (what, s)
        # rtt is t4 - t1 (possibly taken on the monotonic clock): the same
        # figure, give or take the reading of two clocks.
        assert abs(s["rtt_ms"] - (s["t4_ns"] - s["t1_ns"]) / 1e6) < 5.0, \
            "%s: rtt_ms %r but t4 - t1 = %.3f ms" % (
                what, s["rtt_ms"], (s["t4_ns"] - s["t1_ns"]) / 1e6)
        now = time.time_ns()
        for k in ("t1_ns", "t4_ns"):
            assert abs(s[k] - now) < 120 * 10**9, \
                "%s: %s = %d is not ns since the epoch" % (what, k, s[k])
        seqs.append(s["seq"])
    assert len(set(seqs)) == len(seqs), "%s: repeated seqs %r" % (what, seqs)


def one_stderr_line(r, what, prefix="tsecho ping: "):
    lines = r.err_lines()
    assert len(lines) == 1 and lines[0].startswith(prefix), \
        "%s: want one stderr line starting %r; %s" % (what, prefix, r.describe())


# ------------------------------------------------------------ tsecho server

def test_ping_tcp_lines_and_summary():
    with Server() as srv:
        t = target(srv.tcp_port)
        r = ping("-c", "5", "-i", "0.05", t)
        assert r.code == 0, r.describe()
        assert r.err == "", "stderr on success: %s" % r.describe()
        plines, sm = split_output(r.out.splitlines(), "ping -c 5")
        check_probe_lines(plines, REPLY_RE, "ping -c 5", 5, addr=t, size=64)
        assert "5 sent, 5 received, 0.0% loss" in r.out, r.describe()
        assert sm["target"] == t and sm["kind"] == "tcp, binary protocol", \
            "header %r; %s" % (sm, r.describe())
        check_summary(sm, r.out.splitlines(), "ping -c 5", sent=5, received=5,
                      kinds=PROBE_LINES)
        assert sm["duplicates"] == 0 and sm["reordered"] == 0, r.describe()
        jit = sm["jitter"]
        assert jit[1] is not None and jit[2] is not None, \
            "binary protocol: jitter line without forward/backward: %r" % (jit,)
        # Four intervals of 50 ms lie between the first and the last send.
        assert r.elapsed >= 0.18, "5 probes 50 ms apart took %.3f s" % r.elapsed
        # -s sets the size on the wire, shown on every line.
        r = ping("-c", "2", "-i", "0.05", "-s", "1000", t)
        assert r.code == 0, r.describe()
        plines, sm = split_output(r.out.splitlines(), "ping -s 1000")
        check_probe_lines(plines, REPLY_RE, "ping -s 1000", 2, addr=t, size=1000)


def test_ping_tcp_json():
    with Server() as srv:
        t = target(srv.tcp_port)
        r = ping("-c", "5", "-i", "0.05", "--json", t)
        assert r.code == 0, r.describe()
        doc = check_json(parse_json(r, "--json"), "--json", "probe", "tcp",
                         sent=5, received=5, size=64)
        assert doc["target"] == t, doc["target"]
        assert abs(doc["interval_ms"] - 50.0) < 1e-6, doc["interval_ms"]
        assert doc["packets"] == {"sent": 5, "received": 5, "lost": 0,
                                  "loss_pct": 0.0, "duplicates": 0,
                                  "reordered": 0, "lost_forward": None,
                                  "lost_backward": None}, doc["packets"]
        assert doc["offset_ms"]["bound"] >= 0, doc["offset_ms"]
        # Same host, same clock: the offset is within its bound of zero
        # (plus rounding).
        off = doc["offset_ms"]
        assert abs(off["estimate"]) <= off["bound"] + ROUND_MS, \
            "same-host offset %r not within its bound of 0" % off

        r = ping("-c", "5", "-i", "0.05", "--json", "--samples", t)
        assert r.code == 0, r.describe()
        doc = check_json(parse_json(r, "--samples"), "--json --samples", "probe",
                         "tcp", sent=5, received=5, samples=True)
        assert len(doc["samples"]) == 5, doc["samples"]
        assert sorted(s["seq"] for s in doc["samples"]) == [1, 2, 3, 4, 5], \
            doc["samples"]
        for s in doc["samples"]:
            # One host, one clock: the server's times lie inside the client's.
            assert s["t1_ns"] <= s["t2_ns"] <= s["t3_ns"] <= s["t4_ns"], s
        # The session's offset is the NTP estimate of the probe with the
        # smallest network RTT (docs/measurement.md): recompute it.
        nets = [(s["rtt_ms"] - (s["t3_ns"] - s["t2_ns"]) / 1e6, s)
                for s in doc["samples"]]
        best = min(n for n, _ in nets)
        cands = [((s["t2_ns"] - s["t1_ns"]) + (s["t3_ns"] - s["t4_ns"])) / 2e6
                 for n, s in nets if n <= best + 0.001]
        est = doc["offset_ms"]["estimate"]
        assert any(abs(est - c) <= ROUND_MS for c in cands), \
            "offset estimate %r, but the best probe's NTP offset is %r; " \
            "samples %r" % (est, cands, doc["samples"])


def test_ping_pong_interval_zero():
    with Server() as srv:
        r = ping("-c", "200", "-i", "0", "-q", target(srv.tcp_port), timeout=20)
        assert r.code == 0, r.describe()
        plines, sm = split_output(r.out.splitlines(), "ping -i 0 -q")
        assert not [l for l in plines if "seq=" in l], \
            "-q printed per-probe lines: %r" % plines[:5]
        check_summary(sm, r.out.splitlines(), "ping -i 0", sent=200, received=200)
        # Ping-pong on loopback: far below the 200 s of the default interval.
        assert r.elapsed < 10.0, "200 ping-pong probes took %.1f s" % r.elapsed


def test_ping_udp():
    with Server() as srv:
        t = target(srv.udp_port)
        r = ping("--udp", "-c", "5", "-i", "0.05", "-s", "200", t)
        assert r.code == 0, r.describe()
        plines, sm = split_output(r.out.splitlines(), "ping --udp")
        check_probe_lines(plines, REPLY_RE, "ping --udp", 5, addr=t, size=200)
        assert sm["kind"] == "udp, binary protocol", sm
        check_summary(sm, r.out.splitlines(), "ping --udp", sent=5, received=5,
                      kinds=PROBE_LINES)
        r = ping("--udp", "-c", "5", "-i", "0.05", "-s", "200", "--json", t)
        assert r.code == 0, r.describe()
        check_json(parse_json(r, "--udp --json"), "--udp --json", "probe", "udp",
                   sent=5, received=5, size=200)


def test_ping_ipv6():
    if not have_ipv6_loopback():
        raise SkipTest("no IPv6 loopback on this host")
    with Server(listen="::1") as srv:
        for extra in ((), ("--udp",)):
            what = "ping -6 %s" % " ".join(extra)
            r = ping("-6", "-c", "3", "-i", "0.05", "--json", *extra,
                     "[::1]:%d" % srv.tcp_port)
            assert r.code == 0, r.describe()
            doc = check_json(parse_json(r, what), what, "probe",
                             "udp" if extra else "tcp", sent=3, received=3)
            assert "::1" in doc["target"] and \
                doc["target"].endswith(":%d" % srv.tcp_port), doc["target"]
        r = ping("-6", "-c", "2", "-i", "0.05", "[::1]:%d" % srv.tcp_port)
        assert r.code == 0, r.describe()
        plines, sm = split_output(r.out.splitlines(), "ping -6")
        check_probe_lines(plines, REPLY_RE, "ping -6", 2)
        assert "::1" in sm["target"], sm


def test_ping_builtin_server():
    r = ping(timeout=20)
    assert r.code == 0, r.describe()
    plines, sm = split_output(r.out.splitlines(), "ping (no host)")
    check_probe_lines(plines, REPLY_RE, "ping (no host)", 10)
    check_summary(sm, r.out.splitlines(), "ping (no host)", sent=10, received=10,
                  kinds=PROBE_LINES)
    assert sm["target"].startswith("127.0.0.1:"), sm
    assert sm["kind"] == "tcp, binary protocol", sm
    # -c 10 -i 100ms: nine intervals.
    assert 0.8 <= r.elapsed < 15.0, "took %.2f s" % r.elapsed


# ------------------------------------------------------------ the seed's server

def test_ping_seed_server_falls_back_to_text():
    with SeedServer() as seed:
        t = target(seed.port)
        r = ping("-c", "3", "-i", "0.1", t)
        assert r.code == 0, "%s\nseed: %s" % (r.describe(), seed.describe())
        plines, sm = split_output(r.out.splitlines(), "ping seed")
        check_probe_lines(plines, TEXT_REPLY_RE, "ping seed", 3, addr=t)
        assert sm["kind"] == "tcp, text protocol", \
            "header %r, want text protocol; %s" % (sm, r.describe())
        check_summary(sm, r.out.splitlines(), "ping seed", sent=3, received=3,
                      kinds=TEXT_LINES)
        jit = sm["jitter"]
        assert jit[1] is None and jit[2] is None, \
            "text mode has no per-direction jitter: %r" % (jit,)
        seed.check_serves()

        r = ping("-c", "3", "-i", "0.1", "--json", t)
        assert r.code == 0, "%s\nseed: %s" % (r.describe(), seed.describe())
        check_json(parse_json(r, "seed --json"), "seed --json", "text", "tcp",
                   sent=3, received=3)
        seed.check_serves()
        # The seed logs what it got: the question, then text messages only.
        seed.wait_line(lambda l: "tsecho?" in l, timeout=2.0,
                       what="the tsecho? question in the seed's log")


# ------------------------------------------------------------ --connect, --echo

def test_ping_connect():
    with Server() as srv:
        t = target(srv.tcp_port)
        r = ping("--connect", "-c", "3", "-i", "0.05", t)
        assert r.code == 0, r.describe()
        plines, sm = split_output(r.out.splitlines(), "--connect")
        check_probe_lines(plines, CONNECT_RE, "--connect", 3, addr=t)
        check_summary(sm, r.out.splitlines(), "--connect", sent=3, received=3,
                      kinds=RTT_ONLY_LINES, optional=RTT_ONLY_OPTIONAL)
        assert sm.get("jitter", (None, None, None))[1:] == (None, None), sm
        r = ping("--connect", "-c", "3", "-i", "0.05", "--json", t)
        assert r.code == 0, r.describe()
        check_json(parse_json(r, "--connect --json"), "--connect --json",
                   "connect", "tcp", sent=3, received=3)

    # Any listener will do, even one that never accepts: the kernel
    # completes the handshake.
    with TcpPeer("noaccept") as peer:
        t = target(peer.port)
        r = ping("--connect", "-c", "3", "-i", "0.05", "--json", t)
        assert r.code == 0, r.describe()
        check_json(parse_json(r, "--connect noaccept"), "--connect (listener "
                   "that never accepts)", "connect", "tcp", sent=3, received=3)

    # Each --connect probe is a connection of its own: refused is that probe
    # lost, so a closed port is 100% loss and exit 1 (docs/ping.md).
    closed = free_port()
    r = ping("--connect", "-c", "2", "-i", "0.05", target(closed))
    assert r.code == 1, "--connect to a closed port: want exit 1; %s" % r.describe()
    assert "2 sent, 0 received, 100.0% loss" in r.out, r.describe()
    refused = [int(m.group(1)) for m in
               (re.search(r"seq=(\d+): connection refused$", l)
                for l in r.out.splitlines()) if m]
    assert refused == [1, 2], "want 'seq=N: connection refused' for 1 and 2; " \
        "%s" % r.describe()
    # A refusal is known at once: no waiting for -W (2 s) per probe.
    assert r.elapsed < 2.0, "refused handshakes took %.2f s" % r.elapsed


def test_ping_echo():
    with TcpPeer("echo") as peer:
        t = target(peer.port)
        r = ping("--echo", "-c", "5", "-i", "0.05", t)
        assert r.code == 0, r.describe()
        plines, sm = split_output(r.out.splitlines(), "--echo")
        got = [l for l in plines if re.search(r"seq=\d+ .*rtt=%s ms" % N, l)]
        assert len(got) == 5, "--echo: want 5 reply lines with rtt, got %r" % plines
        assert not any("fwd=" in l or "net=" in l for l in plines), plines
        check_summary(sm, r.out.splitlines(), "--echo", sent=5, received=5,
                      kinds=RTT_ONLY_LINES, optional=RTT_ONLY_OPTIONAL)
        assert sm.get("jitter", (None, None, None))[1:] == (None, None), sm
        r = ping("--echo", "-c", "5", "-i", "0.05", "--json", t)
        assert r.code == 0, r.describe()
        doc = check_json(parse_json(r, "--echo --json"), "--echo --json", "echo",
                         "tcp", sent=5, received=5)
        assert doc["offset_ms"] is None
        assert peer.bytes_in >= 10 * doc["size"], \
            "the echo peer read %d bytes for 10 probes of %d" % (peer.bytes_in,
                                                                doc["size"])

    with UdpPeer("echo") as peer:
        # With --echo any size from 1 byte is allowed.
        r = ping("--echo", "--udp", "-c", "5", "-i", "0.05", "-s", "10", "--json",
                 target(peer.port))
        assert r.code == 0, r.describe()
        doc = check_json(parse_json(r, "--echo --udp"), "--echo --udp", "echo",
                         "udp", sent=5, received=5, size=10)
        assert doc["offset_ms"] is None and doc["one_way_ms"] is None, doc
        assert peer.datagrams == 5, "the echo peer got %d datagrams, want 5" % (
            peer.datagrams)


# ------------------------------------------------------------ exit codes

def test_ping_refused_and_unknown_host():
    closed = free_port()
    r = ping("-c", "2", "-i", "0.05", target(closed))
    assert r.code == 2, "connection refused: %s" % r.describe()
    one_stderr_line(r, "connection refused")

    r = ping("-c", "2", "-i", "0.05", "no-such-host.invalid", timeout=30)
    assert r.code == 2, "unknown host: %s" % r.describe()
    one_stderr_line(r, "unknown host")


def test_ping_udp_no_answer():
    with UdpPeer("drop") as peer:
        r = ping("--udp", "-c", "2", "-i", "0.1", "-W", "0.3", target(peer.port))
        assert r.code == 1, "no reply at all: want exit 1; %s" % r.describe()
        assert "2 sent, 0 received, 100.0% loss" in r.out, r.describe()
        plines, sm = split_output(r.out.splitlines(), "udp, no answer")
        check_summary(sm, r.out.splitlines(), "udp, no answer", sent=2,
                      received=0)
        assert "rtt" not in sm, "rtt line with nothing received: %r" % sm
        lost = [NOREPLY_RE.search(l) for l in plines]
        lost = [(int(m.group(1)), m.group(2)) for m in lost if m]
        assert lost == [(1, "0.300"), (2, "0.300")], \
            "want 'seq=N: no reply within 0.300 s' for 1 and 2; %s" % r.describe()
        assert peer.datagrams == 2, "the peer got %d datagrams" % peer.datagrams
        r = ping("--udp", "-c", "2", "-i", "0.1", "-W", "0.3", "--json",
                 target(peer.port))
        assert r.code == 1, r.describe()
        check_json(parse_json(r, "udp no answer --json"), "udp no answer --json",
                   "probe", "udp", sent=2, received=0)


# ------------------------------------------------------------ signals, faults

def test_ping_sigint_prints_summary():
    with Server() as srv:
        with Process([require_binary(), "ping", "-i", "0.05",
                      target(srv.tcp_port)]) as p:
            p.wait_line(lambda l: REPLY_RE.match(l) is not None, timeout=5.0,
                        what="a reply line")
            time.sleep(0.4)
            p.send_signal(signal.SIGINT)
            code = p.wait_exit(5.0)
            assert code is not None, "ping still running 5 s after SIGINT; %s" % (
                p.describe())
            assert code == 0, "exit %r after SIGINT; %s" % (code, p.describe())
            plines, sm = split_output(p.lines(), "ping + SIGINT")
            check_summary(sm, p.lines(), "ping + SIGINT")
            assert sm["received"] > 0 and sm["sent"] >= sm["received"], sm
            assert len([l for l in plines if REPLY_RE.match(l)]) == sm["received"], \
                p.describe()


def test_ping_server_goes_away():
    srv = Server()
    try:
        with Process([require_binary(), "ping", "-i", "0.05", "-W", "1",
                      target(srv.tcp_port)]) as p:
            for i in range(3):
                p.wait_line(lambda l: REPLY_RE.match(l) is not None and
                            " seq=%d " % (i + 1) in l, timeout=5.0,
                            what="reply %d" % (i + 1))
            srv.stop(signal.SIGKILL)
            t0 = time.monotonic()
            code = p.wait_exit(8.0)
            assert code is not None, "ping still running 8 s after its server " \
                "was killed; %s" % p.describe()
            assert code == 0, "exit %r (replies came before); %s" % (code,
                                                                   p.describe())
            plines, sm = split_output(p.lines(), "server killed")
            check_summary(sm, p.lines(), "server killed")
            assert sm["received"] >= 3, sm
            said = [l for l in plines + p.stderr_lines()
                    if not REPLY_RE.match(l) and
                    re.search(r"clos|lost|reset|refused|end of file|EOF", l, re.I)]
            assert said, "no line says the connection was lost; %s" % p.describe()
            assert time.monotonic() - t0 < 8.0
    finally:
        srv.stop()


def test_ping_udp_loss_duplicates_reordering():
    for fmt in ("json", "text"):
        with UdpReflector(drop_every=4, dup_every=5, hold_every=7) as peer:
            args = ["--udp", "-c", "40", "-i", "0.02", "-W", "0.5",
                    target(peer.port)]
            r = ping(*(args + (["--json"] if fmt == "json" else ["-q"])),
                     timeout=20)
            peer.stop()
            assert len(peer.probes) == 40 and peer.ignored == 0, \
                "the reflector got %d probes (%d other datagrams); %s" % (
                    len(peer.probes), peer.ignored, r.describe())
            want = peer.expected()
            # What the reflector did to 40 probes: 10 dropped (4, 8, ..., 40),
            # replies to 5, 10, 15, 25, 30 sent twice, to 7, 14, 21, 35 late.
            assert want == {"received": 30, "lost": 10, "duplicates": 5,
                            "reordered": 4}, (want, peer.sent)
            assert r.code == 0, r.describe()
            if fmt == "json":
                doc = check_json(parse_json(r, "reflector"), "reflector --json",
                                 "probe", "udp", sent=40)
                got = {k: doc["packets"][k] for k in want}
                assert got == want, "packets %r, the peer did %r (replies in " \
                    "order of probe: %r)" % (doc["packets"], want, peer.sent)
                assert abs(doc["packets"]["loss_pct"] - 25.0) < 1e-9, doc["packets"]
            else:
                line = "40 sent, 30 received, 25.0% loss, 5 duplicates, 4 reordered"
                assert line in r.out, "want %r; %s" % (line, r.describe())


def test_ping_clock_offset_under_faketime():
    env = faketime_env("+50s")
    with Server(env=env) as srv:
        # The server's clock really is 50 s ahead.
        with tcp_connect(LO, srv.tcp_port) as s:
            s.sendall(b"what time is it\n")
            buf = recv_lines(s, 1)
            now = time.time()
        m = re.fullmatch(rb"(\d+\.\d{6}):what time is it\n", buf)
        assert m, buf
        ahead = float(m.group(1)) - now
        assert 45.0 < ahead < 55.0, "faketime server is %.3f s ahead, want 50" % ahead

        r = ping("-c", "10", "-i", "0.05", "--json", target(srv.tcp_port))
        assert r.code == 0, r.describe()
        doc = check_json(parse_json(r, "faketime"), "faketime", "probe", "tcp",
                         sent=10, received=10)
        off, ow = doc["offset_ms"], doc["one_way_ms"]
        # 5 ms: faketime's own error.
        assert abs(off["estimate"] - 50000.0) <= off["bound"] + 5.0, \
            "offset %r, want 50000 ms within its bound" % off
        for d in ("forward", "backward"):
            mn = ow[d]["min"]
            assert -off["bound"] - ROUND_MS <= mn < 1000.0, \
                "one-way %s min %r ms with bound %r: the 50 s offset was not " \
                "removed" % (d, mn, off["bound"])


# ------------------------------------------------------------ command line

def test_ping_cli():
    r = ping("--help", timeout=5)
    assert r.code == 0 and "usage" in r.out.lower(), r.describe()
    for opt in ("--count", "--interval", "--size", "--timeout", "--udp",
                "--text", "--connect", "--echo", "--synced", "--quiet",
                "--json", "--samples"):
        assert opt in r.out, "ping --help does not mention %s" % opt
    r = ping("-h", timeout=5)
    assert r.code == 0 and "usage" in r.out.lower(), r.describe()
    for args in (("--bogus",), ("-c",), ("-c", "many", LO), ("-i", "5parsecs", LO),
                 ("-s", "47", LO), ("-W", "x", LO), ("--samples", "-x", LO)):
        r = ping(*args, timeout=5)
        assert r.code == 2, "ping %s: want exit 2; %s" % (" ".join(args),
                                                          r.describe())
        one_stderr_line(r, "ping %s" % " ".join(args))


# ------------------------------------------------ command-line habits

def test_ping_options_that_do_not_go_together():
    """Each pair that cannot mean anything is refused with one line and
    exit 2, in either order (STAMP is UDP, as --text is TCP)."""
    for args, says in ((("--stamp", "--tcp"), "--stamp is UDP only"),
                       (("--tcp", "--stamp"), "--stamp is UDP only"),
                       (("--text", "--udp"), "--text is TCP only"),
                       (("--connect", "--udp"), "--connect is TCP only"),
                       (("--synced", "--echo"), "--synced needs"),
                       (("--synced", "--connect"), "--synced needs"),
                       (("--connect", "-s", "100"), "-s has no meaning"),
                       (("-p", "7"), "-p needs a HOST"),
                       (("-p", "7", "127.0.0.1:8"), "which one?")):
        r = ping("-c", "1", *args, *([] if any(":" in a for a in args) or "-p" in args
                                     else [LO]))
        assert r.code == 2, "ping %s: %s" % (" ".join(args), r.describe())
        one_stderr_line(r, "ping %s" % " ".join(args))
        assert says in r.err, "ping %s: %s" % (" ".join(args), r.describe())
    r = run_tsecho("bench", "--stamp", "--tcp", LO)
    assert r.code == 2 and "--stamp is UDP only" in r.err, r.describe()


def test_ping_and_bench_port_option():
    """-p PORT works as `server -p` does; HOST:PORT stays valid."""
    with Server() as srv:
        r = ping("-c", "2", "-i", "0.05", "-p", str(srv.tcp_port), LO)
        assert r.code == 0, r.describe()
        assert "%s:%d" % (LO, srv.tcp_port) in r.out, r.out
        r = ping("-c", "1", "-p", str(srv.tcp_port), "%s:%d" % (LO, srv.tcp_port))
        assert r.code == 0, r.describe()
        r = run_tsecho("bench", "-p", str(srv.tcp_port), "-n", "50", "-c", "2", "-q", LO,
                       timeout=20)
        assert r.code == 0 and "50 messages" in r.out, r.describe()


def test_ping_ipv6_literals():
    """A bare IPv6 address is a host; with a port it is [ADDR]:PORT, and
    every line prints it that way."""
    if not have_ipv6_loopback():
        raise SkipTest("no IPv6 loopback on this host")
    with Server(listen="::1") as srv:
        r = ping("-c", "1", "-p", str(srv.tcp_port), "::1")
        assert r.code == 0, r.describe()
        assert "[::1]:%d" % srv.tcp_port in r.out, r.out
    port = free_port(host="::1")
    r = ping("-c", "1", "-W", "1", "::1", "-p", str(port))
    assert r.code == 2, r.describe()
    assert "[::1]:%d: connection refused" % port in r.err, r.describe()


def test_ping_jitter_shows_a_stall():
    """A 300 ms stall of the server: the final RFC 3550 estimate forgets
    it within a few dozen probes, its maximum over the run does not."""
    import os
    with Server() as srv:
        proc = Process([require_binary(), "ping", "-c", "60", "-i", "0.02", "-W", "2",
                        "--json", target(srv.tcp_port)])
        try:
            time.sleep(0.4)
            os.kill(srv.pid, signal.SIGSTOP)
            time.sleep(0.3)
            os.kill(srv.pid, signal.SIGCONT)
            code = proc.wait_exit(20)
        finally:
            os.kill(srv.pid, signal.SIGCONT)
        assert code == 0, proc.describe()
        doc = json.loads("\n".join(proc.lines()))
    final, run = doc["jitter_ms"]["rtt"], doc["jitter_run_ms"]["rtt"]
    assert run["max"] >= 10.0, "a 300 ms stall, jitter max %r" % run
    assert final < run["max"] / 2, "final %r, over the run %r" % (final, run)
    assert 0 <= run["mean"] <= run["max"], run


def test_ping_residence_says_what_it_spans():
    """Against tsecho's binary protocol the residence is the server's read
    to its send, in user space; docs and JSON say which."""
    with Server() as srv:
        r = ping("-c", "2", "-i", "0.05", target(srv.tcp_port))
        assert "server residence (read to send, user space)" in r.out, r.out
        r = ping("-c", "2", "-i", "0.05", "--json", target(srv.tcp_port))
        assert parse_json(r, "--json")["residence_from"] == "user", r.out


def test_ping_echo_against_a_tsecho_main_port_says_so():
    """A tsecho main port answers --echo probes, with its timestamp in
    front: ping says the answers are not an echo service's, not 'no
    reply', and exits 2."""
    with Server() as srv:
        for extra in ((), ("--udp",)):
            r = ping("--echo", "-c", "3", "-i", "0.05", "-W", "0.5", "-q", *extra,
                     target(srv.tcp_port))
            assert r.code == 2, r.describe()
            assert "not an RFC 862 echo service" in r.err, r.describe()
            assert "answers were not the bytes sent" in r.err, r.describe()


def test_ping_udp_closed_port_is_unreachable_at_once():
    """Over UDP to a port nobody listens on, the kernel's ICMP port
    unreachable is reported on the probe it answers, at once, instead of
    waiting out each timeout."""
    port = free_port(socket.SOCK_DGRAM)
    for extra in (("--udp",), ("--stamp",), ("--echo", "--udp")):
        r = ping("-c", "3", "-i", "0.1", "-W", "3", *extra, target(port))
        what = "ping %s to a closed port" % " ".join(extra)
        assert r.code == 1, "%s: %s" % (what, r.describe())
        for seq in (1, 2, 3):
            assert "seq=%d: port unreachable" % seq in r.out, "%s: %s" % (what, r.out)
        assert r.elapsed < 2.0, "%s took %.1f s: the timeouts were waited out" % (
            what, r.elapsed)


def test_ping_deadline_source_tos_ttl():
    """-w ends the run at its deadline whatever -c says; -I, -Q and -t set
    the source address, TOS byte and TTL of what goes out, as a receiver
    sees them; a source that cannot be used is one clear error."""
    with Server() as srv:
        r = ping("-i", "0.1", "-w", "0.5", "-q", target(srv.tcp_port))
        assert r.code == 0 and 0.4 < r.elapsed < 2.0, r.describe()
        sent = int(re.search(r"(\d+) sent", r.out).group(1))
        assert 3 <= sent <= 7, r.out  # 5 on time; fewer when the machine is loaded
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind((LO, 0))
    # Linux's values where Python's socket module lacks the names.
    ip_recvtos = getattr(socket, "IP_RECVTOS", 13)
    ip_recvttl = getattr(socket, "IP_RECVTTL", 12)
    rx.setsockopt(socket.IPPROTO_IP, ip_recvtos, 1)
    rx.setsockopt(socket.IPPROTO_IP, ip_recvttl, 1)
    rx.settimeout(5)
    try:
        r = ping("--udp", "-c", "1", "-W", "0.3", "-I", "127.0.0.7", "-Q", "0x28",
                 "-t", "9", target(rx.getsockname()[1]))
        data, anc, _, src = rx.recvmsg(65536, 256)
    finally:
        rx.close()
    assert r.code == 1, r.describe()   # nobody answers
    got = {(lvl, typ): d for lvl, typ, d in anc}
    assert src[0] == "127.0.0.7", src
    assert got[(socket.IPPROTO_IP, socket.IP_TOS)][0] == 0x28, anc
    assert struct.unpack("i", got[(socket.IPPROTO_IP, socket.IP_TTL)][:4])[0] == 9, anc
    r = ping("-c", "1", "-I", "192.0.2.1", LO)
    assert r.code == 2 and "cannot use the source address" in r.err, r.describe()

"""Integration tests for STAMP (RFC 8762) and RFC 862 echo in tsecho.

The contract: `tsecho server --stamp/--stamp-stateful/--stamp-rate/--echo`
(its --help), docs/ping.md (section STAMP, --stamp and --echo, JSON schema
1), docs/bench.md, and the packet layouts of RFC 8762 4.2.1 and 4.3.1
(/work/shared/reference/stamp-rfc8762.md).  Peers: hand-built packets over
real UDP, and small Python reflectors (harness.StampPeer).  Tests assert
behaviour and structure, never latencies; every wait is bounded.
"""

import json
import math
import os
import random
import re
import select
import signal
import socket
import struct
import threading
import time

from harness import (EE_Z, IO_TIMEOUT_S, STAMP_BASE_LEN, Server, SkipTest,
                     StampPeer, build_frame, check_reply, have_ipv6_loopback,
                     ntp_to_unix_ns, parse_stamp_reflector,
                     recv_exact, require_binary, rss_kb, run_tsecho, stamp_sender_packet,
                     tcp_connect,
                     text_exchange, udp_socket)

LO = "127.0.0.1"
NO_REPLY_S = 0.3            # how long a dropped packet is waited for
NEAR_NOW_S = 5              # server times must be this close to ours

SUMMARY_RE = re.compile(
    r"^summary: connections (\d+), rejected (\d+), messages (\d+), "
    r"bytes in (\d+), bytes out (\d+), errors (\d+), uptime (\d+(?:\.\d+)?) s$")
JSON_KEYS = {"schema", "tsecho_version", "mode", "transport", "target", "size",
             "interval_ms", "synced", "packets", "duration_ms", "rtt_ms",
             "net_rtt_ms", "residence_ms", "residence_from", "jitter_ms",
             "jitter_run_ms", "offset_ms", "one_way_ms", "breakdown_ms"}
PACKET_KEYS = {"sent", "received", "lost", "loss_pct", "duplicates",
               "reordered", "lost_forward", "lost_backward"}
MMM_KEYS = {"min", "mean", "max"}
ROUND_MS = 0.002


def stamp_server(*args, listen=LO):
    """A server with a STAMP reflector on a free port (plus args)."""
    return Server("--stamp=0", *args, listen=listen)


def target(port, host=LO):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) \
        and math.isfinite(x)


# ------------------------------------------------------------ raw exchanges

def stamp_send(sock, addr, pkt, timeout=IO_TIMEOUT_S):
    """Sends pkt to addr and returns the reply datagram, or None when none
    came within timeout.  Every reply is checked not to be larger than
    what was sent (a reflector must not amplify)."""
    sock.sendto(pkt, addr)
    return stamp_recv(sock, len(pkt), timeout)


def stamp_recv(sock, sent_len, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(70000)
        except socket.timeout:
            return None
        assert len(data) <= sent_len, \
            "reply of %d octets to a %d-octet packet: %r" % (
                len(data), sent_len, data[:64])
        return data


def expect_no_reply(sock, addr, pkt, what):
    reply = stamp_send(sock, addr, pkt, NO_REPLY_S)
    assert reply is None, "%s: want no reply, got %d octets: %r" % (
        what, len(reply), reply[:64])


def check_near_now(ntp, what, now_ns=None):
    now_ns = time.time_ns() if now_ns is None else now_ns
    t = ntp_to_unix_ns(ntp)
    assert abs(t - now_ns) < NEAR_NOW_S * 10**9, \
        "%s = %#x (%.6f) is not within %d s of now (%.6f)" % (
            what, ntp, t / 1e9, NEAR_NOW_S, now_ns / 1e9)


def check_reflection(reply, sent, seq=None, what="reply"):
    """The reflector packet reply answers the sender packet sent (RFC 8762
    4.3.1): sender fields copied, T2 <= T3 near now, MBZ zero, own EE valid,
    symmetric size with octets from 44 unchanged.  Returns its fields."""
    assert reply is not None, "%s: no reply" % what
    assert len(reply) == len(sent), "%s: %d octets for a %d-octet packet" % (
        what, len(reply), len(sent))
    r = parse_stamp_reflector(reply)
    s_seq, s_t1, s_ee, s_ssid = struct.unpack_from(">IQHH", sent)
    assert r["sender_seq"] == s_seq, "%s: sender seq %d at 24, want %d" % (
        what, r["sender_seq"], s_seq)
    assert r["sender_t1"] == s_t1, "%s: sender timestamp %#x at 28, want %#x" % (
        what, r["sender_t1"], s_t1)
    assert r["sender_ee"] == s_ee, "%s: sender EE %#06x at 36, want %#06x" % (
        what, r["sender_ee"], s_ee)
    assert r["ssid"] == s_ssid, "%s: SSID %#06x at 14, want %#06x (RFC 8972)" % (
        what, r["ssid"], s_ssid)
    want_seq = s_seq if seq is None else seq
    assert r["seq"] == want_seq, "%s: seq %d at 0, want %d" % (
        what, r["seq"], want_seq)
    assert r["ee"] & 0xff != 0, "%s: reflector EE %#06x has multiplier 0" % (
        what, r["ee"])
    assert not r["ee"] & EE_Z, "%s: reflector EE %#06x says PTP, want NTP " \
        "(the default, RFC 8762 4.2.1)" % (what, r["ee"])
    check_near_now(r["t2"], what + ": T2 (receive timestamp, 16)")
    check_near_now(r["t3"], what + ": T3 (timestamp, 4)")
    assert r["t3"] >= r["t2"], "%s: T3 %#x before T2 %#x" % (
        what, r["t3"], r["t2"])
    assert r["mbz38"] == 0, "%s: MBZ 38-39 = %#06x" % (what, r["mbz38"])
    assert r["mbz41"] == b"\0\0\0", "%s: MBZ 41-43 = %r" % (what, r["mbz41"])
    assert r["rest"] == sent[STAMP_BASE_LEN:], \
        "%s: octets from 44 changed: %r, sent %r" % (
            what, r["rest"][:32], sent[STAMP_BASE_LEN:][:32])
    return r


# ------------------------------------------------------------ ping JSON

def ping(*args, timeout=15):
    return run_tsecho("ping", *args, timeout=timeout)


def ping_json(r, what):
    assert r.code == 0, "%s: %s" % (what, r.describe())
    try:
        doc = json.loads(r.out)
    except ValueError as e:
        raise AssertionError("%s: stdout is not one JSON document (%s): %s"
                             % (what, e, r.describe()))
    assert isinstance(doc, dict) and set(doc) == JSON_KEYS, \
        "%s: keys missing %r, unexpected %r" % (
            what, sorted(JSON_KEYS - set(doc)), sorted(set(doc) - JSON_KEYS))
    p = doc["packets"]
    assert isinstance(p, dict) and set(p) == PACKET_KEYS, (what, p)
    assert p["lost"] == p["sent"] - p["received"], (what, p)
    return doc


def check_mmm(d, what, signed=False):
    assert isinstance(d, dict) and set(d) == MMM_KEYS, "%s: %r" % (what, d)
    assert all(is_num(d[k]) for k in MMM_KEYS), "%s: %r" % (what, d)
    assert d["min"] <= d["mean"] + ROUND_MS <= d["max"] + 2 * ROUND_MS, \
        "%s: not min <= mean <= max: %r" % (what, d)
    if not signed:
        assert d["min"] >= 0, "%s: negative: %r" % (what, d)


def check_stamp_json(doc, what, sent, received, size=STAMP_BASE_LEN):
    """docs/ping.md: --stamp fills every figure of the binary protocol."""
    assert doc["schema"] == 1, (what, doc["schema"])
    assert doc["mode"] == "stamp", "%s: mode %r" % (what, doc["mode"])
    assert doc["transport"] == "udp", "%s: transport %r" % (what, doc["transport"])
    assert doc["size"] == size, "%s: size %r, want %d" % (what, doc["size"], size)
    p = doc["packets"]
    assert p["sent"] == sent and p["received"] == received, \
        "%s: packets %r, want %d sent, %d received" % (what, p, sent, received)
    rtt = doc["rtt_ms"]
    assert isinstance(rtt, dict) and all(is_num(v) and v >= 0
                                         for v in rtt.values()), (what, rtt)
    assert rtt["min"] <= rtt["p50"] <= rtt["max"], (what, rtt)
    check_mmm(doc["net_rtt_ms"], what + ": net_rtt_ms")
    check_mmm(doc["residence_ms"], what + ": residence_ms")
    # STAMP's T2 is the reflector's kernel receive timestamp.
    assert doc["residence_from"] == "kernel", (what, doc["residence_from"])
    assert doc["net_rtt_ms"]["min"] <= rtt["min"] + ROUND_MS, \
        "%s: net rtt min %r above rtt min %r" % (what, doc["net_rtt_ms"], rtt)
    off = doc["offset_ms"]
    assert isinstance(off, dict) and set(off) == {"estimate", "bound"}, \
        "%s: offset_ms %r" % (what, off)
    assert is_num(off["estimate"]) and is_num(off["bound"]) and off["bound"] >= 0, \
        "%s: offset_ms %r" % (what, off)
    ow = doc["one_way_ms"]
    assert isinstance(ow, dict) and set(ow) == {"forward", "backward", "bound"}, \
        "%s: one_way_ms %r" % (what, ow)
    check_mmm(ow["forward"], what + ": one_way_ms.forward", signed=True)
    check_mmm(ow["backward"], what + ": one_way_ms.backward", signed=True)
    j = doc["jitter_ms"]
    assert isinstance(j, dict) and all(is_num(j[k]) and j[k] >= 0
                                       for k in ("rtt", "forward", "backward")), \
        "%s: jitter_ms %r" % (what, j)


def check_sender_packets(pkts, count, what):
    """What a Python reflector received from `tsecho ping --stamp`: count
    44-octet sender packets (RFC 8762 4.2.1), seq 0.., T1 (NTP) near now,
    a valid EE, MBZ (16..43; 14-15 may be an SSID) zero."""
    assert len(pkts) == count, "%s: reflector got %d packets, want %d" % (
        what, len(pkts), count)
    for i, pkt in enumerate(pkts):
        assert len(pkt) == STAMP_BASE_LEN, "%s: sender packet %d is %d " \
            "octets, want 44" % (what, i, len(pkt))
        seq, t1, ee = struct.unpack_from(">IQH", pkt)
        assert seq == i, "%s: sender seq %d, want %d (from 0)" % (what, seq, i)
        assert ee & 0xff, "%s: sender EE %#06x has multiplier 0" % (what, ee)
        if not ee & EE_Z:
            check_near_now(t1, "%s: sender T1 of seq %d" % (what, seq))
        assert pkt[16:] == b"\0" * 28, "%s: sender MBZ not zero: %r" % (
            what, pkt[16:])


# ------------------------------------------------------------ reflector

def test_stamp_reflector_packet_format():
    with stamp_server() as srv, udp_socket(LO) as s:
        addr = (LO, srv.stamp_port)
        sent = stamp_sender_packet(7, ssid=0x1234, ee=0x0001)
        before = time.time_ns()
        reply = stamp_send(s, addr, sent)
        after = time.time_ns()
        r = check_reflection(reply, sent, seq=7, what="seq 7")
        t2, t3 = ntp_to_unix_ns(r["t2"]), ntp_to_unix_ns(r["t3"])
        # One clock on both ends: T2..T3 inside our send..receive, give or
        # take a millisecond of timestamp rounding.
        assert before - 10**6 <= t2 <= t3 <= after + 10**6, \
            "T2 %d, T3 %d outside [%d, %d]" % (t2, t3, before, after)
        # And once more with another seq and no SSID.
        sent = stamp_sender_packet(0xfffffffe, ssid=0)
        check_reflection(stamp_send(s, addr, sent), sent, what="seq 2^32-2")


def test_stamp_ttl_copied_ipv4():
    with stamp_server() as srv, udp_socket(LO) as s:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 200)
        sent = stamp_sender_packet(1)
        r = check_reflection(stamp_send(s, (LO, srv.stamp_port), sent), sent)
        assert r["ttl"] == 200, "octet 40 (Ses-Sender TTL) is %d, sent with " \
            "TTL 200" % r["ttl"]
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 37)
        sent = stamp_sender_packet(2)
        r = check_reflection(stamp_send(s, (LO, srv.stamp_port), sent), sent)
        assert r["ttl"] == 37, "octet 40 is %d, sent with TTL 37" % r["ttl"]


def test_stamp_hop_limit_copied_ipv6():
    if not have_ipv6_loopback():
        raise SkipTest("no IPv6 loopback")
    with stamp_server(listen="::1") as srv, udp_socket("::1") as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 150)
        sent = stamp_sender_packet(3, ssid=0xbeef)
        r = check_reflection(stamp_send(s, ("::1", srv.stamp_port), sent),
                             sent, what="IPv6")
        assert r["ttl"] == 150, "octet 40 (Ses-Sender TTL) is %d, sent with " \
            "hop limit 150" % r["ttl"]


def test_stamp_symmetric_size():
    with stamp_server() as srv, udp_socket(LO) as s:
        addr = (LO, srv.stamp_port)
        pattern = bytes((i * 7 + 3) & 0xff for i in range(156))
        sent = stamp_sender_packet(5, size=200, tail=pattern)
        assert len(sent) == 200 and sent[44:] == pattern
        r = check_reflection(stamp_send(s, addr, sent), sent, what="200 octets")
        assert r["rest"] == pattern, "octets 44..199 changed"
        # A TWAMP-Light sender packet of 41 octets (RFC 5357 4.1.2: 14 + 27
        # of padding): answered with as many octets, 0-40 laid out as ever.
        sent = stamp_sender_packet(6, size=41)
        reply = stamp_send(s, addr, sent)
        assert reply is not None, "no reply to a 41-octet TWAMP-Light packet"
        assert len(reply) == 41, "%d-octet reply to 41 octets" % len(reply)
        seq, _t3, ee, _ssid, t2, s_seq, s_t1, s_ee, mbz, ttl = struct.unpack(
            ">IQHHQIQHHB", reply)
        want_seq, want_t1, want_ee = struct.unpack_from(">IQH", sent)
        assert (seq, s_seq, s_t1, s_ee) == (want_seq, want_seq, want_t1, want_ee), \
            "41-octet reply: seq, sender seq, T1, EE %r, want %r" % (
                (seq, s_seq, s_t1, s_ee), (want_seq, want_seq, want_t1, want_ee))
        assert ee & 0xff and mbz == 0 and ttl > 0, (ee, mbz, ttl)
        check_near_now(t2, "T2 of the 41-octet reply")


def test_stamp_short_and_garbage_dropped():
    rng = random.Random(8762)
    with stamp_server() as srv, udp_socket(LO) as s:
        addr = (LO, srv.stamp_port)
        good = stamp_sender_packet(1)
        check_reflection(stamp_send(s, addr, good), good, what="first")
        expect_no_reply(s, addr, stamp_sender_packet(2, size=40), "40 octets")
        expect_no_reply(s, addr, stamp_sender_packet(3, size=14), "14 octets")
        expect_no_reply(s, addr, b"", "empty datagram")
        expect_no_reply(s, addr, stamp_sender_packet(4, ee=0x0000),
                        "sender EE with multiplier 0")
        expect_no_reply(s, addr, stamp_sender_packet(4, ee=0xbf00),
                        "sender EE 0xbf00 (S, scale 63, multiplier 0)")
        # Garbage whose EE multiplier (octet 13) is 0: corrupt (RFC 4656
        # 4.1.2); a burst, then one wait for anything at all.
        for _ in range(20):
            junk = bytearray(rng.randbytes(rng.randint(44, 100)))
            junk[13] = 0
            s.sendto(bytes(junk), addr)
        reply = stamp_recv(s, 100, 2 * NO_REPLY_S)
        assert reply is None, "reply to garbage: %r" % reply[:64]
        for seq in (10, 11):
            good = stamp_sender_packet(seq)
            check_reflection(stamp_send(s, addr, good), good,
                             what="good packet after bad ones")


# ------------------------------------------------------------ stateful

def test_stamp_stateful_sessions():
    with stamp_server("--stamp-stateful") as srv, \
            udp_socket(LO) as a, udp_socket(LO) as b:
        addr = (LO, srv.stamp_port)
        a.bind((LO, 0))
        b.bind((LO, 0))
        assert a.getsockname()[1] != b.getsockname()[1]
        for i, sender_seq in enumerate((10, 11, 12)):
            for name, sock in (("a", a), ("b", b)):
                sent = stamp_sender_packet(sender_seq)
                check_reflection(stamp_send(sock, addr, sent), sent, seq=i,
                                 what="stateful session %s, sender seq %d"
                                 % (name, sender_seq))


def test_stamp_stateless_is_default():
    """Without --stamp-stateful the seq is copied, whatever came before."""
    with stamp_server() as srv, udp_socket(LO) as s:
        for seq in (10, 11, 5, 1000):
            sent = stamp_sender_packet(seq)
            check_reflection(stamp_send(s, (LO, srv.stamp_port), sent), sent,
                             seq=seq, what="stateless seq %d" % seq)


# ------------------------------------------------------------ rate limit

def test_stamp_rate_limit():
    with stamp_server("--stamp-rate", "50") as srv, udp_socket(LO) as s:
        addr = (LO, srv.stamp_port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        pkts = [stamp_sender_packet(i) for i in range(300)]
        t0 = time.monotonic()
        for p in pkts:
            s.sendto(p, addr)
        burst_s = time.monotonic() - t0
        replies = []
        while True:
            r = stamp_recv(s, STAMP_BASE_LEN, 0.5)
            if r is None:
                break
            replies.append(r)
            assert len(replies) <= 300, "more replies than packets"
        # A burst of one second's worth (50), plus what refills while we
        # send, plus slack.
        assert len(replies) <= 60 + 50 * burst_s, \
            "%d replies to a burst of 300 at --stamp-rate 50 (burst took " \
            "%.3f s)" % (len(replies), burst_s)
        assert len(replies) >= 40, "only %d replies to a burst of 300 at " \
            "--stamp-rate 50" % len(replies)
        for r in replies:
            parse_stamp_reflector(r)
        # Still responsive: the bucket refills (50/s), and the binary
        # protocol on the main port is not limited by STAMP's rate.
        time.sleep(0.2)
        with udp_socket(LO) as s2:
            sent = stamp_sender_packet(1000)
            check_reflection(stamp_send(s2, addr, sent), sent,
                             what="after the burst")
            frame = build_frame(seq=1, t1=time.time_ns())
            s2.sendto(frame, (LO, srv.udp_port))
            s2.settimeout(IO_TIMEOUT_S)
            check_reply(frame, s2.recvfrom(70000)[0])


# ------------------------------------------------------------ ping --stamp

def test_stamp_ping_end_to_end():
    with stamp_server() as srv:
        tgt = target(srv.stamp_port)
        doc = ping_json(ping("--stamp", "-c", "5", "-i", "0.05", "--json", tgt),
                        "ping --stamp")
        check_stamp_json(doc, "ping --stamp", 5, 5)
        p = doc["packets"]
        assert p["lost_forward"] is None and p["lost_backward"] is None, \
            "stateless reflector, yet a loss split: %r" % p
        assert doc["target"] == tgt, (doc["target"], tgt)
        # Text output: one line per reply, the STAMP summary header.
        r = ping("--stamp", "-c", "3", "-i", "0.05", tgt)
        assert r.code == 0, r.describe()
        lines = r.out.splitlines()
        replies = [l for l in lines if re.match(r"^\d+ bytes from \S+: seq=\d+ ", l)]
        assert len(replies) == 3, "want 3 reply lines: %s" % r.describe()
        assert any(re.match(r"^3 sent, 3 received, 0\.0% loss", l) for l in lines), \
            r.describe()
        assert not any(l.startswith("lost forward") for l in lines), r.describe()


def test_stamp_ping_ipv6():
    if not have_ipv6_loopback():
        raise SkipTest("no IPv6 loopback")
    with stamp_server(listen="::1") as srv:
        tgt = target(srv.stamp_port, "::1")
        doc = ping_json(ping("--stamp", "-c", "5", "-i", "0.05", "--json", tgt),
                        "ping --stamp over IPv6")
        check_stamp_json(doc, "ping --stamp [::1]", 5, 5)
        assert doc["packets"]["lost_forward"] is None, doc["packets"]


def test_stamp_ping_stateful_server():
    """Against tsecho's own stateful reflector with no loss: all answered,
    and (no forward loss seen) no split."""
    with stamp_server("--stamp-stateful") as srv:
        doc = ping_json(ping("--stamp", "-c", "5", "-i", "0.02", "--json",
                             target(srv.stamp_port)), "ping --stamp stateful")
        check_stamp_json(doc, "ping --stamp stateful", 5, 5)
        assert doc["packets"]["lost"] == 0, doc["packets"]


def test_stamp_ping_loss_split():
    what = "ping --stamp against a stateful reflector losing 2 of 10"
    args = ("--stamp", "-c", "10", "-i", "0.02", "-W", "0.3")
    with StampPeer(stateful=True, drop={3}, mute={6}) as peer:
        r = ping(*args, "--json", target(peer.port))
        doc = ping_json(r, what)
        p = doc["packets"]
        assert p["sent"] == 10 and p["received"] == 8 and p["lost"] == 2, \
            "%s: packets %r" % (what, p)
        assert p["lost_forward"] == 1 and p["lost_backward"] == 1, \
            "%s: lost_forward %r, lost_backward %r, want 1 and 1: %r" % (
                what, p["lost_forward"], p["lost_backward"], p)
        check_stamp_json(doc, what, 10, 8)
        check_sender_packets(peer.received, 10, what)
    with StampPeer(stateful=True, drop={3}, mute={6}) as peer:
        r = ping(*args, target(peer.port))
        assert r.code == 0, r.describe()
        lines = r.out.splitlines()
        assert "lost forward 1, backward 1 (stateful reflector)" in lines, \
            "%s: no line 'lost forward 1, backward 1 (stateful reflector)': " \
            "%s" % (what, r.describe())
        assert any(re.match(r"^10 sent, 8 received, 20\.0% loss", l)
                   for l in lines), r.describe()


def test_stamp_ping_twamp_light_reflector():
    what = "ping --stamp against a TWAMP-Light reflector"
    with StampPeer(kind="twamp") as peer:
        doc = ping_json(ping("--stamp", "-c", "3", "-i", "0.05", "--json",
                             target(peer.port)), what)
        check_stamp_json(doc, what, 3, 3)
        assert doc["rtt_ms"]["max"] > 0, "%s: rtt %r" % (what, doc["rtt_ms"])
        assert doc["packets"]["lost_forward"] is None, doc["packets"]
        check_sender_packets(peer.received, 3, what)
        # The peer counts a reply after sending it: ping may have read the
        # third before the peer's thread got that far.
        deadline = time.monotonic() + 2.0
        while peer.replies < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert peer.replies == 3, peer.replies


# ------------------------------------------------------------ bench --stamp

def test_stamp_bench():
    with stamp_server("--stamp-rate", "0") as srv:
        r = run_tsecho("bench", "--stamp", "-c", "4", "-t", "1s", "--json",
                       target(srv.stamp_port), timeout=15)
        assert r.code == 0, r.describe()
        try:
            doc = json.loads(r.out)
        except ValueError as e:
            raise AssertionError("bench --json: not JSON (%s): %s"
                                 % (e, r.describe()))
        assert doc.get("mode") == "stamp", "bench mode %r, want 'stamp'" % (
            doc.get("mode"),)
        assert doc.get("transport") == "udp", doc.get("transport")
        assert isinstance(doc.get("messages"), int) and doc["messages"] > 0, \
            "bench --stamp: messages %r" % doc.get("messages")
        lat = doc.get("latency_ms")
        assert isinstance(lat, dict) and is_num(lat.get("max")), lat


# ------------------------------------------------------------ echo

def echo_server():
    return Server("--echo=0")


def test_echo_tcp_and_udp_roundtrip():
    rng = random.Random(862)
    with echo_server() as srv:
        assert srv.echo_addrs["echo-udp"], srv.describe()
        data = rng.randbytes(10 * 1024)
        with tcp_connect(LO, srv.echo_port) as s:
            s.sendall(data)
            got = recv_exact(s, len(data))
            assert got == data, "TCP echo differs at octet %d" % next(
                i for i in range(len(data)) if got[i] != data[i])
        udp_port = srv.echo_addrs["echo-udp"][0][1]
        with udp_socket(LO) as u:
            for size in (1, 100, 1400):
                dgram = rng.randbytes(size)
                u.sendto(dgram, (LO, udp_port))
                got, _ = u.recvfrom(70000)
                assert got == dgram, "UDP echo of %d octets came back as %d: %r" % (
                    size, len(got), got[:32])


def test_echo_ping():
    with echo_server() as srv:
        udp_port = srv.echo_addrs["echo-udp"][0][1]
        for transport, port in (("tcp", srv.echo_port), ("udp", udp_port)):
            extra = ("--udp",) if transport == "udp" else ()
            what = "ping --echo %s" % transport
            doc = ping_json(ping("--echo", *extra, "-c", "3", "-i", "0.05",
                                 "--json", target(port)), what)
            assert doc["mode"] == "echo", (what, doc["mode"])
            assert doc["transport"] == transport, (what, doc["transport"])
            assert doc["packets"]["received"] == 3, (what, doc["packets"])
            r = ping("--echo", *extra, "-c", "3", "-i", "0.05", target(port))
            assert r.code == 0, r.describe()
            assert re.search(r"^3 sent, 3 received", r.out, re.M), r.describe()


def is_sanitized():
    """True when the binary is an ASan build (its quarantine makes RSS say
    nothing about buffering)."""
    with open(require_binary(), "rb") as f:
        return b"__asan_init" in f.read()


def test_echo_backpressure():
    """A client that sends 5 MB to the echo port and reads nothing must not
    stall the server: others keep being answered on the main port and on
    the echo port, the server does not hold the hog's bytes in its own
    memory (docs/server.md: --max-output, then it stops reading), and they
    all come back, in order, once the hog reads."""
    total = 5 * 1024 * 1024
    data = os.urandom(total)
    check_rss = not is_sanitized()
    with echo_server() as srv:
        rss_before = rss_kb(srv.pid)
        hog = tcp_connect(LO, srv.echo_port)
        hog.setblocking(False)
        state = {"sent": 0, "last_progress": time.monotonic(), "error": None}
        stop = threading.Event()

        def push():
            try:
                while state["sent"] < total and not stop.is_set():
                    _, w, _ = select.select([], [hog], [], 0.1)
                    if not w:
                        continue
                    n = hog.send(data[state["sent"]:state["sent"] + 65536])
                    state["sent"] += n
                    state["last_progress"] = time.monotonic()
            except OSError as e:
                state["error"] = e

        t = threading.Thread(target=push, daemon=True)
        t.start()
        try:
            # Let the hog fill every buffer on the way (or finish).
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and state["sent"] < total and \
                    time.monotonic() - state["last_progress"] < 0.3:
                time.sleep(0.05)
            assert state["error"] is None, state["error"]
            stalled_at = state["sent"]
            # What the kernel does not hold waits in the hog's send buffer,
            # not in the server: its output cap is 256k by default.
            grown_kb = rss_kb(srv.pid) - rss_before
            if check_rss:
                assert grown_kb < 4096, "server RSS grew by %d kB while a " \
                    "client sent %d bytes without reading" % (grown_kb,
                                                               stalled_at)
            udp_port = srv.echo_addrs["echo-udp"][0][1]
            with tcp_connect(LO, srv.tcp_port) as main, \
                    tcp_connect(LO, srv.echo_port) as echo, \
                    udp_socket(LO) as u:
                for i in range(10):
                    text_exchange(main, b"still here %d\n" % i, timeout=2)
                    msg = b"echo %d" % i
                    echo.sendall(msg)
                    assert recv_exact(echo, len(msg), timeout=2) == msg
                    u.sendto(msg, (LO, udp_port))
                    u.settimeout(2)
                    assert u.recvfrom(100)[0] == msg
            # Now the hog reads: everything it sent comes back, in order.
            got = bytearray()
            deadline = time.monotonic() + 20
            while len(got) < total:
                left = deadline - time.monotonic()
                assert left > 0, "hog got %d of %d bytes back (had sent %d " \
                    "when stalled, %d now)" % (len(got), total, stalled_at,
                                                state["sent"])
                r, _, _ = select.select([hog], [], [], min(left, 0.5))
                if r:
                    chunk = hog.recv(1 << 20)
                    assert chunk, "echo closed the hog after %d bytes" % len(got)
                    got += chunk
            assert bytes(got) == data, "the hog's echo differs"
            assert state["error"] is None, state["error"]
        finally:
            stop.set()
            t.join(3)
            hog.close()


# ------------------------------------------------------------ summary, help

def test_stamp_counted_in_summary():
    with stamp_server() as srv:
        answered = 0
        with udp_socket(LO) as s:
            for seq in range(20):
                sent = stamp_sender_packet(seq)
                check_reflection(stamp_send(s, (LO, srv.stamp_port), sent), sent)
                answered += 1
        code = srv.stop(signal.SIGTERM)
        assert code == 0, "exit %r after SIGTERM; %s" % (code, srv.describe())
        found = [m for m in map(SUMMARY_RE.match, srv.lines()) if m]
        assert len(found) == 1, "want one summary line: %s" % srv.describe()
        messages = int(found[0].group(3))
        assert messages >= answered, "summary counts %d messages after %d " \
            "STAMP exchanges: %s" % (messages, answered, srv.lines()[-1])


def test_stamp_options_in_help():
    r = run_tsecho("server", "--help")
    assert r.code == 0, r.describe()
    for opt in ("--stamp", "--stamp-stateful", "--stamp-rate", "--stamp-batch",
                "--echo"):
        assert opt in r.out, "server --help does not mention %s" % opt
    for cmd in ("ping", "bench"):
        r = run_tsecho(cmd, "--help")
        assert r.code == 0, r.describe()
        assert "--stamp" in r.out, "%s --help does not mention --stamp " \
            "(docs/ping.md and docs/bench.md list it); its options: %r" % (
                cmd, [l.split()[0] for l in r.out.splitlines()
                      if l.startswith("  ")])

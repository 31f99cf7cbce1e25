"""The io_uring engine's own cases: a ring with few, small buffers under
many clients, frames split across buffers and reads, a peer that never
reads, ten thousand connections, and the fallback when seccomp denies
io_uring.  The server suites run on io_uring as the default engine."""

import os
import random
import select
import socket
import struct
import subprocess
import time

from harness import (HDR_LEN, TYPE_REPLY, SkipTest, Server, build_ext, build_frame,
                     check_reply, parse_frame, raise_nofile, recv_frame, require_binary,
                     rss_kb, run_cli, tcp_connect, text_exchange, wait_eof)

LO = "127.0.0.1"

DENY = os.path.join(os.environ.get("TSECHO_BUILDDIR", "."), "tests", "helpers", "deny")


def require_uring():
    """Skips unless this build and kernel run the io_uring engine."""
    code, out, err = run_cli("server", "--engine", "io_uring", "--help")
    if code != 0:
        raise SkipTest("this build has no io_uring engine")
    with Server("--engine", "io_uring", "--no-udp") as srv:
        assert srv.lines()[0].startswith("engine io_uring "), srv.lines()[:1]


def uring_server(*args, **kw):
    return Server("--engine", "io_uring", "--no-udp", *args, **kw)


def probes(first_seq, n, size):
    """n probes of size bytes with consecutive sequence numbers, each with a
    payload of its own (a reply stamped from another's buffer shows)."""
    out = []
    for i in range(n):
        seq = first_seq + i
        pad = bytes((seq + k) & 0xFF for k in range(size - HDR_LEN))
        out.append(build_frame(seq=seq, t1=time.time_ns(), payload=pad))
    return out


def all_at_once(srv, clients, count, size):
    """clients connections each write count probes of size bytes in one
    go, all before any reply is read; then every reply is read and checked,
    in order, within 20 s."""
    socks = [tcp_connect(LO, srv.tcp_port) for _ in range(clients)]
    try:
        sent = {}
        for i, s in enumerate(socks):
            sent[s] = probes(i * count, count, size)
            s.sendall(b"".join(sent[s]))
        deadline = time.monotonic() + 20
        for s in socks:
            read_replies(s, sent[s], deadline)
    finally:
        for s in socks:
            s.close()


def read_replies(sock, sent, deadline):
    """Reads one reply per probe in sent, in order, and checks each."""
    for p in sent:
        left = deadline - time.monotonic()
        assert left > 0, "replies did not come in time"
        r = recv_frame(sock, timeout=left)
        check_reply(p, r["raw"])


def test_engine_line_names_the_setup():
    """The first line names the ring and its buffers as set."""
    require_uring()
    with uring_server("--uring-buffers", "8", "--uring-buffer-size", "512",
                      "--busy-poll=20us") as srv:
        first = srv.lines()[0]
        assert "8 x 512-byte provided buffers" in first, first
        assert "busy poll on (20 us)" in first, first
        assert "CQ entries" in first, first


def test_engine_options_refused_where_they_mean_nothing():
    """Bad ring sizes and --busy-poll on a readiness engine: one line, exit 2."""
    for args, want in ((("--uring-buffers", "1000"), "power of two"),
                       (("--uring-buffer-size", "10"), "64..1m"),
                       (("--busy-poll=2s",), "1ns..1s"),
                       (("--zerocopy", "maybe"), "auto, on or off"),
                       (("--engine", "epoll", "--busy-poll"), "needs the io_uring engine")):
        code, out, err = run_cli("server", "-p", "0", *args)
        assert code == 2 and want in err and len(err.splitlines()) == 1, (args, code, err)


def test_tiny_ring_many_clients():
    """200 clients at once on a ring of 4 buffers of 256 bytes: each sends 10
    probes of 100 bytes in one write (so frames straddle buffers and the
    ring runs dry), and gets every reply, correct and in order."""
    require_uring()
    raise_nofile(1024)
    with uring_server("--uring-buffers", "4", "--uring-buffer-size", "256") as srv:
        all_at_once(srv, 200, 10, 100)
        srv.stop()
        summary = [l for l in srv.lines() if l.startswith("summary:")]
        assert summary and "messages 2000," in summary[0], summary


def test_frames_split_across_buffers_and_reads():
    """Frames of 700 bytes through 64-byte buffers, written in pieces of
    random sizes (1 byte to several frames): the replies match the probes."""
    require_uring()
    rng = random.Random(7)
    with uring_server("--uring-buffers", "16", "--uring-buffer-size", "64") as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            sent = probes(1, 30, 700)
            stream = b"".join(sent)
            i = 0
            while i < len(stream):
                k = rng.choice((1, 3, 63, 64, 65, 700, 1500))
                s.sendall(stream[i:i + k])
                i += k
                time.sleep(0.001 if k < 64 else 0)
            read_replies(s, sent, time.monotonic() + 10)
            # And text after binary on a new connection goes the copy path.
        with tcp_connect(LO, srv.tcp_port) as s:
            text_exchange(s, b"hello over a tiny ring\n")


def fill_until_stopped(sock, chunk, limit, seconds):
    """Writes chunk to a non-blocking sock until the server stops reading
    (no room for 0.2 s), limit bytes, or seconds; returns the bytes written."""
    pushed, deadline = 0, time.monotonic() + seconds
    while pushed < limit and time.monotonic() < deadline:
        _, w, _ = select.select([], [sock], [], 0.2)
        if not w:
            break
        try:
            pushed += sock.send(chunk)
        except BlockingIOError:
            pass
    return pushed


def test_never_reading_peers_do_not_stall_others():
    """Six peers send probes and read nothing, on a ring of 4 buffers: a
    send that waited on its peer would hold a ring buffer each and starve
    the ring.  Another peer is still answered at once."""
    require_uring()
    with uring_server("--uring-buffers", "4", "--uring-buffer-size", "1024",
                      "--max-output", "64k") as srv:
        hogs = []
        chunk = b"".join(probes(0, 64, 64))
        try:
            for _ in range(6):
                h = tcp_connect(LO, srv.tcp_port)
                h.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                h.setblocking(False)
                hogs.append(h)
                assert fill_until_stopped(h, chunk, 4 << 20, 5) > 0
            with tcp_connect(LO, srv.tcp_port) as s:
                t0 = time.monotonic()
                for p in probes(9000, 20, 64):
                    s.sendall(p)
                    check_reply(p, recv_frame(s, timeout=2)["raw"])
                assert time.monotonic() - t0 < 5, "the other peer was stalled"
        finally:
            for h in hogs:
                h.close()


def test_ten_thousand_connections():
    """10,000 connections at once, each answered; reports the server's
    user-space memory per idle connection (RSS growth / connections)."""
    require_uring()
    n = 10000
    if raise_nofile(n + 200) < n + 200:
        raise SkipTest("RLIMIT_NOFILE too low for %d connections" % n)
    with uring_server("--max-clients", str(n + 100), "--max-clients-per-source",
                      str(n + 100), "-q", nofile=n + 500) as srv:
        base_kb = rss_kb(srv.pid)
        socks = []
        try:
            deadline = time.monotonic() + 60
            for i in range(n):
                assert time.monotonic() < deadline, "connecting took too long"
                socks.append(tcp_connect(LO, srv.tcp_port))
            # One probe each, all written first, then every reply read.
            frames = [build_frame(seq=i, t1=time.time_ns()) for i in range(n)]
            for s, f in zip(socks, frames):
                s.sendall(f)
            for s, f in zip(socks, frames):
                check_reply(f, recv_frame(s, timeout=max(1, deadline - time.monotonic()))["raw"])
            time.sleep(0.2)
            per_conn = (rss_kb(srv.pid) - base_kb) * 1024 / n
            print("# %d connections answered; server RSS grew %.0f bytes per idle "
                  "connection" % (n, per_conn))
            # The struct and its kernel-side socket are not user memory;
            # this bounds what tsecho itself keeps per connection.
            assert per_conn < 4096, "%.0f bytes per idle connection" % per_conn
        finally:
            for s in socks:
                s.close()


def test_zerocopy_on_keeps_buffers_until_the_kernel_is_done():
    """--zerocopy on over loopback, a ring of 16 buffers: 50 clients send 20
    probes of 1000 bytes at once.  A buffer handed back to the ring before
    the kernel's notification could carry the next receive's bytes out in
    a reply; every reply must be its probe's.  auto and off say so in the
    engine line."""
    require_uring()
    with uring_server("--zerocopy", "on", "--uring-buffers", "16",
                      "--uring-buffer-size", "4096") as srv:
        first = srv.lines()[0]
        if "zerocopy unsupported" in first:
            raise SkipTest("the kernel has no IORING_OP_SEND_ZC")
        assert "zerocopy on" in first, first
        all_at_once(srv, 50, 20, 1000)
    for mode in ("auto", "off"):
        with uring_server("--zerocopy", mode) as srv:
            assert "zerocopy %s" % mode in srv.lines()[0] \
                or "zerocopy unsupported" in srv.lines()[0], srv.lines()[0]


def test_fallback_when_seccomp_denies_io_uring():
    """With io_uring_setup denied (EPERM, as Docker's profile does), the
    default engine says why in one line, runs on epoll and serves; asking
    for io_uring by name fails with exit 1 instead."""
    require_uring()
    if not os.access(DENY, os.X_OK):
        raise SkipTest("tests/helpers/deny not built")
    with Server("--no-udp", wrap=(DENY, "io_uring")) as srv:
        assert srv.lines()[0].startswith("engine epoll "), srv.lines()[:2]
        with tcp_connect(LO, srv.tcp_port) as s:
            p = build_frame(seq=5, t1=time.time_ns())
            s.sendall(p)
            check_reply(p, recv_frame(s)["raw"])
        srv.stop()  # every line read
        why = [l for l in srv.stderr_lines() if "io_uring" in l]
        assert len(why) == 1 and "Operation not permitted" in why[0] \
            and "falling back to epoll" in why[0], srv.stderr_lines()
    r = subprocess.run([DENY, "io_uring", require_binary(), "server", "--engine", "io_uring",
                        "-l", LO, "-p", "0"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "cannot start the io_uring engine" in r.stderr \
        and "Operation not permitted" in r.stderr, r.stderr


# The kernel-timestamp extension (docs/protocol.md): type 1, 32 bytes,
# zeroed by the client; the server's flags (RX, TX, SERVER) and times.
EXT_KTS = 1
KTS_RX, KTS_TX, KTS_SERVER = 1, 2, 4
_KTS = struct.Struct(">IIQQQ")  # flags, reserved, rx_ns, tx_seq, tx_ns


def kt_probe(seq):
    """A probe that asks for kernel timestamps, with a payload of its own."""
    pad = bytes((seq * 7 + k) & 0xFF for k in range(40))
    return build_frame(seq=seq, t1=time.time_ns(), payload=pad,
                       ext=build_ext(EXT_KTS, bytes(_KTS.size)))


def kt_reply(probe, raw):
    """The reply to probe, checked as check_reply does except for the
    extension the server filled in; its fields as a dict."""
    p, r = parse_frame(probe), parse_frame(raw)
    assert len(raw) == len(probe), (len(raw), len(probe))
    assert r["type"] == TYPE_REPLY, "type %d, status %d" % (r["type"], r["status"])
    for k in ("hdr_len", "frame_len", "status", "flags", "seq", "t1", "payload"):
        assert r[k] == p[k], "reply field %s differs: %r != %r" % (k, r[k], p[k])
    assert 0 < r["t2"] <= r["t3"], (r["t2"], r["t3"])
    assert r["ext"][:4] == p["ext"][:4], r["ext"][:4]  # type and length kept
    flags, reserved, rx_ns, tx_seq, tx_ns = _KTS.unpack(r["ext"][4:4 + _KTS.size])
    assert reserved == 0, reserved
    return dict(seq=r["seq"], t2=r["t2"], t3=r["t3"], flags=flags, rx_ns=rx_ns,
                tx_seq=tx_seq, tx_ns=tx_ns)


def test_kernel_timestamps_on_io_uring():
    """--kernel-timestamps on the ring, over TCP: probes one at a time,
    four in one write, and one split across two writes.  Every reply says
    both timestamps are on; each that ends a receive carries the kernel's
    receive time (before t2), the others of a burst none (the kernel gives
    one time per read); from the second on each carries the send time of an earlier reply
    (after that reply's t3).  On loopback the record is there when the send
    completes, so a probe sent after its predecessor's reply names that
    one.  The payloads come back unchanged; end of file closes as ever."""
    require_uring()
    with uring_server("--kernel-timestamps") as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            got = []

            def exchange(frames, writes):
                for w in writes:
                    s.sendall(w)
                    time.sleep(0.02)
                for f in frames:
                    got.append(kt_reply(f, recv_frame(s)["raw"]))

            for seq in (1, 2, 3):
                one = kt_probe(seq)
                exchange([one], [one])
            if got[0]["flags"] == KTS_SERVER and any(
                    "kernel timestamps refused" in l for l in srv.lines() + srv.stderr_lines()):
                raise SkipTest("SO_TIMESTAMPING refused here")
            burst = [kt_probe(seq) for seq in (10, 11, 12, 13)]
            exchange(burst, [b"".join(burst)])
            split = kt_probe(20)
            exchange([split], [split[:30], split[30:]])
            last = kt_probe(21)
            exchange([last], [last])
            s.shutdown(socket.SHUT_WR)
            assert wait_eof(s) == (b"", "eof")
        t3 = {}
        for i, r in enumerate(got):
            assert r["flags"] == KTS_RX | KTS_TX | KTS_SERVER, r
            if r["seq"] in (10, 11, 12):
                assert r["rx_ns"] == 0, r
            else:
                assert 0 < r["rx_ns"] <= r["t2"], r
            if i == 0:
                assert r["tx_seq"] == 0 and r["tx_ns"] == 0, r
            else:
                assert r["tx_seq"] in t3 and r["tx_ns"] >= t3[r["tx_seq"]], (r, t3)
            t3[r["seq"]] = r["t3"]
        by_seq = {r["seq"]: r for r in got}
        # Sent after the reply before it was read: that reply's send time.
        for seq, prev in ((2, 1), (3, 2), (10, 3), (20, 13), (21, 20)):
            assert by_seq[seq]["tx_seq"] == prev, (seq, by_seq[seq])
        # A burst is answered in one send: no reply of it knows another's.
        for seq in (11, 12, 13):
            assert by_seq[seq]["tx_seq"] <= 3, by_seq[seq]


def test_kernel_timestamps_on_a_tiny_ring():
    """With --kernel-timestamps every buffer opens with the receive header:
    200 clients at once on 4 buffers of 256 bytes (the ring runs dry, the
    receives end on -ENOBUFS and are armed again as recvmsg), probes
    straddling buffers, a text exchange, every reply correct and in order.
    Smaller buffers are refused with one line."""
    require_uring()
    raise_nofile(1024)
    with uring_server("--kernel-timestamps", "--uring-buffers", "4",
                      "--uring-buffer-size", "256") as srv:
        all_at_once(srv, 200, 10, 100)
        with tcp_connect(LO, srv.tcp_port) as s:
            frames = [kt_probe(seq) for seq in range(30)]
            s.sendall(b"".join(frames))
            with_rx = 0
            for f in frames:
                r = kt_reply(f, recv_frame(s)["raw"])
                assert r["flags"] == KTS_RX | KTS_TX | KTS_SERVER, r
                # Only a frame that ends a receive has its time.
                assert r["rx_ns"] == 0 or 0 < r["rx_ns"] <= r["t2"], r
                with_rx += r["rx_ns"] > 0
            assert with_rx > 0
        with tcp_connect(LO, srv.tcp_port) as s:
            text_exchange(s, b"hello with kernel timestamps\n")
        srv.stop()
        summary = [l for l in srv.lines() if l.startswith("summary:")]
        assert summary and "messages 2031," in summary[0], summary
    code, out, err = run_cli("server", "--engine", "io_uring", "--kernel-timestamps",
                             "--uring-buffer-size", "128", "-l", LO, "-p", "0")
    assert code == 1 and "--uring-buffer-size 256 or more" in err, (code, err)


def test_kernel_timestamp_extension_auto_and_off():
    """By default (auto) the first probe that asks turns timestamps on:
    its reply says so but has no receive time (the plain receive that read
    it is then replaced by a recvmsg), the next ones have it.  With
    --kernel-timestamps=off the server still knows the extension: flags
    SERVER alone, every time 0, the rest as asked."""
    require_uring()
    with uring_server() as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            replies = []
            for seq in (1, 2, 3):
                f = kt_probe(seq)
                s.sendall(f)
                replies.append(kt_reply(f, recv_frame(s)["raw"]))
        assert all(r["flags"] == KTS_RX | KTS_TX | KTS_SERVER for r in replies), replies
        assert replies[0]["rx_ns"] == 0, replies[0]
        assert all(0 < r["rx_ns"] <= r["t2"] for r in replies[1:]), replies
        assert replies[2]["tx_seq"] == 2 and replies[1]["tx_seq"] == 1, replies
    with uring_server("--kernel-timestamps=off") as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            frames = [kt_probe(seq) for seq in (1, 2, 3)]
            s.sendall(frames[0])
            replies = [kt_reply(frames[0], recv_frame(s)["raw"])]
            s.sendall(b"".join(frames[1:]))
            replies += [kt_reply(f, recv_frame(s)["raw"]) for f in frames[1:]]
        for r in replies:
            assert r["flags"] == KTS_SERVER, r
            assert r["rx_ns"] == r["tx_seq"] == r["tx_ns"] == 0, r

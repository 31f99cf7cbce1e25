"""Integration tests for `tsecho server`: the real binary over real sockets.

The contract under test is the server's command line and stdout (the working
spec docs/server-cli-spec.md, now docs/server.md) and docs/protocol.md.
Tests assert behaviour and structure, never latencies; every wait is bounded.
"""

import errno
import json
import os
import re
import select
import selectors
import signal
import socket
import struct
import subprocess
import time

from harness import (HDR_LEN, IO_TIMEOUT_S, ST_MALFORMED, ST_TOO_BIG,
                     ST_TYPE, ST_VERSION, TIME_PREFIX_MAX, TIME_RE,
                     TYPE_ERROR, TYPE_REPLY, Server, SkipTest, build_ext,
                     build_frame, check_error, check_reply, check_time_field,
                     cpu_seconds, have_ipv6_loopback, parse_frame,
                     raise_nofile, recv_exact, recv_frame, recv_lines, run_cli,
                     seed_path, tcp_connect, tcp_state, text_exchange,
                     text_reply_re, udp_socket, wait_eof)

LO = "127.0.0.1"
ENGINE_RE = re.compile(
    r"^engine (?:(epoll|poll|select) \(readiness loop, level-triggered\)"
    r"|io_uring \(completion ring, \d+ SQ / \d+ CQ entries, \S+, "
    r"\d+ x \d+-byte provided buffers, zerocopy (?:auto|on|off|unsupported), busy poll (?:off|on \(\d+ us\))\))$")
SUMMARY_RE = re.compile(
    r"^summary: connections (\d+), rejected (\d+), messages (\d+), "
    r"bytes in (\d+), bytes out (\d+), errors (\d+), uptime (\d+(?:\.\d+)?) s$")
LISTEN_RE = re.compile(r"^listening on (tcp|udp) (.+):(\d+)$")
SUPPRESSED_RE = re.compile(r"^\((\d+) log lines suppressed\)$")


def probe(seq, payload=b"", ext=b""):
    return build_frame(seq=seq, t1=time.time_ns(), payload=payload, ext=ext)


def probe_exchange(sock, frame, timeout=IO_TIMEOUT_S):
    sock.sendall(frame)
    return check_reply(frame, recv_frame(sock, timeout)["raw"])


def summary_of(srv):
    """The counters of the single summary line, as a dict of ints/floats."""
    found = [m for m in map(SUMMARY_RE.match, srv.lines()) if m]
    assert len(found) == 1, "want one summary line, found %d; %s" % (
        len(found), srv.describe())
    g = found[0].groups()
    keys = ("connections", "rejected", "messages", "bytes_in", "bytes_out",
            "errors")
    out = {k: int(v) for k, v in zip(keys, g)}
    out["uptime"] = float(g[6])
    return out


def log_escape_re(msg):
    """Regex for msg as the log prints it: \\r \\n \\t \\\\ or \\xNN outside
    0x20..0x7e (server-cli-spec.md)."""
    named = {0x0d: r"\\r", 0x0a: r"\\n", 0x09: r"\\t", 0x5c: r"\\\\"}
    parts = []
    for b in msg:
        if b in named:
            parts.append(named[b])
        elif 0x20 <= b <= 0x7e:
            parts.append(re.escape(chr(b)))
        else:
            parts.append(r"\\x(?:%02x|%02X)" % (b, b))
    return "".join(parts)


def udp_exchange(u, addr, data, timeout=2.0):
    u.settimeout(timeout)
    u.sendto(data, addr)
    reply, frm = u.recvfrom(70000)
    assert frm[:2] == addr[:2], "reply from %r, sent to %r" % (frm, addr)
    assert len(reply) <= len(data) + TIME_PREFIX_MAX, \
        "UDP reply of %d bytes to a %d-byte request amplifies" % (
            len(reply), len(data))
    return reply


def udp_no_reply(u, addr, data, why, wait_s=0.4):
    u.sendto(data, addr)
    u.settimeout(wait_s)
    try:
        reply, _ = u.recvfrom(70000)
    except socket.timeout:
        return
    raise AssertionError("%s got a reply: %r" % (why, reply[:80]))


def set_rst_on_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# ------------------------------------------------------------ seed peer

def test_seed_client():
    client = seed_path("client.py")
    with Server() as srv:
        p = subprocess.run(["python3", client, LO, str(srv.tcp_port)],
                           input=b"hello seed\nsecond message\n\n",
                           capture_output=True, timeout=20)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode == 0, "seed client exit %d; stdout %r stderr %r" % (
            p.returncode, out, p.stderr)
        got = []
        for line in out.splitlines():
            while line.startswith("> "):      # input() prompts, no newline
                line = line[2:]
            if line in ("", ">") or line.startswith(("Type messages", "To quit")):
                continue
            m = re.fullmatch(r"(\d+\.\d+):(\d+\.\d+):(\d+\.\d+):(.*)", line)
            assert m, "seed client printed %r, want <t4>:<T>:<t1>:<msg>" % line
            check_time_field(m.group(2).encode())
            got.append(m.group(4))
        assert got == ["hello seed", "second message"], \
            "seed client saw messages %r; stdout %r" % (got, out)


# ------------------------------------------------------------ text protocol

def test_text_lines_and_unterminated_message():
    with Server() as srv, tcp_connect(LO, srv.tcp_port) as s:
        s.sendall(b"a\r\nb\r\n")
        buf = recv_lines(s, 2)
        m = re.fullmatch(b"(" + TIME_RE + b"):a\r\n(" + TIME_RE + b"):b\r\n", buf)
        assert m, "two lines in one send: got %r" % buf
        check_time_field(m.group(1))
        check_time_field(m.group(2))
        assert float(m.group(2)) >= float(m.group(1)), buf
        # The seed client's message: no line ending, answered at once.
        text_exchange(s, b"123.4:hi", timeout=2.0)
        # A line after that is still its own message.
        text_exchange(s, b"third\n", timeout=2.0)


def test_iac_closes_connection():
    with Server() as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            text_exchange(s, b"before quit\r\n")
            s.sendall(b"\xff\xf4\xff\xfd\x06")
            data, _ = wait_eof(s, 5.0)
            assert data == b"", "the 0xFF message got a reply: %r" % data
        # Answers to messages before the 0xFF one are sent, then EOF.
        with tcp_connect(LO, srv.tcp_port) as s:
            s.sendall(b"last line\n\xff\xf4\xff\xfd\x06")
            data, _ = wait_eof(s, 5.0)
            assert re.fullmatch(b"(" + TIME_RE + b"):last line\n", data), \
                "want one reply then EOF, got %r" % data
        # 0xFF as the very first byte of a connection.
        with tcp_connect(LO, srv.tcp_port) as s:
            s.sendall(b"\xff\xf4")
            data, _ = wait_eof(s, 5.0)
            assert data == b"", "the 0xFF message got a reply: %r" % data


def test_text_binary_bytes_echoed_exactly():
    with Server() as srv, tcp_connect(LO, srv.tcp_port) as s:
        msgs = [
            b"\x00\x01\xfe\x80abc\n",                 # first: not 0xC0/0xFF
            b"\xe9t\xe9 \xed\xa0\x80 \xf8\x88\x80\x80\x80\n",  # invalid UTF-8
            b"\xc0\x80 0xC0 later in a text connection is text\n",
            bytes(b for b in range(1, 256) if b != 0x0a) + b"\n",
            b"\x00no newline \x81",
        ]
        for msg in msgs:
            text_exchange(s, msg)
        text_exchange(s, b"still serving\n")


# ------------------------------------------------------------ binary protocol

def test_binary_probe_tcp():
    with Server() as srv, tcp_connect(LO, srv.tcp_port) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        probe_exchange(s, probe(42, os.urandom(1000)))
        probe_exchange(s, probe(43))                        # 48 bytes, no payload
        # Extensions come back unchanged.
        probe_exchange(s, probe(44, b"xyz", ext=build_ext(0x7e57, b"abcde")))
        # The default limit (64k) admits a frame of exactly 64 KiB.
        probe_exchange(s, probe(45, os.urandom(65536 - HDR_LEN)))

        # Pipelined: replies in order.
        frames = [probe(100 + i, os.urandom(n))
                  for i, n in enumerate((0, 1, 100, 1000, 20000, 7))]
        s.sendall(b"".join(frames))
        for f in frames:
            check_reply(f, recv_frame(s)["raw"])

        # One byte at a time: no reply before the last byte, then one.
        f = probe(7, b"slow" * 4)
        for b in f[:-1]:
            s.sendall(bytes([b]))
            time.sleep(0.004)
        s.settimeout(0.3)
        try:
            early = s.recv(100)
        except socket.timeout:
            early = None
        assert early is None, "reply before the probe was complete: %r" % early
        before_last_ns = time.time_ns()
        s.sendall(f[-1:])
        r = check_reply(f, recv_frame(s)["raw"])
        # Same host, same clock: t2 is taken after the last byte was read.
        assert r["t2"] >= before_last_ns - 10**6, \
            "t2 %d precedes the sending of the last byte %d" % (r["t2"], before_last_ns)


def test_binary_oversize_and_bad_frames():
    with Server("--max-message", "1024") as srv, \
            tcp_connect(LO, srv.tcp_port) as other:
        text_exchange(other, b"other 0\n")
        with tcp_connect(LO, srv.tcp_port) as s:
            # Exactly the limit is accepted.
            probe_exchange(s, probe(1, os.urandom(1024 - HDR_LEN)))
        with tcp_connect(LO, srv.tcp_port) as s:
            # Only the header: the error must come without waiting for the body.
            s.sendall(build_frame(seq=77, t1=time.time_ns(), frame_len=4096))
            check_error(recv_exact(s, HDR_LEN, 2.0), ST_TOO_BIG, seq=77)
            data, _ = wait_eof(s, 5.0)
            assert data == b"", "bytes after the error frame: %r" % data[:80]
        text_exchange(other, b"other 1\n")

        cases = [
            ("hdr_len 20", build_frame(seq=5, hdr_len=20), ST_MALFORMED, 5),
            ("hdr_len 50", build_frame(seq=6, hdr_len=50, payload=b"\0" * 4),
             ST_MALFORMED, 6),
            ("hdr_len above frame_len", build_frame(seq=8, hdr_len=52,
                                                     frame_len=48), ST_MALFORMED, 8),
            ("version 2", build_frame(seq=9, version=2), ST_VERSION, None),
            ("client sends a reply", build_frame(type_=TYPE_REPLY, seq=10),
             ST_TYPE, 10),
            ("client sends an error", build_frame(type_=TYPE_ERROR, seq=11),
             ST_TYPE, 11),
        ]
        for i, (what, frame, status, seq) in enumerate(cases):
            with tcp_connect(LO, srv.tcp_port) as s:
                s.sendall(frame)
                try:
                    raw = recv_exact(s, HDR_LEN, 2.0)
                except AssertionError as e:
                    raise AssertionError("%s: %s" % (what, e))
                try:
                    check_error(raw, status, seq)
                except AssertionError as e:
                    raise AssertionError("%s: %s" % (what, e))
                data, _ = wait_eof(s, 5.0)
                assert data == b"", "%s: bytes after the error: %r" % (what, data)
            text_exchange(other, b"other %d\n" % (i + 2))

        # A binary connection whose bytes stop being frames: an error frame
        # (the status is not specified for a bad magic), then EOF.
        for what, first, then in (
                ("bad magic first", b"\xc0TSX" + bytes(44), b""),
                ("text after a probe", probe(3), b"hello\n" + bytes(42))):
            with tcp_connect(LO, srv.tcp_port) as s:
                if then:
                    probe_exchange(s, first)
                    s.sendall(then)
                else:
                    s.sendall(first)
                data, _ = wait_eof(s, 5.0)
                assert len(data) == HDR_LEN, "%s: want one error frame then EOF, " \
                    "got %r" % (what, data)
                e = check_error(data, parse_frame(data)["status"])
                assert e["status"] != 0, "%s: error frame with status 0" % what
        text_exchange(other, b"other last\n")

        # On UDP an oversize frame is dropped, a frame at the limit answered.
        with udp_socket(LO) as u:
            addr = (LO, srv.udp_port)
            udp_no_reply(u, addr, probe(12, bytes(2000)), "a UDP frame above --max-message")
            f = probe(13, bytes(1024 - HDR_LEN))
            check_reply(f, udp_exchange(u, addr, f))


# ------------------------------------------------------------ flow control

def test_slow_reader_does_not_starve_others():
    with Server("--idle-timeout", "2s") as srv, \
            tcp_connect(LO, srv.tcp_port) as b:
        a = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Small client buffers so the flood backs up into the server early.
            a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            a.settimeout(IO_TIMEOUT_S)
            a.connect((LO, srv.tcp_port))
            a_port = a.getsockname()[1]
            a.setblocking(False)
            chunk = (b"x" * 99 + b"\n") * 640         # 64000 bytes of lines
            sent = exchanges = 0
            last_b = blocked_since = closed_by = None
            flood_end = time.monotonic() + 12.0
            while sent < 20_000_000 and time.monotonic() < flood_end:
                now = time.monotonic()
                if last_b is None or now - last_b > 0.25:
                    t0 = time.monotonic()
                    text_exchange(b, b"b %d\n" % exchanges, timeout=2.0)
                    assert time.monotonic() - t0 < 2.0
                    exchanges += 1
                    last_b = time.monotonic()
                try:
                    sent += a.send(chunk)
                    blocked_since = None
                except (ConnectionResetError, BrokenPipeError) as e:
                    # The server may close A at --idle-timeout while A's
                    # last bytes still fit in kernel buffers.
                    closed_by = "%s while flooding" % e
                    break
                except BlockingIOError:
                    if blocked_since is None:
                        blocked_since = now
                    elif now - blocked_since > 1.5:
                        break
                    select.select([], [a], [], 0.1)
            while exchanges < 20:
                text_exchange(b, b"b %d\n" % exchanges, timeout=2.0)
                exchanges += 1
            flood_stop = time.monotonic()

            # The server must close A: it reads nothing and sends nothing on
            # A for longer than --idle-timeout.
            while not closed_by and time.monotonic() - flood_stop < 15.0:
                state = tcp_state(srv.tcp_port, a_port)
                if state != "01":
                    closed_by = "socket state %s" % state
                    break
                if any(l.startswith("Closed connection from ('127.0.0.1', %d)" % a_port)
                       for l in srv.lines()):
                    closed_by = "log"
                    break
                time.sleep(0.2)
            assert closed_by, ("slow reader (sent %d bytes) still open 15 s "
                               "after it stopped; %s" % (sent, srv.describe()))
            # And A sees it once it reads: EOF or reset after the backlog.
            a.setblocking(True)
            wait_eof(a, 20.0, allow_reset=True)
            # B is still served.
            text_exchange(b, b"b after\n", timeout=2.0)
        finally:
            a.close()


def test_thousand_clients():
    n = 1000
    if raise_nofile(n + 200) < n + 100:
        raise SkipTest("RLIMIT_NOFILE hard limit too low for %d sockets" % n)
    with Server() as srv:
        sel = selectors.DefaultSelector()
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.setblocking(False)
                err = s.connect_ex((LO, srv.tcp_port))
                assert err in (0, errno.EINPROGRESS), \
                    "connect %d: %s" % (i, os.strerror(err))
                sel.register(s, selectors.EVENT_WRITE,
                             {"i": i, "msg": b"client %d\n" % i, "buf": b""})
            pending = n
            deadline = time.monotonic() + 40.0
            while pending:
                left = deadline - time.monotonic()
                assert left > 0, "%d of %d clients got no reply within 40 s" % (
                    pending, n)
                for key, ev in sel.select(timeout=min(left, 1.0)):
                    s, st = key.fileobj, key.data
                    if ev & selectors.EVENT_WRITE:
                        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        assert err == 0, "client %d connect: %s" % (
                            st["i"], os.strerror(err))
                        assert s.send(st["msg"]) == len(st["msg"])
                        sel.modify(s, selectors.EVENT_READ, st)
                        continue
                    chunk = s.recv(4096)
                    assert chunk, "client %d: EOF before its reply (%r)" % (
                        st["i"], st["buf"])
                    st["buf"] += chunk
                    if st["buf"].endswith(b"\n"):
                        assert text_reply_re(st["msg"]).fullmatch(st["buf"]), \
                            "client %d got %r" % (st["i"], st["buf"])
                        sel.unregister(s)
                        pending -= 1
            # All n were open at once; the server still takes one more.
            with tcp_connect(LO, srv.tcp_port) as s:
                text_exchange(s, b"one more\n")
        finally:
            sel.close()
            for s in socks:
                s.close()


# ------------------------------------------------------------ IPv6 and UDP

def test_ipv6_loopback():
    if not have_ipv6_loopback():
        raise SkipTest("no IPv6 loopback on this host")
    with Server(listen="::1") as srv:
        assert ("[::1]", srv.tcp_port) in srv.tcp_addrs, srv.tcp_addrs
        with tcp_connect("::1", srv.tcp_port) as s:
            text_exchange(s, b"hello over v6\n")
        with tcp_connect("::1", srv.tcp_port) as s:
            probe_exchange(s, probe(6, os.urandom(600)))
        with udp_socket("::1") as u:
            reply = udp_exchange(u, ("::1", srv.udp_port), b"v6 datagram")
            assert text_reply_re(b"v6 datagram").fullmatch(reply), reply
        # An explicit IPv6 address listens on IPv6 only.
        try:
            with tcp_connect(LO, srv.tcp_port, timeout=2.0) as s:
                raise AssertionError("-l ::1 also accepted on 127.0.0.1")
        except ConnectionRefusedError:
            pass


def test_listen_addresses():
    addrs = ["127.0.0.1"] + (["::1"] if have_ipv6_loopback() else [])
    args = []
    for a in addrs:
        args += ["-l", a]
    with Server(*args, "-p", "0", listen=None, listeners=len(addrs)) as srv:
        want = {("[%s]" % a if ":" in a else a) for a in addrs}
        for kind, got in (("tcp", srv.tcp_addrs), ("udp", srv.udp_addrs)):
            assert {h for h, _ in got} == want, "%s listeners %r, want %r" % (
                kind, got, want)
        for host, port in srv.tcp_addrs:
            with tcp_connect(host.strip("[]"), port) as s:
                text_exchange(s, b"to %s\n" % host.encode())
        for host, port in srv.udp_addrs:
            with udp_socket(host.strip("[]")) as u:
                reply = udp_exchange(u, (host.strip("[]"), port), b"udp to x")
                assert text_reply_re(b"udp to x").fullmatch(reply), reply
    # A host name listens on all of its addresses.
    names = sorted({ai[4][0] for ai in socket.getaddrinfo(
        "localhost", None, type=socket.SOCK_STREAM)})
    with Server("-l", "localhost", "-p", "0", listen=None,
                listeners=len(names)) as srv:
        got = sorted(h.strip("[]") for h, _ in srv.tcp_addrs)
        assert got == names, "-l localhost listens on %r, want %r" % (got, names)
        for host, port in srv.tcp_addrs:
            with tcp_connect(host.strip("[]"), port) as s:
                text_exchange(s, b"to localhost\n")


def test_default_listen_dual_stack():
    v6 = have_ipv6_loopback()
    with Server("-p", "0", listen=None) as srv:
        host = srv.tcp_addrs[0][0]
        assert host == ("[::]" if v6 else "0.0.0.0"), srv.tcp_addrs
        peers = [LO] + (["::1"] if v6 else [])    # loopback traffic only
        for peer in peers:
            with tcp_connect(peer, srv.tcp_port) as s:
                text_exchange(s, b"default listen\n")
            with udp_socket(peer) as u:
                reply = udp_exchange(u, (peer, srv.udp_port), b"default udp")
                assert text_reply_re(b"default udp").fullmatch(reply), reply


def test_no_udp_no_tcp():
    with Server("--no-udp") as srv:
        assert not srv.udp_addrs, srv.describe()
        with tcp_connect(LO, srv.tcp_port) as s:
            text_exchange(s, b"tcp only\n")
        time.sleep(0.2)
        assert not any(l.startswith("listening on udp") for l in srv.lines()), \
            srv.describe()
    with Server("--no-tcp") as srv:
        assert not srv.tcp_addrs, srv.describe()
        with udp_socket(LO) as u:
            reply = udp_exchange(u, (LO, srv.udp_port), b"udp only")
            assert text_reply_re(b"udp only").fullmatch(reply), reply
        try:
            with tcp_connect(LO, srv.udp_port, timeout=2.0):
                raise AssertionError("--no-tcp still accepts TCP")
        except ConnectionRefusedError:
            pass
        time.sleep(0.2)
        assert not any(l.startswith("listening on tcp") for l in srv.lines()), \
            srv.describe()


def test_udp():
    with Server() as srv, udp_socket(LO) as u:
        addr = (LO, srv.udp_port)
        # -p 0: TCP and UDP get the same number when possible.
        assert srv.udp_port == srv.tcp_port, (srv.tcp_addrs, srv.udp_addrs)
        reply = udp_exchange(u, addr, b"hello")
        m = text_reply_re(b"hello").fullmatch(reply)
        assert m, "UDP text reply %r" % reply
        check_time_field(m.group(1))
        # One datagram is one message, line endings and all.
        reply = udp_exchange(u, addr, b"two\nlines\n")
        assert text_reply_re(b"two\nlines\n").fullmatch(reply), reply

        f = probe(99, os.urandom(500))
        check_reply(f, udp_exchange(u, addr, f))

        udp_no_reply(u, addr, b"\xff\xf4\xff\xfd\x06", "a 0xFF datagram")
        udp_no_reply(u, addr, b"", "an empty datagram")
        udp_no_reply(u, addr, f[:30], "a truncated probe")
        udp_no_reply(u, addr, f + b"tail", "a probe shorter than its datagram")
        udp_no_reply(u, addr, b"\xc0 not a frame at all", "0xC0 garbage")
        udp_no_reply(u, addr, build_frame(type_=TYPE_REPLY, seq=1),
                     "a datagram of type reply")
        udp_no_reply(u, addr, build_frame(seq=2, version=9), "version 9")

        reply = udp_exchange(u, addr, b"still here")
        assert text_reply_re(b"still here").fullmatch(reply), reply
        f = probe(100, b"after garbage")
        check_reply(f, udp_exchange(u, addr, f))


# ------------------------------------------------------------ connection ends

def test_half_close():
    with Server() as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            for line in (b"one\r\n", b"two\r\n", b"three\r\n"):
                s.sendall(line)
            s.shutdown(socket.SHUT_WR)
            data, _ = wait_eof(s, 5.0)
            t = b"(" + TIME_RE + b")"
            assert re.fullmatch(t + b":one\r\n" + t + b":two\r\n" + t + b":three\r\n",
                                data), "want 3 replies then EOF, got %r" % data
        with tcp_connect(LO, srv.tcp_port) as s:
            frames = [probe(i, os.urandom(64)) for i in range(3)]
            s.sendall(b"".join(frames))
            s.shutdown(socket.SHUT_WR)
            data, _ = wait_eof(s, 5.0)
            assert len(data) == sum(map(len, frames)), \
                "want 3 binary replies then EOF, got %d bytes" % len(data)
            off = 0
            for f in frames:
                check_reply(f, data[off:off + len(f)])
                off += len(f)


def test_reset_by_peer():
    with Server() as srv:
        a = tcp_connect(LO, srv.tcp_port)
        text_exchange(a, b"before reset\n")
        set_rst_on_close(a)
        a.sendall(b"in flight\n" * 100)
        a.close()
        c = tcp_connect(LO, srv.tcp_port)
        c.sendall(probe(1, b"p" * 100)[:30])          # half a header
        set_rst_on_close(c)
        c.close()
        time.sleep(0.3)
        assert srv.alive(), "server died after a reset; %s" % srv.describe()
        with tcp_connect(LO, srv.tcp_port) as s:
            text_exchange(s, b"after reset\n")
        with tcp_connect(LO, srv.tcp_port) as s:
            probe_exchange(s, probe(2, b"after reset"))


def test_idle_timeout():
    with Server("--idle-timeout", "1s") as srv, \
            tcp_connect(LO, srv.tcp_port) as idle, \
            tcp_connect(LO, srv.tcp_port) as busy:
        text_exchange(idle, b"then silence\n")
        idle_since = time.monotonic()
        # A connection with traffic every 0.25 s outlives the timeout.
        i = 0
        while time.monotonic() - idle_since < 2.0:
            text_exchange(busy, b"busy %d\n" % i, timeout=2.0)
            i += 1
            time.sleep(0.25)
        data, _ = wait_eof(idle, max(0.1, idle_since + 3.0 - time.monotonic()),
                           allow_reset=True)
        assert data == b"", data
        text_exchange(busy, b"busy at the end\n", timeout=2.0)
        # Not closed at once: a fresh connection lives past half the timeout.
        with tcp_connect(LO, srv.tcp_port) as fresh:
            time.sleep(0.5)
            text_exchange(fresh, b"fresh\n", timeout=2.0)


def test_max_clients():
    with Server("--max-clients", "2", "--max-clients-per-source", "2") as srv:
        c1 = tcp_connect(LO, srv.tcp_port)
        c2 = tcp_connect(LO, srv.tcp_port)
        try:
            text_exchange(c1, b"c1\n")
            text_exchange(c2, b"c2\n")
            with tcp_connect(LO, srv.tcp_port) as c3:
                data, _ = wait_eof(c3, 3.0, allow_reset=True)
                assert data == b"", "third client got %r" % data
            text_exchange(c1, b"c1 again\n")
            text_exchange(c2, b"c2 again\n")
        finally:
            c1.close()
            c2.close()
        # Slots are given back: a new client is served once the server has
        # seen the two closes (retry while it may not have yet).
        deadline = time.monotonic() + 5.0
        while True:
            try:
                with tcp_connect(LO, srv.tcp_port) as s:
                    text_exchange(s, b"after\n", timeout=1.0)
                break
            except (AssertionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert srv.stop() == 0, srv.describe()
        assert summary_of(srv)["rejected"] >= 1, srv.describe()


def test_emfile_does_not_spin():
    with Server("--max-clients", "1000", nofile=40) as srv:
        conns = []
        try:
            for _ in range(80):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                conns.append(s)
                s.setblocking(False)
                s.connect_ex((LO, srv.tcp_port))
            time.sleep(0.3)
            for s in conns:
                try:
                    s.send(b"x\n")
                except OSError:
                    pass
            time.sleep(0.5)
            assert srv.alive(), "server died out of descriptors; %s" % srv.describe()
            cpu0, t0 = cpu_seconds(srv.pid), time.monotonic()
            time.sleep(1.0)
            cpu1, t1 = cpu_seconds(srv.pid), time.monotonic()
            assert cpu1 - cpu0 < 0.5, \
                "server used %.2f s of CPU in %.2f s at EMFILE (spinning)" % (
                    cpu1 - cpu0, t1 - t0)
        finally:
            for s in conns:
                s.close()
        # The descriptors are free again (the closes reached the server before
        # this connection did): it must be served, not shed.
        with tcp_connect(LO, srv.tcp_port, timeout=10.0) as s:
            try:
                text_exchange(s, b"after EMFILE\n", timeout=10.0)
            except (ConnectionError, AssertionError) as e:
                raise AssertionError("a new connection made after all %d were "
                                     "closed got no reply: %s" % (len(conns), e))
        assert srv.alive(), srv.describe()


# ------------------------------------------------------------ stdout

def test_log_lines():
    with Server() as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            port = s.getsockname()[1]
            srv.wait_line(lambda l: l == "Accepted connection from ('127.0.0.1', %d)"
                          % port, what="Accepted line for port %d" % port)
            for msg in (b"hello\r\n", b"x\ty\\z\x01\xe9\x7f\"'\r\n"):
                t = text_exchange(s, msg)
                want = re.compile(r"\[127\.0\.0\.1:%d\] (%s):%s" % (
                    port, TIME_RE.decode(), log_escape_re(msg)))
                line = srv.wait_line(lambda l: bool(want.fullmatch(l)),
                                     what="log line %s" % want.pattern)
                logged_t = want.fullmatch(line).group(1)
                assert abs(float(logged_t) - float(t)) < 1.0, (line, t)
        srv.wait_line(lambda l: l.startswith("Closed connection from ('127.0.0.1', %d): "
                                             % port),
                      what="Closed line for port %d" % port)
        with udp_socket(LO) as u:
            u.bind((LO, 0))
            uport = u.getsockname()[1]
            udp_exchange(u, (LO, srv.udp_port), b"udp hello")
            srv.wait_line(lambda l: re.fullmatch(
                r"\[127\.0\.0\.1:%d\] %s:udp hello" % (uport, TIME_RE.decode()), l)
                is not None, what="UDP message log line")


def test_log_rate_limited():
    with Server() as srv, tcp_connect(LO, srv.tcp_port) as s:
        port = s.getsockname()[1]
        n, batch = 5000, 500
        for start in range(0, n, batch):
            s.sendall(b"".join(b"flood %d\n" % i for i in range(start, start + batch)))
            recv_lines(s, batch, 10.0)
        time.sleep(1.2)                      # let the rate limiter refill
        text_exchange(s, b"after flood\n")
        srv.wait_line(lambda l: l.startswith("[127.0.0.1:%d] " % port)
                      and l.endswith(":after flood\\n"), what="log of 'after flood'")
        srv.wait_line(lambda l: SUPPRESSED_RE.match(l) is not None, timeout=3.0,
                      what="'(N log lines suppressed)' line")
        assert srv.stop() == 0, srv.describe()
        lines = srv.lines()
        logged = sum(1 for l in lines if l.startswith("[127.0.0.1:%d] " % port))
        suppressed = sum(int(m.group(1)) for m in map(SUPPRESSED_RE.match, lines) if m)
        assert logged < 1000, "%d of %d message lines logged" % (logged, n + 1)
        assert logged + suppressed >= n + 1, \
            "logged %d + suppressed %d < %d messages" % (logged, suppressed, n + 1)


def test_quiet():
    with Server("-q") as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            text_exchange(s, b"quiet please\n")
        with tcp_connect(LO, srv.tcp_port) as s:
            probe_exchange(s, probe(1))
        with udp_socket(LO) as u:
            udp_exchange(u, (LO, srv.udp_port), b"quiet udp")
        time.sleep(0.3)
        assert srv.stop() == 0, srv.describe()
        lines = srv.lines()
        assert ENGINE_RE.match(lines[0]), "the first line is not the engine's: %r" % lines[:2]
        for line in lines[1:]:
            assert LISTEN_RE.match(line) or SUMMARY_RE.match(line), \
                "-q printed %r" % line
        summary_of(srv)


def test_json_log():
    with Server("--log-format", "json") as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            text_exchange(s, b"json hello\n")
        with udp_socket(LO) as u:
            udp_exchange(u, (LO, srv.udp_port), b"json udp")
        srv.wait_line(lambda l: '"close"' in l, what="close event")
        assert srv.stop() == 0, srv.describe()
        events = []
        for line in srv.lines():
            try:
                ev = json.loads(line)
            except ValueError:
                raise AssertionError("not JSON: %r" % line)
            assert isinstance(ev, dict) and "event" in ev, "no event: %r" % line
            events.append(ev)
            if ev["event"] == "listening":
                assert ev.get("proto") in ("tcp", "udp"), line
                assert re.fullmatch(r"127\.0\.0\.1:\d+", str(ev.get("addr"))), line
        kinds = {e["event"] for e in events}
        for k in ("listening", "accept", "message", "close", "summary"):
            assert k in kinds, "no %r event in %r" % (k, sorted(kinds))
        assert events[-1]["event"] == "summary", events[-1]


# ------------------------------------------------------------ signals and CLI

def test_sigterm_summary():
    with Server() as srv:
        bytes_out = bytes_in = messages = 0
        socks = [tcp_connect(LO, srv.tcp_port) for _ in range(3)]
        try:
            for i, s in enumerate(socks):
                for j in range(2):
                    msg = b"conn %d msg %d\n" % (i, j)
                    t = text_exchange(s, msg)
                    bytes_in += len(msg)
                    bytes_out += len(t) + 1 + len(msg)
                    messages += 1
            socks[0].close()
            code = srv.stop(signal.SIGTERM)   # two connections still open
        finally:
            for s in socks:
                s.close()
        assert code == 0, "exit %r after SIGTERM; %s" % (code, srv.describe())
        sm = summary_of(srv)
        assert SUMMARY_RE.match(srv.lines()[-1]), "summary is not the last line"
        assert sm["connections"] >= 3, sm
        assert sm["rejected"] == 0, sm
        assert sm["messages"] >= messages, sm
        assert sm["bytes_in"] >= bytes_in, (sm, bytes_in)
        assert sm["bytes_out"] >= bytes_out, (sm, bytes_out)


def test_sigint_exits_zero():
    with Server() as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            text_exchange(s, b"hi\n")
        code = srv.stop(signal.SIGINT)
        assert code == 0, "exit %r after SIGINT; %s" % (code, srv.describe())
        summary_of(srv)


def test_cli():
    code, out, err = run_cli("--help")
    assert code == 0 and "usage" in out.lower() and "server" in out, (code, out, err)
    code, out, err = run_cli("server", "--help")
    assert code == 0 and "usage" in out.lower(), (code, out, err)
    for opt in ("--listen", "--port", "--max-clients", "--max-message",
                "--idle-timeout", "--log-format"):
        assert opt in out, "server --help does not mention %s" % opt
    code, out, err = run_cli("--version")
    assert code == 0 and re.search(r"\d+\.\d+", out), (code, out, err)

    usage_errors = [
        ("server", "--bogus"),
        ("server", "-l", LO, "-p", "70000"),
        ("server", "-l", LO, "-p"),
        ("server", "-l", LO, "-p", "0", "--max-message", "47"),
        ("server", "-l", LO, "-p", "0", "--max-message", "2m"),
        ("server", "-l", LO, "-p", "0", "--idle-timeout", "5parsecs"),
        ("server", "-l", LO, "-p", "0", "--log-format", "xml"),
    ]
    for args in usage_errors:
        code, out, err = run_cli(*args, timeout=5)
        lines = err.splitlines()
        assert code == 2, "tsecho %s: exit %d, want 2 (stderr %r)" % (
            " ".join(args), code, err)
        assert len(lines) == 1 and lines[0].startswith("tsecho server: "), \
            "tsecho %s: stderr %r, want one 'tsecho server: ' line" % (
                " ".join(args), err)

    # An address not on this host: bind fails, exit 1.  No traffic is sent.
    code, out, err = run_cli("server", "-l", "203.0.113.1", "-p", "0", timeout=5)
    assert code == 1, "exit %d, want 1 (stderr %r)" % (code, err)
    assert len(err.splitlines()) == 1 and err.strip(), \
        "want one line on stderr, got %r" % err


def test_option_forms_accepted():
    # Well-formed values with units and suffixes start a working server.
    with Server("--idle-timeout", "1500ms", "--max-message", "1m",
                "--max-output", "64k", "--max-clients", "10",
                "--log-format", "text") as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            text_exchange(s, b"options ok\n")
        with tcp_connect(LO, srv.tcp_port) as s:
            probe_exchange(s, probe(1, os.urandom(100000)))   # above 64k: 1m applies
        with tcp_connect(LO, srv.tcp_port) as s:
            probe_exchange(s, probe(2, os.urandom((1 << 20) - HDR_LEN)), timeout=10.0)


def test_unresolvable_listen_address_says_why():
    """A name that does not resolve is reported with getaddrinfo's own
    words, not an errno that happens to share its number."""
    code, out, err = run_cli("server", "-l", "no.such.host.invalid", "-p", "0")
    assert code == 1, (code, out, err)
    assert "cannot resolve no.such.host.invalid:" in err, err
    assert "No such file" not in err, err


def test_engine_option_and_select_limit():
    """--engine picks the readiness backend (the first line says which);
    an unknown one is refused; select() turns away the peers whose
    descriptors are past FD_SETSIZE (counted as shed for descriptors, and
    logged while the log's rate allows), and keeps serving the others."""
    from test_metrics import metrics_server, scrape
    for engine in ("epoll", "poll", "select"):
        with Server("--engine", engine) as srv:
            assert srv.lines()[0].startswith("engine %s " % engine), srv.lines()[:2]
            with tcp_connect(LO, srv.tcp_port) as s:
                text_exchange(s, b"on %s\n" % engine.encode())
    code, out, err = run_cli("server", "-p", "0", "--engine", "kqueue")
    assert code == 2 and "invalid --engine 'kqueue'" in err, (code, err)
    n = 1100                                    # past FD_SETSIZE (1024)
    if raise_nofile(n + 200) < n + 200:
        raise SkipTest("RLIMIT_NOFILE hard limit too low for %d sockets" % n)
    with metrics_server("--engine", "select", "-q", "--max-clients-per-source", "4000",
                        nofile=4096) as srv:
        socks = []
        try:
            for _ in range(n):
                socks.append(tcp_connect(LO, srv.tcp_port))
            socks[0].sendall(b"still served\n")
            recv_lines(socks[0], 1)
            # The last peer is shed (its descriptor would be past the
            # limit), so its end means every peer has been accepted: none
            # accepted after the others left gets a low descriptor.
            wait_eof(socks[-1], allow_reset=True)
        finally:
            for s in socks:
                s.close()
        shed = scrape(srv).ivalue("tsecho_server_connections_rejected_total", reason="fds")
        assert shed >= n - 1024, "%d peers past FD_SETSIZE, %d shed" % (n - 1024, shed)


def test_threads_share_the_port():
    """--threads 3: three reactors on one port, one engine line and one
    listening line per socket; every TCP and UDP probe is answered, and
    the metrics and the summary add the reactors' counts up."""
    from test_metrics import metrics_server, scrape
    n_tcp, n_udp = 40, 20
    with metrics_server("--threads", "3") as srv:
        lines = srv.lines()
        assert ENGINE_RE.match(lines[0].replace(", 3 reactors)", ")")) \
            and lines[0].endswith(", 3 reactors)"), lines[0]
        assert sum(l.startswith("listening on tcp ") for l in lines) == 1, lines
        deadline = time.monotonic() + 5   # the threads start after these lines
        while len(os.listdir("/proc/%d/task" % srv.pid)) < 3:
            assert time.monotonic() < deadline, "fewer than 3 threads"
            time.sleep(0.05)
        socks = [tcp_connect(LO, srv.tcp_port) for _ in range(n_tcp)]
        try:
            for i, s in enumerate(socks):
                p = build_frame(seq=i, t1=time.time_ns())
                s.sendall(p)
                check_reply(p, recv_frame(s)["raw"])
        finally:
            for s in socks:
                s.close()
        for i in range(n_udp):   # a socket each: the kernel spreads 4-tuples
            with udp_socket(LO) as u:
                p = build_frame(seq=i, t1=time.time_ns())
                u.sendto(p, (LO, srv.udp_port))
                check_reply(p, u.recvfrom(65536)[0])
        deadline = time.monotonic() + 5
        while True:   # the other reactors publish their counts every 100 ms
            page = scrape(srv)
            got = (page.ivalue("tsecho_server_messages_total", protocol="binary",
                               transport="tcp"),
                   page.ivalue("tsecho_server_messages_total", protocol="binary",
                               transport="udp"))
            if got == (n_tcp, n_udp) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert got == (n_tcp, n_udp), got
        assert page.ivalue("tsecho_server_connections_total") == n_tcp
        assert srv.stop() == 0
        sm = summary_of(srv)
        assert sm["messages"] == n_tcp + n_udp and sm["connections"] == n_tcp, sm

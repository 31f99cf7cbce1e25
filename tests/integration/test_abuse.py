"""A reflector that cannot be turned into a weapon (docs/server.md,
"Running a public reflector"): UDP loops, per-source limits, slot hogging,
and the smaller faults found beside them.

Spoofed datagrams come from a raw socket, which needs root (CI runs as
root); without it those tests are skipped and say so.  Every other
source address is a real one: loopback is all of 127.0.0.0/8, so a socket
bound to 127.0.0.2 is a second host as far as the server can tell.
"""

import socket
import struct
import threading
import time

from harness import (HDR_LEN, IO_TIMEOUT_S, ST_MALFORMED, TYPE_REPLY,
                     SkipTest, build_frame, check_error, check_reply,
                     cpu_seconds, recv_exact, recv_frame, run_tsecho,
                     stamp_sender_packet, tcp_connect, wait_eof)
from test_metrics import metrics_server, scrape

LO = "127.0.0.1"
QUIET_S = 2.0          # how long a loop would have to show itself
LOOP_CPU_MAX_S = 0.3   # server CPU over QUIET_S that still means "no loop"


def spoof_udp(src_port, dst_port, payload, src=LO, dst=LO):
    """Sends one UDP datagram that claims to come from src:src_port, from a
    raw socket; SkipTest when this process may not open one."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    except PermissionError:
        raise SkipTest("spoofed datagrams need a raw socket: run as root "
                       "(CAP_NET_RAW)")
    with s:
        s.bind((src, 0))  # the source address of what it sends
        # Checksum 0: none, which IPv4 allows.
        udp = struct.pack(">HHHH", src_port, dst_port, 8 + len(payload), 0)
        s.sendto(udp + payload, (dst, 0))


def udp_from(addr, timeout=IO_TIMEOUT_S):
    """A UDP socket bound to local address addr (any port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.bind((addr, 0))
    return s


def udp_replies(page, proto):
    """UDP messages the server answered, of protocol proto."""
    return page.ivalue("tsecho_server_messages_total", protocol=proto,
                       transport="udp")


def limit(page, name):
    return page.ivalue("tsecho_server_limit_hits_total", limit=name)


def assert_quiet(srv, what):
    """The server stays idle for QUIET_S: no loop is running through it."""
    c0 = cpu_seconds(srv.pid)
    time.sleep(QUIET_S)
    used = cpu_seconds(srv.pid) - c0
    assert used < LOOP_CPU_MAX_S, "%s: the server used %.2f s of CPU in %.1f s" % (
        what, used, QUIET_S)


def drain(sock, timeout=0.3):
    """Every datagram sock has, until none comes for timeout seconds."""
    got = []
    sock.settimeout(timeout)
    while True:
        try:
            got.append(sock.recv(65536))
        except socket.timeout:
            return got


# ------------------------------------------------------------ 1: UDP loops

def test_udp_loop_from_own_echo_port_not_answered():
    with metrics_server("--echo=0") as srv:
        port = srv.echo_addrs["echo-udp"][0][1]
        spoof_udp(port, port, b"x" * 64)
        assert_quiet(srv, "a datagram from its own echo port")
        page = scrape(srv)
        assert udp_replies(page, "echo") == 0, udp_replies(page, "echo")
        assert limit(page, "loop_source") == 1


def test_udp_loop_from_own_main_port_not_answered():
    with metrics_server() as srv:
        spoof_udp(srv.udp_port, srv.udp_port, b"hello")
        assert_quiet(srv, "a datagram from its own main port")
        page = scrape(srv)
        assert udp_replies(page, "text") == 0, udp_replies(page, "text")
        sent = page.ivalue("tsecho_server_sent_bytes_total", protocol="text",
                           transport="udp")
        assert sent == 0, "%d bytes sent" % sent
        assert limit(page, "loop_source") == 1


def test_udp_loop_between_two_servers_stops():
    """A datagram spoofed from server B's port to server A's: A answers B
    once, and B does not answer what is A's answer, on the main port
    (a text reply) and on the echo port (its own echo coming back)."""
    with metrics_server("--echo=0") as a, metrics_server("--echo=0") as b:
        spoof_udp(b.udp_port, a.udp_port, b"ping")
        b_echo = b.echo_addrs["echo-udp"][0][1]
        a_echo = a.echo_addrs["echo-udp"][0][1]
        spoof_udp(b_echo, a_echo, b"P" * 100)
        assert_quiet(a, "server A")
        assert_quiet(b, "server B")
        pa, pb = scrape(a), scrape(b)
        assert udp_replies(pa, "text") == 1 and udp_replies(pb, "text") == 0, \
            "text replies: A %d, B %d" % (udp_replies(pa, "text"),
                                          udp_replies(pb, "text"))
        assert limit(pb, "loop_reply") >= 1
        # Echo: A echoes to B, B echoes back (nothing tells it apart), and
        # A does not echo its own echo again.
        assert udp_replies(pa, "echo") == 1 and udp_replies(pb, "echo") <= 1, \
            "echo replies: A %d, B %d" % (udp_replies(pa, "echo"),
                                          udp_replies(pb, "echo"))
        assert limit(pa, "loop_reply") + limit(pb, "loop_reply") >= 2


def test_udp_reflector_source_ports_not_answered():
    """Datagrams from the well-known ports of services that answer what
    they get (echo, chargen, NTP, STAMP, tsecho's own) are not answered."""
    ports = (7, 19, 123, 862, 12345)
    with metrics_server("--stamp=0") as srv:
        probe = build_frame(seq=1, payload=b"\0" * 16)
        for p in ports:
            spoof_udp(p, srv.udp_port, b"text from %d" % p)
            spoof_udp(p, srv.udp_port, probe)
            spoof_udp(p, srv.stamp_port, stamp_sender_packet(1))
        assert_quiet(srv, "datagrams from reflector ports")
        page = scrape(srv)
        for proto in ("text", "binary", "stamp"):
            assert udp_replies(page, proto) == 0, (proto, udp_replies(page, proto))
        assert limit(page, "loop_source") == 3 * len(ports)
        # An ordinary source is answered as ever.
        with udp_from(LO) as s:
            s.sendto(probe, (LO, srv.udp_port))
            check_reply(probe, s.recv(65536))


def test_udp_replies_are_not_answered():
    """A binary reply or error frame, or a text reply, is another
    reflector's answer: not answered, whatever port it comes from."""
    with metrics_server() as srv, udp_from(LO) as s:
        reply = build_frame(type_=TYPE_REPLY, seq=9, t1=1, t2=2, t3=3)
        s.sendto(reply, (LO, srv.udp_port))
        s.sendto(build_frame(type_=3, status=ST_MALFORMED), (LO, srv.udp_port))
        s.sendto(b"1764033903.541234:hello", (LO, srv.udp_port))
        assert drain(s) == []
        page = scrape(srv)
        assert limit(page, "loop_reply") == 3
        # A plain text message is answered.
        s.sendto(b"hello", (LO, srv.udp_port))
        assert s.recv(100).endswith(b":hello")


# ------------------------------------------------- 1: per-source and budget

def test_udp_per_source_rate():
    """--udp-rate 50: a burst of 300 probes from one source gets about the
    bucket's 50 answers; another source has its own 50."""
    with metrics_server("--udp-rate", "50", "--udp-budget", "0") as srv:
        got = {}
        for addr in ("127.0.0.2", "127.0.0.3"):
            with udp_from(addr) as s:
                t0 = time.monotonic()
                for i in range(300):
                    s.sendto(build_frame(seq=i), (LO, srv.udp_port))
                elapsed = time.monotonic() - t0
                got[addr] = len(drain(s))
                assert 40 <= got[addr] <= 50 + 50 * elapsed + 2, \
                    "%s: %d answers to 300 in %.2f s at --udp-rate 50" % (
                        addr, got[addr], elapsed)
        # Each refusal is counted, but a loaded kernel may also drop
        # datagrams of the burst before the server reads them: at most
        # the rest, and some.
        hits = limit(scrape(srv), "udp_rate")
        assert 0 < hits <= 600 - sum(got.values()), (hits, got)


def test_udp_global_budget():
    """--udp-budget 100: four sources that each stay within their own rate
    together get no more than the budget."""
    with metrics_server("--udp-rate", "0", "--udp-budget", "100") as srv:
        socks = [udp_from("127.0.0.%d" % (i + 2)) for i in range(4)]
        try:
            t0 = time.monotonic()
            for i in range(100):
                for s in socks:
                    s.sendto(build_frame(seq=i), (LO, srv.udp_port))
            elapsed = time.monotonic() - t0
            total = sum(len(drain(s)) for s in socks)
        finally:
            for s in socks:
                s.close()
        assert 80 <= total <= 100 + 100 * elapsed + 2, \
            "%d answers to 400 in %.2f s at --udp-budget 100" % (total, elapsed)
        hits = limit(scrape(srv), "udp_budget")
        assert 0 < hits <= 400 - total, (hits, total)  # as above: the kernel may drop some


# ------------------------------------------------ 2: STAMP bucket collisions

def test_stamp_colliding_sources_get_no_extra():
    """127.0.0.1 and 127.0.20.133 shared a bucket slot of an unkeyed hash,
    and each newcomer refilled it: alternating the two got five times the
    rate.  Now each source gets its own rate, alternating or not."""
    with metrics_server("--stamp=0", "--stamp-rate", "50") as srv:
        a, b = udp_from("127.0.0.1"), udp_from("127.0.20.133")
        try:
            t0 = time.monotonic()
            for i in range(300):
                a.sendto(stamp_sender_packet(i), (LO, srv.stamp_port))
                b.sendto(stamp_sender_packet(i), (LO, srv.stamp_port))
            elapsed = time.monotonic() - t0
            got_a, got_b = len(drain(a)), len(drain(b))
        finally:
            a.close()
            b.close()
        most = 50 + 50 * elapsed + 2
        assert got_a <= most and got_b <= most, \
            "alternating sources got %d and %d answers (at most %.0f each)" % (
                got_a, got_b, most)
        assert got_a >= 40 and got_b >= 40, (got_a, got_b)


# --------------------------------------------------------- 3: slot hogging

def binary_start():
    """The first bytes of a probe frame: a message begun, never finished."""
    return build_frame(seq=1, payload=b"\0" * 16)[:10]


def test_tcp_one_source_cannot_hold_every_slot():
    """--max-clients 20: one address gets a quarter of the slots (the
    default --max-clients-per-source), trickling bytes of a frame that
    never ends does not keep them open past --idle-timeout, and a client
    from elsewhere is served all along."""
    with metrics_server("--max-clients", "20", "--idle-timeout", "3s") as srv:
        hog = []
        for _ in range(20):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(IO_TIMEOUT_S)
            s.bind(("127.0.0.2", 0))
            s.connect((LO, srv.tcp_port))
            hog.append(s)
        try:
            start = binary_start()
            t0 = time.monotonic()
            for rnd in range(4):  # a byte a second, from every connection
                for s in hog:
                    try:
                        s.send(start[rnd:rnd + 1])
                    except OSError:
                        pass
                with tcp_connect(LO, srv.tcp_port) as c:
                    probe = build_frame(seq=rnd, payload=b"x" * 16)
                    c.sendall(probe)
                    check_reply(probe, recv_frame(c)["raw"])
                time.sleep(1.0)
            # By now every hog connection has been closed: those past the
            # share at once, the rest at the idle timeout.
            for s in hog:
                data, _ = wait_eof(s, max(0.1, t0 + 6.0 - time.monotonic()),
                                   allow_reset=True)
                assert data == b"", data
        finally:
            for s in hog:
                s.close()
        page = scrape(srv)
        assert page.ivalue("tsecho_server_connections_rejected_total",
                           reason="per_source") == 15
        assert limit(page, "idle_timeout") == 5


def test_tcp_message_timeout():
    """A message begun must end within --message-timeout, even with the
    idle timeout far away; a complete message is answered as ever."""
    with metrics_server("--message-timeout", "1s") as srv:
        with tcp_connect(LO, srv.tcp_port) as s:
            t0 = time.monotonic()
            s.sendall(binary_start())
            data, _ = wait_eof(s, 4.0, allow_reset=True)
            took = time.monotonic() - t0
            assert data == b"" and 0.8 <= took <= 3.0, (data, took)
        page = scrape(srv)
        assert limit(page, "message_timeout") == 1
        assert limit(page, "idle_timeout") == 0


def test_tcp_message_timeout_restarts_with_each_message():
    """A peer whose every send ends inside a frame, for longer than
    --message-timeout, is making progress and stays: each message
    begun gets its own time."""
    with metrics_server("--message-timeout", "1s") as srv, \
            tcp_connect(LO, srv.tcp_port) as s:
        frames = [build_frame(seq=i, payload=b"m" * 32) for i in range(10)]
        half = len(frames[0]) // 2
        s.sendall(frames[0][:half])
        for i in range(1, len(frames)):  # 10 x 0.3 s: three timeouts' worth
            time.sleep(0.3)
            s.sendall(frames[i - 1][half:] + frames[i][:half])
            check_reply(frames[i - 1], recv_frame(s)["raw"])
        s.sendall(frames[-1][half:])
        check_reply(frames[-1], recv_frame(s)["raw"])
        assert limit(scrape(srv), "message_timeout") == 0


# -------------------------------------------------- 5: UDP size and bound

def test_udp_text_bound_and_max_message():
    """A text reply adds the "<time>:" prefix, 18 to 21 bytes, and nothing
    more; a text datagram over --max-message is not answered."""
    with metrics_server("--max-message", "100") as srv, udp_from(LO) as s:
        s.sendto(b"x", (LO, srv.udp_port))
        r = s.recv(100)
        assert r.endswith(b":x") and 18 + 1 <= len(r) <= 21 + 1, r
        s.sendto(b"y" * 100, (LO, srv.udp_port))
        assert len(s.recv(200)) <= 100 + 21
        s.sendto(b"z" * 101, (LO, srv.udp_port))
        assert drain(s) == []
        assert limit(scrape(srv), "max_message") == 1


# ---------------------------------------------- 6: the client's overflow

class LineServer(threading.Thread):
    """A TCP server on 127.0.0.1:0 that answers every line with `reply`."""

    def __init__(self, reply):
        threading.Thread.__init__(self, daemon=True)
        self.reply = reply
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind((LO, 0))
        self.lsock.listen(8)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.stop = threading.Event()
        self.start()

    def run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            with c:
                c.settimeout(0.2)
                buf = b""
                while not self.stop.is_set():
                    try:
                        chunk = c.recv(4096)
                    except socket.timeout:
                        continue
                    except OSError:
                        break
                    if not chunk:
                        break
                    buf += chunk
                    while b"\n" in buf:
                        _, buf = buf.split(b"\n", 1)
                        c.sendall(self.reply)

    def close(self):
        self.stop.set()
        self.join(5)
        self.lsock.close()


def test_ping_text_reply_with_overflowing_time():
    """A reply whose time has 11 digits of seconds overflowed the parser
    (undefined behaviour, caught by UBSan under make asan): it is now a
    reply that does not parse, reported as such, and never a crash."""
    peer = LineServer(b"61728033903.5:x\n")
    try:
        r = run_tsecho("ping", "--text", "-c", "2", "-i", "0.1", "-W", "1",
                       "%s:%d" % (LO, peer.port), timeout=20)
    finally:
        peer.close()
    assert r.code in (1, 2), r.describe()
    assert "runtime error" not in r.err and "Sanitizer" not in r.err, r.describe()
    assert "unexpected answer" in r.out + r.err, r.describe()


# ------------------------------------------------------- 7: smaller faults

def test_error_frame_seq_not_from_garbage():
    """After a valid frame, garbage: the error frame carries sequence
    number 0, not 8 bytes of the garbage read as one."""
    with metrics_server() as srv, tcp_connect(LO, srv.tcp_port) as s:
        probe = build_frame(seq=5, payload=b"p" * 16)
        s.sendall(probe + b"A" * HDR_LEN)
        check_reply(probe, recv_frame(s)["raw"])
        check_error(recv_exact(s, HDR_LEN), ST_MALFORMED, seq=0)


def test_resource_errors_count_rejected_peers():
    """Out of descriptors, errors_total{kind="resource"} counts the peers
    turned away, once each, not every accept call that failed."""
    with metrics_server("--max-clients", "1000", "-q", nofile=48) as srv:
        conns = []
        try:
            for _ in range(80):
                try:
                    conns.append(tcp_connect(LO, srv.tcp_port, timeout=1.0))
                except OSError:
                    break
            time.sleep(0.5)
        finally:
            for s in conns:
                s.close()
        deadline = time.monotonic() + IO_TIMEOUT_S
        while True:
            try:
                page = scrape(srv, timeout=1.0)
                break
            except (AssertionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        shed = page.ivalue("tsecho_server_connections_rejected_total", reason="fds")
        resource = page.ivalue("tsecho_server_errors_total", kind="resource")
        assert shed > 0, "no peer was shed: the test did not run out of descriptors"
        assert resource == shed, "resource errors %d for %d peers shed" % (resource, shed)

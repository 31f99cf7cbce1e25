"""Integration tests for `tsecho client`: the seed's interactive client, fed
from a pipe, against `tsecho server`, the seed's server.py and Python peers.

The contract under test is docs/ping.md ("tsecho client HOST[:PORT]"):
output lines, end of input, exit codes.  Tests assert behaviour and
structure, never latencies; every wait is bounded.
"""

import re

from harness import (SeedServer, Server, TcpPeer, free_port, run_tsecho)

LO = "127.0.0.1"
N = rb"\d+\.\d+"
S = rb"[+-]?\d+\.\d+"
ROUND_MS = 0.002            # printed figures are rounded (to 0.001 ms)

# receive time : server time : send time : message (seconds since the epoch)
SEED_LINE_RE = re.compile(rb"(\d+\.\d+):(\d+\.\d+):(\d+\.\d+):(.*)", re.S)
MEAS_RE = re.compile(rb"rtt (%s) ms, server residence (%s) ms, offset (%s) ms "
                     rb"\+/- (%s) ms, forward (%s) ms, backward (%s) ms"
                     % (N, N, S, N, S, S))
MEAS_TEXT_RE = re.compile(rb"rtt (%s) ms, offset (%s) ms \+/- (%s) ms" % (N, S, N))
# The seed's own lines, which the client may print from a pipe too.
SEED_CHATTER = (b"Type messages and press Enter", b"To quit: Ctrl+C or Ctrl+D",
                b"Ctrl+D detected. Exiting...")


def client(*args, input=b"", timeout=15):
    return run_tsecho("client", *args, input=input, timeout=timeout)


def exchanges(r, meas_re, what):
    """[(message, seed-line match, measurement match)] from the client's
    stdout: each seed-format line followed by its measurement line.  From a
    pipe there is no `> ` prompt."""
    lines = [l for l in r.out_b.split(b"\n")
             if l.strip() and l.rstrip(b"\r") not in SEED_CHATTER]
    assert not any(l.startswith(b">") for l in lines), \
        "%s: a prompt was printed from a pipe; %s" % (what, r.describe())
    assert len(lines) % 2 == 0, "%s: odd number of lines; %s" % (what, r.describe())
    out = []
    best_net = None
    for seed_line, meas in zip(lines[0::2], lines[1::2]):
        m = SEED_LINE_RE.fullmatch(seed_line)
        assert m, "%s: %r is not <t4>:<t2>:<t1>:<message>; %s" % (
            what, seed_line[:200], r.describe())
        mm = meas_re.fullmatch(meas)
        assert mm, "%s: measurement line %r, want the shape %r; %s" % (
            what, meas[:200], meas_re.pattern, r.describe())
        t4, t2, t1 = (float(m.group(i)) for i in (1, 2, 3))
        # One host, one clock (6 decimals): sent, then served, then received.
        assert t1 - 1e-5 <= t2 <= t4 + 1e-5 and t1 <= t4, \
            "%s: times out of order in %r" % (what, seed_line[:80])
        rtt = float(mm.group(1))
        assert rtt >= 0
        if meas_re is MEAS_RE:
            residence, offset, bound = (float(mm.group(i)) for i in (2, 3, 4))
            assert residence <= rtt + ROUND_MS, (what, meas)
            net = rtt - residence
        else:
            offset, bound = float(mm.group(2)), float(mm.group(3))
            net = rtt                  # text protocol: t2 = t3
        # The session's estimate so far: its bound is half the smallest
        # network RTT up to this message (docs/ping.md, measurement.md).
        best_net = net if best_net is None else min(best_net, net)
        assert abs(bound - best_net / 2) <= ROUND_MS, \
            "%s: offset bound %s, want half the best network rtt so far = " \
            "%.4f (%r)" % (what, bound, best_net / 2, meas)
        # Same host: the true offset is 0, which the bound must cover.
        assert abs(offset) <= bound + ROUND_MS, \
            "%s: offset %s +/- %s does not cover 0 on one host" % (what, offset, bound)
        out.append((m.group(4), m, mm))
    return out


def one_stderr_line(r, what):
    lines = r.err_lines()
    assert len(lines) == 1 and lines[0].startswith("tsecho client: "), \
        "%s: want one stderr line 'tsecho client: ...'; %s" % (what, r.describe())


def test_client_pipe_two_lines():
    with Server() as srv:
        r = client("%s:%d" % (LO, srv.tcp_port), input=b"hello\nsecond line\n")
        assert r.code == 0, r.describe()
        assert r.err == "", "stderr on success: %s" % r.describe()
        got = [m for m, _, _ in exchanges(r, MEAS_RE, "two lines")]
        assert got == [b"hello", b"second line"], "messages %r; %s" % (
            got, r.describe())


def test_client_long_and_binary_messages():
    long_msg = (b"0123456789abcdef" * 313)[:5000]
    odd = bytes(b for b in range(1, 128) if b != 0x0a)
    with Server() as srv:
        r = client("%s:%d" % (LO, srv.tcp_port), input=long_msg + b"\n" + odd + b"\n")
        assert r.code == 0, r.describe()
        got = [m for m, _, _ in exchanges(r, MEAS_RE, "long and binary")]
        assert len(got) == 2, "want 2 exchanges, got %d; %s" % (len(got), r.describe())
        assert got[0] == long_msg, "5000-byte message came back as %d bytes: %r" % (
            len(got[0]), got[0][:80])
        assert got[1] == odd, "bytes 0x01..0x7f came back as %r" % got[1]


def test_client_empty_line_ends():
    with Server() as srv:
        r = client("%s:%d" % (LO, srv.tcp_port), input=b"first\n\nnever sent\n")
        assert r.code == 0, r.describe()
        got = [m for m, _, _ in exchanges(r, MEAS_RE, "empty line")]
        assert got == [b"first"], "messages %r after an empty line; %s" % (
            got, r.describe())
        assert b"never sent" not in r.out_b, r.describe()


def test_client_seed_server():
    with SeedServer() as seed:
        r = client("%s:%d" % (LO, seed.port), input=b"hello seed\nsecond\n")
        assert r.code == 0, "%s\nseed: %s" % (r.describe(), seed.describe())
        got = [m for m, _, _ in exchanges(r, MEAS_TEXT_RE, "seed server")]
        assert got == [b"hello seed", b"second"], "messages %r; %s" % (
            got, r.describe())
        seed.check_serves()
        for msg in ("tsecho?", "hello seed", "second"):
            seed.wait_line(lambda l: msg in l, timeout=2.0,
                           what="the seed's log of %r" % msg)


def test_client_exit_codes():
    closed = free_port()
    r = client("%s:%d" % (LO, closed), input=b"hi\n")
    assert r.code == 4, "connection refused: want 4; %s" % r.describe()
    one_stderr_line(r, "refused")

    r = client("no-such-host.invalid:12345", input=b"hi\n", timeout=30)
    assert r.code == 3, "unknown host: want 3; %s" % r.describe()
    one_stderr_line(r, "unknown host")

    with TcpPeer("close") as peer:
        r = client("-W", "2", "%s:%d" % (LO, peer.port), input=b"hi\n")
        assert r.code == 7, "server closed the connection: want 7; %s" % (
            r.describe())
        one_stderr_line(r, "closed by the server")
        assert peer.accepted >= 1, "the client never connected"
        assert r.elapsed < 5.0, "took %.2f s to see the close" % r.elapsed

    with TcpPeer("mute") as peer:
        r = client("-W", "0.5", "%s:%d" % (LO, peer.port), input=b"hi\n")
        assert r.code == 6, "server never answers: want 6; %s" % r.describe()
        one_stderr_line(r, "no answer")
        assert peer.accepted >= 1, "the client never connected"
        assert r.elapsed < 4.0, "-W 0.5 but it took %.2f s" % r.elapsed


def test_client_cli():
    for flag in ("--help", "-h"):
        r = client(flag, timeout=5)
        assert r.code == 0 and "usage" in r.out.lower(), r.describe()
    r = client("--help", timeout=5)
    for opt in ("--timeout", "--text"):
        assert opt in r.out, "client --help does not mention %s" % opt
    for args in (("--bogus", LO), (), ("-W", "soon", LO), ("-W",)):
        r = client(*args, timeout=5)
        assert r.code == 2, "client %s: want exit 2; %s" % (" ".join(args),
                                                            r.describe())
        one_stderr_line(r, "client %s" % " ".join(args))

"""Integration tests for `tsecho probe`: many targets probed all the time,
the results served as Prometheus metrics.

The contract: `tsecho probe --help` (src/probe/cmd_probe.c) and the metric
families of src/probe/prober.c.  Peers: real `tsecho server`s on loopback
(port 0), the seed's text server, and small Python peers.  The page is read
with promtext.Page, which checks the exposition format on every scrape.
Every wait polls the metrics endpoint against a deadline; no test asserts a
latency, only structure, signs and bounds.
"""

import math
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time

from harness import (START_TIMEOUT_S, Process, SeedServer, Server, SkipTest,
                     UdpPeer, UdpReflector, free_port, have_ipv6_loopback,
                     http_get, require_binary, require_tool, run_tsecho)
from promtext import Page

LO = "127.0.0.1"
FAST = ("-i", "100ms", "-W", "300ms")      # short interval and timeout
METRICS_RE = re.compile(r"^listening on metrics (.+):(\d+)$")
WAIT_S = 10.0                              # deadline of every page condition
COUNTERS = ("tsecho_probe_sent_total", "tsecho_probe_received_total",
            "tsecho_probe_lost_total")
DELAYS = ("tsecho_probe_clock_offset_seconds",
          "tsecho_probe_clock_offset_bound_seconds",
          "tsecho_probe_forward_delay_seconds",
          "tsecho_probe_backward_delay_seconds")
RTT_BOUNDS = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
              1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.inf]
SLACK_S = 0.001                            # timestamp rounding, scheduling


def label(host, port):
    """The target label of HOST:PORT (IPv6 in brackets)."""
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


class Probe(Process):
    """A running `tsecho probe --metrics 127.0.0.1:0 ARGS`, once it has
    printed its listening line (attribute metrics_port).  Leaving the with
    block sends SIGTERM and, when the block raised nothing, asserts exit 0."""

    def __init__(self, *args):
        Process.__init__(self, [require_binary(), "probe", "--metrics",
                                "%s:0" % LO] + list(args))
        try:
            line = self.wait_line(lambda l: METRICS_RE.match(l) is not None,
                                  timeout=START_TIMEOUT_S,
                                  what="'listening on metrics' line")
        except BaseException:
            self.stop(signal.SIGKILL)
            raise
        self.metrics_port = int(METRICS_RE.match(line).group(2))
        self.last_page = None

    def __exit__(self, exc_type, exc, tb):
        code = self.stop(signal.SIGTERM)
        if exc_type is None:
            reports = [l for l in self.stderr_lines()
                       if "Sanitizer" in l or "runtime error:" in l]
            assert not reports, "sanitizer report: %s" % "\n".join(reports)
            assert code == 0, "probe exit %r after SIGTERM, want 0; %s" % (
                code, self.describe())
        return False

    def scrape(self):
        status, body = http_get(self.metrics_port, "/metrics")
        assert status == 200, "GET /metrics: status %s: %r" % (status, body[:300])
        self.last_page = Page(body)
        return self.last_page

    def wait_page(self, cond, what, timeout=WAIT_S):
        """The first page (polled every 50 ms) for which cond(page) is
        true; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.alive(), "probe exited while waiting for %s; %s" % (
                what, self.describe())
            page = self.scrape()
            if cond(page):
                return page
            if time.monotonic() > deadline:
                raise AssertionError("no page with %s within %.0f s; last page:\n"
                                     "%s\n%s" % (what, timeout,
                                                 page_summary(page), self.describe()))
            time.sleep(0.05)


def page_summary(page):
    """The page without its bucket lines, for failure messages."""
    return "\n".join(l for l in page.text.splitlines()
                     if "_bucket{" not in l and not l.startswith("#"))[-4000:]


def val(page, name, target, mode):
    """A target's sample, or None when the page has none."""
    return page.get(name, target=target, mode=mode)


def received_at_least(n, *targets):
    """A page condition: every (target, mode) is up with n answers."""
    def cond(page):
        return all(val(page, "tsecho_probe_up", t, m) == 1 and
                   (val(page, "tsecho_probe_received_total", t, m) or 0) >= n
                   for t, m in targets)
    return cond


def check_healthy(page, target, mode, server_times):
    """One answered target's samples: up, no loss, the RTT histogram over
    every answer with the documented buckets, and the delay gauges exactly
    when the mode carries server times."""
    what = "%s %s" % (mode, target)
    up = val(page, "tsecho_probe_up", target, mode)
    sent, received, lost = (val(page, n, target, mode) for n in COUNTERS)
    assert up == 1, "%s: up %r" % (what, up)
    assert lost == 0, "%s: lost %r on loopback" % (what, lost)
    # A probe may be in flight at the scrape: sent leads received by one.
    assert received <= sent <= received + 1, "%s: sent %r, received %r" % (
        what, sent, received)
    h = page.histogram("tsecho_probe_rtt_seconds", target=target, mode=mode)
    assert h["count"] == received, "%s: rtt _count %r != received %r" % (
        what, h["count"], received)
    assert [le for le, _ in h["buckets"]] == RTT_BOUNDS, \
        "%s: bucket bounds %r" % (what, [le for le, _ in h["buckets"]])
    assert 0 < h["sum"] < received * 0.3, "%s: rtt _sum %r for %r answers " \
        "within a 300 ms timeout" % (what, h["sum"], received)
    for name in DELAYS:
        v = val(page, name, target, mode)
        if server_times:
            assert v is not None and math.isfinite(v), "%s: %s is %r" % (what, name, v)
        else:
            assert v is None, "%s: %s present (%r) in a mode without server " \
                "times" % (what, name, v)
    if server_times:
        off = val(page, "tsecho_probe_clock_offset_seconds", target, mode)
        bound = val(page, "tsecho_probe_clock_offset_bound_seconds", target, mode)
        fwd = val(page, "tsecho_probe_forward_delay_seconds", target, mode)
        bwd = val(page, "tsecho_probe_backward_delay_seconds", target, mode)
        # One host, one clock: the true offset is 0, so the estimate is
        # within its bound of it, and each one-way delay, really >= 0, is
        # off by at most the bound.
        assert 0 <= bound < 0.3, "%s: bound %r s" % (what, bound)
        assert abs(off) <= bound + SLACK_S, "%s: offset %r s outside its " \
            "bound %r s on one host" % (what, off, bound)
        for d, v in (("forward", fwd), ("backward", bwd)):
            assert -bound - SLACK_S < v < 0.3, "%s: %s delay %r s with bound " \
                "%r s" % (what, d, v, bound)


def write_file(path, text):
    """Replaces path at once (a rename), so a reload never sees half."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def one_stderr_line(r, what, *needles):
    lines = r.err_lines()
    assert r.code == 2, "%s: want exit 2; %s" % (what, r.describe())
    assert len(lines) == 1, "%s: want one line on stderr; %s" % (what, r.describe())
    for n in needles:
        assert n in lines[0], "%s: %r does not name %r" % (what, lines[0], n)


def promtool_check(page_text, what):
    promtool = require_tool("promtool", "prometheus")
    p = subprocess.run([promtool, "check", "metrics"], input=page_text.encode(),
                       capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace").strip()
    assert p.returncode == 0 and not out, \
        "promtool check metrics (%s): exit %d, output:\n%s" % (
            what, p.returncode, out)


# ------------------------------------------------------------ the reader

def test_probe_page_reader_rejects_broken_pages():
    """promtext.Page catches what the tests below rely on it to catch."""
    good = ('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n'
            '# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\n'
            'h_sum 0.3\nh_count 2\n')
    page = Page(good)
    assert page.value("a_total", x=1) == 3 and page.get("a_total", x=2) is None
    assert page.histogram("h")["count"] == 2
    assert Page('# TYPE g gauge\ng{l="q\\"\\\\\\n"} -1.5e-3\n').series("g") == \
        [({"l": 'q"\\\n'}, -1.5e-3)]
    broken = {
        "a sample before its TYPE": "a 1\n",
        "a repeated series": '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n',
        "a family split in two": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n"
                                 "# TYPE a gauge\n",
        "a negative counter": "# TYPE a_total counter\na_total -1\n",
        "buckets not cumulative": good.replace('le="0.1"} 1', 'le="0.1"} 5'),
        "+Inf bucket != count": good.replace("h_count 2", "h_count 3"),
        "no +Inf bucket": good.replace('h_bucket{le="+Inf"} 2\n', ""),
        "a bad label": '# TYPE a gauge\na{x=1} 1\n',
        "a bad value": '# TYPE a gauge\na 1,5\n',
        "no final newline": "# TYPE a gauge\na 1",
    }
    for why, text in broken.items():
        try:
            Page(text)
        except AssertionError:
            continue
        raise AssertionError("the page reader accepted a page with %s" % why)


# ------------------------------------------------------------ the modes

def test_probe_all_modes_against_a_server():
    v6 = have_ipv6_loopback()
    with Server("--stamp=0") as srv, \
            (Server(listen="::1") if v6 else Server()) as srv6:
        tcp, stamp = label(LO, srv.tcp_port), label(LO, srv.stamp_port)
        udp = label(LO, srv.udp_port)
        targets = [(tcp, "tcp"), (udp, "udp"), (stamp, "stamp"), (tcp, "connect")]
        args = ["tcp://" + tcp, "udp://" + udp, "stamp://" + stamp,
                "connect://" + tcp]
        if v6:
            t6 = label("::1", srv6.tcp_port)
            targets.append((t6, "tcp"))
            args.append(t6)                      # no MODE://: tcp
        with Probe(*(list(FAST) + args)) as pr:
            page = pr.wait_page(received_at_least(3, *targets),
                                "every target up with 3 answers")
            page = pr.wait_page(grown(page, 3, *targets), "3 more answers each")
            for t, m in targets:
                check_healthy(page, t, m, server_times=(m != "connect"))
            info = page.series("tsecho_build_info")
            assert len(info) == 1 and info[0][1] == 1 and \
                info[0][0].get("version"), "tsecho_build_info: %r" % info
            # Every line of state says up, one per target, none down.
            ups = [l for l in pr.lines() if l.endswith(" up")]
            want = sorted("%s://%s up" % (m, t) for t, m in targets)
            assert sorted(ups) == want, "up lines %r, want %r" % (ups, want)
            assert not [l for l in pr.lines() if " down: " in l], pr.describe()
        if not v6:
            raise SkipTest("no IPv6 loopback (the IPv4 targets passed)")


def test_probe_synced_has_no_offset():
    with Server("--stamp=0") as srv:
        tcp, stamp = label(LO, srv.tcp_port), label(LO, srv.stamp_port)
        targets = [(tcp, "tcp"), (stamp, "stamp")]
        with Probe(*FAST, "--synced", tcp, "stamp://" + stamp) as pr:
            page = pr.wait_page(received_at_least(3, *targets), "3 answers each")
            for t, m in targets:
                for name in DELAYS[:2]:
                    assert val(page, name, t, m) is None, \
                        "--synced: %s present for %s %s" % (name, m, t)
                for name in DELAYS[2:]:
                    v = val(page, name, t, m)
                    # Raw one-way delays on one clock: >= 0 but for the
                    # rounding of the timestamps.
                    assert v is not None and -SLACK_S < v < 0.3, \
                        "--synced: %s %r for %s %s" % (name, v, m, t)
            promtool_check(page.text, "--synced")


def test_probe_seed_text_server():
    with SeedServer() as seed:
        t = label(LO, seed.port)
        with Probe(*FAST, t) as pr:
            page = pr.wait_page(received_at_least(3, (t, "tcp")),
                                "the seed's text server up with 3 answers")
            up, sent, received, lost = (val(page, n, t, "tcp") for n in
                                        ("tsecho_probe_up",) + COUNTERS)
            assert lost == 0 and received <= sent <= received + 1, \
                page_summary(page)
            h = page.histogram("tsecho_probe_rtt_seconds", target=t, mode="tcp")
            assert h["count"] == received, (h, received)
            assert "tcp://%s up" % t in pr.lines(), pr.describe()
        seed.check_serves()


# ------------------------------------------------------------ failures

def test_probe_target_goes_away_and_comes_back():
    srv = Server()
    try:
        port = srv.tcp_port
        assert srv.udp_port == port, "tcp and udp on one -p 0 port"
        t = label(LO, port)
        targets = [(t, "tcp"), (t, "udp")]
        with Probe(*FAST, "tcp://" + t, "udp://" + t) as pr:
            pr.wait_page(received_at_least(3, *targets), "both targets up")
            srv.stop(signal.SIGKILL)

            def all_down(page):
                return all(val(page, "tsecho_probe_up", *x) == 0 for x in targets)
            page = pr.wait_page(all_down, "both targets down after SIGKILL")
            lost0 = {x: val(page, "tsecho_probe_lost_total", x[0], x[1])
                     for x in targets}
            sent0 = {x: val(page, "tsecho_probe_sent_total", x[0], x[1])
                     for x in targets}
            # Still down three intervals later, loss growing with the
            # probes (or connection attempts) sent, the series all there.
            page = pr.wait_page(lambda p: all(
                val(p, "tsecho_probe_lost_total", *x) >= lost0[x] + 3
                for x in targets), "lost_total growing while down")
            for x in targets:
                assert val(page, "tsecho_probe_up", *x) == 0, page_summary(page)
                sent, received, lost = (val(page, n, *x) for n in COUNTERS)
                assert sent > sent0[x], (x, sent, sent0[x])
                # Nothing lost twice, nothing answered and lost both.
                assert received + lost <= sent, (x, sent, received, lost)
                h = page.histogram("tsecho_probe_rtt_seconds", target=t,
                                   mode=x[1])
                assert h["count"] == received, (x, h, received)
            for x in targets:
                down = [l for l in pr.lines()
                        if l.startswith("%s://%s down: " % (x[1], t))]
                assert down, "no down line for %s; %s" % (x, pr.describe())

            # A new server on the same port: the targets reconnect.
            srv = start_server_on(port)
            page = pr.wait_page(lambda p: all(
                val(p, "tsecho_probe_up", *x) == 1 for x in targets),
                "both targets up again on the new server")
            for x in targets:
                # (At least two: a probe sent while no server was there may
                # time out after a later one was answered, and flap the
                # state once more.)
                ups = [l for l in pr.lines() if l == "%s://%s up" % (x[1], t)]
                assert len(ups) >= 2, "want an up line for %s again; %s" % (
                    x, pr.describe())
            page = pr.wait_page(grown(page, 3, *targets), "3 answers each "
                                "from the new server")
            for x in targets:
                sent, received, lost = (val(page, n, *x) for n in COUNTERS)
                assert received + lost <= sent, (x, sent, received, lost)
    finally:
        srv.stop()


def start_server_on(port, tries_s=5.0):
    """A tsecho server on 127.0.0.1:port for tcp and udp, retrying while
    the port is not free again."""
    deadline = time.monotonic() + tries_s
    while True:
        try:
            return Server("-l", LO, "-p", str(port), listen=None)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_probe_refused_and_unknown_host():
    closed = free_port()
    targets = [(label(LO, closed), "tcp"), (label(LO, closed), "connect"),
               ("nonexistent.invalid:12345", "tcp")]
    with Probe(*FAST, label(LO, closed), "connect://" + label(LO, closed),
               "nonexistent.invalid") as pr:
        page = pr.scrape()
        for x in targets:                # there from the start, down
            assert val(page, "tsecho_probe_up", *x) == 0, page_summary(page)
        page = pr.wait_page(lambda p: all(
            val(p, "tsecho_probe_lost_total", *x) >= 3 for x in targets),
            "3 losses for each target", timeout=20)
        for x in targets:
            sent, received, lost = (val(page, n, *x) for n in COUNTERS)
            assert val(page, "tsecho_probe_up", *x) == 0, page_summary(page)
            assert received == 0 and lost <= sent <= lost + 1, \
                (x, sent, received, lost)
            h = page.histogram("tsecho_probe_rtt_seconds", target=x[0], mode=x[1])
            assert h["count"] == 0 and h["sum"] == 0, (x, h)
            for name in DELAYS:
                assert val(page, name, *x) is None, (x, name)
        lines = pr.lines()
        assert not [l for l in lines if l.endswith(" up")], pr.describe()
        for x, why in ((targets[0], "refused"), (targets[2], "unknown host")):
            down = [l for l in lines if l.startswith("%s://%s down: " % (x[1], x[0]))]
            assert len(down) == 1, "want one down line for %s; %s" % (
                x, pr.describe())
            assert why in down[0], "%r does not say %r" % (down[0], why)
        down = [l for l in lines if l.startswith("connect://%s down: " % targets[1][0])]
        assert len(down) == 1 and "refused" in down[0], pr.describe()
        promtool_check(page.text, "down targets")


def test_probe_bad_targets_at_start():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "targets")
        for bad in ("bogus://%s:1" % LO, "%s:99999" % LO, "udp://", "[::1"):
            write_file(path, "# good, then bad\n%s:1\n%s\n" % (LO, bad))
            r = run_tsecho("probe", "--metrics", "%s:0" % LO, "-f", path, timeout=10)
            one_stderr_line(r, "a targets file with %r" % bad, bad, path + ":3:")
            r = run_tsecho("probe", "--metrics", "%s:0" % LO, bad, timeout=10)
            one_stderr_line(r, "target %r on the command line" % bad, bad)
        missing = os.path.join(d, "missing")
        r = run_tsecho("probe", "--metrics", "%s:0" % LO, "-f", missing, timeout=10)
        one_stderr_line(r, "a missing targets file", missing)
        write_file(path, "# nothing but comments\n\n   \n")
        r = run_tsecho("probe", "--metrics", "%s:0" % LO, "-f", path, timeout=10)
        one_stderr_line(r, "a targets file without targets")


# ------------------------------------------------------------ SIGHUP

def test_probe_sighup_reload():
    with Server("--stamp=0") as srv, tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "targets")
        t, st = label(LO, srv.tcp_port), label(LO, srv.stamp_port)
        assert srv.udp_port == srv.tcp_port, "tcp and udp on one -p 0 port"
        cli = (t, "tcp")             # on the command line: always stays
        kept = (t, "connect")        # in both files
        gone = (t, "udp")            # in the first file only
        new = (st, "stamp")          # in the second file only
        write_file(path, "# first\nconnect://%s # kept\nudp://%s\n" % (t, t))
        with Probe(*FAST, "-f", path, "tcp://" + t) as pr:
            page = pr.wait_page(received_at_least(3, kept, gone, cli),
                                "the three first targets up")
            assert val(page, "tsecho_probe_up", *new) is None, page_summary(page)
            sent_before = val(page, "tsecho_probe_sent_total", *kept)
            lines_before = len(pr.lines())
            write_file(path, "connect://%s\n  stamp://%s  # new\n" % (t, st))
            pr.send_signal(signal.SIGHUP)
            pr.wait_line(lambda l: l == "reloaded: 3 targets",
                         start=lines_before, what="'reloaded: 3 targets'")
            page = pr.wait_page(received_at_least(2, new, kept, cli),
                                "the new target up")
            for name in ("tsecho_probe_up", "tsecho_probe_rtt_seconds_count") \
                    + COUNTERS + DELAYS:
                assert val(page, name, *gone) is None, \
                    "the removed target's %s is still on the page:\n%s" % (
                        name, page_summary(page))
            sent_after = val(page, "tsecho_probe_sent_total", *kept)
            assert sent_after > sent_before, \
                "the kept target's sent_total went from %r to %r: reset by " \
                "the reload" % (sent_before, sent_after)

            # A bad line on reload is skipped with a message; the rest
            # is applied.
            lines_before, err_before = len(pr.lines()), len(pr.stderr_lines())
            write_file(path, "connect://%s\nbogus://x\n" % t)
            pr.send_signal(signal.SIGHUP)
            pr.wait_line(lambda l: l == "reloaded: 2 targets",
                         start=lines_before, what="'reloaded: 2 targets'")
            errs = wait_stderr(pr, err_before)
            assert len(errs) == 1 and "bogus://x" in errs[0], \
                "want one stderr line naming bogus://x, got %r" % errs
            page = pr.scrape()
            assert val(page, "tsecho_probe_up", *new) is None, page_summary(page)
            assert val(page, "tsecho_probe_sent_total", *kept) >= sent_after

            # A file that cannot be read keeps what runs.
            os.unlink(path)
            lines_before, err_before = len(pr.lines()), len(pr.stderr_lines())
            pr.send_signal(signal.SIGHUP)
            errs = wait_stderr(pr, err_before)
            assert len(errs) == 1 and path in errs[0], \
                "want one stderr line naming the missing file, got %r" % errs
            pr.wait_page(grown(pr.scrape(), 2, kept, cli),
                         "both targets still probed after a failed reload")
            assert not [l for l in pr.lines()[lines_before:]
                        if l.startswith("reloaded")], pr.describe()


def wait_stderr(proc, start, timeout=5.0):
    """The stderr lines from index start, once there is one (and a moment
    for any that follow)."""
    deadline = time.monotonic() + timeout
    while len(proc.stderr_lines()) <= start and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    return proc.stderr_lines()[start:]


def grown(page0, n, *targets):
    """A page condition: every (target, mode) answered n more probes than
    on page0, and is up."""
    base = {x: val(page0, "tsecho_probe_received_total", *x) or 0 for x in targets}
    def cond(page):
        return all(val(page, "tsecho_probe_up", *x) == 1 and
                   (val(page, "tsecho_probe_received_total", *x) or 0) >= base[x] + n
                   for x in targets)
    return cond


# ------------------------------------------------------------ pacing

def test_probe_interval_with_jitter():
    never = 10**9                       # UdpReflector: no drops, copies or holds
    with UdpReflector(drop_every=never, dup_every=never, hold_every=never) as peer:
        t = label(LO, peer.port)
        with Probe("-q", *FAST, "udp://" + t) as pr:
            t0 = time.monotonic()
            time.sleep(3.0)
            page = pr.scrape()
            took = time.monotonic() - t0
            sent = val(page, "tsecho_probe_sent_total", t, "udp")
            received = val(page, "tsecho_probe_received_total", t, "udp")
            # About 30 in 3 s at 100 ms; each send moves by up to 10%.
            assert 20 <= sent <= 40, "sent %r probes in %.2f s at -i 100ms" % (
                sent, took)
            assert val(page, "tsecho_probe_lost_total", t, "udp") == 0
            assert received >= sent - 1, (sent, received)
            assert not pr.lines()[1:], "-q printed %r" % pr.lines()
        with peer.lock:
            gaps = [b - a for a, b in zip(peer.arrivals, peer.arrivals[1:])]
    assert len(gaps) >= 19, "the peer saw %d probes" % (len(gaps) + 1)
    mean = statistics.mean(gaps)
    assert 0.085 <= mean <= 0.12, "mean gap %.4f s at -i 100ms" % mean
    # (No bound on single gaps: one late send, or a late wakeup of this
    # peer, shortens the next gap, as an open-loop schedule should.)
    # Uniform jitter of +-10 ms gives gaps with a spread of several ms;
    # a fixed schedule on an idle loopback stays well under one.
    sd = statistics.pstdev(gaps)
    assert sd >= 0.002, "gaps do not vary (sd %.5f s): no jitter? %r" % (
        sd, [round(g, 4) for g in gaps])


# ------------------------------------------------------------ promtool

def test_probe_promtool_check():
    with Server("--stamp=0") as srv:
        tcp, stamp = label(LO, srv.tcp_port), label(LO, srv.stamp_port)
        udp = label(LO, srv.udp_port)
        targets = [(tcp, "tcp"), (udp, "udp"), (stamp, "stamp"), (tcp, "connect")]
        with Probe(*FAST, tcp, "udp://" + udp, "stamp://" + stamp,
                   "connect://" + tcp, label(LO, free_port())) as pr:
            page = pr.wait_page(received_at_least(2, *targets), "targets up")
    promtool_check(page.text, "four modes and a refused target")
    # Only connect targets: the delay families have no samples at all.
    with Server() as srv:
        t = label(LO, srv.tcp_port)
        with Probe(*FAST, "connect://" + t) as pr:
            page = pr.wait_page(received_at_least(1, (t, "connect")), "up")
    promtool_check(page.text, "a connect target only")


# ------------------------------------------------------------ command line

def test_probe_sigterm_and_sigint():
    with UdpPeer("drop") as mute, Server() as srv:
        t = label(LO, srv.tcp_port)
        for sig in (signal.SIGTERM, signal.SIGINT):
            # A probe waiting out a 2 s timeout, a connected target, and a
            # refused one reconnecting.
            pr = Probe("-i", "100ms", "-W", "2s", "udp://" + label(LO, mute.port),
                       t, "connect://" + label(LO, free_port()))
            try:
                pr.wait_page(received_at_least(2, (t, "tcp")), "the tcp target up")
                t0 = time.monotonic()
                pr.send_signal(sig)
                code = pr.wait_exit(5.0)
                took = time.monotonic() - t0
                assert code is not None, "still running 5 s after %s; %s" % (
                    sig.name, pr.describe())
                assert code == 0, "exit %r after %s; %s" % (code, sig.name,
                                                            pr.describe())
                assert not pr.stderr_lines(), pr.describe()
                assert took < 5.0, took
            finally:
                pr.stop(signal.SIGKILL)


def test_probe_cli():
    r = run_tsecho("probe", "--help", timeout=5)
    assert r.code == 0 and r.out.startswith("usage: tsecho probe"), r.describe()
    for opt in ("-m, --metrics", "-f, --targets", "-i, --interval",
                "-W, --timeout", "-s, --size", "--synced", "-q, --quiet",
                "-h, --help", "tcp", "udp", "stamp", "connect", "SIGHUP"):
        assert opt in r.out, "probe --help does not mention %r" % opt
    assert not r.err, r.describe()
    r = run_tsecho("probe", "-h", timeout=5)
    assert r.code == 0 and r.out.startswith("usage: tsecho probe"), r.describe()

    m = ("--metrics", "%s:0" % LO)
    cases = [
        ((LO,), "no --metrics", ["--metrics"]),
        (m, "no targets", []),
        (m + ("-i", "5ms", LO), "-i 5ms", ["5ms"]),
        (m + ("-i", "0", LO), "-i 0", ["--interval"]),
        (m + ("-i", "fast", LO), "-i fast", ["fast"]),
        (m + ("-i", "2h", LO), "-i 2h", ["2h"]),
        (m + ("-W", "0", LO), "-W 0", ["--timeout"]),
        (m + ("-s", "0", LO), "-s 0", ["--size"]),
        (m + ("-s", "20", LO), "-s 20 below a header", ["--size"]),
        (m + ("--bogus", LO), "--bogus", []),
        (m + ("-i",), "-i without a value", []),
        (("--metrics", "nonsense", LO), "--metrics nonsense", ["nonsense"]),
        (("--metrics", "%s:99999" % LO, LO), "--metrics port 99999", ["99999"]),
    ]
    for args, what, needles in cases:
        r = run_tsecho("probe", *args, timeout=10)
        one_stderr_line(r, "probe %s (%s)" % (" ".join(args), what), *needles)
        # (A bad --metrics address is found only after the targets have
        # started, so a state line may come first.)
        assert not r.out or args[0] == "--metrics" and args[1] != "%s:0" % LO, \
            "%s: stdout %r" % (what, r.out)


def test_probe_same_target_written_twice_is_one_series():
    # 127.0.0.1:P, tcp://127.0.0.1:P and 127.0.0.1:0P are one target: one
    # series (a repeated series is an invalid page), probed once.
    with Server() as srv:
        t = label(LO, srv.tcp_port)
        with Probe(*(list(FAST) + [t, "tcp://" + t, "%s:0%d" % (LO, srv.tcp_port)])) as pr:
            page = pr.wait_page(received_at_least(3, (t, "tcp")), "3 answers")
            assert len(page.series("tsecho_probe_up")) == 1, page_summary(page)
            ups = [l for l in pr.lines() if l.endswith(" up")]
            assert ups == ["tcp://%s up" % t], pr.describe()


def test_probe_lost_probe_behind_an_answered_one_keeps_target_up():
    # Every 10th probe is dropped; with a timeout longer than the interval
    # the loss is seen after later probes were answered: counted as lost,
    # but the target does not flap down and up.
    with UdpReflector(drop_every=10, dup_every=10**9, hold_every=10**9) as peer:
        t = label(LO, peer.port)
        with Probe("-i", "50ms", "-W", "300ms", "udp://" + t) as pr:
            page = pr.wait_page(
                lambda p: (val(p, "tsecho_probe_lost_total", t, "udp") or 0) >= 3,
                "3 losses", timeout=20)
            assert val(page, "tsecho_probe_up", t, "udp") == 1, page_summary(page)
            assert not [l for l in pr.lines() if " down: " in l], pr.describe()

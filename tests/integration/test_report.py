"""Integration tests for `--report FILE.html` of `tsecho ping` and `tsecho
bench` (docs/ping.md, docs/bench.md): the real binary writes the page, and
Python's html.parser reads it back.

What is asserted: the three charts and nothing else (each an inline <svg>
with its <title> and <desc> and data marks), the summary table carrying the
same numbers as the same run's --json, the command line, no script and
nothing loaded from elsewhere; the unhappy paths (a path that cannot be
written fails before anything is measured; a full disk; no reply at all;
Ctrl+C).  With `chromium` installed, the page is also rendered headless:
screenshots at desktop and phone size, the rendered DOM, console errors.
Without it that test is skipped, unless TSECHO_REQUIRE_TOOLS=1.
"""

import html.parser
import json
import os
import re
import signal
import socket
import struct
import subprocess
import zlib

from harness import (Process, Server, SkipTest, TempDir, free_port, require_binary,
                     require_tool, run_tsecho)

LO = "127.0.0.1"
CHARTS = ("chart-time", "chart-spectrum", "chart-hist")
CHROMIUM_TIMEOUT_S = 60



class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text = [], []

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def find_all(self, tag=None, **attrs):
        return [n for n in self.walk() if (tag is None or n.tag == tag) and
                all(n.attrs.get(k) == v for k, v in attrs.items())]

    def all_text(self):
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def classes(self):
        return (self.attrs.get("class") or "").split()


VOID = {"meta", "br", "img", "input", "link", "hr", "area", "base", "col",
        "embed", "source", "track", "wbr"}


class Tree(html.parser.HTMLParser):
    """The page as a tree of Nodes, and whatever looked wrong on the way."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root
        self.problems = []

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is None or n.parent is None:
            self.problems.append("stray </%s>" % tag)
            return
        if n is not self.cur:
            self.problems.append("</%s> closes <%s> too" % (tag, self.cur.tag))
        self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)


def parse_page(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    t = Tree()
    t.feed(text)
    t.close()
    assert not t.problems, "%s: badly nested: %s" % (path, t.problems[:5])
    assert t.cur is t.root, "%s: <%s> never closed" % (path, t.cur.tag)
    return text, t.root


def summary_rows(root):
    """{label: value} of every row of the summary's tables (the first
    occurrence of a label wins)."""
    rows = {}
    for tr in root.find_all("section", id="summary")[0].find_all("tr"):
        th, td = tr.find_all("th"), tr.find_all("td")
        if th and td:
            rows.setdefault(th[0].all_text().strip(), td[0].all_text().strip())
    return rows


def check_page(path, what):
    """The structure every report has; returns (text, root, charts) with
    charts the {id: figure node} of the three."""
    text, root = parse_page(path)
    assert text.startswith("<!DOCTYPE html>"), "%s: no doctype" % what
    assert root.find_all("meta", name="viewport"), "%s: no viewport meta" % what
    assert root.find_all("meta", charset="utf-8"), "%s: no charset" % what
    assert not root.find_all("script"), "%s: has a <script>" % what
    assert "<script" not in text.lower(), "%s: has a <script>" % what
    for n in root.walk():
        for k, v in n.attrs.items():
            assert not k.startswith("on"), "%s: event handler %s=%r" % (what, k, v)
            if k in ("src", "href", "xlink:href", "action", "srcset", "poster"):
                assert not re.match(r"\s*(https?:)?//", v or ""), \
                    "%s: loads %s=%r" % (what, k, v)
    for bad in ("@import", "url(", "@font-face"):
        assert bad not in text, "%s: the CSS loads something: %r" % (what, bad)
    figures = [n for n in root.walk() if n.attrs.get("id", "").startswith("chart-")]
    ids = sorted(n.attrs["id"] for n in figures)
    assert ids == sorted(CHARTS), "%s: charts %r, want %r" % (what, ids, CHARTS)
    charts = {n.attrs["id"]: n for n in figures}
    return text, root, charts


def check_svg(fig, what, n_data, tags=("circle", "rect", "path")):
    """fig holds exactly one <svg> with a viewBox, a <title> and a <desc>,
    and at least n_data data marks (tags outside the axes group)."""
    svgs = fig.find_all("svg")
    assert len(svgs) == 1, "%s: %d <svg>, want 1" % (what, len(svgs))
    svg = svgs[0]
    assert re.match(r"0 0 \d+ \d+$", svg.attrs.get("viewbox", "")), \
        "%s: viewBox %r" % (what, svg.attrs.get("viewbox"))
    assert svg.attrs.get("role") == "img", "%s: no role=img" % what
    for t in ("title", "desc"):
        nodes = [c for c in svg.children if c.tag == t]
        assert nodes and nodes[0].all_text().strip(), "%s: no <%s>" % (what, t)
    axes = svg.find_all("g", **{"class": "axes"})
    assert axes and axes[0].find_all("text"), "%s: no axis labels" % what
    marks = [n for n in svg.walk() if n.tag in tags and
             not any(a.tag == "g" and "axes" in a.classes() for a in ancestors(n))]
    assert len(marks) >= n_data, "%s: %d data marks, want >= %d" % (
        what, len(marks), n_data)
    return svg


def ancestors(n):
    n = n.parent
    while n is not None:
        yield n
        n = n.parent


def bar_counts(svg):
    """The counts in the histogram bars' tooltips ("a to b unit: N")."""
    out = []
    for rect in svg.find_all("rect"):
        t = rect.find_all("title")
        assert t, "a histogram bar without its <title>"
        m = re.search(r": (\d+)$", t[0].all_text())
        assert m, "bar title %r" % t[0].all_text()
        out.append(int(m.group(1)))
    return out


def json_of(r, what):
    try:
        return json.loads(r.out)
    except ValueError as e:
        raise AssertionError("%s: stdout is not JSON (%s); %s" % (what, e, r.describe()))


def one_error_line(r, what, prefix):
    lines = r.err_lines()
    assert len(lines) == 1 and lines[0].startswith(prefix), \
        "%s: want one stderr line starting %r; %s" % (what, prefix, r.describe())
    return lines[0]


# ------------------------------------------------------------ ping

def ping_report(tmp, *extra):
    path = tmp.file("ping.html")
    args = ["ping", "-c", "20", "-i", "0.01", "--report", path] + list(extra)
    r = run_tsecho(*args, timeout=30)
    return path, args, r


def test_report_ping_structure():
    with TempDir() as tmp:
        path, args, r = ping_report(tmp, "--json")
        assert r.code == 0, r.describe()
        doc = json_of(r, "ping --json --report")
        assert "samples" not in doc, "--report must not add samples to --json"
        received = doc["packets"]["received"]
        assert received == 20, "received %r" % received
        text, root, charts = check_page(path, "ping report")
        # The summary carries the same run's numbers as the JSON.
        rows = summary_rows(root)
        assert rows.get("received") == str(received), rows
        assert rows.get("sent") == str(doc["packets"]["sent"]), rows
        assert rows.get("p50") == "%.3f ms" % doc["rtt_ms"]["p50"], (rows, doc["rtt_ms"])
        assert rows.get("max") == "%.3f ms" % doc["rtt_ms"]["max"], (rows, doc["rtt_ms"])
        assert "clock offset (server - client)" in rows, sorted(rows)
        # The command line, as typed (the binary is named tsecho).
        cmd = root.find_all("code", id="command")[0].all_text()
        assert cmd == "tsecho " + " ".join(args), "command %r" % cmd
        assert root.find_all("dd", id="host")[0].all_text().strip() == socket.gethostname()
        date = root.find_all("time", id="date")[0].attrs.get("datetime", "")
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", date), date
        version = run_tsecho("--version").out.split()[-1]
        assert root.find_all("dd", id="version")[0].all_text().strip() == version
        # A dot a reply; the spectrum a line; the bars add up to the replies.
        svg = check_svg(charts["chart-time"], "time chart", received, tags=("circle",))
        assert len(svg.find_all("circle")) == received
        check_svg(charts["chart-spectrum"], "spectrum", 1, tags=("path",))
        svg = check_svg(charts["chart-hist"], "histogram", 1, tags=("rect",))
        assert sum(bar_counts(svg)) == received, bar_counts(svg)
        # Percentile axis labels of HdrHistogram's plot.
        labels = [t.all_text() for t in charts["chart-spectrum"].find_all("text")]
        assert "0%" in labels and "90%" in labels and "99%" in labels, labels


# The parts of the round trip, bottom of the stack first (ts_part_name,
# ts_part_key).
PARTS = (("client send path", "client_send"), ("network out", "network_out"),
         ("server wake-up", "server_wakeup"), ("server processing", "server_processing"),
         ("server send path", "server_send"), ("network back", "network_back"),
         ("client wake-up", "client_wakeup"))
BREAKDOWN_CHARTS = ("breakdown-time", "breakdown-median")


def kt_ping_report(tmp, srv, *extra):
    path = tmp.file("kt.html")
    args = ["ping", "%s:%d" % (LO, srv.tcp_port), "--kernel-timestamps", "-c", "20",
            "-i", "0.01", "--report", path] + list(extra)
    return path, run_tsecho(*args, timeout=30)


def test_report_ping_kernel_timestamps():
    """--kernel-timestamps against a server that has them: the parts
    stacked a probe a bar (a rect a part a probe that has it, none for one
    it lacks), the bar of medians, and a summary row a part; every count
    the same as the same run's JSON."""
    with Server("--engine", "epoll", "--kernel-timestamps") as srv, TempDir() as tmp:
        path, r = kt_ping_report(tmp, srv, "--json")
        assert r.code == 0, r.describe()
        doc = json_of(r, "ping --kernel-timestamps --json --report")
        bd = doc["breakdown_ms"]
        assert bd and bd["refused"] is None, "kernel timestamps refused: %r" % bd
        received = doc["packets"]["received"]
        assert received == 20 and bd["probes"] == received, (doc["packets"], bd["probes"])
        text, root, charts = check_page(path, "kt report")
        figs = {}
        for fid in BREAKDOWN_CHARTS:
            found = root.find_all("figure", id=fid)
            assert len(found) == 1, "%d #%s" % (len(found), fid)
            assert "wide" in found[0].classes() and "chart" in found[0].classes(), \
                found[0].attrs
            figs[fid] = found[0]
        rows = summary_rows(root)
        assert rows.get("probes accounted") == "%d, %d with every part" % (
            bd["probes"], bd["complete"]), rows
        assert rows.get("note") == bd["note"], (rows.get("note"), bd["note"])
        svg = check_svg(figs["breakdown-time"], "parts over time", received, tags=("rect",))
        for k, (name, key) in enumerate(PARTS):
            count = bd[key]["count"] if bd[key] else 0
            groups = svg.find_all("g", **{"class": "seg p%d" % k})
            assert len(groups) == 1, "part %s: %d groups" % (name, len(groups))
            segs = len(groups[0].find_all("rect"))
            assert segs == count, "%s: %d segments, JSON count %d" % (name, segs, count)
            m = re.search(r"\((\d+)\)$", rows.get(name, ""))
            assert m and int(m.group(1)) == count, "%s: row %r, count %d" % (
                name, rows.get(name), count)
            # Both ends have kernel timestamps: every part of most probes.
            assert count >= received - 2, "%s: only %d of %d" % (name, count, received)
        # No later reply carries the last probe's server send time.
        for key in ("server_send", "network_back"):
            assert bd[key]["count"] <= received - 1, (key, bd[key])
        assert "%d probes, %d of them with every part." % (received, bd["complete"]) in \
            figs["breakdown-time"].all_text()
        # The medians: a segment a part with its value in the legend, in
        # µs to a tenth on loopback.
        svg = check_svg(figs["breakdown-median"], "medians", 7, tags=("rect",))
        stack = svg.find_all("g", **{"class": "stack"})
        assert stack and len(stack[0].find_all("rect")) == 7, "median bar segments"
        legend = [t.all_text() for t in svg.find_all("text")]
        for name, key in PARTS:
            want = "%s: %.1f \u00b5s" % (name, bd[key]["p50"] * 1000)
            near = [t for t in legend if t.startswith(name + ": ")]
            assert near, "%s: not in the legend %r" % (name, legend)
            got = float(near[0].split(": ")[1].split()[0])
            assert abs(got - bd[key]["p50"] * 1000) <= 0.051, (want, near)


def test_report_ping_no_reply():
    """Every probe lost: a valid page, lost marks, nothing else to chart."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LO, 0))
    port = s.getsockname()[1]
    try:
        with TempDir() as tmp:
            path = tmp.file("none.html")
            r = run_tsecho("ping", "--udp", "-c", "3", "-i", "0.05", "-W", "0.2",
                           "-q", "--report", path, "%s:%d" % (LO, port), timeout=15)
            assert r.code == 1, r.describe()
            text, root, charts = check_page(path, "no-reply report")
            rows = summary_rows(root)
            assert rows.get("sent") == "3" and rows.get("received") == "0", rows
            assert "p50" not in rows, rows
            lost = charts["chart-time"].find_all("path", **{"class": "lost"})
            assert lost and lost[0].attrs["d"].count("M") == 3, \
                "want 3 lost marks: %r" % [n.attrs for n in lost]
            for fid in ("chart-spectrum", "chart-hist"):
                assert not charts[fid].find_all("svg"), "%s drawn with no data" % fid
                assert "Nothing to chart" in charts[fid].all_text()
    finally:
        s.close()


def test_report_ping_sigint():
    """Ctrl+C: the page has what was measured up to then."""
    with Server() as srv, TempDir() as tmp:
        path = tmp.file("int.html")
        with Process([require_binary(), "ping", "-i", "0.02", "--json", "--report", path,
                      "%s:%d" % (LO, srv.tcp_port)]) as p:
            deadline = 50
            while deadline and not os.path.exists(path):
                deadline -= 1
                p.wait_exit(0.1)
            assert os.path.exists(path), "the report file is opened before the run"
            p.wait_exit(0.5)   # some probes
            p.send_signal(signal.SIGINT)
            code = p.wait_exit(5.0)
            assert code == 0, "exit %r after SIGINT; %s" % (code, p.describe())
            doc = json.loads("\n".join(p.lines()))
        received = doc["packets"]["received"]
        assert received > 3, doc["packets"]
        text, root, charts = check_page(path, "SIGINT report")
        assert summary_rows(root).get("received") == str(received)
        svg = check_svg(charts["chart-time"], "time chart", received, tags=("circle",))
        assert len(svg.find_all("circle")) == received


def test_report_unwritable_path():
    """A report path that cannot be written: exit 2, one line, and no
    probe, no connection, no load."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind((LO, 0))
    lst.listen(8)
    port = lst.getsockname()[1]
    bad = "/nonexistent-tsecho-dir/r.html"
    try:
        for cmd in (["ping", "-c", "3", "-i", "0.01"], ["bench", "-t", "1s", "-c", "2"]):
            r = run_tsecho(*(cmd + ["--report", bad, "%s:%d" % (LO, port)]), timeout=10)
            what = "%s --report %s" % (cmd[0], bad)
            assert r.code == 2, "%s: %s" % (what, r.describe())
            line = one_error_line(r, what, "tsecho %s: " % cmd[0])
            assert line == "tsecho %s: cannot write %s: No such file or directory" % (
                cmd[0], bad), line
            assert r.out == "", "%s: printed %r" % (what, r.out)
            assert r.elapsed < 2.0, "%s: took %.2f s" % (what, r.elapsed)
            lst.setblocking(False)
            try:
                conn, _ = lst.accept()
                conn.close()
                raise AssertionError("%s: connected to the target" % what)
            except BlockingIOError:
                pass
        # No host (the built-in server): not even started.
        r = run_tsecho("ping", "--report", bad, timeout=10)
        assert r.code == 2 and r.out == "", r.describe()
        one_error_line(r, "built-in ping --report", "tsecho ping: cannot write ")
    finally:
        lst.close()


def test_report_disk_full():
    """Writing fails after the run (ENOSPC at the flush): exit 2 and the
    reason, after the result was printed."""
    if not os.path.exists("/dev/full"):
        raise SkipTest("no /dev/full on this system")
    r = run_tsecho("ping", "-c", "2", "-i", "0.01", "-q", "--report", "/dev/full", timeout=15)
    assert r.code == 2, r.describe()
    line = one_error_line(r, "--report /dev/full", "tsecho ping: ")
    assert line == "tsecho ping: cannot write /dev/full: No space left on device", line
    assert "2 received" in r.out, "the summary still printed: %r" % r.out


# ------------------------------------------------------------ bench

def test_report_bench_structure():
    with TempDir() as tmp:
        path = tmp.file("bench.html")
        args = ["bench", "-t", "2s", "-c", "4", "--json", "--report", path]
        r = run_tsecho(*args, timeout=30)
        assert r.code == 0, r.describe()
        doc = json_of(r, "bench --json --report")
        text, root, charts = check_page(path, "bench report")
        rows = summary_rows(root)
        assert rows.get("messages") == str(doc["messages"]), (rows, doc["messages"])
        assert rows.get("connections") == "4", rows
        assert rows.get("p99") == "%.3f ms" % doc["latency_ms"]["p99"], rows
        cmd = root.find_all("code", id="command")[0].all_text()
        assert cmd == "tsecho " + " ".join(args), "command %r" % cmd
        # Two seconds: a point a second (the last may be a part-second),
        # for throughput, p50 and p99.
        svg = check_svg(charts["chart-time"], "bench time chart", 6, tags=("circle",))
        for series in ("s1", "s2"):
            assert svg.find_all("path", **{"class": "line %s" % series}), series
        dots = [g for g in svg.find_all("g") if "dots" in g.classes()]
        n_points = len(dots[0].find_all("circle"))
        assert 2 <= n_points <= 3, "%d throughput points for 2 s" % n_points
        check_svg(charts["chart-spectrum"], "bench spectrum", 1, tags=("path",))
        svg = check_svg(charts["chart-hist"], "bench histogram", 2, tags=("rect",))
        assert sum(bar_counts(svg)) == doc["messages"], \
            "bars add up to %d, JSON says %d" % (sum(bar_counts(svg)), doc["messages"])


def test_report_bench_open_loop():
    """Open loop: the uncorrected spectrum is drawn beside the corrected."""
    with TempDir() as tmp:
        path = tmp.file("open.html")
        r = run_tsecho("bench", "-t", "1s", "-c", "2", "--rate", "500", "-q", "--report", path,
                       timeout=30)
        assert r.code == 0, r.describe()
        text, root, charts = check_page(path, "open-loop report")
        assert "Uncorrected latency" in [c.all_text() for c in root.find_all("caption")]
        svg = check_svg(charts["chart-spectrum"], "open-loop spectrum", 2, tags=("path",))
        classes = [" ".join(p.classes()) for p in svg.find_all("path")]
        assert classes.count("line s1") >= 1 and classes.count("line s2") >= 1, classes


# ------------------------------------------------------------ a real browser

def chromium(browser, tmp, *args):
    argv = [browser, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--no-first-run", "--disable-extensions", "--hide-scrollbars",
            "--user-data-dir=" + tmp.file("profile"),
            "--enable-logging=stderr", "--v=0",
            "--vmodule=file_url_loader_factory=1"] + list(args)
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=CHROMIUM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError("chromium did not finish in %d s: %s"
                             % (CHROMIUM_TIMEOUT_S, " ".join(argv)))
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


# What a page's own trouble looks like in Chromium's log at --v=0: a console
# message (an error, an uncaught exception).  And with file_url_loader at
# verbosity 1, Chromium logs every file it loads: a page that needs nothing
# else loads only itself.
CONSOLE_RE = re.compile(r"CONSOLE|Uncaught")
LOAD_RE = re.compile(r"FileURLLoader::Start: (\S+)")


def page_errors(stderr, url):
    """Console lines, and loads of anything but url itself."""
    bad = [l for l in stderr.splitlines() if CONSOLE_RE.search(l)]
    bad += ["loaded " + u for u in LOAD_RE.findall(stderr) if u != url]
    if url not in LOAD_RE.findall(stderr):
        bad.append("the log does not show %s loading (is --vmodule still "
                   "honoured?)" % url)
    return bad


def png_info(path):
    """(width, height, distinct pixel rows, distinct bytes) of an 8-bit
    RGB(A) PNG, decoding with zlib and undoing the row filters only as far
    as telling rows apart needs (the raw filtered rows)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "%s: not a PNG" % path
    pos, idat, width = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), "depth %d colour %d" % (depth, color)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert width, "%s: no IHDR" % path
    raw = zlib.decompress(idat)
    stride = 1 + width * bpp
    assert len(raw) == stride * height, "%s: %d bytes of pixels, want %d" % (
        path, len(raw), stride * height)
    rows = {raw[i * stride + 1:(i + 1) * stride] for i in range(height)}
    return width, height, len(rows), len(set(raw))


def check_screenshot(path, width, height, what):
    assert os.path.exists(path), "%s: no screenshot" % what
    size = os.path.getsize(path)
    assert size > 20000, "%s: screenshot only %d bytes" % (what, size)
    w, h, rows, values = png_info(path)
    assert (w, h) == (width, height), "%s: %dx%d, want %dx%d" % (what, w, h, width, height)
    assert rows > 50 and values > 16, \
        "%s: looks blank (%d distinct rows, %d distinct bytes)" % (what, rows, values)


def test_report_chromium_renders():
    browser = require_tool(("chromium", "chromium-browser", "google-chrome"),
                           "chromium")
    with TempDir() as tmp:
        path, _, r = ping_report(tmp)
        assert r.code == 0, r.describe()
        bench_path = tmp.file("bench.html")
        rb = run_tsecho("bench", "-t", "1s", "-c", "2", "-q", "--report", bench_path,
                        timeout=30)
        assert rb.code == 0, rb.describe()
        with Server("--engine", "epoll", "--kernel-timestamps") as srv:
            kt_path, rk = kt_ping_report(tmp, srv, "-q")
        assert rk.code == 0, rk.describe()
        for page, name in ((path, "ping"), (bench_path, "bench"), (kt_path, "ping-kt")):
            url = "file://" + page
            for size in ((1200, 2000), (390, 844)):
                shot = tmp.file("%s-%dx%d.png" % (name, size[0], size[1]))
                code, out, err = chromium(browser, tmp, "--screenshot=" + shot,
                                          "--window-size=%d,%d" % size, url)
                what = "%s report at %dx%d" % (name, size[0], size[1])
                assert code == 0, "%s: chromium exit %d: %s" % (what, code, err[-2000:])
                check_screenshot(shot, size[0], size[1], what)
                assert not page_errors(err, url), "%s: %s" % (what, page_errors(err, url))
            code, dom, err = chromium(browser, tmp, "--dump-dom", url)
            assert code == 0, "dump-dom exit %d: %s" % (code, err[-2000:])
            assert not page_errors(err, url), "%s: %s" % (name, page_errors(err, url))
            t = Tree()
            t.feed(dom)
            for fid in CHARTS + (BREAKDOWN_CHARTS if name == "ping-kt" else ()):
                figs = t.root.find_all(id=fid)
                assert len(figs) == 1, "%s DOM: %d #%s" % (name, len(figs), fid)
                assert len(figs[0].find_all("svg")) == 1, "%s DOM: #%s has no svg" % (
                    name, fid)
        # The test can see a page's trouble: an image to load, a console
        # error.
        broken = tmp.file("broken.html")
        with open(broken, "w") as f:
            f.write("<!DOCTYPE html><title>x</title><img src=\"missing.png\">")
        code, _, err = chromium(browser, tmp, "--dump-dom", "file://" + broken)
        assert any("missing.png" in e for e in page_errors(err, "file://" + broken)), \
            "a missing image went unnoticed: %s" % err[-2000:]
        with open(broken, "w") as f:
            f.write("<!DOCTYPE html><title>x</title><body onload=\"nofn()\">")
        code, _, err = chromium(browser, tmp, "--dump-dom", "file://" + broken)
        assert any("Uncaught" in e for e in page_errors(err, "file://" + broken)), \
            "an uncaught error went unnoticed: %s" % err[-2000:]


def test_report_ping_failed_run_says_so():
    """A run that failed (connection refused) writes a page that says it
    failed and why at the top, and shows no loss figure for nothing sent."""
    port = free_port()
    with TempDir() as tmp:
        path = tmp.file("failed.html")
        r = run_tsecho("ping", "-c", "3", "--report", path, "%s:%d" % (LO, port),
                       timeout=15)
        assert r.code == 2, r.describe()
        text, root, charts = check_page(path, "failed-run report")
        assert "The run failed:" in text and "connection refused" in text, text[:2000]
        rows = summary_rows(root)
        assert rows.get("sent") == "0" and rows.get("loss") == "none sent", rows

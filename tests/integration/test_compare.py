"""Integration tests for `tsecho compare` (docs/compare.md): built-in servers
per engine on loopback, servers already running, saved results, and every
output (text, JSON, CSV, .hgrm, SVG, the HTML page in headless Chromium).

Steps are short (200 ms, no warm-up); the tests assert structure and
behaviour (one result per server and step, fields present and ordered,
limits reported, faults in the exit status), never latencies.
"""

import csv
import io
import json
import os
import re
import signal
import time
import xml.etree.ElementTree as ET

from harness import (Process, Server, TempDir, free_port, require_tool, run_cli,
                     run_tsecho, tsecho_path)
from test_report import Tree, check_screenshot, chromium, page_errors

SHORT = ("-t", "200ms", "--warmup", "0", "-q")
PCTS = ["p50", "p90", "p99", "p99_9", "p99_99", "max"]
RESULT_KEYS = {"server", "step", "skipped", "messages_per_s", "latency_ms",
               "server_cpu_us_per_message", "syscalls_per_message",
               "client_cpu_us_per_message", "client_busy", "client_saturated",
               "messages_per_s_vs_baseline", "p99_vs_baseline", "repeats"}
REPEAT_KEYS = {"done", "messages_per_s", "sent", "messages", "errors", "server_cpu_s",
               "server_user_s", "server_sys_s", "syscalls", "client_cpu_s",
               "client_busy", "client_saturated", "fault", "latency_ms", "histogram"}
CSV_HEAD = ["server", "step", "workload", "connections", "rate", "size", "busy_poll",
            "repeats", "messages_per_s", "p50_ms", "p90_ms", "p99_ms", "p99_9_ms",
            "p99_99_ms", "max_ms", "server_cpu_us_per_message", "syscalls_per_message",
            "client_cpu_us_per_message", "client_busy", "client_saturated", "errors",
            "mps_vs_baseline", "mps_lo", "mps_hi", "p99_vs_baseline", "p99_lo", "p99_hi",
            "skipped", "fault"]


def engines_here():
    """The engines this build and this machine can serve on."""
    names = ["epoll", "select"]
    code, _, _ = run_cli("server", "--engine", "io_uring", "--help")
    if code == 0:
        try:
            with Server("--engine", "io_uring", "--no-udp"):
                names.insert(0, "io_uring")
        except AssertionError:
            pass  # denied here (seccomp): compare skips it, tested below
    return names


def load_json(path):
    with open(path) as f:
        return json.load(f)


def check_latency(lat, what):
    assert set(lat) >= set(PCTS), "%s: latency keys %r" % (what, sorted(lat))
    vals = [lat[k] for k in PCTS]
    assert all(v > 0 for v in vals), (what, lat)
    assert vals == sorted(vals), "%s: percentiles out of order %r" % (what, vals)


def check_ratio(q, pairs, what):
    assert q is not None, "%s: no ratio" % what
    assert q["pairs"] == pairs, (what, q)
    assert q["ratio"] > 0, (what, q)
    if pairs >= 2:
        assert q["lo"] <= q["ratio"] <= q["hi"], (what, q)
        assert q["significant"] == (q["lo"] > 1 or q["hi"] < 1), (what, q)
    else:
        assert q["lo"] is None and q["hi"] is None, (what, q)


def check_measured(res, repeat, baseline, what):
    assert set(res) == RESULT_KEYS, "%s: keys %r" % (what, sorted(set(res) ^ RESULT_KEYS))
    assert res["skipped"] is None, (what, res["skipped"])
    assert res["messages_per_s"] > 0, (what, res["messages_per_s"])
    check_latency(res["latency_ms"], what)
    assert res["client_cpu_us_per_message"] > 0, (what, res)
    assert 0 <= res["client_busy"] <= 1.5, (what, res["client_busy"])
    assert len(res["repeats"]) == repeat, (what, len(res["repeats"]))
    for k, rep in enumerate(res["repeats"]):
        w = "%s, repetition %d" % (what, k + 1)
        assert set(rep) == REPEAT_KEYS, "%s: keys %r" % (w, sorted(set(rep) ^ REPEAT_KEYS))
        assert rep["done"] and rep["messages"] > 0 and rep["sent"] >= rep["messages"], (w, rep)
        assert rep["fault"] is None and rep["errors"] == 0, (w, rep)
        counts = sum(n for _, n in rep["histogram"]["counts"])
        assert counts == rep["messages"], "%s: histogram %d of %d" % (w, counts, rep["messages"])
    if res["server"] == baseline:
        assert res["messages_per_s_vs_baseline"]["ratio"] == 1.0, (what, res)
    check_ratio(res["messages_per_s_vs_baseline"], repeat, what + " msg/s ratio")
    check_ratio(res["p99_vs_baseline"], repeat, what + " p99 ratio")


def test_compare_builtin_every_output():
    """No host: a built-in server per engine; one result per engine and step,
    with every field, and every output file."""
    engines = engines_here()
    with TempDir() as tmp:
        paths = {k: tmp.file(k) for k in ("r.json", "r.csv", "hgrm", "svg")}
        r = run_tsecho("compare", *SHORT, "-n", "2", "-c", "1,4", "-r", "400",
                       "--rate-connections", "4", "-e", ",".join(engines),
                       "--json", paths["r.json"], "--csv", paths["r.csv"],
                       "--hgrm", paths["hgrm"], "--svg", paths["svg"], timeout=80)
        assert r.code == 0, r.describe()
        doc = load_json(paths["r.json"])
        assert doc["kind"] == "compare" and doc["schema"] == 1, doc.get("kind")
        assert doc["baseline"] == "select" and doc["repeat"] == 2, doc
        names = [s["name"] for s in doc["servers"]]
        assert names == engines, names
        for s in doc["servers"]:
            assert s["setup"].startswith("engine " + s["engine"] + " ("), s
            assert not s["remote"], s
        steps = [s["name"] for s in doc["steps"]]
        assert steps == ["ping-pong 64 B", "closed 1 conns 64 B", "closed 4 conns 64 B",
                         "open 400/s 64 B"], steps
        assert len(doc["results"]) == len(engines) * len(steps), len(doc["results"])
        syscalls_counted = doc["system"]["syscalls"].startswith("counted")
        for res in doc["results"]:
            what = "%s, %s" % (res["server"], res["step"])
            check_measured(res, 2, "select", what)
            assert res["server_cpu_us_per_message"] > 0, (what, res)
            if syscalls_counted:
                assert res["syscalls_per_message"] > 0, (what, res)
            else:
                assert res["syscalls_per_message"] is None, (what, res)
        sysinfo = doc["system"]
        for k in ("kernel", "cpu_model", "governor", "tsecho_version", "configure"):
            assert isinstance(sysinfo[k], str), (k, sysinfo)
        assert sysinfo["cores"] >= 1, sysinfo
        # The terminal's tables: one a workload, every engine in each.
        for group in ("ping-pong, 64 B", "closed loop, 64 B",
                      "open loop, 4 connections, 64 B"):
            assert "\n%s\n" % group in r.out, "%s: no table:\n%s" % (group, r.out)
        assert r.out.count("baseline") >= len(steps), r.out
        for e in engines:
            assert re.search(r"^\S.*\s%s\s+\d+" % e, r.out, re.M) or \
                re.search(r"^\s+%s\s+\d+" % e, r.out, re.M), "%s: no row:\n%s" % (e, r.out)
        # CSV: a header and one row per engine per step.
        with open(paths["r.csv"]) as f:
            rows = list(csv.reader(f))
        assert rows[0] == CSV_HEAD, rows[0]
        assert len(rows) - 1 == len(engines) * len(steps), len(rows)
        pairs = {(row[0], row[1]) for row in rows[1:]}
        assert pairs == {(e, s) for e in engines for s in steps}, pairs
        # One .hgrm per engine and step.
        hgrms = sorted(os.listdir(paths["hgrm"]))
        assert len(hgrms) == len(engines) * len(steps), hgrms
        # SVG: well-formed XML, each an <svg>, with a series per engine.
        svgs = sorted(os.listdir(paths["svg"]))
        assert len(svgs) == 2 * len(steps) + 3, svgs
        for name in svgs:
            root = ET.parse(os.path.join(paths["svg"], name)).getroot()
            assert root.tag.endswith("svg"), (name, root.tag)
            labels = {e.get("data-label") for e in root.iter() if e.get("data-label")}
            assert labels == set(engines), (name, labels)


def test_compare_select_limit_reported():
    """Connection counts past select's FD_SETSIZE are skipped and said so;
    the other engine runs them."""
    with TempDir() as tmp:
        out = tmp.file("r.json")
        r = run_tsecho("compare", *SHORT, "-n", "1", "-w", "closed", "-c", "2,1100",
                       "-e", "epoll,select", "--json", out, timeout=60)
        assert r.code == 0, r.describe()
        doc = load_json(out)
        by = {(x["server"], x["step"]): x for x in doc["results"]}
        sk = by[("select", "closed 1100 conns 64 B")]["skipped"]
        assert sk and "FD_SETSIZE" in sk, sk
        assert by[("epoll", "closed 1100 conns 64 B")]["skipped"] is None
        assert by[("epoll", "closed 1100 conns 64 B")]["messages_per_s"] > 0
        assert by[("select", "closed 2 conns 64 B")]["messages_per_s"] > 0
        assert re.search(r"select\s+skipped: past select's limit", r.out), r.out


def test_compare_saved_results():
    """Saved results compare without running anything: names prefixed by
    file, steps matched; bad files are refused clearly."""
    with TempDir() as tmp:
        a, b = tmp.file("before.json"), tmp.file("after.json")
        for path in (a, b):
            r = run_tsecho("compare", *SHORT, "-n", "2", "-w", "pingpong",
                           "-e", "epoll,select", "--json", path, timeout=40)
            assert r.code == 0, r.describe()
        r = run_tsecho("compare", a, b, "--csv", "-", "--baseline", "before: epoll",
                       timeout=20)
        assert r.code == 0, r.describe()
        rows = list(csv.reader(io.StringIO(r.out)))
        assert rows[0] == CSV_HEAD, rows[0]
        got = sorted(row[0] for row in rows[1:])
        assert got == ["after: epoll", "after: select", "before: epoll", "before: select"], got
        for row in rows[1:]:
            assert float(row[8]) > 0, row
            if row[0] == "before: epoll":
                assert float(row[21]) == 1.0, row
        # The same numbers as the files said.
        doc = load_json(a)
        mps = {x["server"]: x["messages_per_s"] for x in doc["results"]}
        for row in rows[1:]:
            if row[0].startswith("before: "):
                want = mps[row[0][len("before: "):]]
                assert abs(float(row[8]) - want) <= 0.01 * want + 1, (row, want)
        r = run_tsecho("compare", a, timeout=20)
        assert r.code == 0 and "ping-pong, 64 B" in r.out, r.describe()
        assert "msg/s vs select" in r.out, "one file: select is the baseline again"
        bad = tmp.file("bad.json")
        with open(bad, "w") as f:
            f.write('{"kind": "bench"}')
        r = run_tsecho("compare", bad, timeout=20)
        assert r.code == 2 and "not a result of tsecho compare" in r.err, r.describe()
        with open(bad, "w") as f:
            f.write('{"kind": "compare", "servers": [')
        r = run_tsecho("compare", bad, timeout=20)
        assert r.code == 2 and "not JSON" in r.err, r.describe()
        r = run_tsecho("compare", tmp.file("missing.json"), timeout=20)
        assert r.code == 2 and "cannot read" in r.err, r.describe()


def test_compare_running_servers():
    """NAME=HOST:PORT compares servers already running; one that is not
    there shows in the result and the exit status."""
    with Server("--engine", "epoll") as ep, Server("--engine", "select") as sel:
        r = run_tsecho("compare", *SHORT, "-n", "1", "-w", "pingpong,closed", "-c", "2",
                       "ep=127.0.0.1:%d" % ep.tcp_port, "sel=127.0.0.1:%d" % sel.tcp_port,
                       "--baseline", "sel", "--json", "-", timeout=40)
        assert r.code == 0, r.describe()
        doc = json.loads(r.out)
        assert [s["name"] for s in doc["servers"]] == ["ep", "sel"], doc["servers"]
        assert all(s["remote"] for s in doc["servers"]), doc["servers"]
        for res in doc["results"]:
            check_measured(res, 1, "sel", res["server"] + " " + res["step"])
            assert res["server_cpu_us_per_message"] is None, res
    gone = free_port()
    with Server("--engine", "epoll") as ep:
        r = run_tsecho("compare", *SHORT, "-n", "1", "-w", "pingpong",
                       "ep=127.0.0.1:%d" % ep.tcp_port, "gone=127.0.0.1:%d" % gone,
                       timeout=40)
    assert r.code == 3, r.describe()
    assert re.search(r"gone\s+no replies", r.out), r.out


def test_compare_bad_options():
    for args, want in ((("-e", "kqueue"), "invalid engines"),
                       (("-w", "sideways"), "invalid workloads"),
                       (("-c", "0"), "invalid connections"),
                       (("-n", "0"), "invalid repeat"),
                       (("-t", "1ms"), "invalid duration"),
                       (("--baseline", "nosuch", "-e", "epoll"), "no such server"),
                       (("a=",), "want NAME=HOST"),
                       (("x.json", "a=127.0.0.1:1"), "do not mix"),
                       (("--json", "-", "--csv", "-"), "share stdout")):
        r = run_tsecho("compare", *args, timeout=20)
        assert r.code == 2, "%r: %s" % (args, r.describe())
        assert want in r.err, "%r: %s" % (args, r.err)
    with TempDir() as tmp:
        r = run_tsecho("compare", "--report", tmp.file("no/such/dir/r.html"), timeout=20)
        assert r.code == 2 and "r.html" in r.err, r.describe()


def test_compare_sigint_reports_what_ran():
    """Ctrl+C stops the run; what was measured is still printed."""
    with Process([tsecho_path(), "compare", "-t", "1s", "--warmup", "0", "-q", "-n", "3",
                  "-e", "epoll,select", "-w", "closed", "-c", "1,2,4"]) as p:
        time.sleep(2.5)
        p.send_signal(signal.SIGINT)
        code = p.wait_exit(20)
        out = "\n".join(p.lines())
    assert code == 0, "exit %r:\n%s" % (code, out)
    assert "interrupted" in out, out
    assert re.search(r"closed 1 conns 64 B\s+\S+\s+\d+", out), out


def test_compare_report_renders_in_chromium():
    browser = require_tool(("chromium", "chromium-browser", "google-chrome"), "chromium")
    with TempDir() as tmp:
        page = tmp.file("compare.html")
        r = run_tsecho("compare", *SHORT, "-n", "2", "-c", "1,4", "-r", "400",
                       "--rate-connections", "4", "-e", "epoll,select", "--busy-poll",
                       "--report", page, timeout=80)
        assert r.code == 0, r.describe()
        with open(page) as f:
            html = f.read()
        assert not re.search(r"(src|href)=\"(https?:)?//", html), "an external resource"
        for key in ("Linux", "tsecho", "governor", "engine epoll (", "engine select ("):
            assert key in html, key
        url = "file://" + page
        shot = tmp.file("compare.png")
        code, _, err = chromium(browser, tmp, "--screenshot=" + shot,
                                "--window-size=1200,2400", url)
        assert code == 0, "chromium exit %d: %s" % (code, err[-2000:])
        check_screenshot(shot, 1200, 2400, "compare report")
        assert not page_errors(err, url), page_errors(err, url)
        code, dom, err = chromium(browser, tmp, "--dump-dom", url)
        assert code == 0, err[-2000:]
        t = Tree()
        t.feed(dom)
        steps = ["ping-pong-64-B", "ping-pong-busy-64-B", "closed-1-conns-64-B",
                 "closed-4-conns-64-B", "open-400-s-64-B"]
        want = ["spectrum-" + s for s in steps] + ["histogram-" + s for s in steps] + \
            ["throughput-closed-loop-64-B", "p99-closed-loop-64-B", "cpu-closed-loop-64-B"]
        for fid in want:
            figs = t.root.find_all(id=fid)
            assert len(figs) == 1, "DOM: %d #%s" % (len(figs), fid)
            assert len(figs[0].find_all("svg")) == 1, "DOM: #%s has no svg" % fid
        assert len(t.root.find_all("table")) >= 4, "tables"


def children_of(pid):
    """The pids of pid's children (Linux: /proc/PID/task/PID/children)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_compare_builtin_server_killed_mid_step():
    """A built-in server that dies during a step: the fault is in the row,
    the JSON and the exit status, and the other steps still ran."""
    with TempDir() as tmp:
        out = tmp.file("r.json")
        with Process([tsecho_path(), "compare", "-t", "3s", "--warmup", "0", "-q", "-n", "1",
                      "-e", "epoll,select", "-w", "closed", "-c", "2", "--json", out]) as p:
            deadline = time.monotonic() + 10
            victim = None
            while victim is None and time.monotonic() < deadline:
                kids = children_of(p.pid)
                victim = kids[0] if kids else None
                time.sleep(0.05)
            assert victim, "compare started no server: %s" % p.describe()
            time.sleep(1.0)
            os.kill(victim, signal.SIGKILL)
            code = p.wait_exit(30)
            text = "\n".join(p.lines())
        assert code == 3, "exit %r:\n%s" % (code, text)
        doc = load_json(out)
        faults = [(x["server"], x["repeats"][0]["fault"]) for x in doc["results"]]
        bad = [f for f in faults if f[1]]
        assert len(bad) == 1, faults
        assert re.search(r"went away|ended|signal 9", bad[0][1]), bad
        good = [x for x in doc["results"] if not x["repeats"][0]["fault"]]
        assert len(good) == 1 and good[0]["messages_per_s"] > 0, good
        assert "(%s" % bad[0][1][:20] in text, text

#!/usr/bin/env python3
"""Runs integration tests and reports them in TAP, for automake's harness.

usage: python3 tests/integration/run.py [--harness] [--engine NAME] [FILE.py ...]
                                       [NAME-SUBSTRING ...]

Runs every test_* function of each FILE.py (all test_*.py beside this
script when none is given), in file order, or only those whose name holds
one of the substrings.  Prints one TAP line per test: `ok N - name`,
`not ok N - name: reason` with the traceback as `#` lines under it, or
`ok N - name # SKIP reason`; exits 1 if any failed.  With --harness (as
make check runs it) the failures are left to the TAP lines and the exit
status is 0 once every test has run, so the harness counts each failure
once, not again as the program's.  $TSECHO is the binary under test
(default ./tsecho at the repository root).  --engine NAME runs every
server the tests start on that engine (tsecho server --engine), and names
each test after it.
"""

import faulthandler
import glob
import importlib
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402  (after the path is set)

TEST_WATCHDOG_S = 90


def collect(paths, filters):
    """(tests, broken): the test functions to run in file order, and
    (module name, traceback) of each test module that failed to import."""
    tests, broken = [], []
    for path in paths:
        name = os.path.basename(path)[:-3]
        try:
            mod = importlib.import_module(name)
        except Exception:
            broken.append((name, traceback.format_exc()))
            continue
        funcs = [f for fname, f in vars(mod).items()
                 if fname.startswith("test_") and callable(f)
                 and getattr(f, "__module__", None) == mod.__name__]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)   # file order
        for f in funcs:
            if not filters or any(s in f.__name__ for s in filters):
                tests.append(f)
    return tests, broken


def diag(text):
    """Text as TAP diagnostics: every line behind '# '."""
    for line in text.rstrip("\n").splitlines():
        print("# " + line)


def run_one(test):
    """(outcome, detail) of one test: ("ok", ""), ("skip", reason) or
    ("fail", reason and traceback)."""
    # Every wait in a test is bounded; should one hang anyway, say where.
    faulthandler.dump_traceback_later(TEST_WATCHDOG_S, exit=False)
    try:
        test()
        return "ok", ""
    except harness.SkipTest as e:
        return "skip", str(e)
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        return "fail", reason + "\n" + traceback.format_exc()
    finally:
        faulthandler.cancel_dump_traceback_later()
        # A test that forgot a server must not leak it into the next one.
        for srv in list(harness._live):
            srv.stop()


def main(argv):
    args = argv[1:]
    harness_mode = "--harness" in args
    args = [a for a in args if a != "--harness"]
    engine = ""
    if "--engine" in args:
        i = args.index("--engine")
        engine = args[i + 1]
        del args[i:i + 2]
        os.environ["TSECHO_ENGINE"] = engine
    paths = [os.path.abspath(a) for a in args if a.endswith(".py")]
    filters = [a for a in args if not a.endswith(".py")]
    for path in paths:
        sys.path.insert(0, os.path.dirname(path))
    if not paths:
        paths = sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    tests, broken = collect(paths, filters)
    print("1..%d" % (len(tests) + len(broken)), flush=True)
    n = failed = 0
    for name, tb in broken:
        n += 1
        failed += 1
        print("not ok %d - %s: cannot import" % (n, name))
        diag(tb)
    for test in tests:
        n += 1
        outcome, detail = run_one(test)
        name = test.__name__ + (" [%s]" % engine if engine else "")
        if outcome == "ok":
            print("ok %d - %s" % (n, name))
        elif outcome == "skip":
            print("ok %d - %s # SKIP %s" % (n, name, " ".join(detail.split())))
        else:
            failed += 1
            # A '#' in the reason would start a TAP directive: escape it.
            reason = detail.splitlines()[0].replace("#", "\\#")
            print("not ok %d - %s: %s" % (n, name, reason))
            diag(detail)
        sys.stdout.flush()
    return 1 if failed and not harness_mode else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

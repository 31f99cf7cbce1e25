#!/usr/bin/env python3
"""Runs the integration tests: every test_* function of every test_*.py here.

usage: python3 tests/integration/run.py [NAME-SUBSTRING...]

Prints `PASS name`, `FAIL name: reason` (and the traceback) or `SKIP name:
reason` per test, then a last line `N passed, N failed`; exits 1 if any
failed.  Run it from the repository root; $TSECHO overrides ./tsecho.
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


def collect(filters):
    """(tests, broken): the test functions to run in file order, and the
    names of test modules that failed to import."""
    tests, broken = [], []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        name = os.path.basename(path)[:-3]
        try:
            mod = importlib.import_module(name)
        except Exception:
            print("FAIL %s: cannot import" % name, flush=True)
            traceback.print_exc(file=sys.stdout)
            broken.append(name)
            continue
        funcs = [f for fname, f in vars(mod).items()
                 if fname.startswith("test_") and callable(f)
                 and getattr(f, "__module__", None) == mod.__name__]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)   # file order
        for f in funcs:
            if not filters or any(s in f.__name__ for s in filters):
                tests.append(f)
    return tests, broken


def main(argv):
    tests, broken = collect(argv[1:])
    passed, failed = 0, len(broken)
    for test in tests:
        name = test.__name__
        # Every wait in a test is bounded; should one hang anyway, say where.
        faulthandler.dump_traceback_later(TEST_WATCHDOG_S, exit=False)
        try:
            test()
        except harness.SkipTest as e:
            print("SKIP %s: %s" % (name, e), flush=True)
            continue
        except Exception as e:
            failed += 1
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            print("FAIL %s: %s" % (name, reason), flush=True)
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
            continue
        finally:
            faulthandler.cancel_dump_traceback_later()
            # A test that forgot a server must not leak it into the next one.
            for srv in list(harness._live):
                srv.stop()
        passed += 1
        print("PASS %s" % name, flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

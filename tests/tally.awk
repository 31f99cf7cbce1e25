# make check's closing line, from automake's test-suite.log: the total of
# test cases over every program (each speaks TAP, so a case is a line of
# its output, not a program).  A case that failed, errored (a crash, a bad
# plan) or passed where failure was expected counts as failed.  Exits 1
# when any failed, or when the log has no summary.
/^# PASS: /  { pass = $3; seen = 1 }
/^# SKIP: /  { skip = $3 }
/^# XFAIL: / { xfail = $3 }
/^# FAIL: /  { fail = $3 }
/^# XPASS: / { xpass = $3 }
/^# ERROR: / { error = $3 }
END {
	if (!seen) {
		print "check: " FILENAME " has no summary: the test harness did not finish"
		exit 1
	}
	failed = fail + xpass + error
	line = (pass + xfail) " passed, " failed " failed"
	if (skip > 0)
		line = line ", " skip " skipped"
	print line
	exit (failed > 0)
}

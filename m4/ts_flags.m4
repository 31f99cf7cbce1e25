# tsecho's own Autoconf macros: compiler and linker flag probes.
#
# TS_CHECK_CFLAGS(VARIABLE, FLAGS)
# ---------------------------------
# Appends to the shell VARIABLE each of the blank-separated FLAGS that the C
# compiler accepts.  A flag is tried with -Werror, so one the compiler only
# warns about (an unknown -W option to clang, say) is left out instead of
# failing every build made with --enable-werror.  Results are cached per
# flag.
AC_DEFUN([TS_CHECK_CFLAGS],
[for ts_flag in m4_normalize([$2]); do
	AS_VAR_PUSHDEF([ts_cv], [ts_cv_cflag_$ts_flag])
	AC_CACHE_CHECK([whether $CC accepts $ts_flag], [ts_cv],
		[ts_save_CFLAGS=$CFLAGS
		CFLAGS="$CFLAGS -Werror $ts_flag"
		AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
			[AS_VAR_SET([ts_cv], [yes])], [AS_VAR_SET([ts_cv], [no])])
		CFLAGS=$ts_save_CFLAGS])
	AS_VAR_IF([ts_cv], [yes], [$1="$$1 $ts_flag"])
	AS_VAR_POPDEF([ts_cv])
done
])

# TS_CHECK_LINK_FLAGS(CFLAGS, LDFLAGS, PROGRAM, [IF-OK], [IF-NOT])
# -----------------------------------------------------------------
# Whether PROGRAM (an AC_LANG_SOURCE) compiles with CFLAGS and links with
# LDFLAGS added to the user's own; used for the sanitizer and libFuzzer
# switches, whose runtimes only show up missing at link time.
AC_DEFUN([TS_CHECK_LINK_FLAGS],
[ts_save_CFLAGS=$CFLAGS
ts_save_LDFLAGS=$LDFLAGS
CFLAGS="$CFLAGS $1"
LDFLAGS="$LDFLAGS $2"
AC_LINK_IFELSE([$3], [ts_link_ok=yes], [ts_link_ok=no])
CFLAGS=$ts_save_CFLAGS
LDFLAGS=$ts_save_LDFLAGS
AS_IF([test "x$ts_link_ok" = xyes], [$4], [$5])
])

/* deny WHAT PROGRAM [ARG...]: runs PROGRAM with some system calls
 * refused, as a restrictive seccomp profile would, for the tests of what
 * tsecho does without them:
 *
 *   io_uring      io_uring_setup, io_uring_enter and io_uring_register
 *                 fail with EPERM, as under Docker's default profile
 *                 (the io_uring fallback test);
 *   timestamping  setsockopt(SOL_SOCKET, SO_TIMESTAMPING) fails with
 *                 ENOPROTOOPT, as on a kernel or socket without it (the
 *                 test of kernel timestamps being unavailable).
 *
 * A classic BPF filter: check the architecture, load the system call
 * number (and for setsockopt its level and option), answer the error for
 * the ones denied, allow the rest.  no_new_privs first, so an
 * unprivileged process may install it. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define OUR_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define OUR_ARCH AUDIT_ARCH_AARCH64
#else
#error "deny: add this architecture's AUDIT_ARCH_*"
#endif

/* SO_TIMESTAMPING's two numbers: the old one (timespec as long) and the
 * new (64-bit times), whichever the C library sends. */
#define SO_TIMESTAMPING_OLD_NR 37
#define SO_TIMESTAMPING_NEW_NR 65

/* The low 32 bits of system call argument i. */
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))

#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
/* When the loaded word is v, jumps ahead `yes` instructions, else `no`. */
#define IF_EQ(v, yes, no) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), (yes), (no))

static struct sock_filter deny_uring[] = {
	LOAD(offsetof(struct seccomp_data, arch)),
	IF_EQ(OUR_ARCH, 1, 0),
	RET(SECCOMP_RET_KILL_PROCESS),
	LOAD(offsetof(struct seccomp_data, nr)),
	IF_EQ(__NR_io_uring_setup, 3, 0),
	IF_EQ(__NR_io_uring_enter, 2, 0),
	IF_EQ(__NR_io_uring_register, 1, 0),
	RET(SECCOMP_RET_ALLOW),
	RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
};

static struct sock_filter deny_timestamping[] = {
	LOAD(offsetof(struct seccomp_data, arch)),
	IF_EQ(OUR_ARCH, 1, 0),
	RET(SECCOMP_RET_KILL_PROCESS),
	LOAD(offsetof(struct seccomp_data, nr)),
	IF_EQ(__NR_setsockopt, 1, 0),
	RET(SECCOMP_RET_ALLOW),
	LOAD(ARG_LO(1)),
	IF_EQ(SOL_SOCKET, 1, 0),
	RET(SECCOMP_RET_ALLOW),
	LOAD(ARG_LO(2)),
	IF_EQ(SO_TIMESTAMPING_OLD_NR, 2, 0),
	IF_EQ(SO_TIMESTAMPING_NEW_NR, 1, 0),
	RET(SECCOMP_RET_ALLOW),
	RET(SECCOMP_RET_ERRNO | (ENOPROTOOPT & SECCOMP_RET_DATA)),
};

int main(int argc, char **argv)
{
	struct sock_fprog prog;

	if (argc >= 3 && strcmp(argv[1], "io_uring") == 0) {
		prog.filter = deny_uring;
		prog.len = sizeof deny_uring / sizeof deny_uring[0];
	} else if (argc >= 3 && strcmp(argv[1], "timestamping") == 0) {
		prog.filter = deny_timestamping;
		prog.len = sizeof deny_timestamping / sizeof deny_timestamping[0];
	} else {
		fprintf(stderr, "usage: deny io_uring|timestamping PROGRAM [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		fprintf(stderr, "deny: cannot install the filter: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "deny: cannot run %s: %s\n", argv[2], strerror(errno));
	return 127;
}

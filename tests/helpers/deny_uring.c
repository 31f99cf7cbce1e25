/* deny_uring PROGRAM [ARG...]: runs PROGRAM with io_uring_setup,
 * io_uring_enter and io_uring_register denied (EPERM), the way Docker's
 * default seccomp profile denies them, for the io_uring fallback test.
 *
 * A classic BPF filter: check the architecture, load the system call
 * number, answer EPERM for the three, allow the rest.  no_new_privs first,
 * so an unprivileged process may install it. */
#include "config.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define OUR_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define OUR_ARCH AUDIT_ARCH_AARCH64
#else
#error "deny_uring: add this architecture's AUDIT_ARCH_*"
#endif

/* When the number is nr, jumps over the `ahead` instructions between this
 * one and the EPERM return; else goes on to the next. */
#define DENY_IF(nr, ahead) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), (ahead), 0)

int main(int argc, char **argv)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, OUR_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		DENY_IF(__NR_io_uring_setup, 3),
		DENY_IF(__NR_io_uring_enter, 2),
		DENY_IF(__NR_io_uring_register, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };

	if (argc < 2) {
		fprintf(stderr, "usage: deny_uring PROGRAM [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		fprintf(stderr, "deny_uring: cannot install the filter: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "deny_uring: cannot run %s: %s\n", argv[1], strerror(errno));
	return 127;
}

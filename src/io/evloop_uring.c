/* Event loop backend: readiness through io_uring, level-triggered.
 *
 * Each watched fd has at most one one-shot IORING_OP_POLL_ADD in flight.
 * A one-shot poll looks at the file's readiness when it is armed, so one
 * armed again after every completion gives level-triggered events: data a
 * callback left unread fires again on the next wait.  (A multishot poll
 * would fire only on new wakeups, edge-like, and stall such a caller.)
 *
 * Nothing enters the kernel outside wait(): change() queues a poll remove
 * when the interest differs from the poll in flight and puts the fd on the
 * arm list; wait() prepares a poll for every fd on that list (those whose
 * poll fired or was removed) and submits the whole batch with the same
 * io_uring_enter that waits.  Several changes to one fd between two waits
 * thus cost at most one remove and one poll.
 *
 * A completion is matched to its fd's state by user_data: the fd, and the
 * sequence number of the poll.  A poll removed or replaced may still
 * complete (-ECANCELED, or a wakeup that raced the remove): its sequence
 * is no longer the fd's, or the fd has no poll in flight, and it is
 * dropped.  The removes' own completions carry TAG_REMOVE and are ignored.
 *
 * No fd op: the ring fd polls readable only while completions wait, but a
 * fired poll is armed again only by the next wait, so a loop nesting this
 * one on the ring fd would never run that wait and stall on data left
 * unread.  ts_evloop_fd() says -1. */
#include "config.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>

#include <tsecho/clock.h>

#include "evloop_impl.h"

enum {
	SQ_ENTRIES = 256,
	/* Room for a poll and a remove completion per fd of a busy loop;
	 * past it the kernel keeps completions aside (IORING_FEAT_NODROP)
	 * until the ring has room. */
	CQ_ENTRIES = 4096,
};

/* user_data: bit 63 TAG_REMOVE, bits 32..62 the poll's sequence number,
 * bits 0..31 the fd.  A stale completion could be taken for the current
 * poll only after 2^31 polls armed on its fd while it was in flight. */
#define TAG_REMOVE (UINT64_C(1) << 63)
#define SEQ_MASK UINT32_C(0x7fffffff)

struct uring_fd {
	uint32_t seq;  /* of the poll last armed */
	uint8_t want;  /* TS_EV_READ | TS_EV_WRITE asked for */
	uint8_t armed; /* what the poll in flight watches; 0: none */
	bool queued;   /* on the arm list */
};

struct uring_backend {
	struct io_uring ring;
	struct uring_fd *fds; /* max_fds entries, indexed by fd */
	int *arm;             /* fds that may need a poll armed; max_fds room */
	int n_arm;
};

static uint64_t poll_udata(int fd, uint32_t seq)
{
	return (uint64_t)(seq & SEQ_MASK) << 32 | (uint32_t)fd;
}

/* The ring with the best flags the kernel takes.  COOP_TASKRUN (Linux
 * 5.19): completions are posted when this thread next enters the kernel,
 * without interrupting it; wait() enters every round anyway.  SUBMIT_ALL
 * (5.18): an SQE that fails does not hold back the rest of the batch. */
static int setup_ring(struct io_uring *ring)
{
	static const unsigned tries[] = {
		IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_CQSIZE,
	};
	int rc = -EINVAL;

	for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
		struct io_uring_params p = { 0 };

		p.flags = tries[i];
		p.cq_entries = CQ_ENTRIES;
		rc = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
		if (rc == 0) {
			/* Without it a full CQ drops completions, and an fd
			 * whose poll completion is lost is never armed
			 * again. */
			if (!(p.features & IORING_FEAT_NODROP)) {
				io_uring_queue_exit(ring);
				return -EOPNOTSUPP;
			}
			return 0;
		}
		/* EPERM (seccomp, kernel.io_uring_disabled) and ENOSYS are
		 * final: the caller picks another backend. */
		if (rc != -EINVAL)
			break;
	}
	return rc;
}

static int backend_init(struct ts_evloop *loop)
{
	struct uring_backend *b = calloc(1, sizeof *b);
	int rc = -ENOMEM;

	if (!b)
		goto fail;
	b->fds = calloc((size_t)loop->max_fds, sizeof *b->fds);
	b->arm = calloc((size_t)loop->max_fds, sizeof *b->arm);
	if (!b->fds || !b->arm)
		goto fail;
	rc = setup_ring(&b->ring);
	if (rc != 0)
		goto fail;
	loop->backend = b;
	return 0;
fail:
	if (b) {
		free(b->fds);
		free(b->arm);
		free(b);
	}
	errno = -rc;
	return rc;
}

static void backend_fini(struct ts_evloop *loop)
{
	struct uring_backend *b = loop->backend;

	if (!b)
		return;
	/* Exiting the ring cancels the polls still in flight. */
	io_uring_queue_exit(&b->ring);
	free(b->fds);
	free(b->arm);
	free(b);
	loop->backend = NULL;
}

/* An SQE, submitting what is queued when the SQ is full; NULL with *rc set
 * when even that fails. */
static struct io_uring_sqe *get_sqe(struct uring_backend *b, int *rc)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (sqe)
		return sqe;
	*rc = io_uring_submit(&b->ring);
	if (*rc < 0)
		return NULL;
	sqe = io_uring_get_sqe(&b->ring);
	if (!sqe)
		*rc = -EBUSY;
	return sqe;
}

static void queue_arm(struct uring_backend *b, int fd)
{
	if (b->fds[fd].queued)
		return;
	b->fds[fd].queued = true;
	b->arm[b->n_arm++] = fd;
}

static int backend_change(struct ts_evloop *loop, int fd, int old_events, int new_events)
{
	struct uring_backend *b = loop->backend;
	struct uring_fd *f = &b->fds[fd];
	int rc = 0;

	(void)old_events;
	new_events &= TS_EV_READ | TS_EV_WRITE;
	/* The poll in flight watches for something else, or the fd is
	 * deleted (its number may name another file when it is added
	 * again): remove it.  Removed by user_data, so closing the fd before
	 * the next wait submits the remove is fine. */
	if (f->armed && f->armed != new_events) {
		struct io_uring_sqe *sqe = get_sqe(b, &rc);

		if (sqe) {
			io_uring_prep_poll_remove(sqe, poll_udata(fd, f->seq));
			io_uring_sqe_set_data64(sqe, TAG_REMOVE | poll_udata(fd, f->seq));
		}
		/* Without an SQE for the remove, the poll is left to
		 * complete on its own (keeping its file open until then):
		 * its completion is dropped as any removed poll's is, and
		 * the error says so. */
		f->armed = 0;
	}
	f->want = (uint8_t)new_events;
	if (f->want && !f->armed)
		queue_arm(b, fd);
	return rc;
}

static unsigned poll_mask(int events)
{
	unsigned mask = 0;

	if (events & TS_EV_READ)
		mask |= POLLIN;
	if (events & TS_EV_WRITE)
		mask |= POLLOUT;
	return mask;
}

/* Prepares a poll for every fd on the arm list that wants one and has none
 * in flight.  0, or -errno with the fds not yet armed left on the list. */
static int arm_queued(struct uring_backend *b)
{
	while (b->n_arm > 0) {
		int fd = b->arm[b->n_arm - 1];
		struct uring_fd *f = &b->fds[fd];

		if (f->want && !f->armed) {
			int rc = 0;
			struct io_uring_sqe *sqe = get_sqe(b, &rc);

			if (!sqe)
				return rc;
			f->seq = (f->seq + 1) & SEQ_MASK;
			io_uring_prep_poll_add(sqe, fd, poll_mask(f->want));
			io_uring_sqe_set_data64(sqe, poll_udata(fd, f->seq));
			f->armed = f->want;
		}
		f->queued = false;
		b->n_arm--;
	}
	return 0;
}

/* Takes one completion; 1 when it filled *out, 0 when it was a remove's or
 * stale. */
static int take(struct ts_evloop *loop, const struct io_uring_cqe *cqe, struct ts_ev_fired *out)
{
	struct uring_backend *b = loop->backend;
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	int fd = (int)(uint32_t)ud;
	int res = cqe->res;
	struct uring_fd *f;
	int events = 0;

	/* liburing's own timeout completions (kernels without EXT_ARG) carry
	 * all ones, so they land here too. */
	if (ud & TAG_REMOVE)
		return 0;
	if (fd < 0 || fd >= loop->max_fds)
		return 0;
	f = &b->fds[fd];
	if (!f->armed || (uint32_t)(ud >> 32) != f->seq)
		return 0;
	/* A one-shot poll completes once: none is in flight now.  Armed again
	 * at the next wait, for what the fd then asks for. */
	f->armed = 0;
	queue_arm(b, fd);
	/* Cancelled, but not by us (the kernel's own cleanup). */
	if (res == -ECANCELED)
		return 0;
	/* Another error (-EBADF: the fd was closed while watched) is
	 * reported as an error is, so that the caller's read or write finds
	 * it. */
	if (res < 0 || (res & (POLLERR | POLLHUP | POLLNVAL)))
		events = TS_EV_READ | TS_EV_WRITE;
	if (res > 0 && (res & POLLIN))
		events |= TS_EV_READ;
	if (res > 0 && (res & POLLOUT))
		events |= TS_EV_WRITE;
	out->fd = fd;
	out->events = events;
	out->gen = loop->slots[fd].gen;
	return 1;
}

/* Takes what the CQ holds, up to fired_cap events; what is past that stays
 * for the next wait. */
static int take_all(struct ts_evloop *loop)
{
	struct uring_backend *b = loop->backend;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int n = 0;

	io_uring_for_each_cqe(&b->ring, head, cqe)
	{
		/* Bounded by the CQ's size, though the kernel may post more
		 * while we look. */
		if (n == loop->fired_cap || seen == b->ring.cq.ring_entries)
			break;
		n += take(loop, cqe, &loop->fired[n]);
		seen++;
	}
	io_uring_cq_advance(&b->ring, seen);
	return n;
}

static int backend_wait(struct ts_evloop *loop, int timeout_ms)
{
	struct uring_backend *b = loop->backend;
	struct io_uring *ring = &b->ring;
	struct io_uring_cqe *cqe;
	int rc = arm_queued(b);

	if (rc < 0)
		return rc;
	/* One io_uring_enter submits this round's polls and removes and
	 * waits.  None when completions left from the last round are there
	 * and nothing is to be submitted. */
	if (io_uring_cq_ready(ring) > 0 && io_uring_sq_ready(ring) == 0) {
		rc = 0;
	} else if (timeout_ms == 0 || io_uring_cq_ready(ring) > 0) {
		/* Submits, and posts the completions the kernel has ready. */
		rc = io_uring_submit_and_get_events(ring);
	} else if (timeout_ms < 0) {
		rc = io_uring_submit_and_wait(ring, 1);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (timeout_ms % 1000) * TS_NS_PER_MS,
		};
		/* 0, the count submitted, or -ETIME without a completion. */
		rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
	}
	if (rc < 0 && rc != -ETIME && rc != -EINTR)
		return rc;
	return take_all(loop);
}

const struct ts_evbackend ts_evbackend_uring = {
	.name = "io_uring",
	.init = backend_init,
	.fini = backend_fini,
	.change = backend_change,
	.wait = backend_wait,
	.fd = NULL,
};

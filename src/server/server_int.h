/* Between the parts of the server: server.c (listeners, loop, signals),
 * tcp.c (connections) and udp.c (datagrams). */
#ifndef TSECHO_SERVER_INT_H
#define TSECHO_SERVER_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <tsecho/evloop.h>
#include "guard.h"
#include "log.h"
#include "server.h"

struct conn;
struct conn_list;
struct ts_tcp_engine;
struct ts_uring;
struct ts_kt_udp;

/* A connection's place in one deadline list. */
struct conn_node {
	struct conn *conn;
	struct conn_node *prev;
	struct conn_node *next;
	struct conn_list *list; /* NULL: on none */
	int64_t deadline_mono_ns;
};

/* Connections in order of their deadlines.  Every list has one fixed
 * timeout, so appending at the tail keeps it sorted and a sweep only ever
 * looks at the head. */
struct conn_list {
	struct conn_node *head;
	struct conn_node *tail;
};

/* What a listening socket serves. */
enum listener_role {
	ROLE_MAIN,  /* the text and binary protocols, TCP and UDP */
	ROLE_STAMP, /* STAMP reflector, UDP (stamp.c) */
	ROLE_ECHO,  /* RFC 862 echo, TCP and UDP */
};

struct listener {
	int fd;
	int type; /* SOCK_STREAM or SOCK_DGRAM */
	enum listener_role role;
	struct ts_server *srv;
	struct ts_kt_udp *kt; /* UDP with kernel timestamps on: per-peer times */
	bool kt_refused;      /* ... and the kernel refused them */
};

struct ts_server {
	const struct ts_server_config *cfg;
	struct ts_evloop *loop;
	const struct ts_tcp_engine *tcp; /* how connections move bytes */
	struct ts_uring *uring;          /* the io_uring engine, or NULL */
	struct ts_log log;
	struct ts_server_stats stats;

	/* Up to five sockets (main TCP and UDP, STAMP, echo TCP and UDP)
	 * for each of up to two addresses a name. */
	struct listener listeners[10 * TS_SERVER_MAX_LISTEN];
	int n_listeners;

	/* Scratch shared by every connection: the loop runs one handler at a
	 * time.  rx takes each read; tx collects the replies to it. */
	uint8_t *rx;
	size_t rx_cap;
	/* Input an engine may hand a connection beyond one message after it
	 * stopped reading from it (ts_conn_input's cap is max_message plus
	 * this): one read for the readiness engines; on io_uring, what the
	 * kernel had already posted when the receive was cancelled. */
	size_t in_slack;
	uint8_t *tx;
	size_t tx_cap;

	struct conn_list open;     /* by last progress, idle_timeout */
	struct conn_list draining; /* closing after an error, DRAIN_TIMEOUT */
	struct conn_list partial;  /* with a message begun, message_timeout */

	/* Kept open so that when accept() fails with EMFILE one descriptor
	 * can be freed to accept and close the waiting peer (libev's trick):
	 * otherwise a level-triggered listener would wake the loop forever. */
	struct ts_reflector *stamp; /* NULL without --stamp */
	struct ts_guard guard;      /* who the UDP ports answer */
	struct ts_httpd *metrics;   /* NULL without --metrics */

	int reserve_fd;
	int64_t accept_paused_until_mono_ns; /* 0: accepting */
	bool kt_refused;                     /* --kernel-timestamps was refused once (logged) */

	/* ts_server_stop sets stop and writes to the pipe, which wakes the
	 * loop from its wait (the self-pipe trick: safe in a signal
	 * handler and from another thread). */
	volatile sig_atomic_t stop;
	int wake_pipe[2];
	int64_t start_mono_ns;

	/* --threads: the first reactor renders the metrics of all (peers);
	 * the others publish a copy of their counters for it (pub, under
	 * pub_lock) every PUBLISH_NS at most. */
	struct ts_server *const *peers;
	int n_peers;
	pthread_mutex_t pub_lock;
	struct ts_server_stats pub;
	int64_t pub_mono_ns;
};

/* tcp.c, the readiness engines; arg is the struct listener (main or echo
 * role). */
void ts_tcp_on_accept(struct ts_evloop *loop, int fd, int events, void *arg);
/* conn.c: closes connections whose deadline has passed; returns the next
 * deadline (INT64_MAX when none). */
int64_t ts_tcp_sweep(struct ts_server *srv, int64_t now_mono_ns);
/* conn.c: at shutdown, one last try to send what is pending, then close
 * all. */
void ts_tcp_close_all(struct ts_server *srv);

/* --kernel-timestamps on fd (server.c): 0, or -errno, logged the first
 * time. */
int ts_server_kt_enable(struct ts_server *srv, int fd);
/* ... on a UDP listener, with its table of peers; 0 or -errno. */
int ts_server_kt_listener(struct listener *l);

/* udp.c; arg is the struct listener (main or echo role). */
void ts_udp_on_readable(struct ts_evloop *loop, int fd, int events, void *arg);

/* stamp.c */
struct ts_reflector;
/* Per-server STAMP state (rate limits, sessions); NULL when out of memory. */
struct ts_reflector *ts_reflector_new(const struct ts_server_config *cfg);
void ts_reflector_free(struct ts_reflector *st);
/* Socket options a STAMP socket needs (TTL and receive timestamps); 0 or -errno. */
int ts_reflector_prepare(int fd, int family);
void ts_reflector_on_readable(struct ts_evloop *loop, int fd, int events, void *arg);

#endif

/* The question a TCP client asks before its first probe: does the server
 * speak tsecho's binary protocol, or only the seed's text protocol?
 * (docs/ping.md, "Finding out what the server speaks".) */
#ifndef TSECHO_HELLO_H
#define TSECHO_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include <tsecho/text.h> /* TS_HELLO_ASK, TS_HELLO_ANSWER */

enum ts_hello_result {
	TS_HELLO_TSECHO, /* binary probes from now on */
	TS_HELLO_TEXT,   /* a text reflector: the seed's protocol */
	TS_HELLO_FAILED, /* error[] says why */
};

/* Asks on the connected, non-blocking TCP socket fd and waits at most
 * timeout_ns for the answer. */
enum ts_hello_result ts_hello(int fd, int64_t timeout_ns, char *error, size_t error_cap);

#endif

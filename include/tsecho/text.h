/* The seed's text protocol: message framing, replies and log escaping.
 * Pure functions over caller buffers (docs/protocol.md, section 1). */
#ifndef TSECHO_TEXT_H
#define TSECHO_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Largest "<time>:" prefix a text reply carries (docs/protocol.md promises
 * replies are at most the request plus this). */
#define TS_TEXT_PREFIX_MAX 21u

/* The seed's quit signal: a message starting with telnet's IAC byte. */
#define TS_TEXT_QUIT_BYTE 0xFFu

/* Protocol discovery (docs/ping.md): a client asks with this text
 * message; a tsecho server answers "<time>:" TS_HELLO_ANSWER, where a plain
 * text reflector echoes the question. */
#define TS_HELLO_ASK "tsecho?\n"
#define TS_HELLO_ANSWER "tsecho 1\n"

/* Length of the first message in buf[0..len): through the first LF, or all
 * of it when there is none.  0 only when len is 0. */
size_t ts_text_message_len(const uint8_t *buf, size_t len);

/* Writes "<time>:<msg>" to dst; returns its length, or 0 when it does not
 * fit in cap. */
size_t ts_text_reply(uint8_t *dst, size_t cap, int64_t wall_ns, const uint8_t *msg, size_t len);

/* Whether buf[0..len) opens with a reply's "<time>:" prefix (seconds, a
 * point, digits, a colon, within TS_TEXT_PREFIX_MAX bytes), i.e. is itself
 * a text reply, which a reflector must not answer over UDP. */
int ts_text_is_reply(const uint8_t *buf, size_t len);

/* Writes msg to dst as printable ASCII: 0x20..0x7e as they are (backslash
 * doubled), \r \n \t, anything else \xNN.  When it does not fit, ends with
 * "..." instead.  dst is always NUL-terminated (cap >= 4); returns the
 * length written. */
size_t ts_text_escape(char *dst, size_t cap, const uint8_t *msg, size_t len);

enum ts_text_hello {
	TS_TEXT_HELLO_TSECHO, /* "<time>:" TS_HELLO_ANSWER: a tsecho server */
	TS_TEXT_HELLO_ECHOED, /* "<time>:" TS_HELLO_ASK: a text reflector */
	TS_TEXT_HELLO_OTHER,  /* anything else */
};

/* Classifies the answer to TS_HELLO_ASK, line[0..len) up to and including
 * its line feed. */
enum ts_text_hello ts_text_hello_classify(const uint8_t *line, size_t len);

/* Parses "<seconds>[.<fraction>]" (the seed's time.time(), tsecho's
 * six decimals, up to nine fraction digits used) into nanoseconds since
 * the epoch.  Returns 0, or -1 when s[0..len) is not such a number or its
 * seconds are past 9223372035 (what nanoseconds in an int64_t can hold). */
int ts_text_parse_time(const uint8_t *s, size_t len, int64_t *wall_ns);

#endif

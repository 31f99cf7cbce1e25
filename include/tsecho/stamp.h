/* STAMP, the Simple Two-way Active Measurement Protocol (RFC 8762):
 * unauthenticated test packets, their timestamps and Error Estimate.
 *
 * Layouts are RFC 8762 4.2.1 (Session-Sender) and 4.3.1 (Session-Reflector),
 * with the RFC 8972 Session-Sender Identifier (SSID) at octets 14-15 of both.
 * Every multi-octet field is big-endian.  Decoders are pure functions over
 * (buf, len) and never read past len; nothing here allocates, prints or
 * keeps state.
 *
 * TWAMP-Light (RFC 5357 Appendix I) shares the first 14 octets of the sender
 * packet and the first 41 octets of the reflector packet, so the decoders
 * accept TWAMP-Light packets too: a sender packet needs 14 octets, a
 * reflector packet 41. */
#ifndef TSECHO_STAMP_H
#define TSECHO_STAMP_H

#include <stddef.h>
#include <stdint.h>

#include <tsecho/proto.h>

#define TS_STAMP_BASE_LEN 44u     /* unauthenticated base packet, both directions */
#define TS_STAMP_SENDER_MIN 14u   /* Seq, Timestamp, Error Estimate (RFC 4656 4.1.2) */
#define TS_STAMP_TWAMP_MIN 41u    /* smallest reflector packet (TWAMP-Light, RFC 5357 4.2.1) */
#define TS_STAMP_DEFAULT_PORT 862 /* RFC 8762 4.1: the TWAMP-Test receiver port */

/* --- Timestamps ---------------------------------------------------------
 *
 * Both formats are 64 bits on the wire: 32 bits of seconds, then 32 bits
 * of sub-second.  Which one a timestamp uses is the Z bit of the Error
 * Estimate that goes with it (RFC 8186 2.3): the reflector's EE covers its
 * Timestamp (T3) and Receive Timestamp (T2), the copied sender EE covers
 * the Session-Sender Timestamp (T1). */

/* NTP 64-bit timestamp (RFC 5905 6): seconds since 1900-01-01 00:00 UTC,
 * then a fraction in units of 2^-32 s.
 *
 * The 32-bit seconds roll over on 2036-02-07 06:28:16 UTC (era 1).  As is
 * usual, seconds below 2^31 are taken as era 1 (after the rollover) and the
 * rest as era 0, so the 64-bit value maps one to one onto the Unix times
 * from 1968-01-20 03:14:08 UTC up to (not including) 2104-02-26 09:42:24 UTC.
 * A Unix time outside that window is written modulo 2^32 seconds and reads
 * back 136 years off.
 *
 * ts_ntp_from_unix_ns truncates the fraction (ns * 2^32 / 10^9, rounded
 * down); ts_ntp_to_unix_ns rounds to the nearest ns.  Together they give
 * back every ns exactly, because one fraction unit (0.23 ns) is less than
 * half a ns. */
uint64_t ts_ntp_from_unix_ns(int64_t unix_ns);
int64_t ts_ntp_to_unix_ns(uint64_t ntp);

/* PTPv2 truncated timestamp (IEEE 1588-2008, RFC 8877 4.3; Z=1): seconds
 * since 1970-01-01 00:00:00 TAI, then nanoseconds (0..999999999).  TAI is
 * ahead of UTC by tai_offset_s seconds (37 since 2017); the caller supplies
 * it.  The seconds are unsigned 32 bits: TAI times from 1970 to 2106.
 * A nanoseconds field of 10^9 or more (not valid PTP) is used as it is. */
uint64_t ts_ptp_from_unix_ns(int64_t unix_ns, int tai_offset_s);
int64_t ts_ptp_to_unix_ns(uint64_t ptp, int tai_offset_s);

/* --- Error Estimate (RFC 4656 4.1.2, RFC 8186 2.3, RFC 8762 4.2.1) ------
 *
 *   bit 15: S, clock synchronized to UTC by an external source
 *   bit 14: Z, timestamp format: 0 NTP, 1 PTPv2 truncated
 *   bits 13..8: Scale (0..63), bits 7..0: Multiplier (0..255)
 *   error = Multiplier * 2^(Scale - 32) seconds
 *
 * RFC 4656 says a Multiplier of 0 is invalid ("SHOULD be considered corrupt
 * and discarded"); the codec carries it as is and leaves the verdict to the
 * caller. */
#define TS_STAMP_EE_S 0x8000u
#define TS_STAMP_EE_Z 0x4000u

struct ts_stamp_ee {
	int synced;          /* S: 0 or 1 */
	int ptp;             /* Z: 0 NTP, 1 PTP */
	unsigned scale;      /* 0..63 */
	unsigned multiplier; /* 1..255 when valid */
};

/* Packs ee into its 16 bits.  synced and ptp count as 1 when non-zero;
 * scale and multiplier are taken modulo 64 and 256. */
uint16_t ts_stamp_ee_encode(const struct ts_stamp_ee *ee);

/* Unpacks all 16 bits of v into *ee (synced and ptp as 0 or 1). */
void ts_stamp_ee_decode(uint16_t v, struct ts_stamp_ee *ee);

/* Sets ee->scale and ee->multiplier (S and Z are left alone) to the
 * smallest Scale, and then the smallest Multiplier (1..255, never 0), whose
 * error Multiplier * 2^(Scale - 32) s is at least err_ns nanoseconds.
 * err_ns <= 0 (or NaN) gives the finest: scale 0, multiplier 1 (0.23 ns).
 * Anything above 255 * 2^31 s saturates at scale 63, multiplier 255. */
void ts_stamp_ee_set_error(struct ts_stamp_ee *ee, double err_ns);

/* The error ee describes, in nanoseconds (0 for multiplier 0). */
double ts_stamp_ee_error_ns(const struct ts_stamp_ee *ee);

/* --- Session-Sender packet (RFC 8762 4.2.1, RFC 8972 SSID) --------------
 *
 *   0 Sequence Number (4)   4 Timestamp T1 (8)   12 Error Estimate (2)
 *   14 SSID (2)   16..43 MBZ (28)   44.. TLVs (RFC 8972), not handled here */
struct ts_stamp_sender {
	uint32_t seq;       /* from 0, +1 per packet of the session */
	uint64_t timestamp; /* T1, NTP or PTP as the Z bit of ee says */
	uint16_t ee;        /* Error Estimate, see ts_stamp_ee_encode */
	uint16_t ssid;      /* RFC 8972; 0 when not used */
};

/* Writes the 44-octet base packet, MBZ zeroed, to buf (which has room for
 * TS_STAMP_BASE_LEN octets; octets beyond 44 are left to the caller).
 * Returns TS_STAMP_BASE_LEN. */
size_t ts_stamp_sender_encode(uint8_t *buf, const struct ts_stamp_sender *s);

/* Decodes a received sender packet from buf[0..len).  OK when len >= 14
 * (TWAMP-Light senders send 14 octets and up, STAMP senders 44 and up);
 * BAD below.  out->ssid is 0 when len < 16.  MBZ and anything after it are
 * ignored (RFC 8762 4.2.1: "MUST be ignored on receipt").  out may be NULL. */
enum ts_decode ts_stamp_sender_decode(const uint8_t *buf, size_t len, struct ts_stamp_sender *out);

/* --- Session-Reflector packet (RFC 8762 4.3.1) --------------------------
 *
 *   0 Sequence Number (4)   4 Timestamp T3 (8)   12 Error Estimate (2)
 *   14 SSID (2)   16 Receive Timestamp T2 (8)   24 Sender Sequence Number (4)
 *   28 Sender Timestamp T1 (8)   36 Sender Error Estimate (2)   38 MBZ (2)
 *   40 Sender TTL (1)   41 MBZ (3)   44.. copied from the sender packet
 *
 * Octets 0-40 are also the TWAMP reflector packet (RFC 5357 4.2.1), whose
 * padding starts at 41. */
struct ts_stamp_reflector {
	uint32_t seq;              /* stateless: the sender's seq; stateful: own counter */
	uint64_t timestamp;        /* T3, reflector send time; format per ee */
	uint16_t ee;               /* reflector's Error Estimate: covers T3 and T2 */
	uint16_t ssid;             /* RFC 8972: copied from the sender packet */
	uint64_t rx_timestamp;     /* T2, reflector receive time; format per ee */
	uint32_t sender_seq;       /* copy of the sender's Sequence Number */
	uint64_t sender_timestamp; /* T1, copy; format per sender_ee */
	uint16_t sender_ee;        /* copy of the sender's Error Estimate */
	uint8_t sender_ttl;        /* IP TTL / hop limit of the received packet */
};

/* Turns the received sender packet pkt[0..len), in place, into the reflected
 * packet (len >= TS_STAMP_TWAMP_MIN): writes every field of r at its offset,
 * T3 included (a placeholder until ts_stamp_reflector_set_t3), zeroes the MBZ
 * octets 38-39 and those of 41-43 that exist, and leaves octets from 44 on
 * as they are, so the reply has the size of the request (RFC 8762 4.3).  The
 * caller then sends len octets.
 *
 * The sender's fields are overwritten: decode the sender packet into r
 * first.  A request shorter than 44 octets gets a 44-octet reply (RFC 8762
 * 4.6): encode into a zeroed 44-octet buffer with len 44. */
void ts_stamp_reflector_encode(uint8_t *pkt, size_t len, const struct ts_stamp_reflector *r);

/* Writes T3 into an encoded reflector packet (octets 4-11), so that the
 * caller can take it as late as possible before sending. */
void ts_stamp_reflector_set_t3(uint8_t *pkt, uint64_t t3);

/* Decodes a reflected packet from buf[0..len): OK when len >= 41
 * (TS_STAMP_TWAMP_MIN), BAD otherwise.  MBZ octets and everything from 41
 * on are ignored.  out may be NULL. */
enum ts_decode ts_stamp_reflector_decode(const uint8_t *buf, size_t len,
					 struct ts_stamp_reflector *out);

/* This host's error estimate for its own timestamps (RFC 8762 4.2.1):
 * S from the kernel's clock discipline, Scale and Multiplier from its
 * estimated error (ts_clock_sync); NTP format; never a multiplier of 0. */
uint16_t ts_stamp_local_ee(void);

#endif

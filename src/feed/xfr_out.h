/* SPDX-License-Identifier: MIT */
/*
 * The serving side of zone transfers, without I/O: versions of a zone (records in wire form,
 * sorted, with a serial), the journal of differences between recent versions (RFC 1995 IXFR),
 * kept on disk so a restart still serves IXFR, and the response stream: AXFR (RFC 5936), IXFR
 * from the journal, IXFR answered AXFR-style when the client's serial is not in it, and the
 * single-SOA "up to date" answer, each message TSIG-signed by libknot (RFC 8945 5.3.1) when
 * the request was. Versions and journal entries are immutable and reference-counted, so a
 * stream keeps the version it started with while newer ones are published.
 *
 *   feed_rrs_add(&rrs, ...) for every record; feed_out_ver_next(prev, &rrs, &soa, lim, &v)
 *   feed_out_request_parse(wire, len, key, &req)       who asks, for what, signed how
 *   feed_out_stream_new(v, &req, key, &st); while (feed_out_stream_next(st, buf, ...) == 1)
 */
#ifndef C2W_FEED_XFR_OUT_H
#define C2W_FEED_XFR_OUT_H

#include <libknot/tsig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define FEED_OUT_NAME_MAX 255

/** Records in wire form (owner uncompressed, type, class, TTL, rdlength, rdata), one after
 *  the other in @blob, @off[i] the start of record i. */
struct feed_rrs {
	uint8_t *blob;
	size_t len, cap;
	uint32_t *off;
	size_t count, off_cap;
};

/** Append one IN record. @return C2W_OK, C2W_ENOMEM, C2W_ERANGE (blob over 4 GiB) */
C2W_NODISCARD int feed_rrs_add(struct feed_rrs *s, const uint8_t *owner, size_t owner_len,
			       uint16_t type, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);
void feed_rrs_free(struct feed_rrs *s);

/** The SOA of a version, minus the serial, which feed_out_ver_next() decides. */
struct feed_out_soa {
	uint8_t origin[FEED_OUT_NAME_MAX];
	size_t origin_len;
	uint8_t mname[FEED_OUT_NAME_MAX], rname[FEED_OUT_NAME_MAX];
	size_t mname_len, rname_len;
	uint32_t ttl, refresh, retry, expire, minimum;
	uint32_t feed_serial; /* the serial the feed itself gives; 0 = none (derive one) */
};

struct feed_out_limits {
	unsigned versions; /* journal entries kept; 0 = no journal (IXFR falls back to AXFR) */
	uint64_t bytes;    /* journal bytes kept */
};

struct feed_out_ver;

/**
 * The version after @prev with records @rrs (taken: emptied on return) and SOA @soa.
 * Unchanged records give @prev back (one more reference) with *changed false. Otherwise the
 * serial is the feed's when it is after @prev's (RFC 1982), else @prev's + 1 (a feed without
 * serials, or one that changed without raising it); without @prev, the feed's serial or, with
 * none, the current unix time. The journal is @prev's plus the difference, trimmed to @lim
 * (oldest first).
 *
 * @param prev      may be NULL; borrowed
 * @param prev_serial  with @prev NULL: a serial from an earlier run (the journal file) that
 *                  the new one must follow; 0 = none
 * @return C2W_OK, C2W_ENOMEM
 */
C2W_NODISCARD int feed_out_ver_next(struct feed_out_ver *prev, uint32_t prev_serial,
				    struct feed_rrs *rrs, const struct feed_out_soa *soa,
				    const struct feed_out_limits *lim, struct feed_out_ver **out,
				    bool *changed);

/**
 * The version after @prev from a change alone: every record of @prev whose owner is one of
 * @owners goes, the records @add (all the records those owners have now) come in, without
 * going over the zone: O(k log n) comparisons for k changed records, plus one copy of @prev's
 * record arrays. Serial, journal entry and "unchanged" as feed_out_ver_next(); the result is
 * the version feed_out_ver_next() would make from the whole new record set.
 *
 * @param prev    borrowed; required
 * @param owners  names only: records added with type 0 and no rdata stand for their owner;
 *                taken (emptied on return)
 * @param add     taken (emptied on return)
 * @return C2W_OK, C2W_ENOMEM, C2W_ERANGE (over 4 GiB)
 */
C2W_NODISCARD int feed_out_ver_apply(struct feed_out_ver *prev, struct feed_rrs *owners,
				     struct feed_rrs *add, const struct feed_out_soa *soa,
				     const struct feed_out_limits *lim, struct feed_out_ver **out,
				     bool *changed);

struct feed_out_ver *feed_out_ver_ref(struct feed_out_ver *v);
void feed_out_ver_unref(struct feed_out_ver *v);
uint32_t feed_out_ver_serial(const struct feed_out_ver *v);
/** Records besides the SOA, journal entries and their bytes. */
size_t feed_out_ver_count(const struct feed_out_ver *v);
size_t feed_out_ver_journal(const struct feed_out_ver *v, uint64_t *bytes);
/** The SOA record of @v in wire form (borrowed from @v). */
const uint8_t *feed_out_ver_soa(const struct feed_out_ver *v, size_t *len);

/**
 * Save the journal of @v (its serial, a digest of its records, its differences) to @path:
 * temp file, fsync, rename.
 *
 * @return C2W_OK or a negative errno
 */
C2W_NODISCARD int feed_out_journal_write(const struct feed_out_ver *v, const char *path);

/**
 * Take the journal at @path into @v when it was written for the same records (digest), so a
 * restart serves IXFR from where it stopped; otherwise only its serial is useful, for
 * feed_out_ver_next()'s @prev_serial.
 *
 * @param v       a version made without @prev; its serial becomes the journal's when adopted
 * @param serial  out: the journal's serial (0 when unreadable)
 * @return C2W_OK (adopted), C2W_EVERSION (another version: *serial only), C2W_ENOENT,
 *         C2W_EMALF (not a journal, or damaged: nothing taken), C2W_ENOMEM, negative errno
 */
C2W_NODISCARD int feed_out_journal_read(struct feed_out_ver *v, const char *path, uint32_t *serial);

/** The same from memory (fuzzing): @buf is the file's contents. */
C2W_NODISCARD int feed_out_journal_parse(struct feed_out_ver *v, const uint8_t *buf, size_t len,
					 uint32_t *serial);

/** A transfer request, as feed_out_request_parse() found it. */
struct feed_out_req {
	uint16_t id, qtype, qclass;
	uint8_t qname[FEED_OUT_NAME_MAX]; /* lower case */
	size_t qname_len;
	bool has_serial; /* IXFR: the client's SOA serial (RFC 1995 3, authority section) */
	uint32_t serial;
	bool tsig;           /* the request carried a TSIG record */
	uint16_t tsig_error; /* 0, or BADSIG (16), BADKEY (17), BADTIME (18) */
	uint8_t mac[64];     /* the request MAC, to chain the response's (RFC 8945 5.3.1) */
	size_t mac_len;
	uint64_t time_signed;
	/* For an error answer's unsigned TSIG record (RFC 8945 5.3.2): the request's key
	 * name, algorithm, fudge and ID. */
	uint8_t tsig_key[FEED_OUT_NAME_MAX], tsig_alg[FEED_OUT_NAME_MAX];
	size_t tsig_key_len, tsig_alg_len;
	uint16_t tsig_fudge, tsig_orig_id;
};

/**
 * Parse a query (AXFR, IXFR, SOA) with libknot and check its TSIG against @key.
 *
 * @param key  the zone's key; NULL = none (a signed request then gets BADKEY)
 * @return C2W_OK (look at tsig and tsig_error); C2W_EMALF (answer FORMERR or drop)
 */
C2W_NODISCARD int feed_out_request_parse(const uint8_t *wire, size_t len,
					 const knot_tsig_key_t *key, struct feed_out_req *out);

struct feed_out_stream;

enum feed_out_kind {
	FEED_OUT_AXFR = 0,
	FEED_OUT_IXFR,      /* differences from the journal */
	FEED_OUT_IXFR_FULL, /* IXFR answered AXFR-style: serial not in the journal */
	FEED_OUT_UPTODATE,  /* IXFR from a client that has @v's serial, or any SOA query */
};

/**
 * The response to @req from version @v: AXFR for AXFR; for IXFR the journal path from the
 * client's serial, or the whole zone, or one SOA; for SOA one SOA.
 *
 * @param key  signs every message when @req was signed; copied
 * @param max_msg  bytes per message (512..65535)
 * @return C2W_OK, C2W_ENOMEM
 */
C2W_NODISCARD int feed_out_stream_new(struct feed_out_ver *v, const struct feed_out_req *req,
				      const knot_tsig_key_t *key, size_t max_msg,
				      struct feed_out_stream **out);
enum feed_out_kind feed_out_stream_kind(const struct feed_out_stream *st);
void feed_out_stream_free(struct feed_out_stream *st);

/**
 * Write the next message into @buf.
 *
 * @return 1 written (*len set), 0 nothing left, C2W_ETSIG, C2W_ESPACE (@cap too small)
 */
C2W_NODISCARD int feed_out_stream_next(struct feed_out_stream *st, uint8_t *buf, size_t cap,
				       size_t *len);

/**
 * An answer with no records and @rcode (REFUSED, NOTAUTH, FORMERR) to @req; with
 * req->tsig_error, the TSIG record that carries it: unsigned with an empty MAC for BADSIG and
 * BADKEY (RFC 8945 5.3.2), signed with @key for BADTIME (5.2.3: the request's MAC was good;
 * the response carries the server's time in Other Data).
 *
 * @param key  the zone's key (may be NULL: BADTIME then goes unsigned too)
 * @return the length, 0 when @cap is too small
 */
size_t feed_out_error(const struct feed_out_req *req, uint8_t rcode, const knot_tsig_key_t *key,
		      uint8_t *buf, size_t cap);

/** A NOTIFY (RFC 1996) for @v's zone with its SOA in the answer, signed with @key (may be
 *  NULL). @return the length, 0 on failure */
size_t feed_out_notify(const struct feed_out_ver *v, uint16_t id, const knot_tsig_key_t *key,
		       uint8_t *buf, size_t cap);

#endif

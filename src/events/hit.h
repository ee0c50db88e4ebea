/* SPDX-License-Identifier: MIT */
/*
 * The hit record: one fixed-size, pointer-free struct per policy hit, filled by a worker and
 * copied through its ring (events/ring.h) to the event thread (events/pipeline.h). Text fields
 * are NUL-terminated copies, truncated to fit. The raw client address in here never leaves
 * the box: sinks write the pseudonym (events/pseudo.h) instead.
 */
#ifndef C2W_EVENTS_HIT_H
#define C2W_EVENTS_HIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define EVENTS_NAME_CAP     256 /* presentation name, 253 chars + dot + NUL */
#define EVENTS_CATEGORY_CAP 32
#define EVENTS_FAMILY_CAP   64
#define EVENTS_FEED_CAP     64
#define EVENTS_ANSWER_CAP   128

/* What matched (draft-vixie-dnsop-dns-rpz-00 trigger types). */
enum events_trigger {
	EVENTS_TRIGGER_QNAME = 0,
	EVENTS_TRIGGER_CLIENT_IP,
	EVENTS_TRIGGER_RESPONSE_IP,
	EVENTS_TRIGGER_NSDNAME,
	EVENTS_TRIGGER_NSIP,
	EVENTS_TRIGGER_COUNT_,
};

/* What was done. LOG is shadow mode (answered normally, recorded). */
enum events_action {
	EVENTS_ACTION_NXDOMAIN = 0,
	EVENTS_ACTION_NODATA,
	EVENTS_ACTION_PASSTHRU,
	EVENTS_ACTION_DROP,
	EVENTS_ACTION_TCP_ONLY,
	EVENTS_ACTION_LOCAL_DATA,
	EVENTS_ACTION_CNAME,
	EVENTS_ACTION_LOG,
	EVENTS_ACTION_SINKHOLE,
	EVENTS_ACTION_SERVFAIL, /* water-torture mitigation (category "ddos") */
	EVENTS_ACTION_REFUSED,  /* water-torture mitigation (category "ddos") */
	EVENTS_ACTION_COUNT_,
};

/*
 * A record is a policy hit unless the worker marks it EVENTS_KIND_QUERY, which it may do only
 * when the operator set events.query_log; the pipeline discards query records otherwise.
 */
enum events_kind {
	EVENTS_KIND_HIT = 0,
	EVENTS_KIND_QUERY = 1,
};

struct events_hit {
	uint64_t time_ns;                   /* CLOCK_REALTIME, nanoseconds since the epoch */
	uint8_t client_addr[16];            /* network order; IPv4 in the first 4 bytes */
	uint16_t client_port;               /* host order */
	uint8_t client_family;              /* AF_INET or AF_INET6 */
	uint8_t kind;                       /* enum events_kind */
	uint8_t trigger;                    /* enum events_trigger */
	uint8_t action;                     /* enum events_action */
	uint8_t tcp;                        /* 1: the query came over TCP, 0: UDP */
	uint16_t qtype;                     /* DNS type code */
	uint16_t worker;                    /* worker index that saw the query */
	char qname[EVENTS_NAME_CAP];        /* presentation form, lower case, e.g. "c2.example." */
	char match[EVENTS_NAME_CAP];        /* matched rule: name ("*.bad.example.") or prefix */
	char zone[EVENTS_NAME_CAP];         /* policy zone origin */
	char category[EVENTS_CATEGORY_CAP]; /* "c2", "malware", ... */
	char family[EVENTS_FAMILY_CAP];     /* malware family; "" when unknown */
	char feed[EVENTS_FEED_CAP];         /* feed name */
	char answer[EVENTS_ANSWER_CAP];     /* what the client got: "NXDOMAIN", "A 127.0.0.2" */
};

/**
 * Set the client address and port of @hit from a socket address. A v4-mapped IPv6 address
 * (::ffff:a.b.c.d) is stored as IPv4 so the same subscriber gets one pseudonym.
 *
 * @param hit  caller's record
 * @param sa   AF_INET or AF_INET6, borrowed
 * @return 0, or C2W_EINVAL for another family (the address is then zeroed)
 */
int events_hit_set_client(struct events_hit *hit, const struct sockaddr *sa);

/**
 * Copy text into a fixed field, truncating and always terminating. NULL @src gives "".
 * Used by workers to fill the char arrays without string.h pitfalls.
 */
void events_hit_copy(char *dst, size_t cap, const char *src);

/** "qname", "client-ip", "response-ip", "nsdname", "nsip"; "unknown" when out of range. */
const char *events_trigger_name(unsigned trigger);

/**
 * "nxdomain", "nodata", "passthru", "drop", "tcp-only", "local-data", "cname", "log",
 * "sinkhole", "servfail", "refused"; "unknown" when out of range.
 */
const char *events_action_name(unsigned action);

/** Client address as text ("192.0.2.1", "2001:db8::1") into @out; returns @out. */
const char *events_hit_client_text(const struct events_hit *hit, char *out, size_t cap);

#endif

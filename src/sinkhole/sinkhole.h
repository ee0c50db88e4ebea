/* SPDX-License-Identifier: MIT */
/*
 * The sinkhole: where blocked names resolve to. It serves the warning page over HTTP, reads the
 * TLS ClientHello on the TLS port (records the SNI, never completes a handshake, owns no
 * certificate), and records the first bytes on extra TCP ports. Every connection becomes
 * evidence handed to the daemon. It runs on the caller's libevent base and never blocks it.
 * It knows nothing of policy or config: the daemon (or `c2wall sinkhole`) fills a plain spec
 * and supplies two callbacks, one to look a Host up, one to take the evidence.
 */
#ifndef C2W_SINKHOLE_SINKHOLE_H
#define C2W_SINKHOLE_SINKHOLE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/err.h"

struct event_base;
struct sinkhole_server;

/* Page languages. Japanese is the default; English when the client prefers it. */
enum sinkhole_lang { SINKHOLE_LANG_JA = 0, SINKHOLE_LANG_EN = 1, SINKHOLE_LANG_COUNT };

/* Limits; a spec field left 0 takes the default. */
#define SINKHOLE_DEFAULT_HEADER_MAX      8192  /* request line + header fields, bytes */
#define SINKHOLE_DEFAULT_HEADER_COUNT    64    /* header fields per request */
#define SINKHOLE_DEFAULT_READ_TIMEOUT_MS 10000 /* whole request head, not per byte */
#define SINKHOLE_DEFAULT_CONN_MAX        512   /* open connections, all listeners together */
#define SINKHOLE_DEFAULT_CONN_PER_ADDR   16    /* open connections per client prefix */
#define SINKHOLE_DEFAULT_TCP_BYTES       256   /* first bytes kept from an extra TCP port */
#define SINKHOLE_TCP_BYTES_MAX           4096
#define SINKHOLE_REQUESTS_PER_CONN       32 /* keep-alive requests before we close */

/** A listening address (IPv4 or IPv6 with port). */
struct sinkhole_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/** An operator link on the page. Only http: and https: URLs are accepted. */
struct sinkhole_link {
	const char *label;
	const char *url;
};

/**
 * Operator text for one language. Plain text, never HTML: the page escapes all of it.
 * A NULL field (or a zero count) takes the templates directory's text.<lang>.txt value, else
 * the built-in default text of that language.
 */
struct sinkhole_text {
	const char *isp_name;     /* "Example ISP" */
	const char *const *steps; /* what to do now, in order */
	size_t step_count;
	const struct sinkhole_link *links; /* ISP's and public help pages */
	size_t link_count;
	const char *optout;  /* how to opt out of the service */
	const char *contact; /* whom to contact: desk, phone, mail */
};

/**
 * What the sinkhole is. Borrowed for the call to sinkhole_server_new(); everything needed later
 * is copied.
 */
struct sinkhole_spec {
	const struct sinkhole_addr *http; /* warning page listeners */
	size_t http_count;
	const struct sinkhole_addr *tls; /* ClientHello readers */
	size_t tls_count;
	const struct sinkhole_addr *tcp; /* record-and-close ports */
	size_t tcp_count;
	const char *templates; /* directory with page.ja.html, page.en.html, style.css,
				  text.ja.txt, text.en.txt (each optional); NULL = built-in */
	struct sinkhole_text text[SINKHOLE_LANG_COUNT];
	size_t header_max;        /* 0 = SINKHOLE_DEFAULT_HEADER_MAX (min 1024, max 65536) */
	unsigned header_count;    /* 0 = SINKHOLE_DEFAULT_HEADER_COUNT */
	unsigned read_timeout_ms; /* 0 = SINKHOLE_DEFAULT_READ_TIMEOUT_MS */
	unsigned conn_max;        /* 0 = SINKHOLE_DEFAULT_CONN_MAX */
	size_t tcp_bytes;         /* 0 = SINKHOLE_DEFAULT_TCP_BYTES; <= SINKHOLE_TCP_BYTES_MAX */
	unsigned conn_per_addr;   /* per client prefix (IPv4 /32, IPv6 /56), all listeners;
				     0 = SINKHOLE_DEFAULT_CONN_PER_ADDR */
	unsigned evidence_per_minute; /* evidence records per client prefix a minute (also the
					 burst); 0 = no limit */
};

/** What the daemon knows about a Host the sinkhole was asked for. */
struct sinkhole_info {
	char family[64];     /* malware family, "" when unknown */
	char category[32];   /* c2, malware, phishing, ... ; "" when unknown */
	char zone[256];      /* policy zone that matched, "" when unknown */
	char feed[64];       /* feed the rule came from, "" when unknown */
	int64_t last_hit_s;  /* wall-clock time of this client's last DNS hit for the name, unix
				seconds; 0 when not known (the page then shows the request time) */
	int64_t incident_id; /* incident the hit belongs to; 0 when not known */
};

/**
 * Look a Host up. Called on the event loop thread, once per HTTP request and per TLS
 * ClientHello with SNI; it must not block (pinned snapshot lookup, no I/O).
 *
 * @param host    normalised: lower case, no port, no trailing dot; NUL-terminated, borrowed;
 *                any printable bytes (it came from the client), at most 255 + NUL
 * @param client  the client's address, borrowed
 * @param out     out: filled when the function returns true (zeroed by the caller before)
 * @param arg     the daemon's argument from sinkhole_server_new()
 * @return true when @host is a blocked name (the page then names it as such)
 */
typedef bool sinkhole_lookup_cb(const char *host, const struct sockaddr *client,
				struct sinkhole_info *out, void *arg);

enum sinkhole_proto {
	SINKHOLE_PROTO_HTTP = 0,
	SINKHOLE_PROTO_TLS,
	SINKHOLE_PROTO_TCP,
};

/**
 * One connection attempt or request. Every pointer is borrowed for the duration of the
 * callback only: copy what you keep. Strings are NUL-terminated and contain no control
 * characters except TAB; they are still client bytes (may hold '<', '"', non-UTF-8), so escape
 * them for whatever format you write.
 */
struct sinkhole_evidence {
	enum sinkhole_proto proto;
	int64_t time_ms;               /* wall clock, ms since the epoch */
	const struct sockaddr *client; /* peer address and port */
	socklen_t client_len;
	const struct sockaddr *local; /* the sinkhole address and port it came to */
	socklen_t local_len;
	uint16_t local_port;
	const char *host;       /* HTTP: normalised Host; TLS: SNI; NULL when none */
	const char *method;     /* HTTP only, else NULL */
	const char *path;       /* HTTP request-target as sent, at most 2048 bytes; else NULL */
	const char *user_agent; /* HTTP only; NULL when absent */
	int http_status;        /* HTTP status we answered (403 page, 400, 431, ...); 0 if none */
	bool blocked;           /* lookup_cb said the host is blocked; @info is then set */
	const struct sinkhole_info *info; /* NULL unless @blocked */
	const uint8_t *bytes;             /* TCP: first bytes received (binary); else NULL */
	size_t bytes_len;
	const char *lang; /* HTTP: "ja" or "en", the page language served; else NULL */
};

/**
 * Take one piece of evidence (write a JSON line, add it to the incident store). Called on the
 * event loop thread; it must not block for long.
 */
typedef void sinkhole_evidence_cb(const struct sinkhole_evidence *ev, void *arg);

/** Counters, for metrics. */
struct sinkhole_stats {
	uint64_t accepted;    /* connections accepted */
	uint64_t refused_cap; /* accepted and closed at once: connection cap reached */
	uint64_t refused_addr; /* accepted and closed at once: the client's per-address cap */
	uint64_t evidence;     /* evidence records handed to the daemon */
	uint64_t evidence_limited; /* evidence not recorded: the client's evidence rate */
	uint64_t http_pages;  /* warning pages served */
	uint64_t http_errors; /* 4xx/5xx answers to malformed or oversized requests */
	uint64_t timeouts;    /* connections closed by the read timeout */
	uint64_t tls_hellos;  /* ClientHellos read (with or without SNI) */
	uint64_t tls_bad;     /* TLS ports: not a ClientHello */
	uint64_t tcp_records; /* extra TCP ports: attempts recorded */
	unsigned open;        /* connections open now */
};

/**
 * Bind every listener in @spec, load templates and operator text, and start serving on @base.
 * Binding happens here so the daemon can drop privileges afterwards.
 *
 * @param base      the daemon's event loop; borrowed, must outlive the server
 * @param spec      borrowed for the call
 * @param lookup    may be NULL: every Host is then shown as "not known" (no family)
 * @param evidence  may be NULL: nothing is recorded
 * @param arg       passed to both callbacks
 * @param out       out: the server; free with sinkhole_server_free()
 * @return C2W_OK; C2W_EINVAL (no listener, bad limit, non-http(s) link or a link to a
 *         download); C2W_EIO (a template file unreadable or without a closing tag);
 *         a negative errno from socket/bind/listen; C2W_ENOMEM
 */
C2W_NODISCARD int sinkhole_server_new(struct event_base *base, const struct sinkhole_spec *spec,
				      sinkhole_lookup_cb *lookup, sinkhole_evidence_cb *evidence,
				      void *arg, struct sinkhole_server **out);

/** Close listeners and connections and free. On the loop thread. NULL does nothing. */
void sinkhole_server_free(struct sinkhole_server *srv);

/** Copy the counters. */
void sinkhole_server_stats(const struct sinkhole_server *srv, struct sinkhole_stats *out);

/**
 * The bound address of listener @index of kind @proto (useful with port 0 in tests).
 *
 * @return C2W_OK or C2W_ENOENT
 */
int sinkhole_server_addr(const struct sinkhole_server *srv, enum sinkhole_proto proto, size_t index,
			 struct sinkhole_addr *out);

#endif

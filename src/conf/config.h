/* SPDX-License-Identifier: MIT */
/*
 * The configuration: one immutable struct loaded from the YAML file (libyaml), validated as a
 * whole, errors reported as "file:line: message". A reload builds a new struct and swaps it;
 * the old one stays in force when the new file is bad. Every key is documented in
 * docs/config.md and shown in conf/c2wall.yaml.
 */
#ifndef C2W_CONF_CONFIG_H
#define C2W_CONF_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** "address@port" (port optional, default given by the key), IPv4 or IPv6. */
struct conf_addr {
	struct sockaddr_storage ss;
	socklen_t ss_len;
	char text[64]; /* as written, normalised: "127.0.0.1@5353", "::1@5353" */
};

/** An address prefix: "192.0.2.0/24", "2001:db8::/32", or a bare address (full length). */
struct conf_prefix {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; bits beyond @bits are zero */
	uint8_t bits;
};

struct conf_stub {
	char *zone; /* presentation form, e.g. "corp.example." */
	struct conf_addr *addrs;
	size_t addr_count;
};

enum conf_resolver_mode {
	CONF_RESOLVER_RECURSIVE = 0,
	CONF_RESOLVER_FORWARD,
};

/* Default cache budgets, MiB, all workers together (docs/config.md): most of the memory
 * goes to the answer cache, a quarter of the total to libunbound. */
#define CONF_CACHE_MEMORY_MB_DEFAULT   96
#define CONF_RESOLVER_CACHE_MB_DEFAULT 32

struct conf_server {
	struct conf_addr *listen; /* default: 127.0.0.1@53 and ::1@53 */
	size_t listen_count;
	unsigned workers; /* 0 = auto: one per online core */
	struct conf_prefix *allow; /* who may query; everyone else gets REFUSED */
	size_t allow_count;        /* default: 127.0.0.0/8 and ::1/128 */
	char *user; /* when started as root, run as this user after binding; default "c2wall";
		       NULL ("none") = stay root */
	unsigned tcp_clients_max;  /* per worker; default 256 */
	unsigned tcp_idle_timeout_ms; /* default 10000 */
	unsigned tcp_clients_per_address; /* per client prefix, all workers together; default 32 */
	unsigned tcp_message_timeout_ms;  /* a started message must be complete by then; 5000 */
	unsigned tcp_pipeline_max;        /* queries in flight per connection; default 32 */
	uint64_t tcp_output_max;          /* unsent answer bytes that pause reading; 128 KiB */
	uint16_t edns_udp_size;       /* advertised and maximum UDP payload; default 1232 */
	unsigned cache_memory_mb;     /* answer caches of all workers together, MiB; default 96 */
	bool syscall_filter;          /* seccomp deny list after start (core/sandbox.h); default on */
};

struct conf_resolver {
	enum conf_resolver_mode mode;
	char *root_hints;   /* path; default /usr/share/dns/root.hints */
	char *trust_anchor; /* path; NULL when "none" */
	struct conf_addr *forward; /* mode forward: upstreams, default port 53 */
	size_t forward_count;
	struct conf_stub *stub;
	size_t stub_count;
	unsigned timeout_ms; /* an unanswered query gets SERVFAIL after this; default 5000 */
	bool serve_stale;    /* RFC 8767; default false */
	char **transparent_zones; /* lift libunbound's built-in empty local zone (RFC 6761,
				     RFC 6303) for these names, e.g. "test."; stub zones are
				     lifted automatically */
	size_t transparent_zone_count;
	unsigned cache_mb;   /* libunbound message+rrset caches of all workers together; default 32 */
	unsigned ratelimit;  /* libunbound ratelimit: queries/s per zone toward its servers, per
				worker; 0 = off (default) */
	bool aggressive_nsec; /* RFC 8198, libunbound aggressive-nsec; default true */
	bool loopback_delegations; /* lab only: follow delegations to 127/8, ::1; default false */
};

/* What a zone under random-subdomain mitigation answers to uncached names. */
enum conf_ddos_action {
	CONF_DDOS_SERVFAIL = 0,
	CONF_DDOS_NXDOMAIN,
	CONF_DDOS_REFUSED,
	CONF_DDOS_DROP, /* UDP: no answer; TCP: SERVFAIL */
};

/* Random-subdomain ("water torture") detection and per-zone fetch limits (net/torture.h). */
struct conf_ddos {
	bool enabled;              /* default true */
	unsigned window_s;         /* counting window; default 3 */
	unsigned min_misses;       /* distinct missed names per window per zone; default 200 */
	double bad_ratio;          /* NXDOMAIN/SERVFAIL/timeout share of outcomes; default 0.8 */
	unsigned hold_s;           /* a mitigation lasts this long past the flood; default 5 */
	unsigned lift_after_s;     /* quiet seconds that end one early; 0 = off; default 1 */
	int action;                /* enum conf_ddos_action; default servfail */
	unsigned fetches_per_zone; /* per worker, adaptive; 0 = no cap; default 500 */
	/* per worker, all unresponsive zones together; 0 = no cap; default 256 */
	unsigned fetches_unresponsive;
	unsigned trickle; /* misses per second per mitigated zone still resolved; default 2 */
};

enum conf_over_limit {
	CONF_OVER_LIMIT_SERVFAIL = 0, /* SERVFAIL with EDE 0 and a text saying why */
	CONF_OVER_LIMIT_DROP,         /* no answer over UDP (TCP still gets the SERVFAIL) */
};

/* Work in flight per client and upstream (docs/abuse.md). Counts are per worker. */
struct conf_limits {
	unsigned client_prefix_v4;     /* a client is its /N; default 32 */
	unsigned client_prefix_v6;     /* default 56 */
	unsigned client_inflight_max;  /* queries waiting for upstream per client; default 100 */
	enum conf_over_limit over_limit;
	unsigned upstream_pending_max; /* upstream queries still pending after their client had
					  its answer (timeout); oldest cancelled past this;
					  default 1024 */
};

enum conf_zone_format {
	CONF_ZONE_RPZ = 0,
	CONF_ZONE_HOSTS,
	CONF_ZONE_DOMAINS,
};

/* What a transferred zone does once its SOA expire time passes without a refresh. */
enum conf_on_expire {
	CONF_ON_EXPIRE_DROP = 0, /* stop enforcing it (as BIND does) */
	CONF_ON_EXPIRE_KEEP,     /* keep enforcing the last good copy */
};

/* The per-zone override ("policy:" key), draft-vixie-dnsop-dns-rpz-00 plus log and sinkhole. */
enum conf_zone_policy {
	CONF_POLICY_GIVEN = 0,
	CONF_POLICY_NXDOMAIN,
	CONF_POLICY_NODATA,
	CONF_POLICY_PASSTHRU,
	CONF_POLICY_DROP,
	CONF_POLICY_TCP_ONLY,
	CONF_POLICY_CNAME,    /* cname_target holds the name */
	CONF_POLICY_LOG,      /* shadow mode: record hits, answer normally */
	CONF_POLICY_SINKHOLE, /* answer with sinkhole.ipv4 / sinkhole.ipv6 */
};

struct conf_policy_zone {
	char *name; /* policy zone origin, e.g. "c2.rpz.example." */
	char *file;
	enum conf_zone_format format;
	enum conf_zone_policy policy;
	char *cname_target; /* policy cname X */
	char *category;     /* c2, malware, phishing, ...; default "c2" */
	char *family;       /* default malware family for rules without one; may be NULL */
	char *feed;         /* feed name for hit records; default: the zone name */
	bool ede_filtered;  /* EDE 17 Filtered (subscriber's choice) instead of 15 Blocked */
	/* Zone transfer (docs/policy.md "Feeds"): with primaries, @file is where the last good
	 * copy is kept (default <policy.state-dir>/<name>zone). */
	struct conf_addr *primaries; /* tried in order; NULL = the zone is a plain file */
	size_t primary_count;
	char *tsig_key_file;     /* BIND key file; NULL = unsigned transfers */
	unsigned refresh_min_s;  /* clamps on the SOA refresh and retry timers */
	unsigned refresh_max_s;
	unsigned retry_min_s;
	unsigned retry_max_s;
	unsigned notify_interval_s; /* at most one NOTIFY-started refresh per interval */
	unsigned xfr_timeout_ms;    /* whole-transfer time cap */
	uint64_t xfr_max_bytes;     /* whole-transfer size cap */
	enum conf_on_expire on_expire;
	bool allow_include; /* $INCLUDE in the feed: confined to its directory; default false */
	/* HTTP(S) feed (docs/policy.md "HTTP(S) feeds"): with @url, @file is where the last good
	 * copy is kept (default <policy.state-dir>/<name>feed); xfr_timeout_ms, xfr_max_bytes,
	 * retry_min_s, retry_max_s and on_expire apply to the downloads too. */
	char *url;                /* http:// or https://; NULL = not an HTTP feed */
	char *ca_file;            /* PEM CA bundle for the server's certificate; NULL = system */
	unsigned refresh_s;       /* download every refresh_s (conditional GET) */
	unsigned expire_s;        /* no successful download for this long: expired */
	uint64_t low_speed_bytes; /* abort a download slower than this (bytes/s) ... */
	unsigned low_speed_s;     /* ... for this long; 0 = no low-speed cap */
	/* Serving the zone onward (docs/policy.md "c2wall as primary"). */
	struct conf_prefix *allow_transfer; /* who may AXFR/IXFR/SOA it; NULL = nobody */
	size_t allow_transfer_count;
	struct conf_addr *notify; /* secondaries told of every new version (RFC 1996) */
	size_t notify_count;
	char *transfer_key_file; /* BIND key file: requests must be signed with it; NULL = none */
};

struct conf_policy {
	struct conf_policy_zone *zones; /* first = highest precedence */
	size_t zone_count;
	char *never_block_file; /* names no feed may block; NULL = none */
	char **never_block;     /* inline list of names */
	size_t never_block_count;
	double max_change; /* refuse a reload that changes a zone's rule count by more than this
			      fraction; 0 = no limit */
	char *state_dir; /* last good copies of transferred zones; default /var/lib/c2wall/zones */
	unsigned min_ns_dots; /* NSDNAME/NSIP skip cuts with this many labels or fewer; 1 */
	unsigned journal_versions;  /* IXFR journal entries kept per served zone; default 20 */
	uint64_t journal_max_bytes; /* and their bytes; default 64 MiB */
	unsigned transfers_out_max; /* transfers served at once, all zones; default 16 */
	unsigned transfers_out_per_client; /* at once per client address; default 2 */
};

struct conf_events {
	char *jsonl;  /* JSON Lines hit log path; NULL = off */
	uint64_t jsonl_rotate_bytes; /* 0 = no size rotation */
	unsigned jsonl_rotate_s;     /* 0 = no time rotation */
	char *dnstap; /* "unix:/path" or "file:/path"; NULL = off */
	bool syslog;
	bool query_log; /* explicit opt-in to log every query; default false */
	unsigned ring_entries; /* per-worker hit ring; default 4096 */
};

struct conf_privacy {
	char *key_file;
	unsigned key_rotation_s; /* default 86400 */
	unsigned retention_days; /* default 30 */
	unsigned notify_window_days; /* default 14 */
	char *optout_file;
};

/* store.postgres is rejected ("not supported in this version") until a PostgreSQL store is
 * built; see unsupported_keys in config.c. */
struct conf_store {
	char *sqlite; /* path; default /var/lib/c2wall/incidents.db */
};

/* The control socket and the HTTP API, metrics (control/http.h; docs/operations.md). */
struct conf_control {
	char *socket; /* unix socket path; default /run/c2wall/control.sock */
	struct conf_addr *http; /* HTTP API listeners, port 9153 by default; none = off */
	size_t http_count;
	char *http_tokens;   /* bearer token file ("read|admin TOKEN" lines); needed with http */
	char *http_tls_cert; /* PEM certificate chain; with http_tls_key: HTTPS */
	char *http_tls_key;
	uint64_t http_body_max;        /* request body bytes; default 64 KiB */
	uint64_t http_headers_max;     /* request line + headers bytes; default 8 KiB */
	unsigned http_timeout_ms;      /* idle and whole-request time; default 10 s */
	unsigned http_connections_max; /* open connections, all listeners; default 64 */
};

struct conf_sinkhole {
	char *ipv4; /* textual address blocked names resolve to; NULL = none */
	char *ipv6;
	struct conf_addr *http;
	size_t http_count;
	struct conf_addr *tls;
	size_t tls_count;
	struct conf_addr *tcp;
	size_t tcp_count;
	char *templates; /* directory with page templates; NULL = built-in */
	unsigned clients_per_address; /* open connections per client prefix; default 16 */
	unsigned evidence_per_minute; /* evidence records per client prefix; 0 = no limit; 30 */
};

enum conf_query_action {
	CONF_QUERY_DROP = 0, /* over the query rate: no answer */
	CONF_QUERY_REFUSE,   /* REFUSED (small, and itself subject to RRL) */
};

/* Response rate limiting (BIND's semantics) and the per-client query rate limit. Rates are
 * for the whole server; each of W workers enforces ceil(rate / W) (docs/abuse.md). */
struct conf_rate_limit {
	unsigned responses_per_second; /* positive answers per (prefix, qname, qtype); 0 = off */
	unsigned nxdomains_per_second; /* per (prefix, zone); default responses_per_second */
	unsigned nodata_per_second;    /* per (prefix, zone); default responses_per_second */
	unsigned errors_per_second;    /* per prefix; default responses_per_second */
	unsigned window_s;             /* default 15 */
	unsigned slip;                 /* default 2; 0 = drop all */
	uint8_t ipv4_prefix_length;    /* default 24 */
	uint8_t ipv6_prefix_length;    /* default 56 */
	struct conf_prefix *exempt_clients;
	size_t exempt_client_count;
	bool log_only;                        /* count what would be limited, limit nothing */
	unsigned table_size;                  /* accounts per worker per table; default 65536 */
	unsigned queries_per_second;          /* per client prefix; 0 = off */
	unsigned query_burst;                 /* default queries_per_second */
	enum conf_query_action query_action;  /* default drop */
	uint8_t query_ipv4_prefix_length;     /* default 32 */
	uint8_t query_ipv6_prefix_length;     /* default 56 */
	bool query_cookie_exempt; /* a valid server cookie also exempts from the query rate */
};

#define CONF_COOKIE_SECRET_LEN 16

/* DNS Cookies (RFC 7873, server cookies per RFC 9018). */
struct conf_cookies {
	bool enable;        /* default true */
	char *secret_file;  /* NULL: a random secret made at start (kept across reloads) */
	unsigned secret_count; /* secrets read from the file (1 or 2); 0 = none yet */
	uint8_t secret[2][CONF_COOKIE_SECRET_LEN]; /* [0] makes cookies; both are accepted */
};

struct conf_log {
	int level; /* enum c2w_log_level; default info */
	bool syslog;
};

struct c2w_config {
	char *path; /* the file this was loaded from */
	struct conf_server server;
	struct conf_resolver resolver;
	struct conf_limits limits;
	struct conf_ddos ddos;
	struct conf_policy policy;
	struct conf_events events;
	struct conf_privacy privacy;
	struct conf_store store;
	struct conf_control control;
	struct conf_sinkhole sinkhole;
	struct conf_log log;
	struct conf_rate_limit rate_limit;
	struct conf_cookies cookies;
};

/**
 * Load and validate a configuration file.
 *
 * @param path    YAML file
 * @param out     out: the new config on success; free with conf_free()
 * @param err     out: "file:line: message" on failure
 * @param err_len size of @err
 * @return C2W_OK, C2W_ECONFIG (message in @err), C2W_ENOMEM, or a negative errno from open
 */
int conf_load(const char *path, struct c2w_config **out, char *err, size_t err_len);

/**
 * Load and validate a configuration from memory (conf_load() reads the file and calls this).
 *
 * @param data    YAML text, borrowed; need not be NUL-terminated
 * @param len     its length
 * @param path    file name used in messages; relative paths in the config are resolved
 *                against its directory (made absolute with the current directory)
 * @param out     out: the new config on success; free with conf_free()
 * @param err     out: "file:line: message" on failure
 * @param err_len size of @err
 * @return C2W_OK, C2W_ECONFIG (message in @err) or C2W_ENOMEM
 */
int conf_load_buffer(const char *data, size_t len, const char *path, struct c2w_config **out,
		     char *err, size_t err_len);

/**
 * Create the missing parent directories of @path (mode 0750), like "mkdir -p $(dirname)".
 * For the files the config names (hit log, store, keys), which may live in directories that
 * do not exist yet.
 *
 * @return C2W_OK or a negative errno from mkdir
 */
int conf_path_mkparents(const char *path);

/**
 * Which settings that only take effect at restart differ between two configs (worker count,
 * per-worker cache size, user, event sinks, privacy, store, control, sinkhole servers, log).
 * A reload applies the rest and logs these, so the operator knows a restart is still due.
 *
 * @param old_cfg  running config, borrowed
 * @param new_cfg  freshly loaded config, borrowed
 * @param out      out: comma-separated key paths ("server.listen, server.workers"), or ""
 * @param out_len  size of @out; a long list is truncated
 * @return number of differing restart-only keys (0: the reload applies completely)
 */
unsigned conf_diff_restart(const struct c2w_config *old_cfg, const struct c2w_config *new_cfg,
			   char *out, size_t out_len);

/**
 * Every key the loader accepts, by walking its own tables: "server.listen",
 * "policy.zones[].name", ... (sections themselves are not listed). For the test that keeps
 * docs/config.md and conf/c2wall.yaml in step with the parser.
 *
 * @param cb   called once per key, in table order; @path is valid for the call
 * @param ctx  passed to @cb
 */
void conf_keys_each(void (*cb)(void *ctx, const char *path), void *ctx);

/** Free a config from conf_load(); NULL does nothing. */
void conf_free(struct c2w_config *cfg);

/**
 * Parse "address@port" or "address" (then @default_port).
 *
 * @return C2W_OK or C2W_EINVAL
 */
int conf_addr_parse(const char *text, uint16_t default_port, struct conf_addr *out);

/**
 * Parse a prefix "a.b.c.d/n", "x::/n" or a bare address.
 *
 * @return C2W_OK or C2W_EINVAL
 */
int conf_prefix_parse(const char *text, struct conf_prefix *out);

/** True when @sa (AF_INET or AF_INET6; v4-mapped v6 counts as v4) lies inside @p. */
bool conf_prefix_contains(const struct conf_prefix *p, const struct sockaddr *sa);

#endif

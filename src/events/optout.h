/* SPDX-License-Identifier: MIT */
/*
 * The opt-out registry: IPv4 and IPv6 addresses and prefixes of subscribers who declined the
 * service. Their queries get the real answer and leave no record. Readers (worker threads,
 * the event thread) look up without locks in an immutable sorted table published through
 * liburcu (default flavour, <urcu.h>, i.e. urcu-memb); writers (control socket, CLI) build a
 * new table under a mutex, persist it atomically (temp file, fsync, rename, fsync dir), then
 * swap the pointer and free the old table after a grace period.
 *
 * File format: one address or prefix per line ("192.0.2.0/24", "2001:db8::/48",
 * "198.51.100.7"); '#' starts a comment; blank lines ignored.
 */
#ifndef C2W_EVENTS_OPTOUT_H
#define C2W_EVENTS_OPTOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/err.h"

/* An address prefix; v4 uses the first 4 bytes of @addr. Bits beyond @bits are zero. */
struct events_prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bits;
	uint8_t addr[16];
};

struct events_optout;

/**
 * Parse "a.b.c.d[/n]" or "x::y[/n]". Host bits beyond the prefix length are rejected
 * (C2W_EINVAL), so "192.0.2.1/24" is an error rather than a silent widening.
 */
C2W_NODISCARD int events_prefix_parse(const char *text, struct events_prefix *out);

/** Format as "192.0.2.0/24" (or the bare address at full length); returns @out. */
const char *events_prefix_format(const struct events_prefix *p, char *out, size_t cap);

/**
 * Open the registry backed by @path (may be NULL: memory only). A missing file is an empty
 * registry; a bad line fails the load with its line number in @err.
 *
 * @param path  file, copied
 * @param out   out: registry, free with events_optout_free()
 * @param err   out: "path:line: message" on C2W_EMALF
 * @return C2W_OK, C2W_EMALF, C2W_ENOMEM, or negative errno from reading
 */
C2W_NODISCARD int events_optout_open(const char *path, struct events_optout **out, char *err,
				     size_t err_len);

/** Free the registry; no reader may be inside events_optout_contains(). NULL does nothing. */
void events_optout_free(struct events_optout *reg);

/**
 * True when @sa (AF_INET, AF_INET6; v4-mapped v6 counts as v4) lies in an opted-out prefix.
 * Lock-free, allocation-free. The calling thread must be registered with liburcu
 * (rcu_register_thread() from <urcu.h>); it takes its own (nestable) read-side lock.
 */
bool events_optout_contains(const struct events_optout *reg, const struct sockaddr *sa);

/** Same as events_optout_contains() for raw bytes (@family AF_INET: 4 bytes used). */
bool events_optout_contains_raw(const struct events_optout *reg, int family,
				const uint8_t addr[16]);

/**
 * Add a prefix; persisted before it returns, visible to readers at once.
 *
 * @return C2W_OK, C2W_EEXIST (already present, nothing written), C2W_EINVAL (bad text),
 *         or a write error (the registry is unchanged)
 */
C2W_NODISCARD int events_optout_add(struct events_optout *reg, const char *text);

/** Remove an exact prefix. @return C2W_OK, C2W_ENOENT, C2W_EINVAL, or a write error. */
C2W_NODISCARD int events_optout_remove(struct events_optout *reg, const char *text);

/**
 * Copy the current entries (sorted).
 *
 * @param out    out: malloc'd array, caller frees (NULL when @count is 0)
 * @return C2W_OK or C2W_ENOMEM
 */
C2W_NODISCARD int events_optout_list(struct events_optout *reg, struct events_prefix **out,
				     size_t *count);

/** Re-read the file (SIGHUP). On error the current table stays. */
C2W_NODISCARD int events_optout_reload(struct events_optout *reg, char *err, size_t err_len);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Policy zones that follow their primaries or a URL (docs/policy.md "Feeds"): one thread
 * refreshes every transferred zone on its SOA timers (clamped by the config), at start and on
 * NOTIFY from a listed primary, fails over between primaries, and compiles each new copy with
 * the same guard rails as a reload, on this thread; the main thread only holds the running
 * policy for the build and swaps the result in (so control, metrics and the sinkhole keep
 * answering during a compile of millions of rules). Only then does the copy replace the last
 * good one on disk. Zones with a URL are downloaded by the same thread every `refresh`
 * (feed/http_fetch.c) and take the same path. The same thread also compiles the policy again
 * when "expires=" entries run out (the main thread's timer asks it). Workers only call
 * net_feeds_notify().
 *
 *   net_feeds_new(base, cfg, delta, srv, &f);   main thread, reads last good copies
 *   net_feeds_files(f, cfg, files);             feeds for net_policy_load_files()
 *   net_feeds_start(f);                         after the workers
 *   net_feeds_note_expiry(f, when);              after any policy swap ("expires=")
 *   net_feeds_reconfigure(f, cfg);              after a reload swapped @cfg in
 *   net_feeds_free(f);                          stops and joins the thread
 */
#ifndef C2W_NET_FEEDS_H
#define C2W_NET_FEEDS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/config.h"
#include "control/control.h"
#include "core/err.h"

struct net_feeds;
struct event_base;
struct policy_snap;
struct policy_soa_timers;


/** What the running policy needs after an increment (net_feeds_delta_io.merge). */
enum net_feeds_merge {
	NET_FEEDS_MERGE_NONE,   /* the layers stay as they are */
	NET_FEEDS_MERGE_REBASE, /* fold the layers into one: every owner they touched, again */
	NET_FEEDS_MERGE_FULL,   /* one full image again: folded from the images, or recompiled */
};

/** The two steps of a policy change around the build itself, which the transfer thread does
 *  (net_feeds_delta_io.step): an increment, a rebase or a flatten. */
enum net_feeds_step {
	NET_FEEDS_STEP_BEGIN = 1, /* hold the running policy (@from out), say what the build needs */
	NET_FEEDS_STEP_SWAP,      /* put @built in force if the running policy is still @from */
};

/** In and out of the delta callback. */
struct net_feeds_delta_io {
	enum net_feeds_step step;
	/* in: the records and owners are every owner touched since the full compile of
	 * generation @gen, to be applied over that compile alone (replacing its layers) */
	bool rebase;
	/* in: no records; fold the running policy's layers into one full image from the images
	 * (policy_snap_flatten()), the answers unchanged */
	bool flatten;
	/* in: no records; compile every zone from its copy (for @zone the candidate of the
	 * request, when it names one), as a reload does: a new full compile. BEGIN out: @cfg and
	 * @files (filled by the feeds before the call), @from and @gen; SWAP: in force unless a
	 * reload or an expiry rebuild made another policy meanwhile (C2W_ENOENT) */
	bool full;
	/* BEGIN out: a hold on the running policy (the transfer thread lets go of it); SWAP in:
	 * the same */
	struct policy_snap *from;
	/* SWAP in: the new policy, taken (NULL after the call) */
	struct policy_snap *built;
	/* BEGIN, an increment, a rebase or a full compile: out, the config and the files (room
	 * for POLICY_ZONES_MAX) the build uses; the config lives until the next
	 * net_feeds_settle() returns, which waits for the build */
	const struct c2w_config *cfg;
	const char **files;
	/* BEGIN, a flatten: out, the SOA timers per zone of @from (room for POLICY_ZONES_MAX) */
	struct policy_soa_timers *soa;
	/* in with @rebase; out: the generation of the full compile the running policy stands
	 * on (it changes with every full compile, never with an increment or a rebase) */
	uint64_t gen;
	enum net_feeds_merge merge; /* SWAP out */
};

/**
 * Main thread: a step of a policy change the transfer thread builds (net_feeds_step): an IXFR
 * of zone @zone (index in the running config) as an increment over the running policy; with
 * @io->rebase, the running policy's layers replaced with one made of every owner they
 * touched; with @io->flatten, the layers folded into one full image; with @io->full, a full
 * compile from the copies (a new copy of @zone, an expired zone dropped, a failed fold).
 *
 * @param rules  out: rules per zone of the running config (after the step)
 * @param io     see struct net_feeds_delta_io
 * @return C2W_OK; C2W_EINVAL: cannot be applied as an increment (take the full path);
 *         C2W_ENOENT: BEGIN, the running policy no longer stands on compile @io->gen
 *         (rebase) or has no layers (flatten); SWAP, the running policy is no longer @from
 *         (or, for a full compile, no longer of generation @gen: nothing done, build again,
 *         or not at all); anything else: refused, the old policy
 *         stays
 */
typedef int (*net_feeds_delta_cb)(void *ctx, size_t zone, uint64_t *rules,
				  struct net_feeds_delta_io *io);

/**
 * Set up the zones of @cfg (borrowed until net_feeds_reconfigure() or free) that name
 * primaries, reading each last good copy from disk; the thread is not started. Every policy
 * change the thread builds goes in through @delta, called on the main thread with @ctx.
 *
 * @return C2W_OK, C2W_ECONFIG (a TSIG key file does not load; logged), C2W_ENOMEM
 */
C2W_NODISCARD int net_feeds_new(struct event_base *base, const struct c2w_config *cfg,
				net_feeds_delta_cb delta, void *ctx, struct net_feeds **out);

/** Start the transfer thread (also without zones to follow: expiry rebuilds run there).
 *  @return C2W_OK or a negative errno */
C2W_NODISCARD int net_feeds_start(struct net_feeds *f);

/**
 * Which file each zone of @cfg is compiled from: its own file, a transferred zone's last good
 * copy, or NULL (no copy yet, or expired with on-expire: drop).
 *
 * @param files  out: @cfg->policy.zone_count entries, borrowed from @cfg
 */
void net_feeds_files(struct net_feeds *f, const struct c2w_config *cfg, const char **files);

/**
 * Main thread, before net_feeds_files() outside a feeds request (a reload, an expiry rebuild):
 * wait until every copy in force is also on disk. Between an IXFR or a new copy put in force
 * and its disk write (seconds at millions of rules) the file is older than the policy, and a
 * compile from it would silently drop the change. Gives up after a bound (logged). A fold of
 * the layers running on the transfer thread is stopped first (its memory is not held beside
 * the compile's; the compile replaces the layers anyway).
 */
void net_feeds_settle(struct net_feeds *f);

/**
 * Main thread: while @hold, the transfer thread's requests (a change's BEGIN or SWAP) wait
 * unanswered, as they would behind a main thread busy compiling: a reload compiling on its
 * own thread reads the files and the running policy, and nothing may go in force meanwhile.
 * Released, a request that came meanwhile is taken.
 */
void net_feeds_hold(struct net_feeds *f, bool hold);

/** Record the rules compiled per zone of @cfg (as from net_policy_load_files()). */
void net_feeds_note_rules(struct net_feeds *f, const struct c2w_config *cfg,
			  const uint64_t *rules);

/**
 * Switch to @cfg after a reload: stops the thread, keeps the state of zones still followed
 * (same name), reads the others, restarts. @return C2W_OK, C2W_ECONFIG (key file), ENOMEM
 */
C2W_NODISCARD int net_feeds_reconfigure(struct net_feeds *f, const struct c2w_config *cfg);

/**
 * A NOTIFY (RFC 1996) for @qname from @peer; any worker thread.
 *
 * @param qname  canonical wire name
 * @return true when @qname is a followed zone and @peer one of its primaries (a refresh is
 *         due, at most one per notify-interval); false = REFUSED
 */
bool net_feeds_notify(struct net_feeds *f, const uint8_t *qname, size_t qname_len,
		      const struct sockaddr *peer);

/**
 * Main thread, after a policy snapshot went in force (start, reload, a feed): its earliest
 * "expires=" still ahead (policy_snap_next_expiry()), 0 = none. At that second the policy is
 * rebuilt from the same files, without the expired entries.
 */
void net_feeds_note_expiry(struct net_feeds *f, int64_t next_expiry);

/** Register the "feeds" control command (each zone's transfer state as JSON). */
C2W_NODISCARD int net_feeds_control_register(struct net_feeds *f, struct control_server *ctl);

/* One followed zone's state, for the metrics page (net/metrics.c). */
struct net_feed_state {
	char name[1024]; /* presentation form, as the control socket shows it */
	bool has_copy, expired, error; /* error: the last attempt failed */
	uint32_t serial;
	int64_t last_success; /* unix s; 0 = never */
	uint64_t rules, transfers, failures;
};

/**
 * Copy the state of at most @cap followed zones into @out. Any thread (takes the feeds lock).
 * @return the number written
 */
size_t net_feeds_state(struct net_feeds *f, struct net_feed_state *out, size_t cap);

/**
 * The SOA timers (serial, refresh, retry, expire, minimum) of the copy in force of the zone
 * transferred as @name. @return false: not a transferred zone, or no copy yet
 */
bool net_feeds_zone_soa(struct net_feeds *f, const char *name, uint32_t timers[5]);

void net_feeds_free(struct net_feeds *f);

#endif

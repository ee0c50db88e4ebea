/* SPDX-License-Identifier: MIT */
/*
 * The policy side of an increment alone, at any zone size: map a compiled snapshot, apply k
 * changes as policy_snap_delta() (k/2 rules of the feed deleted, k/2 new names added), and
 * report the time per increment and the lookups still answering. No network, no daemon.
 * Then what c2wall as primary does with such an increment for a zone it serves onward: the
 * served version and its journal entry, from a full export of the zone diffed against the
 * version served (the only way before increments kept served zones incremental) and from the
 * increment alone (policy_export_delta() + feed_out_ver_apply()).
 *
 *   bench/delta_bench.sh FEED.rpz ZONE K...     (builds this file against build-test)
 *
 * Prints one line per K: "k=K delta_ms=T ret=OK rules=R check=ok full_export_ms=F
 * inc_export_ms=I served=same".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/name.h"
#include "feed/xfr_out.h"
#include "policy/export.h"
#include "policy/policy.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int add_rr(void *ctx, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
		  const uint8_t *rdata, uint16_t rdlen)
{
	return feed_rrs_add(ctx, owner, owner_len, type, ttl, rdata, rdlen);
}

struct delta_out {
	struct feed_rrs owners, add;
};

static int d_owner(void *ctx, const uint8_t *owner, size_t owner_len)
{
	static const uint8_t none[1];
	return feed_rrs_add(&((struct delta_out *)ctx)->owners, owner, owner_len, 0, 0, none, 0);
}

static int d_rr(void *ctx, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
		const uint8_t *rdata, uint16_t rdlen)
{
	return feed_rrs_add(&((struct delta_out *)ctx)->add, owner, owner_len, type, ttl, rdata,
			    rdlen);
}

static struct feed_out_soa soa_of(const char *zone)
{
	struct feed_out_soa t = {
	    .ttl = 60, .refresh = 3600, .retry = 600, .expire = 86400, .minimum = 60};
	size_t l;
	if (dns_name_from_text(zone, NULL, t.origin, &l) == C2W_OK)
		t.origin_len = l;
	memcpy(t.mname, "\011localhost", 11);
	t.mname_len = 11;
	memcpy(t.rname, "\004root\011localhost", 16);
	t.rname_len = 16;
	return t;
}

static const struct feed_out_limits jlim = {.versions = 20, .bytes = 64u << 20};

/* The version served from @s in full (what xfr_serve makes after a full compile). */
static struct feed_out_ver *served_full(const struct policy_snap *s, struct feed_out_ver *prev,
					const struct feed_out_soa *t)
{
	struct feed_rrs rrs = {0};
	struct feed_out_ver *v = NULL;
	bool changed;
	if (policy_export_zone(s, 0, add_rr, &rrs) != C2W_OK ||
	    feed_out_ver_next(prev, 0, &rrs, t, &jlim, &v, &changed) != C2W_OK)
		v = NULL;
	feed_rrs_free(&rrs);
	return v;
}

/* The first @n rule owners of the feed (relative names, "name CNAME ." lines only). */
static size_t owners_of(const char *feed, const char *zone, char **out, size_t n)
{
	FILE *f = fopen(feed, "r");
	char line[512];
	size_t k = 0;
	if (f == NULL)
		return 0;
	while (k < n && fgets(line, sizeof(line), f) != NULL) {
		char owner[300], type[16], data[300];
		if (line[0] == '$' || line[0] == '@' || line[0] == ';' ||
		    sscanf(line, "%299s %15s %299s", owner, type, data) != 3 ||
		    strcmp(type, "CNAME") != 0 || strcmp(data, ".") != 0 || owner[0] == '*' ||
		    strstr(owner, "rpz-") != NULL)
			continue;
		size_t len = strlen(owner) + strlen(zone) + 2;
		out[k] = malloc(len);
		snprintf(out[k], len, "%s.%s", owner, zone);
		k++;
	}
	fclose(f);
	return k;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s SNAPSHOT FEED ZONE K...\n", argv[0]);
		return 2;
	}
	struct policy_snap *s = NULL;
	char err[256];
	if (policy_snap_open(argv[1], &s, err, sizeof(err)) != C2W_OK) {
		fprintf(stderr, "%s: %s\n", argv[1], err);
		return 1;
	}
	struct policy_zone_spec spec = {.name = argv[3], .file = argv[2]};
	struct feed_out_soa soa = soa_of(argv[3]);
	double e0 = now_ms();
	struct feed_out_ver *v0 = served_full(s, NULL, &soa);
	if (v0 == NULL) {
		fprintf(stderr, "export failed\n");
		return 1;
	}
	printf("first served version: %zu records, %.0f ms\n", feed_out_ver_count(v0),
	       now_ms() - e0);
	for (int a = 4; a < argc; a++) {
		size_t k = (size_t)strtoul(argv[a], NULL, 10), dels = k / 2, adds = k - dels;
		char **owners = calloc(k + 1, sizeof(*owners));
		size_t got = owners_of(argv[2], argv[3], owners, dels);
		size_t cap = adds * 80 + 64, len = 0;
		char *rec = malloc(cap);
		for (size_t i = 0; i < adds; i++) {
			char name[128];
			snprintf(name, sizeof(name), "add%zu.bench-add.example.%s", i, argv[3]);
			owners[got + i] = strdup(name);
			len += (size_t)snprintf(rec + len, cap - len, "%s 300 IN CNAME .\n", name);
		}
		struct policy_snap *n = NULL;
		double t0 = now_ms();
		int ret = policy_snap_delta(s, &spec, 1, 0, rec, len, (const char *const *)owners,
					    got + adds, NULL, NULL, &n);
		double t1 = now_ms();
		const char *check = "fail";
		if (ret == C2W_OK && adds > 0) {
			/* the first added name blocks, the first deleted one no longer does */
			struct dns_query q;
			struct policy_hit h;
			size_t wl;
			memset(&q, 0, sizeof(q));
			q.has_question = true;
			q.qtype = 1;
			q.qclass = 1;
			char text[300];
			snprintf(text, sizeof(text), "add0.bench-add.example.");
			if (dns_name_from_text(text, NULL, q.qname, &wl) != C2W_OK)
				return 1;
			q.qname_len = (uint8_t)wl;
			bool added = policy_match_query(n, &q, NULL, &h, NULL) != POLICY_VERDICT_NONE;
			bool deleted = true;
			if (got > 0) {
				snprintf(text, sizeof(text), "%.*s", (int)(strlen(owners[0]) -
									 strlen(argv[3]) - 1),
					 owners[0]);
				if (dns_name_from_text(text, NULL, q.qname, &wl) != C2W_OK)
				return 1;
				dns_name_lower(q.qname);
				q.qname_len = (uint8_t)wl;
				deleted = policy_match_query(n, &q, NULL, &h, NULL) == POLICY_VERDICT_NONE;
			}
			check = added && deleted ? "ok" : "fail";
		}
		double full_ms = 0, inc_ms = 0;
		const char *same = "n/a";
		if (ret == C2W_OK) {
			/* each K from a freshly exported version, as after a full compile (the
			 * increment before appended to the last one's record store) */
			feed_out_ver_unref(v0);
			v0 = served_full(s, NULL, &soa);
			if (v0 == NULL)
				return 1;
			double f0 = now_ms();
			struct feed_out_ver *vf = served_full(n, v0, &soa);
			double f1 = now_ms();
			struct delta_out d = {0};
			struct feed_out_ver *vi = NULL;
			bool changed = false;
			int r2 = policy_export_delta(n, s, 0, d_owner, d_rr, &d);
			if (r2 == C2W_OK)
				r2 = feed_out_ver_apply(v0, &d.owners, &d.add, &soa, &jlim, &vi,
							&changed);
			double f2 = now_ms();
			uint64_t bf = 0, bi = 0;
			if (vf != NULL && vi != NULL) {
				(void)feed_out_ver_journal(vf, &bf);
				(void)feed_out_ver_journal(vi, &bi);
			}
			same = vf != NULL && vi != NULL &&
				       feed_out_ver_count(vf) == feed_out_ver_count(vi) &&
				       feed_out_ver_serial(vf) == feed_out_ver_serial(vi) &&
				       bf == bi
				   ? "same"
				   : "DIFFERENT";
			full_ms = f1 - f0;
			inc_ms = f2 - f1;
			feed_out_ver_unref(vf);
			feed_out_ver_unref(vi);
			feed_rrs_free(&d.owners);
			feed_rrs_free(&d.add);
		}
		printf("k=%zu delta_ms=%.2f ret=%s rules=%llu check=%s full_export_ms=%.1f "
		       "inc_export_ms=%.2f served=%s\n",
		       k, t1 - t0, c2w_strerror(ret),
		       n ? (unsigned long long)policy_snap_rule_count(n) : 0ull, check, full_ms,
		       inc_ms, same);
		policy_snap_free(n);
		for (size_t i = 0; i < got + adds; i++)
			free(owners[i]);
		free(owners);
		free(rec);
	}
	feed_out_ver_unref(v0);
	policy_snap_free(s);
	return 0;
}

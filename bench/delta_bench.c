/* SPDX-License-Identifier: MIT */
/*
 * The policy side of an increment alone, at any zone size: map a compiled snapshot, apply k
 * changes as policy_snap_delta() (k/2 rules of the feed deleted, k/2 new names added), and
 * report the time per increment and the lookups still answering. No network, no daemon.
 *
 *   bench/delta_bench.sh FEED.rpz ZONE K...     (builds this file against build-test)
 *
 * Prints one line per K: "k=K delta_ms=T layers=1 rules=R check=ok".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/name.h"
#include "policy/policy.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
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
		printf("k=%zu delta_ms=%.2f ret=%s rules=%llu check=%s\n", k, t1 - t0,
		       c2w_strerror(ret), n ? (unsigned long long)policy_snap_rule_count(n) : 0ull,
		       check);
		policy_snap_free(n);
		for (size_t i = 0; i < got + adds; i++)
			free(owners[i]);
		free(owners);
		free(rec);
	}
	policy_snap_free(s);
	return 0;
}

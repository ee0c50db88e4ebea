/* SPDX-License-Identifier: MIT */
/*
 * c2wall explain NAME: which rule would act on a query, from which zone and feed, and why that
 * one wins, against a compiled snapshot, the zones of a config file, or feeds given directly.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "dns/name.h"
#include "net/policy_conf.h"
#include "policy/policy.h"
#include "policy/zonefile.h"

int cli_policy_specs(int argc, char **argv, int first, struct policy_zone_spec *specs,
		     char names[][256], size_t *count, const char **never_block, const char **out);

static void help(FILE *out)
{
	fprintf(
	    out,
	    "NAME\n    c2wall explain - show which policy rule acts on a query and why\n\n"
	    "SYNOPSIS\n    c2wall explain NAME [--type T] [--client IP] "
	    "(--snapshot FILE | -c, --config FILE | FEED...)\n\n"
	    "DESCRIPTION\n"
	    "    Looks NAME up as a query of type T (default A) from client IP against a\n"
	    "    compiled snapshot, the policy zones of a c2wall config file, or FEEDs given\n"
	    "    directly (as for 'c2wall check'). Lists every CLIENT-IP and QNAME rule that\n"
	    "    matches, in RPZ precedence order (zone order; CLIENT-IP before QNAME; exact\n"
	    "    before wildcard; longer wildcard or prefix first), marks the one that acts,\n"
	    "    says why each other one loses, and whether the daemon answers at once or must\n"
	    "    resolve first because an earlier zone has RESPONSE-IP/NSDNAME/NSIP rules.\n\n"
	    "OPTIONS\n"
	    "    --type T         query type (A, AAAA, TXT, TYPE65, ...)\n"
	    "    --client IP      client address for CLIENT-IP triggers\n"
	    "    --snapshot FILE  a file from 'c2wall compile'\n"
	    "    -c, --config FILE  a c2wall YAML config: its policy.zones and never-block list\n"
	    "    -h, --help       this manual\n\n"
	    "EXIT STATUS\n    0 a rule acts; 3 no rule acts; 1 error; 2 usage.\n");
}

static void show(void *ctx, const struct policy_hit *h, bool wins, const char *why)
{
	(void)ctx;
	if (h->zone_name[0] == 0) {
		printf("  %s: %s\n", h->matched, why);
		return;
	}
	printf("  %s zone %s (#%u) %s %s%s -> %s", wins ? "ACTS " : "loses", h->zone_name,
	       h->zone + 1, policy_trigger_name((enum policy_trigger)h->trigger), h->match,
	       h->shadow ? " [log only]" : "", policy_action_name((enum policy_action)h->action));
	if (h->given != h->action)
		printf(" (feed says %s)", policy_action_name((enum policy_action)h->given));
	printf("\n        category=%s family=%s feed=%s", h->category,
	       h->family[0] ? h->family : "-", h->feed);
	if (h->first_seen) {
		char d[32];
		time_t t = (time_t)h->first_seen;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(d, sizeof(d), "%Y-%m-%d", &tm);
		printf(" first-seen=%s", d);
	}
	printf(" ttl=%u ede=%d\n        why: %s\n", h->ttl, h->ede_code, why);
}

static int from_config(const char *path, struct policy_snap **snap)
{
	struct c2w_config *cfg;
	char err[512];
	int ret = conf_load(path, &cfg, err, sizeof(err));

	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall explain: %s\n", err);
		return 1;
	}
	if (cfg->policy.zone_count == 0) {
		fprintf(stderr, "c2wall explain: %s: no policy.zones\n", path);
		conf_free(cfg);
		return 1;
	}
	ret = net_policy_load(cfg, NULL, false, snap);
	conf_free(cfg);
	return ret == C2W_OK ? 0 : 1;
}

static int from_feeds(int argc, char **argv, struct policy_snap **snap)
{
	static struct policy_zone_spec specs[POLICY_ZONES_MAX];
	static char names[POLICY_ZONES_MAX][256];
	static struct policy_report rep;
	const char *nb = NULL;
	size_t count;
	int ret = cli_policy_specs(argc, argv, 0, specs, names, &count, &nb, NULL);

	if (ret != 0)
		return ret;
	struct policy_build_opts opts = {.never_block_file = nb};
	ret = policy_snap_build(specs, count, &opts, &rep, snap);
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall explain: %s\n",
			rep.error[0] ? rep.error : c2w_strerror(ret));
		return 1;
	}
	return 0;
}

int cli_explain_main(int argc, char **argv)
{
	const char *name = NULL, *type = "A", *client = NULL, *snapshot = NULL, *config = NULL;
	char *rest[256];
	int rest_n = 0;
	struct sockaddr_storage ss;
	struct dns_query q;
	struct policy_snap *snap = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help(stdout);
			return 0;
		}
		bool valued = strcmp(a, "--type") == 0 || strcmp(a, "--client") == 0 ||
			      strcmp(a, "--snapshot") == 0 || strcmp(a, "--config") == 0 ||
			      strcmp(a, "-c") == 0;
		if (valued && i + 1 >= argc) {
			fprintf(stderr, "c2wall explain: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--type") == 0)
			type = argv[++i];
		else if (strcmp(a, "--client") == 0)
			client = argv[++i];
		else if (strcmp(a, "--snapshot") == 0)
			snapshot = argv[++i];
		else if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0)
			config = argv[++i];
		else if (name == NULL && a[0] != '-')
			name = a;
		else if (rest_n < 255)
			rest[rest_n++] = argv[i];
	}
	rest[rest_n] = NULL;
	if (name == NULL || (snapshot == NULL && config == NULL && rest_n == 0)) {
		help(stderr);
		return 2;
	}
	memset(&q, 0, sizeof(q));
	size_t ql;
	char fq[DNS_NAME_TEXT_MAX + 2];
	snprintf(fq, sizeof(fq), "%s%s", name, name[strlen(name) - 1] == '.' ? "" : ".");
	if (dns_name_from_text(fq, NULL, q.qname, &ql) != C2W_OK) {
		fprintf(stderr, "c2wall explain: bad name '%s'\n", name);
		return 2;
	}
	dns_name_lower(q.qname);
	q.qname_len = (uint8_t)ql;
	q.qtype = policy_zonefile_type(type, strlen(type));
	q.qclass = DNS_CLASS_IN;
	q.has_question = true;
	if (q.qtype == 0) {
		fprintf(stderr, "c2wall explain: unknown type '%s'\n", type);
		return 2;
	}
	memset(&ss, 0, sizeof(ss));
	if (client != NULL) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET, client, &in->sin_addr) == 1) {
			in->sin_family = AF_INET;
		} else if (inet_pton(AF_INET6, client, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
		} else {
			fprintf(stderr, "c2wall explain: bad client address '%s'\n", client);
			return 2;
		}
	}
	int ret;
	char err[256];
	if (snapshot != NULL) {
		ret = policy_snap_open(snapshot, &snap, err, sizeof(err));
		if (ret != C2W_OK) {
			fprintf(stderr, "c2wall explain: %s: %s (%s)\n", snapshot, err,
				c2w_strerror(ret));
			return 1;
		}
	} else if (config != NULL) {
		if ((ret = from_config(config, &snap)) != 0)
			return ret;
	} else if ((ret = from_feeds(rest_n, rest, &snap)) != 0) {
		return ret;
	}
	printf("query %s %s%s%s\n", fq, type, client ? " from " : "", client ? client : "");
	enum policy_verdict v =
	    policy_explain(snap, &q, client ? (struct sockaddr *)&ss : NULL, show, NULL);
	printf("verdict: %s\n", v == POLICY_VERDICT_ACT ? "a rule acts now, without recursion"
				: v == POLICY_VERDICT_RECURSE
				    ? "a rule acts after recursion unless an earlier "
				      "zone's response rule overrides it"
				    : "no rule acts at query time (answers are still "
				      "checked for RESPONSE-IP/NSDNAME/NSIP and CNAME "
				      "chains)");
	policy_snap_free(snap);
	return v == POLICY_VERDICT_NONE ? 3 : 0;
}

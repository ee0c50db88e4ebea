/* SPDX-License-Identifier: MIT */
/*
 * c2wall check FEED...: parse feeds as the daemon would, print every rejected line as
 * file:line: reason, then counts per zone, trigger and action. Exit 1 when a feed cannot be
 * read or any line was rejected, so a cron job or CI notices a degraded feed.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "net/policy_conf.h"
#include "policy/feed.h"
#include "policy/policy.h"

static void help(FILE *out)
{
	fprintf(out,
		"NAME\n    c2wall check - validate policy feeds\n\n"
		"SYNOPSIS\n    c2wall check [--format rpz|hosts|domains] [--zone NAME] "
		"[--never-block FILE] FEED...\n"
		"    c2wall check --config FILE\n\n"
		"DESCRIPTION\n"
		"    Parses each FEED (an RPZ master file, a hosts file or a domain list) into one\n"
		"    policy zone, in the order given (first = highest precedence), exactly as the\n"
		"    daemon would. Every rejected line is printed as FILE:LINE: REASON; duplicate and\n"
		"    conflicting rules are resolved (first one kept) and reported. Then prints the\n"
		"    rule counts per zone, trigger and action.\n\n"
		"    The format is guessed (SOA or $ORIGIN: rpz; a leading address: hosts; else\n"
		"    domains) unless --format is given; the zone name comes from $ORIGIN / the SOA\n"
		"    owner or the file name unless --zone is given. --format and --zone apply to the\n"
		"    FEEDs that follow them.\n\n"
		"OPTIONS\n"
		"    --format F       feed format for the following feeds\n"
		"    --zone NAME      policy zone name for the next feed\n"
		"    --never-block F  never-block list: report rules that would block its names\n"
		"    -c, --config FILE  check the policy.zones of this c2wall config (names,\n"
		"                     formats, overrides, never-block lists) instead of FEEDs\n"
		"    -h, --help       this manual\n\n"
		"EXIT STATUS\n    0 all lines accepted; 1 a feed could not be read or a line was "
		"rejected;\n    2 usage error.\n");
}

static void diag(void *ctx, const char *file, unsigned line, const char *reason)
{
	unsigned *n = ctx;
	(*n)++;
	printf("%s:%u: %s\n", file, line, reason);
}

int cli_policy_specs(int argc, char **argv, int first, struct policy_zone_spec *specs,
		     char names[][256], size_t *count, const char **never_block, const char **out);

const char *cli_config_arg(int argc, char **argv);

const char *cli_config_arg(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
			return argv[i + 1];
	return NULL;
}

int cli_config_specs(const char *path, struct c2w_config **cfg, struct policy_zone_spec *specs,
		     size_t *count, struct policy_build_opts *opts);

/* The policy zones of a config, as the daemon builds them; @cfg must outlive the build. */
int cli_config_specs(const char *path, struct c2w_config **cfg, struct policy_zone_spec *specs,
		     size_t *count, struct policy_build_opts *opts)
{
	char err[1024] = "";
	int ret = conf_load(path, cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall: %s\n", err[0] ? err : c2w_strerror(ret));
		return 1;
	}
	const struct conf_policy *pol = &(*cfg)->policy;
	if (pol->zone_count == 0 || pol->zone_count > POLICY_ZONES_MAX) {
		fprintf(stderr, "c2wall: %s: %s\n", path,
			pol->zone_count ? "too many policy.zones" : "no policy.zones");
		return 1;
	}
	for (size_t i = 0; i < pol->zone_count; i++)
		net_policy_spec_from_conf(*cfg, &pol->zones[i], &specs[i]);
	*count = pol->zone_count;
	opts->never_block = (const char *const *)pol->never_block;
	opts->never_block_count = pol->never_block_count;
	opts->never_block_file = pol->never_block_file;
	return 0;
}

int cli_policy_specs(int argc, char **argv, int first, struct policy_zone_spec *specs,
		     char names[][256], size_t *count, const char **never_block, const char **out)
{
	int fmt = -1;
	const char *zone = NULL;

	*count = 0;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		if ((strcmp(a, "--format") == 0 || strcmp(a, "--zone") == 0 ||
		     strcmp(a, "--never-block") == 0 || strcmp(a, "-o") == 0) && i + 1 >= argc) {
			fprintf(stderr, "c2wall: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--format") == 0) {
			const char *v = argv[++i];
			fmt = strcmp(v, "rpz") == 0 ? POLICY_FORMAT_RPZ
			      : strcmp(v, "hosts") == 0 ? POLICY_FORMAT_HOSTS
			      : strcmp(v, "domains") == 0 ? POLICY_FORMAT_DOMAINS : -2;
			if (fmt == -2) {
				fprintf(stderr, "c2wall: unknown format '%s'\n", v);
				return 2;
			}
		} else if (strcmp(a, "--zone") == 0) {
			zone = argv[++i];
		} else if (strcmp(a, "--never-block") == 0) {
			*never_block = argv[++i];
		} else if (strcmp(a, "-o") == 0 && out != NULL) {
			*out = argv[++i];
		} else if (a[0] == '-' && a[1] != 0) {
			fprintf(stderr, "c2wall: unknown option '%s'\n", a);
			return 2;
		} else {
			if (*count >= POLICY_ZONES_MAX) {
				fprintf(stderr, "c2wall: too many feeds\n");
				return 2;
			}
			struct policy_zone_spec *s = &specs[*count];
			enum policy_format gf;
			memset(s, 0, sizeof(*s));
			int ret = policy_feed_guess(a, &gf, names[*count], 256);
			if (ret != C2W_OK) {
				fprintf(stderr, "c2wall: %s: %s\n", a, c2w_strerror(ret));
				return 1;
			}
			if (zone != NULL) {
				snprintf(names[*count], 256, "%s", zone);
				zone = NULL;
			}
			s->name = names[*count];
			s->file = a;
			s->format = fmt >= 0 ? (enum policy_format)fmt : gf;
			(*count)++;
		}
	}
	if (*count == 0) {
		fprintf(stderr, "c2wall: no feed given (see --help)\n");
		return 2;
	}
	return 0;
}

static void print_report(const struct policy_report *rep)
{
	for (size_t z = 0; z < rep->zone_count; z++) {
		const struct policy_zone_report *zr = &rep->zones[z];
		printf("zone %s: %llu rules (%llu wildcards), %llu rejected lines, %llu duplicates, "
		       "%llu conflicts, %llu dropped by never-block\n",
		       zr->name, (unsigned long long)zr->rules, (unsigned long long)zr->wildcards,
		       (unsigned long long)zr->rejected, (unsigned long long)zr->duplicates,
		       (unsigned long long)zr->conflicts,
		       (unsigned long long)zr->protected_dropped);
		printf("  triggers:");
		for (int t = 0; t < POLICY_TRIGGER_COUNT; t++)
			printf(" %s=%llu", policy_trigger_name((enum policy_trigger)t),
			       (unsigned long long)zr->by_trigger[t]);
		printf("\n  actions: ");
		for (int a = 1; a < POLICY_ACTION_COUNT; a++)
			printf(" %s=%llu", policy_action_name((enum policy_action)a),
			       (unsigned long long)zr->by_action[a]);
		printf("\n");
	}
}

int cli_check_main(int argc, char **argv)
{
	struct policy_zone_spec specs[POLICY_ZONES_MAX];
	static char names[POLICY_ZONES_MAX][256];
	static struct policy_report rep;
	const char *never_block = NULL;
	struct c2w_config *cfg = NULL;
	struct policy_build_opts opts = {0};
	size_t count;
	unsigned rejected = 0;
	int ret;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			help(stdout);
			return 0;
		}
	const char *config = cli_config_arg(argc, argv);
	if (config != NULL) {
		if (argc != 3) {
			fprintf(stderr, "c2wall check: --config FILE takes no FEED or option\n");
			return 2;
		}
		if ((ret = cli_config_specs(config, &cfg, specs, &count, &opts)) != 0)
			goto out;
	} else {
		ret = cli_policy_specs(argc, argv, 1, specs, names, &count, &never_block, NULL);
		if (ret != 0)
			return ret;
		opts.never_block_file = never_block;
	}
	struct policy_snap *snap = NULL;
	rep.diag = diag;
	rep.diag_ctx = &rejected;
	ret = policy_snap_build(specs, count, &opts, &rep, &snap);
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall check: %s\n", rep.error[0] ? rep.error : c2w_strerror(ret));
		ret = 1;
		goto out;
	}
	print_report(&rep);
	printf("total: %llu rules, %u lines reported\n", (unsigned long long)rep.rules, rejected);
	policy_snap_free(snap);
	uint64_t bad = 0;
	for (size_t z = 0; z < rep.zone_count; z++)
		bad += rep.zones[z].rejected;
	ret = bad ? 1 : 0;
out:
	conf_free(cfg);
	return ret;
}

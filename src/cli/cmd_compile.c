/* SPDX-License-Identifier: MIT */
/* c2wall compile -o FILE FEED...: build the snapshot the daemon maps, write it atomically. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "policy/policy.h"

int cli_policy_specs(int argc, char **argv, int first, struct policy_zone_spec *specs,
		     char names[][256], size_t *count, const char **never_block, const char **out);
const char *cli_config_arg(int argc, char **argv);
int cli_config_specs(const char *path, struct c2w_config **cfg, struct policy_zone_spec *specs,
		     size_t *count, struct policy_build_opts *opts);

static void help(FILE *out)
{
	fprintf(out,
		"NAME\n    c2wall compile - compile policy feeds into a snapshot file\n\n"
		"SYNOPSIS\n    c2wall compile -o FILE [--format rpz|hosts|domains] [--zone NAME] "
		"[--never-block FILE] FEED...\n"
		"    c2wall compile -o FILE --config FILE\n\n"
		"DESCRIPTION\n"
		"    Parses the FEEDs (one policy zone each, first = highest precedence; see\n"
		"    'c2wall check --help' for format and zone-name guessing), compiles them into\n"
		"    one immutable, position-independent snapshot (versioned header, xxHash3\n"
		"    checksum) and writes it to FILE atomically (temporary file + rename). Rejected\n"
		"    lines are printed as FILE:LINE: REASON but do not stop the build. Rules that\n"
		"    would block a name on the never-block list are dropped and reported.\n\n"
		"    'c2wall explain --snapshot FILE' and the daemon map the result read-only.\n\n"
		"OPTIONS\n"
		"    -o FILE          output snapshot (required)\n"
		"    --format F, --zone NAME, --never-block F   as for 'c2wall check'\n"
		"    -c, --config FILE  compile the policy.zones of this c2wall config instead\n"
		"    -h, --help       this manual\n\n"
		"EXIT STATUS\n    0 written; 1 a feed could not be read or the file not written; 2 "
		"usage.\n");
}

static void diag(void *ctx, const char *file, unsigned line, const char *reason)
{
	(void)ctx;
	printf("%s:%u: %s\n", file, line, reason);
}

/* -o FILE --config FILE, in either order, and nothing else. */
static int config_args(int argc, char **argv, const char **out)
{
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			return 2;
		if (strcmp(argv[i], "-o") == 0)
			*out = argv[i + 1];
		else if (strcmp(argv[i], "-c") != 0 && strcmp(argv[i], "--config") != 0)
			return 2;
	}
	return 0;
}

int cli_compile_main(int argc, char **argv)
{
	struct policy_zone_spec specs[POLICY_ZONES_MAX];
	static char names[POLICY_ZONES_MAX][256];
	static struct policy_report rep;
	const char *never_block = NULL, *out = NULL;
	struct c2w_config *cfg = NULL;
	struct policy_build_opts opts = {0};
	size_t count;
	int ret;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			help(stdout);
			return 0;
		}
	const char *config = cli_config_arg(argc, argv);
	if (config != NULL) {
		if (config_args(argc, argv, &out) != 0) {
			fprintf(stderr, "c2wall compile: --config FILE takes only -o FILE\n");
			return 2;
		}
	} else {
		ret = cli_policy_specs(argc, argv, 1, specs, names, &count, &never_block, &out);
		if (ret != 0)
			return ret;
	}
	if (out == NULL) {
		fprintf(stderr, "c2wall compile: -o FILE is required\n");
		return 2;
	}
	if (config != NULL && (ret = cli_config_specs(config, &cfg, specs, &count, &opts)) != 0)
		goto out;
	if (config == NULL)
		opts.never_block_file = never_block;
	opts.out_path = out;
	struct policy_snap *snap = NULL;
	rep.diag = diag;
	ret = policy_snap_build(specs, count, &opts, &rep, &snap);
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall compile: %s\n", rep.error[0] ? rep.error : c2w_strerror(ret));
		ret = 1;
		goto out;
	}
	printf("%s: %llu rules in %zu zones, %llu bytes (%.1f bytes/rule)\n", out,
	       (unsigned long long)rep.rules, rep.zone_count,
	       (unsigned long long)rep.snapshot_bytes,
	       rep.rules ? (double)rep.snapshot_bytes / (double)rep.rules : 0.0);
	policy_snap_free(snap);
	ret = 0;
out:
	conf_free(cfg);
	return ret;
}

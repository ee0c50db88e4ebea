/* SPDX-License-Identifier: MIT */
/*
 * The configured policy zones as the policy engine wants them: translation of the config's
 * zones into policy_zone_spec and the snapshot build with its reports in the log. Shared by
 * the daemon (start and reload) and the commands that read a config (explain, sinkhole).
 */
#include "net/policy_conf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"

static enum policy_override override_of(enum conf_zone_policy p)
{
	switch (p) {
	case CONF_POLICY_NXDOMAIN:
		return POLICY_OVERRIDE_NXDOMAIN;
	case CONF_POLICY_NODATA:
		return POLICY_OVERRIDE_NODATA;
	case CONF_POLICY_PASSTHRU:
		return POLICY_OVERRIDE_PASSTHRU;
	case CONF_POLICY_DROP:
		return POLICY_OVERRIDE_DROP;
	case CONF_POLICY_TCP_ONLY:
		return POLICY_OVERRIDE_TCP_ONLY;
	case CONF_POLICY_CNAME:
		return POLICY_OVERRIDE_CNAME;
	case CONF_POLICY_LOG:
		return POLICY_OVERRIDE_LOG;
	case CONF_POLICY_SINKHOLE:
		return POLICY_OVERRIDE_SINKHOLE;
	default:
		return POLICY_OVERRIDE_GIVEN;
	}
}

void net_policy_spec_from_conf(const struct c2w_config *cfg, const struct conf_policy_zone *z,
			       struct policy_zone_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->name = z->name;
	spec->file = z->file;
	spec->format = z->format == CONF_ZONE_HOSTS     ? POLICY_FORMAT_HOSTS
		       : z->format == CONF_ZONE_DOMAINS ? POLICY_FORMAT_DOMAINS
							: POLICY_FORMAT_RPZ;
	spec->override = override_of(z->policy);
	spec->cname_target = z->cname_target;
	spec->category = z->category;
	spec->family = z->family;
	spec->feed = z->feed;
	spec->ede_filtered = z->ede_filtered;
	spec->allow_include = z->allow_include;
	if (cfg->sinkhole.ipv4 != NULL)
		spec->has_sinkhole4 = inet_pton(AF_INET, cfg->sinkhole.ipv4, spec->sinkhole4) == 1;
	if (cfg->sinkhole.ipv6 != NULL)
		spec->has_sinkhole6 = inet_pton(AF_INET6, cfg->sinkhole.ipv6, spec->sinkhole6) == 1;
}

static void on_policy_diag(void *ctx, const char *file, unsigned line, const char *reason)
{
	(void)ctx;
	c2w_log_warn("policy: %s:%u: %s", file, line, reason);
}

int net_policy_load(const struct c2w_config *cfg, const struct policy_snap *prev, bool reload,
		    struct policy_snap **out)
{
	return net_policy_load_err(cfg, prev, reload, out, NULL, 0);
}

int net_policy_load_err(const struct c2w_config *cfg, const struct policy_snap *prev, bool reload,
			struct policy_snap **out, char *err, size_t err_len)
{
	return net_policy_load_files(cfg, NULL, prev, reload, NULL, out, err, err_len);
}

/* The feed of zone @i: the caller's choice, or its file; a transferred zone whose copy is not
 * there yet (first transfer pending) is left out instead of failing the whole policy. */
static const char *zone_file(const struct c2w_config *cfg, const char *const *files, size_t i)
{
	const struct conf_policy_zone *z = &cfg->policy.zones[i];
	if (files != NULL)
		return files[i];
	if ((z->primary_count > 0 || z->url != NULL) && access(z->file, R_OK) != 0) {
		c2w_log_warn("policy: zone %s: no %s copy yet; not enforced", z->name,
			     z->url != NULL ? "downloaded" : "transferred");
		return NULL;
	}
	return z->file;
}

static void zone_rules_out(const struct c2w_config *cfg, const struct policy_report *rep,
			   uint64_t *rules)
{
	for (size_t i = 0; i < cfg->policy.zone_count; i++) {
		rules[i] = 0;
		for (size_t j = 0; j < rep->zone_count; j++)
			if (strcasecmp(rep->zones[j].name, cfg->policy.zones[i].name) == 0)
				rules[i] = rep->zones[j].rules;
	}
}

int net_policy_load_files(const struct c2w_config *cfg, const char *const *files,
			  const struct policy_snap *prev, bool reload, uint64_t *rules,
			  struct policy_snap **out, char *err, size_t err_len)
{
	*out = NULL;
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (rules != NULL)
		memset(rules, 0, cfg->policy.zone_count * sizeof(*rules));
	if (cfg->policy.zone_count == 0)
		return C2W_OK;
	if (cfg->policy.zone_count > POLICY_ZONES_MAX) {
		c2w_log_err("policy: at most %d zones", POLICY_ZONES_MAX);
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "policy: at most %d zones", POLICY_ZONES_MAX);
		return C2W_ECONFIG;
	}
	struct policy_zone_spec specs[POLICY_ZONES_MAX];
	size_t count = 0;
	for (size_t i = 0; i < cfg->policy.zone_count; i++) {
		const char *file = zone_file(cfg, files, i);
		if (file == NULL)
			continue;
		net_policy_spec_from_conf(cfg, &cfg->policy.zones[i], &specs[count]);
		specs[count++].file = file;
	}
	if (count == 0)
		return C2W_OK;
	struct policy_build_opts opts = {
	    .never_block = (const char *const *)cfg->policy.never_block,
	    .never_block_count = cfg->policy.never_block_count,
	    .never_block_file = cfg->policy.never_block_file,
	    .protect_mode = reload ? POLICY_PROTECT_REFUSE : POLICY_PROTECT_DROP,
	    .max_change = reload ? cfg->policy.max_change : 0,
	    .previous = prev,
	};
	struct policy_report *rep = calloc(1, sizeof(*rep));
	if (rep == NULL) {
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "policy: out of memory");
		return C2W_ENOMEM;
	}
	rep->diag = on_policy_diag;
	int ret = policy_snap_build(specs, count, &opts, rep, out);
	if (ret != C2W_OK) {
		c2w_log_err("policy: not loaded: %s (%s)", rep->error[0] ? rep->error : "error",
			    c2w_strerror(ret));
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "policy not loaded: %s (%s)",
				 rep->error[0] ? rep->error : "error", c2w_strerror(ret));
	} else {
		for (size_t i = 0; i < rep->zone_count; i++)
			c2w_log_info("policy: zone %s: %llu rules, %llu lines rejected, %llu "
				     "duplicates",
				     rep->zones[i].name, (unsigned long long)rep->zones[i].rules,
				     (unsigned long long)rep->zones[i].rejected,
				     (unsigned long long)rep->zones[i].duplicates);
		if (rules != NULL)
			zone_rules_out(cfg, rep, rules);
	}
	free(rep);
	return ret;
}

int net_policy_delta(const struct c2w_config *cfg, const char *const *files,
		     const struct policy_snap *prev, size_t zone, const char *records, size_t len,
		     const char *const *owners, size_t count, bool rebase, uint64_t *rules,
		     struct policy_snap **out, char *err, size_t err_len)
{
	struct policy_zone_spec specs[POLICY_ZONES_MAX];
	size_t n = 0, at = SIZE_MAX;

	*out = NULL;
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (prev == NULL || zone >= cfg->policy.zone_count ||
	    cfg->policy.zone_count > POLICY_ZONES_MAX || files[zone] == NULL)
		return C2W_EINVAL;
	for (size_t i = 0; i < cfg->policy.zone_count; i++) {
		if (files[i] == NULL)
			continue;
		if (i == zone)
			at = n;
		net_policy_spec_from_conf(cfg, &cfg->policy.zones[i], &specs[n]);
		specs[n++].file = files[i];
	}
	struct policy_build_opts opts = {
	    .never_block = (const char *const *)cfg->policy.never_block,
	    .never_block_count = cfg->policy.never_block_count,
	    .never_block_file = cfg->policy.never_block_file,
	    .protect_mode = POLICY_PROTECT_REFUSE,
	    .max_change = rebase ? 0 : cfg->policy.max_change,
	};
	struct policy_report *rep = calloc(1, sizeof(*rep));
	if (rep == NULL)
		return C2W_ENOMEM;
	rep->diag = on_policy_diag;
	int ret = policy_snap_delta(prev, specs, n, (unsigned)at, records, len, owners, count,
				    &opts, rep, out);
	if (ret != C2W_OK && ret != C2W_EFULL && ret != C2W_EINVAL) {
		c2w_log_err("policy: increment not applied: %s (%s)",
			    rep->error[0] ? rep->error : "error", c2w_strerror(ret));
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "increment not applied: %s (%s)",
				 rep->error[0] ? rep->error : "error", c2w_strerror(ret));
	} else if (ret == C2W_OK && rules != NULL) {
		zone_rules_out(cfg, rep, rules);
	}
	free(rep);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * policy_snap_build(): parse every zone's feed, add the never-block list, apply the guard
 * rails (protected names, max change against the previous snapshot), compile, and write/map
 * the result. On any failure the caller's old snapshot stays in force.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dns/name.h"
#include "policy/feed.h"
#include "policy/image.h"
#include "policy/rules.h"

static int protect_text(struct policy_rules *r, const char *text, size_t len)
{
	char buf[DNS_NAME_TEXT_MAX];
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t wl;
	bool wild = false;

	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r'))
		len--;
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	if (len == 0 || *text == '#')
		return C2W_OK;
	if (len > 2 && text[0] == '*' && text[1] == '.') {
		wild = true;
		text += 2;
		len -= 2;
	}
	if (len + 2 > sizeof(buf))
		return C2W_EINVAL;
	memcpy(buf, text, len);
	buf[len] = 0;
	if (buf[len - 1] != '.') {
		buf[len] = '.';
		buf[len + 1] = 0;
	}
	if (dns_name_from_text(buf, NULL, wire, &wl) != C2W_OK)
		return C2W_EINVAL;
	dns_name_lower(wire);
	return policy_rules_protect(r, wire, wild);
}

int policy_build_never_block(struct policy_rules *r, const struct policy_build_opts *o,
			     struct policy_report *rep)
{
	int ret = policy_rules_settle(r); /* the feeds' reports come first */
	if (ret != C2W_OK)
		return ret;
	for (size_t i = 0; i < o->never_block_count; i++) {
		ret = protect_text(r, o->never_block[i], strlen(o->never_block[i]));
		if (ret == C2W_ENOMEM)
			return ret;
		if (ret != C2W_OK && rep != NULL && rep->diag != NULL)
			rep->diag(rep->diag_ctx, "never-block", (unsigned)i + 1, "bad protected name");
	}
	if (o->never_block_file == NULL)
		return C2W_OK;
	char *buf;
	size_t len;
	ret = policy_feed_read(o->never_block_file, &buf, &len);
	if (ret != C2W_OK) {
		if (rep != NULL)
			snprintf(rep->error, sizeof(rep->error), "%s: cannot read never-block list (%s)",
				 o->never_block_file, c2w_strerror(ret));
		return C2W_EFEED;
	}
	unsigned line = 0;
	for (size_t i = 0; i < len;) {
		size_t st = i;
		while (i < len && buf[i] != '\n')
			i++;
		line++;
		ret = protect_text(r, buf + st, i - st);
		i++;
		if (ret == C2W_ENOMEM)
			break;
		if (ret != C2W_OK && rep != NULL && rep->diag != NULL)
			rep->diag(rep->diag_ctx, o->never_block_file, line, "bad protected name");
		ret = C2W_OK;
	}
	free(buf);
	return ret;
}

/* Compare each zone's rule count with the zone of the same name in @prev. */
static int check_change(const struct policy_snap *s, const struct policy_build_opts *o,
			struct policy_report *rep)
{
	const struct policy_snap *p = o->previous;

	if (p == NULL || o->max_change <= 0)
		return C2W_OK;
	for (size_t i = 0; i < s->hdr->zone_count; i++) {
		const char *name = img_str(s, s->zones[i].name_off);
		for (size_t k = 0; k < p->hdr->zone_count; k++) {
			if (strcmp(name, img_str(p, p->zones[k].name_off)) != 0)
				continue;
			/* Expired entries count as present: the guard is about the feed. */
			double was = (double)(p->zones[k].rule_count + p->expired[k]);
			double now = (double)(s->zones[i].rule_count + s->expired[i]);
			double diff = now > was ? now - was : was - now;
			if ((was == 0 && now > 0) || (was > 0 && diff / was > o->max_change)) {
				if (rep != NULL)
					snprintf(rep->error, sizeof(rep->error),
						 "zone %s changes from %.0f to %.0f rules, more than "
						 "the allowed fraction %.2f: reload refused",
						 name, was, now, o->max_change);
				return C2W_ERANGE;
			}
		}
	}
	return C2W_OK;
}

static void note_expiry(struct policy_snap *s, const struct policy_rules *r, size_t count,
			struct policy_report *rep)
{
	s->next_expiry = policy_rules_next_expiry(r);
	for (size_t i = 0; i < count; i++)
		s->expired[i] = policy_rules_expired(r, (unsigned)i);
	if (rep != NULL)
		rep->next_expiry = s->next_expiry;
}

int64_t policy_snap_next_expiry(const struct policy_snap *snap)
{
	return snap != NULL ? snap->next_expiry : 0;
}

/* Presize the rules' tables from the feed's size: a feed line is about 24 bytes or more, so
 * this rarely underestimates, a key is at most a few bytes longer than its line, and pages a
 * smaller feed never touches cost no memory. A failure here is not one: the tables then grow
 * as they go. */
static void expect_rules(struct policy_rules *r, const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		(void)policy_rules_expect(r, (size_t)st.st_size / 24,
					  (size_t)st.st_size + (size_t)st.st_size / 8);
}

/* Compile straight into the output file's mapping (policy_img_alloc_cb). */
struct out_ctx {
	struct img_out io;
	const char *path;
	int err;
};

static uint8_t *out_alloc(void *vctx, size_t len)
{
	struct out_ctx *c = vctx;

	c->err = policy_img_out_begin(&c->io, c->path, len);
	return c->err == C2W_OK ? c->io.base : NULL;
}

int policy_snap_build(const struct policy_zone_spec *specs, size_t count,
		      const struct policy_build_opts *opts, struct policy_report *rep,
		      struct policy_snap **out)
{
	static const struct policy_build_opts none = {0};
	const struct policy_build_opts *o = opts ? opts : &none;
	struct policy_snap *s = NULL;
	uint8_t *img = NULL;
	size_t img_len = 0;
	/* With an output file, the image is built in its mapping: no copy, no second map. */
	struct out_ctx oc = {.io = {.fd = -1}, .path = o->out_path, .err = C2W_OK};
	bool taken = false;
	int ret;

	if (rep != NULL) {
		policy_diag_cb cb = rep->diag;
		void *ctx = rep->diag_ctx;
		memset(rep, 0, sizeof(*rep));
		rep->diag = cb;
		rep->diag_ctx = ctx;
	}
	if (count == 0 || count > POLICY_ZONES_MAX)
		return C2W_EINVAL;
	struct policy_rules *r = policy_rules_new(rep);
	if (r == NULL)
		return C2W_ENOMEM;
	if (o->now != 0)
		policy_rules_set_now(r, o->now);
	for (size_t i = 0; i < count; i++) {
		int z = policy_rules_zone_add(r, &specs[i]);
		if (z < 0) {
			ret = z;
			if (rep != NULL)
				snprintf(rep->error, sizeof(rep->error), "zone %zu (%s): bad zone spec",
					 i + 1, specs[i].name ? specs[i].name : "?");
			goto out_free;
		}
		expect_rules(r, specs[i].file);
		if (specs[i].format == POLICY_FORMAT_RPZ)
			ret = policy_feed_rpz_load(r, (unsigned)z, specs[i].file,
						   specs[i].allow_include);
		else
			ret = policy_feed_hosts_load(r, (unsigned)z, specs[i].file,
						     specs[i].format == POLICY_FORMAT_DOMAINS);
		if (ret == C2W_OK)
			ret = policy_rules_settle(r); /* its reports before the next feed's */
		if (ret != C2W_OK) {
			if (rep != NULL)
				snprintf(rep->error, sizeof(rep->error), "%s: cannot load feed (%s)",
					 specs[i].file, c2w_strerror(ret));
			ret = ret == C2W_ENOMEM ? ret : C2W_EFEED;
			goto out_free;
		}
	}
	ret = policy_build_never_block(r, o, rep);
	if (ret != C2W_OK)
		goto out_free;
	ret =
	    policy_rules_compile_into(r, o->protect_mode == POLICY_PROTECT_REFUSE,
				      o->out_path != NULL ? out_alloc : NULL, &oc, &img, &img_len);
	if (ret == C2W_ENOMEM && oc.err != C2W_OK) {
		ret = oc.err;
		if (rep != NULL)
			snprintf(rep->error, sizeof(rep->error), "%s: cannot write (%s)",
				 o->out_path, c2w_strerror(ret));
	}
	if (ret != C2W_OK) {
		if (rep != NULL && rep->error[0] == 0)
			snprintf(rep->error, sizeof(rep->error), "compile failed: %s",
				 c2w_strerror(ret));
		goto out_free;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		ret = C2W_ENOMEM;
		goto out_free;
	}
	s->filter = policy_rules_filter(r, &s->filter_mask);
	ret = policy_img_attach(s, img, img_len, rep ? rep->error : NULL, rep ? sizeof(rep->error) : 0);
	if (ret != C2W_OK)
		goto out_free;
	/* Owned by s from here: freed, or (an output file's mapping) unmapped with it. */
	img = NULL;
	s->mapped = oc.io.base != NULL;
	taken = true;
	note_expiry(s, r, count, rep);
	ret = check_change(s, o, rep);
	if (ret != C2W_OK)
		goto out_free;
	if (o->out_path != NULL) {
		/* Every worker then reads one page-cache copy, mapped read-only. */
		ret = policy_img_out_commit(&oc.io, o->out_path);
		if (ret != C2W_OK) {
			if (rep != NULL)
				snprintf(rep->error, sizeof(rep->error), "%s: cannot write (%s)",
					 o->out_path, c2w_strerror(ret));
			goto out_free;
		}
	}
	*out = s;
	s = NULL;
	ret = C2W_OK;
out_free:
	if (o->out_path != NULL)
		policy_img_out_abort(&oc.io, !taken); /* unmaps unless a snapshot took it */
	else
		free(img);
	policy_snap_free(s);
	policy_rules_free(r);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * Incremental snapshots (docs/policy.md "Increments"): an IXFR of k changes becomes one small
 * layer over the running snapshot instead of a recompile of the whole zone. The changed owner
 * names go through the ordinary RPZ parser and compiler twice, into two tiny images: one with
 * a placeholder rule per owner (the set of trigger keys the increment touches, whatever the
 * owner's records are) and one with the owners' records in the new version (their new rules,
 * with the never-block guard rail applied). A lookup asks the newest layer first: a touched
 * key is answered by that layer alone, anything else falls through to older layers and the
 * full image. The zone table and the header counts are copied per snapshot and adjusted per
 * touched key, so the work is O(k) plus O(zones); the full image is shared, never copied.
 *
 * Wildcard nodes (IMG_KIND_NODE: ancestors of QNAME triggers, for BIND's closest-encloser
 * rule) are shared by every rule below them, so a layer cannot say one is gone: a node exists
 * when any layer or the full image has it. After increments delete the last rule below a node
 * it still counts as existing until the next full compile (a rebase drops only the nodes
 * older layers added; docs/policy.md "Increments").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/feed.h"
#include "policy/image.h"
#include "policy/rules.h"

static bool same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* A tiny compiled image from RPZ text for zone @zone; the other zones stay empty. @own: the
 * text is ours to free, once parsed (*@own NULL after the call). */
static int compile_text(const struct policy_zone_spec *specs, size_t count, unsigned zone,
			const char *text, size_t len, char **own, const struct policy_build_opts *o,
			struct policy_report *rep, struct policy_snap **out)
{
	struct policy_rules *r = policy_rules_new(rep);
	uint8_t *img = NULL;
	size_t img_len = 0;
	struct policy_snap *s = NULL;
	int ret = r == NULL ? C2W_ENOMEM : C2W_OK;

	for (size_t i = 0; i < count && ret == C2W_OK; i++) {
		int z = policy_rules_zone_add(r, &specs[i]);
		ret = z < 0 ? z : C2W_OK;
	}
	if (ret == C2W_OK && o != NULL && o->now != 0)
		policy_rules_set_now(r, o->now);
	if (ret == C2W_OK) {
		/* At most a rule per line: the tables sized once, not doubled (each doubling holds
		 * the old and the new table at once, while the running policy holds its own). */
		size_t lines = 1;
		for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))) != NULL;
		     p++)
			lines++;
		(void)policy_rules_expect(r, lines, len + len / 8); /* a failure: they grow instead */
		ret = policy_feed_rpz_parse(r, zone, text, len, "ixfr", false);
	}
	if (own != NULL) { /* the rules hold copies: the text goes before the compile */
		free(*own);
		*own = NULL;
	}
	if (ret == C2W_OK && o != NULL)
		ret = policy_build_never_block(r, o, rep);
	if (ret == C2W_OK)
		ret = policy_rules_compile(r, o != NULL && o->protect_mode == POLICY_PROTECT_REFUSE,
					   &img, &img_len);
	if (ret == C2W_OK && (s = calloc(1, sizeof(*s))) == NULL)
		ret = C2W_ENOMEM;
	if (ret == C2W_OK)
		ret = policy_img_attach(s, img, img_len, rep ? rep->error : NULL,
					rep ? sizeof(rep->error) : 0);
	if (ret == C2W_OK) {
		*out = s;
		img = NULL;
		s = NULL;
	}
	free(s);
	free(img);
	policy_rules_free(r);
	return ret;
}

/* "owner 60 IN CNAME ." per owner: parsed like the real records, it yields each owner's
 * trigger key (or nothing, exactly when the owner cannot make a rule either). */
static char *placeholder_text(const char *const *owners, size_t n, size_t *len)
{
	static const char tail[] = " 60 IN CNAME .\n";
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(owners[i]) + sizeof(tail);
	char *buf = malloc(total);
	if (buf == NULL)
		return NULL;
	size_t p = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(owners[i]);
		if (memchr(owners[i], '\n', l) != NULL)
			continue; /* never splice two lines */
		memcpy(buf + p, owners[i], l);
		memcpy(buf + p + l, tail, sizeof(tail) - 1);
		p += l + sizeof(tail) - 1;
	}
	buf[p] = '\0';
	*len = p;
	return buf;
}

static void count_rule(struct policy_snap *n, const struct policy_snap *src,
		       const struct img_slot *sl, int sign)
{
	struct img_zone *z = &n->zones_own[sl->zone];
	const struct img_data *d = img_data_at(src, sl->data_off);
	uint64_t delta = (uint64_t)(int64_t)sign; /* modular: -1 subtracts */
	z->rule_count += delta;
	z->by_trigger[sl->kind & 7] += delta;
	if (d->action < POLICY_ACTION_COUNT)
		z->by_action[d->action] += delta;
	n->hdr_own.rule_count += delta;
}

/* For every touched key: the old rule (through @cur and its layers) out, the new one in. */
static void adjust_counts(struct policy_snap *n, const struct policy_snap *cur,
			  const struct policy_snap *t, const struct policy_snap *m)
{
	for (uint64_t i = 0; i < t->hdr->slot_count; i++) {
		const struct img_slot *sl = &t->slots[i];
		if (sl->key_off == 0 || (sl->kind & (IMG_KIND_PROTECT | IMG_KIND_NODE)))
			continue; /* not rules */
		const uint8_t *k = t->keys + sl->key_off;
		uint64_t h = policy_img_key_hash(k, sl->kind);
		const struct img_slot *o = policy_img_find(cur, h, sl->zone, sl->kind, k + 1, k[0]);
		if (o != NULL)
			count_rule(n, policy_img_src(cur, o), o, -1);
		const struct img_slot *w =
		    policy_img_find_own(m, h, sl->zone, sl->kind, k + 1, k[0]);
		if (w != NULL)
			count_rule(n, m, w, +1);
	}
	/* Trigger flags only grow: a flag left set after a deletion costs a probe, not a miss. */
	for (uint32_t zi = 0; zi < n->hdr_own.zone_count; zi++) {
		struct img_zone *z = &n->zones_own[zi];
		const struct img_zone *mz = &m->zones[zi];
		for (int tr = 0; tr < POLICY_TRIGGER_COUNT; tr++) {
			z->has_exact[tr] |= mz->has_exact[tr];
			z->has_wild[tr] |= mz->has_wild[tr];
		}
		for (int a = 0; a < IMG_IP_TRIGGERS; a++)
			for (int f = 0; f < 2; f++)
				for (int b = 0; b < 3; b++)
					z->lenmask[a][f][b] |= mz->lenmask[a][f][b];
	}
	n->hdr_own.flags |= m->hdr->flags & IMG_F_RESPONSE_RULES;
}

static int check_change(const struct policy_snap *cur, const struct policy_snap *n, unsigned zone,
			const struct policy_build_opts *o, struct policy_report *rep)
{
	if (o == NULL || o->max_change <= 0)
		return C2W_OK;
	double was = (double)cur->zones[zone].rule_count;
	double now = (double)n->zones[zone].rule_count;
	double diff = now > was ? now - was : was - now;
	if ((was == 0 && now > 0) || (was > 0 && diff / was > o->max_change)) {
		if (rep != NULL)
			snprintf(rep->error, sizeof(rep->error),
				 "zone %s changes from %.0f to %.0f rules, more than the allowed "
				 "fraction %.2f: increment refused",
				 img_str(cur, cur->zones[zone].name_off), was, now, o->max_change);
		return C2W_ERANGE;
	}
	return C2W_OK;
}

/* A new snapshot over @cur's full image and layers, with @l on top. */
static struct policy_snap *snap_over(const struct policy_snap *cur, struct img_layer *l)
{
	/* The hold on the shared full image is a refcount, not a write to its contents. */
	struct policy_snap *base =
	    cur->parent != NULL ? cur->parent : (struct policy_snap *)(uintptr_t)cur;
	struct policy_snap *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->zones_own = malloc(((size_t)cur->hdr->zone_count + 1) * sizeof(*n->zones_own));
	if (n->zones_own == NULL) {
		free(n);
		return NULL;
	}
	memcpy(n->zones_own, cur->zones, (size_t)cur->hdr->zone_count * sizeof(*n->zones_own));
	n->zones = n->zones_own;
	n->hdr_own = *cur->hdr;
	n->hdr = &n->hdr_own;
	n->base = base->base;
	n->len = base->len;
	n->slots = base->slots;
	n->keys = base->keys;
	n->data = base->data;
	n->str = base->str;
	n->filter = base->filter;
	n->filter_mask = base->filter_mask;
	n->parent = base;
	/* Increments come by zone transfer, which carries no "expires=": the running entries'
	 * lifetimes stay as they were. */
	n->next_expiry = cur->next_expiry;
	memcpy(n->expired, cur->expired, sizeof(n->expired));
	atomic_fetch_add(&base->refs, 1);
	l->next = cur->layers;
	if (l->next != NULL)
		atomic_fetch_add(&l->next->refs, 1);
	l->rule_base = l->next != NULL ? l->next->rule_base + l->next->rules->hdr->slot_count : 0;
	n->layers = l;
	n->layer_count = cur->layer_count + 1;
	n->layer_rules = cur->layer_rules + l->touched->hdr->rule_count;
	return n;
}

static int specs_match(const struct policy_snap *cur, const struct policy_zone_spec *specs,
		       size_t count, unsigned zone)
{
	if (count != cur->hdr->zone_count || zone >= count)
		return C2W_EINVAL;
	for (size_t i = 0; i < count; i++)
		if (specs[i].name == NULL ||
		    !same_name(specs[i].name, img_str(cur, cur->zones[i].name_off)))
			return C2W_EINVAL;
	return specs[zone].format == POLICY_FORMAT_RPZ ? C2W_OK : C2W_EINVAL;
}

int policy_snap_delta(const struct policy_snap *cur, const struct policy_zone_spec *specs,
		      size_t count, unsigned zone, const char *records, size_t records_len,
		      const char *const *owners, size_t owner_count,
		      const struct policy_build_opts *opts, struct policy_report *rep,
		      struct policy_snap **out)
{
	struct policy_snap *t = NULL, *m = NULL, *n = NULL;
	struct img_layer *l = NULL;
	size_t tlen = 0;
	char *ttext = NULL;
	int ret;

	if (rep != NULL) {
		policy_diag_cb cb = rep->diag;
		void *ctx = rep->diag_ctx;
		memset(rep, 0, sizeof(*rep));
		rep->diag = cb;
		rep->diag_ctx = ctx;
	}
	ret = specs_match(cur, specs, count, zone);
	if (ret != C2W_OK) {
		if (rep != NULL)
			snprintf(rep->error, sizeof(rep->error),
				 "increment does not fit the running policy's zones");
		return ret;
	}
	if (cur->layer_count >= POLICY_DELTA_LAYERS_MAX) {
		if (rep != NULL)
			snprintf(rep->error, sizeof(rep->error), "too many increments: recompile");
		return C2W_EFULL;
	}
	ttext = placeholder_text(owners, owner_count, &tlen);
	if (ttext == NULL)
		return C2W_ENOMEM;
	ret = compile_text(specs, count, zone, ttext, tlen, &ttext, NULL, NULL, &t);
	if (ret == C2W_OK)
		ret = compile_text(specs, count, zone, records, records_len, NULL, opts, rep, &m);
	if (ret != C2W_OK)
		goto out_free;
	uint64_t top =
	    cur->layers != NULL ? cur->layers->rule_base + cur->layers->rules->hdr->slot_count : 0;
	if (cur->hdr->slot_count + top + m->hdr->slot_count >= UINT32_MAX) {
		ret = C2W_EFULL;
		goto out_free;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		ret = C2W_ENOMEM;
		goto out_free;
	}
	l->touched = t;
	l->rules = m;
	n = snap_over(cur, l);
	if (n == NULL) {
		ret = C2W_ENOMEM;
		goto out_free;
	}
	t = m = NULL;
	l = NULL; /* owned by n */
	adjust_counts(n, cur, n->layers->touched, n->layers->rules);
	ret = check_change(cur, n, zone, opts, rep);
	if (ret != C2W_OK)
		goto out_free;
	if (rep != NULL) {
		rep->zone_count = count;
		for (size_t i = 0; i < count; i++) {
			snprintf(rep->zones[i].name, sizeof(rep->zones[i].name), "%s",
				 img_str(cur, cur->zones[i].name_off));
			rep->zones[i].rules = n->zones[i].rule_count;
		}
		rep->rules = n->hdr->rule_count;
		rep->snapshot_bytes = n->len;
	}
	*out = n;
	n = NULL;
out_free:
	policy_snap_free(n);
	if (l != NULL) {
		free(l);
		policy_snap_free(t);
		policy_snap_free(m);
	} else if (t != NULL || m != NULL) {
		policy_snap_free(t);
		policy_snap_free(m);
	}
	free(ttext);
	return ret;
}

void policy_snap_delta_size(const struct policy_snap *snap, unsigned *layers, uint64_t *keys)
{
	*layers = snap->layer_count;
	*keys = snap->layer_rules;
}

const struct policy_snap *policy_snap_base(const struct policy_snap *snap)
{
	return snap->parent != NULL ? snap->parent : snap;
}

uint64_t policy_snap_zone_rules(const struct policy_snap *snap, size_t zone)
{
	return zone < snap->hdr->zone_count ? snap->zones[zone].rule_count : 0;
}

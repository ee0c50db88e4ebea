/* SPDX-License-Identifier: MIT */
/*
 * Writing a compiled zone back as RPZ records (policy/export.h): every slot of the zone's
 * rules, its trigger turned into an owner name (draft-vixie-dnsop-dns-rpz-00 sections 4.1-4.5)
 * and its action into the CNAME or local data the draft gives it, with the zone's override
 * applied as c2wall applies it. Walks the slot table once; allocates nothing.
 */
#include "policy/export.h"

#include <stdio.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "policy/image.h"

#define OWNER_MAX 255

static const uint8_t cname_root[] = {0};
static const uint8_t cname_wild_root[] = {1, '*', 0};
static const uint8_t cname_passthru[] = "\014rpz-passthru";
static const uint8_t cname_drop[] = "\010rpz-drop";
static const uint8_t cname_tcp_only[] = "\014rpz-tcp-only";

/* Labels that mark a trigger type under the origin (draft 4.1-4.5). */
static const uint8_t lab_client_ip[] = "\015rpz-client-ip";
static const uint8_t lab_ip[] = "\006rpz-ip";
static const uint8_t lab_nsdname[] = "\013rpz-nsdname";
static const uint8_t lab_nsip[] = "\010rpz-nsip";

struct out_name {
	uint8_t b[OWNER_MAX + 64];
	size_t len;
	bool bad;
};

static void put(struct out_name *n, const void *p, size_t len)
{
	if (n->bad || n->len + len > OWNER_MAX) {
		n->bad = true;
		return;
	}
	memcpy(n->b + n->len, p, len);
	n->len += len;
}

static void put_label(struct out_name *n, const char *text)
{
	size_t l = strlen(text);
	uint8_t c = (uint8_t)l;
	put(n, &c, 1);
	put(n, text, l);
}

/* "bits.o4.o3.o2.o1" or "bits.w8...w1" with the longest run of zero words as "zz" (RFC 5952
 * 4.2.3: first longest run of two or more), the form BIND takes as canonical. */
static void put_ip(struct out_name *n, const uint8_t *key, size_t key_len)
{
	char t[16];
	uint8_t addr[16] = {0};
	if (key_len < 2 || key_len - 2 > 16) {
		n->bad = true;
		return;
	}
	memcpy(addr, key + 2, key_len - 2);
	snprintf(t, sizeof(t), "%u", key[1]);
	put_label(n, t);
	if (key[0] == 4) {
		for (int i = 3; i >= 0; i--) {
			snprintf(t, sizeof(t), "%u", addr[i]);
			put_label(n, t);
		}
		return;
	}
	unsigned w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)addr[2 * i] << 8 | addr[2 * i + 1];
	int best = -1, best_len = 1;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && w[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 7; i >= 0; i--) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				put_label(n, "zz");
			continue;
		}
		snprintf(t, sizeof(t), "%x", w[i]);
		put_label(n, t);
	}
}

/* Owner of a slot's rule: trigger labels + marker label + origin. */
static bool owner_of(const uint8_t *key, size_t key_len, unsigned kind, const uint8_t *origin,
		     size_t origin_len, struct out_name *n)
{
	unsigned t = kind & 7;
	n->len = 0;
	n->bad = false;
	if ((kind & IMG_KIND_PROTECT) || t == POLICY_TRIGGER_QNAME || t == POLICY_TRIGGER_NSDNAME) {
		if (kind & IMG_KIND_WILD)
			put(n, cname_wild_root, 2);
		put(n, key, key_len);
		if (!(kind & IMG_KIND_PROTECT) && t == POLICY_TRIGGER_NSDNAME)
			put(n, lab_nsdname, sizeof(lab_nsdname) - 1);
	} else {
		put_ip(n, key, key_len);
		if (t == POLICY_TRIGGER_CLIENT_IP)
			put(n, lab_client_ip, sizeof(lab_client_ip) - 1);
		else if (t == POLICY_TRIGGER_RESPONSE_IP)
			put(n, lab_ip, sizeof(lab_ip) - 1);
		else
			put(n, lab_nsip, sizeof(lab_nsip) - 1);
	}
	put(n, origin, origin_len);
	return !n->bad;
}

struct emit {
	policy_export_cb cb;
	void *ctx;
	const uint8_t *owner;
	size_t owner_len;
	uint32_t ttl;
};

static int emit_cname(const struct emit *e, const uint8_t *target, size_t len)
{
	return e->cb(e->ctx, e->owner, e->owner_len, DNS_TYPE_CNAME, e->ttl, target, (uint16_t)len);
}

static int emit_cname_wild(const struct emit *e, const uint8_t *suffix, size_t len)
{
	uint8_t t[DNS_NAME_WIRE_MAX + 2];
	if (len + 2 > DNS_NAME_WIRE_MAX)
		return C2W_OK; /* cannot be written as RPZ; never made by the parser */
	t[0] = 1;
	t[1] = '*';
	memcpy(t + 2, suffix, len);
	return emit_cname(e, t, len + 2);
}

/* The records of an action that carries no data of its own. */
static int emit_simple(const struct emit *e, enum policy_action a)
{
	switch (a) {
	case POLICY_ACTION_NXDOMAIN:
		return emit_cname(e, cname_root, sizeof(cname_root));
	case POLICY_ACTION_NODATA:
		return emit_cname(e, cname_wild_root, sizeof(cname_wild_root));
	case POLICY_ACTION_DROP:
		return emit_cname(e, cname_drop, sizeof(cname_drop));
	case POLICY_ACTION_TCP_ONLY:
		return emit_cname(e, cname_tcp_only, sizeof(cname_tcp_only));
	default:
		return emit_cname(e, cname_passthru, sizeof(cname_passthru));
	}
}

/* The rule's own data: local records, or the CNAME target (rr 0). */
static int emit_given(const struct emit *e, const struct img_data *d)
{
	const uint8_t *p = (const uint8_t *)(d + 1);
	if (d->action != POLICY_ACTION_LOCAL_DATA && d->action != POLICY_ACTION_CNAME &&
	    d->action != POLICY_ACTION_CNAME_WILD)
		return emit_simple(e, (enum policy_action)d->action);
	for (unsigned i = 0; i < d->rr_count; i++) {
		uint16_t type, rdlen;
		memcpy(&type, p, 2);
		memcpy(&rdlen, p + 2, 2);
		int ret;
		if (d->action == POLICY_ACTION_CNAME_WILD)
			ret = emit_cname_wild(e, p + 4, rdlen);
		else if (d->action == POLICY_ACTION_CNAME)
			ret = emit_cname(e, p + 4, rdlen);
		else
			ret = e->cb(e->ctx, e->owner, e->owner_len, type, e->ttl, p + 4, rdlen);
		if (ret != C2W_OK || d->action != POLICY_ACTION_LOCAL_DATA)
			return ret;
		p += 4 + rdlen;
	}
	return C2W_OK;
}

/* What c2wall does with a rule of zone @z: the override when the zone has one. */
static int emit_rule(const struct policy_snap *s, const struct img_zone *z, const struct emit *e,
		     const struct img_data *d)
{
	switch ((enum policy_override)z->override) {
	case POLICY_OVERRIDE_GIVEN:
		return emit_given(e, d);
	case POLICY_OVERRIDE_NXDOMAIN:
		return emit_simple(e, POLICY_ACTION_NXDOMAIN);
	case POLICY_OVERRIDE_NODATA:
		return emit_simple(e, POLICY_ACTION_NODATA);
	case POLICY_OVERRIDE_DROP:
		return emit_simple(e, POLICY_ACTION_DROP);
	case POLICY_OVERRIDE_TCP_ONLY:
		return emit_simple(e, POLICY_ACTION_TCP_ONLY);
	case POLICY_OVERRIDE_CNAME: {
		const uint8_t *t = (const uint8_t *)img_str(s, z->cname_off);
		return emit_cname(e, t, (size_t)dns_name_wire_len(t, DNS_NAME_WIRE_MAX));
	}
	case POLICY_OVERRIDE_SINKHOLE: {
		int ret = C2W_OK;
		if (z->has4)
			ret = e->cb(e->ctx, e->owner, e->owner_len, DNS_TYPE_A, e->ttl, z->s4, 4);
		if (ret == C2W_OK && z->has6)
			ret =
			    e->cb(e->ctx, e->owner, e->owner_len, DNS_TYPE_AAAA, e->ttl, z->s6, 16);
		if (ret == C2W_OK && !z->has4 && !z->has6)
			ret = emit_simple(e, POLICY_ACTION_NODATA);
		return ret;
	}
	default:
		/* PASSTHRU, and LOG (shadow mode: c2wall answers normally and records the hit,
		 * which is what rpz-passthru does on a secondary). */
		return emit_simple(e, POLICY_ACTION_PASSTHRU);
	}
}

/* Is the key (@zone, @kind, @k) touched by a layer of @s newer than @upto (NULL: any)? */
static bool touched_above(const struct policy_snap *s, const struct img_layer *upto,
			  unsigned zone, unsigned kind, const uint8_t *k)
{
	uint64_t h = policy_img_key_hash(k, kind);
	for (const struct img_layer *l = s->layers; l != NULL && l != upto; l = l->next)
		if (policy_img_find_own(l->touched, h, zone, kind, k + 1, k[0]) != NULL)
			return true;
	return false;
}

/* The records a key touched by layer @l has in @l (its new rule, or none: deleted). */
static int emit_touched(const struct policy_snap *s, const struct img_layer *l, unsigned zone,
			const struct img_slot *sl, const uint8_t *k, const struct out_name *n,
			policy_export_cb cb, void *ctx)
{
	const struct policy_snap *m = l->rules;
	uint64_t h = policy_img_key_hash(k, sl->kind);
	const struct img_slot *w = policy_img_find_own(m, h, zone, sl->kind, k + 1, k[0]);
	if (w == NULL)
		return C2W_OK;
	const struct img_data *d = img_data_at(m, w->data_off);
	struct emit e = {.cb = cb, .ctx = ctx, .owner = n->b, .owner_len = n->len, .ttl = d->ttl};
	return emit_rule(s, &s->zones[zone], &e, d);
}

/* The rules of the increments stacked on @s's full image, each key from its newest layer. */
static int export_layers(const struct policy_snap *s, unsigned zone, const uint8_t *origin,
			 size_t origin_len, policy_export_cb cb, void *ctx)
{
	struct out_name n;
	for (const struct img_layer *l = s->layers; l != NULL; l = l->next) {
		const struct policy_snap *t = l->touched;
		for (uint64_t i = 0; i < t->hdr->slot_count; i++) {
			const struct img_slot *sl = &t->slots[i];
			if (sl->key_off == 0 || (sl->kind & (IMG_KIND_PROTECT | IMG_KIND_NODE)) ||
			    sl->zone != zone)
				continue;
			const uint8_t *k = t->keys + sl->key_off;
			if (touched_above(s, l, zone, sl->kind, k) ||
			    !owner_of(k + 1, k[0], sl->kind, origin, origin_len, &n))
				continue;
			int ret = emit_touched(s, l, zone, sl, k, &n, cb, ctx);
			if (ret != C2W_OK)
				return ret;
		}
	}
	return C2W_OK;
}

int policy_export_zone(const struct policy_snap *s, unsigned zone, policy_export_cb cb, void *ctx)
{
	if (zone >= s->hdr->zone_count)
		return C2W_EINVAL;
	const struct img_zone *z = &s->zones[zone];
	const uint8_t *origin = (const uint8_t *)img_str(s, z->origin_off);
	size_t origin_len = (size_t)dns_name_wire_len(origin, DNS_NAME_WIRE_MAX);
	struct out_name n;
	for (uint64_t i = 0; i < s->hdr->slot_count; i++) {
		const struct img_slot *sl = &s->slots[i];
		bool protect = sl->kind & IMG_KIND_PROTECT;
		/* Node entries only say a name exists in the zone (wildcard closest encloser):
		 * the rules below them are served by their own slots. */
		if (sl->key_off == 0 || sl->key_off >= s->hdr->keys_len ||
		    (sl->kind & IMG_KIND_NODE) || (!protect && sl->zone != zone))
			continue;
		const uint8_t *k = s->keys + sl->key_off;
		/* A key an increment touched is served from the newest layer that has it. */
		if (!protect && s->layers != NULL && touched_above(s, NULL, zone, sl->kind, k))
			continue;
		if (!owner_of(k + 1, k[0], sl->kind, origin, origin_len, &n))
			continue;
		struct emit e = {.cb = cb, .ctx = ctx, .owner = n.b, .owner_len = n.len};
		int ret;
		if (protect) {
			/* Never-block names hold against every zone in c2wall; on a secondary a
			 * PASSTHRU rule does that (exact before wildcard, then zone order). */
			e.ttl = z->soa_ttl;
			ret = emit_simple(&e, POLICY_ACTION_PASSTHRU);
		} else {
			const struct img_data *d = img_data_at(s, sl->data_off);
			e.ttl = d->ttl;
			ret = emit_rule(s, z, &e, d);
		}
		if (ret != C2W_OK)
			return ret;
	}
	return export_layers(s, zone, origin, origin_len, cb, ctx);
}

/* Is @snap plus nothing but its newest layer the snapshot @prev? */
static bool one_layer_over(const struct policy_snap *snap, const struct policy_snap *prev)
{
	const struct policy_snap *base = prev->parent != NULL ? prev->parent : prev;
	return snap->layers != NULL && snap->parent == base &&
	       snap->layer_count == prev->layer_count + 1 && snap->layers->next == prev->layers;
}

/* A touched QNAME key that is also a never-block name: its owner carries the passthru. */
static bool protected_key(const struct policy_snap *snap, const uint8_t *k, unsigned kind)
{
	if ((kind & 7) != POLICY_TRIGGER_QNAME)
		return false;
	unsigned pk = IMG_KIND_PROTECT | (kind & IMG_KIND_WILD);
	return policy_img_find_own(snap, policy_img_key_hash(k, pk), 0, pk, k + 1, k[0]) != NULL;
}

int policy_export_delta(const struct policy_snap *snap, const struct policy_snap *prev,
			unsigned zone, policy_export_owner_cb owner_cb, policy_export_cb cb,
			void *ctx)
{
	if (prev == NULL || zone >= snap->hdr->zone_count || !one_layer_over(snap, prev))
		return C2W_EINVAL;
	const struct img_zone *z = &snap->zones[zone];
	const uint8_t *origin = (const uint8_t *)img_str(snap, z->origin_off);
	size_t origin_len = (size_t)dns_name_wire_len(origin, DNS_NAME_WIRE_MAX);
	const struct policy_snap *t = snap->layers->touched;
	struct out_name n;
	for (uint64_t i = 0; i < t->hdr->slot_count; i++) {
		const struct img_slot *sl = &t->slots[i];
		if (sl->key_off == 0 || (sl->kind & (IMG_KIND_PROTECT | IMG_KIND_NODE)) ||
		    sl->zone != zone)
			continue;
		const uint8_t *k = t->keys + sl->key_off;
		if (protected_key(snap, k, sl->kind))
			return C2W_EINVAL;
		if (!owner_of(k + 1, k[0], sl->kind, origin, origin_len, &n))
			continue;
		int ret = owner_cb(ctx, n.b, n.len);
		if (ret == C2W_OK)
			ret = emit_touched(snap, snap->layers, zone, sl, k, &n, cb, ctx);
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

int policy_snap_zone_of(const struct policy_snap *s, const uint8_t *name, size_t name_len)
{
	for (uint32_t i = 0; i < s->hdr->zone_count; i++) {
		const uint8_t *o = (const uint8_t *)img_str(s, s->zones[i].origin_off);
		size_t ol = (size_t)dns_name_wire_len(o, DNS_NAME_WIRE_MAX);
		if (ol > name_len)
			continue;
		/* A suffix only counts on a label boundary. */
		size_t p = 0;
		while (p < name_len - ol && name[p] != 0)
			p += (size_t)name[p] + 1;
		if (p == name_len - ol && memcmp(name + p, o, ol) == 0)
			return (int)i;
	}
	return -1;
}

const uint8_t *policy_snap_zone_origin(const struct policy_snap *s, unsigned zone)
{
	if (zone >= s->hdr->zone_count)
		return NULL;
	return (const uint8_t *)img_str(s, s->zones[zone].origin_off);
}

bool policy_snap_zone_soa(const struct policy_snap *s, unsigned zone, const uint8_t **rdata,
			  uint16_t *rdlen, uint32_t *ttl)
{
	/* The SOA the compiler makes up for feeds without one (rules.c). */
	static const uint8_t made_up[] = "\011localhost\0\004root\011localhost\0\0\0\0\001";
	if (zone >= s->hdr->zone_count || s->zones[zone].soa_len == 0)
		return false;
	const struct img_zone *z = &s->zones[zone];
	*rdata = (const uint8_t *)img_str(s, z->soa_off);
	*rdlen = (uint16_t)z->soa_len;
	*ttl = z->soa_ttl;
	return !(z->soa_len >= sizeof(made_up) - 1 &&
		 memcmp(*rdata, made_up, sizeof(made_up) - 1) == 0);
}

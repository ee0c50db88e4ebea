/* SPDX-License-Identifier: MIT */
/*
 * Incremental snapshots (policy_snap_delta): rounds of random deletions, changes and
 * additions of QNAME, wildcard, local-data, RESPONSE-IP, CLIENT-IP and NSDNAME rules in one
 * RPZ zone (behind a fixed first zone), each applied as a layer over the previous snapshot,
 * and after every round the same answers as a full compile of the resulting zone: verdicts
 * and hits of policy_match_query(), policy_match_response() and policy_explain(), the bytes
 * of policy_answer_build(), and the rule counts. Guard rails (never-block, max-change) hold
 * for increments, a refused increment leaves the running snapshot as it was, and snapshots
 * outlive the one they were built on. The served records follow too: the previous version's
 * export with policy_export_delta()'s owners replaced by its records is the export of the
 * full compile (what c2wall as primary serves after an increment).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "failmalloc.h"
#include "policy/export.h"
#include "test.h"
#include "util.h"

#define OWNERS 600
#define ZONE   "rpz."

/* The model: owner i's records in the current version ("" = none). */
static char *model[OWNERS];
/* Owners an applied increment touched since the last model_reset() (for a rebase). */
static bool ever[OWNERS];
static unsigned rnd_state = 12345;

static unsigned rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) & 0xffffff;
}

/* Owner name of slot i: the kind cycles through the trigger types. */
static void owner_name(unsigned i, char *out, size_t cap)
{
	switch (i % 6) {
	case 0:
		snprintf(out, cap, "n%u.example.%s", i, ZONE);
		break;
	case 1:
		snprintf(out, cap, "*.w%u.example.%s", i, ZONE);
		break;
	case 2:
		snprintf(out, cap, "ld%u.example.%s", i, ZONE);
		break;
	case 3:
		snprintf(out, cap, "32.%u.%u.0.10.rpz-ip.%s", i % 250, i / 250, ZONE);
		break;
	case 4:
		snprintf(out, cap, "32.%u.%u.168.192.rpz-client-ip.%s", i % 250, i / 250, ZONE);
		break;
	default:
		snprintf(out, cap, "ns%u.example.rpz-nsdname.%s", i, ZONE);
		break;
	}
}

/* New records for owner i, version @v. */
static char *records_for(unsigned i, unsigned v)
{
	char owner[128], buf[512];
	static const char *const acts[] = {
	    ".", "*.", "rpz-passthru.", "rpz-drop.", "garden.example.", "rpz-tcp-only."};
	owner_name(i, owner, sizeof(owner));
	if (i % 6 == 2)
		snprintf(buf, sizeof(buf), "%s %u IN A 10.9.%u.%u\n%s %u IN TXT \"v%u\"\n", owner,
			 60 + v, v % 250, i % 250, owner, 60 + v, v);
	else
		snprintf(buf, sizeof(buf), "%s %u IN CNAME %s\n", owner, 30 + v, acts[(i + v) % 6]);
	return strdup(buf);
}

static char *zone_text(void)
{
	size_t cap = 64 * 1024, len = 0;
	char *t = malloc(cap);
	len = (size_t)snprintf(t, cap, "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n");
	for (unsigned i = 0; i < OWNERS; i++) {
		if (model[i] == NULL)
			continue;
		size_t l = strlen(model[i]);
		while (len + l + 1 > cap)
			t = realloc(t, cap *= 2);
		memcpy(t + len, model[i], l + 1);
		len += l;
	}
	return t;
}

static struct policy_zone_spec zones[2];

static void specs_init(void)
{
	zones[0] = rpz_zone("first.", "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n"
				      "n6.example.first. CNAME rpz-passthru.\n"
				      "*.w7.example.first. CNAME .\n"
				      "32.3.0.0.10.rpz-ip.first. CNAME rpz-drop.\n");
	zones[1] = rpz_zone(ZONE, "");
}

static struct policy_snap *full_compile(void)
{
	char *t = zone_text();
	struct policy_zone_spec z[2] = {zones[0], rpz_zone(ZONE, t)};
	free(t);
	return build(z, 2);
}

static void hit_eq(const struct policy_hit *a, const struct policy_hit *b, const char *what)
{
	bool same = a->action == b->action && a->given == b->given &&
		    (a->action == POLICY_ACTION_NONE ||
		     (a->trigger == b->trigger && a->wildcard == b->wildcard &&
		      a->zone == b->zone && a->ttl == b->ttl && a->prefix_bits == b->prefix_bits &&
		      strcmp(a->match, b->match) == 0 && strcmp(a->zone_name, b->zone_name) == 0 &&
		      strcmp(a->category, b->category) == 0));
	CHECK(same);
	if (!same)
		fprintf(stderr, "  %s: delta %s %s %s ttl %u / full %s %s %s ttl %u\n", what,
			policy_action_name(a->action), a->match, a->zone_name, a->ttl,
			policy_action_name(b->action), b->match, b->zone_name, b->ttl);
}

static void answer_eq(const struct policy_snap *d, const struct policy_snap *f,
		      const struct dns_query *q, const struct policy_hit *hd,
		      const struct policy_hit *hf)
{
	uint8_t wd[1024], wf[1024];
	struct dns_answer ad = {.wire = wd, .cap = sizeof(wd)};
	struct dns_answer af = {.wire = wf, .cap = sizeof(wf)};
	int rd = policy_answer_build(d, q, hd, NULL, 0, &ad);
	int rf = policy_answer_build(f, q, hf, NULL, 0, &af);
	CHECK_EQ(rd, rf);
	if (rd == C2W_OK && rf == C2W_OK) {
		CHECK_EQ(ad.len, af.len);
		CHECK(ad.len == af.len && memcmp(wd, wf, ad.len) == 0);
	}
}

struct explain_acc {
	char text[4096];
	size_t len;
};

static void on_explain(void *ctx, const struct policy_hit *c, bool wins, const char *why)
{
	struct explain_acc *e = ctx;
	int n = snprintf(e->text + e->len, sizeof(e->text) - e->len, "%s %s %s %d %s|", c->match,
			 c->zone_name, policy_action_name(c->action), wins, why);
	if (n > 0 && e->len + (size_t)n < sizeof(e->text))
		e->len += (size_t)n;
}

/* Same answers from @d (layers) and @f (full compile) for every name the model ever had. */
static void compare(const struct policy_snap *d, const struct policy_snap *f)
{
	CHECK_EQ(policy_snap_rule_count(d), policy_snap_rule_count(f));
	CHECK_EQ(policy_snap_zone_rules(d, 1), policy_snap_zone_rules(f, 1));
	CHECK_EQ(policy_snap_has_ns_rules(d), policy_snap_has_ns_rules(f));
	for (unsigned i = 0; i < OWNERS; i++) {
		char name[160];
		struct policy_hit hd, hf;
		struct dns_query q;
		unsigned k = i % 6;
		if (k == 0 || k == 2)
			snprintf(name, sizeof(name), "%s%u.example.", k == 0 ? "n" : "ld", i);
		else if (k == 1)
			snprintf(name, sizeof(name), "x.y.w%u.example.", i);
		else
			snprintf(name, sizeof(name), "q%u.example.", i);
		q = mkq(name, k == 2 ? (i % 4 ? DNS_TYPE_A : DNS_TYPE_TXT) : DNS_TYPE_A);
		struct sockaddr_storage cl;
		char ip[64];
		snprintf(ip, sizeof(ip), "192.168.%u.%u", i / 250, i % 250);
		cl = mkaddr(ip);
		int vd = policy_match_query(d, &q, (struct sockaddr *)&cl, &hd, NULL);
		int vf = policy_match_query(f, &q, (struct sockaddr *)&cl, &hf, NULL);
		CHECK_EQ(vd, vf);
		hit_eq(&hd, &hf, name);
		if (vd == POLICY_VERDICT_ACT && hd.action == hf.action)
			answer_eq(d, f, &q, &hd, &hf);
		struct explain_acc ed = {.len = 0}, ef = {.len = 0};
		ed.text[0] = ef.text[0] = 0;
		CHECK_EQ(policy_explain(d, &q, (struct sockaddr *)&cl, on_explain, &ed),
			 policy_explain(f, &q, (struct sockaddr *)&cl, on_explain, &ef));
		CHECK_STREQ(ed.text, ef.text);
		if (k == 3 || k == 5) {
			/* an answer pointing into 10.0.x.y with an NS set of nsI.example. */
			struct msgb m;
			char ns[64];
			snprintf(ip, sizeof(ip), "10.0.%u.%u", i / 250, i % 250);
			snprintf(ns, sizeof(ns), "ns%u.example.", i);
			msg_start(&m, name, DNS_TYPE_A);
			msg_addr_rr(&m, 0, name, ip);
			msg_name_rr(&m, 1, "example.", DNS_TYPE_NS, ns);
			memset(&hd, 0, sizeof(hd));
			memset(&hf, 0, sizeof(hf));
			bool cd = policy_match_response(d, &q, NULL, m.buf, m.len, &hd, NULL);
			bool cf = policy_match_response(f, &q, NULL, m.buf, m.len, &hf, NULL);
			CHECK_EQ(cd, cf);
			hit_eq(&hd, &hf, name);
		}
	}
}

/* Owner @i of an increment: its name into @names/@owners, its records now onto @rec. */
static void push_owner(unsigned i, char (*names)[128], const char **owners, size_t *count,
		       char **rec, size_t *len, size_t *cap)
{
	owner_name(i, names[*count], sizeof(names[*count]));
	owners[*count] = names[*count];
	(*count)++;
	if (model[i] != NULL) {
		size_t l = strlen(model[i]);
		while (*len + l + 1 > *cap)
			*rec = realloc(*rec, *cap *= 2);
		memcpy(*rec + *len, model[i], l + 1);
		*len += l;
	}
}

/* Change @n random owners (delete, change, or add) and apply them as one increment. */
static int round_apply(struct policy_snap *cur, unsigned n, unsigned v,
		       const struct policy_build_opts *o, struct policy_snap **out)
{
	const char *owners[OWNERS];
	char names[OWNERS][128];
	char *saved[OWNERS];
	size_t cap = 1 << 16, len = 0, count = 0;
	char *rec = malloc(cap);
	bool touched[OWNERS] = {false};
	rec[0] = 0;
	memcpy(saved, model, sizeof(saved));
	for (unsigned c = 0; c < n; c++) {
		unsigned i = rnd() % OWNERS;
		if (touched[i])
			continue;
		touched[i] = true;
		model[i] = (model[i] != NULL && rnd() % 3 == 0) ? NULL : records_for(i, v + c);
		push_owner(i, names, owners, &count, &rec, &len, &cap);
	}
	struct policy_report rep;
	memset(&rep, 0, sizeof(rep));
	int ret = policy_snap_delta(cur, zones, 2, 1, rec, len, owners, count, o, &rep, out);
	for (unsigned i = 0; i < OWNERS; i++) {
		if (ret == C2W_OK && touched[i])
			ever[i] = true;
		if (ret != C2W_OK && model[i] != saved[i]) {
			free(model[i]);
			model[i] = saved[i]; /* refused: the model stays at the old version */
		} else if (ret == C2W_OK && model[i] != saved[i]) {
			free(saved[i]);
		}
	}
	free(rec);
	return ret;
}

static void model_reset(void)
{
	memset(ever, 0, sizeof(ever));
	for (unsigned i = 0; i < OWNERS; i++) {
		free(model[i]);
		model[i] = (i % 5 != 4) ? records_for(i, 0) : NULL;
	}
}

/* A served zone as a set of records, each as one line of hex (owner, type, TTL, rdata). */
struct rrset_text {
	char **line;
	size_t count, cap;
};

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void set_add(struct rrset_text *s, const char *line)
{
	if (s->count == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->line = realloc(s->line, s->cap * sizeof(*s->line));
	}
	s->line[s->count++] = strdup(line);
}

static int rec_line(void *ctx, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
		    const uint8_t *rdata, uint16_t rdlen)
{
	char line[2 * 600 + 64];
	hex(line, owner, owner_len);
	size_t l = 2 * owner_len;
	l += (size_t)snprintf(line + l, sizeof(line) - l, " %u %u ", type, ttl);
	if (l + 2 * (size_t)rdlen < sizeof(line))
		hex(line + l, rdata, rdlen);
	set_add(ctx, line);
	return C2W_OK;
}

struct delta_sets {
	struct rrset_text owners, add;
};

static int delta_owner(void *ctx, const uint8_t *owner, size_t owner_len)
{
	char line[600];
	hex(line, owner, owner_len);
	set_add(&((struct delta_sets *)ctx)->owners, line);
	return C2W_OK;
}

static int delta_rec(void *ctx, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
		     const uint8_t *rdata, uint16_t rdlen)
{
	return rec_line(&((struct delta_sets *)ctx)->add, owner, owner_len, type, ttl, rdata,
			rdlen);
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_free(struct rrset_text *s)
{
	for (size_t i = 0; i < s->count; i++)
		free(s->line[i]);
	free(s->line);
	memset(s, 0, sizeof(*s));
}

/* @served (the last version) with @d applied: records of @d's owners out, @d's records in. */
static void set_apply(struct rrset_text *served, struct delta_sets *d)
{
	struct rrset_text n = {0};
	for (size_t i = 0; i < served->count; i++) {
		bool gone = false;
		for (size_t o = 0; o < d->owners.count && !gone; o++) {
			size_t ol = strlen(d->owners.line[o]);
			gone = strncmp(served->line[i], d->owners.line[o], ol) == 0 &&
			       served->line[i][ol] == ' ';
		}
		if (!gone)
			set_add(&n, served->line[i]);
	}
	for (size_t i = 0; i < d->add.count; i++)
		set_add(&n, d->add.line[i]);
	set_free(served);
	*served = n;
	qsort(served->line, served->count, sizeof(*served->line), line_cmp);
}

static void set_eq(const struct rrset_text *a, const struct rrset_text *b, unsigned round)
{
	size_t i = 0;
	while (i < a->count && i < b->count && strcmp(a->line[i], b->line[i]) == 0)
		i++;
	if (i < a->count || i < b->count)
		fprintf(stderr, "round %u: served after the increment %s / full export %s\n", round,
			i < a->count ? a->line[i] : "(end)", i < b->count ? b->line[i] : "(end)");
	CHECK_EQ(a->count, b->count);
	CHECK(i == a->count && i == b->count);
}

static void export_set(const struct policy_snap *s, struct rrset_text *out)
{
	CHECK_EQ(policy_export_zone(s, 1, rec_line, out), C2W_OK);
	qsort(out->line, out->count, sizeof(*out->line), line_cmp);
}

static void test_rounds_match_full_compile(void)
{
	specs_init();
	model_reset();
	struct policy_snap *cur = full_compile();
	compare(cur, cur);
	struct rrset_text served = {0};
	export_set(cur, &served);
	static const unsigned sizes[] = {1, 5, 40, 1, 200, 3, 1, 80, 10, 300};
	for (unsigned r = 0; r < 10; r++) {
		struct policy_snap *next = NULL;
		CHECK_EQ(round_apply(cur, sizes[r], 100 * (r + 1), NULL, &next), C2W_OK);
		if (next == NULL)
			break;
		struct delta_sets d = {0};
		CHECK_EQ(policy_export_delta(next, cur, 1, delta_owner, delta_rec, &d), C2W_OK);
		CHECK(d.owners.count > 0 && d.owners.count <= sizes[r]);
		/* not one layer over: the full export it must be */
		CHECK_EQ(policy_export_delta(next, next, 1, delta_owner, delta_rec, &d),
			 C2W_EINVAL);
		set_apply(&served, &d);
		set_free(&d.owners);
		set_free(&d.add);
		policy_snap_free(cur); /* the new one keeps the shared parts alive */
		cur = next;
		unsigned layers;
		uint64_t keys;
		policy_snap_delta_size(cur, &layers, &keys);
		CHECK_EQ(layers, r + 1);
		struct policy_snap *full = full_compile();
		compare(cur, full);
		struct rrset_text want = {0}, layered = {0};
		export_set(full, &want);
		set_eq(&served, &want, r);
		/* the whole zone from the layered snapshot says the same */
		export_set(cur, &layered);
		set_eq(&layered, &want, r);
		set_free(&layered);
		set_free(&want);
		policy_snap_free(full);
	}
	set_free(&served);
	policy_snap_free(cur);
}

/* Delete a rule of the full image, re-add it with other data, delete it again. */
static void test_delete_readd(void)
{
	specs_init();
	model_reset();
	struct policy_snap *s0 = full_compile(), *s1 = NULL, *s2 = NULL, *s3 = NULL;
	const char *own[] = {"n0.example." ZONE};
	struct dns_query q = mkq("n0.example.", DNS_TYPE_A);
	struct policy_hit h;
	/* RECURSE: the first zone has a RESPONSE-IP rule that could still win */
	CHECK_EQ(policy_match_query(s0, &q, NULL, &h, NULL), POLICY_VERDICT_RECURSE);
	CHECK_EQ(policy_snap_delta(s0, zones, 2, 1, "", 0, own, 1, NULL, NULL, &s1), C2W_OK);
	CHECK_EQ(policy_match_query(s1, &q, NULL, &h, NULL), POLICY_VERDICT_NONE);
	CHECK_EQ(policy_snap_zone_rules(s1, 1), policy_snap_zone_rules(s0, 1) - 1);
	const char *rec = "n0.example." ZONE " 77 IN A 192.0.2.7\n";
	CHECK_EQ(policy_snap_delta(s1, zones, 2, 1, rec, strlen(rec), own, 1, NULL, NULL, &s2),
		 C2W_OK);
	CHECK_EQ(policy_match_query(s2, &q, NULL, &h, NULL), POLICY_VERDICT_RECURSE);
	CHECK_EQ(h.action, POLICY_ACTION_LOCAL_DATA);
	CHECK_EQ(h.ttl, 77);
	CHECK_EQ(policy_snap_zone_rules(s2, 1), policy_snap_zone_rules(s0, 1));
	/* the older snapshots still answer as they did, and outlive their successors' base */
	CHECK_EQ(policy_match_query(s1, &q, NULL, &h, NULL), POLICY_VERDICT_NONE);
	policy_snap_free(s0);
	CHECK_EQ(policy_snap_delta(s2, zones, 2, 1, "", 0, own, 1, NULL, NULL, &s3), C2W_OK);
	CHECK_EQ(policy_match_query(s3, &q, NULL, &h, NULL), POLICY_VERDICT_NONE);
	CHECK_EQ(policy_match_query(s2, &q, NULL, &h, NULL), POLICY_VERDICT_RECURSE);
	policy_snap_free(s2);
	policy_snap_free(s1);
	CHECK_EQ(policy_match_query(s3, &q, NULL, &h, NULL), POLICY_VERDICT_NONE);
	policy_snap_free(s3);
}

static void test_guard_rails(void)
{
	specs_init();
	model_reset();
	struct policy_snap *s0 = full_compile(), *s1 = NULL;
	const char *own[] = {"bank.isp.example." ZONE};
	const char *rec = "bank.isp.example." ZONE " 60 IN CNAME .\n";
	const char *nb[] = {"*.isp.example."};
	struct policy_build_opts o = {
	    .never_block = nb, .never_block_count = 1, .protect_mode = POLICY_PROTECT_REFUSE};
	struct policy_report rep;
	memset(&rep, 0, sizeof(rep));
	CHECK_EQ(policy_snap_delta(s0, zones, 2, 1, rec, strlen(rec), own, 1, &o, &rep, &s1),
		 C2W_EPROTECTED);
	CHECK(s1 == NULL);
	o.protect_mode = POLICY_PROTECT_DROP;
	CHECK_EQ(policy_snap_delta(s0, zones, 2, 1, rec, strlen(rec), own, 1, &o, &rep, &s1),
		 C2W_OK);
	struct dns_query q = mkq("bank.isp.example.", DNS_TYPE_A);
	struct policy_hit h;
	CHECK_EQ(policy_match_query(s1, &q, NULL, &h, NULL), POLICY_VERDICT_NONE);
	CHECK_EQ(policy_snap_zone_rules(s1, 1), policy_snap_zone_rules(s0, 1));
	policy_snap_free(s1);
	s1 = NULL;
	/* max-change: deleting 100 of 480 rules is more than 10% */
	struct policy_build_opts mc = {.max_change = 0.1};
	const char *many[100];
	char names[100][128];
	for (unsigned i = 0; i < 100; i++) {
		owner_name(i * 5, names[i], sizeof(names[i])); /* i % 5 != 4: all present */
		many[i] = names[i];
	}
	CHECK_EQ(policy_snap_delta(s0, zones, 2, 1, "", 0, many, 100, &mc, &rep, &s1), C2W_ERANGE);
	CHECK(s1 == NULL);
	CHECK(strstr(rep.error, "increment refused") != NULL);
	/* a small one passes */
	CHECK_EQ(round_apply(s0, 2, 9, &mc, &s1), C2W_OK);
	policy_snap_free(s1);
	/* specs that do not match the snapshot: refused, the caller recompiles */
	CHECK_EQ(policy_snap_delta(s0, zones, 1, 0, "", 0, own, 1, NULL, NULL, &s1), C2W_EINVAL);
	policy_snap_free(s0);
}

static void test_layer_limit(void)
{
	specs_init();
	model_reset();
	struct policy_snap *cur = full_compile();
	int ret = C2W_OK;
	unsigned n = 0;
	while (ret == C2W_OK && n < POLICY_DELTA_LAYERS_MAX + 2) {
		struct policy_snap *next = NULL;
		ret = round_apply(cur, 1, n, NULL, &next);
		if (ret == C2W_OK) {
			policy_snap_free(cur);
			cur = next;
			n++;
		}
	}
	CHECK_EQ(ret, C2W_EFULL);
	CHECK_EQ(n, POLICY_DELTA_LAYERS_MAX);
	struct policy_snap *full = full_compile();
	compare(cur, full);
	policy_snap_free(full);
	policy_snap_free(cur);
	for (unsigned i = 0; i < OWNERS; i++) {
		free(model[i]);
		model[i] = NULL;
	}
}

/* A rebase (what the daemon does when layers stack up, docs/policy.md "Increments"): every
 * owner the layers touched, with its records now, as one layer over the full snapshot under
 * them, answers as the layers did and as a full compile does. */
static void test_rebase(void)
{
	specs_init();
	model_reset();
	struct policy_snap *cur = full_compile();
	const struct policy_snap *base = cur;
	CHECK(policy_snap_base(cur) == cur);
	for (unsigned r = 0; r < 12; r++) {
		struct policy_snap *next = NULL;
		CHECK_EQ(round_apply(cur, 1 + r * 7 % 40, 50 * (r + 1), NULL, &next), C2W_OK);
		policy_snap_free(cur);
		cur = next;
		CHECK(policy_snap_base(cur) == base);
	}
	const char *owners[OWNERS];
	char names[OWNERS][128];
	size_t count = 0, cap = 1 << 16, len = 0;
	char *rec = malloc(cap);
	rec[0] = 0;
	for (unsigned i = 0; i < OWNERS; i++)
		if (ever[i])
			push_owner(i, names, owners, &count, &rec, &len, &cap);
	CHECK(count > 40);
	struct policy_snap *folded = NULL;
	struct policy_report rep;
	memset(&rep, 0, sizeof(rep));
	CHECK_EQ(policy_snap_delta(policy_snap_base(cur), zones, 2, 1, rec, len, owners, count,
				   NULL, &rep, &folded),
		 C2W_OK);
	free(rec);
	unsigned layers;
	uint64_t keys, keys_before;
	policy_snap_delta_size(cur, &layers, &keys_before);
	CHECK_EQ(layers, 12);
	policy_snap_delta_size(folded, &layers, &keys);
	CHECK_EQ(layers, 1);
	CHECK(keys <= keys_before);
	CHECK(policy_snap_base(folded) == base);
	struct policy_snap *full = full_compile();
	compare(folded, full);
	compare(cur, full);
	struct rrset_text want = {0}, got = {0};
	export_set(full, &want);
	export_set(folded, &got);
	set_eq(&got, &want, 99);
	set_free(&got);
	set_free(&want);
	/* the running snapshot goes first (as the daemon swaps): the folded one keeps the base */
	policy_snap_free(cur);
	struct policy_snap *next = NULL;
	CHECK_EQ(round_apply(folded, 30, 5000, NULL, &next), C2W_OK);
	policy_snap_free(folded);
	policy_snap_free(full);
	full = full_compile();
	compare(next, full);
	policy_snap_free(full);
	policy_snap_free(next);
}

/* Flatten (what the daemon does when the layers outgrow a rebase): the layers folded into one
 * full image from the images, with the answers, counts and served records of a full compile;
 * increments then stack on it as on any full snapshot. */
static void test_flatten(void)
{
	specs_init();
	model_reset();
	struct policy_snap *cur = full_compile();
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned r = 0; r < 9; r++) {
			struct policy_snap *next = NULL;
			CHECK_EQ(round_apply(cur, 1 + (r * 13 + round) % 90, 700 * (round + 1) + 20 * r,
					     NULL, &next),
				 C2W_OK);
			policy_snap_free(cur);
			cur = next;
		}
		struct policy_snap *flat = NULL;
		CHECK_EQ(policy_snap_flatten(cur, NULL, NULL, &flat), C2W_OK);
		if (flat == NULL)
			break;
		unsigned layers;
		uint64_t keys;
		policy_snap_delta_size(flat, &layers, &keys);
		CHECK_EQ(layers, 0);
		CHECK_EQ(keys, 0);
		CHECK(policy_snap_base(flat) == flat);
		struct policy_snap *full = full_compile();
		compare(flat, full);
		compare(cur, flat);
		CHECK_EQ(policy_snap_zone_rules(flat, 0), policy_snap_zone_rules(full, 0));
		struct rrset_text want = {0}, got = {0};
		export_set(full, &want);
		export_set(flat, &got);
		set_eq(&got, &want, 200 + round);
		set_free(&got);
		set_free(&want);
		/* the same size as the full compile's image, give or take the order of entries */
		CHECK(policy_snap_size(flat) <= policy_snap_size(full) + 64);
		policy_snap_free(full);
		policy_snap_free(cur); /* the flat one shares nothing with it */
		cur = flat;
	}
	policy_snap_free(cur);
}

/* Wildcard nodes after increments: a full compile records every ancestor of a QNAME trigger in
 * a zone with wildcards, and a wildcard does not reach below an existing node (BIND's closest
 * encloser). Layers union the nodes they were compiled with; flattening computes them from the
 * rules now live, as a full compile does. */
static void test_flatten_nodes(void)
{
	struct policy_zone_spec z0[1] = {
	    rpz_zone("nd.", "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n*.example.nd. CNAME .\n"
			    "a.b.example.nd. CNAME rpz-passthru.\n")};
	struct policy_snap *s0 = build(z0, 1), *s1 = NULL, *s2 = NULL, *flat = NULL;
	struct dns_query qb = mkq("x.b.example.", DNS_TYPE_A), qd = mkq("x.d.example.", DNS_TYPE_A);
	struct policy_hit h;
	/* b.example. is a node: the wildcard does not reach x.b.example. */
	CHECK_EQ(policy_match_query(s0, &qb, NULL, &h, NULL), POLICY_VERDICT_NONE);
	CHECK_EQ(policy_match_query(s0, &qd, NULL, &h, NULL), POLICY_VERDICT_ACT);
	/* delete a.b.example., add c.d.example. */
	const char *own[] = {"a.b.example.nd.", "c.d.example.nd."};
	const char *rec = "c.d.example.nd. 60 IN CNAME rpz-passthru.\n";
	CHECK_EQ(policy_snap_delta(s0, z0, 1, 0, rec, strlen(rec), own, 2, NULL, NULL, &s1), C2W_OK);
	CHECK_EQ(policy_snap_flatten(s1, NULL, NULL, &flat), C2W_OK);
	struct policy_zone_spec z1[1] = {
	    rpz_zone("nd.", "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n*.example.nd. CNAME .\n"
			    "c.d.example.nd. CNAME rpz-passthru.\n")};
	s2 = build(z1, 1);
	CHECK_EQ(policy_match_query(s2, &qb, NULL, &h, NULL), POLICY_VERDICT_ACT);
	CHECK_EQ(policy_match_query(s2, &qd, NULL, &h, NULL), POLICY_VERDICT_NONE);
	CHECK_EQ(policy_match_query(flat, &qb, NULL, &h, NULL), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	CHECK_EQ(policy_match_query(flat, &qd, NULL, &h, NULL), POLICY_VERDICT_NONE);
	CHECK_EQ(policy_snap_rule_count(flat), policy_snap_rule_count(s2));
	CHECK_EQ(policy_snap_size(flat), policy_snap_size(s2));
	/* SOA timers of the copy in force: the layers never carried them, a flatten takes them */
	const uint8_t *rd, *rd2;
	uint16_t len, len2;
	uint32_t ttl, ttl2;
	CHECK(policy_snap_zone_soa(flat, 0, &rd, &len, &ttl));
	CHECK(len >= 20 && rd[len - 20 + 3] == 1); /* serial 1, as compiled */
	struct policy_soa_timers soa = {.set = true, .v = {70000, 3600, 600, 86400, 30}};
	struct policy_snap *flat2 = NULL;
	CHECK_EQ(policy_snap_flatten(s1, &soa, NULL, &flat2), C2W_OK);
	CHECK(policy_snap_zone_soa(flat2, 0, &rd2, &len2, &ttl2));
	CHECK_EQ(len2, len);
	CHECK_EQ(ttl2, ttl);
	CHECK(len2 == len && memcmp(rd2, rd, len - 20) == 0); /* the names as they were */
	static const uint8_t want[20] = {0, 1, 0x11, 0x70, 0, 0, 0x0e, 0x10, 0, 0,
					 0x02, 0x58, 0, 1, 0x51, 0x80, 0, 0, 0, 30};
	CHECK(len2 >= 20 && memcmp(rd2 + len2 - 20, want, 20) == 0);
	CHECK_EQ(policy_match_query(flat2, &qb, NULL, &h, NULL), POLICY_VERDICT_ACT);
	policy_snap_free(flat2);
	policy_snap_free(s2);
	policy_snap_free(flat);
	policy_snap_free(s1);
	policy_snap_free(s0);
}

/* Never-block entries live in the full image only: a flatten keeps them, and a wildcard rule
 * still rewrites nothing below a protected name. */
static void test_flatten_protect(void)
{
	const char *nb[] = {"*.isp.example."};
	struct policy_build_opts o = {.never_block = nb, .never_block_count = 1};
	struct policy_zone_spec z[1] = {rpz_zone(
	    "pr.", "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n*.example.pr. CNAME .\nbad.example.pr. CNAME .\n")};
	struct policy_snap *s0 = NULL, *s1 = NULL, *flat = NULL;
	struct policy_report rep;
	memset(&rep, 0, sizeof(rep));
	CHECK_EQ(policy_snap_build(z, 1, &o, &rep, &s0), C2W_OK);
	const char *own[] = {"bad.example.pr.", "new.example.pr."};
	const char *rec = "new.example.pr. 60 IN CNAME rpz-drop.\n";
	CHECK_EQ(policy_snap_delta(s0, z, 1, 0, rec, strlen(rec), own, 2, &o, &rep, &s1), C2W_OK);
	CHECK_EQ(policy_snap_flatten(s1, NULL, NULL, &flat), C2W_OK);
	struct dns_query qp = mkq("a.isp.example.", DNS_TYPE_A), qo = mkq("a.other.example.", DNS_TYPE_A),
			 qb = mkq("bad.example.", DNS_TYPE_A), qn = mkq("new.example.", DNS_TYPE_A);
	struct policy_hit h;
	const struct policy_snap *all[] = {s1, flat};
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(policy_match_query(all[i], &qp, NULL, &h, NULL), POLICY_VERDICT_NONE);
		CHECK_EQ(policy_match_query(all[i], &qo, NULL, &h, NULL), POLICY_VERDICT_ACT);
		CHECK_EQ(policy_match_query(all[i], &qb, NULL, &h, NULL), POLICY_VERDICT_ACT);
		CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN); /* the wildcard, its own rule gone */
		CHECK_EQ(policy_match_query(all[i], &qn, NULL, &h, NULL), POLICY_VERDICT_ACT);
		CHECK_EQ(h.action, POLICY_ACTION_DROP);
	}
	CHECK_EQ(policy_snap_rule_count(flat), 2);
	policy_snap_free(flat);
	policy_snap_free(s1);
	policy_snap_free(s0);
}

/* Every allocation of a flatten failing in turn: ENOMEM, nothing leaked, the layered
 * snapshot untouched; then it succeeds. */
static void test_flatten_oom(void)
{
	specs_init();
	model_reset();
	struct policy_snap *cur = full_compile();
	for (unsigned r = 0; r < 3; r++) {
		struct policy_snap *next = NULL;
		CHECK_EQ(round_apply(cur, 40, 9000 + r, NULL, &next), C2W_OK);
		policy_snap_free(cur);
		cur = next;
	}
	struct policy_snap *flat = NULL;
	int ret = C2W_ENOMEM;
	unsigned long n;
	for (n = 0; n < 10000 && ret != C2W_OK; n++) {
		arm(n);
		ret = policy_snap_flatten(cur, NULL, NULL, &flat);
		disarm();
		if (ret != C2W_OK) {
			CHECK_EQ(ret, C2W_ENOMEM);
			CHECK(flat == NULL);
			CHECK_EQ(g_live, 0);
		}
	}
	CHECK_EQ(ret, C2W_OK);
#ifndef OOM_SANITIZED
	CHECK(n > 8); /* each of its allocations failed once */
#endif
	fprintf(stderr, "flatten: %lu allocations\n", n - 1);
	struct policy_snap *full = full_compile();
	compare(flat, full);
	policy_snap_free(full);
	policy_snap_free(flat);
	policy_snap_free(cur);
	for (unsigned i = 0; i < OWNERS; i++) {
		free(model[i]);
		model[i] = NULL;
	}
}

struct fold_job {
	struct policy_snap *from;
	atomic_bool cancel;
	struct policy_snap *flat;
	int ret;
};

static void *fold_thread(void *arg)
{
	struct fold_job *j = arg;
	j->ret = policy_snap_flatten(j->from, NULL, &j->cancel, &j->flat);
	return NULL;
}

/* The daemon folds on its transfer thread while the workers look up in the same snapshot
 * and the main thread lets go of it: a hold keeps it, the fold reads it only, and a set flag
 * stops the fold with nothing made. */
static void test_flatten_other_thread(void)
{
	specs_init();
	model_reset();
	struct policy_snap *cur = full_compile();
	for (unsigned r = 0; r < 3; r++) {
		struct policy_snap *next = NULL;
		CHECK_EQ(round_apply(cur, 40, 9100 + r, NULL, &next), C2W_OK);
		policy_snap_free(cur);
		cur = next;
	}
	/* given up before it starts: EAGAIN, nothing made, nothing held */
	struct fold_job j = {.from = policy_snap_hold(cur)};
	CHECK(j.from == cur);
	atomic_store(&j.cancel, true);
	fold_thread(&j);
	CHECK_EQ(j.ret, C2W_EAGAIN);
	CHECK(j.flat == NULL);
	/* on another thread while this one looks up in it, then lets go of its own reference */
	atomic_store(&j.cancel, false);
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, fold_thread, &j), 0);
	struct dns_query q = mkq("o17.example.dz.", DNS_TYPE_A);
	struct policy_hit h;
	for (unsigned i = 0; i < 20000; i++)
		(void)policy_match_query(cur, &q, NULL, &h, NULL);
	policy_snap_free(cur); /* the hold keeps it for the fold */
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(j.ret, C2W_OK);
	struct policy_snap *full = full_compile();
	compare(j.flat, full);
	policy_snap_free(full);
	policy_snap_free(j.flat);
	policy_snap_free(j.from);
	for (unsigned i = 0; i < OWNERS; i++) {
		free(model[i]);
		model[i] = NULL;
	}
}

TEST_MAIN(TEST(test_rounds_match_full_compile), TEST(test_delete_readd), TEST(test_guard_rails),
	  TEST(test_layer_limit), TEST(test_rebase), TEST(test_flatten), TEST(test_flatten_nodes),
	  TEST(test_flatten_protect), TEST(test_flatten_oom),
	  TEST(test_flatten_other_thread))

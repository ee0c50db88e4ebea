/* SPDX-License-Identifier: MIT */
/*
 * Zone transfer message sequence (RFC 5936 AXFR, RFC 1995 IXFR) with TSIG (RFC 8945) through
 * libknot: packet parsing, signing and verification are libknot's; the record sequence, the
 * serial checks and the delta bookkeeping are ours. No I/O (feed/xfr_io.c does the TCP).
 */
#include "feed/xfr.h"

#include <libknot/libknot.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define TEXT_MAX   70000 /* one record in presentation form: 64 KiB RDATA and the header */
#define DIGEST_MAX 64
#define LINE_BLOCK ((size_t)1 << 20)

enum xfr_state {
	XS_FIRST,    /* expecting the first SOA */
	XS_SECOND,   /* after the first SOA: IXFR deltas, AXFR records, or the end */
	XS_AXFR,     /* full zone records until the closing SOA */
	XS_IXFR_DEL, /* deletions of one version */
	XS_IXFR_ADD, /* additions of the next version */
	XS_DONE,
	XS_FAILED,
};

struct xfr_op {
	bool add;
	bool soa; /* the new SOA of a version (additions only) */
	char *line;
};

/*
 * The IXFR's record lines, packed into blocks mapped on their own. They live from the
 * transfer to the apply; unmapped, they go back to the system at once. As one malloc'd string
 * each (a 100,000-change IXFR: 7 MiB with malloc's headers) they stayed in this thread's
 * arena after feed_xfr_free(), while the main thread compiled the increment in its own:
 * both at the memory peak of the change (issue 9).
 */
struct line_block {
	struct line_block *next;
	size_t used, cap; /* bytes of data[] */
	char data[];
};

/*
 * What libknot allocates while parsing one message (the packet, each record's owner and
 * data): bumped from blocks kept for the whole transfer and reset after each message, instead
 * of a malloc() and free() per record. At 10M rules the transfer thread's heap is fragmented
 * by the held copy, and those mallocs were most of an IXFR's parse time (issue 9). Bounded:
 * one message is at most 64 KiB, so what it can make libknot allocate is a few MiB at most.
 */
#define ARENA_BLOCK ((size_t)256 << 10)

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(16) uint8_t data[];
};

struct msg_arena {
	struct arena_block *head, *cur; /* blocks in order; allocating from cur */
};

struct feed_xfr {
	char origin[KNOT_DNAME_TXT_MAXLEN + 1];
	uint8_t origin_dn[KNOT_DNAME_MAXLEN];
	enum feed_xfr_type type;
	const knot_tsig_key_t *key;
	uint16_t id;
	bool have_cur;
	uint32_t cur_serial; /* the serial we hold */
	uint32_t new_serial; /* the serial the primary announces first */
	uint32_t ver_serial; /* IXFR: version being deleted from / added to */
	enum xfr_state state;
	bool axfr_style; /* IXFR answered with a full zone */
	bool wants_axfr;
	/* TSIG chain: the request MAC first, then each verified response MAC. */
	uint8_t digest[DIGEST_MAX];
	size_t digest_len;
	uint64_t prev_signed;
	uint64_t messages, records;
	struct feed_zone *full; /* AXFR result being built */
	char *first_soa;        /* line of the first SOA */
	struct feed_soa first_soa_f;
	struct xfr_op *ops; /* IXFR deltas in order */
	size_t op_count, op_cap;
	struct line_block *lines; /* newest first */
	struct msg_arena arena;
	knot_mm_t mm; /* libknot's allocator for a message: the arena */
	uint8_t buf[KNOT_WIRE_MAX_PKTSIZE];
	char text[TEXT_MAX];
	char err[256];
};

static int fail(struct feed_xfr *x, int code, const char *fmt, ...) C2W_PRINTF(3, 4);

static int fail(struct feed_xfr *x, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err, sizeof(x->err), fmt, ap);
	va_end(ap);
	x->state = XS_FAILED;
	return code;
}

static void *arena_alloc(void *ctx, size_t len)
{
	struct msg_arena *a = ctx;
	if (len > ((size_t)1 << 30))
		return NULL; /* no message needs that */
	len = (len + 15) & ~(size_t)15;
	if (len == 0)
		len = 16;
	for (;;) {
		struct arena_block *b = a->cur;
		if (b != NULL && b->cap - b->used >= len) {
			void *p = b->data + b->used;
			b->used += len;
			return p;
		}
		if (b != NULL && b->next != NULL) {
			a->cur = b->next; /* kept from an earlier message: reused */
			continue;
		}
		size_t cap = len > ARENA_BLOCK ? len : ARENA_BLOCK;
		struct arena_block *n = malloc(sizeof(*n) + cap);
		if (n == NULL)
			return NULL;
		*n = (struct arena_block){.cap = cap};
		if (b != NULL)
			b->next = n;
		else
			a->head = n;
		a->cur = n;
	}
}

/* Everything of the last message given back at once; the blocks stay for the next one. */
static void arena_reset(struct msg_arena *a)
{
	for (struct arena_block *b = a->head; b != NULL; b = b->next)
		b->used = 0;
	a->cur = a->head;
}

static void arena_free(struct msg_arena *a)
{
	while (a->head != NULL) {
		struct arena_block *b = a->head;
		a->head = b->next;
		free(b);
	}
	a->cur = NULL;
}

int feed_xfr_new(const char *origin, enum feed_xfr_type type, const struct feed_zone *current,
		 const knot_tsig_key_t *key, struct feed_xfr **out)
{
	struct feed_soa soa;
	bool have = current != NULL && feed_zone_soa(current, &soa);
	if (type == FEED_XFR_IXFR && !have)
		return C2W_EINVAL;
	struct feed_xfr *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return C2W_ENOMEM;
	if (snprintf(x->origin, sizeof(x->origin), "%s", origin) >= (int)sizeof(x->origin) ||
	    knot_dname_from_str(x->origin_dn, origin, sizeof(x->origin_dn)) == NULL) {
		free(x);
		return C2W_EINVAL;
	}
	knot_dname_to_lower(x->origin_dn);
	x->type = type;
	x->key = key;
	x->have_cur = have;
	x->cur_serial = have ? soa.serial : 0;
	x->mm = (knot_mm_t){.ctx = &x->arena, .alloc = arena_alloc, .free = NULL};
	*out = x;
	return C2W_OK;
}

void feed_xfr_free(struct feed_xfr *x)
{
	if (x == NULL)
		return;
	while (x->lines != NULL) {
		struct line_block *b = x->lines;
		x->lines = b->next;
		munmap(b, sizeof(*b) + b->cap);
	}
	free(x->ops);
	free(x->first_soa);
	feed_zone_free(x->full);
	arena_free(&x->arena);
	free(x);
}

const char *feed_xfr_error(const struct feed_xfr *x)
{
	return x->err;
}

bool feed_xfr_wants_axfr(const struct feed_xfr *x)
{
	return x->wants_axfr;
}

void feed_xfr_counts(const struct feed_xfr *x, uint64_t *messages, uint64_t *records)
{
	*messages = x->messages;
	*records = x->records;
}

/* RFC 1995 2: the IXFR query carries our SOA in the authority section; only the serial
 * matters to the primary, so the names are the root. */
static int put_ixfr_soa(struct feed_xfr *x, knot_pkt_t *pkt)
{
	uint8_t rd[2 + 20] = {0};
	knot_wire_write_u32(rd + 2, x->cur_serial);
	knot_rrset_t soa;
	knot_rrset_init(&soa, x->origin_dn, KNOT_RRTYPE_SOA, KNOT_CLASS_IN, 0);
	if (knot_rrset_add_rdata(&soa, rd, sizeof(rd), NULL) != KNOT_EOK)
		return C2W_ENOMEM;
	int ret = knot_pkt_begin(pkt, KNOT_AUTHORITY);
	if (ret == KNOT_EOK)
		ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_QNAME, &soa, 0);
	knot_rdataset_clear(&soa.rrs, NULL);
	return ret == KNOT_EOK ? C2W_OK : C2W_ESPACE;
}

int feed_xfr_query(struct feed_xfr *x, uint16_t id, uint8_t *buf, size_t cap, size_t *len)
{
	knot_pkt_t *pkt = knot_pkt_new(NULL, KNOT_WIRE_MAX_PKTSIZE, NULL);
	if (pkt == NULL)
		return C2W_ENOMEM;
	x->id = id;
	knot_wire_set_id(pkt->wire, id);
	uint16_t qtype = x->type == FEED_XFR_IXFR ? KNOT_RRTYPE_IXFR : KNOT_RRTYPE_AXFR;
	int ret = knot_pkt_put_question(pkt, x->origin_dn, KNOT_CLASS_IN, qtype) == KNOT_EOK
		      ? C2W_OK
		      : C2W_ESPACE;
	if (ret == C2W_OK && x->type == FEED_XFR_IXFR)
		ret = put_ixfr_soa(x, pkt);
	size_t n = pkt->size;
	if (ret == C2W_OK && n > cap)
		ret = C2W_ESPACE;
	if (ret == C2W_OK)
		memcpy(buf, pkt->wire, n);
	knot_pkt_free(pkt);
	if (ret != C2W_OK)
		return ret;
	if (x->key != NULL) {
		x->digest_len = sizeof(x->digest);
		if (knot_tsig_sign(buf, &n, cap, NULL, 0, x->digest, &x->digest_len, x->key, 0, 0) !=
		    KNOT_EOK)
			return C2W_ETSIG;
	}
	*len = n;
	return C2W_OK;
}

/* ---- one message ------------------------------------------------------------------------ */

static int verify_tsig(struct feed_xfr *x, const knot_pkt_t *pkt)
{
	if (x->key == NULL)
		return C2W_OK;
	if (pkt->tsig_rr == NULL)
		return fail(x, C2W_ETSIG, "message %llu is not signed",
			    (unsigned long long)x->messages);
	int ret = x->messages == 1
		      ? knot_tsig_client_check(pkt->tsig_rr, pkt->wire, pkt->size, x->digest,
					       x->digest_len, x->key, 0)
		      : knot_tsig_client_check_next(pkt->tsig_rr, pkt->wire, pkt->size, x->digest,
						    x->digest_len, x->key, x->prev_signed);
	if (ret != KNOT_EOK)
		return fail(x, C2W_ETSIG, "TSIG of message %llu: %s",
			    (unsigned long long)x->messages, knot_strerror(ret));
	size_t mac_len = knot_tsig_rdata_mac_length(pkt->tsig_rr);
	if (mac_len == 0 || mac_len > sizeof(x->digest))
		return fail(x, C2W_ETSIG, "TSIG MAC of message %llu has a bad length",
			    (unsigned long long)x->messages);
	memcpy(x->digest, knot_tsig_rdata_mac(pkt->tsig_rr), mac_len);
	x->digest_len = mac_len;
	x->prev_signed = knot_tsig_rdata_time_signed(pkt->tsig_rr);
	return C2W_OK;
}

static int check_header(struct feed_xfr *x, const knot_pkt_t *pkt)
{
	const uint8_t *w = pkt->wire;
	if (!knot_wire_get_qr(w) || knot_wire_get_id(w) != x->id ||
	    knot_wire_get_opcode(w) != KNOT_OPCODE_QUERY)
		return fail(x, C2W_EXFR, "message %llu is not an answer to our query",
			    (unsigned long long)x->messages);
	uint16_t rcode = knot_pkt_ext_rcode(pkt);
	if (rcode != KNOT_RCODE_NOERROR) {
		/* RFC 1995 4 / RFC 5936 2.2: a primary without IXFR answers NOTIMP or the like. */
		if (x->type == FEED_XFR_IXFR && x->messages == 1 &&
		    (rcode == KNOT_RCODE_NOTIMPL || rcode == KNOT_RCODE_FORMERR ||
		     rcode == KNOT_RCODE_SERVFAIL))
			x->wants_axfr = true;
		return fail(x, C2W_EXFR, "primary answered %s", knot_pkt_ext_rcode_name(pkt));
	}
	if (knot_wire_get_tc(w))
		return fail(x, C2W_EXFR, "message %llu is truncated", (unsigned long long)x->messages);
	uint16_t qd = knot_wire_get_qdcount(w);
	if (x->messages == 1 && qd != 1)
		return fail(x, C2W_EXFR, "first message has no question");
	if (qd > 1)
		return fail(x, C2W_EXFR, "more than one question");
	if (qd == 1) {
		uint16_t qtype = x->type == FEED_XFR_IXFR ? KNOT_RRTYPE_IXFR : KNOT_RRTYPE_AXFR;
		if (!knot_dname_is_equal(knot_pkt_qname(pkt), x->origin_dn) ||
		    knot_pkt_qtype(pkt) != qtype || knot_pkt_qclass(pkt) != KNOT_CLASS_IN)
			return fail(x, C2W_EXFR, "answer is for another question");
	}
	return C2W_OK;
}

/* ---- the record sequence ---------------------------------------------------------------- */

static int dump(struct feed_xfr *x, const knot_rrset_t *rr, uint16_t pos)
{
	knot_dump_style_t style = KNOT_DUMP_STYLE_DEFAULT;
	style.wrap = false;
	style.show_class = true;
	style.show_ttl = true;
	style.human_ttl = false;
	style.human_timestamp = false;
	int n = knot_rrset_txt_dump_header(rr, rr->ttl, x->text, sizeof(x->text), &style);
	if (n < 0)
		return fail(x, C2W_EMALF, "record cannot be shown as text");
	int m = knot_rrset_txt_dump_data(rr, pos, x->text + n, sizeof(x->text) - (size_t)n, &style);
	if (m < 0)
		return fail(x, C2W_EMALF, "record data cannot be shown as text");
	/* One line: the dumper separates fields with tabs; newlines cannot occur unwrapped. */
	for (char *c = x->text; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return C2W_OK;
}

/* A copy of x->text in the line blocks; NULL when out of memory. */
static char *keep_text(struct feed_xfr *x)
{
	size_t n = strlen(x->text) + 1;
	struct line_block *b = x->lines;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > LINE_BLOCK - sizeof(*b) ? n : LINE_BLOCK - sizeof(*b);
		b = mmap(NULL, sizeof(*b) + cap, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			return NULL;
		b->next = x->lines;
		b->used = 0;
		b->cap = cap;
		x->lines = b;
	}
	char *line = b->data + b->used;
	memcpy(line, x->text, n);
	b->used += n;
	return line;
}

static int add_op(struct feed_xfr *x, bool add, bool soa)
{
	if (x->op_count == x->op_cap) {
		size_t ncap = x->op_cap ? x->op_cap * 2 : 64;
		struct xfr_op *n = realloc(x->ops, ncap * sizeof(*n));
		if (n == NULL)
			return fail(x, C2W_ENOMEM, "out of memory");
		x->ops = n;
		x->op_cap = ncap;
	}
	char *line = keep_text(x);
	if (line == NULL)
		return fail(x, C2W_ENOMEM, "out of memory");
	x->ops[x->op_count++] = (struct xfr_op){.add = add, .soa = soa, .line = line};
	return C2W_OK;
}

static void soa_fields(const knot_rdata_t *rd, struct feed_soa *s)
{
	s->serial = knot_soa_serial(rd);
	s->refresh = knot_soa_refresh(rd);
	s->retry = knot_soa_retry(rd);
	s->expire = knot_soa_expire(rd);
	s->minimum = knot_soa_minimum(rd);
}

static int on_first_soa(struct feed_xfr *x, const struct feed_soa *s)
{
	x->new_serial = s->serial;
	if (x->have_cur && feed_serial_gt(x->cur_serial, s->serial))
		return fail(x, C2W_ESERIAL, "primary serial %u is older than ours (%u)", s->serial,
			    x->cur_serial);
	x->first_soa_f = *s;
	if ((x->first_soa = strdup(x->text)) == NULL)
		return fail(x, C2W_ENOMEM, "out of memory");
	x->state = XS_SECOND;
	return C2W_OK;
}

static int start_full(struct feed_xfr *x)
{
	if (feed_zone_new(x->origin, &x->full) != C2W_OK ||
	    feed_zone_set_soa(x->full, x->first_soa, &x->first_soa_f) != C2W_OK)
		return fail(x, C2W_ENOMEM, "out of memory");
	/* Records per owner are counted after the transfer (feed_zone_count_owners()). */
	feed_zone_defer_owners(x->full);
	x->axfr_style = true;
	x->state = XS_AXFR;
	return C2W_OK;
}

static int on_soa(struct feed_xfr *x, const struct feed_soa *s)
{
	switch (x->state) {
	case XS_FIRST:
		return on_first_soa(x, s);
	case XS_SECOND:
		if (x->type == FEED_XFR_IXFR && x->have_cur && s->serial == x->cur_serial &&
		    x->new_serial != x->cur_serial) {
			x->ver_serial = x->cur_serial;
			x->state = XS_IXFR_DEL;
			return C2W_OK;
		}
		if (s->serial != x->new_serial)
			return fail(x, C2W_EXFR, "unexpected SOA serial %u", s->serial);
		/* SOA SOA: a full zone with no other record. */
		if (start_full(x) != C2W_OK)
			return C2W_ENOMEM;
		x->state = XS_DONE;
		return C2W_OK;
	case XS_AXFR:
		if (s->serial != x->new_serial)
			return fail(x, C2W_EXFR, "SOA serial %u inside a full transfer of %u",
				    s->serial, x->new_serial);
		x->state = XS_DONE;
		return C2W_OK;
	case XS_IXFR_DEL:
		if (!feed_serial_gt(s->serial, x->ver_serial))
			return fail(x, C2W_ESERIAL, "IXFR goes from serial %u back to %u",
				    x->ver_serial, s->serial);
		x->ver_serial = s->serial;
		x->state = XS_IXFR_ADD;
		return add_op(x, true, true);
	case XS_IXFR_ADD:
		if (s->serial == x->new_serial && x->ver_serial == x->new_serial) {
			x->state = XS_DONE;
			return C2W_OK;
		}
		if (s->serial != x->ver_serial)
			return fail(x, C2W_EXFR, "IXFR sequence broken at serial %u", s->serial);
		x->state = XS_IXFR_DEL;
		return C2W_OK;
	default:
		return fail(x, C2W_EXFR, "records after the closing SOA");
	}
}

static int on_record(struct feed_xfr *x)
{
	int ret;
	switch (x->state) {
	case XS_FIRST:
		return fail(x, C2W_EXFR, "first record is not the zone's SOA");
	case XS_SECOND:
		if (start_full(x) != C2W_OK)
			return C2W_ENOMEM;
		/* fall through */
	case XS_AXFR:
		ret = feed_zone_add(x->full, x->text);
		if (ret != C2W_OK)
			return fail(x, ret, "record not kept (%s)", c2w_strerror(ret));
		return C2W_OK;
	case XS_IXFR_DEL:
		return add_op(x, false, false);
	case XS_IXFR_ADD:
		return add_op(x, true, false);
	default:
		return fail(x, C2W_EXFR, "records after the closing SOA");
	}
}

static int on_rr(struct feed_xfr *x, const knot_rrset_t *rr)
{
	if (rr->rclass != KNOT_CLASS_IN)
		return fail(x, C2W_EXFR, "record of class %u", rr->rclass);
	if (knot_dname_in_bailiwick(rr->owner, x->origin_dn) < 0)
		return fail(x, C2W_EXFR, "record outside the zone");
	for (uint16_t i = 0; i < rr->rrs.count; i++) {
		x->records++;
		int ret = dump(x, rr, i);
		if (ret != C2W_OK)
			return ret;
		if (rr->type == KNOT_RRTYPE_SOA) {
			if (!knot_dname_is_equal(rr->owner, x->origin_dn))
				return fail(x, C2W_EXFR, "SOA below the zone apex");
			struct feed_soa s;
			soa_fields(knot_rdataset_at(&rr->rrs, i), &s);
			ret = on_soa(x, &s);
		} else {
			ret = on_record(x);
		}
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

static int take_answer(struct feed_xfr *x, const knot_pkt_t *pkt)
{
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < an->count; i++) {
		int ret = on_rr(x, knot_pkt_rr(an, i));
		if (ret != C2W_OK)
			return ret;
	}
	if (x->state == XS_FIRST)
		return fail(x, C2W_EXFR, "answer without records");
	return C2W_OK;
}

/* An IXFR answer that ends right after the first SOA: up to date, or "ask for AXFR". */
static int single_soa_end(struct feed_xfr *x)
{
	if (x->new_serial == x->cur_serial) {
		x->state = XS_DONE;
		return 1;
	}
	x->wants_axfr = true;
	return fail(x, C2W_EXFR, "primary answered IXFR with only its SOA (serial %u)",
		    x->new_serial);
}

int feed_xfr_input(struct feed_xfr *x, const uint8_t *msg, size_t len)
{
	if (x->state == XS_FAILED)
		return C2W_EXFR;
	if (x->state == XS_DONE)
		return fail(x, C2W_EXFR, "messages after the closing SOA");
	x->messages++;
	if (len < KNOT_WIRE_HEADER_SIZE || len > sizeof(x->buf))
		return fail(x, C2W_EMALF, "message %llu is malformed",
			    (unsigned long long)x->messages);
	memcpy(x->buf, msg, len);
	arena_reset(&x->arena);
	knot_pkt_t *pkt = knot_pkt_new(x->buf, (uint16_t)len, &x->mm);
	if (pkt == NULL)
		return fail(x, C2W_ENOMEM, "out of memory");
	int ret = knot_pkt_parse(pkt, 0);
	if (ret != KNOT_EOK) {
		ret = fail(x, C2W_EMALF, "message %llu is malformed (%s)",
			   (unsigned long long)x->messages, knot_strerror(ret));
		goto out_free;
	}
	ret = check_header(x, pkt);
	if (ret == C2W_OK)
		ret = verify_tsig(x, pkt);
	if (ret == C2W_OK)
		ret = take_answer(x, pkt);
	if (ret == C2W_OK && x->state == XS_DONE)
		ret = 1;
	else if (ret == C2W_OK && x->state == XS_SECOND && x->type == FEED_XFR_IXFR &&
		 x->messages == 1)
		ret = single_soa_end(x);
out_free:
	knot_pkt_free(pkt);
	return ret;
}

/* ---- the result ------------------------------------------------------------------------- */

static int apply_ops(struct feed_xfr *x, struct feed_zone *z)
{
	for (size_t i = 0; i < x->op_count; i++) {
		const struct xfr_op *op = &x->ops[i];
		int ret;
		if (op->soa) {
			struct feed_soa s;
			char owner[300], ttl[32], cls[16], type[16], mname[300], rname[300];
			if (sscanf(op->line, "%299s %31s %15s %15s %299s %299s %u %u %u %u %u",
				   owner, ttl, cls, type, mname, rname, &s.serial, &s.refresh,
				   &s.retry, &s.expire, &s.minimum) != 11)
				return fail(x, C2W_EMALF, "SOA line cannot be read back");
			ret = feed_zone_set_soa(z, op->line, &s);
		} else if (op->add) {
			ret = feed_zone_add(z, op->line);
		} else {
			ret = feed_zone_del(z, op->line);
			if (ret == C2W_ENOENT) {
				x->wants_axfr = true;
				return fail(x, C2W_EXFR, "IXFR deletes a record we do not hold");
			}
		}
		if (ret != C2W_OK)
			return fail(x, ret, "cannot apply the IXFR (%s)", c2w_strerror(ret));
	}
	return C2W_OK;
}

size_t feed_xfr_change_count(const struct feed_xfr *x)
{
	return x->full != NULL ? 0 : x->op_count;
}

const char *feed_xfr_change(const struct feed_xfr *x, size_t i, bool *add)
{
	if (i >= x->op_count || x->ops[i].soa)
		return NULL;
	*add = x->ops[i].add;
	return x->ops[i].line;
}

int feed_xfr_finish(struct feed_xfr *x, const struct feed_zone *current, struct feed_zone **out,
		    enum feed_xfr_kind *kind)
{
	*out = NULL;
	if (x->state != XS_DONE)
		return fail(x, C2W_EXFR, "transfer is not complete");
	if (x->full != NULL) {
		*out = x->full;
		x->full = NULL;
		*kind = FEED_XFR_FULL;
		return C2W_OK;
	}
	if (x->op_count == 0) {
		*kind = FEED_XFR_UPTODATE;
		return C2W_OK;
	}
	struct feed_zone *z;
	if (current == NULL || feed_zone_clone(current, &z) != C2W_OK)
		return fail(x, C2W_ENOMEM, "out of memory");
	int ret = apply_ops(x, z);
	if (ret != C2W_OK) {
		feed_zone_free(z);
		return ret;
	}
	*out = z;
	*kind = FEED_XFR_INCREMENT;
	return C2W_OK;
}

int feed_xfr_finish_in_place(struct feed_xfr *x, struct feed_zone *current, struct feed_zone **out,
			     enum feed_xfr_kind *kind)
{
	if (x->state != XS_DONE || x->full != NULL || x->op_count == 0 || current == NULL)
		return feed_xfr_finish(x, current, out, kind);
	*out = NULL;
	feed_zone_journal_begin(current);
	int ret = apply_ops(x, current);
	if (ret != C2W_OK) {
		feed_zone_rollback(current);
		return ret;
	}
	*kind = FEED_XFR_INCREMENT;
	return C2W_OK;
}

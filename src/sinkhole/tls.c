/* SPDX-License-Identifier: MIT */
/*
 * ClientHello parser: records -> handshake message -> ClientHello -> extensions -> SNI.
 * A cursor with a length never reads past its end; every vector length is checked against
 * what contains it (RFC 8446 3.4 vectors, 4.1.2 ClientHello, RFC 6066 3 server_name).
 */
#include "sinkhole/tls.h"

#include <string.h>

#define REC_HANDSHAKE   22
#define HS_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define REC_PAYLOAD_MAX 16384 /* 2^14, RFC 8446 5.1 */

struct cur {
	const uint8_t *p;
	size_t len;
};

static bool take(struct cur *c, size_t n, struct cur *out)
{
	if (c->len < n)
		return false;
	if (out != NULL)
		*out = (struct cur){c->p, n};
	c->p += n;
	c->len -= n;
	return true;
}

static bool u8(struct cur *c, unsigned *v)
{
	if (c->len < 1)
		return false;
	*v = c->p[0];
	return take(c, 1, NULL);
}

static bool u16(struct cur *c, unsigned *v)
{
	if (c->len < 2)
		return false;
	*v = (unsigned)c->p[0] << 8 | c->p[1];
	return take(c, 2, NULL);
}

/* A vector with a 1- or 2-byte length prefix. */
static bool vec(struct cur *c, unsigned width, struct cur *out)
{
	unsigned n;
	if (!(width == 1 ? u8(c, &n) : u16(c, &n)))
		return false;
	return take(c, n, out);
}

static int parse_sni(struct cur ext, struct sinkhole_tls_hello *out)
{
	struct cur list;
	if (!vec(&ext, 2, &list) || ext.len != 0 || list.len == 0)
		return C2W_EMALF;
	while (list.len > 0) {
		unsigned type;
		struct cur name;
		if (!u8(&list, &type) || !vec(&list, 2, &name))
			return C2W_EMALF;
		if (type != 0 || out->sni[0] != '\0')
			continue; /* RFC 6066: one host_name; other types ignored */
		if (name.len == 0 || name.len > 255)
			return C2W_EMALF;
		for (size_t i = 0; i < name.len; i++) {
			uint8_t b = name.p[i];
			if (b < 0x21 || b > 0x7e)
				return C2W_EMALF;
			out->sni[i] = (char)((b >= 'A' && b <= 'Z') ? b + 32 : b);
		}
		out->sni[name.len] = '\0';
		if (out->sni[name.len - 1] == '.')
			out->sni[name.len - 1] = '\0';
		out->has_sni = out->sni[0] != '\0';
	}
	return C2W_OK;
}

static int parse_extensions(struct cur exts, struct sinkhole_tls_hello *out)
{
	bool seen_sni = false;
	while (exts.len > 0) {
		unsigned type;
		struct cur data;
		if (!u16(&exts, &type) || !vec(&exts, 2, &data))
			return C2W_EMALF;
		out->ext_count++;
		if (type != EXT_SERVER_NAME)
			continue;
		if (seen_sni)
			return C2W_EMALF; /* RFC 8446 4.2: no duplicate extension types */
		seen_sni = true;
		int ret = parse_sni(data, out);
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

static int parse_body(struct cur b, struct sinkhole_tls_hello *out)
{
	struct cur sid, suites, comp, exts;
	unsigned version;
	if (!u16(&b, &version))
		return C2W_EMALF;
	out->legacy_version = (uint16_t)version;
	if (!take(&b, 32, NULL) || !vec(&b, 1, &sid) || sid.len > 32)
		return C2W_EMALF;
	if (!vec(&b, 2, &suites) || suites.len < 2 || suites.len % 2 != 0)
		return C2W_EMALF;
	if (!vec(&b, 1, &comp) || comp.len < 1)
		return C2W_EMALF;
	if (b.len == 0)
		return C2W_OK; /* no extensions (SSL 3.0 / TLS 1.0 style) */
	if (!vec(&b, 2, &exts) || b.len != 0)
		return C2W_EMALF;
	return parse_extensions(exts, out);
}

/*
 * Gather the handshake message from consecutive handshake records into @hs (room for
 * SINKHOLE_TLS_HELLO_MAX + 4 bytes). @return C2W_OK with *hs_len the whole message.
 */
static int gather(const uint8_t *buf, size_t len, uint8_t *hs, size_t *hs_len,
		  struct sinkhole_tls_hello *out)
{
	struct cur c = {buf, len};
	size_t have = 0, need = 0; /* need: 0 until the handshake header is in */
	for (bool first = true;; first = false) {
		if (c.len == 0)
			return C2W_EAGAIN;
		/* Reject non-TLS early: a plain-text client should not wait for a timeout. */
		if (c.p[0] != REC_HANDSHAKE || (c.len >= 2 && c.p[1] != 3))
			return C2W_EMALF;
		if (c.len < 5)
			return C2W_EAGAIN;
		unsigned type, ver, rlen;
		(void)u8(&c, &type);
		(void)u16(&c, &ver);
		(void)u16(&c, &rlen);
		if (rlen == 0 || rlen > REC_PAYLOAD_MAX)
			return C2W_EMALF; /* RFC 8446 5.1: no empty handshake fragments */
		if (first)
			out->record_version = (uint16_t)ver;
		bool partial = c.len < rlen;
		struct cur frag = {c.p, partial ? c.len : rlen};
		(void)take(&c, frag.len, NULL);
		size_t room = SINKHOLE_TLS_HELLO_MAX + 4 - have;
		size_t n = frag.len < room ? frag.len : room;
		memcpy(hs + have, frag.p, n);
		have += n;
		if (have > 0 && hs[0] != HS_CLIENT_HELLO)
			return C2W_EMALF;
		if (need == 0 && have >= 4) {
			need = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
			if (need - 4 > SINKHOLE_TLS_HELLO_MAX)
				return C2W_ERANGE;
		}
		if (need != 0 && have >= need) {
			*hs_len = need;
			return C2W_OK;
		}
		if (partial)
			return C2W_EAGAIN;
	}
}

int sinkhole_tls_parse_hello(const uint8_t *buf, size_t len, struct sinkhole_tls_hello *out)
{
	uint8_t hs[SINKHOLE_TLS_HELLO_MAX + 4];
	size_t hs_len = 0;
	memset(out, 0, sizeof(*out));
	int ret = gather(buf, len, hs, &hs_len, out);
	if (ret != C2W_OK)
		return ret;
	return parse_body((struct cur){hs + 4, hs_len - 4}, out);
}

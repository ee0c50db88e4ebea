/* SPDX-License-Identifier: MIT */
/* Helpers for the policy unit tests: temp feed files, queries, snapshot building. */
#ifndef C2W_TEST_POLICY_UTIL_H
#define C2W_TEST_POLICY_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "policy/policy.h"

/* Write @text to a new temp file, removed at exit; @return its path. */
static char tmp_paths_[256][64];
static int tmp_count_;

static inline void tmp_cleanup_(void)
{
	for (int i = 0; i < tmp_count_ && i < 256; i++)
		unlink(tmp_paths_[i]);
}

static inline const char *tmp_feed(const char *text)
{
	if (tmp_count_ == 0)
		atexit(tmp_cleanup_);
	if (tmp_count_ >= 256)
		abort();
	char *p = tmp_paths_[tmp_count_++];
	snprintf(p, 64, "/tmp/c2w-policy-test-XXXXXX");
	int fd = mkstemp(p);
	if (fd < 0)
		abort();
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		abort();
	close(fd);
	return p;
}

static inline struct dns_query mkq(const char *name, uint16_t qtype)
{
	struct dns_query q;
	size_t len;
	memset(&q, 0, sizeof(q));
	if (dns_name_from_text(name, NULL, q.qname, &len) != C2W_OK)
		abort();
	dns_name_lower(q.qname);
	q.qname_len = (uint8_t)len;
	q.qtype = qtype;
	q.qclass = DNS_CLASS_IN;
	q.has_question = true;
	return q;
}

static inline struct sockaddr_storage mkaddr(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1)
		in->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1)
		in6->sin6_family = AF_INET6;
	else
		abort();
	return ss;
}

static inline struct policy_zone_spec rpz_zone(const char *name, const char *text)
{
	struct policy_zone_spec s;
	memset(&s, 0, sizeof(s));
	s.name = name;
	s.file = tmp_feed(text);
	s.format = POLICY_FORMAT_RPZ;
	return s;
}

/* Build from specs; aborts the test binary on failure. */
static inline struct policy_snap *build(const struct policy_zone_spec *specs, size_t n)
{
	struct policy_snap *s = NULL;
	static struct policy_report rep;
	int ret = policy_snap_build(specs, n, NULL, &rep, &s);
	if (ret != C2W_OK) {
		fprintf(stderr, "build failed: %s %s\n", c2w_strerror(ret), rep.error);
		abort();
	}
	return s;
}

/* A minimal DNS message builder for response tests (uncompressed names). */
struct msgb {
	uint8_t buf[2048];
	size_t len;
};

static inline void msg_start(struct msgb *m, const char *qname, uint16_t qtype)
{
	uint8_t w[256];
	size_t wl;
	memset(m, 0, sizeof(*m));
	m->buf[2] = 0x81;
	m->buf[3] = 0x80;
	m->buf[5] = 1;
	if (dns_name_from_text(qname, NULL, w, &wl) != C2W_OK)
		abort();
	memcpy(m->buf + 12, w, wl);
	m->len = 12 + wl;
	m->buf[m->len++] = (uint8_t)(qtype >> 8);
	m->buf[m->len++] = (uint8_t)qtype;
	m->buf[m->len++] = 0;
	m->buf[m->len++] = 1;
}

/* @section: 0 answer, 1 authority, 2 additional; must be added in order. */
static inline void msg_rr(struct msgb *m, int section, const char *owner, uint16_t type,
			  const void *rdata, uint16_t rdlen)
{
	uint8_t w[256];
	size_t wl;
	if (dns_name_from_text(owner, NULL, w, &wl) != C2W_OK)
		abort();
	memcpy(m->buf + m->len, w, wl);
	m->len += wl;
	uint8_t f[10] = {(uint8_t)(type >> 8), (uint8_t)type, 0, 1, 0, 0, 0, 60,
			 (uint8_t)(rdlen >> 8), (uint8_t)rdlen};
	memcpy(m->buf + m->len, f, 10);
	m->len += 10;
	memcpy(m->buf + m->len, rdata, rdlen);
	m->len += rdlen;
	m->buf[7 + section * 2]++;
}

static inline void msg_name_rr(struct msgb *m, int section, const char *owner, uint16_t type,
			       const char *target)
{
	uint8_t w[256];
	size_t wl;
	if (dns_name_from_text(target, NULL, w, &wl) != C2W_OK)
		abort();
	msg_rr(m, section, owner, type, w, (uint16_t)wl);
}

static inline void msg_addr_rr(struct msgb *m, int section, const char *owner, const char *ip)
{
	uint8_t a[16];
	if (inet_pton(AF_INET, ip, a) == 1)
		msg_rr(m, section, owner, DNS_TYPE_A, a, 4);
	else if (inet_pton(AF_INET6, ip, a) == 1)
		msg_rr(m, section, owner, DNS_TYPE_AAAA, a, 16);
	else
		abort();
}

#endif

/* SPDX-License-Identifier: MIT */
/* Evidence records as JSON: bounded, escaped, pseudonymous. */
#include "sinkhole/evidence.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct out {
	char *p;
	size_t cap, len;
	bool full;
};

static void add(struct out *o, const char *s, size_t n)
{
	if (o->full || n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void addf(struct out *o, const char *fmt, ...) C2W_PRINTF(2, 3);
static void addf(struct out *o, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		o->full = true;
	else
		add(o, buf, (size_t)n);
}

/* JSON string (RFC 8259 7); bytes >= 0x80 become \u00XX so the line stays valid UTF-8. */
static void add_str(struct out *o, const char *key, const char *s)
{
	if (s == NULL)
		return;
	addf(o, ",\"%s\":\"", key);
	for (const unsigned char *c = (const unsigned char *)s; *c && !o->full; c++) {
		if (*c == '"' || *c == '\\') {
			char e[2] = {'\\', (char)*c};
			add(o, e, 2);
		} else if (*c < 0x20 || *c >= 0x7f) {
			addf(o, "\\u%04x", *c);
		} else {
			add(o, (const char *)c, 1);
		}
	}
	add(o, "\"", 1);
}

const char *sinkhole_proto_name(enum sinkhole_proto proto)
{
	switch (proto) {
	case SINKHOLE_PROTO_TLS:
		return "tls";
	case SINKHOLE_PROTO_TCP:
		return "tcp";
	default:
		return "http";
	}
}

static void add_time(struct out *o, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	addf(o, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
	     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int sinkhole_evidence_json(const struct sinkhole_evidence *ev, const char *pseudonym,
			   const char *key_id, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	struct out o = {out, cap, 0, cap == 0};
	add_time(&o, ev->time_ms);
	addf(&o, ",\"type\":\"sinkhole\",\"proto\":\"%s\"", sinkhole_proto_name(ev->proto));
	add_str(&o, "client", pseudonym);
	add_str(&o, "key_id", key_id);
	addf(&o, ",\"port\":%u", ev->local_port);
	add_str(&o, ev->proto == SINKHOLE_PROTO_TLS ? "sni" : "host", ev->host);
	add_str(&o, "method", ev->method);
	add_str(&o, "path", ev->path);
	add_str(&o, "user_agent", ev->user_agent);
	if (ev->http_status)
		addf(&o, ",\"status\":%d", ev->http_status);
	add_str(&o, "lang", ev->lang);
	addf(&o, ",\"blocked\":%s", ev->blocked ? "true" : "false");
	if (ev->info != NULL) {
		add_str(&o, "family", ev->info->family[0] ? ev->info->family : NULL);
		add_str(&o, "category", ev->info->category[0] ? ev->info->category : NULL);
		add_str(&o, "zone", ev->info->zone[0] ? ev->info->zone : NULL);
		add_str(&o, "feed", ev->info->feed[0] ? ev->info->feed : NULL);
		if (ev->info->incident_id)
			addf(&o, ",\"incident\":%lld", (long long)ev->info->incident_id);
	}
	if (ev->bytes_len > 0) {
		const char *k = ",\"first_bytes_hex\":\"";
		add(&o, k, strlen(k));
		for (size_t i = 0; i < ev->bytes_len && !o.full; i++) {
			char h[2] = {hex[ev->bytes[i] >> 4], hex[ev->bytes[i] & 15]};
			add(&o, h, 2);
		}
		add(&o, "\"", 1);
	}
	add(&o, "}\n", 2);
	return o.full ? C2W_ESPACE : (int)o.len;
}

char *sinkhole_evidence_detail(const struct sinkhole_evidence *ev, char *out, size_t cap)
{
	bool fam = ev->info != NULL && ev->info->family[0] != '\0';
	int dl =
	    snprintf(out, cap, "proto=%s status=%d blocked=%s%s%s", sinkhole_proto_name(ev->proto),
		     ev->http_status, ev->blocked ? "yes" : "no", fam ? " family=" : "",
		     fam ? ev->info->family : "");
	if (dl < 0 || (size_t)dl >= cap)
		return out;
	/* The first bytes of a raw contact, hex, as far as the detail allows. */
	static const char hex[] = "0123456789abcdef";
	size_t pos = (size_t)dl;
	if (ev->bytes_len > 0 && pos + 14 < cap) {
		pos += (size_t)snprintf(out + pos, cap - pos, " first_bytes=");
		for (size_t i = 0; i < ev->bytes_len && pos + 3 < cap; i++) {
			out[pos++] = hex[ev->bytes[i] >> 4];
			out[pos++] = hex[ev->bytes[i] & 15];
		}
		out[pos] = '\0';
	}
	return out;
}

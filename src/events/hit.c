/* SPDX-License-Identifier: MIT */
/* Hit record helpers: client address from a sockaddr, names of triggers and actions. */
#include "events/hit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/err.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int events_hit_set_client(struct events_hit *hit, const struct sockaddr *sa)
{
	memset(hit->client_addr, 0, sizeof(hit->client_addr));
	hit->client_port = 0;
	hit->client_family = 0;
	if (sa == NULL)
		return C2W_EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		memcpy(hit->client_addr, &in->sin_addr, 4);
		hit->client_port = ntohs(in->sin_port);
		hit->client_family = AF_INET;
		return C2W_OK;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		hit->client_port = ntohs(in6->sin6_port);
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			memcpy(hit->client_addr, a + 12, 4);
			hit->client_family = AF_INET;
		} else {
			memcpy(hit->client_addr, a, 16);
			hit->client_family = AF_INET6;
		}
		return C2W_OK;
	}
	return C2W_EINVAL;
}

void events_hit_copy(char *dst, size_t cap, const char *src)
{
	if (cap == 0)
		return;
	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

const char *events_trigger_name(unsigned trigger)
{
	static const char *const names[EVENTS_TRIGGER_COUNT_] = {
	    "qname", "client-ip", "response-ip", "nsdname", "nsip",
	};
	return trigger < EVENTS_TRIGGER_COUNT_ ? names[trigger] : "unknown";
}

const char *events_action_name(unsigned action)
{
	static const char *const names[EVENTS_ACTION_COUNT_] = {
	    "nxdomain",   "nodata", "passthru", "drop",     "tcp-only",
	    "local-data", "cname",  "log",      "sinkhole", "servfail", "refused",
	};
	return action < EVENTS_ACTION_COUNT_ ? names[action] : "unknown";
}

const char *events_hit_client_text(const struct events_hit *hit, char *out, size_t cap)
{
	int af = hit->client_family == AF_INET6 ? AF_INET6 : AF_INET;
	if (cap == 0)
		return out;
	if (inet_ntop(af, hit->client_addr, out, (socklen_t)cap) == NULL)
		out[0] = '\0';
	return out;
}

/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "sinkhole/evrate.h"
#include "test.h"

static struct sockaddr_storage v4(const char *text)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	in->sin_family = AF_INET;
	inet_pton(AF_INET, text, &in->sin_addr);
	return ss;
}

static struct sockaddr_storage v6(const char *text)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, text, &in6->sin6_addr);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static unsigned allowed(struct sinkhole_evrate *r, const struct sockaddr *sa, unsigned n,
			int64_t now)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++)
		ok += sinkhole_evrate_allow(r, sa, now);
	return ok;
}

static void test_burst_then_refill(void)
{
	struct sinkhole_evrate *r = sinkhole_evrate_new(60);
	struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
	CHECK(r != NULL);
	CHECK_EQ(allowed(r, SA(a), 100, 1000), 60);
	CHECK_EQ(allowed(r, SA(b), 10, 1000), 10); /* another client has its own bucket */
	CHECK_EQ(allowed(r, SA(a), 10, 1999), 0);  /* under a second: nothing yet */
	CHECK_EQ(allowed(r, SA(a), 10, 2000), 1);  /* one a second */
	CHECK_EQ(allowed(r, SA(a), 10, 12000), 10);
	CHECK_EQ(allowed(r, SA(a), 100, 1000000), 60); /* full again, never more */
	sinkhole_evrate_free(r);
}

static void test_v6_prefix(void)
{
	struct sinkhole_evrate *r = sinkhole_evrate_new(5);
	struct sockaddr_storage a = v6("2001:db8:0:100::1"), b = v6("2001:db8:0:1ff::9"),
				c = v6("2001:db8:0:200::1");
	CHECK_EQ(allowed(r, SA(a), 3, 0), 3);
	CHECK_EQ(allowed(r, SA(b), 5, 0), 2); /* same /56 */
	CHECK_EQ(allowed(r, SA(c), 5, 0), 5);
	sinkhole_evrate_free(r);
}

/* More clients than the table holds: each still gets at most its burst at once. */
static void test_many_clients(void)
{
	struct sinkhole_evrate *r = sinkhole_evrate_new(2);
	unsigned ok = 0;
	for (unsigned i = 0; i < 20000; i++) {
		char text[32];
		snprintf(text, sizeof(text), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255,
			 i & 255);
		struct sockaddr_storage a = v4(text);
		ok += allowed(r, SA(a), 3, 5);
	}
	CHECK_EQ(ok, 40000);
	sinkhole_evrate_free(r);
}

TEST_MAIN(TEST(test_burst_then_refill), TEST(test_v6_prefix), TEST(test_many_clients))

/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/addrcount.h"
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

static void test_cap_per_prefix(void)
{
	struct c2w_addrcount *t = c2w_addrcount_new(8, 32, 56, false);
	struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
	CHECK(t != NULL);
	CHECK_EQ(c2w_addrcount_take(t, SA(a), 2), C2W_OK);
	CHECK_EQ(c2w_addrcount_take(t, SA(a), 2), C2W_OK);
	CHECK_EQ(c2w_addrcount_take(t, SA(a), 2), C2W_ERANGE);
	CHECK_EQ(c2w_addrcount_take(t, SA(b), 2), C2W_OK);
	CHECK_EQ(c2w_addrcount_get(t, SA(a)), 2);
	c2w_addrcount_put(t, SA(a));
	CHECK_EQ(c2w_addrcount_take(t, SA(a), 2), C2W_OK);
	c2w_addrcount_free(t);
}

static void test_v6_prefix_and_mapped(void)
{
	struct c2w_addrcount *t = c2w_addrcount_new(8, 32, 56, true);
	struct sockaddr_storage a = v6("2001:db8:0:100::1"), b = v6("2001:db8:0:1ff::2"),
				c = v6("2001:db8:0:200::1"), m = v6("::ffff:192.0.2.7"),
				m4 = v4("192.0.2.7");
	CHECK_EQ(c2w_addrcount_take(t, SA(a), 2), C2W_OK);
	CHECK_EQ(c2w_addrcount_take(t, SA(b), 2), C2W_OK); /* same /56 */
	CHECK_EQ(c2w_addrcount_take(t, SA(c), 2), C2W_OK);
	CHECK_EQ(c2w_addrcount_take(t, SA(a), 2), C2W_ERANGE);
	CHECK_EQ(c2w_addrcount_take(t, SA(m), 1), C2W_OK);
	CHECK_EQ(c2w_addrcount_take(t, SA(m4), 1), C2W_ERANGE); /* mapped counts as IPv4 */
	c2w_addrcount_free(t);
}

/* Many take/put cycles over colliding keys: the table stays consistent (no tombstones). */
static void test_churn(void)
{
	struct c2w_addrcount *t = c2w_addrcount_new(64, 32, 56, false);
	unsigned held[200] = {0};
	unsigned seed = 1;
	for (unsigned round = 0; round < 100000; round++) {
		seed = seed * 1103515245u + 12345u;
		unsigned n = (seed >> 8) % 200;
		char text[32];
		snprintf(text, sizeof(text), "10.0.%u.%u", n / 100, n % 100);
		struct sockaddr_storage a = v4(text);
		if (held[n] > 0 && (seed & 0x10000)) {
			c2w_addrcount_put(t, SA(a));
			held[n]--;
		} else {
			int ret = c2w_addrcount_take(t, SA(a), 3);
			if (ret == C2W_OK)
				held[n]++;
			else if (ret == C2W_ERANGE)
				CHECK_EQ(held[n], 3);
		}
	}
	for (unsigned n = 0; n < 200; n++) {
		char text[32];
		snprintf(text, sizeof(text), "10.0.%u.%u", n / 100, n % 100);
		struct sockaddr_storage a = v4(text);
		CHECK_EQ(c2w_addrcount_get(t, SA(a)), held[n]);
	}
	c2w_addrcount_free(t);
}

static void test_full(void)
{
	struct c2w_addrcount *t = c2w_addrcount_new(4, 32, 56, false); /* 16 slots, 8 entries */
	unsigned ok = 0, full = 0;
	for (unsigned n = 0; n < 20; n++) {
		char text[32];
		snprintf(text, sizeof(text), "10.1.0.%u", n);
		struct sockaddr_storage a = v4(text);
		int ret = c2w_addrcount_take(t, SA(a), 1);
		ok += ret == C2W_OK;
		full += ret == C2W_EFULL;
	}
	CHECK_EQ(ok, 8);
	CHECK_EQ(full, 12);
	c2w_addrcount_free(t);
}

TEST_MAIN(TEST(test_cap_per_prefix), TEST(test_v6_prefix_and_mapped), TEST(test_churn),
	  TEST(test_full))

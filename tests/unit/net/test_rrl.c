/* SPDX-License-Identifier: MIT */
/*
 * net/rrl.h: BIND's RRL arithmetic (rate per second, the window a flood must stay quiet,
 * slip 0/1/2/N), keys per client prefix and identity, a full table replacing its stalest
 * entry, and the query-rate token bucket (burst, refill, separate clients).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "net/rrl.h"
#include "test.h"

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss = {0};
	if (strchr(text, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, text, &a->sin_addr);
	}
	return ss;
}

static uint64_t key_of(const char *ip, unsigned v4, unsigned v6, const char *name)
{
	struct sockaddr_storage ss = addr(ip);
	return net_rrl_key((const struct sockaddr *)&ss, v4, v6, 1, 1, (const uint8_t *)name,
			   name ? strlen(name) + 1 : 0);
}

static void test_keys(void)
{
	/* /24 and /56: neighbours share, others do not. */
	CHECK(key_of("192.0.2.1", 24, 56, "x") == key_of("192.0.2.200", 24, 56, "x"));
	CHECK(key_of("192.0.2.1", 24, 56, "x") != key_of("192.0.3.1", 24, 56, "x"));
	CHECK(key_of("192.0.2.1", 32, 56, "x") != key_of("192.0.2.2", 32, 56, "x"));
	CHECK(key_of("192.0.2.1", 24, 56, "x") != key_of("192.0.2.1", 24, 56, "y"));
	CHECK(key_of("192.0.2.1", 23, 56, "x") == key_of("192.0.3.1", 23, 56, "x"));
	CHECK(key_of("2001:db8:0:ff::1", 24, 56, NULL) == key_of("2001:db8:0:1::2", 24, 56, NULL));
	CHECK(key_of("2001:db8:0:100::1", 24, 56, NULL) != key_of("2001:db8::1", 24, 56, NULL));
	/* v4-mapped IPv6 is the IPv4 client. */
	CHECK(key_of("::ffff:192.0.2.1", 24, 56, "x") == key_of("192.0.2.9", 24, 56, "x"));
	CHECK(key_of("192.0.2.1", 0, 0, NULL) == key_of("198.51.100.1", 0, 0, NULL));
}

static void test_rate_and_window(void)
{
	struct net_rrl *t = NULL;
	CHECK_EQ(net_rrl_new(1024, &t), C2W_OK);
	if (t == NULL)
		return;
	uint64_t k = 42, now = 1000;
	/* 5 per second, slip 0: 5 pass, the rest dropped. */
	for (int i = 0; i < 5; i++)
		CHECK_EQ(net_rrl_account(t, k, 5, 3, 0, now), NET_RRL_PASS);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(net_rrl_account(t, k, 5, 3, 0, now), NET_RRL_DROP);
	/* Owed -15 (window 3 x 5): one second later still -10: dropped. */
	CHECK_EQ(net_rrl_account(t, k, 5, 3, 0, now + 1), NET_RRL_DROP);
	/* Kept flooding until now+3, then quiet for the window: credit again. */
	CHECK_EQ(net_rrl_account(t, k, 5, 3, 0, now + 3), NET_RRL_DROP);
	CHECK_EQ(net_rrl_account(t, k, 5, 3, 0, now + 7), NET_RRL_PASS);
	/* Other keys are not affected. */
	CHECK_EQ(net_rrl_account(t, 43, 5, 3, 0, now), NET_RRL_PASS);
	/* A steady client at the rate is never limited. */
	for (uint64_t s = 0; s < 20; s++)
		for (int i = 0; i < 5; i++)
			CHECK_EQ(net_rrl_account(t, 44, 5, 15, 2, 2000 + s), NET_RRL_PASS);
	net_rrl_free(t);
}

static void test_slip(void)
{
	struct net_rrl *t = NULL;
	CHECK_EQ(net_rrl_new(64, &t), C2W_OK);
	if (t == NULL)
		return;
	static const unsigned slips[] = {1, 2, 3, 10};
	for (size_t s = 0; s < 4; s++) {
		uint64_t k = 100 + s;
		CHECK_EQ(net_rrl_account(t, k, 1, 15, slips[s], 5), NET_RRL_PASS);
		unsigned slipped = 0;
		for (unsigned i = 0; i < 30; i++) {
			enum net_rrl_verdict v = net_rrl_account(t, k, 1, 15, slips[s], 5);
			CHECK(v != NET_RRL_PASS);
			/* The first limited response slips, then every slip-th. */
			CHECK_EQ(v == NET_RRL_SLIP, i % slips[s] == 0);
			slipped += v == NET_RRL_SLIP;
		}
		CHECK_EQ(slipped, (30 + slips[s] - 1) / slips[s]);
	}
	net_rrl_free(t);
}

static void test_full_table(void)
{
	struct net_rrl *t = NULL;
	CHECK_EQ(net_rrl_new(16, &t), C2W_OK);
	if (t == NULL)
		return;
	CHECK_EQ(net_rrl_size(t), 16);
	/* Exhaust key 1, then flood the table with many others: key 1 is forgotten (its set
	 * replaces the stalest entry), never an allocation or a failure. */
	for (int i = 0; i < 3; i++)
		(void)net_rrl_account(t, 1, 2, 15, 0, 10);
	CHECK_EQ(net_rrl_account(t, 1, 2, 15, 0, 10), NET_RRL_DROP);
	for (uint64_t k = 2; k < 100000; k++)
		CHECK_EQ(net_rrl_account(t, k * 0x9E3779B97F4A7C15ULL, 2, 15, 0, 11), NET_RRL_PASS);
	CHECK_EQ(net_rrl_account(t, 1, 2, 15, 0, 11), NET_RRL_PASS);
	net_rrl_free(t);
	net_rrl_free(NULL);
}

static void test_qrate(void)
{
	struct net_qrate *t = NULL;
	CHECK_EQ(net_qrate_new(1024, &t), C2W_OK);
	if (t == NULL)
		return;
	uint64_t now = 50000;
	/* Burst 20 at 10/s: 20 at once, then one per 100 ms. */
	for (int i = 0; i < 20; i++)
		CHECK(net_qrate_take(t, 7, 10, 20, now));
	CHECK(!net_qrate_take(t, 7, 10, 20, now));
	CHECK(!net_qrate_take(t, 7, 10, 20, now + 99));
	CHECK(net_qrate_take(t, 7, 10, 20, now + 100));
	CHECK(!net_qrate_take(t, 7, 10, 20, now + 150));
	/* Another client is not affected. */
	CHECK(net_qrate_take(t, 8, 10, 20, now));
	/* Over 10 s at 10/s a flooder gets about 10/s plus the burst. */
	unsigned ok = 0;
	for (uint64_t ms = 0; ms < 10000; ms++)
		for (int i = 0; i < 5; i++)
			ok += net_qrate_take(t, 9, 10, 20, now + ms);
	CHECK(ok >= 115 && ok <= 121);
	/* A long pause refills to the burst, not beyond. */
	unsigned after = 0;
	for (int i = 0; i < 100; i++)
		after += net_qrate_take(t, 9, 10, 20, now + 3600 * 1000);
	CHECK_EQ(after, 20);
	net_qrate_free(t);
	net_qrate_free(NULL);
}

TEST_MAIN(TEST(test_keys), TEST(test_rate_and_window), TEST(test_slip), TEST(test_full_table),
	  TEST(test_qrate))

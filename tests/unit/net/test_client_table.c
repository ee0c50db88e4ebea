/* SPDX-License-Identifier: MIT */
/*
 * The per-client in-flight table: prefix keys (IPv4 /32, IPv6 /56, mapped addresses), the cap,
 * the table-full answer, and heavy churn against a plain reference count (backward-shift
 * deletion must never lose or duplicate an entry).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/client_table.h"

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static struct net_client_key key_of(const char *text, unsigned v4, unsigned v6)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	struct net_client_key k;
	net_client_key_make((const struct sockaddr *)&ss, v4, v6, &k);
	return k;
}

static void test_keys(void)
{
	struct net_client_key a = key_of("192.0.2.1", 32, 56);
	struct net_client_key b = key_of("192.0.2.2", 32, 56);
	struct net_client_key c = key_of("192.0.2.2", 24, 56);
	struct net_client_key d = key_of("192.0.2.200", 24, 56);
	struct net_client_key m = key_of("::ffff:192.0.2.1", 32, 56);
	CHECK(a.family == 4 && memcmp(a.addr, b.addr, 4) != 0);
	CHECK(c.family == 4 && memcmp(c.addr, d.addr, 16) == 0);
	CHECK(m.family == 4 && memcmp(m.addr, a.addr, 16) == 0);
	struct net_client_key x = key_of("2001:db8:0:1200::1", 32, 56);
	struct net_client_key y = key_of("2001:db8:0:12ff:ffff::9", 32, 56);
	struct net_client_key z = key_of("2001:db8:0:1300::1", 32, 56);
	CHECK(x.family == 6 && memcmp(x.addr, y.addr, 16) == 0);
	CHECK(memcmp(x.addr, z.addr, 16) != 0);
	struct net_client_key f = key_of("2001:db8::1", 32, 128);
	struct net_client_key g = key_of("2001:db8::2", 32, 128);
	CHECK(memcmp(f.addr, g.addr, 16) != 0);
	struct net_client_key odd = key_of("10.1.2.3", 13, 56); /* 10.0.0.0/13 */
	CHECK(odd.addr[0] == 10 && odd.addr[1] == 0 && odd.addr[2] == 0 && odd.addr[3] == 0);
}

static void test_cap(void)
{
	struct net_client_table *t = net_client_table_new(8);
	CHECK(t != NULL);
	struct net_client_key a = key_of("192.0.2.1", 32, 56);
	struct net_client_key b = key_of("192.0.2.2", 32, 56);
	for (int i = 0; i < 3; i++)
		CHECK(net_client_table_take(t, &a, 3) == C2W_OK);
	CHECK(net_client_table_take(t, &a, 3) == C2W_ERANGE);
	CHECK(net_client_table_count(t, &a) == 3);
	CHECK(net_client_table_take(t, &b, 3) == C2W_OK); /* another client is not affected */
	net_client_table_put(t, &a);
	CHECK(net_client_table_take(t, &a, 3) == C2W_OK);
	CHECK(net_client_table_clients(t) == 2);
	for (int i = 0; i < 3; i++)
		net_client_table_put(t, &a);
	net_client_table_put(t, &b);
	net_client_table_put(t, &b); /* extra put: ignored, no underflow */
	CHECK(net_client_table_clients(t) == 0);
	CHECK(net_client_table_count(t, &a) == 0);
	CHECK(net_client_table_take(t, &a, 0) == C2W_OK); /* cap 0: counted, never refused */
	net_client_table_put(t, &a);
	net_client_table_free(t);
	net_client_table_free(NULL);
}

static void test_full(void)
{
	struct net_client_table *t = net_client_table_new(4);
	char text[32];
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "10.0.0.%d", i + 1);
		struct net_client_key k = key_of(text, 32, 56);
		CHECK(net_client_table_take(t, &k, 10) == C2W_OK);
	}
	struct net_client_key k5 = key_of("10.0.0.99", 32, 56);
	CHECK(net_client_table_take(t, &k5, 10) == C2W_EFULL);
	struct net_client_key k1 = key_of("10.0.0.1", 32, 56);
	CHECK(net_client_table_take(t, &k1, 10) == C2W_OK); /* known clients still count */
	net_client_table_free(t);
}

/* Random takes and puts over many clients against a plain array of counts. */
static void test_churn(void)
{
	enum { CLIENTS = 3000, ROUNDS = 400000 };
	struct net_client_table *t = net_client_table_new(CLIENTS);
	static unsigned ref[CLIENTS];
	static struct net_client_key keys[CLIENTS];
	char text[64];
	for (int i = 0; i < CLIENTS; i++) {
		snprintf(text, sizeof(text), "2001:db8:%x:%x00::1", i / 256, i % 256);
		keys[i] = key_of(text, 32, 56);
	}
	srand(7);
	for (int r = 0; r < ROUNDS; r++) {
		int i = rand() % CLIENTS;
		if (rand() % 2 == 0) {
			int ret = net_client_table_take(t, &keys[i], 5);
			if (ref[i] >= 5) {
				CHECK(ret == C2W_ERANGE);
			} else {
				CHECK(ret == C2W_OK);
				if (ret == C2W_OK)
					ref[i]++;
			}
		} else if (ref[i] > 0) {
			net_client_table_put(t, &keys[i]);
			ref[i]--;
		}
	}
	unsigned used = 0;
	for (int i = 0; i < CLIENTS; i++) {
		CHECK(net_client_table_count(t, &keys[i]) == ref[i]);
		used += ref[i] > 0;
	}
	CHECK(net_client_table_clients(t) == used);
	for (int i = 0; i < CLIENTS; i++)
		while (ref[i]-- > 0)
			net_client_table_put(t, &keys[i]);
	CHECK(net_client_table_clients(t) == 0);
	net_client_table_free(t);
}

int main(void)
{
	test_keys();
	test_cap();
	test_full();
	test_churn();
	if (failures != 0) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* Import parsers: times, CSV quoting, subscriber and report rows, malformed input. */
#include "events/import.h"
#include "test.h"

static void test_time(void)
{
	int64_t t;
	CHECK_EQ(events_time_parse("1718000000", &t), C2W_OK);
	CHECK_EQ(t, 1718000000);
	CHECK_EQ(events_time_parse("2024-06-10", &t), C2W_OK);
	CHECK_EQ(t, 1717977600);
	CHECK_EQ(events_time_parse("2024-06-10T01:02:03Z", &t), C2W_OK);
	CHECK_EQ(t, 1717977600 + 3723);
	CHECK_EQ(events_time_parse("2024-06-10 01:02:03", &t), C2W_OK);
	CHECK_EQ(t, 1717977600 + 3723);
	CHECK_EQ(events_time_parse("2024-06-10T10:00:00+09:00", &t), C2W_OK);
	CHECK_EQ(t, 1717977600 + 3600);
	CHECK_EQ(events_time_parse("2024-06-10T01:02:03.123456Z", &t), C2W_OK);
	CHECK_EQ(t, 1717977600 + 3723);
	CHECK_EQ(events_time_parse("2024-02-29", &t), C2W_OK);
	CHECK_EQ(events_time_parse("2023-02-29", &t), C2W_EMALF);
	CHECK_EQ(events_time_parse("2024-13-01", &t), C2W_EMALF);
	CHECK_EQ(events_time_parse("2024-06-10T25:00", &t), C2W_EMALF);
	CHECK_EQ(events_time_parse("yesterday", &t), C2W_EMALF);
	CHECK_EQ(events_time_parse("", &t), C2W_EMALF);
	CHECK_EQ(events_time_parse("2024-06-10Tx", &t), C2W_EMALF);
	CHECK_EQ(events_time_parse("9999999999999", &t), C2W_EMALF);
	char buf[32];
	CHECK_STREQ(events_time_format(1717977600 + 3723, buf, sizeof(buf)),
		    "2024-06-10T01:02:03Z");
}

static void test_csv(void)
{
	char line[] = " a , \"b,c\" ,\"say \"\"hi\"\"\",,d\r\n";
	char *f[8];
	CHECK_EQ(events_csv_split(line, f, 8), 5);
	CHECK_STREQ(f[0], "a");
	CHECK_STREQ(f[1], "b,c");
	CHECK_STREQ(f[2], "say \"hi\"");
	CHECK_STREQ(f[3], "");
	CHECK_STREQ(f[4], "d");
	char bad1[] = "\"open,x";
	CHECK_EQ(events_csv_split(bad1, f, 8), C2W_EMALF);
	char bad2[] = "\"a\"b,c";
	CHECK_EQ(events_csv_split(bad2, f, 8), C2W_EMALF);
	char bad3[] = "a,b,c";
	CHECK_EQ(events_csv_split(bad3, f, 2), C2W_EMALF);
	char bad4[] = "a\"b";
	CHECK_EQ(events_csv_split(bad4, f, 8), C2W_EMALF);
}

#define SUB(s, r) events_import_subscriber_parse((s), strlen(s), (r), err, sizeof(err))
#define REP(s, r) events_import_report_parse((s), strlen(s), (r), err, sizeof(err))

static void test_rows(void)
{
	char err[160];
	struct events_subscriber_row s;
	struct events_report_row r;
	CHECK_EQ(SUB("subscriber_id,address,start,end\n", &s), C2W_EIGNORE);
	CHECK_EQ(SUB("# comment\n", &s), C2W_EIGNORE);
	CHECK_EQ(SUB("   \n", &s), C2W_EIGNORE);
	CHECK_EQ(SUB("cust-1,192.0.2.17,2024-06-10,2024-06-11\n", &s), C2W_OK);
	CHECK_STREQ(s.id, "cust-1");
	CHECK_EQ(s.prefix.bits, 32);
	CHECK_EQ(s.end_s - s.start_s, 86400);
	CHECK_EQ(SUB("cust-2,2001:db8:42::/56,2024-06-01,\n", &s), C2W_OK);
	CHECK_EQ(s.end_s, INT64_MAX);
	CHECK_EQ(SUB("cust-3,192.0.2.0/24,1718000000\n", &s), C2W_OK);
	CHECK_EQ(SUB("cust-4,not-an-ip,2024-06-10,\n", &s), C2W_EMALF);
	CHECK(strstr(err, "address") != NULL);
	CHECK_EQ(SUB("cust-5,192.0.2.1,2024-06-11,2024-06-10\n", &s), C2W_EMALF);
	CHECK_EQ(SUB("cust-6,192.0.2.1\n", &s), C2W_EMALF);
	CHECK_EQ(SUB(",192.0.2.1,2024-06-10,\n", &s), C2W_EMALF);
	CHECK_EQ(SUB("c,192.0.2.1,soon,\n", &s), C2W_EMALF);
	CHECK_EQ(events_import_subscriber_parse("a\0b,1.2.3.4,1,2", 15, &s, err, sizeof(err)),
		 C2W_EMALF);
	CHECK_EQ(REP("timestamp,address,family,source\n", &r), C2W_EIGNORE);
	CHECK_EQ(REP("2024-06-10T12:00:00Z,192.0.2.17,emotet,shadowserver\n", &r), C2W_OK);
	CHECK_STREQ(r.family, "emotet");
	CHECK_STREQ(r.source, "shadowserver");
	CHECK_EQ(REP("2024-06-10T12:00:00Z,2001:db8::5,,jpcert\n", &r), C2W_OK);
	CHECK_EQ(REP("2024-06-10T12:00:00Z,192.0.2.0/24,emotet,x\n", &r), C2W_EMALF);
	CHECK_EQ(REP("2024-06-10T12:00:00Z,192.0.2.1,emotet,\n", &r), C2W_EMALF);
	CHECK_EQ(REP("noon,192.0.2.1,emotet,x\n", &r), C2W_EMALF);
	CHECK_EQ(REP("2024-06-10,192.0.2.1,emotet\n", &r), C2W_EMALF);
	char big[4000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ(REP(big, &r), C2W_EMALF);
}

TEST_MAIN(TEST(test_time), TEST(test_csv), TEST(test_rows))

/* SPDX-License-Identifier: MIT */
/* Evidence JSON lines: members, escaping of client bytes, hex first bytes, no raw address. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "sinkhole/evidence.h"
#include "test.h"

static void test_http_record(void)
{
	struct sockaddr_in client = {.sin_family = AF_INET, .sin_port = htons(50000)};
	inet_pton(AF_INET, "192.0.2.7", &client.sin_addr);
	struct sinkhole_info info = {.family = "Emotet",
				     .category = "c2",
				     .zone = "c2.rpz.",
				     .feed = "feed",
				     .incident_id = 42};
	struct sinkhole_evidence ev = {
	    .proto = SINKHOLE_PROTO_HTTP,
	    .time_ms = 1735787045123,
	    .client = (struct sockaddr *)&client,
	    .client_len = sizeof(client),
	    .local_port = 80,
	    .host = "evil.example",
	    .method = "GET",
	    .path = "/a\"b\\c",
	    .user_agent = "ua\t\xe3\x81\x82",
	    .http_status = 403,
	    .blocked = true,
	    .info = &info,
	    .lang = "ja",
	};
	char out[SINKHOLE_EVIDENCE_JSON_MAX];
	int n = sinkhole_evidence_json(&ev, "0123456789abcdef0123456789abcdef", "c341aebc", out,
				       sizeof(out));
	CHECK(n > 0);
	CHECK_STREQ(
	    out,
	    "{\"time\":\"2025-01-02T03:04:05.123Z\",\"type\":\"sinkhole\",\"proto\":\"http\","
	    "\"client\":\"0123456789abcdef0123456789abcdef\",\"key_id\":\"c341aebc\","
	    "\"port\":80,\"host\":\"evil.example\",\"method\":\"GET\",\"path\":\"/a\\\"b\\\\c\","
	    "\"user_agent\":\"ua\\u0009\\u00e3\\u0081\\u0082\",\"status\":403,\"lang\":\"ja\","
	    "\"blocked\":true,\"family\":\"Emotet\",\"category\":\"c2\",\"zone\":\"c2.rpz.\","
	    "\"feed\":\"feed\",\"incident\":42}\n");
	CHECK(strstr(out, "192.0.2.7") == NULL);
	CHECK_EQ(sinkhole_evidence_json(&ev, NULL, NULL, out, 40), C2W_ESPACE);
}

static void test_tcp_and_tls_record(void)
{
	struct sockaddr_in client = {.sin_family = AF_INET};
	uint8_t bytes[] = {'N', 0, 0xff};
	struct sinkhole_evidence ev = {.proto = SINKHOLE_PROTO_TCP,
				       .client = (struct sockaddr *)&client,
				       .local_port = 6667,
				       .bytes = bytes,
				       .bytes_len = sizeof(bytes)};
	char out[512];
	CHECK(sinkhole_evidence_json(&ev, NULL, NULL, out, sizeof(out)) > 0);
	CHECK(strstr(out, "\"proto\":\"tcp\"") != NULL);
	CHECK(strstr(out, "\"first_bytes_hex\":\"4e00ff\"") != NULL);
	CHECK(strstr(out, "\"client\"") == NULL);
	ev = (struct sinkhole_evidence){.proto = SINKHOLE_PROTO_TLS,
					.client = (struct sockaddr *)&client,
					.host = "c2.example"};
	CHECK(sinkhole_evidence_json(&ev, NULL, NULL, out, sizeof(out)) > 0);
	CHECK(strstr(out, "\"sni\":\"c2.example\"") != NULL);
	CHECK_STREQ(sinkhole_proto_name(SINKHOLE_PROTO_TLS), "tls");
}

TEST_MAIN(TEST(test_http_record), TEST(test_tcp_and_tls_record))

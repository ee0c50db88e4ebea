/* SPDX-License-Identifier: MIT */
/*
 * The config loader against real files in a temporary directory: defaults, every key, every
 * kind of error with its exact "file:line:" prefix, relative path resolution, addresses and
 * prefixes, durations and sizes, and the sample conf/c2wall.yaml from the source tree.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "conf/value.h"
#include "core/log.h"
#include "test.h"

static char g_dir[PATH_MAX];  /* the temporary directory, realpath'd */
static char g_path[PATH_MAX]; /* g_dir/c2wall.yaml */

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK_EQ(fwrite(text, 1, len, f), len);
	fclose(f);
}

static int load(const char *yaml, struct c2w_config **cfg, char *err, size_t err_len)
{
	write_file(g_path, yaml, strlen(yaml));
	return conf_load(g_path, cfg, err, err_len);
}

/* The file must be rejected with exactly "<path>:<line>: " in front and @needle inside. */
static void expect_error_at(const char *file, int srcline, const char *yaml, unsigned line,
			    const char *needle)
{
	struct c2w_config *cfg = (struct c2w_config *)1;
	char err[512], prefix[PATH_MAX + 32];
	int ret = load(yaml, &cfg, err, sizeof(err));
	snprintf(prefix, sizeof(prefix), "%s:%u: ", g_path, line);
	bool ok = ret == C2W_ECONFIG && cfg == NULL && strncmp(err, prefix, strlen(prefix)) == 0 &&
		  strstr(err, needle) != NULL;
	CHECK(ok);
	if (!ok)
		fprintf(stderr, "%s:%d: wanted line %u and \"%s\"; got ret %d, \"%s\"\n", file,
			srcline, line, needle, ret, err);
	if (ret == C2W_OK)
		conf_free(cfg);
}
#define expect_error(yaml, line, needle) expect_error_at(__FILE__, __LINE__, yaml, line, needle)

static struct c2w_config *load_ok_at(const char *file, int srcline, const char *yaml)
{
	struct c2w_config *cfg = NULL;
	char err[512] = "";
	int ret = load(yaml, &cfg, err, sizeof(err));
	CHECK_EQ(ret, C2W_OK);
	if (ret != C2W_OK)
		fprintf(stderr, "%s:%d: unexpected error: %s\n", file, srcline, err);
	return cfg;
}
#define load_ok(yaml) load_ok_at(__FILE__, __LINE__, yaml)

static void join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);
	CHECK(n > 0 && (size_t)n < cap);
}

static void check_defaults(const struct c2w_config *cfg)
{
	CHECK_EQ(cfg->server.listen_count, 2);
	CHECK_STREQ(cfg->server.listen[0].text, "127.0.0.1@53");
	CHECK_STREQ(cfg->server.listen[1].text, "::1@53");
	CHECK_EQ(cfg->server.listen[0].ss.ss_family, AF_INET);
	CHECK_EQ(cfg->server.listen[0].ss_len, sizeof(struct sockaddr_in));
	CHECK_EQ(cfg->server.listen[1].ss.ss_family, AF_INET6);
	CHECK_EQ(cfg->server.workers, 0);
	CHECK_EQ(cfg->server.allow_count, 2);
	CHECK_EQ(cfg->server.allow[0].family, AF_INET);
	CHECK_EQ(cfg->server.allow[0].bits, 8);
	CHECK_EQ(cfg->server.allow[1].family, AF_INET6);
	CHECK_EQ(cfg->server.allow[1].bits, 128);
	CHECK_STREQ(cfg->server.user, "c2wall"); /* issue 12: not root by default */
	CHECK_EQ(cfg->server.tcp_clients_max, 256);
	CHECK_EQ(cfg->server.tcp_idle_timeout_ms, 10000);
	CHECK_EQ(cfg->server.tcp_clients_per_address, 32);
	CHECK_EQ(cfg->server.tcp_message_timeout_ms, 5000);
	CHECK_EQ(cfg->server.tcp_pipeline_max, 32);
	CHECK_EQ(cfg->server.tcp_output_max, 128 * 1024);
	CHECK_EQ(cfg->sinkhole.clients_per_address, 16);
	CHECK_EQ(cfg->sinkhole.evidence_per_minute, 30);
	CHECK_EQ(cfg->server.edns_udp_size, 1232);
	CHECK_EQ(cfg->server.cache_memory_mb, 96);
	CHECK_EQ(cfg->resolver.mode, CONF_RESOLVER_RECURSIVE);
	CHECK_STREQ(cfg->resolver.root_hints, "/usr/share/dns/root.hints");
	CHECK_STREQ(cfg->resolver.trust_anchor, "/usr/share/dns/root.key");
	CHECK_EQ(cfg->resolver.forward_count, 0);
	CHECK_EQ(cfg->resolver.stub_count, 0);
	CHECK_EQ(cfg->resolver.transparent_zone_count, 0);
	CHECK_EQ(cfg->resolver.timeout_ms, 5000);
	CHECK(!cfg->resolver.serve_stale);
	CHECK_EQ(cfg->resolver.cache_mb, 32);
	CHECK_EQ(cfg->policy.zone_count, 0);
	CHECK(cfg->policy.never_block_file == NULL);
	CHECK_EQ(cfg->policy.never_block_count, 0);
	CHECK(cfg->policy.max_change == 0);
	CHECK_EQ(cfg->policy.min_ns_dots, 1);
	CHECK(cfg->events.jsonl == NULL);
	CHECK_EQ(cfg->events.jsonl_rotate_bytes, 0);
	CHECK_EQ(cfg->events.jsonl_rotate_s, 0);
	CHECK(cfg->events.dnstap == NULL);
	CHECK(!cfg->events.syslog);
	CHECK(!cfg->events.query_log);
	CHECK_EQ(cfg->events.ring_entries, 4096);
	CHECK_STREQ(cfg->privacy.key_file, "/var/lib/c2wall/pseudonym.key");
	CHECK_EQ(cfg->privacy.key_rotation_s, 86400);
	CHECK_EQ(cfg->privacy.retention_days, 30);
	CHECK_EQ(cfg->privacy.notify_window_days, 14);
	CHECK(cfg->privacy.optout_file == NULL);
	CHECK_STREQ(cfg->store.sqlite, "/var/lib/c2wall/incidents.db");
	CHECK_STREQ(cfg->control.socket, "/run/c2wall/control.sock");
	CHECK(cfg->sinkhole.ipv4 == NULL);
	CHECK(cfg->sinkhole.ipv6 == NULL);
	CHECK_EQ(cfg->sinkhole.http_count + cfg->sinkhole.tls_count + cfg->sinkhole.tcp_count, 0);
	CHECK(cfg->sinkhole.templates == NULL);
	CHECK_EQ(cfg->log.level, C2W_LOG_INFO);
	CHECK(!cfg->log.syslog);
}

static void test_defaults(void)
{
	static const char *const empties[] = {
	    "",
	    "---\n",
	    "# only a comment\n",
	    ("server:\nresolver: ~\npolicy: {}\nevents:\nprivacy:\nstore:\ncontrol:\nsinkhole:\n"
	     "log:\n"),
	};
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		struct c2w_config *cfg = load_ok(empties[i]);
		if (cfg == NULL)
			continue;
		check_defaults(cfg);
		CHECK_STREQ(cfg->path, g_path);
		conf_free(cfg);
	}
	conf_free(NULL);
}

static const char full_yaml[] = "server:\n"
				"  listen: [\"192.0.2.1@5353\", \"2001:db8::1\"]\n"
				"  workers: 3\n"
				"  allow: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7]\n"
				"  user: c2wall\n"
				"  tcp-clients: 100\n"
				"  tcp-idle-timeout: 1500ms\n"
				"  tcp-clients-per-address: 4\n"
				"  tcp-message-timeout: 2s\n"
				"  tcp-pipeline-max: 8\n"
				"  tcp-output-max: 64k\n"
				"  edns-udp-size: 4096\n"
				"  cache-memory: 3m\n"
				"resolver:\n"
				"  mode: forward\n"
				"  root-hints: /etc/hints\n"
				"  trust-anchor: none\n"
				"  forward:\n"
				"    - 192.0.2.53\n"
				"    - \"2001:db8::53@5300\"\n"
				"  stub:\n"
				"    - zone: Corp.Example\n"
				"      addr: [\"10.0.0.1@53\", 10.0.0.2]\n"
				"    - {zone: lab.example., addr: \"10.9.9.9@5353\"}\n"
				"  timeout: 2s\n"
				"  serve-stale: yes\n"
				"  transparent-zones: [test, 10.in-addr.arpa.]\n"
				"  cache-size: 1g\n"
				"policy:\n"
				"  zones:\n"
				"    - name: c2.rpz.example\n"
				"      file: feeds/c2.rpz\n"
				"      format: rpz\n"
				"      policy: given\n"
				"      category: c2\n"
				"      family: emotet\n"
				"      feed: abuse-feed\n"
				"      ede: filtered\n"
				"      allow-include: true\n"
				"    - name: hosts.example\n"
				"      file: /srv/hosts.txt\n"
				"      format: hosts\n"
				"      policy: cname walled.example\n"
				"    - name: list.example\n"
				"      file: list.txt\n"
				"      format: domains\n"
				"      policy: sinkhole\n"
				"      category: phishing\n"
				"  never-block: [example.jp, Example.COM., \"*.Isp.Example\"]\n"
				"  never-block-file: never.txt\n"
				"  max-change: 0.25\n"
				"  min-ns-dots: 2\n"
				"events:\n"
				"  jsonl: /var/log/hits.jsonl\n"
				"  jsonl-rotate-size: 100m\n"
				"  jsonl-rotate-interval: 1h30m\n"
				"  dnstap: unix:/run/dnstap.sock\n"
				"  syslog: true\n"
				"  query-log: on\n"
				"  ring-entries: 8192\n"
				"privacy:\n"
				"  key-file: keys/pseudo.key\n"
				"  key-rotation: 7d\n"
				"  retention-days: 60\n"
				"  notify-window-days: 21\n"
				"  optout-file: /etc/optout.txt\n"
				"store:\n"
				"  sqlite: none\n"
				"control:\n"
				"  socket: /run/x.sock\n"
				"sinkhole:\n"
				"  ipv4: 192.0.2.66\n"
				"  ipv6: \"2001:db8:0::66\"\n"
				"  http: [192.0.2.66]\n"
				"  tls: [192.0.2.66]\n"
				"  tcp: [\"192.0.2.66@6667\"]\n"
				"  templates: /etc/c2wall/sinkhole\n"
				"  clients-per-address: 3\n"
				"  evidence-per-minute: 0\n"
				"log:\n"
				"  level: debug\n"
				"  syslog: true\n";

static void check_full_server_resolver(const struct c2w_config *cfg)
{
	CHECK_EQ(cfg->server.listen_count, 2);
	CHECK_STREQ(cfg->server.listen[0].text, "192.0.2.1@5353");
	CHECK_STREQ(cfg->server.listen[1].text, "2001:db8::1@53");
	CHECK_EQ(ntohs(((const struct sockaddr_in *)&cfg->server.listen[0].ss)->sin_port), 5353);
	CHECK_EQ(cfg->server.workers, 3);
	CHECK_EQ(cfg->server.allow_count, 3);
	CHECK_EQ(cfg->server.allow[1].bits, 32);
	CHECK_EQ(cfg->server.allow[2].bits, 32);
	CHECK_STREQ(cfg->server.user, "c2wall");
	CHECK_EQ(cfg->server.tcp_clients_max, 100);
	CHECK_EQ(cfg->server.tcp_idle_timeout_ms, 1500);
	CHECK_EQ(cfg->server.tcp_clients_per_address, 4);
	CHECK_EQ(cfg->server.tcp_message_timeout_ms, 2000);
	CHECK_EQ(cfg->server.tcp_pipeline_max, 8);
	CHECK_EQ(cfg->server.tcp_output_max, 64 * 1024);
	CHECK_EQ(cfg->server.edns_udp_size, 4096);
	CHECK_EQ(cfg->server.cache_memory_mb, 3);
	CHECK_EQ(cfg->resolver.mode, CONF_RESOLVER_FORWARD);
	CHECK_STREQ(cfg->resolver.root_hints, "/etc/hints");
	CHECK(cfg->resolver.trust_anchor == NULL);
	CHECK_EQ(cfg->resolver.forward_count, 2);
	CHECK_STREQ(cfg->resolver.forward[0].text, "192.0.2.53@53");
	CHECK_STREQ(cfg->resolver.forward[1].text, "2001:db8::53@5300");
	CHECK_EQ(cfg->resolver.stub_count, 2);
	CHECK_STREQ(cfg->resolver.stub[0].zone, "corp.example.");
	CHECK_EQ(cfg->resolver.stub[0].addr_count, 2);
	CHECK_STREQ(cfg->resolver.stub[0].addrs[1].text, "10.0.0.2@53");
	CHECK_STREQ(cfg->resolver.stub[1].zone, "lab.example.");
	CHECK_EQ(cfg->resolver.stub[1].addr_count, 1);
	CHECK_STREQ(cfg->resolver.stub[1].addrs[0].text, "10.9.9.9@5353");
	CHECK_EQ(cfg->resolver.timeout_ms, 2000);
	CHECK(cfg->resolver.serve_stale);
	CHECK_EQ(cfg->resolver.transparent_zone_count, 2);
	if (cfg->resolver.transparent_zone_count == 2) {
		CHECK_STREQ(cfg->resolver.transparent_zones[0], "test.");
		CHECK_STREQ(cfg->resolver.transparent_zones[1], "10.in-addr.arpa.");
	}
	CHECK_EQ(cfg->resolver.cache_mb, 1024);
}

static void check_full_policy(const struct c2w_config *cfg)
{
	char want[PATH_MAX];
	const struct conf_policy *pol = &cfg->policy;
	CHECK_EQ(pol->zone_count, 3);
	if (pol->zone_count != 3)
		return;
	CHECK_STREQ(pol->zones[0].name, "c2.rpz.example.");
	join(want, sizeof(want), g_dir, "feeds/c2.rpz");
	CHECK_STREQ(pol->zones[0].file, want);
	CHECK_EQ(pol->zones[0].format, CONF_ZONE_RPZ);
	CHECK_EQ(pol->zones[0].policy, CONF_POLICY_GIVEN);
	CHECK_STREQ(pol->zones[0].category, "c2");
	CHECK_STREQ(pol->zones[0].family, "emotet");
	CHECK_STREQ(pol->zones[0].feed, "abuse-feed");
	CHECK(pol->zones[0].ede_filtered);
	CHECK(pol->zones[0].allow_include);
	CHECK(!pol->zones[1].allow_include); /* default: $INCLUDE off */
	CHECK_STREQ(pol->zones[1].file, "/srv/hosts.txt");
	CHECK_EQ(pol->zones[1].format, CONF_ZONE_HOSTS);
	CHECK_EQ(pol->zones[1].policy, CONF_POLICY_CNAME);
	CHECK_STREQ(pol->zones[1].cname_target, "walled.example.");
	CHECK_STREQ(pol->zones[1].category, "c2");
	CHECK(pol->zones[1].family == NULL);
	CHECK_STREQ(pol->zones[1].feed, "hosts.example.");
	CHECK(!pol->zones[1].ede_filtered);
	CHECK_EQ(pol->zones[2].format, CONF_ZONE_DOMAINS);
	CHECK_EQ(pol->zones[2].policy, CONF_POLICY_SINKHOLE);
	CHECK_STREQ(pol->zones[2].category, "phishing");
	CHECK_EQ(pol->never_block_count, 3);
	CHECK_STREQ(pol->never_block[0], "example.jp.");
	CHECK_STREQ(pol->never_block[1], "example.com.");
	CHECK_STREQ(pol->never_block[2], "*.isp.example.");
	join(want, sizeof(want), g_dir, "never.txt");
	CHECK_STREQ(pol->never_block_file, want);
	CHECK(pol->max_change == 0.25);
	CHECK_EQ(pol->min_ns_dots, 2);
}

static void check_full_rest(const struct c2w_config *cfg)
{
	char want[PATH_MAX];
	CHECK_STREQ(cfg->events.jsonl, "/var/log/hits.jsonl");
	CHECK_EQ(cfg->events.jsonl_rotate_bytes, 100u << 20);
	CHECK_EQ(cfg->events.jsonl_rotate_s, 5400);
	CHECK_STREQ(cfg->events.dnstap, "unix:/run/dnstap.sock");
	CHECK(cfg->events.syslog);
	CHECK(cfg->events.query_log);
	CHECK_EQ(cfg->events.ring_entries, 8192);
	join(want, sizeof(want), g_dir, "keys/pseudo.key");
	CHECK_STREQ(cfg->privacy.key_file, want);
	CHECK_EQ(cfg->privacy.key_rotation_s, 7 * 86400);
	CHECK_EQ(cfg->privacy.retention_days, 60);
	CHECK_EQ(cfg->privacy.notify_window_days, 21);
	CHECK_STREQ(cfg->privacy.optout_file, "/etc/optout.txt");
	CHECK(cfg->store.sqlite == NULL);
	CHECK_STREQ(cfg->control.socket, "/run/x.sock");
	CHECK_STREQ(cfg->sinkhole.ipv4, "192.0.2.66");
	CHECK_STREQ(cfg->sinkhole.ipv6, "2001:db8::66");
	CHECK_STREQ(cfg->sinkhole.http[0].text, "192.0.2.66@80");
	CHECK_STREQ(cfg->sinkhole.tls[0].text, "192.0.2.66@443");
	CHECK_STREQ(cfg->sinkhole.tcp[0].text, "192.0.2.66@6667");
	CHECK_STREQ(cfg->sinkhole.templates, "/etc/c2wall/sinkhole");
	CHECK_EQ(cfg->sinkhole.clients_per_address, 3);
	CHECK_EQ(cfg->sinkhole.evidence_per_minute, 0);
	CHECK_EQ(cfg->log.level, C2W_LOG_DEBUG);
	CHECK(cfg->log.syslog);
}

static void test_every_key(void)
{
	struct c2w_config *cfg = load_ok(full_yaml);
	if (cfg == NULL)
		return;
	check_full_server_resolver(cfg);
	check_full_policy(cfg);
	check_full_rest(cfg);
	conf_free(cfg);
}

/* The ddos section and the resolver keys of the water-torture defence (issue 8). */
static void test_ddos_keys(void)
{
	struct c2w_config *cfg = load_ok("resolver:\n  ratelimit: 500\n  aggressive-nsec: no\n"
					 "  loopback-delegations: yes\n"
					 "ddos:\n  enabled: no\n  window: 5s\n  min-misses: 50\n"
					 "  bad-ratio: 0.5\n  hold: 2m\n  lift-after: 0s\n"
					 "  action: refused\n"
					 "  fetches-per-zone: 0\n  fetches-unresponsive: 16\n");
	if (cfg != NULL) {
		CHECK_EQ(cfg->resolver.ratelimit, 500);
		CHECK(!cfg->resolver.aggressive_nsec);
		CHECK(cfg->resolver.loopback_delegations);
		CHECK(!cfg->ddos.enabled);
		CHECK_EQ(cfg->ddos.window_s, 5);
		CHECK_EQ(cfg->ddos.min_misses, 50);
		CHECK(cfg->ddos.bad_ratio == 0.5);
		CHECK_EQ(cfg->ddos.hold_s, 120);
		CHECK_EQ(cfg->ddos.lift_after_s, 0);
		CHECK_EQ(cfg->ddos.action, CONF_DDOS_REFUSED);
		CHECK_EQ(cfg->ddos.fetches_per_zone, 0);
		CHECK_EQ(cfg->ddos.fetches_unresponsive, 16);
		conf_free(cfg);
	}
	cfg = load_ok("ddos:\n  action: drop\n");
	if (cfg != NULL) {
		CHECK_EQ(cfg->ddos.action, CONF_DDOS_DROP);
		conf_free(cfg);
	}
	cfg = load_ok("");
	if (cfg != NULL) {
		CHECK_EQ(cfg->resolver.ratelimit, 0);
		CHECK(cfg->resolver.aggressive_nsec);
		CHECK(!cfg->resolver.loopback_delegations);
		CHECK(cfg->ddos.enabled);
		CHECK_EQ(cfg->ddos.window_s, 3);
		CHECK_EQ(cfg->ddos.min_misses, 200);
		CHECK(cfg->ddos.bad_ratio == 0.8);
		CHECK_EQ(cfg->ddos.hold_s, 5);
		CHECK_EQ(cfg->ddos.lift_after_s, 1);
		CHECK_EQ(cfg->ddos.action, CONF_DDOS_SERVFAIL);
		CHECK_EQ(cfg->ddos.fetches_per_zone, 500);
		CHECK_EQ(cfg->ddos.fetches_unresponsive, 256);
		conf_free(cfg);
	}
	expect_error("ddos:\n  bad-ratio: 1.5\n", 2, "ddos.bad-ratio: 1.5 is out of range");
	expect_error("ddos:\n  lift-after: 2h\n", 2, "out of range");
	expect_error("ddos:\n  lift-after: soon\n", 2, "ddos.lift-after");
	expect_error("policy:\n  min-ns-dots: 128\n", 2, "out of range");
	expect_error("policy:\n  min-ns-dots: two\n", 2, "expected a number");
	expect_error("ddos:\n  action: silence\n", 2,
		     "'silence' is not one of servfail, nxdomain, refused, drop");
	expect_error("ddos:\n  min-misses: 2\n", 2, "out of range (8 to 1000)");
	expect_error("ddos:\n  window: 0s\n", 2, "out of range");
	expect_error("ddos:\n  fetches-unresponsive: 5000\n", 2, "out of range (0 to 4096)");
	expect_error("resolver:\n  ratelimit: lots\n", 2, "expected a number");
}

static void test_errors_keys(void)
{
	expect_error("server:\n  listen: [127.0.0.1]\n  bogus: 1\n", 3,
		     "unknown key 'bogus' in server");
	expect_error("log:\n  level: info\nfrobnicate:\n  x: 1\n", 3,
		     "unknown section 'frobnicate'");
	expect_error("resolver:\n  root_hints: /x\n", 2, "did you mean 'root-hints'?");
	expect_error("policy:\n  zones:\n    - name: a.example\n      file: a\n      colour: red\n",
		     5, "unknown key 'colour' in policy.zones[0]");
	expect_error("server:\n  workers: 2\n  user: a\n  workers: 3\n", 4,
		     "duplicate key 'workers' in server (first at line 2)");
	expect_error("log:\n  level: info\nserver: {}\nlog: {}\n", 4,
		     "duplicate key 'log' in top level (first at line 1)");
	expect_error("server:\n  {[a]: 1}\n", 2, "keys must be plain strings");
	/* Keys the code does not act on are refused, whatever their value (issue 12). */
	expect_error("store:\n  sqlite: none\n  postgres: \"host=db dbname=c2wall\"\n", 3,
		     "store.postgres: not supported in this version");
	expect_error("store:\n  postgres: none\n", 2,
		     "store.postgres: not supported in this version");
}

/* control.http and its keys (docs/config.md "control"). */
static void test_control_http(void)
{
	struct c2w_config *cfg = load_ok("server: {}\n");
	if (cfg != NULL) {
		CHECK_EQ(cfg->control.http_count, 0);
		CHECK(cfg->control.http_tokens == NULL && cfg->control.http_tls_cert == NULL);
		CHECK_EQ(cfg->control.http_body_max, 65536);
		CHECK_EQ(cfg->control.http_headers_max, 8192);
		CHECK_EQ(cfg->control.http_timeout_ms, 10000);
		CHECK_EQ(cfg->control.http_connections_max, 64);
		conf_free(cfg);
	}
	cfg = load_ok("control:\n  http: [127.0.0.1, \"::1@8443\"]\n  http-tokens: /etc/t\n"
		      "  http-tls-cert: /c.pem\n  http-tls-key: /k.pem\n  http-body-max: 1k\n"
		      "  http-headers-max: 4096\n  http-timeout: 3s\n"
		      "  http-connections-max: 5\n");
	if (cfg != NULL) {
		CHECK_EQ(cfg->control.http_count, 2);
		CHECK_STREQ(cfg->control.http[0].text, "127.0.0.1@9153");
		CHECK_STREQ(cfg->control.http[1].text, "::1@8443");
		CHECK_STREQ(cfg->control.http_tokens, "/etc/t");
		CHECK_STREQ(cfg->control.http_tls_cert, "/c.pem");
		CHECK_STREQ(cfg->control.http_tls_key, "/k.pem");
		CHECK_EQ(cfg->control.http_body_max, 1024);
		CHECK_EQ(cfg->control.http_headers_max, 4096);
		CHECK_EQ(cfg->control.http_timeout_ms, 3000);
		CHECK_EQ(cfg->control.http_connections_max, 5);
		conf_free(cfg);
	}
	expect_error("control:\n  http: [127.0.0.1]\n", 2,
		     "control.http needs control.http-tokens");
	expect_error("control:\n  http-tokens: /t\n  http-tls-cert: /c.pem\n", 3,
		     "control.http-tls-cert and control.http-tls-key go together");
	expect_error("control:\n  http-tls-key: /k.pem\n", 2, "go together");
	expect_error("control:\n  http-connections-max: 0\n", 2, "control.http-connections-max");
	expect_error("control:\n  http-body-max: 100\n", 2, "control.http-body-max");
	expect_error("control:\n  http-timeout: 10ms\n", 2, "control.http-timeout");
	expect_error("control:\n  http: [not-an-address]\n  http-tokens: /t\n", 2,
		     "control.http");
}

static void test_errors_types(void)
{
	expect_error("server:\n  listen:\n    a: b\n", 3, "server.listen: expected a list");
	expect_error("server:\n  workers: [1, 2]\n", 2,
		     "server.workers: expected a single value, not a list");
	expect_error("server: 5\n", 1, "server: expected a mapping");
	expect_error("- a\n- b\n", 1, "must be a mapping of sections");
	expect_error("server:\n  listen: [[127.0.0.1]]\n", 2, "expected a single value");
	expect_error("server:\n  tcp-clients: many\n", 2, "expected a number, got 'many'");
	expect_error("server:\n  tcp-clients: -1\n", 2, "expected a number");
	expect_error("server:\n  tcp-clients: 0\n", 2, "out of range (1 to 65535)");
	expect_error("server:\n  edns-udp-size: 70000\n", 2, "out of range (512 to 65535)");
	expect_error("server:\n  tcp-clients-per-address: 0\n", 2, "out of range (1 to 65535)");
	expect_error("server:\n  tcp-pipeline-max: 70000\n", 2, "out of range (1 to 65535)");
	expect_error("server:\n  tcp-message-timeout: soon\n", 2, "tcp-message-timeout");
	expect_error("server:\n  tcp-output-max: 1k\n", 2, "tcp-output-max");
	expect_error("sinkhole:\n  clients-per-address: 0\n", 2, "out of range (1 to 65535)");
	expect_error("sinkhole:\n  evidence-per-minute: lots\n", 2, "expected a number");
	expect_error("server:\n  workers: lots\n", 2, "expected 'auto' or a number");
	expect_error("resolver:\n  serve-stale: maybe\n", 2, "expected true or false");
	expect_error("resolver:\n  root-hints: \"\"\n", 2, "a value is required");
	expect_error("policy:\n  max-change: -0.5\n", 2, "expected a number >= 0");
	expect_error("policy:\n  max-change: nan\n", 2, "expected a number >= 0");
	expect_error("policy:\n  zones: {name: x}\n", 2, "expected a list of mappings");
	expect_error("policy:\n  zones:\n    - just-a-name\n", 3,
		     "policy.zones[0]: expected a mapping");
	expect_error("privacy:\n  key-file: \"a\\0b\"\n", 2, "NUL character");
}

static void test_errors_values(void)
{
	expect_error("server:\n  listen: [\"127.0.0.1@5353\", \"::1@99999\"]\n", 2,
		     "'::1@99999' is not a valid address");
	expect_error("server:\n  listen:\n    - 127.0.0.1\n    - \"[::1]:53\"\n", 4,
		     "'[::1]:53' is not a valid address");
	expect_error("server:\n  listen: []\n", 2, "server.listen: at least one address");
	expect_error("server:\n  allow: [10.0.0.0/33]\n", 2, "'10.0.0.0/33' is not a valid prefix");
	expect_error("server:\n  allow: [10.1.2.3/8]\n", 2, "host bits zero");
	expect_error("server:\n  allow: [example.com]\n", 2, "not a valid prefix");
	expect_error("resolver:\n  mode: iterative\n", 2,
		     "resolver.mode: 'iterative' is not one of recursive, forward");
	expect_error("log:\n  level: verbose\n", 2,
		     "'verbose' is not one of error, warning, info, debug");
	expect_error("policy:\n  zones:\n    - {name: a, file: b, format: csv}\n", 3,
		     "'csv' is not one of rpz, hosts, domains");
	expect_error("policy:\n  zones:\n    - {name: a, file: b, policy: block}\n", 3,
		     "policy.zones[0].policy: 'block' is not one of given");
	expect_error("policy:\n  zones:\n    - {name: a, file: b, policy: \"cname bad..name\"}\n",
		     3, "'bad..name' is not a valid domain name");
	expect_error("policy:\n  zones:\n    - {name: a, file: b, ede: forbidden}\n", 3,
		     "is not one of blocked, filtered");
	expect_error("policy:\n  zones:\n    - name: \"bad name\"\n      file: b\n", 3,
		     "policy.zones[0].name: 'bad name' is not a valid domain name");
	expect_error("policy:\n  never-block: [good.example, -ok, \"a b\"]\n", 2,
		     "'a b' is not a valid domain name");
	expect_error("policy:\n  never-block: [\"*.\"]\n", 2, "'*.' is not a valid domain name");
	/* The wildcard is the never-block list's; other name lists take plain names. */
	expect_error("resolver:\n  transparent-zones: [\"*.test\"]\n", 2,
		     "resolver.transparent-zones: '*.test' is not a valid domain name");
	expect_error("policy:\n  never-block: [\"a.*.b\"]\n", 2, "is not a valid domain name");
	expect_error("policy:\n  zones:\n    - {name: \"*.a\", file: b}\n", 3,
		     "'*.a' is not a valid domain name");
	expect_error("events:\n  dnstap: tcp:127.0.0.1\n", 2, "expected unix:/path or file:/path");
	expect_error("sinkhole:\n  ipv4: \"::1\"\n", 2, "'::1' is not an IPv4 address");
	expect_error("sinkhole:\n  ipv6: 127.0.0.1\n", 2, "is not an IPv6 address");
	expect_error("sinkhole:\n  tcp: [127.0.0.2]\n", 2, "'127.0.0.2' needs a port");
}

static void test_errors_units(void)
{
	expect_error("resolver:\n  timeout: 5 seconds\n", 2,
		     "expected a duration like 30s, 5m, 24h or 7d, got '5 seconds'");
	expect_error("resolver:\n  timeout: 1h\n", 2, "'1h' is out of range (1ms to 10m)");
	expect_error("resolver:\n  timeout: 0\n", 2, "out of range");
	expect_error("privacy:\n  key-rotation: 90500ms\n", 2, "not a whole number of seconds");
	expect_error("privacy:\n  key-rotation: 10s\n", 2, "out of range (1m to 366d)");
	expect_error("events:\n  jsonl-rotate-size: 10 MB\n", 2, "expected a size like");
	expect_error("events:\n  jsonl-rotate-size: 10x\n", 2, "expected a size like");
	expect_error("resolver:\n  cache-size: 100k\n", 2, "out of range");
	expect_error("events:\n  jsonl-rotate-size: 99999999999999999999\n", 2,
		     "expected a size like");
}

static void test_errors_required(void)
{
	expect_error("resolver:\n  mode: forward\n", 2,
		     "resolver.mode is forward but resolver.forward lists no upstream");
	expect_error("resolver:\n  forward: [192.0.2.1]\n", 2,
		     "resolver.forward is only used with 'mode: forward'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      format: rpz\n", 3,
		     "policy.zones[0]: a zone needs 'file', 'primaries' or 'url'");
	expect_error("policy:\n  zones:\n    - {name: a, file: a}\n    - {file: b}\n", 4,
		     "policy.zones[1]: missing required key 'name'");
	expect_error("policy:\n  zones:\n    - {name: a, file: a}\n    - {name: A., file: b}\n", 4,
		     "policy.zones[1]: zone a. is already in zones[0]");
	expect_error("resolver:\n  stub:\n    - zone: corp.example\n", 3,
		     "resolver.stub[0]: missing required key 'addr'");
	expect_error("resolver:\n  stub:\n    - {zone: x, addr: []}\n", 3,
		     "resolver.stub[0].addr: at least one address");
	expect_error("resolver:\n  stub:\n    - {zone: x, addr: [10.0.0.1]}\n"
		     "    - {zone: X., addr: [10.0.0.2]}\n",
		     4, "zone x. is already in stub[0]");
	expect_error("policy:\n  zones:\n    - {name: a, file: a}\n    - {name: b, file: b,\n"
		     "       policy: sinkhole}\n",
		     5, "neither sinkhole.ipv4 nor sinkhole.ipv6 is set");
	expect_error("privacy:\n  retention-days: 7\n", 2,
		     "notify-window-days (14) exceeds privacy.retention-days (7)");
}

static void test_errors_yaml(void)
{
	expect_error("server:\n  user: a\n   bad: b\n", 3,
		     "YAML syntax error: mapping values are not allowed");
	expect_error("server:\n  user: \"unterminated\n", 2,
		     "YAML syntax error: found unexpected end of stream (while scanning a quoted");
	expect_error("server:\n\tuser: x\n", 2, "YAML syntax error");
	expect_error("log:\n  level: debug\nXXXX", 3, "could not find expected ':'");
	expect_error("server:\n  listen: [127.0.0.1\n", 3,
		     "did not find expected ',' or ']' (while parsing a flow sequence at line 2)");
	/* A multi-line value: the message stays on one line. */
	expect_error("server:\n  listen: [127.0.0.1, 1\n\n  log: {}]\n", 2, "'1?log' is not a");
	expect_error("server:\n  listen: &x [127.0.0.1]\n  allow: *x\n", 3,
		     "anchors and aliases are not supported");
	expect_error("log: {}\n---\nlog: {}\n", 2, "only one YAML document");
	expect_error("log:\n  level: info\n  syslog: \xff\xfe\n", 3, "invalid input");
}

static void test_open_errors(void)
{
	struct c2w_config *cfg = (struct c2w_config *)1;
	char err[512], path[PATH_MAX + 16];
	join(path, sizeof(path), g_dir, "missing.yaml");
	CHECK_EQ(conf_load(path, &cfg, err, sizeof(err)), -ENOENT);
	CHECK(cfg == NULL);
	CHECK(strncmp(err, path, strlen(path)) == 0);
	CHECK_EQ(conf_load(g_dir, &cfg, err, sizeof(err)), C2W_ECONFIG);
	CHECK(strstr(err, "not a regular file") != NULL);
}

static void test_relative_paths(void)
{
	char sub[PATH_MAX], path[PATH_MAX + 32], want[PATH_MAX + 64], cwd[PATH_MAX];
	static const char yaml[] =
	    "policy:\n  zones:\n    - {name: c2.rpz.example, file: "
	    "../feeds/c2.rpz}\nevents:\n  jsonl: var/hits.jsonl\n"
	    "  dnstap: file:var/tap.fstrm\nresolver:\n  root-hints: ./hints\n";
	join(sub, sizeof(sub), g_dir, "conf");
	CHECK(mkdir(sub, 0700) == 0);
	join(path, sizeof(path), sub, "c2wall.yaml");
	write_file(path, yaml, strlen(yaml));

	/* Loaded by a relative name from the parent directory: paths still come out absolute. */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(chdir(g_dir) == 0);
	struct c2w_config *cfg = NULL;
	char err[512] = "";
	CHECK_EQ(conf_load("conf/c2wall.yaml", &cfg, err, sizeof(err)), C2W_OK);
	CHECK(chdir(cwd) == 0);
	if (cfg == NULL)
		return;
	CHECK_STREQ(cfg->path, path);
	snprintf(want, sizeof(want), "%s/../feeds/c2.rpz", sub);
	CHECK_STREQ(cfg->policy.zones[0].file, want);
	snprintf(want, sizeof(want), "%s/var/hits.jsonl", sub);
	CHECK_STREQ(cfg->events.jsonl, want);
	snprintf(want, sizeof(want), "file:%s/var/tap.fstrm", sub);
	CHECK_STREQ(cfg->events.dnstap, want);
	snprintf(want, sizeof(want), "%s/./hints", sub);
	CHECK_STREQ(cfg->resolver.root_hints, want);

	/* The daemon creates the parents of the files it writes. */
	CHECK_EQ(conf_path_mkparents(cfg->events.jsonl), C2W_OK);
	CHECK_EQ(conf_path_mkparents(cfg->events.jsonl), C2W_OK); /* idempotent */
	struct stat st;
	snprintf(want, sizeof(want), "%s/var", sub);
	CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(rmdir(want) == 0);
	conf_free(cfg);
	unlink(path);
	rmdir(sub);
}

static void test_load_buffer(void)
{
	/* Not NUL-terminated: the loader must stop at @len. */
	static const char text[] = "log:\n  level: debug\nXXXX";
	struct c2w_config *cfg = NULL;
	char err[256];
	CHECK_EQ(conf_load_buffer(text, strlen(text) - 4, "/nonexistent/dir/x.yaml", &cfg, err,
				  sizeof(err)),
		 C2W_OK);
	if (cfg != NULL) {
		CHECK_EQ(cfg->log.level, C2W_LOG_DEBUG);
		CHECK_STREQ(cfg->path, "/nonexistent/dir/x.yaml");
		conf_free(cfg);
	}
	CHECK_EQ(conf_load_buffer(text, strlen(text), "mem.yaml", &cfg, err, sizeof(err)),
		 C2W_ECONFIG);
	CHECK(strncmp(err, "mem.yaml:3: YAML syntax error", 29) == 0);
	/* A tiny error buffer truncates, never overflows. */
	char small[8];
	CHECK_EQ(conf_load_buffer("x: 1", 4, "mem.yaml", &cfg, small, sizeof(small)), C2W_ECONFIG);
	CHECK_EQ(strlen(small), 7);
}

static void test_addr_parse(void)
{
	struct conf_addr a;
	CHECK_EQ(conf_addr_parse("127.0.0.1@5353", 53, &a), C2W_OK);
	CHECK_STREQ(a.text, "127.0.0.1@5353");
	CHECK_EQ(a.ss.ss_family, AF_INET);
	CHECK_EQ(conf_addr_parse("::1@5353", 53, &a), C2W_OK);
	CHECK_STREQ(a.text, "::1@5353");
	CHECK_EQ(a.ss_len, sizeof(struct sockaddr_in6));
	CHECK_EQ(ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port), 5353);
	CHECK_EQ(conf_addr_parse("0:0::0001", 53, &a), C2W_OK);
	CHECK_STREQ(a.text, "::1@53");
	CHECK_EQ(conf_addr_parse("::ffff:192.0.2.1@1", 53, &a), C2W_OK);
	CHECK_STREQ(a.text, "::ffff:192.0.2.1@1");
	CHECK_EQ(conf_addr_parse("192.0.2.1@65535", 0, &a), C2W_OK);
	/* The bracket form of docs/sinkhole.md (issue 12). */
	CHECK_EQ(conf_addr_parse("[2001:db8::80]@80", 53, &a), C2W_OK);
	CHECK_STREQ(a.text, "2001:db8::80@80");
	CHECK_EQ(conf_addr_parse("[::1]", 53, &a), C2W_OK);
	CHECK_STREQ(a.text, "::1@53");
	static const char *const bad[] = {
	    "[192.0.2.1]@80",
	    "[::1@53",
	    "::1]@53",
	    "[]@53",
	    "[[::1]]@53",
	    "",
	    "@53",
	    "127.0.0.1@",
	    "127.0.0.1@0",
	    "127.0.0.1@65536",
	    "1.2.3@53",
	    "[::1]:53",
	    "127.0.0.1@53@53",
	    "127.0.0.1@+53",
	    "host.example",
	    "127.0.0.1 ",
	    "127.0.0.1@123456",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = conf_addr_parse(bad[i], 53, &a);
		CHECK_EQ(ret, C2W_EINVAL);
		if (ret != C2W_EINVAL)
			fprintf(stderr, "  accepted bad address '%s'\n", bad[i]);
	}
	CHECK_EQ(conf_addr_parse("192.0.2.1", 0, &a), C2W_EINVAL); /* port required */
}

static void sa4(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	CHECK(inet_pton(AF_INET, text, &sin->sin_addr) == 1);
}

static void sa6(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	CHECK(inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1);
}

static bool contains(const char *prefix, const char *addr)
{
	struct conf_prefix p;
	struct sockaddr_storage ss;
	CHECK_EQ(conf_prefix_parse(prefix, &p), C2W_OK);
	if (strchr(addr, ':') != NULL)
		sa6(&ss, addr);
	else
		sa4(&ss, addr);
	return conf_prefix_contains(&p, (const struct sockaddr *)&ss);
}

static void test_prefixes(void)
{
	struct conf_prefix p;
	CHECK_EQ(conf_prefix_parse("192.0.2.0/24", &p), C2W_OK);
	CHECK_EQ(p.family, AF_INET);
	CHECK_EQ(p.bits, 24);
	CHECK_EQ(p.addr[2], 2);
	CHECK_EQ(conf_prefix_parse("2001:db8::/32", &p), C2W_OK);
	CHECK_EQ(p.family, AF_INET6);
	CHECK_EQ(p.bits, 32);
	CHECK_EQ(conf_prefix_parse("192.0.2.1", &p), C2W_OK);
	CHECK_EQ(p.bits, 32);
	CHECK_EQ(conf_prefix_parse("::1", &p), C2W_OK);
	CHECK_EQ(p.bits, 128);
	static const char *const bad[] = {"",
					  "/8",
					  "10.0.0.0/",
					  "10.0.0.0/33",
					  "::/129",
					  "10.0.0.0/-1",
					  "10.0.0.0/8/8",
					  "10.0.0.1/8",
					  "10.0.0.0/0100",
					  "2001:db8::1/32",
					  "example.com/8"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = conf_prefix_parse(bad[i], &p);
		CHECK_EQ(ret, C2W_EINVAL);
		if (ret != C2W_EINVAL)
			fprintf(stderr, "  accepted bad prefix '%s'\n", bad[i]);
	}

	CHECK(contains("127.0.0.0/8", "127.1.2.3"));
	CHECK(!contains("127.0.0.0/8", "128.0.0.1"));
	CHECK(contains("192.0.2.8/29", "192.0.2.15"));
	CHECK(!contains("192.0.2.8/29", "192.0.2.16"));
	CHECK(!contains("192.0.2.8/29", "192.0.2.7"));
	CHECK(contains("10.8.0.0/13", "10.15.255.255"));
	CHECK(!contains("10.8.0.0/13", "10.16.0.0"));
	CHECK(contains("0.0.0.0/0", "203.0.113.9"));
	CHECK(contains("192.0.2.1", "192.0.2.1"));
	CHECK(!contains("192.0.2.1", "192.0.2.2"));
	CHECK(contains("::1/128", "::1"));
	CHECK(!contains("::1/128", "::2"));
	CHECK(contains("2001:db8::/32", "2001:db8:ffff::1"));
	CHECK(!contains("2001:db8::/32", "2001:db9::1"));
	CHECK(contains("::/0", "2001:db8::1"));
	/* v4-mapped clients of a dual-stack socket match IPv4 prefixes ... */
	CHECK(contains("127.0.0.0/8", "::ffff:127.0.0.1"));
	CHECK(!contains("127.0.0.0/8", "::ffff:10.0.0.1"));
	CHECK(contains("0.0.0.0/0", "::ffff:198.51.100.1"));
	/* ... but other IPv6 addresses never do, and IPv4 clients never match IPv6 prefixes. */
	CHECK(!contains("0.0.0.0/0", "2001:db8::1"));
	CHECK(!contains("0.0.0.0/0", "::127.0.0.1"));
	CHECK(!contains("::/0", "127.0.0.1"));
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	CHECK_EQ(conf_prefix_parse("0.0.0.0/0", &p), C2W_OK);
	CHECK(!conf_prefix_contains(&p, (const struct sockaddr *)&ss));
}

static void test_durations_sizes(void)
{
	uint64_t v;
	CHECK_EQ(conf_value_parse_duration("24h", &v), C2W_OK);
	CHECK_EQ(v, 86400000);
	CHECK_EQ(conf_value_parse_duration("30m", &v), C2W_OK);
	CHECK_EQ(v, 1800000);
	CHECK_EQ(conf_value_parse_duration("3600s", &v), C2W_OK);
	CHECK_EQ(v, 3600000);
	CHECK_EQ(conf_value_parse_duration("7d", &v), C2W_OK);
	CHECK_EQ(v, 604800000);
	CHECK_EQ(conf_value_parse_duration("250ms", &v), C2W_OK);
	CHECK_EQ(v, 250);
	CHECK_EQ(conf_value_parse_duration("90", &v), C2W_OK);
	CHECK_EQ(v, 90000);
	CHECK_EQ(conf_value_parse_duration("1h30m15s", &v), C2W_OK);
	CHECK_EQ(v, 5415000);
	CHECK_EQ(conf_value_parse_duration("0", &v), C2W_OK);
	CHECK_EQ(v, 0);
	static const char *const bad_d[] = {"",    "h",  "5x", "5 s",    "-5s", "1.5h",
					    "5sm", "s5", "5H", "1h 30m", "5ms5"};
	for (size_t i = 0; i < sizeof(bad_d) / sizeof(bad_d[0]); i++)
		CHECK(conf_value_parse_duration(bad_d[i], &v) != C2W_OK);
	CHECK_EQ(conf_value_parse_duration("99999999999999999999", &v), C2W_ERANGE);
	CHECK_EQ(conf_value_parse_duration("999999999999999d", &v), C2W_ERANGE);

	CHECK_EQ(conf_value_parse_size("64m", &v), C2W_OK);
	CHECK_EQ(v, 64u << 20);
	CHECK_EQ(conf_value_parse_size("100M", &v), C2W_OK);
	CHECK_EQ(v, 100u << 20);
	CHECK_EQ(conf_value_parse_size("512kb", &v), C2W_OK);
	CHECK_EQ(v, 512u << 10);
	CHECK_EQ(conf_value_parse_size("2GiB", &v), C2W_OK);
	CHECK_EQ(v, 2ull << 30);
	CHECK_EQ(conf_value_parse_size("1t", &v), C2W_OK);
	CHECK_EQ(v, 1ull << 40);
	CHECK_EQ(conf_value_parse_size("4096", &v), C2W_OK);
	CHECK_EQ(v, 4096);
	static const char *const bad_s[] = {"", "m", "64 m", "64mm", "64x", "-1", "1.5g", "64mib2"};
	for (size_t i = 0; i < sizeof(bad_s) / sizeof(bad_s[0]); i++)
		CHECK(conf_value_parse_size(bad_s[i], &v) != C2W_OK);
	CHECK_EQ(conf_value_parse_size("20000000t", &v), C2W_ERANGE);

	bool b;
	CHECK(conf_value_parse_bool("Yes", &b) == C2W_OK && b);
	CHECK(conf_value_parse_bool("off", &b) == C2W_OK && !b);
	CHECK(conf_value_parse_bool("1", &b) != C2W_OK);
	double d;
	CHECK(conf_value_parse_double("0.5", &d) == C2W_OK && d == 0.5);
	CHECK(conf_value_parse_double("inf", &d) != C2W_OK);
	CHECK(conf_value_parse_double("0x1p3", &d) != C2W_OK);
	CHECK(conf_value_parse_double("1e999", &d) != C2W_OK);
	char name[256];
	CHECK(conf_value_parse_name("WWW.Example.COM", name, sizeof(name)) == C2W_OK);
	CHECK_STREQ(name, "www.example.com.");
	CHECK(conf_value_parse_name(".", name, sizeof(name)) == C2W_OK);
	CHECK_STREQ(name, ".");
	CHECK(conf_value_parse_name("a..b", name, sizeof(name)) != C2W_OK);
	CHECK(conf_value_parse_name("..", name, sizeof(name)) != C2W_OK);
	char label64[80];
	memset(label64, 'a', 64);
	label64[64] = '\0';
	CHECK(conf_value_parse_name(label64, name, sizeof(name)) != C2W_OK);
	label64[63] = '\0';
	CHECK(conf_value_parse_name(label64, name, sizeof(name)) == C2W_OK);
	CHECK(conf_value_parse_name("abc", name, 4) == C2W_ESPACE);
}

static void test_sample_config(void)
{
	const char *src = getenv("C2W_SRCDIR");
	CHECK(src != NULL);
	if (src == NULL)
		return;
	char path[PATH_MAX], err[512] = "";
	snprintf(path, sizeof(path), "%s/conf/c2wall.yaml", src);
	struct c2w_config *cfg = NULL;
	int ret = conf_load(path, &cfg, err, sizeof(err));
	CHECK_EQ(ret, C2W_OK);
	if (ret != C2W_OK) {
		fprintf(stderr, "sample config: %s\n", err);
		return;
	}
	CHECK_EQ(cfg->server.listen_count, 2);
	CHECK_STREQ(cfg->server.listen[0].text, "127.0.0.1@5353");
	CHECK_STREQ(cfg->server.listen[1].text, "::1@5353");
	CHECK_EQ(cfg->server.workers, 0);
	CHECK_EQ(cfg->resolver.mode, CONF_RESOLVER_RECURSIVE);
	CHECK_STREQ(cfg->resolver.root_hints, "/usr/share/dns/root.hints");
	CHECK_STREQ(cfg->resolver.trust_anchor, "/usr/share/dns/root.key");
	CHECK_EQ(cfg->policy.zone_count, 1);
	CHECK_STREQ(cfg->policy.zones[0].name, "c2.rpz.example.");
	const char *f = cfg->policy.zones[0].file;
	const char *tail = "/conf/../feeds/sample-c2.rpz";
	CHECK(f[0] == '/' && strlen(f) > strlen(tail) &&
	      strcmp(f + strlen(f) - strlen(tail), tail) == 0);
	CHECK(cfg->events.jsonl != NULL && strstr(cfg->events.jsonl, "/conf/var/hits.jsonl"));
	CHECK(cfg->store.sqlite != NULL && strstr(cfg->store.sqlite, "/conf/var/incidents.db"));
	CHECK(cfg->privacy.key_file[0] == '/');
	conf_free(cfg);
}

static void test_diff_restart(void)
{
	struct c2w_config *a = load_ok("server:\n  listen: [127.0.0.1@5353]\n  workers: 2\n"
				       "log:\n  level: info\n");
	struct c2w_config *b = load_ok("server:\n  listen: [127.0.0.1@5353]\n  workers: 2\n"
				       "log:\n  level: debug\n");
	struct c2w_config *c = load_ok("server:\n  listen: [127.0.0.1@5354]\n  workers: 3\n"
				       "store:\n  sqlite: none\nlog:\n  level: error\n");
	char out[128], small[10];
	if (a == NULL || b == NULL || c == NULL)
		goto out;
	CHECK_EQ(conf_diff_restart(a, a, out, sizeof(out)), 0);
	CHECK_STREQ(out, "");
	CHECK_EQ(conf_diff_restart(a, b, out, sizeof(out)), 1);
	CHECK_STREQ(out, "log.level");
	/* A listener change is applied by the reload itself; workers and store are not. */
	CHECK_EQ(conf_diff_restart(a, c, out, sizeof(out)), 3);
	CHECK_STREQ(out, "server.workers, store.sqlite, log.level");
	CHECK_EQ(conf_diff_restart(a, c, small, sizeof(small)), 3);
	CHECK_STREQ(small, "server.wo");
out:
	conf_free(a);
	conf_free(b);
	conf_free(c);
}

static void setup(void)
{
	char tmpl[] = "/tmp/c2w-conf-XXXXXX";
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, g_dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	join(g_path, sizeof(g_path), g_dir, "c2wall.yaml");
}

static void teardown(void)
{
	unlink(g_path);
	rmdir(g_dir);
}

/* limits: defaults, every key, and FILE:LINE errors for bad values. */
static void test_limits(void)
{
	struct c2w_config *cfg = load_ok("log:\n  level: info\n");
	if (cfg != NULL) {
		CHECK_EQ(cfg->limits.client_prefix_v4, 32u);
		CHECK_EQ(cfg->limits.client_prefix_v6, 56u);
		CHECK_EQ(cfg->limits.client_inflight_max, 100u);
		CHECK_EQ(cfg->limits.over_limit, CONF_OVER_LIMIT_SERVFAIL);
		CHECK_EQ(cfg->limits.upstream_pending_max, 1024u);
		conf_free(cfg);
	}
	cfg = load_ok("limits:\n  client-prefix-v4: 24\n  client-prefix-v6: 64\n"
		      "  client-inflight-max: 20\n  over-limit: drop\n"
		      "  upstream-pending-max: 0\n");
	if (cfg != NULL) {
		CHECK_EQ(cfg->limits.client_prefix_v4, 24u);
		CHECK_EQ(cfg->limits.client_prefix_v6, 64u);
		CHECK_EQ(cfg->limits.client_inflight_max, 20u);
		CHECK_EQ(cfg->limits.over_limit, CONF_OVER_LIMIT_DROP);
		CHECK_EQ(cfg->limits.upstream_pending_max, 0u);
		conf_free(cfg);
	}
	expect_error("limits:\n  client-prefix-v4: 33\n", 2, "out of range (8 to 32)");
	expect_error("limits:\n  client-prefix-v6: 8\n", 2, "out of range (16 to 128)");
	expect_error("limits:\n  client-inflight-max: 0\n", 2, "out of range (1 to 65535)");
	expect_error("limits:\n  upstream-pending-max: 70000\n", 2, "out of range (0 to 65536)");
	expect_error("limits:\n  over-limit: refuse\n", 2, "'refuse' is not one of");
	expect_error("limits:\n  client-inflight: 5\n", 2, "unknown key");
}

static void test_setup(void)
{
	setup();
}

static void test_teardown(void)
{
	teardown();
	CHECK(access(g_dir, F_OK) != 0);
}

TEST_MAIN(TEST(test_setup), TEST(test_defaults), TEST(test_every_key), TEST(test_ddos_keys),
	  TEST(test_errors_keys),
	  TEST(test_errors_types), TEST(test_errors_values), TEST(test_errors_units),
	  TEST(test_control_http),
	  TEST(test_errors_required), TEST(test_errors_yaml), TEST(test_open_errors),
	  TEST(test_relative_paths), TEST(test_load_buffer), TEST(test_addr_parse),
	  TEST(test_prefixes), TEST(test_durations_sizes), TEST(test_sample_config),
	  TEST(test_diff_restart), TEST(test_limits), TEST(test_teardown))

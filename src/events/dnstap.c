/* SPDX-License-Identifier: MIT */
/*
 * dnstap sink: each hit becomes a Dnstap MESSAGE of type CLIENT_RESPONSE carrying a
 * synthesised response (header with the rcode we gave, the question) and the Policy fields
 * (type "RPZ", rule, action, match, value). The client address is NOT put in query_address:
 * the pseudonym travels in Dnstap.extra. libfstrm's I/O thread does the writing, so a slow
 * or absent collector costs us a dropped frame, never a wait.
 */
#include <fstrm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "dns/name.h"
#include "events/dnstap.pb-c.h"
#include "events/sinks.h"

#define CONTENT_TYPE "protobuf:dnstap.Dnstap"

struct events_dnstap {
	struct fstrm_iothr *iothr;
	struct fstrm_iothr_queue *queue;
	char *identity;
};

int events_dnstap_open(const char *spec, const char *identity, struct events_dnstap **out)
{
	bool is_unix = strncmp(spec, "unix:", 5) == 0;
	bool is_file = strncmp(spec, "file:", 5) == 0;
	if ((!is_unix && !is_file) || spec[5] == '\0')
		return C2W_ECONFIG;
	struct events_dnstap *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return C2W_ENOMEM;
	d->identity = strdup(identity ? identity : "c2wall");
	struct fstrm_writer_options *wopt = fstrm_writer_options_init();
	fstrm_writer_options_add_content_type(wopt, CONTENT_TYPE, strlen(CONTENT_TYPE));
	struct fstrm_writer *w = NULL;
	if (is_unix) {
		struct fstrm_unix_writer_options *uopt = fstrm_unix_writer_options_init();
		fstrm_unix_writer_options_set_socket_path(uopt, spec + 5);
		w = fstrm_unix_writer_init(uopt, wopt);
		fstrm_unix_writer_options_destroy(&uopt);
	} else {
		struct fstrm_file_options *fopt = fstrm_file_options_init();
		fstrm_file_options_set_file_path(fopt, spec + 5);
		w = fstrm_file_writer_init(fopt, wopt);
		fstrm_file_options_destroy(&fopt);
	}
	fstrm_writer_options_destroy(&wopt);
	if (w == NULL)
		goto out_fail;
	/* The I/O thread takes ownership of the writer (even on failure it destroys it). */
	/* Reconnect to a collector that went away after 1 s rather than libfstrm's 5 s. */
	struct fstrm_iothr_options *iopt = fstrm_iothr_options_init();
	fstrm_iothr_options_set_reopen_interval(iopt, 1);
	d->iothr = fstrm_iothr_init(iopt, &w);
	fstrm_iothr_options_destroy(&iopt);
	if (d->iothr == NULL) {
		if (w != NULL)
			fstrm_writer_destroy(&w);
		goto out_fail;
	}
	d->queue = fstrm_iothr_get_input_queue(d->iothr);
	*out = d;
	return C2W_OK;
out_fail:
	free(d->identity);
	free(d);
	return C2W_EIO;
}

static int rcode_of(const struct events_hit *hit)
{
	if (hit->action == EVENTS_ACTION_NXDOMAIN)
		return 3;
	if (strncmp(hit->answer, "SERVFAIL", 8) == 0)
		return 2;
	if (strncmp(hit->answer, "REFUSED", 7) == 0)
		return 5;
	return 0;
}

/* Header + question; the answer summary travels in Policy.value and Dnstap.extra. */
static size_t synth_response(const struct events_hit *hit, uint8_t *buf, size_t cap)
{
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t name_len = 0;
	if (dns_name_from_text(hit->qname[0] ? hit->qname : ".", NULL, name, &name_len) != C2W_OK) {
		name[0] = 0;
		name_len = 1;
	}
	if (12 + name_len + 4 > cap)
		return 0;
	memset(buf, 0, 12);
	buf[2] = 0x81;                            /* QR, RD */
	buf[3] = (uint8_t)(0x80 | rcode_of(hit)); /* RA, rcode */
	buf[5] = 1;                               /* QDCOUNT */
	memcpy(buf + 12, name, name_len);
	uint8_t *q = buf + 12 + name_len;
	q[0] = (uint8_t)(hit->qtype >> 8);
	q[1] = (uint8_t)hit->qtype;
	q[2] = 0;
	q[3] = 1;
	return 12 + name_len + 4;
}

static int policy_action(unsigned a)
{
	switch (a) {
	case EVENTS_ACTION_NXDOMAIN:
		return DNSTAP__POLICY__ACTION__NXDOMAIN;
	case EVENTS_ACTION_NODATA:
		return DNSTAP__POLICY__ACTION__NODATA;
	case EVENTS_ACTION_DROP:
		return DNSTAP__POLICY__ACTION__DROP;
	case EVENTS_ACTION_TCP_ONLY:
		return DNSTAP__POLICY__ACTION__TRUNCATE;
	case EVENTS_ACTION_LOCAL_DATA:
	case EVENTS_ACTION_CNAME:
	case EVENTS_ACTION_SINKHOLE:
		return DNSTAP__POLICY__ACTION__LOCAL_DATA;
	default: /* passthru, log */
		return DNSTAP__POLICY__ACTION__PASS;
	}
}

static int policy_match(unsigned t)
{
	switch (t) {
	case EVENTS_TRIGGER_CLIENT_IP:
		return DNSTAP__POLICY__MATCH__CLIENT_IP;
	case EVENTS_TRIGGER_RESPONSE_IP:
		return DNSTAP__POLICY__MATCH__RESPONSE_IP;
	case EVENTS_TRIGGER_NSDNAME:
		return DNSTAP__POLICY__MATCH__NS_NAME;
	case EVENTS_TRIGGER_NSIP:
		return DNSTAP__POLICY__MATCH__NS_IP;
	default:
		return DNSTAP__POLICY__MATCH__QNAME;
	}
}

int events_dnstap_write(struct events_dnstap *d, const struct events_hit *hit,
			const char *pseudonym, const char *key_id)
{
	uint8_t resp[12 + DNS_NAME_WIRE_MAX + 4];
	uint8_t rule[DNS_NAME_WIRE_MAX];
	size_t rule_len = 0;
	char extra[768];
	Dnstap__Policy pol = DNSTAP__POLICY__INIT;
	Dnstap__Message msg = DNSTAP__MESSAGE__INIT;
	Dnstap__Dnstap top = DNSTAP__DNSTAP__INIT;

	pol.type = (char *)(uintptr_t) "RPZ";
	/* RPZ rule owner in wire form when the match is a name; otherwise the text in value. */
	if (hit->match[0] && dns_name_from_text(hit->match, NULL, rule, &rule_len) == C2W_OK) {
		pol.has_rule = 1;
		pol.rule.data = rule;
		pol.rule.len = rule_len;
	}
	pol.has_action = 1;
	pol.action = policy_action(hit->action);
	pol.has_match = 1;
	pol.match = policy_match(hit->trigger);
	pol.has_value = 1;
	pol.value.data = (uint8_t *)(uintptr_t)hit->match;
	pol.value.len = strlen(hit->match);

	/* A query-log record (events.query-log) is no policy event: CLIENT_QUERY, no Policy. */
	bool is_query = hit->kind == EVENTS_KIND_QUERY;
	msg.type =
	    is_query ? DNSTAP__MESSAGE__TYPE__CLIENT_QUERY : DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE;
	msg.has_socket_family = 1;
	msg.socket_family = hit->client_family == AF_INET6 ? DNSTAP__SOCKET_FAMILY__INET6
							   : DNSTAP__SOCKET_FAMILY__INET;
	msg.has_socket_protocol = 1;
	msg.socket_protocol =
	    hit->tcp ? DNSTAP__SOCKET_PROTOCOL__TCP : DNSTAP__SOCKET_PROTOCOL__UDP;
	msg.has_query_time_sec = msg.has_query_time_nsec = 1;
	msg.query_time_sec = hit->time_ns / 1000000000u;
	msg.query_time_nsec = (uint32_t)(hit->time_ns % 1000000000u);
	msg.has_response_time_sec = msg.has_response_time_nsec = 1;
	msg.response_time_sec = msg.query_time_sec;
	msg.response_time_nsec = msg.query_time_nsec;
	size_t rl = synth_response(hit, resp, sizeof(resp));
	if (rl > 0 && is_query) {
		resp[2] &= 0x7f; /* QR = 0: the question as asked */
		resp[3] = 0;
		msg.has_query_message = 1;
		msg.query_message.data = resp;
		msg.query_message.len = rl;
	} else if (rl > 0) {
		msg.has_response_message = 1;
		msg.response_message.data = resp;
		msg.response_message.len = rl;
	}
	msg.policy = is_query ? NULL : &pol;

	int el = is_query ? snprintf(extra, sizeof(extra), "client=%s key=%s kind=query", pseudonym,
				     key_id)
			  : snprintf(extra, sizeof(extra),
				     "client=%s key=%s zone=%s action=%s category=%s family=%s "
				     "feed=%s answer=%s",
				     pseudonym, key_id, hit->zone, events_action_name(hit->action),
				     hit->category, hit->family, hit->feed, hit->answer);
	top.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
	top.message = &msg;
	top.has_identity = 1;
	top.identity.data = (uint8_t *)d->identity;
	top.identity.len = strlen(d->identity);
	top.has_version = 1;
	top.version.data = (uint8_t *)(uintptr_t)("c2wall " C2W_VERSION);
	top.version.len = strlen("c2wall " C2W_VERSION);
	top.has_extra = 1;
	top.extra.data = (uint8_t *)extra;
	top.extra.len = el > 0 && (size_t)el < sizeof(extra) ? (size_t)el : strlen(extra);

	size_t len = dnstap__dnstap__get_packed_size(&top);
	uint8_t *buf = malloc(len);
	if (buf == NULL)
		return C2W_ENOMEM;
	dnstap__dnstap__pack(&top, buf);
	if (fstrm_iothr_submit(d->iothr, d->queue, buf, len, fstrm_free_wrapper, NULL) !=
	    fstrm_res_success) {
		free(buf);
		return C2W_EFULL;
	}
	return C2W_OK;
}

void events_dnstap_close(struct events_dnstap *d)
{
	if (d == NULL)
		return;
	fstrm_iothr_destroy(&d->iothr);
	free(d->identity);
	free(d);
}

void events_syslog_write(const struct events_hit *hit, const char *pseudonym, const char *key_id)
{
	char tbuf[16];
	if (hit->kind == EVENTS_KIND_QUERY) {
		syslog(LOG_DAEMON | LOG_NOTICE, "query client=%s key=%s qname=%s qtype=%s",
		       pseudonym, key_id, hit->qname,
		       events_qtype_name(hit->qtype, tbuf, sizeof(tbuf)));
		return;
	}
	syslog(LOG_DAEMON | LOG_NOTICE,
	       "hit client=%s key=%s qname=%s qtype=%s trigger=%s match=%s zone=%s action=%s "
	       "category=%s family=%s feed=%s answer=\"%s\"",
	       pseudonym, key_id, hit->qname, events_qtype_name(hit->qtype, tbuf, sizeof(tbuf)),
	       events_trigger_name(hit->trigger), hit->match, hit->zone,
	       events_action_name(hit->action), hit->category, hit->family, hit->feed, hit->answer);
}

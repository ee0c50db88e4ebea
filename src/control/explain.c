/* SPDX-License-Identifier: MIT */
/*
 * "explain NAME [TYPE]" on the running daemon: every rule of the policy in force that matches,
 * in precedence order, with whether it wins and why: policy_explain(), the same engine call
 * as `c2wall explain`, over the snapshot the workers use (not a fresh compile). JSON answer.
 */
#include <stdio.h>
#include <string.h>

#include "control/control.h"
#include "dns/name.h"
#include "policy/policy.h"
#include "policy/zonefile.h"

struct explain_out {
	struct control_reply *reply;
	unsigned count;
};

static void candidate(void *ctx, const struct policy_hit *h, bool wins, const char *why)
{
	struct explain_out *o = ctx;
	control_reply_printf(o->reply, "%s{\"zone\":", o->count++ ? "," : "");
	control_reply_json(o->reply, h->zone_name);
	control_reply_printf(o->reply, ",\"trigger\":\"%s\",\"match\":",
			     policy_trigger_name((enum policy_trigger)h->trigger));
	control_reply_json(o->reply, h->zone_name[0] ? h->match : h->matched);
	control_reply_printf(o->reply,
			     ",\"action\":\"%s\",\"given\":\"%s\",\"wins\":%s,"
			     "\"shadow\":%s,\"category\":",
			     policy_action_name((enum policy_action)h->action),
			     policy_action_name((enum policy_action)h->given),
			     wins ? "true" : "false", h->shadow ? "true" : "false");
	control_reply_json(o->reply, h->category);
	control_reply_printf(o->reply, ",\"family\":");
	control_reply_json(o->reply, h->family);
	control_reply_printf(o->reply, ",\"feed\":");
	control_reply_json(o->reply, h->feed);
	control_reply_printf(o->reply, ",\"why\":");
	control_reply_json(o->reply, why);
	control_reply_printf(o->reply, "}");
}

static const char *verdict_name(enum policy_verdict v)
{
	switch (v) {
	case POLICY_VERDICT_ACT:
		return "act";
	case POLICY_VERDICT_RECURSE:
		return "recurse";
	default:
		return "none";
	}
}

static int explain_cb(void *arg, int argc, char **argv, struct control_reply *reply)
{
	const struct policy_snap *const *snapp = arg;
	if (argc < 2 || argc > 3) {
		control_reply_error(reply, "usage: explain NAME [TYPE]");
		return C2W_EINVAL;
	}
	const char *name = argv[1], *type = argc == 3 ? argv[2] : "A";
	struct dns_query q = {0};
	char fq[DNS_NAME_TEXT_MAX + 2];
	size_t len = strlen(name), ql = 0;
	if (len == 0 || len > DNS_NAME_TEXT_MAX ||
	    snprintf(fq, sizeof(fq), "%s%s", name, name[len - 1] == '.' ? "" : ".") >=
		(int)sizeof(fq) ||
	    dns_name_from_text(fq, NULL, q.qname, &ql) != C2W_OK) {
		control_reply_error(reply, "not a domain name: %.64s", name);
		return C2W_EINVAL;
	}
	dns_name_lower(q.qname);
	q.qname_len = (uint8_t)ql;
	q.qtype = policy_zonefile_type(type, strlen(type));
	q.qclass = DNS_CLASS_IN;
	q.has_question = true;
	if (q.qtype == 0) {
		control_reply_error(reply, "unknown type: %.16s", type);
		return C2W_EINVAL;
	}
	control_reply_printf(reply, "{\"query\":");
	control_reply_json(reply, fq);
	control_reply_printf(reply, ",\"type\":");
	control_reply_json(reply, type);
	control_reply_printf(reply, ",\"candidates\":[");
	struct explain_out o = {.reply = reply};
	enum policy_verdict v = POLICY_VERDICT_NONE;
	if (*snapp != NULL)
		v = policy_explain(*snapp, &q, NULL, candidate, &o);
	control_reply_printf(reply, "],\"verdict\":\"%s\"}", verdict_name(v));
	return C2W_OK;
}

int control_explain_register(struct control_server *srv, const struct policy_snap *const *snapp)
{
	return control_server_register(srv, "explain", explain_cb, (void *)(uintptr_t)snapp);
}

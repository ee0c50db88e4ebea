/* SPDX-License-Identifier: MIT */
/* Built-in control commands over events: "optout add|remove|list" and "events" (counters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"
#include "events/optout.h"
#include "events/pipeline.h"

static int optout_cb(void *arg, int argc, char **argv, struct control_reply *reply)
{
	struct events_optout *reg = arg;
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		struct events_prefix *items = NULL;
		size_t n = 0;
		int ret = events_optout_list(reg, &items, &n);
		if (ret != C2W_OK)
			return ret;
		control_reply_printf(reply, "[");
		for (size_t i = 0; i < n; i++) {
			char buf[64];
			control_reply_printf(reply, "%s\"%s\"", i ? "," : "",
					     events_prefix_format(&items[i], buf, sizeof(buf)));
		}
		control_reply_printf(reply, "]");
		free(items);
		return C2W_OK;
	}
	if (argc == 3 && (strcmp(argv[1], "add") == 0 || strcmp(argv[1], "remove") == 0)) {
		bool add = argv[1][0] == 'a';
		int ret =
		    add ? events_optout_add(reg, argv[2]) : events_optout_remove(reg, argv[2]);
		if (ret == C2W_EINVAL)
			control_reply_error(reply, "not an address or prefix: %.64s", argv[2]);
		else if (ret == C2W_EEXIST)
			control_reply_error(reply, "%.64s is already opted out", argv[2]);
		else if (ret == C2W_ENOENT)
			control_reply_error(reply, "%.64s is not in the opt-out list", argv[2]);
		return ret;
	}
	control_reply_error(reply, "usage: optout add PREFIX | optout remove PREFIX | optout list");
	return C2W_EINVAL;
}

int control_optout_register(struct control_server *srv, struct events_optout *reg)
{
	return control_server_register(srv, "optout", optout_cb, reg);
}

static int events_cb(void *arg, int argc, char **argv, struct control_reply *reply)
{
	struct events_pipeline *p = arg;
	(void)argc;
	(void)argv;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return C2W_ENOMEM;
	int ret = events_pipeline_stats_json(p, f);
	fclose(f);
	if (ret == C2W_OK)
		control_reply_printf(reply, "%s", buf);
	free(buf);
	return ret;
}

int control_events_register(struct control_server *srv, struct events_pipeline *p)
{
	return control_server_register(srv, "events", events_cb, p);
}

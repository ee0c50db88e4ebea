/* SPDX-License-Identifier: MIT */
/*
 * "incidents list [SINCE [unnotified]] | mark-notified ID" on the running daemon, for the HTTP
 * API: the same store functions `c2wall incidents export|mark-notified` calls
 * (events_store_incidents_write, events_store_mark_notified), on a connection of its own
 * opened per request (SQLite in WAL mode lets it sit beside the event thread's writer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/control.h"
#include "events/import.h"
#include "events/store.h"

static int since_of(const char *text, uint64_t *out)
{
	int64_t t;
	if (strcmp(text, "-") == 0) {
		*out = 0;
		return C2W_OK;
	}
	if (events_time_parse(text, &t) != C2W_OK || t < 0)
		return C2W_EINVAL;
	*out = (uint64_t)t;
	return C2W_OK;
}

static int do_list(struct events_store *st, int argc, char **argv, struct control_reply *reply)
{
	uint64_t since = 0;
	bool unnotified = argc == 4 && strcmp(argv[3], "unnotified") == 0;
	if ((argc >= 3 && since_of(argv[2], &since) != C2W_OK) || (argc == 4 && !unnotified)) {
		control_reply_error(reply, "usage: incidents list [YYYY-MM-DD|- [unnotified]]");
		return C2W_EINVAL;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return C2W_ENOMEM;
	int n = events_store_incidents_write(st, since, unnotified, EVENTS_EXPORT_JSON, f);
	if (fclose(f) != 0 && n >= 0)
		n = C2W_ENOMEM;
	if (n >= 0)
		control_reply_printf(reply, "%s", buf);
	free(buf);
	return n < 0 ? n : C2W_OK;
}

static int do_mark(struct events_store *st, const char *id, struct control_reply *reply)
{
	char *end;
	long long x = strtoll(id, &end, 10);
	if (*end != '\0' || end == id || x <= 0) {
		control_reply_error(reply, "not an incident id: %.32s", id);
		return C2W_EINVAL;
	}
	int64_t v = x;
	int n = events_store_mark_notified(st, &v, 1, 0, (uint64_t)time(NULL));
	if (n < 0)
		return n;
	if (n == 0) {
		control_reply_error(reply, "no incident with id %lld", x);
		return C2W_ENOENT;
	}
	control_reply_printf(reply, "{\"marked\":%d}", n);
	return C2W_OK;
}

static int incidents_cb(void *arg, int argc, char **argv, struct control_reply *reply)
{
	const char *path = arg;
	bool list = argc >= 2 && argc <= 4 && strcmp(argv[1], "list") == 0;
	bool mark = argc == 3 && strcmp(argv[1], "mark-notified") == 0;
	if (!list && !mark) {
		control_reply_error(reply, "usage: incidents list [SINCE [unnotified]] | "
					   "incidents mark-notified ID");
		return C2W_EINVAL;
	}
	struct events_store *st = NULL;
	int ret = events_store_open(path, &st);
	if (ret != C2W_OK) {
		control_reply_error(reply, "incident store unavailable (%s)", c2w_strerror(ret));
		return ret;
	}
	ret = list ? do_list(st, argc, argv, reply) : do_mark(st, argv[2], reply);
	events_store_close(st);
	return ret;
}

int control_incidents_register(struct control_server *srv, const char *path)
{
	return control_server_register(srv, "incidents", incidents_cb, (void *)(uintptr_t)path);
}

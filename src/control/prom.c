/* SPDX-License-Identifier: MIT */
/* Prometheus text format writers: HELP/TYPE lines, samples, label-value escaping. */
#include "control/prom.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <string.h>

/* HELP text escapes '\\' and LF (exposition format); ours never holds a LF, but be safe. */
static void add_escaped(struct evbuffer *out, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (c == '\n')
			evbuffer_add(out, "\\n", 2);
		else if (c == '"' && quote)
			evbuffer_add(out, "\\\"", 2);
		else if (c >= 0x20 && c != 0x7f)
			evbuffer_add(out, s, 1);
	}
}

void control_prom_family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s ", name);
	add_escaped(out, help, 0);
	evbuffer_add_printf(out, "\n# TYPE %s %s\n", name, type);
}

static void head(struct evbuffer *out, const char *name, const struct control_prom_label *labels,
		 size_t n)
{
	evbuffer_add(out, name, strlen(name));
	for (size_t i = 0; i < n; i++) {
		evbuffer_add_printf(out, "%s%s=\"", i == 0 ? "{" : ",", labels[i].name);
		add_escaped(out, labels[i].value ? labels[i].value : "", 1);
		evbuffer_add(out, "\"", 1);
	}
	if (n > 0)
		evbuffer_add(out, "}", 1);
}

void control_prom_u64(struct evbuffer *out, const char *name,
		      const struct control_prom_label *labels, size_t n, uint64_t value)
{
	head(out, name, labels, n);
	evbuffer_add_printf(out, " %" PRIu64 "\n", value);
}

void control_prom_double(struct evbuffer *out, const char *name,
			 const struct control_prom_label *labels, size_t n, double value)
{
	head(out, name, labels, n);
	evbuffer_add_printf(out, " %.17g\n", value);
}

/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats):
 * HELP/TYPE lines and samples with escaped label values. Writers only; what is exported and
 * under which name is decided by the caller (net/metrics.c, docs/operations.md).
 */
#ifndef C2W_CONTROL_PROM_H
#define C2W_CONTROL_PROM_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

struct control_prom_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, written as is */
	const char *value; /* any bytes; '\\', '"' and LF are escaped, other controls dropped */
};

/** "# HELP name help" and "# TYPE name type" (type: counter, gauge, untyped...). */
void control_prom_family(struct evbuffer *out, const char *name, const char *type,
			 const char *help);

/** One sample "name{l1="v1",...} value" with an integer value; @n labels (0: none). */
void control_prom_u64(struct evbuffer *out, const char *name,
		      const struct control_prom_label *labels, size_t n, uint64_t value);

/** One sample with a floating-point value (printed with %.17g, enough to round-trip). */
void control_prom_double(struct evbuffer *out, const char *name,
			 const struct control_prom_label *labels, size_t n, double value);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the CSV import parsers (subscriber assignments and infection reports) and the time
 * and prefix parsers under them: each input line goes through both row parsers.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "events/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char err[160];
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct events_subscriber_row s;
		struct events_report_row r;
		if (events_import_subscriber_parse(p, len, &s, err, sizeof(err)) == C2W_OK &&
		    (s.end_s <= s.start_s || s.id[0] == '\0'))
			__builtin_trap();
		if (events_import_report_parse(p, len, &r, err, sizeof(err)) == C2W_OK &&
		    r.source[0] == '\0')
			__builtin_trap();
		p += len + 1;
	}
	/* The whole input as one time string. */
	char buf[64];
	if (size < sizeof(buf)) {
		memcpy(buf, data, size);
		buf[size] = '\0';
		int64_t t;
		(void)!events_time_parse(buf, &t);
		struct events_prefix pf;
		(void)!events_prefix_parse(buf, &pf);
	}
	return 0;
}

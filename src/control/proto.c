/* SPDX-License-Identifier: MIT */
/* Control protocol: split a request line into words. Pure; fuzzed by fuzz_control.c. */
#include <string.h>

#include "control/control.h"

int control_request_parse(const char *line, size_t len, char *buf, size_t cap, char **argv)
{
	if (len >= CONTROL_LINE_MAX || len + 1 > cap)
		return C2W_ESPACE;
	if (len > 0 && line[len - 1] == '\r')
		len--; /* tolerate CRLF clients (socat, nc -C) */
	int argc = 0;
	size_t w = 0;
	bool in_word = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == ' ' || c == '\t') {
			if (in_word) {
				buf[w++] = '\0';
				in_word = false;
			}
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			return C2W_EMALF;
		if (!in_word) {
			if (argc == CONTROL_ARGS_MAX)
				return C2W_EMALF;
			argv[argc++] = buf + w;
			in_word = true;
		}
		buf[w++] = (char)c;
	}
	if (in_word)
		buf[w++] = '\0';
	argv[argc] = NULL;
	return argc > 0 ? argc : C2W_EMALF;
}

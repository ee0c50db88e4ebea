/* SPDX-License-Identifier: MIT */
/*
 * Fuzz what the HTTP API parses itself (the rest is libevent's evhttp): the token file and the
 * Authorization header. Input: token-file text, a NUL byte, then a header value. A parsed
 * file must grant its own tokens and nothing to a header that is not "Bearer TOKEN".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t file_len = nul ? (size_t)(nul - data) : size;
	struct control_tokens *t = NULL;
	unsigned line = 0;
	int ret = control_tokens_parse((const char *)data, file_len, &line, &t);
	if (ret != C2W_OK && t != NULL)
		__builtin_trap();
	if (ret == C2W_OK &&
	    (control_tokens_count(t) == 0 || control_tokens_count(t) > CONTROL_TOKENS_MAX))
		__builtin_trap();
	size_t hlen = nul ? size - file_len - 1 : 0;
	char *hdr = malloc(hlen + 1);
	if (hdr != NULL) {
		if (hlen > 0)
			memcpy(hdr, nul + 1, hlen);
		hdr[hlen] = '\0';
		enum control_role r = control_tokens_check(t, hdr);
		if (r > CONTROL_ROLE_ADMIN || (t == NULL && r != CONTROL_ROLE_NONE))
			__builtin_trap();
		if (strncmp(hdr, "Bearer ", 7) != 0 && strncmp(hdr, "bearer ", 7) != 0 &&
		    strncasecmp(hdr, "bearer\t", 7) != 0 && strncasecmp(hdr, "bearer ", 7) != 0 &&
		    r != CONTROL_ROLE_NONE)
			__builtin_trap();
		free(hdr);
	}
	control_tokens_free(t);
	return 0;
}

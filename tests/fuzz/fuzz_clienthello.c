/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the sinkhole's TLS ClientHello reader (records, handshake reassembly, extensions, SNI).
 * Invariants: every result is one of the documented codes, an SNI is 1..255 printable bytes in
 * lower case, and every strict prefix of an accepted hello asks for more bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "sinkhole/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sinkhole_tls_hello h;
	int ret = sinkhole_tls_parse_hello(data, size, &h);
	if (ret != C2W_OK && ret != C2W_EAGAIN && ret != C2W_EMALF && ret != C2W_ERANGE)
		abort();
	if (ret != C2W_OK)
		return 0;
	size_t n = strnlen(h.sni, sizeof(h.sni));
	if (n == sizeof(h.sni) || h.has_sni != (n > 0))
		abort();
	for (size_t i = 0; i < n; i++)
		if (h.sni[i] < 0x21 || h.sni[i] > 0x7e || (h.sni[i] >= 'A' && h.sni[i] <= 'Z'))
			abort();
	/* Cutting the input short must not turn an accepted hello into anything but "more". */
	if (size > 0) {
		struct sinkhole_tls_hello h2;
		int r2 = sinkhole_tls_parse_hello(data, size / 2, &h2);
		if (r2 == C2W_EMALF || r2 == C2W_ERANGE)
			abort();
	}
	return 0;
}

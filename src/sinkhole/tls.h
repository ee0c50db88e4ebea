/* SPDX-License-Identifier: MIT */
/*
 * TLS ClientHello reader for the sinkhole's TLS port: TLS records (RFC 8446 5.1), handshake
 * reassembly across records, ClientHello fields and extensions, the server_name extension
 * (RFC 6066 3). Bounds-checked, no allocation. It never answers: no handshake, no
 * certificate; the server records the SNI and closes.
 */
#ifndef C2W_SINKHOLE_TLS_H
#define C2W_SINKHOLE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SINKHOLE_TLS_HELLO_MAX 16384 /* largest ClientHello we reassemble (handshake body) */
#define SINKHOLE_TLS_READ_MAX  (SINKHOLE_TLS_HELLO_MAX + 4 + 8 * 5) /* bytes worth buffering */

struct sinkhole_tls_hello {
	uint16_t record_version; /* first record's legacy_record_version */
	uint16_t legacy_version; /* ClientHello.legacy_version */
	bool has_sni;
	char sni[256]; /* host_name, lower case, NUL-terminated; "" without SNI */
	unsigned ext_count;
};

/**
 * Read a ClientHello from the first bytes a client sent.
 *
 * @param buf  bytes received so far, borrowed
 * @param len  how many
 * @param out  out: valid on C2W_OK
 * @return C2W_OK; C2W_EAGAIN (a plausible ClientHello, more bytes needed); C2W_EMALF (not a
 *         TLS handshake record, not a ClientHello, a length field past its container, a
 *         host_name with bytes outside 0x21..0x7e, two server_name extensions);
 *         C2W_ERANGE (ClientHello larger than SINKHOLE_TLS_HELLO_MAX)
 */
C2W_NODISCARD int sinkhole_tls_parse_hello(const uint8_t *buf, size_t len,
					   struct sinkhole_tls_hello *out);

#endif

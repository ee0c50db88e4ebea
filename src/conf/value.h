/* SPDX-License-Identifier: MIT */
/*
 * Scalar values of the config file: booleans, integers, durations ("24h", "30m", "500ms"),
 * sizes ("64m", "1g"), fractions and domain names. Pure string functions used by the loader
 * in config.c and by its tests; nothing here knows about YAML or about keys.
 */
#ifndef C2W_CONF_VALUE_H
#define C2W_CONF_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/** "true|yes|on" / "false|no|off", any case. @return C2W_OK or C2W_EINVAL */
C2W_NODISCARD int conf_value_parse_bool(const char *text, bool *out);

/** Decimal digits only (no sign, no spaces), at most UINT64_MAX. @return C2W_OK or C2W_EINVAL */
C2W_NODISCARD int conf_value_parse_uint(const char *text, uint64_t *out);

/**
 * A duration: one or more "<digits><unit>" parts, unit ms|s|m|h|d ("1h30m"); bare digits are
 * seconds.
 *
 * @param out  out: milliseconds
 * @return C2W_OK, or C2W_EINVAL (syntax) / C2W_ERANGE (overflows 64 bits)
 */
C2W_NODISCARD int conf_value_parse_duration(const char *text, uint64_t *out_ms);

/**
 * A size: "<digits>" bytes or "<digits><k|m|g|t>" with an optional "b" or "ib", any case;
 * multiples of 1024.
 *
 * @return C2W_OK, or C2W_EINVAL / C2W_ERANGE
 */
C2W_NODISCARD int conf_value_parse_size(const char *text, uint64_t *out_bytes);

/** A finite decimal number ("0.5", "1", "2e-1"). @return C2W_OK or C2W_EINVAL */
C2W_NODISCARD int conf_value_parse_double(const char *text, double *out);

/**
 * A domain name in presentation form, letters, digits, '-' and '_' per label, labels of
 * 1..63 octets, 255 octets in wire form at most; a trailing dot is optional; "." is the root.
 *
 * @param out  out: lower-case, absolute ("corp.example."); @out_cap >= 256 always suffices
 * @return C2W_OK, C2W_EINVAL, or C2W_ESPACE when @out_cap is too small
 */
C2W_NODISCARD int conf_value_parse_name(const char *text, char *out, size_t out_cap);

#endif

/* SPDX-License-Identifier: MIT */
/* Text for every error code in err.h; falls back to the C library for other errno values. */
#include "core/err.h"

#include <string.h>

const char *c2w_strerror(int err)
{
	switch (err) {
#define C2W_ERR_CASE(name, value, text)                                                            \
	case name:                                                                                 \
		return text;
		C2W_ERR_LIST(C2W_ERR_CASE)
#undef C2W_ERR_CASE
	default:
		break;
	}
	if (err < 0 && err > -4096) {
		/* strerror() is not thread-safe; strerrordesc_np() returns static text (glibc). */
		const char *s = strerrordesc_np(-err);
		if (s != NULL)
			return s;
	}
	return "unknown error";
}

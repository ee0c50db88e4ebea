/* SPDX-License-Identifier: MIT */
/* Fuzz the control protocol's request parser: words, limits, control bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "control/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[CONTROL_LINE_MAX];
	char *argv[CONTROL_ARGS_MAX + 1];
	int argc = control_request_parse((const char *)data, size, buf, sizeof(buf), argv);
	if (argc > 0) {
		if (argc > CONTROL_ARGS_MAX || argv[argc] != NULL)
			__builtin_trap();
		for (int i = 0; i < argc; i++)
			if (argv[i][0] == '\0' || strchr(argv[i], ' ') != NULL)
				__builtin_trap();
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the config loader: any bytes go through conf_load_buffer() (libyaml events, the key
 * tables, every value parser); a config or an error comes back, never a crash or a leak.
 * A successful load must name a listener, and an error must carry "file:line: ".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "/nonexistent/c2wall.yaml";
	struct c2w_config *cfg = NULL;
	char err[512];

	int ret = conf_load_buffer((const char *)data, size, name, &cfg, err, sizeof(err));
	if (ret == C2W_OK) {
		if (cfg == NULL || cfg->server.listen_count == 0)
			abort();
		/* Touch what the daemon reads first, so ASan sees every array in bounds. */
		for (size_t i = 0; i < cfg->policy.zone_count; i++)
			if (cfg->policy.zones[i].name == NULL ||
			    cfg->policy.zones[i].file == NULL || cfg->policy.zones[i].feed == NULL)
				abort();
		for (size_t i = 0; i < cfg->server.allow_count; i++)
			(void)cfg->server.allow[i].bits;
		conf_free(cfg);
	} else if (ret == C2W_ECONFIG) {
		if (cfg != NULL || strncmp(err, name, sizeof(name) - 1) != 0 ||
		    err[sizeof(name) - 1] != ':')
			abort();
	} else if (ret != C2W_ENOMEM) {
		abort();
	}
	return 0;
}

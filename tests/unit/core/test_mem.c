/* SPDX-License-Identifier: MIT */
/*
 * core/mem.h: a large block from c2w_calloc_huge() is zeroed, usable, and (where the kernel
 * has transparent huge pages in "madvise" or "always" mode) its 2 MiB-aligned part is eligible
 * for them, as /proc/self/smaps says; a small or unaligned block is left alone.
 */
#include "core/mem.h"
#include "test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB ((size_t)1 << 20)

/* The kernel's mode: 'a' always, 'm' madvise, 'n' never, '?' no THP at all. */
static char thp_mode(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f == NULL)
		return '?';
	char *ok = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (ok == NULL)
		return '?';
	if (strstr(buf, "[always]") != NULL)
		return 'a';
	if (strstr(buf, "[madvise]") != NULL)
		return 'm';
	return 'n';
}

/* THPeligible of the mapping that holds @p: 1, 0, or -1 when not found. */
static int thp_eligible(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (f == NULL)
		return -1;
	char line[512];
	bool in = false;
	int ret = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') != NULL &&
		    line[0] != ' ' && strncmp(line, "THP", 3) != 0) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		int v;
		if (in && sscanf(line, "THPeligible: %d", &v) == 1) {
			ret = v;
			break;
		}
	}
	fclose(f);
	return ret;
}

static void test_large_block(void)
{
	size_t len = 64 * MIB;
	uint8_t *p = c2w_calloc_huge(len / 8, 8);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	size_t nonzero = 0;
	for (size_t i = 0; i < len; i += 4096)
		nonzero += p[i] != 0;
	CHECK_EQ(nonzero, (size_t)0);
	memset(p, 0xa5, len); /* every page writable */
	CHECK_EQ(p[len - 1], 0xa5);
	char mode = thp_mode();
	/* The first 2 MiB boundary inside the block: its page carries the hint. */
	const uint8_t *aligned =
	    (const uint8_t *)(((uintptr_t)p + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
	int el = thp_eligible(aligned);
	fprintf(stderr, "THP mode %c, THPeligible of the aligned part: %d\n", mode, el);
	if (mode == 'm' || mode == 'a')
		CHECK_EQ(el, 1);
	free(p);
}

static void test_small_and_edge_blocks(void)
{
	/* Smaller than a huge page: nothing to ask for, nothing breaks. */
	void *p = c2w_calloc_huge(100, 10);
	CHECK(p != NULL);
	free(p);
	c2w_mem_hint_huge(NULL, 4 * MIB); /* no block: ignored */
	char buf[64];
	c2w_mem_hint_huge(buf, sizeof(buf)); /* not even a page: ignored */
	/* An overflowing size is refused as calloc() refuses it. */
	CHECK(c2w_calloc_huge(SIZE_MAX / 2, 4) == NULL);
}

TEST_MAIN(TEST(test_large_block), TEST(test_small_and_edge_blocks))

/* SPDX-License-Identifier: MIT */
/*
 * Large tables on 2 MiB pages. The policy image, a transferred zone's record and owner
 * tables are probed at random: at millions of entries every probe lands on another page, and
 * with 4 KiB pages each one is a TLB miss (a nested page walk in a VM) besides the cache
 * miss. With the kernel's transparent huge pages in "madvise" mode (the usual default) a
 * block gets 2 MiB pages only when asked.
 */
#ifndef C2W_CORE_MEM_H
#define C2W_CORE_MEM_H

#include <stddef.h>

/**
 * Ask for 2 MiB pages on the 2 MiB-aligned part of [@p, @p + @len): a hint, ignored where
 * the kernel has no transparent huge pages or the block is smaller than one such page.
 * Pages already touched are left to the kernel's background collapse.
 */
void c2w_mem_hint_huge(void *p, size_t len);

/** calloc(@n, @size) with c2w_mem_hint_huge() on the block; freed with free(). */
void *c2w_calloc_huge(size_t n, size_t size);

/**
 * Give memory the process has freed back to the system now, after a large change (the
 * allocator would otherwise keep it resident for a while: jemalloc for about 10 s, glibc's
 * malloc until a later trim). Walks every arena: for rare, large frees only.
 */
void c2w_mem_release(void);

/** The allocator serving malloc(), for c2wall_build_info: "jemalloc 5.3.0-..." or "glibc". */
const char *c2w_mem_allocator(void);

#endif

/* SPDX-License-Identifier: MIT */
#include "core/mem.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifdef C2W_JEMALLOC
#include <jemalloc/jemalloc.h>
#define C2W_STR2(x) #x
#define C2W_STR(x) C2W_STR2(x)
#endif

#define HUGE_PAGE ((uintptr_t)2 << 20)

void c2w_mem_hint_huge(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
	uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(HUGE_PAGE - 1);
	if (p != NULL && end > start)
		(void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
	(void)p;
	(void)len;
#endif
}

void *c2w_calloc_huge(size_t n, size_t size)
{
	/* Refuse an overflowing product here, as calloc() would: a sanitizer's calloc aborts
	 * on one instead of returning NULL. */
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = calloc(n, size);
	if (p != NULL)
		c2w_mem_hint_huge(p, n * size);
	return p;
}

void c2w_mem_release(void)
{
#ifdef C2W_JEMALLOC
	/* Dirty and muzzy pages of every arena back to the kernel (MADV_DONTNEED). */
	(void)mallctl("arena." C2W_STR(MALLCTL_ARENAS_ALL) ".purge", NULL, NULL, NULL, 0);
#elif defined(__GLIBC__)
	(void)malloc_trim(0);
#endif
}

const char *c2w_mem_allocator(void)
{
#ifdef C2W_JEMALLOC
	return "jemalloc " JEMALLOC_VERSION;
#elif defined(__GLIBC__)
	return "glibc";
#else
	return "libc";
#endif
}

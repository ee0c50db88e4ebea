/* SPDX-License-Identifier: MIT */
/* Transparent huge pages for large malloc'd buffers: see bigmem.h. */
#include "core/bigmem.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

void c2w_bigmem_advise(void *p, size_t len)
{
	if (p == NULL || len < C2W_BIGMEM_MIN)
		return;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t b = ((uintptr_t)p + len) & ~(page - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_HUGEPAGE);
}

/* SPDX-License-Identifier: MIT */
/*
 * Large short-lived buffers (the policy compiler's arrays, hundreds of MiB at 10M rules):
 * ask the kernel to back them with transparent huge pages, so that filling them costs one
 * page fault per 2 MiB instead of one per 4 KiB. Allocation stays with malloc and its kin.
 */
#ifndef C2W_CORE_BIGMEM_H
#define C2W_CORE_BIGMEM_H

#include <stddef.h>

/* Below this a buffer is left alone: it cannot hold an aligned huge page worth having. */
#define C2W_BIGMEM_MIN (4u << 20)

/**
 * Advise huge pages for the whole pages inside [@p, @p + @len) (madvise MADV_HUGEPAGE) when
 * @len >= C2W_BIGMEM_MIN. Only advice: contents and ownership do not change, failures (no
 * THP in this kernel, "never" mode) are ignored. Call it before the buffer is first written.
 */
void c2w_bigmem_advise(void *p, size_t len);

#endif

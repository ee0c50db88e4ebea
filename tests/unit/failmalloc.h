/* SPDX-License-Identifier: MIT */
/*
 * Fail the Nth allocation on purpose (SQLite's and curl's way of testing out-of-memory paths):
 * replaces malloc/calloc/realloc/free through glibc's documented replacement mechanism, so it
 * works in plain builds; under ASan/TSan, which own malloc, OOM_SANITIZED is defined and
 * arm()/disarm() do nothing (the test then runs each case once). Include from one file of a
 * single-threaded test binary only.
 *
 * arm(n): the allocation after @n more succeeds fails; g_injected says whether one did;
 * g_live counts allocations minus frees while armed (0 after a clean unwind).
 */
#ifndef C2W_TEST_FAILMALLOC_H
#define C2W_TEST_FAILMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h> /* the prototypes of what is replaced */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OOM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define OOM_SANITIZED 1
#endif
#endif

#ifndef OOM_SANITIZED
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);

/* Single-threaded test: plain globals are fine here. */
static bool g_armed;
static unsigned long g_left;
static bool g_injected;
static long g_live;

static bool should_fail(void)
{
	if (!g_armed)
		return false;
	if (g_left == 0) {
		g_injected = true;
		return true;
	}
	g_left--;
	return false;
}

void *malloc(size_t size)
{
	if (should_fail())
		return NULL;
	void *p = __libc_malloc(size);
	if (p != NULL && g_armed)
		g_live++;
	return p;
}

void *calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	void *p = __libc_calloc(n, size);
	if (p != NULL && g_armed)
		g_live++;
	return p;
}

void *realloc(void *ptr, size_t size)
{
	if (should_fail())
		return NULL;
	void *p = __libc_realloc(ptr, size);
	if (p != NULL && ptr == NULL && g_armed)
		g_live++;
	return p;
}

void free(void *ptr)
{
	if (ptr != NULL && g_armed)
		g_live--;
	__libc_free(ptr);
}

static void arm(unsigned long n)
{
	g_left = n;
	g_injected = false;
	g_live = 0;
	g_armed = true;
}

static void disarm(void)
{
	g_armed = false;
}
#else
static bool g_injected __attribute__((unused));
static long g_live __attribute__((unused));
static void arm(unsigned long n)
{
	(void)n;
}
static void disarm(void)
{
}
#endif

#endif

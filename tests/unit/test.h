/* SPDX-License-Identifier: MIT */
/*
 * The tiny unit-test harness: CHECK() records a failure and goes on, TEST_MAIN() runs the
 * listed test functions and prints "N passed, N failed" (read by CI) and exits non-zero on
 * any failure. One binary per src object, registered with CTest by tests/CMakeLists.txt.
 */
#ifndef C2W_TEST_H
#define C2W_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures_;
static int test_checks_;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		test_checks_++;                                                                    \
		if (!(cond)) {                                                                     \
			test_failures_++;                                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long va_ = (long long)(a), vb_ = (long long)(b);                              \
		test_checks_++;                                                                    \
		if (va_ != vb_) {                                                                  \
			test_failures_++;                                                          \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n",       \
				__FILE__, __LINE__, #a, #b, va_, vb_);                             \
		}                                                                                  \
	} while (0)

#define CHECK_STREQ(a, b)                                                                          \
	do {                                                                                       \
		const char *sa_ = (a), *sb_ = (b);                                                 \
		test_checks_++;                                                                    \
		if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                         \
			test_failures_++;                                                          \
			fprintf(stderr, "%s:%d: CHECK_STREQ failed: \"%s\" != \"%s\"\n", __FILE__, \
				__LINE__, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");             \
		}                                                                                  \
	} while (0)

struct test_case {
	const char *name;
	void (*fn)(void);
};

static inline int test_run(const struct test_case *cases, size_t count)
{
	int passed = 0, failed = 0;
	for (size_t i = 0; i < count; i++) {
		int before = test_failures_;
		cases[i].fn();
		if (test_failures_ == before) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL %s\n", cases[i].name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

#define TEST(fn) {#fn, fn}
#define TEST_MAIN(...)                                                                             \
	int main(void)                                                                             \
	{                                                                                          \
		static const struct test_case cases_[] = {__VA_ARGS__};                            \
		return test_run(cases_, sizeof(cases_) / sizeof(cases_[0]));                       \
	}

#endif

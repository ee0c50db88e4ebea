/* SPDX-License-Identifier: MIT */
#include "core/err.h"
#include "test.h"

static void test_known_codes(void)
{
	CHECK_STREQ(c2w_strerror(C2W_OK), "success");
	CHECK_STREQ(c2w_strerror(C2W_EMALF), "malformed input");
	CHECK_STREQ(c2w_strerror(C2W_ENOMEM), "out of memory");
}

static void test_errno_fallback(void)
{
	CHECK(strlen(c2w_strerror(-EPIPE)) > 0);
	CHECK_STREQ(c2w_strerror(12345), "unknown error");
}

TEST_MAIN(TEST(test_known_codes), TEST(test_errno_fallback))

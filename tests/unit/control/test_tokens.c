/* SPDX-License-Identifier: MIT */
/* Bearer tokens: the file format, roles, the Authorization header, the file mode check. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/tokens.h"
#include "test.h"

#define R1 "read-token-0123456789abcdef"
#define A1 "admin.Token_0123456789~+/="

static struct control_tokens *parse_ok(const char *text)
{
	struct control_tokens *t = NULL;
	unsigned line = 0;
	int ret = control_tokens_parse(text, strlen(text), &line, &t);
	CHECK_EQ(ret, C2W_OK);
	return t;
}

static void expect_bad(const char *text, int want, unsigned want_line)
{
	struct control_tokens *t = (struct control_tokens *)1;
	unsigned line = 0;
	int ret = control_tokens_parse(text, strlen(text), &line, &t);
	CHECK_EQ(ret, want);
	CHECK(t == (struct control_tokens *)1); /* untouched on failure */
	if (want_line)
		CHECK_EQ(line, want_line);
}

static void test_parse(void)
{
	struct control_tokens *t =
	    parse_ok("# comment\n\nread " R1 "\n  admin\t" A1 "  \r\nread " R1 "x\n");
	CHECK_EQ(control_tokens_count(t), 3);
	control_tokens_free(t);
	t = parse_ok("read " R1); /* no final LF */
	CHECK_EQ(control_tokens_count(t), 1);
	control_tokens_free(t);
	expect_bad("", C2W_ENOENT, 0);
	expect_bad("# only a comment\n\n", C2W_ENOENT, 0);
	expect_bad("read " R1 "\nroot " R1 "\n", C2W_EMALF, 2);
	expect_bad("read short\n", C2W_EMALF, 1);
	expect_bad("read " R1 " extra\n", C2W_EMALF, 1);
	expect_bad("read\n", C2W_EMALF, 1);
	expect_bad("read " R1 "\xff\n", C2W_EMALF, 1);
	expect_bad("READ " R1 "\n", C2W_EMALF, 1);
	char big[300];
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	char line[400];
	snprintf(line, sizeof(line), "read %s\n", big);
	expect_bad(line, C2W_EMALF, 1);
	/* 256 tokens are fine, 257 are not. */
	size_t cap = 257 * 40 + 1;
	char *many = malloc(cap);
	size_t n = 0;
	for (int i = 0; i < 257; i++)
		n += (size_t)snprintf(many + n, cap - n, "read token-number-%08d\n", i);
	expect_bad(many, C2W_EFULL, 257);
	many[n - 32] = '\0'; /* drop the last line */
	t = parse_ok(many);
	CHECK_EQ(control_tokens_count(t), 256);
	control_tokens_free(t);
	free(many);
}

static void test_check(void)
{
	struct control_tokens *t = parse_ok("read " R1 "\nadmin " A1 "\n");
	CHECK_EQ(control_tokens_check(t, "Bearer " R1), CONTROL_ROLE_READ);
	CHECK_EQ(control_tokens_check(t, "Bearer " A1), CONTROL_ROLE_ADMIN);
	CHECK_EQ(control_tokens_check(t, "bearer   " A1 " \t"), CONTROL_ROLE_ADMIN);
	CHECK_EQ(control_tokens_check(t, "BEARER\t" R1), CONTROL_ROLE_READ);
	CHECK_EQ(control_tokens_check(t, NULL), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(NULL, "Bearer " R1), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, ""), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, "Bearer"), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, "Bearer "), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, R1), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, "Basic " R1), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, "BearerX " R1), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, "Bearer " R1 "x"), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, "Bearer read-token"), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, "Bearer " R1 " junk"), CONTROL_ROLE_NONE);
	CHECK_EQ(control_tokens_check(t, "Bearer " R1 "\n"), CONTROL_ROLE_NONE);
	control_tokens_free(t);
	control_tokens_free(NULL);
}

static void test_load(void)
{
	char dir[] = "/tmp/c2w-tokens-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/tokens", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("read " R1 "\nbogus line\n", f);
	fclose(f);
	struct control_tokens *t = NULL;
	chmod(path, 0644);
	CHECK_EQ(control_tokens_load(path, &t, err, sizeof(err)), C2W_EACCES);
	CHECK(strstr(err, "chmod o-rwx") != NULL);
	chmod(path, 0640);
	CHECK_EQ(control_tokens_load(path, &t, err, sizeof(err)), C2W_EMALF);
	CHECK(strstr(err, ":2: ") != NULL);
	f = fopen(path, "w");
	fputs("admin " A1 "\n", f);
	fclose(f);
	CHECK_EQ(control_tokens_load(path, &t, err, sizeof(err)), C2W_OK);
	CHECK_EQ(control_tokens_check(t, "Bearer " A1), CONTROL_ROLE_ADMIN);
	control_tokens_free(t);
	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK(control_tokens_load(path, &t, err, sizeof(err)) < 0);
	CHECK(strstr(err, "missing") != NULL);
	CHECK(control_tokens_load(dir, &t, err, sizeof(err)) != C2W_OK);
	snprintf(path, sizeof(path), "%s/tokens", dir);
	unlink(path);
	rmdir(dir);
}

TEST_MAIN(TEST(test_parse), TEST(test_check), TEST(test_load))

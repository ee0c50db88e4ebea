/* SPDX-License-Identifier: MIT */
/* Pseudonyms: stable per key, different across keys, key file 0600, rotation keeps previous. */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events/pseudo.h"
#include "test.h"

static const uint8_t a1[16] = {192, 0, 2, 1};
static const uint8_t a2[16] = {192, 0, 2, 2};

static void test_stable_and_keyed(void)
{
	char dir[] = "/tmp/c2w-pseudo-XXXXXX", path[128];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/key", dir);
	struct events_pseudo *p1 = NULL, *p2 = NULL, *p3 = NULL;
	CHECK_EQ(events_pseudo_open(path, 86400, &p1), C2W_OK);
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	char x[EVENTS_PSEUDO_CAP], y[EVENTS_PSEUDO_CAP], z[EVENTS_PSEUDO_CAP];
	events_pseudo_make(p1, AF_INET, a1, x);
	events_pseudo_make(p1, AF_INET, a1, y);
	CHECK_STREQ(x, y);
	CHECK_EQ(strlen(x), EVENTS_PSEUDO_LEN);
	events_pseudo_make(p1, AF_INET, a2, z);
	CHECK(strcmp(x, z) != 0);
	/* Same key file, same pseudonym (another process, a restart). */
	CHECK_EQ(events_pseudo_open(path, 86400, &p2), C2W_OK);
	events_pseudo_make(p2, AF_INET, a1, y);
	CHECK_STREQ(x, y);
	CHECK_STREQ(events_pseudo_key_id(p1), events_pseudo_key_id(p2));
	/* Another key, another pseudonym. */
	CHECK_EQ(events_pseudo_open(NULL, 0, &p3), C2W_OK);
	events_pseudo_make(p3, AF_INET, a1, y);
	CHECK(strcmp(x, y) != 0);
	CHECK(strcmp(events_pseudo_key_id(p1), events_pseudo_key_id(p3)) != 0);
	/* v4 and v6 with the same leading bytes differ. */
	events_pseudo_make(p1, AF_INET6, a1, y);
	CHECK(strcmp(x, y) != 0);
	events_pseudo_free(p1);
	events_pseudo_free(p2);
	events_pseudo_free(p3);
	unlink(path);
	rmdir(dir);
}

static void test_rotation(void)
{
	char dir[] = "/tmp/c2w-pseudo-XXXXXX", path[128];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/key", dir);
	struct events_pseudo *p = NULL, *q = NULL;
	CHECK_EQ(events_pseudo_open(path, 3600, &p), C2W_OK);
	char before[EVENTS_PSEUDO_CAP], after[EVENTS_PSEUDO_CAP], id0[EVENTS_KEY_ID_CAP];
	events_pseudo_make(p, AF_INET, a1, before);
	snprintf(id0, sizeof(id0), "%s", events_pseudo_key_id(p));
	uint64_t now = (uint64_t)time(NULL);
	CHECK_EQ(events_pseudo_maybe_rotate(p, now + 10), 0);
	CHECK_EQ(events_pseudo_maybe_rotate(p, now + 3700), 1);
	events_pseudo_make(p, AF_INET, a1, after);
	CHECK(strcmp(before, after) != 0);
	CHECK(strcmp(id0, events_pseudo_key_id(p)) != 0);
	/* The file holds the new current key and the previous one. */
	CHECK_EQ(events_pseudo_open(path, 3600, &q), C2W_OK);
	events_pseudo_make(q, AF_INET, a1, before);
	CHECK_STREQ(before, after);
	FILE *f = fopen(path, "r");
	char buf[1024] = "";
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	CHECK(strstr(buf, id0) != NULL);
	events_pseudo_free(p);
	events_pseudo_free(q);
	/* Group-readable key file is refused. */
	CHECK_EQ(chmod(path, 0644), 0);
	CHECK_EQ(events_pseudo_open(path, 0, &p), C2W_EACCES);
	/* Malformed file refused. */
	f = fopen(path, "w");
	fputs("hello\n", f);
	fclose(f);
	chmod(path, 0600);
	CHECK_EQ(events_pseudo_open(path, 0, &p), C2W_EMALF);
	unlink(path);
	rmdir(dir);
}

/* issue 12: the key file is replaced through an exclusive, unpredictable temporary; a
 * symlink planted at the old predictable name "PATH.tmp.<pid>" is not followed, and a
 * symlinked key file is not read. */
static void test_tmp_no_follow(void)
{
	char dir[] = "/tmp/c2w-pseudo-tmp-XXXXXX", path[128], trap[160], victim[128];
	if (mkdtemp(dir) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(trap, sizeof(trap), "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(victim, "w");
	fputs("precious\n", f);
	fclose(f);
	chmod(victim, 0644);
	CHECK_EQ(symlink(victim, trap), 0);
	struct events_pseudo *p = NULL;
	CHECK_EQ(events_pseudo_open(path, 60, &p), C2W_OK);
	CHECK_EQ(events_pseudo_rotate(p, (uint64_t)time(NULL) + 120), C2W_OK);
	events_pseudo_free(p);
	char buf[64] = "";
	f = fopen(victim, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	CHECK_STREQ(buf, "precious\n");
	struct stat st;
	CHECK_EQ(stat(victim, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0644);
	CHECK_EQ(lstat(path, &st), 0);
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
	/* A key file that is a symlink is refused. */
	char link[160];
	snprintf(link, sizeof(link), "%s/keylink", dir);
	CHECK_EQ(symlink(path, link), 0);
	CHECK(events_pseudo_open(link, 60, &p) != C2W_OK);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ(system(cmd), 0);
}

TEST_MAIN(TEST(test_stable_and_keyed), TEST(test_rotation), TEST(test_tmp_no_follow))

/* SPDX-License-Identifier: MIT */
/*
 * The config, its reference and its sample say the same thing (issue 12). The accepted keys
 * come from the loader's own tables (conf_keys_each()), so a key added to a table without a
 * line in docs/config.md and conf/c2wall.yaml fails here, and so does a documented key the
 * loader does not accept. docs/config.md: each "## SECTION" whose name is a config section
 * has a table whose rows start with | `key` |; "Each entry of `LIST`:" starts the table of
 * a list of mappings (policy.zones[].name). conf/c2wall.yaml shows every key, commented out
 * where it has no sensible sample value ("# key: value").
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "core/err.h"
#include "test.h"

#define KEYS_MAX 256
#define PATH_LEN 128

struct keyset {
	char path[KEYS_MAX][PATH_LEN];
	unsigned seen[KEYS_MAX]; /* how often the document names it */
	size_t count;
};

static struct keyset g_accepted;

static void add_accepted(void *ctx, const char *path)
{
	struct keyset *ks = ctx;
	CHECK(ks->count < KEYS_MAX);
	if (ks->count < KEYS_MAX)
		snprintf(ks->path[ks->count++], PATH_LEN, "%s", path);
}

static int find(const struct keyset *ks, const char *path)
{
	for (size_t i = 0; i < ks->count; i++)
		if (strcmp(ks->path[i], path) == 0)
			return (int)i;
	return -1;
}

/* Is @name a section of the config (the first component of some accepted key)? */
static bool is_section(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < g_accepted.count; i++)
		if (strncmp(g_accepted.path[i], name, n) == 0 && g_accepted.path[i][n] == '.')
			return true;
	return false;
}

static FILE *open_src(const char *rel)
{
	const char *src = getenv("C2W_SRCDIR");
	char path[PATH_MAX];
	CHECK(src != NULL);
	if (src == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", src, rel);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	return f;
}

static FILE *open_quiet(const char *rel)
{
	const char *src = getenv("C2W_SRCDIR");
	char path[PATH_MAX];
	if (src == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", src, rel);
	return fopen(path, "r");
}

static void chomp(char *line)
{
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		line[--n] = '\0';
}

/* The text between the first pair of backticks after @start, into @out. */
static bool backticked(const char *start, char *out, size_t cap)
{
	const char *a = strchr(start, '`');
	const char *b = a != NULL ? strchr(a + 1, '`') : NULL;
	if (b == NULL || (size_t)(b - a - 1) >= cap)
		return false;
	memcpy(out, a + 1, (size_t)(b - a - 1));
	out[b - a - 1] = '\0';
	return true;
}

static void test_docs_match_parser(void)
{
	FILE *f = open_src("docs/config.md");
	char line[4096], section[64] = "", list[64] = "", key[64], path[PATH_LEN];
	unsigned lineno = 0;
	if (f == NULL)
		goto out;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		chomp(line);
		if (strncmp(line, "## ", 3) == 0) {
			if (strlen(line + 3) >= sizeof(section) || !is_section(line + 3))
				section[0] = '\0';
			else
				memcpy(section, line + 3, strlen(line + 3) + 1);
			list[0] = '\0';
			continue;
		}
		if (section[0] == '\0')
			continue;
		if (strncmp(line, "Each entry of `", 15) == 0) {
			CHECK(backticked(line, list, sizeof(list)));
			continue;
		}
		if (strncmp(line, "| `", 3) != 0 || !backticked(line, key, sizeof(key)))
			continue;
		int n = list[0] != '\0'
			    ? snprintf(path, sizeof(path), "%s.%s[].%s", section, list, key)
			    : snprintf(path, sizeof(path), "%s.%s", section, key);
		CHECK(n > 0 && (size_t)n < sizeof(path));
		int i = find(&g_accepted, path);
		if (i < 0) {
			fprintf(stderr, "docs/config.md:%u: documents '%s', which the loader does "
					"not accept\n",
				lineno, path);
			CHECK(i >= 0);
			continue;
		}
		if (++g_accepted.seen[i] == 2) {
			fprintf(stderr, "docs/config.md:%u: '%s' is documented twice\n", lineno,
				path);
			CHECK(g_accepted.seen[i] == 1);
		}
	}
	for (size_t i = 0; i < g_accepted.count; i++) {
		if (g_accepted.seen[i] == 0)
			fprintf(stderr, "docs/config.md: accepted key '%s' is not documented\n",
				g_accepted.path[i]);
		CHECK(g_accepted.seen[i] > 0);
		g_accepted.seen[i] = 0;
	}
out:
	if (f != NULL)
		fclose(f);
}

/*
 * A key line of the sample, commented out or not: "  key: v", "  # key: v", "- key: v",
 * "#   - key: v". Prose comments start with a capital or have no "word:" at the start.
 */
static bool sample_key(const char *line, char *key, size_t cap)
{
	const char *p = line;
	while (*p == ' ' || *p == '#' || *p == '-')
		p++;
	size_t n = 0;
	while (islower((unsigned char)p[n]) || isdigit((unsigned char)p[n]) || p[n] == '-')
		n++;
	if (n == 0 || n >= cap || p[n] != ':' || (p[n + 1] != ' ' && p[n + 1] != '\0'))
		return false;
	memcpy(key, p, n);
	key[n] = '\0';
	return true;
}

/* Does @leaf name a key of @section (directly or inside one of its lists of mappings)? */
static int find_leaf(const char *section, const char *leaf)
{
	char direct[PATH_LEN];
	if (snprintf(direct, sizeof(direct), "%s.%s", section, leaf) >= (int)sizeof(direct))
		return -1;
	int i = find(&g_accepted, direct);
	if (i >= 0)
		return i;
	size_t sl = strlen(section), ll = strlen(leaf);
	for (size_t k = 0; k < g_accepted.count; k++) {
		const char *p = g_accepted.path[k];
		size_t pl = strlen(p);
		if (strncmp(p, section, sl) == 0 && p[sl] == '.' && strstr(p, "[].") != NULL &&
		    pl > ll && strcmp(p + pl - ll, leaf) == 0 && p[pl - ll - 1] == '.')
			return (int)k;
	}
	return -1;
}

static void test_sample_shows_every_key(void)
{
	FILE *f = open_src("conf/c2wall.yaml");
	char line[1024], section[64] = "", key[64];
	unsigned lineno = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		chomp(line);
		if (line[0] != ' ' && line[0] != '#' && line[0] != '\0') {
			CHECK(sample_key(line, section, sizeof(section)) && is_section(section));
			continue;
		}
		if (section[0] == '\0' || !sample_key(line, key, sizeof(key)))
			continue;
		int i = find_leaf(section, key);
		if (i < 0) {
			fprintf(stderr, "conf/c2wall.yaml:%u: shows '%s' in %s, which the loader "
					"does not accept\n",
				lineno, key, section);
			CHECK(i >= 0);
			continue;
		}
		g_accepted.seen[i]++;
	}
	fclose(f);
	for (size_t i = 0; i < g_accepted.count; i++) {
		if (g_accepted.seen[i] == 0)
			fprintf(stderr, "conf/c2wall.yaml: accepted key '%s' is not shown\n",
				g_accepted.path[i]);
		CHECK(g_accepted.seen[i] > 0);
		g_accepted.seen[i] = 0;
	}
}

/* docs/sinkhole.md: its configuration example loads (the bracket IPv6 form included) and the
 * files it points to exist. */
static void test_sinkhole_doc(void)
{
	FILE *f = open_src("docs/sinkhole.md");
	char line[1024];
	static char yaml[16384];
	size_t used = 0;
	int state = 0; /* 0 before the block, 1 inside, 2 after */
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (state == 0 && strncmp(line, "```yaml", 7) == 0) {
			state = 1;
			continue;
		}
		if (state == 1 && strncmp(line, "```", 3) == 0)
			state = 2;
		if (state == 1 && used + strlen(line) < sizeof(yaml)) {
			memcpy(yaml + used, line, strlen(line));
			used += strlen(line);
		}
		/* Every "X.md" named in the text is in the tree (docs/ or the top). */
		for (const char *p = strstr(line, ".md"); p != NULL; p = strstr(p + 3, ".md")) {
			const char *b = p;
			while (b > line && (isalnum((unsigned char)b[-1]) || b[-1] == '_' ||
					    b[-1] == '-' || b[-1] == '/' || b[-1] == '.'))
				b--;
			char name[256], rel[300];
			if (p + 3 - b <= 3 || (size_t)(p + 3 - b) >= sizeof(name))
				continue;
			memcpy(name, b, (size_t)(p + 3 - b));
			name[p + 3 - b] = '\0';
			const char *base = strncmp(name, "../", 3) == 0 ? name + 3 : name;
			snprintf(rel, sizeof(rel), "docs/%s", base);
			FILE *a = open_quiet(rel);
			if (a == NULL)
				a = open_quiet(base);
			if (a == NULL)
				fprintf(stderr, "docs/sinkhole.md: names %s, which is not in the tree\n",
					name);
			CHECK(a != NULL);
			if (a != NULL)
				fclose(a);
		}
	}
	fclose(f);
	CHECK(state == 2);
	char err[512] = "";
	struct c2w_config *cfg = NULL;
	int ret = conf_load_buffer(yaml, used, "/etc/c2wall/c2wall.yaml", &cfg, err, sizeof(err));
	if (ret != C2W_OK)
		fprintf(stderr, "docs/sinkhole.md example: %s\n", err);
	CHECK_EQ(ret, C2W_OK);
	CHECK(cfg != NULL && cfg->sinkhole.http_count == 2 &&
	      strcmp(cfg->sinkhole.http[1].text, "2001:db8::80@80") == 0);
	conf_free(cfg);
}

static void test_setup(void)
{
	conf_keys_each(add_accepted, &g_accepted);
	/* The walker sees nested tables and lists of mappings, and skips refused keys. */
	CHECK(find(&g_accepted, "server.listen") >= 0);
	CHECK(find(&g_accepted, "policy.zones[].name") >= 0);
	CHECK(find(&g_accepted, "resolver.stub[].addr") >= 0);
	CHECK(find(&g_accepted, "store.postgres") < 0);
	CHECK(find(&g_accepted, "control.http") >= 0);
	printf("%zu accepted keys\n", g_accepted.count);
}

TEST_MAIN(TEST(test_setup), TEST(test_docs_match_parser), TEST(test_sample_shows_every_key),
	  TEST(test_sinkhole_doc))

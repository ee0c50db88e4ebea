/* SPDX-License-Identifier: MIT */
/* Warning page: built-in templates in both languages, escaping, operator text, bad templates. */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sinkhole/page.h"
#include "test.h"

static char *render(const struct sinkhole_page *pg, enum sinkhole_lang lang, const char *domain,
		    const struct sinkhole_info *info)
{
	setenv("TZ", "UTC", 1); /* the dates below are checked in UTC */
	tzset();
	size_t cap = sinkhole_page_size_max(pg);
	char *out = malloc(cap + 1);
	struct sinkhole_page_req req = {lang, domain, info, 1735787045}; /* 2025-01-02 03:04:05Z */
	int n = sinkhole_page_render(pg, &req, out, cap);
	CHECK(n > 0);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static void test_builtin_ja(void)
{
	struct sinkhole_page *pg;
	CHECK_EQ(sinkhole_page_new(NULL, NULL, &pg), C2W_OK);
	struct sinkhole_info info = {.family = "Emotet", .category = "c2"};
	char *html = render(pg, SINKHOLE_LANG_JA, "c2.example", &info);
	CHECK(strstr(html, "<html lang=\"ja\">") != NULL);
	CHECK(strstr(html, "c2.example") != NULL);
	CHECK(strstr(html, "Emotet") != NULL);
	CHECK(strstr(html, "遠隔操作するサーバー") != NULL);
	CHECK(strstr(html, "2025年1月2日") != NULL);
	CHECK(strstr(html, "{{") == NULL);
	CHECK(strstr(html, "<script") == NULL);
	CHECK(strstr(html, "ダウンロード") != NULL); /* the warning that we never offer one */
	free(html);
	sinkhole_page_free(pg);
}

static void test_builtin_en_unknown_family(void)
{
	struct sinkhole_page *pg;
	CHECK_EQ(sinkhole_page_new(NULL, NULL, &pg), C2W_OK);
	struct sinkhole_info info = {0};
	char *html = render(pg, SINKHOLE_LANG_EN, "c2.example", &info);
	CHECK(strstr(html, "<html lang=\"en\">") != NULL);
	CHECK(strstr(html, "a server known to control malware") != NULL);
	CHECK(strstr(html, "Malware family") == NULL); /* section dropped without a family */
	CHECK(strstr(html, "2 January 2025") != NULL);
	free(html);
	/* not a known blocked name: the neutral text */
	html = render(pg, SINKHOLE_LANG_EN, NULL, NULL);
	CHECK(strstr(html, "known to control malware") == NULL);
	CHECK(strstr(html, "(unknown)") != NULL);
	free(html);
	sinkhole_page_free(pg);
}

static void test_script_in_host_is_escaped(void)
{
	struct sinkhole_page *pg;
	CHECK_EQ(sinkhole_page_new(NULL, NULL, &pg), C2W_OK);
	struct sinkhole_info info = {.family = "<img src=x onerror=alert(1)>"};
	char *html = render(pg, SINKHOLE_LANG_JA, "<script>alert(\"x\")</script>\xff", &info);
	CHECK(strstr(html, "<script") == NULL);
	CHECK(strstr(html, "<img") == NULL);
	CHECK(strstr(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;%FF") != NULL);
	CHECK(strstr(html, "&lt;img src=x onerror=alert(1)&gt;") != NULL);
	free(html);
	sinkhole_page_free(pg);
}

static void test_escape(void)
{
	char out[64];
	CHECK_EQ(sinkhole_page_escape("a&<>\"'", 6, false, out, sizeof(out)), 25);
	out[25] = '\0';
	CHECK_STREQ(out, "a&amp;&lt;&gt;&quot;&#39;");
	CHECK_EQ(sinkhole_page_escape("\x01\xe3", 2, true, out, sizeof(out)), 6);
	CHECK_EQ(sinkhole_page_escape("\xe3\x81\x82", 3, false, out, sizeof(out)), 3);
	CHECK_EQ(sinkhole_page_escape("<<<<", 4, false, out, 15), C2W_ESPACE);
}

static void test_operator_text(void)
{
	static const char *const steps[] = {"Run <b>step</b> one"};
	static const struct sinkhole_link links[] = {
	    {"Help & FAQ", "https://isp.example/help?a=1&b=2"}};
	struct sinkhole_text text[SINKHOLE_LANG_COUNT] = {
	    [SINKHOLE_LANG_EN] = {.isp_name = "Example \"Net\"",
				  .steps = steps,
				  .step_count = 1,
				  .links = links,
				  .link_count = 1,
				  .contact = "abuse@isp.example, 0120-000-000"}};
	struct sinkhole_page *pg;
	CHECK_EQ(sinkhole_page_new(NULL, text, &pg), C2W_OK);
	char *html = render(pg, SINKHOLE_LANG_EN, "x.example", NULL);
	CHECK(strstr(html, "Example &quot;Net&quot;") != NULL);
	CHECK(strstr(html, "<li>Run &lt;b&gt;step&lt;/b&gt; one</li>") != NULL);
	CHECK(strstr(html, "href=\"https://isp.example/help?a=1&amp;b=2\"") != NULL);
	CHECK(strstr(html, ">Help &amp; FAQ</a>") != NULL);
	CHECK(strstr(html, "0120-000-000") != NULL);
	free(html);
	/* Japanese kept its defaults */
	html = render(pg, SINKHOLE_LANG_JA, "x.example", NULL);
	CHECK(strstr(html, "ご利用のプロバイダー") != NULL);
	free(html);
	sinkhole_page_free(pg);
}

static void test_links_refused(void)
{
	static const char *const urls[] = {
	    "javascript:alert(1)", "https://x.example/cleaner.exe", "http://x.example/tool.ZIP?x=1",
	    "ftp://x.example/",    "https://x.example/a b",         "data:text/html,hi"};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		struct sinkhole_link link = {"x", urls[i]};
		struct sinkhole_text text[SINKHOLE_LANG_COUNT] = {
		    [SINKHOLE_LANG_JA] = {.links = &link, .link_count = 1}};
		struct sinkhole_page *pg = NULL;
		CHECK_EQ(sinkhole_page_new(NULL, text, &pg), C2W_EINVAL);
		CHECK(pg == NULL);
	}
	struct sinkhole_link ok = {"x", "https://example.com"};
	struct sinkhole_text text[SINKHOLE_LANG_COUNT] = {
	    [SINKHOLE_LANG_JA] = {.links = &ok, .link_count = 1}};
	struct sinkhole_page *pg;
	CHECK_EQ(sinkhole_page_new(NULL, text, &pg), C2W_OK);
	sinkhole_page_free(pg);
}

static void write_file(const char *dir, const char *name, const char *body)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(body, f);
	fclose(f);
}

static void test_template_dir(void)
{
	char dir[] = "/tmp/c2w-sinkhole-tpl-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	write_file(dir, "page.en.html",
		   "<p>{{isp}}: {{domain}}{{#family}} ({{family}}){{/family}}"
		   "{{^family}} (?){{/family}}</p>");
	struct sinkhole_page *pg;
	CHECK_EQ(sinkhole_page_new(dir, NULL, &pg), C2W_OK);
	struct sinkhole_info info = {.family = "Qakbot"};
	char *html = render(pg, SINKHOLE_LANG_EN, "a.example", &info);
	CHECK_STREQ(html, "<p>Your Internet service provider: a.example (Qakbot)</p>");
	free(html);
	html = render(pg, SINKHOLE_LANG_EN, "a.example", NULL);
	CHECK_STREQ(html, "<p>Your Internet service provider: a.example (?)</p>");
	free(html);
	html = render(pg, SINKHOLE_LANG_JA, "a.example", NULL); /* built-in ja */
	CHECK(strstr(html, "<html lang=\"ja\">") != NULL);
	free(html);
	sinkhole_page_free(pg);
	static const char *const bad[] = {"{{nosuch}}", "{{#family}}open", "{{/family}}",
					  "{{domain", "{{#a}}{{/a}}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(dir, "page.en.html", bad[i]);
		CHECK_EQ(sinkhole_page_new(dir, NULL, &pg), C2W_EIO);
	}
	char path[512];
	snprintf(path, sizeof(path), "%s/page.en.html", dir);
	unlink(path);
	rmdir(dir);
}

static void test_text_file_and_spec_precedence(void)
{
	char dir[] = "/tmp/c2w-sinkhole-txt-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	write_file(dir, "text.ja.txt",
		   "isp = 例ネット光\ncontact = 例ネット 0120-111-111\n"
		   "link = 例ネット 相談 | https://isp.example.jp/anshin\n");
	struct sinkhole_text spec[SINKHOLE_LANG_COUNT] = {[SINKHOLE_LANG_JA] = {.contact = "spec"}};
	struct sinkhole_page *pg;
	CHECK_EQ(sinkhole_page_new(dir, spec, &pg), C2W_OK);
	char *html = render(pg, SINKHOLE_LANG_JA, "a.example", NULL);
	CHECK(strstr(html, "例ネット光") != NULL);
	CHECK(strstr(html, "https://isp.example.jp/anshin") != NULL);
	CHECK(strstr(html, "<p>spec</p>") != NULL);
	CHECK(strstr(html, "0120-111-111") == NULL);
	free(html);
	sinkhole_page_free(pg);
	write_file(dir, "text.ja.txt", "isp = a\nbogus line\n");
	CHECK_EQ(sinkhole_page_new(dir, NULL, &pg), C2W_EIO);
	write_file(dir, "text.ja.txt", "link = tool | https://x.example/fix.exe\n");
	CHECK_EQ(sinkhole_page_new(dir, NULL, &pg), C2W_EINVAL);
	char path[512];
	snprintf(path, sizeof(path), "%s/text.ja.txt", dir);
	unlink(path);
	rmdir(dir);
}

TEST_MAIN(TEST(test_builtin_ja), TEST(test_text_file_and_spec_precedence),
	  TEST(test_builtin_en_unknown_family), TEST(test_script_in_host_is_escaped),
	  TEST(test_escape), TEST(test_operator_text), TEST(test_links_refused),
	  TEST(test_template_dir))

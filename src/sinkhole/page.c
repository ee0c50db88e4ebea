/* SPDX-License-Identifier: MIT */
/*
 * Warning page templates and rendering. Operator text is escaped once at load into ready HTML
 * pieces; per-request values (the name the client asked for, family, time) are escaped while
 * rendering. Templates are checked at load so a typo fails the start, not a request.
 */
#include "sinkhole/page.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "sinkhole/assets.h"
#include "sinkhole/text.h"

enum var {
	V_DOMAIN,
	V_FAMILY,
	V_CATEGORY,
	V_TIME,
	V_KNOWN,
	V_LANG,
	V_ISP, /* from here on: static per language, prebuilt HTML */
	V_STEPS,
	V_LINKS,
	V_OPTOUT,
	V_CONTACT,
	V_CSS,
	V_COUNT
};

static const char *const var_names[V_COUNT] = {
    "domain", "family", "category", "time",   "known",   "lang",
    "isp",    "steps",  "links",    "optout", "contact", "css",
};

enum esc { ESC_NONE, ESC_HTML, ESC_ASCII };

struct val {
	const char *p;
	size_t len;
	enum esc esc;
};

struct lang_page {
	char *tpl;
	size_t tpl_len;
	size_t tag_count;
	char *html[V_COUNT]; /* V_ISP..V_CONTACT; V_CSS points to the shared css */
	size_t html_len[V_COUNT];
};

struct sinkhole_page {
	struct lang_page l[SINKHOLE_LANG_COUNT];
	char *css;
	size_t css_len;
	size_t size_max;
};

#define DEPTH_MAX      8
#define DOMAIN_ESC_MAX (255 * 6) /* every byte of the longest Host as "&quot;" */

/* ---- built-in operator text ---- */

static const char *const ja_steps[] = {
    "このページを開いた機器（パソコン、スマートフォン、タブレットなど）を確かめてください。"
    "心当たりがない場合は、同じ回線につながっている別の機器が原因かもしれません。",
    "OS とアプリを最新の状態に更新し、お使いのセキュリティ対策ソフトで機器全体を"
    "スキャンしてください。",
    "対策ソフトは、必ず公式の配布元やアプリストアから入手してください。このページが"
    "ソフトウェアのダウンロードを求めることはありません。",
    "ネットバンキングやメールなど大切なサービスのパスワードを、感染していない別の機器から"
    "変更してください。",
    "解決しない場合や不安な場合は、下記の窓口にご相談ください。",
};

static const char *const en_steps[] = {
    "Find the device that opened this page (computer, phone, tablet, ...). If it was not you, "
    "another device on the same connection may be the cause.",
    "Update the operating system and apps, then scan the whole device with your security "
    "software.",
    "Get security software only from its official publisher or an app store. This page never "
    "asks you to download anything.",
    "From a device that is not infected, change the passwords of important services such as "
    "online banking and e-mail.",
    "If the problem persists or you are unsure, contact us (see below).",
};

static const struct sinkhole_link ja_links[] = {
    {"IPA 情報セキュリティ安心相談窓口", "https://www.ipa.go.jp/security/anshin/"},
    {"NISC インターネットの安全・安心ハンドブック",
     "https://security-portal.nisc.go.jp/guidance/handbook.html"},
};

static const struct sinkhole_link en_links[] = {
    {"JPCERT/CC", "https://www.jpcert.or.jp/english/"},
    {"NISC (National center of Incident readiness and Strategy for Cybersecurity)",
     "https://www.nisc.go.jp/eng/"},
};

static const struct sinkhole_text default_text[SINKHOLE_LANG_COUNT] = {
    [SINKHOLE_LANG_JA] =
	{
	    .isp_name = "ご利用のプロバイダー",
	    .steps = ja_steps,
	    .step_count = sizeof(ja_steps) / sizeof(ja_steps[0]),
	    .links = ja_links,
	    .link_count = sizeof(ja_links) / sizeof(ja_links[0]),
	    .optout = "この保護サービス（マルウェア通信の遮断）を利用しない場合は、"
		      "ご契約のプロバイダーにお申し出ください。停止すると、"
		      "このような通信も遮断されなくなります。",
	    .contact = "ご契約のプロバイダーのサポート窓口",
	},
    [SINKHOLE_LANG_EN] =
	{
	    .isp_name = "Your Internet service provider",
	    .steps = en_steps,
	    .step_count = sizeof(en_steps) / sizeof(en_steps[0]),
	    .links = en_links,
	    .link_count = sizeof(en_links) / sizeof(en_links[0]),
	    .optout = "If you do not want this protection (blocking of malware "
		      "communication), ask your provider to turn it off for your "
		      "line. Such connections are then no longer blocked.",
	    .contact = "Your provider's support desk.",
	},
};

/* ---- output buffer ---- */

struct wbuf {
	char *p;
	size_t cap, len;
	bool full;
};

static void put(struct wbuf *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void puts_(struct wbuf *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_escaped(struct wbuf *w, const char *s, size_t n, bool ascii_only)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n && !w->full; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '&':
			puts_(w, "&amp;");
			continue;
		case '<':
			puts_(w, "&lt;");
			continue;
		case '>':
			puts_(w, "&gt;");
			continue;
		case '"':
			puts_(w, "&quot;");
			continue;
		case '\'':
			puts_(w, "&#39;");
			continue;
		default:
			break;
		}
		if (ascii_only && (c < 0x20 || c > 0x7e)) {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			put(w, e, 3);
		} else {
			put(w, (const char *)&s[i], 1);
		}
	}
}

int sinkhole_page_escape(const char *in, size_t len, bool ascii_only, char *out, size_t out_size)
{
	struct wbuf w = {out, out_size, 0, false};
	put_escaped(&w, in, len, ascii_only);
	return w.full ? C2W_ESPACE : (int)w.len;
}

/* ---- template engine ---- */

static int find_var(const char *name, size_t len)
{
	for (int i = 0; i < V_COUNT; i++)
		if (strlen(var_names[i]) == len && memcmp(var_names[i], name, len) == 0)
			return i;
	return -1;
}

/* Parse the tag at t[i] == "{{"; @return C2W_OK with kind ('#', '^', '/', 0), var, end. */
static int parse_tag(const char *t, size_t len, size_t i, char *kind, int *var, size_t *end)
{
	size_t s = i + 2;
	*kind = 0;
	if (s < len && (t[s] == '#' || t[s] == '^' || t[s] == '/'))
		*kind = t[s++];
	size_t e = s;
	while (e < len && e - s <= 16 && t[e] != '}')
		e++;
	if (e + 1 >= len || t[e] != '}' || t[e + 1] != '}')
		return C2W_EIO;
	*var = find_var(t + s, e - s);
	if (*var < 0)
		return C2W_EIO;
	*end = e + 2;
	return C2W_OK;
}

/* The matching {{/var}} for a section opened just before @i; nested same-name sections count. */
static int find_close(const char *t, size_t len, size_t i, int var, size_t *body_end, size_t *after)
{
	int depth = 0;
	for (;;) {
		const char *o = memmem(t + i, len - i, "{{", 2);
		if (o == NULL)
			return C2W_EIO;
		size_t at = (size_t)(o - t), end;
		char kind;
		int v;
		if (parse_tag(t, len, at, &kind, &v, &end) != C2W_OK)
			return C2W_EIO;
		if (v == var && (kind == '#' || kind == '^'))
			depth++;
		if (v == var && kind == '/' && depth-- == 0) {
			*body_end = at;
			*after = end;
			return C2W_OK;
		}
		i = end;
	}
}

static void put_val(struct wbuf *w, const struct val *v)
{
	if (v->esc == ESC_NONE)
		put(w, v->p, v->len);
	else
		put_escaped(w, v->p, v->len, v->esc == ESC_ASCII);
}

static int render(const char *t, size_t len, const struct val *vals, struct wbuf *w, int depth)
{
	size_t i = 0;
	if (depth > DEPTH_MAX)
		return C2W_EIO;
	while (i < len) {
		const char *o = memmem(t + i, len - i, "{{", 2);
		size_t at = o ? (size_t)(o - t) : len, end, body_end, after;
		put(w, t + i, at - i);
		if (o == NULL)
			break;
		char kind;
		int v;
		int ret = parse_tag(t, len, at, &kind, &v, &end);
		if (ret != C2W_OK || kind == '/')
			return C2W_EIO;
		if (kind == 0) {
			put_val(w, &vals[v]);
			i = end;
			continue;
		}
		ret = find_close(t, len, end, v, &body_end, &after);
		if (ret != C2W_OK)
			return ret;
		if ((vals[v].len > 0) == (kind == '#')) {
			ret = render(t + end, body_end - end, vals, w, depth + 1);
			if (ret != C2W_OK)
				return ret;
		}
		i = after;
	}
	return C2W_OK;
}

/* ---- load ---- */

static int read_small(const char *dir, const char *name, char **out, size_t *out_len)
{
	char path[4096];
	int ret = C2W_OK;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return C2W_EIO;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? C2W_ENOENT : C2W_EIO;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SINKHOLE_TEMPLATE_MAX) {
		c2w_log_err("sinkhole: %s: not a regular file of at most %d bytes", path,
			    SINKHOLE_TEMPLATE_MAX);
		ret = C2W_EIO;
		goto out_close;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		ret = C2W_ENOMEM;
		goto out_close;
	}
	ssize_t n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		c2w_log_err("sinkhole: %s: short read", path);
		free(buf);
		ret = C2W_EIO;
		goto out_close;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = (size_t)n;
out_close:
	close(fd);
	return ret;
}

static int load_one(const char *dir, const char *name, const unsigned char *builtin,
		    size_t builtin_len, char **out, size_t *out_len)
{
	if (dir != NULL) {
		int ret = read_small(dir, name, out, out_len);
		if (ret != C2W_ENOENT)
			return ret;
	}
	*out = malloc(builtin_len + 1);
	if (*out == NULL)
		return C2W_ENOMEM;
	memcpy(*out, builtin, builtin_len + 1);
	*out_len = builtin_len;
	return C2W_OK;
}

static bool ends_with_ci(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

/* http(s) only, no whitespace or controls, and no file a browser would download and run. */
static bool link_ok(const char *url)
{
	static const char *const bad[] = {".exe", ".msi",  ".apk",  ".zip", ".dmg", ".pkg",
					  ".scr", ".bat",  ".cmd",  ".ps1", ".jar", ".js",
					  ".vbs", ".rar",  ".7z",   ".iso", ".img", ".deb",
					  ".rpm", ".appx", ".msix", ".ipa", ".com", ".hta"};
	if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
		return false;
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return false;
	const char *host = strstr(url, "://") + 3;
	const char *path = strchr(host, '/');
	if (path == NULL)
		return true; /* bare host: "https://example.com" is a page, ".com" is a TLD */
	size_t plen = strcspn(path, "?#");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ends_with_ci(path, plen, bad[i]))
			return false;
	return true;
}

static int build_static(struct lang_page *lp, const struct sinkhole_text *op,
			const struct sinkhole_text *def)
{
	char scratch[64 * 1024];
	struct wbuf w;
	const char *const *steps = op->step_count ? op->steps : def->steps;
	size_t step_count = op->step_count ? op->step_count : def->step_count;
	const struct sinkhole_link *links = op->link_count ? op->links : def->links;
	size_t link_count = op->link_count ? op->link_count : def->link_count;
	const char *plain[V_COUNT] = {
	    [V_ISP] = op->isp_name ? op->isp_name : def->isp_name,
	    [V_OPTOUT] = op->optout ? op->optout : def->optout,
	    [V_CONTACT] = op->contact ? op->contact : def->contact,
	};
	for (int v = V_ISP; v < V_CSS; v++) {
		w = (struct wbuf){scratch, sizeof(scratch), 0, false};
		if (plain[v] != NULL) {
			put_escaped(&w, plain[v], strlen(plain[v]), false);
		} else if (v == V_STEPS) {
			for (size_t i = 0; i < step_count; i++) {
				puts_(&w, "<li>");
				put_escaped(&w, steps[i], strlen(steps[i]), false);
				puts_(&w, "</li>\n");
			}
		} else if (v == V_LINKS) {
			for (size_t i = 0; i < link_count; i++) {
				if (links[i].url == NULL || !link_ok(links[i].url)) {
					c2w_log_err(
					    "sinkhole: link \"%s\" refused: only http(s) pages, "
					    "never a download",
					    links[i].url ? links[i].url : "(null)");
					return C2W_EINVAL;
				}
				const char *label = links[i].label ? links[i].label : links[i].url;
				puts_(&w, "<li><a href=\"");
				put_escaped(&w, links[i].url, strlen(links[i].url), false);
				puts_(&w, "\" rel=\"noopener noreferrer\">");
				put_escaped(&w, label, strlen(label), false);
				puts_(&w, "</a></li>\n");
			}
		}
		if (w.full)
			return C2W_EINVAL;
		lp->html[v] = malloc(w.len + 1);
		if (lp->html[v] == NULL)
			return C2W_ENOMEM;
		memcpy(lp->html[v], scratch, w.len);
		lp->html[v][w.len] = '\0';
		lp->html_len[v] = w.len;
	}
	return C2W_OK;
}

/* Render with every value set and with every value empty: any template error shows up. */
static int check_template(const struct lang_page *lp, const char *name)
{
	struct val vals[V_COUNT];
	size_t cap = 4 * SINKHOLE_TEMPLATE_MAX;
	char *buf = malloc(cap);
	if (buf == NULL)
		return C2W_ENOMEM;
	int ret = C2W_OK;
	for (int pass = 0; pass < 2 && ret == C2W_OK; pass++) {
		for (int v = 0; v < V_COUNT; v++)
			vals[v] = (struct val){"x", pass, ESC_NONE};
		struct wbuf w = {buf, cap, 0, false};
		if (render(lp->tpl, lp->tpl_len, vals, &w, 0) != C2W_OK) {
			c2w_log_err("sinkhole: template %s: unknown placeholder or unclosed "
				    "section",
				    name);
			ret = C2W_EIO;
		}
	}
	free(buf);
	return ret;
}

static size_t count_tags(const char *t, size_t len)
{
	size_t n = 0;
	for (const char *p = t; (p = memmem(p, len - (size_t)(p - t), "{{", 2)) != NULL; p += 2)
		n++;
	return n;
}

/* Spec text over the directory's text.<lang>.txt; the built-in text fills the rest later. */
static int merge_text(const char *dir, const char *file, const struct sinkhole_text *spec,
		      struct sinkhole_text_file *tf, struct sinkhole_text *out)
{
	static const struct sinkhole_text none;
	char *data = NULL;
	size_t len = 0;
	int ret = dir ? read_small(dir, file, &data, &len) : C2W_ENOENT;
	if (ret == C2W_OK) {
		unsigned line;
		ret = sinkhole_text_parse(data, len, tf, &line);
		free(data);
		if (ret == C2W_ENOMEM)
			return ret;
		if (ret != C2W_OK) {
			c2w_log_err("sinkhole: %s/%s:%u: %s (want \"key = value\" with isp, step, "
				    "link = label | url, optout, contact)",
				    dir, file, line, c2w_strerror(ret));
			return C2W_EIO;
		}
	} else if (ret != C2W_ENOENT) {
		return ret;
	}
	*out = tf->buf ? tf->text : none;
	if (spec == NULL)
		return C2W_OK;
	if (spec->isp_name)
		out->isp_name = spec->isp_name;
	if (spec->optout)
		out->optout = spec->optout;
	if (spec->contact)
		out->contact = spec->contact;
	if (spec->step_count) {
		out->steps = spec->steps;
		out->step_count = spec->step_count;
	}
	if (spec->link_count) {
		out->links = spec->links;
		out->link_count = spec->link_count;
	}
	return C2W_OK;
}

int sinkhole_page_new(const char *dir, const struct sinkhole_text *text, struct sinkhole_page **out)
{
	static const char *const files[SINKHOLE_LANG_COUNT] = {"page.ja.html", "page.en.html"};
	static const char *const texts[SINKHOLE_LANG_COUNT] = {"text.ja.txt", "text.en.txt"};
	const unsigned char *builtin[SINKHOLE_LANG_COUNT] = {sinkhole_asset_page_ja,
							     sinkhole_asset_page_en};
	const size_t builtin_len[SINKHOLE_LANG_COUNT] = {sinkhole_asset_page_ja_len,
							 sinkhole_asset_page_en_len};
	struct sinkhole_page *pg = calloc(1, sizeof(*pg));
	if (pg == NULL)
		return C2W_ENOMEM;
	int ret = load_one(dir, "style.css", sinkhole_asset_style, sinkhole_asset_style_len,
			   &pg->css, &pg->css_len);
	for (int l = 0; l < SINKHOLE_LANG_COUNT && ret == C2W_OK; l++) {
		struct lang_page *lp = &pg->l[l];
		struct sinkhole_text_file tf = {0};
		struct sinkhole_text merged;
		ret = load_one(dir, files[l], builtin[l], builtin_len[l], &lp->tpl, &lp->tpl_len);
		if (ret == C2W_OK)
			ret = merge_text(dir, texts[l], text ? &text[l] : NULL, &tf, &merged);
		if (ret == C2W_OK)
			ret = build_static(lp, &merged, &default_text[l]);
		sinkhole_text_file_deinit(&tf);
		if (ret == C2W_OK)
			ret = check_template(lp, files[l]);
		if (ret != C2W_OK)
			break;
		lp->tag_count = count_tags(lp->tpl, lp->tpl_len);
		size_t biggest = DOMAIN_ESC_MAX + pg->css_len;
		for (int v = V_ISP; v < V_CSS; v++)
			if (lp->html_len[v] > biggest)
				biggest = lp->html_len[v];
		size_t bound = lp->tpl_len + lp->tag_count * biggest;
		if (bound > pg->size_max)
			pg->size_max = bound;
	}
	if (ret != C2W_OK) {
		sinkhole_page_free(pg);
		return ret;
	}
	*out = pg;
	return C2W_OK;
}

void sinkhole_page_free(struct sinkhole_page *pg)
{
	if (pg == NULL)
		return;
	for (int l = 0; l < SINKHOLE_LANG_COUNT; l++) {
		free(pg->l[l].tpl);
		for (int v = 0; v < V_COUNT; v++)
			free(pg->l[l].html[v]);
	}
	free(pg->css);
	free(pg);
}

size_t sinkhole_page_size_max(const struct sinkhole_page *pg)
{
	return pg->size_max;
}

/* "2025年1月2日 15:04:05 (JST)" / "2 January 2025, 15:04:05 (JST)" in the process time zone. */
static size_t format_time(int64_t t, enum sinkhole_lang lang, char *out, size_t size)
{
	static const char *const months[] = {"January",   "February", "March",    "April",
					     "May",       "June",     "July",     "August",
					     "September", "October",  "November", "December"};
	time_t tt = (time_t)t;
	struct tm tm;
	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	int n;
	if (lang == SINKHOLE_LANG_JA)
		n = snprintf(out, size, "%d年%d月%d日 %02d:%02d:%02d (%s)", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     tm.tm_zone);
	else
		n = snprintf(out, size, "%d %s %d, %02d:%02d:%02d (%s)", tm.tm_mday,
			     months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     tm.tm_zone);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

int sinkhole_page_render(const struct sinkhole_page *pg, const struct sinkhole_page_req *req,
			 char *out, size_t out_size)
{
	const struct lang_page *lp = &pg->l[req->lang == SINKHOLE_LANG_EN];
	char when[128];
	size_t when_len = format_time(req->time_s, req->lang, when, sizeof(when));
	const struct sinkhole_info *in = req->info;
	const char *domain = req->domain ? req->domain : "";
	struct val vals[V_COUNT] = {
	    [V_DOMAIN] = {domain, strlen(domain), ESC_ASCII},
	    [V_FAMILY] = {in ? in->family : "", in ? strnlen(in->family, sizeof(in->family)) : 0,
			  ESC_HTML},
	    [V_CATEGORY] = {in ? in->category : "",
			    in ? strnlen(in->category, sizeof(in->category)) : 0, ESC_HTML},
	    [V_TIME] = {when, when_len, ESC_HTML},
	    [V_KNOWN] = {"1", in ? 1 : 0, ESC_NONE},
	    [V_LANG] = {req->lang == SINKHOLE_LANG_EN ? "en" : "ja", 2, ESC_NONE},
	    [V_CSS] = {pg->css, pg->css_len, ESC_NONE},
	};
	for (int v = V_ISP; v < V_CSS; v++)
		vals[v] = (struct val){lp->html[v], lp->html_len[v], ESC_NONE};
	struct wbuf w = {out, out_size, 0, false};
	int ret = render(lp->tpl, lp->tpl_len, vals, &w, 0);
	if (ret != C2W_OK)
		return ret;
	return w.full ? C2W_ESPACE : (int)w.len;
}

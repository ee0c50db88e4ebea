/* SPDX-License-Identifier: MIT */
/* Operator text files: "key = value" lines parsed in a private copy, values pointing into it. */
#include "sinkhole/text.h"

#include <stdlib.h>
#include <string.h>

static char *trim(char *s, char *e)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

static int set_once(const char **slot, const char *value)
{
	if (*slot != NULL)
		return C2W_EMALF;
	*slot = value;
	return C2W_OK;
}

static int add_link(struct sinkhole_text_file *tf, char *value)
{
	char *bar = strstr(value, " | ");
	if (bar == NULL)
		return C2W_EMALF;
	if (tf->text.link_count >= SINKHOLE_TEXT_ITEMS_MAX)
		return C2W_ERANGE;
	struct sinkhole_link *l = &tf->links[tf->text.link_count++];
	l->label = trim(value, bar);
	l->url = trim(bar + 3, bar + 3 + strlen(bar + 3));
	return *l->label && *l->url ? C2W_OK : C2W_EMALF;
}

static int parse_line(struct sinkhole_text_file *tf, char *s, char *e)
{
	s = trim(s, e);
	if (*s == '\0' || *s == '#')
		return C2W_OK;
	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return C2W_EMALF;
	char *eq = strstr(s, " = ");
	if (eq == NULL)
		return C2W_EMALF;
	char *key = trim(s, eq), *value = trim(eq + 3, eq + 3 + strlen(eq + 3));
	if (*value == '\0')
		return C2W_EMALF;
	if (strcmp(key, "isp") == 0)
		return set_once(&tf->text.isp_name, value);
	if (strcmp(key, "optout") == 0)
		return set_once(&tf->text.optout, value);
	if (strcmp(key, "contact") == 0)
		return set_once(&tf->text.contact, value);
	if (strcmp(key, "link") == 0)
		return add_link(tf, value);
	if (strcmp(key, "step") == 0) {
		if (tf->text.step_count >= SINKHOLE_TEXT_ITEMS_MAX)
			return C2W_ERANGE;
		tf->steps[tf->text.step_count++] = value;
		return C2W_OK;
	}
	return C2W_EMALF;
}

int sinkhole_text_parse(const char *data, size_t len, struct sinkhole_text_file *out,
			unsigned *line)
{
	memset(out, 0, sizeof(*out));
	*line = 0;
	if (len > SINKHOLE_TEXT_FILE_MAX)
		return C2W_ERANGE;
	if (memchr(data, '\0', len) != NULL) {
		*line = 1;
		return C2W_EMALF;
	}
	out->buf = malloc(len + 1);
	if (out->buf == NULL)
		return C2W_ENOMEM;
	memcpy(out->buf, data, len);
	out->buf[len] = '\0';
	out->text.steps = out->steps;
	out->text.links = out->links;
	char *s = out->buf, *end = out->buf + len;
	for (unsigned n = 1; s < end; n++) {
		char *nl = memchr(s, '\n', (size_t)(end - s));
		char *e = nl ? nl : end;
		int ret = parse_line(out, s, e);
		if (ret != C2W_OK) {
			*line = n;
			sinkhole_text_file_deinit(out);
			return ret;
		}
		s = e + 1;
	}
	return C2W_OK;
}

void sinkhole_text_file_deinit(struct sinkhole_text_file *tf)
{
	free(tf->buf);
	memset(tf, 0, sizeof(*tf));
}

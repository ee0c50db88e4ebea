/* SPDX-License-Identifier: MIT */
/* Operator text files: keys, repeats, links, comments, malformed lines with line numbers. */
#include "sinkhole/text.h"
#include "test.h"

static int parse(const char *s, struct sinkhole_text_file *tf, unsigned *line)
{
	return sinkhole_text_parse(s, strlen(s), tf, line);
}

static void test_full_file(void)
{
	const char *f = "# Example ISP\n"
			"isp = 例ネット光\n"
			"\n"
			"step = 機器を確かめてください。\r\n"
			"step  =  ソフトを更新してください。  \n"
			"link = 例ネット サポート | https://support.example.jp/malware\n"
			"optout = 会員ページの「安心設定」から停止できます。\n"
			"contact = 例ネット サポートセンター 0120-000-000（9時〜18時）";
	struct sinkhole_text_file tf;
	unsigned line;
	CHECK_EQ(parse(f, &tf, &line), C2W_OK);
	CHECK_STREQ(tf.text.isp_name, "例ネット光");
	CHECK_EQ(tf.text.step_count, 2);
	CHECK_STREQ(tf.text.steps[1], "ソフトを更新してください。");
	CHECK_EQ(tf.text.link_count, 1);
	CHECK_STREQ(tf.text.links[0].label, "例ネット サポート");
	CHECK_STREQ(tf.text.links[0].url, "https://support.example.jp/malware");
	CHECK_STREQ(tf.text.contact, "例ネット サポートセンター 0120-000-000（9時〜18時）");
	sinkhole_text_file_deinit(&tf);
}

static void test_errors(void)
{
	struct {
		const char *f;
		int ret;
		unsigned line;
	} bad[] = {
	    {"isp = a\nisp = b\n", C2W_EMALF, 2},
	    {"\n\nnosuch = x\n", C2W_EMALF, 3},
	    {"isp=a\n", C2W_EMALF, 1},
	    {"link = no bar https://x\n", C2W_EMALF, 1},
	    {"link =  | https://x\n", C2W_EMALF, 1},
	    {"contact = a\x01b\n", C2W_EMALF, 1},
	    {"step = \n", C2W_EMALF, 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sinkhole_text_file tf;
		unsigned line;
		CHECK_EQ(parse(bad[i].f, &tf, &line), bad[i].ret);
		CHECK_EQ(line, bad[i].line);
		CHECK(tf.buf == NULL);
	}
	char many[2048] = "";
	for (int i = 0; i < SINKHOLE_TEXT_ITEMS_MAX + 1; i++)
		memcpy(many + i * 9, "step = x\n", 10);
	struct sinkhole_text_file tf;
	unsigned line;
	CHECK_EQ(parse(many, &tf, &line), C2W_ERANGE);
	const char nul[] = "isp = a\0b\n";
	CHECK_EQ(sinkhole_text_parse(nul, sizeof(nul) - 1, &tf, &line), C2W_EMALF);
}

TEST_MAIN(TEST(test_full_file), TEST(test_errors))

/* SPDX-License-Identifier: MIT */
/*
 * Built-in templates, compiled in from share/sinkhole/ by src/sinkhole/area.cmake
 * (embed.cmake writes gen/sinkhole/assets.c). Each array ends with a NUL not counted in _len.
 */
#ifndef C2W_SINKHOLE_ASSETS_H
#define C2W_SINKHOLE_ASSETS_H

#include <stddef.h>

extern const unsigned char sinkhole_asset_page_ja[];
extern const size_t sinkhole_asset_page_ja_len;
extern const unsigned char sinkhole_asset_page_en[];
extern const size_t sinkhole_asset_page_en_len;
extern const unsigned char sinkhole_asset_style[];
extern const size_t sinkhole_asset_style_len;

#endif

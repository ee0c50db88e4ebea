/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's static files (share/dashboard), compiled in by src/control/area.cmake, and
 * where Chart.js is read from. They hold no data: the page reads the API with the user's
 * bearer token, so they are served without one.
 */
#ifndef C2W_CONTROL_DASHBOARD_H
#define C2W_CONTROL_DASHBOARD_H

#include <stddef.h>

/* Debian's libjs-chart.js (3.9), UMD build: defines the global Chart. */
#define CONTROL_CHARTJS_PATH "/usr/share/javascript/chart.js/chart.min.js"

extern const unsigned char control_asset_index[];
extern const size_t control_asset_index_len;
extern const unsigned char control_asset_js[];
extern const size_t control_asset_js_len;
extern const unsigned char control_asset_css[];
extern const size_t control_asset_css_len;

#endif

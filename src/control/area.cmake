# SPDX-License-Identifier: MIT
# Included by c2w_area(control): the dashboard's page, script and style from share/dashboard
# compiled into the library (Chart.js itself is served from Debian's libjs-chart.js).
set(_db_dir ${PROJECT_SOURCE_DIR}/share/dashboard)
set(_db_out ${PROJECT_BINARY_DIR}/gen/control/dashboard_assets.c)
set(_db_assets "control_asset_index=${_db_dir}/index.html"
               "control_asset_js=${_db_dir}/dashboard.js"
               "control_asset_css=${_db_dir}/dashboard.css")
add_custom_command(OUTPUT ${_db_out}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/gen/control
  COMMAND ${CMAKE_COMMAND} -DOUT=${_db_out} "-DASSETS=${_db_assets}"
          -DHEADER=control/dashboard.h -P ${PROJECT_SOURCE_DIR}/src/sinkhole/embed.cmake
  DEPENDS ${_db_dir}/index.html ${_db_dir}/dashboard.js ${_db_dir}/dashboard.css
          ${PROJECT_SOURCE_DIR}/src/sinkhole/embed.cmake
  COMMENT "Embedding dashboard assets" VERBATIM)
target_sources(c2w_control PRIVATE ${_db_out})

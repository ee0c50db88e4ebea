# SPDX-License-Identifier: MIT
# Included by c2w_area(sinkhole): compile the built-in templates from share/sinkhole into the
# library so the sinkhole works without a templates directory.
set(_sh_dir ${PROJECT_SOURCE_DIR}/share/sinkhole)
set(_sh_out ${PROJECT_BINARY_DIR}/gen/sinkhole/assets.c)
set(_sh_assets "sinkhole_asset_page_ja=${_sh_dir}/page.ja.html"
               "sinkhole_asset_page_en=${_sh_dir}/page.en.html"
               "sinkhole_asset_style=${_sh_dir}/style.css")
add_custom_command(OUTPUT ${_sh_out}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/gen/sinkhole
  COMMAND ${CMAKE_COMMAND} -DOUT=${_sh_out} "-DASSETS=${_sh_assets}"
          -P ${PROJECT_SOURCE_DIR}/src/sinkhole/embed.cmake
  DEPENDS ${_sh_dir}/page.ja.html ${_sh_dir}/page.en.html ${_sh_dir}/style.css
          ${PROJECT_SOURCE_DIR}/src/sinkhole/embed.cmake
  COMMENT "Embedding sinkhole templates" VERBATIM)
target_sources(c2w_sinkhole PRIVATE ${_sh_out})

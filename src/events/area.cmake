# SPDX-License-Identifier: MIT
# events extras: the dnstap protobuf schema compiled with protoc-c, and liburcu for the
# opt-out registry's lock-free lookups.
set(_ev_gen ${PROJECT_BINARY_DIR}/gen/events)
file(MAKE_DIRECTORY ${_ev_gen})
add_custom_command(
  OUTPUT ${_ev_gen}/dnstap.pb-c.c ${_ev_gen}/dnstap.pb-c.h
  COMMAND protoc-c --c_out=${_ev_gen} --proto_path=${PROJECT_SOURCE_DIR}/src/events
          ${PROJECT_SOURCE_DIR}/src/events/dnstap.proto
  DEPENDS ${PROJECT_SOURCE_DIR}/src/events/dnstap.proto
  COMMENT "protoc-c dnstap.proto")
target_sources(c2w_events PRIVATE ${_ev_gen}/dnstap.pb-c.c)
# Generated code is not held to our warning set.
set_source_files_properties(${_ev_gen}/dnstap.pb-c.c PROPERTIES COMPILE_OPTIONS
  "-Wno-missing-prototypes;-Wno-strict-prototypes;-Wno-cast-qual;-Wno-unused-parameter")
target_link_libraries(c2w_events PUBLIC PkgConfig::URCU)

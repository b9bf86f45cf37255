# lookout_embed(TARGET target NAME symbol FILES file...): files compiled into
# `target` as byte arrays, regenerated when a file changes:
#   namespace lookout::embedded { extern const unsigned char symbol_N[]; ... }
# with a generated header ${CMAKE_BINARY_DIR}/embedded/<symbol>.h declaring
#   struct File { const char* name; const unsigned char* data; size_t size; };
#   extern const File <symbol>[]; extern const size_t <symbol>_count;
# `name` is each file's base name. Used for the web UI's assets and the
# report's inlined charting library (nothing is fetched at run time).
set(LOOKOUT_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_files.cmake)

function(lookout_embed)
  cmake_parse_arguments(E "" "TARGET;NAME" "FILES" ${ARGN})
  set(out_dir ${CMAKE_BINARY_DIR}/embedded)
  set(out_cc ${out_dir}/${E_NAME}.cc)
  set(out_h ${out_dir}/${E_NAME}.h)
  # A ';'-list would split into separate command arguments; '|' carries it whole.
  string(REPLACE ";" "|" files_arg "${E_FILES}")
  add_custom_command(
    OUTPUT ${out_cc} ${out_h}
    COMMAND ${CMAKE_COMMAND} -DNAME=${E_NAME} -DOUT_CC=${out_cc} -DOUT_H=${out_h} "-DFILES=${files_arg}"
            -P ${LOOKOUT_EMBED_SCRIPT}
    DEPENDS ${E_FILES} ${LOOKOUT_EMBED_SCRIPT}
    COMMENT "embed: ${E_NAME}"
    VERBATIM)
  target_sources(${E_TARGET} PRIVATE ${out_cc})
  target_include_directories(${E_TARGET} PRIVATE ${out_dir})
endfunction()

# buildd_add_plugin(NAME <name> SOURCES <plugin.cpp> LIBRARIES <impl targets...>)
#
# A plugin is a MODULE library (dlopen only) named buildd-plugin-<name>.so, with
# hidden visibility and -z defs (every symbol resolved at link time, so a
# missing library is a link error, not a dlopen error in production). It links
# libbuildd-core.so, the one copy of every registry, logger and typeinfo.
function(buildd_add_plugin)
  cmake_parse_arguments(P "" "NAME" "SOURCES;LIBRARIES" ${ARGN})
  set(target buildd-plugin-${P_NAME})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${BUILDD_PLUGIN_OUTPUT_DIR}
    INSTALL_RPATH "$ORIGIN/${BUILDD_PLUGIN_TO_LIBDIR}")
  target_link_libraries(${target} PRIVATE buildd-core ${P_LIBRARIES})
  target_link_options(${target} PRIVATE LINKER:-z,defs)
  install(TARGETS ${target} LIBRARY DESTINATION ${BUILDD_PLUGIN_SUBDIR} COMPONENT master)
  set_property(GLOBAL APPEND PROPERTY BUILDD_PLUGINS ${target})
endfunction()

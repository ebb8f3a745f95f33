# xmlrpc-c 1.33 on Debian 12 has neither CMake config nor pkg-config file;
# xmlrpc-c-config knows the link lines. Its --cflags is only -I/usr/include.
find_program(XMLRPCC_CONFIG xmlrpc-c-config)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(XmlRpcC REQUIRED_VARS XMLRPCC_CONFIG)
function(_xmlrpcc_target tgt)
  execute_process(COMMAND ${XMLRPCC_CONFIG} ${ARGN} --libs OUTPUT_VARIABLE _libs
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  separate_arguments(_libs UNIX_COMMAND "${_libs}")
  add_library(${tgt} INTERFACE IMPORTED)
  target_link_libraries(${tgt} INTERFACE ${_libs})
endfunction()
if(XmlRpcC_FOUND AND NOT TARGET XmlRpcC::client)
  _xmlrpcc_target(XmlRpcC::client c++2 client)
  _xmlrpcc_target(XmlRpcC::abyss_server c++2 abyss-server)
endif()

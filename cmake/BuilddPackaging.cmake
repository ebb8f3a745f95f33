# What `cmake --install` puts beside the targets, the plugin SDK, and the
# Debian packages.
#
# Why CPack's DEB generator and not debian/ with dpkg-buildpackage: the
# packages are made from the tree that was already built and tested (CI
# packages right after the test run); dpkg-buildpackage would configure and
# compile everything a second time, which costs more than the whole test
# suite on a 2-core machine. The Debian parts that debhelper would write
# (maintainer scripts, conffiles, the ldconfig trigger, copyright, changelog,
# compressed man pages) are in packaging/deb and below.
#
# Components, one package each:
#   master  buildd-master      programs, libbuildd-core.so.N, plugins, config,
#                              systemd unit, logrotate, man page, completion
#   dev     buildd-master-dev  headers, libbuildd-core.so, CMake package,
#                              pkg-config file (the plugin SDK)
#   slave   buildd-slave       the launchpad-buildd test double
#
# The layout needs CMAKE_INSTALL_PREFIX=/usr (then the config goes to /etc
# and the library to lib/<multiarch>); scripts/package sets it.

include(CMakePackageConfigHelpers)

set(BUILDD_PACKAGE_MAINTAINER
    "buildd-master maintainers <buildd-master@example.org>"
    CACHE STRING "Maintainer field of the Debian packages")
# Debian 12 keeps units in /lib/systemd/system (systemd's pkg-config says so);
# an install under another prefix keeps the unit under it.
# -DBUILDD_SYSTEMD_UNIT_DIR=... overrides.
if(NOT DEFINED BUILDD_SYSTEMD_UNIT_DIR)
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(BUILDD_SYSTEMD_UNIT_DIR /lib/systemd/system)
  else()
    set(BUILDD_SYSTEMD_UNIT_DIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
  endif()
endif()

set(BUILDD_ETC_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/buildd-master)
set(BUILDD_DEB_DIR ${PROJECT_SOURCE_DIR}/packaging/deb)

# --- buildd-master --------------------------------------------------------
# The installed default is the embedded configuration (SQLite and a local
# librarian under the service's state directory): it passes `config check`
# and runs with nothing else installed. The production example goes to the
# documentation with the per-plugin examples.
install(FILES etc/embedded.yaml DESTINATION ${BUILDD_ETC_DIR} RENAME buildd-master.yaml
        COMPONENT master)
install(FILES etc/logrotate.d/buildd-master DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d
        COMPONENT master)
install(FILES etc/systemd/buildd-master.service DESTINATION ${BUILDD_SYSTEMD_UNIT_DIR}
        COMPONENT master)
install(FILES etc/buildd-master.yaml DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/buildd-master/examples
        RENAME production.yaml COMPONENT master)
install(DIRECTORY etc/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/buildd-master/examples
        COMPONENT master FILES_MATCHING PATTERN "*.yaml")
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/buildd-master COMPONENT master)

# copyright and changelog.Debian.gz in every package's doc folder.
configure_file(${BUILDD_DEB_DIR}/changelog.in ${CMAKE_BINARY_DIR}/packaging/changelog.Debian @ONLY)
execute_process(COMMAND gzip -9n -c ${CMAKE_BINARY_DIR}/packaging/changelog.Debian
                OUTPUT_FILE ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz COMMAND_ERROR_IS_FATAL ANY)
foreach(pair master:buildd-master dev:buildd-master-dev slave:buildd-slave)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES ${BUILDD_DEB_DIR}/copyright ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
endforeach()

# --- buildd-master-dev: the plugin SDK ---------------------------------------
# find_package(BuilddMaster) gives BuilddMaster::core and buildd_add_plugin();
# pkg-config buildd-master gives the same compile and link flags.
set(BUILDD_CMAKE_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/BuilddMaster)
install(EXPORT BuilddMasterTargets NAMESPACE BuilddMaster:: DESTINATION ${BUILDD_CMAKE_PACKAGE_DIR}
        COMPONENT dev)
if(TARGET buildd-conformance)
  install(EXPORT BuilddMasterConformanceTargets NAMESPACE BuilddMaster::
          DESTINATION ${BUILDD_CMAKE_PACKAGE_DIR} COMPONENT dev)
endif()
configure_package_config_file(cmake/BuilddMasterConfig.cmake.in
  ${CMAKE_BINARY_DIR}/packaging/BuilddMasterConfig.cmake
  INSTALL_DESTINATION ${BUILDD_CMAKE_PACKAGE_DIR}
  PATH_VARS BUILDD_PLUGIN_SUBDIR)
# 0.x: a minor release may change the plugin ABI.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/packaging/BuilddMasterConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/packaging/BuilddMasterConfig.cmake
              ${CMAKE_BINARY_DIR}/packaging/BuilddMasterConfigVersion.cmake
        DESTINATION ${BUILDD_CMAKE_PACKAGE_DIR} COMPONENT dev)
configure_file(cmake/buildd-master.pc.in ${CMAKE_BINARY_DIR}/packaging/buildd-master.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/buildd-master.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# What the packages hold, for scripts/package to bring up to date.
get_property(buildd_plugins GLOBAL PROPERTY BUILDD_PLUGINS)
add_custom_target(buildd-package-contents)
add_dependencies(buildd-package-contents buildd-core buildd-master buildd-slave buildd-master-docs
                 buildd-slave-docs ${buildd_plugins})

# --- CPack ---------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME buildd-master)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${BUILDD_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
# The absolute destinations (/etc, /lib/systemd) go under the staging folder.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL master dev slave)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
# Depends from the ELF files (dpkg-shlibdeps); libbuildd-core.so.N is in no
# installed package yet, hence the explicit buildd-master dependency below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_LIBRARY_OUTPUT_DIRECTORY})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# A shlibs file for libbuildd-core.so.N; "=": while the version is 0.x every
# release may change the ABI.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")

set(CPACK_DEBIAN_MASTER_PACKAGE_NAME buildd-master)
set(CPACK_DEBIAN_MASTER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_MASTER_PACKAGE_RECOMMENDS "logrotate")
set(CPACK_DEBIAN_MASTER_PACKAGE_SUGGESTS "postgresql | mariadb-server, nginx")
set(CPACK_DEBIAN_MASTER_DESCRIPTION
    "master of a build farm of launchpad-buildd slaves
buildd-master keeps a queue of package builds in a SQL database (SQLite,
PostgreSQL or MariaDB), talks to build slaves over launchpad-buildd's XML-RPC
protocol, collects their logs and results into a librarian and dispatches
queued builds to idle builders of the right processor family.

This package holds the buildd-master program, libbuildd-core, the store,
transport and librarian plugins, the default configuration, the systemd
service and its logrotate configuration.")
foreach(script postinst prerm postrm conffiles triggers)
  configure_file(${BUILDD_DEB_DIR}/master.${script} ${CMAKE_BINARY_DIR}/packaging/master/${script}
                 @ONLY)
  list(APPEND CPACK_DEBIAN_MASTER_PACKAGE_CONTROL_EXTRA
       ${CMAKE_BINARY_DIR}/packaging/master/${script})
endforeach()

set(buildd_exact "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME buildd-master-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "buildd-master (= ${buildd_exact}), libboost-dev, libboost-filesystem-dev, libspdlog-dev, nlohmann-json3-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "libgtest-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "plugin SDK of buildd-master
The headers of libbuildd-core, its development link, a CMake package
(find_package(BuilddMaster): the target BuilddMaster::core and
buildd_add_plugin()) and a pkg-config file (buildd-master), to build store,
slave transport and librarian plugins for buildd-master; and the contract
suites each kind of plugin must pass (BuilddMaster::conformance, GoogleTest).")

set(CPACK_DEBIAN_SLAVE_PACKAGE_NAME buildd-slave)
set(CPACK_DEBIAN_SLAVE_PACKAGE_DEPENDS "buildd-master (= ${buildd_exact})")
set(CPACK_DEBIAN_SLAVE_DESCRIPTION
    "launchpad-buildd test double with simulated builds
buildd-slave speaks launchpad-buildd's build-slave protocol (XML-RPC and the
file cache) for one or many simulated builders on one port. Builds are not
run: their outcome and duration come from fields of the .dsc, and faults
(hangs, resets, garbage, forgotten jobs) can be injected.

It is a protocol double for buildd-master's demo, tests and benchmarks, not a
build slave: use launchpad-buildd to build packages.")

include(CPack)

# `cmake --install` and the Debian package (`cpack -G DEB` in the build directory): the binary, the
# example pipelines, the Prometheus rules, the Grafana dashboard and the systemd unit vigil@.service.
include(GNUInstallDirs)
install(TARGETS vigil RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/vigil/examples)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/prometheus/vigil-rules.yml ${PROJECT_SOURCE_DIR}/deploy/prometheus/prometheus.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/vigil/prometheus)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/grafana/vigil.json DESTINATION ${CMAKE_INSTALL_DATADIR}/vigil/grafana)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/vigil@.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VENDOR "vigil")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Streaming real-time fraud detection: Kafka in, features in RocksDB, XGBoost scores, decisions out")
set(CPACK_PACKAGE_CONTACT "vigil maintainers <maintainers@vigil.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The shared libraries' packages (librdkafka, RocksDB, libxgboost, ...) as dpkg-shlibdeps finds them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)  # the build keeps its debug information; the package does not
include(CPack)

# Every dependency comes from a Debian package; nothing is downloaded at configure time.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
# libxgboost-dev's CMake config needs /usr/bin/xgboost; pkg-config does not.
pkg_check_modules(XGB REQUIRED IMPORTED_TARGET xgboost)
find_package(RocksDB REQUIRED)
find_package(simdjson REQUIRED)
find_package(prometheus-cpp REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)  # SHA-256 of model files
# jemalloc serves every allocation of the executables (vigil's, RocksDB's, librdkafka's): RocksDB's
# recommended allocator, against glibc's fragmentation under a cache that evicts. Off under the
# sanitizers, which bring their own.
option(VIGIL_JEMALLOC "Link the vigil executable and the benchmarks with jemalloc" ON)
if(VIGIL_JEMALLOC)
  pkg_check_modules(JEMALLOC IMPORTED_TARGET jemalloc)
  if(NOT JEMALLOC_FOUND)
    message(FATAL_ERROR "jemalloc not found: install libjemalloc-dev (scripts/setup does), or configure with "
                        "-DVIGIL_JEMALLOC=OFF for glibc's malloc")
  endif()
endif()
if(VIGIL_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()
if(VIGIL_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

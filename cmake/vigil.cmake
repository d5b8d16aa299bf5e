# Small helpers so that each folder's CMakeLists.txt stays a few lines long.
#
#   vigil_add_library(NAME DEPS <targets...>)
#     One folder = one static library `vigil_<NAME>` (alias vigil::<NAME>) built from every .cc in the
#     folder. The DEPS list is the layering: a folder may only name folders below it.
#   vigil_add_test(NAME SOURCES <files...> DEPS <targets...> [LABELS <labels...>])
#     A Catch2 executable whose test cases ctest discovers one by one.
#   vigil_add_bench(NAME SOURCES <files...> DEPS <targets...>)
#     A Google Benchmark executable; benchmarks are never part of ctest.

set(VIGIL_WARNINGS -Wall -Wextra -Wpedantic -Wno-unused-parameter)

function(vigil_add_library name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  if(NOT sources)  # a folder with headers only
    add_library(vigil_${name} INTERFACE)
    target_include_directories(vigil_${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(vigil_${name} INTERFACE ${ARG_DEPS})
    add_library(vigil::${name} ALIAS vigil_${name})
    return()
  endif()
  add_library(vigil_${name} STATIC ${sources})
  add_library(vigil::${name} ALIAS vigil_${name})
  target_include_directories(vigil_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(vigil_${name} PRIVATE ${VIGIL_WARNINGS})
  target_link_libraries(vigil_${name} PUBLIC ${ARG_DEPS})
endfunction()

function(vigil_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${VIGIL_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} vigil_test_main)
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  catch_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${labels}"
    EXTRA_ARGS --use-colour no --warn NoTests)
endfunction()

function(vigil_add_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${VIGIL_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  vigil_link_allocator(${name})  # measured with the allocator that vigil runs with
endfunction()

# An executable's malloc is jemalloc's (VIGIL_JEMALLOC): linked even where no object names it, so
# that the loader finds its malloc before libc's, for every library of the process.
function(vigil_link_allocator target)
  if(VIGIL_JEMALLOC)
    target_link_libraries(${target} PRIVATE "-Wl,--push-state,--no-as-needed" PkgConfig::JEMALLOC
                                            "-Wl,--pop-state")
  endif()
endfunction()

# Configures, builds and runs the consumer project; fails on any step.
file(REMOVE_RECURSE ${WORK})
set(args -S ${PROJECT_DIR} -B ${WORK} -DEMBER_CONSUME=${STEPS})
if(STEPS STREQUAL "package")
  list(APPEND args -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${PREFIX})
else()
  # No build type, as many projects leave it: ember must still compile its
  # own sources optimized (main.cpp checks ember::build_info()). Through the
  # same compiler cache as ember's own build, the library's objects are
  # reused when their command lines match that build's; any difference in
  # what the subdirectory build compiles is a real compilation.
  list(APPEND args -DEMBER_SOURCE=${EMBER_SOURCE})
  if(LAUNCHER)
    list(APPEND args -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
  endif()
endif()
foreach(step configure build run)
  if(step STREQUAL "configure")
    execute_process(COMMAND ${CMAKE_COMMAND} ${args} RESULT_VARIABLE rc)
  elseif(step STREQUAL "build")
    execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK} -j 2 RESULT_VARIABLE rc)
  else()
    execute_process(COMMAND ${WORK}/consumer RESULT_VARIABLE rc)
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer (${STEPS}): ${step} failed: ${rc}")
  endif()
endforeach()

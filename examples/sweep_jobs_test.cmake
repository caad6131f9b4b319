# A sweep trainer run on 1 and on 2 threads (--jobs) must write the same
# results: the CSVs (CPU-time columns aside, compare_csv.py), and the tables
# and summary.json byte for byte.
file(REMOVE_RECURSE ${WORK})
set(args --quick --no-plots)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}${err}" PARENT_SCOPE)
endfunction()

run(${TRAINER} ${args} --jobs 1 --out ${WORK}/one)
run(${TRAINER} ${args} --jobs 2 --out ${WORK}/two)
if(NOT last_output MATCHES "2 job\\(s\\)")
  message(FATAL_ERROR "the second run did not use 2 jobs:\n${last_output}")
endif()
run(${PYTHON} ${COMPARE} ${WORK}/one ${WORK}/two runs.csv curves.csv by_rate.csv best_curves.csv)
message("${last_output}")
foreach(f summary.json best.md by_rate.md dead.md shared_rate.md)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/one/${f} ${WORK}/two/${f} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${f} differs between --jobs 1 and --jobs 2")
  endif()
endforeach()
message("summary.json and the tables identical")

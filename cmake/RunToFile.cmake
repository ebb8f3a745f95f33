# cmake -DPROGRAM=<exe> -DARGS=<a;b> -DOUTPUT=<file> [-DGZIP=ON] -P RunToFile.cmake
#
# Runs PROGRAM ARGS with its standard output into OUTPUT, failing the build if
# it fails; with GZIP also writes OUTPUT.gz the way Debian wants man pages and
# changelogs (gzip -9n: best compression, no name or time stamp, reproducible).
if(NOT PROGRAM OR NOT OUTPUT)
  message(FATAL_ERROR "RunToFile.cmake needs PROGRAM and OUTPUT")
endif()
get_filename_component(dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
execute_process(COMMAND "${PROGRAM}" ${ARGS} OUTPUT_FILE "${OUTPUT}.tmp" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} ${ARGS} failed (${rc})")
endif()
if(HELP_TO_MAN)
  # The program's --help becomes the DESCRIPTION of a section-1 page, kept as
  # printed (no filling), so that the page says exactly what --help says.
  file(READ "${OUTPUT}.tmp" help)
  string(REPLACE "\\" "\\e" help "${help}")
  string(REPLACE "-" "\\-" help "${help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
  string(TOUPPER "${HELP_TO_MAN}" title)
  file(WRITE "${OUTPUT}.tmp"
       ".\\\" ${HELP_TO_MAN}(1), generated from `${HELP_TO_MAN} --help` at build time.\n"
       ".TH ${title} 1 \"\" \"${HELP_TO_MAN} ${VERSION}\" \"User Commands\"\n"
       ".SH NAME\n${HELP_TO_MAN} \\- ${SUMMARY}\n"
       ".SH DESCRIPTION\n.nf\n${help}.fi\n"
       ".SH SEE ALSO\n.BR ${SEE_ALSO} (1)\n")
endif()
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
if(GZIP)
  execute_process(COMMAND gzip -9n -c "${OUTPUT}" OUTPUT_FILE "${OUTPUT}.gz" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${OUTPUT} failed (${rc})")
  endif()
endif()

# cmake -DPAGE=status.html -DTEMPLATE=status_page.cc.in -DOUT=status_page.cc -P embed.cmake
# Puts the page's bytes, unchanged, between the raw string delimiters of the template.
file(READ ${PAGE} VIGIL_STATUS_PAGE)
string(FIND "${VIGIL_STATUS_PAGE}" ")vigil_page\"" end)
if(NOT end EQUAL -1)
  message(FATAL_ERROR "${PAGE} contains ')vigil_page\"', the end of the raw string literal it is embedded in")
endif()
configure_file(${TEMPLATE} ${OUT} @ONLY)

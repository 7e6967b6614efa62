/* Builds Debian node-llhttp's http.c into libllhttp.a (see configure --with-llhttp). */
#include "http.c"

/* Builds Debian node-llhttp's api.c into libllhttp.a (see configure --with-llhttp). */
#include "api.c"

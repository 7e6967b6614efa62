/* Builds Debian node-llhttp's llhttp.c into libllhttp.a (see configure --with-llhttp). */
#include "llhttp.c"

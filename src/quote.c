/*
 * A string written as a quoted egressd.conf(5) string, escaped so that
 * the lexer of src/parse.y reads back exactly the same bytes.  Used by
 * egressd -nv (src/printconf.c) and by egressctl import istio
 * (src/istio_emit.c), in whichever process runs them.  Interface:
 * conf_quote().
 */
#include "config.h"

#include <stdio.h>

#include "egressd.h"

void
conf_quote(FILE *fp, const char *s)
{
	if (s == NULL)
		s = "";		/* not reached: callers check first */
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '"':
		case '\\':
			fputc('\\', fp);
			fputc(*s, fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		default:
			fputc(*s, fp);
		}
	}
	fputc('"', fp);
}

/*
 * The fuzz targets without libFuzzer, for make check: each target of
 * regress/fuzz/ linked with this main() (and the ordinary compiler, with
 * the sanitizers of the build) runs over the files and directories named
 * on its command line, the seed corpus and the findings kept as
 * regression cases, one TAP line a file.  A property that fails aborts
 * the program after its report, and the suite counts the exit.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define REPLAY_MAX	(1024 * 1024)	/* bytes of one input */

__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static int	 n;

static int
replay_file(const char *path)
{
	static uint8_t	 buf[REPLAY_MAX];
	FILE		*f;
	size_t		 len;
	uint8_t		*copy;

	if ((f = fopen(path, "rb")) == NULL) {
		printf("not ok %d - %s: cannot open\n", ++n, path);
		return -1;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	/* An exact-size copy, so that ASan sees reads past the end. */
	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(copy, buf, len);
	printf("# %s (%zu bytes)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	printf("ok %d - %s\n", ++n, path);
	fflush(stdout);
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
replay_dir(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	char		**names = NULL, path[4096];
	size_t		 nn = 0, i;
	int		 rv = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((names = reallocarray(names, nn + 1, sizeof(*names))) ==
		    NULL || (names[nn] = strdup(e->d_name)) == NULL)
			abort();
		nn++;
	}
	closedir(d);
	qsort(names, nn, sizeof(*names), cmp);
	for (i = 0; i < nn; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (replay_file(path) == -1)
			rv = -1;
		free(names[i]);
	}
	free(names);
	return rv;
}

int
main(int argc, char *argv[])
{
	struct stat	 st;
	int		 i, rv = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1)
			continue;	/* no findings kept: nothing to do */
		if (S_ISDIR(st.st_mode))
			rv |= replay_dir(argv[i]);
		else if (replay_file(argv[i]) == -1)
			rv = -1;
	}
	printf("1..%d\n", n);
	return rv == 0 ? 0 : 1;
}

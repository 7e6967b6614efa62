/*
 * Fuzz target: the configuration parser (src/parse.y) and the normalised
 * dump (src/printconf.c).  The input is a configuration file.  Whatever
 * it holds, parse_config() must come back, with a configuration or with
 * NULL after its errors, without a crash, an overflow or a leak; and a
 * configuration it accepts must print as text that parses again and
 * prints the same (the round trip of egressd -nv that regress/conf.sh
 * checks for its cases).  Error messages go to a stream that is thrown
 * away; sanitizer reports still reach standard error.
 *
 * A configuration that originates TLS makes the parser read the system
 * CA bundle, some 140 certificates, for every input: linked with
 * -Wl,--wrap=conf_ca_add, the target reads a bundle of the first of them
 * instead, copied at start.
 */
#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressd.h"
#include "fuzz.h"

static char	 dir[64];
static char	 inpath[96], path2[96];
static FILE	*devnull;

static char	 smallca[96];

static void
quiet(int pri, const char *line)
{
}

int	__real_conf_ca_add(struct egressd_conf *, const char *,
	    const char **);
int	__wrap_conf_ca_add(struct egressd_conf *, const char *,
	    const char **);

int
__wrap_conf_ca_add(struct egressd_conf *conf, const char *path,
    const char **why)
{
	int	id;

	if (smallca[0] != '\0' && strcmp(path, EGRESSD_CABUNDLE) == 0) {
		for (id = 0; id < conf->ncas; id++)
			if (strcmp(conf->cas[id].path, path) == 0)
				return id;
		id = __real_conf_ca_add(conf, smallca, why);

		/* Named as the parser asked, for the dump. */
		if (id >= 0)
			strlcpy(conf->cas[id].path, path,
			    sizeof(conf->cas[id].path));
		return id;
	}
	return __real_conf_ca_add(conf, path, why);
}

/* The first certificate of the system bundle, if there is one. */
static void
small_bundle(void)
{
	static const char	 end[] = "-----END CERTIFICATE-----\n";
	FILE			*in, *out;
	char			 line[256];

	if ((in = fopen(EGRESSD_CABUNDLE, "r")) == NULL)
		return;
	snprintf(smallca, sizeof(smallca), "%s/ca.pem", dir);
	if ((out = fopen(smallca, "w")) == NULL)
		abort();
	while (fgets(line, sizeof(line), in) != NULL) {
		fputs(line, out);
		if (strcmp(line, end) == 0)
			break;
	}
	fclose(in);
	fclose(out);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/egressd-fuzz.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL || (devnull = fopen("/dev/null", "w")) ==
	    NULL)
		abort();
	snprintf(inpath, sizeof(inpath), "%s/in.conf", dir);
	snprintf(path2, sizeof(path2), "%s/again.conf", dir);
	small_bundle();
	log_init(0, LOG_DAEMON);
	log_set_sink(quiet);
	return 0;
}

static void
put(const char *p, const void *data, size_t len)
{
	FILE	*f;

	if ((f = fopen(p, "w")) == NULL)
		abort();
	if (len > 0 && fwrite(data, 1, len, f) != len)
		abort();
	fclose(f);
}

/* The normalised text of conf, malloc'd. */
static char *
dump(const struct egressd_conf *conf, size_t *len)
{
	char	*text = NULL;
	FILE	*f;

	if ((f = open_memstream(&text, len)) == NULL)
		abort();
	print_config(f, conf);
	fclose(f);
	return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct egressd_conf	*conf, *again;
	FILE			*saved = stderr;
	char			*t1, *t2;
	size_t			 l1, l2;

	if (dir[0] == '\0')
		LLVMFuzzerInitialize(NULL, NULL);
	put(inpath, data, size);
	stderr = devnull;
	conf = parse_config(inpath, 0);
	stderr = saved;
	if (conf == NULL)
		return 0;
	t1 = dump(conf, &l1);
	put(path2, t1, l1);
	stderr = devnull;
	again = parse_config(path2, 0);
	stderr = saved;
	if (again == NULL) {
		fprintf(stderr, "the normalised text does not parse:\n%s", t1);
		abort();
	}
	t2 = dump(again, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0) {
		fprintf(stderr, "round trip differs:\n%s\n----\n%s", t1, t2);
		abort();
	}
	free(t1);
	free(t2);
	conf_free(conf);
	conf_free(again);
	return 0;
}

/*
 * egressd's entry point, for every process.  The parent is started by the
 * operator (or systemd); children are the same binary re-executed by the
 * parent with -P ROLE -I INSTANCE and their channel on PS_PARENT_FD.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressd.h"

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: egressd [-dnv] [-D macro=value] [-f file]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct egressd_opts	 opts;
	const char		*errstr;
	int			 ch;

	memset(&opts, 0, sizeof(opts));
	opts.conffile = EGRESSD_CONF;
	opts.role = ROLE_PARENT;

	while ((ch = getopt(argc, argv, "D:df:I:nP:vV")) != -1) {
		switch (ch) {
		case 'D':
			if (cmdline_symset(optarg) < 0) {
				fprintf(stderr, "egressd: could not parse "
				    "macro definition %s\n", optarg);
				exit(1);
			}
			break;
		case 'd':
			opts.debug = 1;
			break;
		case 'f':
			opts.conffile = optarg;
			break;
		case 'I':
			opts.instance = (int)strtonum(optarg, 0,
			    EGRESSD_MAXWORKERS, &errstr);
			if (errstr != NULL)
				usage();
			break;
		case 'n':
			opts.noaction = 1;
			break;
		case 'P':
			if (strcmp(optarg, "worker") == 0)
				opts.role = ROLE_WORKER;
			else if (strcmp(optarg, "helper") == 0)
				opts.role = ROLE_HELPER;
			else
				usage();
			break;
		case 'v':
			opts.verbose++;
			break;
		case 'V':
			printf("%s\n", egd_build());
			exit(0);
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	switch (opts.role) {
	case ROLE_WORKER:
		worker_main(&opts);
	case ROLE_HELPER:
		helper_main(&opts);
	default:
		parent_main(&opts);
	}
}

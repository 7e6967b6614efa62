/*
 * egressctl: the control program.  It parses its command line with a
 * token table (relayctl style), connects to egressd's control socket,
 * says IMSG_CTL_HELLO with the protocol version it was built with, sends
 * one request and prints the answer: text, or JSON with -j.  The worker
 * that accepts the connection answers; the parent is reached only
 * through it, for reload and log verbosity.  It runs as its caller (root
 * or a member of the control group) and needs nothing else.
 *
 * "import istio" is the one command that talks to no daemon: the token
 * table hands it the rest of the command line, and istio_import.c turns
 * Istio resources into egressd.conf text.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps.h"
#include "proto.h"
#include "istio.h"

#define EGRESSCTL_SOCKET	"/run/egressd/egressd.sock"
#define ANSWER_MAX		(64 * 1024 * 1024)	/* bytes of text */
#define ANSWER_TIMEOUT		60	/* seconds, a reload included */

enum action {
	NONE = 0,
	SHOW_SUMMARY,
	SHOW_SERVICES,
	SHOW_ROUTES,
	SHOW_WORKERS,
	SHOW_DNS,
	RELOAD,
	LOG_VERBOSE,
	LOG_BRIEF,
	IMPORT_ISTIO,
};

enum token_type {
	ENDTOKEN = 0,
	KEYWORD,
	KEYWORD_ARGS,		/* the rest of the line is the command's */
};

struct token {
	enum token_type		 type;
	const char		*keyword;
	int			 value;
	const struct token	*next;
};

static const struct token t_show[];
static const struct token t_log[];
static const struct token t_import[];

static const struct token t_main[] = {
	{ KEYWORD,	"import",	NONE,		t_import },
	{ KEYWORD,	"log",		NONE,		t_log },
	{ KEYWORD,	"reload",	RELOAD,		NULL },
	{ KEYWORD,	"show",		NONE,		t_show },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_show[] = {
	{ KEYWORD,	"dns",		SHOW_DNS,	NULL },
	{ KEYWORD,	"routes",	SHOW_ROUTES,	NULL },
	{ KEYWORD,	"services",	SHOW_SERVICES,	NULL },
	{ KEYWORD,	"summary",	SHOW_SUMMARY,	NULL },
	{ KEYWORD,	"workers",	SHOW_WORKERS,	NULL },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_log[] = {
	{ KEYWORD,	"brief",	LOG_BRIEF,	NULL },
	{ KEYWORD,	"verbose",	LOG_VERBOSE,	NULL },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_import[] = {
	{ KEYWORD_ARGS,	"istio",	IMPORT_ISTIO,	NULL },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* The request each action sends. */
static const uint32_t action_msg[] = {
	[SHOW_SUMMARY] = IMSG_CTL_SHOW_SUMMARY,
	[SHOW_SERVICES] = IMSG_CTL_SHOW_SERVICES,
	[SHOW_ROUTES] = IMSG_CTL_SHOW_ROUTES,
	[SHOW_WORKERS] = IMSG_CTL_SHOW_WORKERS,
	[SHOW_DNS] = IMSG_CTL_SHOW_DNS,
	[RELOAD] = IMSG_CTL_RELOAD,
	[LOG_VERBOSE] = IMSG_CTL_LOG_VERBOSE,
	[LOG_BRIEF] = IMSG_CTL_LOG_BRIEF,
};

static const char	*sockpath = EGRESSCTL_SOCKET;

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: egressctl [-j] [-s socket] command "
	    "[argument ...]\n"
	    "       egressctl import istio [-o file] [-l address] [--strict] "
	    "file ... | -\n");
	exit(1);
}

/* The commands a table (and the tables after it) accepts, one a line. */
static void
show_valid(const struct token *table, const char *prefix)
{
	char	buf[128];
	int	i;

	for (i = 0; table[i].type != ENDTOKEN; i++) {
		snprintf(buf, sizeof(buf), "%s%s%s", prefix,
		    prefix[0] != '\0' ? " " : "", table[i].keyword);
		if (table[i].next != NULL)
			show_valid(table[i].next, buf);
		else if (table[i].type == KEYWORD_ARGS)
			fprintf(stderr, "\t%s ...\n", buf);
		else
			fprintf(stderr, "\t%s\n", buf);
	}
}

static __attribute__((noreturn)) void
bad_command(const char *what, const char *word, const char *prefix,
    const struct token *table)
{
	if (word != NULL)
		fprintf(stderr, "egressctl: %s: %s\n", what, word);
	else
		fprintf(stderr, "egressctl: %s\n", what);
	fprintf(stderr, "valid commands:\n");
	show_valid(table, prefix);
	exit(1);
}

/*
 * Walk the tables with the words of the command line.  A word may be
 * shortened as long as it stays unambiguous.  A KEYWORD_ARGS word ends
 * the walk: *argsp is left at it, the rest of the line its arguments.
 */
static int
parse(int argc, char *argv[], int *nargsp, char ***argsp)
{
	const struct token	*table = t_main, *match;
	char			 prefix[128] = "";
	size_t			 len;
	int			 i, n;

	for (;;) {
		if (argc == 0)
			bad_command(table == t_main ? "no command given" :
			    "incomplete command", NULL, prefix, table);
		len = strlen(argv[0]);
		match = NULL;
		for (i = 0, n = 0; table[i].type != ENDTOKEN; i++) {
			if (len == 0 || strncmp(argv[0], table[i].keyword,
			    len) != 0)
				continue;
			if (strlen(table[i].keyword) == len) {
				match = &table[i];
				n = 1;
				break;
			}
			match = &table[i];
			n++;
		}
		if (n > 1)
			bad_command("ambiguous command", argv[0], prefix,
			    table);
		if (match == NULL)
			bad_command("unknown command", argv[0], prefix, table);
		if (prefix[0] != '\0')
			strlcat(prefix, " ", sizeof(prefix));
		strlcat(prefix, match->keyword, sizeof(prefix));
		if (match->type == KEYWORD_ARGS) {
			*nargsp = argc;
			*argsp = argv;
			return match->value;
		}
		argc--;
		argv++;
		if (match->next == NULL) {
			if (argc > 0)
				bad_command("too many arguments", argv[0], "",
				    t_main);
			return match->value;
		}
		table = match->next;
	}
}

/* The group that may use the socket, for the error message. */
static void
socket_group(char *buf, size_t len)
{
	struct stat	 st;
	struct group	*gr;

	if (stat(sockpath, &st) == -1)
		snprintf(buf, len, "of the socket");
	else if ((gr = getgrgid(st.st_gid)) != NULL)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned)st.st_gid);
}

static __attribute__((noreturn)) void
denied(void)
{
	char	group[64];

	socket_group(group, sizeof(group));
	fprintf(stderr, "egressctl: permission denied on %s (root or group "
	    "%s)\n", sockpath, group);
	exit(1);
}

static int
ctl_connect(void)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { ANSWER_TIMEOUT, 0 };
	int			s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, sockpath, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "egressctl: %s: socket path too long\n",
		    sockpath);
		exit(1);
	}
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "egressctl: socket: %s\n", strerror(errno));
		exit(1);
	}
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		switch (errno) {
		case ENOENT:
			fprintf(stderr, "egressd is not running (no socket at "
			    "%s)\n", sockpath);
			exit(1);
		case ECONNREFUSED:
			fprintf(stderr, "egressd is not running (nothing "
			    "listens on %s)\n", sockpath);
			exit(1);
		case EACCES:
		case EPERM:
			denied();
		default:
			fprintf(stderr, "egressctl: %s: %s\n", sockpath,
			    strerror(errno));
			exit(1);
		}
	}
	(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return s;
}

static __attribute__((noreturn)) void
lost(const char *why)
{
	fprintf(stderr, "egressctl: %s: %s\n", sockpath, why);
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct ps_buf	 b;
	struct ps_msg	 m;
	uint32_t	 version = EGD_PROTO_VERSION, flags = 0;
	int32_t		 status;
	char		*text = NULL, *p, **args = NULL;
	size_t		 tlen = 0;
	ssize_t		 n;
	int		 ch, action, s, rv, done = 0, nargs = 0;

	/* "+": the options of a command are its own. */
	while ((ch = getopt(argc, argv, "+js:")) != -1) {
		switch (ch) {
		case 'j':
			flags |= CTL_F_JSON;
			break;
		case 's':
			sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	action = parse(argc, argv, &nargs, &args);
	if (action == IMPORT_ISTIO) {
		if (flags & CTL_F_JSON) {
			fprintf(stderr, "egressctl: -j: import writes "
			    "egressd.conf text\n");
			return 1;
		}
		return istio_import(nargs, args);
	}

	s = ctl_connect();
	if (ps_buf_init(&b, s) == -1) {
		fprintf(stderr, "egressctl: out of memory\n");
		return 1;
	}
	if (ps_compose(&b, IMSG_CTL_HELLO, 0, -1, &version,
	    sizeof(version)) == -1 ||
	    ps_compose(&b, action_msg[action], 0, -1, &flags,
	    sizeof(flags)) == -1 || ps_flush_blocking(&b) == -1) {
		/* A peer that refused us may have closed already. */
		if (errno != EPIPE && errno != ECONNRESET)
			lost(strerror(errno));
	}

	while (!done) {
		if ((n = ps_read(&b)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				lost("no answer in time");
			/* A reset is a close with our request unread. */
			if (b.err == NULL && errno != ECONNRESET)
				lost(strerror(errno));
			if (b.err != NULL)
				lost(b.err);
			n = 0;
		}
		if (n == 0)
			lost("egressd closed the connection without an answer");
		while (!done && (rv = ps_get(&b, &m)) == 1) {
			if (m.fd != -1)
				lost("unexpected descriptor");
			if (m.hdr.type == IMSG_CTL_TEXT) {
				if (tlen + m.len > ANSWER_MAX)
					lost("answer too long");
				if ((p = realloc(text, tlen + m.len + 1)) ==
				    NULL)
					lost("out of memory");
				text = p;
				memcpy(text + tlen, m.data, m.len);
				tlen += m.len;
				text[tlen] = '\0';
			} else if (m.hdr.type == IMSG_CTL_END &&
			    m.len == sizeof(status)) {
				memcpy(&status, m.data, sizeof(status));
				done = 1;
			} else
				lost("unexpected message in the answer");
		}
		if (!done && rv == -1)
			lost(b.err);
	}
	close(s);
	ps_buf_clear(&b);

	switch (status) {
	case CTL_OK:
		rv = (tlen > 0 && fwrite(text, 1, tlen, stdout) != tlen) ||
		    fflush(stdout) != 0;
		break;
	case CTL_DENIED:
		denied();
	case CTL_ERROR:
		/* A JSON answer (reload refused...) stays on stdout. */
		if ((flags & CTL_F_JSON) && tlen > 0 && text[0] == '{') {
			fwrite(text, 1, tlen, stdout);
			rv = 1;
			break;
		}
		/* FALLTHROUGH */
	default:
		/* The worker's words: version mismatch, reload failed... */
		while (tlen > 0 && text[tlen - 1] == '\n')
			text[--tlen] = '\0';
		fprintf(stderr, "egressctl: %s\n", tlen > 0 ? text :
		    "request failed");
		rv = 1;
		break;
	}
	free(text);
	return rv;
}

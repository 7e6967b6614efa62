/*
 * Logging for every process.  The parent writes to syslog (or stderr
 * with -d).  A sandboxed child cannot reach /dev/log from its empty root,
 * so without -d it hands each line to a sink set by its role, which sends
 * it to the parent over the channel.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ps.h"

static int	 log_debugmode;		/* stderr instead of syslog */
static int	 log_verbose;
static char	 log_proc[32] = "egressd";
static void	(*log_sink)(int, const char *);

void
log_init(int debug, int facility)
{
	log_debugmode = debug;
	if (!debug)
		openlog("egressd", LOG_PID | LOG_NDELAY, facility);
	tzset();
}

void
log_procinit(const char *name)
{
	strlcpy(log_proc, name, sizeof(log_proc));
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_set_sink(void (*sink)(int, const char *))
{
	log_sink = sink;
}

void
ps_vlog(int pri, const char *func, int witherr, const char *fmt, va_list ap)
{
	char	 msg[1024], line[1200];
	int	 saved = errno;

	if (pri == LOG_DEBUG && !log_verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (witherr)
		snprintf(line, sizeof(line), "%s: %s: %s: %s", log_proc,
		    func, msg, strerror(saved));
	else
		snprintf(line, sizeof(line), "%s: %s: %s", log_proc, func,
		    msg);

	if (log_debugmode) {
		/* One write(2): stdio would fstat and lseek, which the
		 * sandbox does not allow. */
		size_t	len = strnlen(line, sizeof(line) - 1);

		line[len++] = '\n';
		(void)write(STDERR_FILENO, line, len);
	}
	else if (log_sink != NULL)
		log_sink(pri, line);
	else
		syslog(pri, "%s", line);
	errno = saved;
}

void
ps_log(int pri, const char *func, int witherr, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	ps_vlog(pri, func, witherr, fmt, ap);
	va_end(ap);
}

void
ps_fatal(const char *func, int witherr, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	ps_vlog(LOG_CRIT, func, witherr, fmt, ap);
	va_end(ap);
	exit(1);
}

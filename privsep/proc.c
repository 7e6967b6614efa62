/*
 * Spawning children, run in the parent.  Every child is forked and then
 * re-executes the binary with its role on the command line, so each gets
 * a fresh address-space layout and inherits nothing by accident: its
 * channel to the parent is moved to PS_PARENT_FD and every other
 * descriptor above stderr is closed before exec.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps.h"

/* The binary this process runs, resolved once before anything can change. */
int
ps_self_path(char *buf, size_t len)
{
	ssize_t	n;

	if ((n = readlink("/proc/self/exe", buf, len - 1)) == -1)
		return -1;
	if ((size_t)n >= len - 1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

static void
ps_closefrom(int lowfd)
{
#ifdef HAVE_CLOSE_RANGE
	if (close_range((unsigned int)lowfd, ~0U, 0) == 0)
		return;
#endif
	for (int fd = lowfd; fd < 65536; fd++)
		(void)close(fd);
}

/*
 * Fork and exec path with argv; chanfd becomes the child's PS_PARENT_FD.
 * Returns the child's pid; the caller closes its copy of chanfd.
 */
pid_t
ps_spawn(const char *path, char *const argv[], int chanfd)
{
	sigset_t	 all, old;
	pid_t		 pid;
	int		 i;

	/* No parent signal handler may run in the child before exec. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	switch ((pid = fork())) {
	case -1:
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	case 0:
		break;
	default:
		sigprocmask(SIG_SETMASK, &old, NULL);
		return pid;
	}

	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	if (chanfd == PS_PARENT_FD) {
		if (fcntl(chanfd, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(chanfd, PS_PARENT_FD) == -1)
		_exit(127);
	ps_closefrom(PS_PARENT_FD + 1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	execv(path, argv);
	_exit(127);
}

/* How a child ended, for the log.  A seccomp kill is named as such. */
void
ps_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(buf, len, "killed by seccomp (SIGSYS): a syscall "
		    "outside its allowlist");
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)%s",
		    WTERMSIG(status), strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "ended with status 0x%x", status);
}

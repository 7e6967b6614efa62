/*
 * Spawning children, run in the parent.  Every child is forked and then
 * re-executes the binary with its role on the command line, so each gets
 * a fresh address-space layout and inherits nothing by accident: its
 * channel to the parent is moved to PS_PARENT_FD and every other
 * descriptor above stderr is closed before exec.
 *
 * The binary executed is the one the parent itself was started from, not
 * whatever file its path names by then: the parent opens it once at
 * start-up (ps_self_open()) and children are executed from that
 * descriptor (fexecve, which glibc does with execveat and AT_EMPTY_PATH).
 * A package upgrade renames a new binary over the path while the old
 * parent still runs; a child respawned before the restart must still be
 * the parent's own build, since the two exchange raw structures.  The
 * build identity (ps_build_id()) lets a child check that anyway.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps.h"

extern char	**environ;

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

/*
 * A descriptor of the file path names, or of this process's own binary
 * when path is NULL (/proc/self/exe opens the file this process was
 * executed from, even once another file has been renamed over its path).
 * Close-on-exec: no child inherits it; ps_spawn() executes from it.
 */
int
ps_self_open(const char *path)
{
	return open(path != NULL ? path : "/proc/self/exe",
	    O_RDONLY | O_CLOEXEC);
}

/*
 * Close every descriptor from lowfd up, but keep: marked close-on-exec,
 * it is closed by the exec that uses it.
 */
static void
ps_closefrom(int lowfd, int keep)
{
	int	fd;

#ifdef HAVE_CLOSE_RANGE
	if (keep < lowfd) {
		if (close_range((unsigned int)lowfd, ~0U, 0) == 0)
			return;
	} else if ((keep == lowfd || close_range((unsigned int)lowfd,
	    (unsigned int)keep - 1, 0) == 0) &&
	    close_range((unsigned int)keep + 1, ~0U, 0) == 0)
		return;
#endif
	for (fd = lowfd; fd < 65536; fd++)
		if (fd != keep)
			(void)close(fd);
}

/*
 * Fork and execute the binary open on exefd with argv; chanfd becomes
 * the child's PS_PARENT_FD.  Returns the child's pid; the caller closes
 * its copy of chanfd.
 */
pid_t
ps_spawn(int exefd, char *const argv[], int chanfd)
{
	sigset_t	 all, old;
	pid_t		 pid;
	int		 i, xfd;

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
	/* The binary's descriptor out of the channel's way, close-on-exec. */
	if ((xfd = fcntl(exefd, F_DUPFD_CLOEXEC, PS_PARENT_FD + 1)) == -1)
		_exit(127);
	if (chanfd == PS_PARENT_FD) {
		if (fcntl(chanfd, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(chanfd, PS_PARENT_FD) == -1)
		_exit(127);
	ps_closefrom(PS_PARENT_FD + 1, xfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	fexecve(xfd, argv, environ);
	_exit(127);
}

struct ps_note_arg {
	char	*buf;
	size_t	 len;
	int	 found;
};

/* Notes are padded to their segment's alignment: 4, or 8 for some. */
static int
ps_build_id_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct ps_note_arg	*a = arg;
	const ElfW(Phdr)	*ph;
	const ElfW(Nhdr)	*n;
	const uint8_t		*p, *end, *desc;
	size_t			 i, off, al, left;
	int			 k;

	for (k = 0; k < info->dlpi_phnum && !a->found; k++) {
		ph = &info->dlpi_phdr[k];
		if (ph->p_type != PT_NOTE)
			continue;
		al = ph->p_align == 8 ? 8 : 4;
		p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while ((left = (size_t)(end - p)) >= sizeof(*n)) {
			n = (const ElfW(Nhdr) *)(const void *)p;
			off = sizeof(*n) + ((n->n_namesz + al - 1) & ~(al - 1));
			if (left < off || left - off < n->n_descsz)
				break;
			desc = p + off;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    memcmp(p + sizeof(*n), "GNU", 4) == 0 &&
			    n->n_descsz > 0 && n->n_descsz < a->len / 2) {
				for (i = 0; i < n->n_descsz; i++)
					snprintf(a->buf + 2 * i, 3, "%02x",
					    desc[i]);
				a->found = 1;
				break;
			}
			off += (n->n_descsz + al - 1) & ~(al - 1);
			if (off > left)
				break;
			p += off;
		}
	}
	return 1;	/* the first object is the main program: enough */
}

/*
 * The GNU build-id of the main program (the linker's hash of everything
 * it linked, in a PT_NOTE segment), as lowercase hex into buf.  Two
 * builds of different code never share it.  Returns -1 if there is none
 * (a binary linked with --build-id=none).
 */
int
ps_build_id(char *buf, size_t len)
{
	struct ps_note_arg	a = { buf, len, 0 };

	if (len > 0)
		buf[0] = '\0';
	dl_iterate_phdr(ps_build_id_cb, &a);
	return a.found ? 0 : -1;
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

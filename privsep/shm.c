/*
 * Shared memory between the parent and its children: the parent creates
 * a sealed memfd of a fixed size before any child exists and passes it
 * over the channels; each child maps it once, before its sandbox.  The
 * seals keep a child from growing or shrinking it under the others.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "ps.h"

int
ps_shm_create(const char *name, size_t size)
{
	int	fd;

	if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	if (ftruncate(fd, (off_t)size) == -1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK |
	    F_SEAL_SEAL) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Map fd, which must be exactly size bytes; closes fd. */
void *
ps_shm_map(int fd, size_t size)
{
	struct stat	 st;
	void		*p;

	if (fstat(fd, &st) == -1 || (size_t)st.st_size != size) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

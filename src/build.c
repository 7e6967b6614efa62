/*
 * The build identity of this binary, used by every process: the version
 * and the linker's build-id of the file it was executed from
 * (ps_build_id()), "egressd 0.1.0 build-id 3f2a...".  The parent sends
 * its own as the first message on each child's channel (IMSG_BUILD); a
 * child compares it with its own before it reads anything else
 * (child_hello()) and refuses to run under a parent of another build.
 * egressd -V prints it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"

static char	build_id[EGD_BUILD_MAX];

const char *
egd_build(void)
{
	char	hex[EGD_BUILD_MAX / 2];

	if (build_id[0] != '\0')
		return build_id;
	if (ps_build_id(hex, sizeof(hex)) == -1)
		strlcpy(hex, "none", sizeof(hex));
	snprintf(build_id, sizeof(build_id), "%s %s build-id %s",
	    PACKAGE_NAME, PACKAGE_VERSION, hex);
	return build_id;
}

/* Whether the binary has a build-id: without one, only versions differ. */
int
egd_build_known(void)
{
	char	hex[EGD_BUILD_MAX / 2];

	return ps_build_id(hex, sizeof(hex)) == 0;
}

/*
 * Privilege drop.  ps_lookup_user() and ps_prepare_chroot() run in the
 * parent, before any child exists; ps_drop() runs in every child, in this
 * order, checking after each step that it took: enter the empty root,
 * change to the unprivileged user with no supplementary groups and clear
 * every capability set (libcap-ng), then no_new_privs and non-dumpable.
 * The seccomp filter (sandbox.c) comes last, once the event loop is set up.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cap-ng.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ps.h"

int
ps_lookup_user(const char *name, uid_t *uid, gid_t *gid, char *err,
    size_t errlen)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(err, errlen, "user \"%s\" does not exist (create it: "
		    "useradd --system --no-create-home --shell "
		    "/usr/sbin/nologin %s)", name, name);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user \"%s\" has uid 0", name);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/*
 * The children's root: an empty directory owned by root that nobody else
 * may write.  Created when missing; anything else is refused.
 */
int
ps_prepare_chroot(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;

	if (path[0] != '/') {
		snprintf(err, errlen, "chroot %s: not an absolute path", path);
		return -1;
	}
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "chroot %s: mkdir: %s", path,
		    strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == -1) {
		snprintf(err, errlen, "chroot %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "chroot %s: not a directory", path);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errlen, "chroot %s: must be owned by root and "
		    "writable by nobody else", path);
		return -1;
	}
	if ((d = opendir(path)) == NULL) {
		snprintf(err, errlen, "chroot %s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* de lives in d: say what it is before letting go of d. */
		snprintf(err, errlen, "chroot %s: not empty (holds %s)", path,
		    de->d_name);
		closedir(d);
		return -1;
	}
	closedir(d);
	return 0;
}

static void
ps_check_nocaps(void)
{
	int	cap;

	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_get_caps_process() != 0)
		fatalx("cannot read capabilities");
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		fatalx("capabilities remain after the drop");
	for (cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			fatalx("capability %d remains in the bounding set",
			    cap);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap,
		    0, 0) == 1)
			fatalx("capability %d remains ambient", cap);
	}
}

void
ps_drop(const struct ps_identity *id)
{
	struct stat	 want, got;
	struct rlimit	 rl;
	uid_t		 ruid, euid, suid;
	gid_t		 rgid, egid, sgid;

	/* 1. The empty root. */
	if (stat(id->chroot, &want) == -1)
		fatal("stat %s", id->chroot);
	if (chroot(id->chroot) == -1)
		fatal("chroot %s", id->chroot);
	if (chdir("/") == -1)
		fatal("chdir /");
	if (stat("/", &got) == -1 || got.st_dev != want.st_dev ||
	    got.st_ino != want.st_ino)
		fatalx("chroot %s did not take", id->chroot);

	/* 2. The user, no supplementary groups, no capability anywhere. */
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_change_id((int)id->uid, (int)id->gid,
	    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) != 0)
		fatalx("cannot change to uid %u gid %u", (unsigned)id->uid,
		    (unsigned)id->gid);
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    ruid != id->uid || euid != id->uid || suid != id->uid)
		fatalx("uid change did not take");
	if (getresgid(&rgid, &egid, &sgid) == -1 ||
	    rgid != id->gid || egid != id->gid || sgid != id->gid)
		fatalx("gid change did not take");
	if (getgroups(0, NULL) != 0)
		fatalx("supplementary groups remain");
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("could regain root");
	ps_check_nocaps();

	/* 3. No way back, no core, no ptrace by the same user. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		fatal("no_new_privs");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		fatal("dumpable");
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("RLIMIT_CORE");
}

/* Raise the soft descriptor limit to want, at most to the hard limit. */
void
ps_limits(unsigned long want)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (want == 0 || want > rl.rlim_max)
		want = rl.rlim_max;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("setrlimit");
}

/*
 * For a parent that stays root: keep only the capabilities in caps, in
 * the effective, permitted and bounding sets; what it execs inherits no
 * more than that.
 */
void
ps_keep_caps(const int *caps, size_t n)
{
	size_t	i;

	capng_clear(CAPNG_SELECT_ALL);
	for (i = 0; i < n; i++)
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
		    CAPNG_BOUNDING_SET, (unsigned int)caps[i]) != 0)
			fatalx("capng_update %d", caps[i]);
	if (capng_apply(CAPNG_SELECT_ALL) != 0)
		fatalx("cannot reduce the parent's capabilities");
	for (i = 0; i < n; i++)
		if (capng_have_capability(CAPNG_EFFECTIVE,
		    (unsigned int)caps[i]) != 1)
			fatalx("capability %d lost", caps[i]);
}

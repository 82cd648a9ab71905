// SPDX-License-Identifier: GPL-2.0
/*
 * runas UID CMD [ARGS...] - run CMD as an unprivileged user: no supplementary groups, gid and
 * uid UID (real, effective and saved), hence no capabilities. busybox has no setpriv --reuid,
 * and its su needs a password database we would have to fake; this is all the suite needs.
 * Built statically by vmtest/run.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *end;
	long id;

	if (argc < 3) {
		fprintf(stderr, "usage: runas UID CMD [ARGS...]\n");
		return 125;
	}
	id = strtol(argv[1], &end, 10);
	if (*end || id <= 0) {
		fprintf(stderr, "runas: bad uid '%s'\n", argv[1]);
		return 125;
	}
	if (setgroups(0, NULL) || setresgid(id, id, id) || setresuid(id, id, id)) {
		perror("runas: dropping privileges");
		return 125;
	}
	if (getuid() != (uid_t)id || geteuid() != (uid_t)id) {
		fprintf(stderr, "runas: still privileged\n");
		return 125;
	}
	execvp(argv[2], argv + 2);
	perror("runas: exec");
	return 127;
}

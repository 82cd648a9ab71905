// SPDX-License-Identifier: GPL-2.0
/*
 * runas [-c CAP[,CAP...]] UID CMD [ARGS...] - run CMD as an unprivileged user: no supplementary
 * groups, gid and uid UID (real, effective and saved), hence no capabilities -- except, with -c,
 * exactly the listed ones (numbers, e.g. 12 = CAP_NET_ADMIN), kept across exec as ambient
 * capabilities. busybox has no setpriv --reuid, and its su needs a password database we would
 * have to fake; this is all the suite needs. Built statically by vmtest/run.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int keep_caps(uint64_t mask)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	int cap;

	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = data[0].inheritable = (uint32_t)mask;
	data[1].effective = data[1].permitted = data[1].inheritable = (uint32_t)(mask >> 32);
	if (syscall(SYS_capset, &hdr, data))
		return -1;
	for (cap = 0; cap < 64; cap++)
		if ((mask >> cap) & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t caps = 0;
	int with_caps = 0;
	char *end, *tok;
	long id;

	if (argc >= 3 && !strcmp(argv[1], "-c")) {
		for (tok = strtok(argv[2], ","); tok; tok = strtok(NULL, ",")) {
			long c = strtol(tok, &end, 10);

			if (*end || c < 0 || c > 63) {
				fprintf(stderr, "runas: bad capability number '%s'\n", tok);
				return 125;
			}
			caps |= 1ULL << c;
		}
		with_caps = 1;
		argc -= 2;
		argv += 2;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: runas [-c CAP[,CAP...]] UID CMD [ARGS...]\n");
		return 125;
	}
	id = strtol(argv[1], &end, 10);
	if (*end || id <= 0) {
		fprintf(stderr, "runas: bad uid '%s'\n", argv[1]);
		return 125;
	}
	if (with_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) {
		perror("runas: PR_SET_KEEPCAPS");
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
	if (with_caps && keep_caps(caps)) {
		perror("runas: keeping capabilities");
		return 125;
	}
	execvp(argv[2], argv + 2);
	perror("runas: exec");
	return 127;
}

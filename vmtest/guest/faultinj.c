// SPDX-License-Identifier: GPL-2.0
/*
 * faultinj - run one kpeek.ko entry point with the kernel's systematic fault injection
 * (Documentation/fault-injection/fault-injection.rst, "fail-nth"): the N-th allocation the
 * kernel makes for this thread inside that one system call fails (failslab and
 * fail_page_alloc, with their ignore-gfp-wait off). Everything the program needs (the module
 * file, /dev/kpeek, the netlink socket and family id) is opened before N is armed, and N is
 * disarmed right after the call, so only the entry point's own allocations count.
 *
 * N = 0 runs the call with nothing armed (clean-up between runs). N = "task" marks the thread
 * with /proc/self/make-it-fail for the call instead: failslab/fail_page_alloc with task-filter
 * then fail its allocations at their configured probability (injected=? in the output).
 *
 *   faultinj N load KO [PARAMS]          finit_module(KO, PARAMS)
 *   faultinj N open PATH                 open(PATH, O_RDWR) and close it
 *   faultinj N read PATH                 one read(2) of up to 1 MiB (opened before arming,
 *                                        into a buffer faulted in before arming)
 *   faultinj N mkdir PATH                mkdir (a configfs group)
 *   faultinj N ioctl-create GROUP [COUNTER]
 *   faultinj N ioctl-create-ro GROUP     KPEEK_IOC_CREATE with its argument in a read-only page:
 *                                        the id cannot be written back (EFAULT expected)
 *   faultinj N ioctl-ring DATA_SIZE      KPEEK_IOC_RING_SETUP
 *   faultinj N ioctl-probe PROBE FLAGS   KPEEK_IOC_PROBE_SET
 *   faultinj N nl-create GROUP [COUNTER] KPEEK_CMD_CREATE
 *   faultinj N nl-probe PROBE FLAGS      KPEEK_CMD_PROBE_SET
 *
 * Prints one line `OP: ok|ENAME injected=0|1 [id=ID] [allocs=K]` (id: what a create made;
 * allocs: how many allocations the call made, when fewer than N; injected=1: the N-th allocation happened and
 * failed; 0: the call made fewer than N allocations, so larger N test nothing new). Exit 0 when
 * the call succeeded, 1 when it failed with an errno, 2 for usage or setup errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <kpeek.h>

static int nth_fd = -1;
static int task_mode;
static unsigned int nth;
static long allocs = -1;	/* allocations counted when nothing was injected */

static void die(const char *what)
{
	fprintf(stderr, "faultinj: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void usage(void)
{
	fprintf(stderr, "usage: faultinj N|task load KO [PARAMS] | open PATH | read PATH | mkdir PATH |\n"
			"       ioctl-create GROUP [COUNTER] | ioctl-create-ro GROUP | ioctl-ring SIZE | ioctl-probe PROBE FLAGS |\n"
			"       nl-create GROUP [COUNTER] | nl-probe PROBE FLAGS\n");
	exit(2);
}

static void write_nth(unsigned int n)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(nth_fd, buf, len, 0) != len)
		die(task_mode ? "write make-it-fail" : "write fail-nth");
}

/* arm: the next allocations of this thread may fail (nothing with N = 0) */
static void arm(void)
{
	if (task_mode)
		write_nth(1);
	else if (nth)
		write_nth(nth);
}

/*
 * disarm -> 1 when the fault was injected (fail-nth reads 0), 0 when it was not (always 0 for
 * N = 0), -1 in task mode (unknown)
 */
static int disarm(void)
{
	char buf[32] = "";
	int injected;

	if (task_mode) {
		write_nth(0);
		return -1;
	}
	if (!nth)
		return 0;
	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) < 0)
		die("read fail-nth");
	injected = atoi(buf) == 0;
	if (!injected)
		allocs = nth - strtoul(buf, NULL, 10);
	write_nth(0);
	return injected;
}

static const char *ename(int e)
{
	switch (e) {
	case 0: return "ok";
	case ENOMEM: return "ENOMEM";
	case ENOBUFS: return "ENOBUFS";
	case EINVAL: return "EINVAL";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EBUSY: return "EBUSY";
	case EFAULT: return "EFAULT";
	case EPERM: return "EPERM";
	case ENOSPC: return "ENOSPC";
	case EAGAIN: return "EAGAIN";
	case ENODEV: return "ENODEV";
	case ECANCELED: return "ECANCELED";
	default: return "E?";
	}
}

/* ---- generic netlink ------------------------------------------------------------------- */

struct nlbuf {
	struct nlmsghdr nh;
	struct genlmsghdr gh;
	char attrs[512];
};

static void put_attr(struct nlbuf *m, int type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)((char *)m + NLMSG_ALIGN(m->nh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	m->nh.nlmsg_len = NLMSG_ALIGN(m->nh.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void put_str(struct nlbuf *m, int type, const char *s)
{
	put_attr(m, type, s, strlen(s) + 1);
}

static void put_u32(struct nlbuf *m, int type, __u32 v)
{
	put_attr(m, type, &v, sizeof(v));
}

static void start(struct nlbuf *m, int family, int cmd)
{
	memset(m, 0, sizeof(*m));
	m->nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nh.nlmsg_type = family;
	m->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	m->nh.nlmsg_seq = 1;
	m->gh.cmd = cmd;
	m->gh.version = family == GENL_ID_CTRL ? 1 : KPEEK_GENL_VERSION;
}

/* transact -> 0 or the errno of the kernel's answer (or of send/recv); *reply: the answer */
static int transact(int sk, struct nlbuf *m, char *reply, int size)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)reply;
	int n;

	if (send(sk, m, m->nh.nlmsg_len, 0) < 0)
		return errno;
	for (;;) {
		n = recv(sk, reply, size, 0);
		if (n < 0)
			return errno;
		if (!NLMSG_OK(nh, (unsigned int)n))
			return EBADMSG;
		if (nh->nlmsg_type == NLMSG_ERROR)
			return -((struct nlmsgerr *)NLMSG_DATA(nh))->error;
		/* a data message (GETFAMILY): the ACK follows; the caller reads what it needs */
		return 0;
	}
}

static int genl_socket(int *family)
{
	static char reply[8192];
	struct nlbuf m;
	struct nlmsghdr *nh = (struct nlmsghdr *)reply;
	struct nlattr *a;
	struct timeval tmo = { .tv_sec = 10 };
	int sk, len, e;

	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (sk < 0)
		die("socket(NETLINK_GENERIC)");
	/* an answer lost to an injected failure must not hang the suite */
	if (setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)))
		die("SO_RCVTIMEO");
	start(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
	m.nh.nlmsg_flags = NLM_F_REQUEST;
	put_str(&m, CTRL_ATTR_FAMILY_NAME, KPEEK_GENL_NAME);
	e = transact(sk, &m, reply, sizeof(reply));
	if (e) {
		errno = e;
		die("resolve the kpeek genl family");
	}
	len = nh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	a = (struct nlattr *)((char *)NLMSG_DATA(nh) + GENL_HDRLEN);
	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID) {
			*family = *(__u16 *)((char *)a + NLA_HDRLEN);
			return sk;
		}
	}
	errno = ENOENT;
	die("no family id in the CTRL_CMD_GETFAMILY answer");
	return -1;
}

/* reply_u64 -> the u64 attribute TYPE of a kpeek answer, 0 when absent */
static unsigned long long reply_u64(const char *reply, int type)
{
	const struct nlmsghdr *nh = (const struct nlmsghdr *)reply;
	const struct nlattr *a = (const struct nlattr *)((const char *)NLMSG_DATA(nh) + GENL_HDRLEN);
	int len = nh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	unsigned long long v;

	if (nh->nlmsg_type == NLMSG_ERROR)
		return 0;
	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len),
	     a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len))) {
		if ((a->nla_type & NLA_TYPE_MASK) == type && a->nla_len == NLA_HDRLEN + 8) {
			memcpy(&v, (const char *)a + NLA_HDRLEN, 8);
			return v;
		}
	}
	return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

static int open_dev(void)
{
	int fd = open("/dev/kpeek", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open /dev/kpeek");
	return fd;
}

int main(int argc, char **argv)
{
	static char reply[8192];
	char path[64];
	unsigned long long id = 0;
	const char *op;
	char *end;
	int err = 0, injected, fd = -1, sk = -1, family = 0, r;
	struct nlbuf m;

	if (argc < 3)
		usage();
	op = argv[2];
	if (!strcmp(argv[1], "task")) {
		task_mode = 1;
		snprintf(path, sizeof(path), "/proc/self/task/%ld/make-it-fail",
			 (long)syscall(SYS_gettid));
	} else {
		nth = strtoul(argv[1], &end, 10);
		if (*end || end == argv[1])
			usage();
		snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
			 (long)syscall(SYS_gettid));
	}
	if (task_mode || nth) {
		nth_fd = open(path, O_RDWR | O_CLOEXEC);
		if (nth_fd < 0)
			die(path);
	}

	if (!strcmp(op, "load") && (argc == 4 || argc == 5)) {
		fd = open(argv[3], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(argv[3]);
		arm();
		r = syscall(SYS_finit_module, fd, argc == 5 ? argv[4] : "", 0);
		err = r ? errno : 0;
	} else if (!strcmp(op, "open") && argc == 4) {
		arm();
		fd = open(argv[3], O_RDWR | O_CLOEXEC);
		err = fd < 0 ? errno : 0;
		injected = disarm();
		if (fd >= 0)
			close(fd);
		goto out;
	} else if (!strcmp(op, "read") && argc == 4) {
		static char buf[1 << 20];

		fd = open(argv[3], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(argv[3]);
		/*
		 * Fault the buffer in first: otherwise copy_to_user() inside read() takes the
		 * page faults, their page (table) allocations count for fail-nth (a kpeek frame
		 * is on the stack), and a failed one is EFAULT, the kernel's answer to a user
		 * page it could not provide: not kpeek's own allocation under test.
		 */
		memset(buf, 1, sizeof(buf));
		arm();
		err = read(fd, buf, sizeof(buf)) < 0 ? errno : 0;
	} else if (!strcmp(op, "mkdir") && argc == 4) {
		arm();
		err = mkdir(argv[3], 0755) ? errno : 0;
	} else if (!strcmp(op, "ioctl-create") && (argc == 4 || argc == 5)) {
		struct kpeek_create c = { .size = sizeof(c) };

		c.target = argc == 5 ? KPEEK_TARGET_COUNTER : KPEEK_TARGET_GROUP;
		snprintf(c.group, sizeof(c.group), "%s", argv[3]);
		if (argc == 5)
			snprintf(c.counter, sizeof(c.counter), "%s", argv[4]);
		fd = open_dev();
		arm();
		err = ioctl(fd, KPEEK_IOC_CREATE, &c) ? errno : 0;
		id = c.id;
	} else if (!strcmp(op, "ioctl-create-ro") && argc == 4) {
		long page = sysconf(_SC_PAGESIZE);
		struct kpeek_create *c = mmap(NULL, page, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (c == MAP_FAILED)
			die("mmap");
		c->size = sizeof(*c);
		c->target = KPEEK_TARGET_GROUP;
		snprintf(c->group, sizeof(c->group), "%s", argv[3]);
		if (mprotect(c, page, PROT_READ))
			die("mprotect");
		fd = open_dev();
		arm();
		err = ioctl(fd, KPEEK_IOC_CREATE, c) ? errno : 0;
	} else if (!strcmp(op, "ioctl-ring") && argc == 4) {
		struct kpeek_ring_config rc = { .size = sizeof(rc) };

		rc.data_size = strtoul(argv[3], NULL, 0);
		fd = open_dev();
		arm();
		err = ioctl(fd, KPEEK_IOC_RING_SETUP, &rc) ? errno : 0;
	} else if (!strcmp(op, "ioctl-probe") && argc == 5) {
		struct kpeek_probe_config pc = { .size = sizeof(pc) };

		pc.probe = strtoul(argv[3], NULL, 0);
		pc.flags = strtoul(argv[4], NULL, 0);
		fd = open_dev();
		arm();
		err = ioctl(fd, KPEEK_IOC_PROBE_SET, &pc) ? errno : 0;
	} else if (!strcmp(op, "nl-create") && (argc == 4 || argc == 5)) {
		sk = genl_socket(&family);
		start(&m, family, KPEEK_CMD_CREATE);
		put_str(&m, KPEEK_A_GROUP, argv[3]);
		if (argc == 5)
			put_str(&m, KPEEK_A_COUNTER, argv[4]);
		arm();
		err = transact(sk, &m, reply, sizeof(reply));
		if (!err)
			id = reply_u64(reply, KPEEK_A_ID);
	} else if (!strcmp(op, "nl-probe") && argc == 5) {
		sk = genl_socket(&family);
		start(&m, family, KPEEK_CMD_PROBE_SET);
		put_u32(&m, KPEEK_A_PROBE, strtoul(argv[3], NULL, 0));
		put_u32(&m, KPEEK_A_PROBE_FLAGS, strtoul(argv[4], NULL, 0));
		arm();
		err = transact(sk, &m, reply, sizeof(reply));
	} else {
		usage();
	}
	injected = disarm();
out:
	if (!strcmp(ename(err), "E?"))
		printf("%s: errno %d (%s)", op, err, strerror(err));
	else
		printf("%s: %s", op, ename(err));
	if (injected < 0)
		printf(" injected=?");
	else
		printf(" injected=%d", injected);
	if (id)
		printf(" id=%llu", id);
	if (allocs >= 0)
		printf(" allocs=%ld", allocs);
	printf("\n");
	return err ? 1 : 0;
}

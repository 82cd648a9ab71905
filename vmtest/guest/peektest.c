// SPDX-License-Identifier: GPL-2.0
/*
 * peektest - KPEEK_IOC_PEEK and KPEEK_CMD_PEEK from a plain C program, for vmtest/guest/80-peek.sh,
 * written against include/uapi/kpeek.h alone. Built statically by vmtest/run.
 *
 *	peektest ioctl|nl NAME ADDR OFFSET LEN [FLAGS]
 *	peektest bench ADDR LEN N
 *
 * NAME "-" is the empty name (read at ADDR); numbers take 0x. Prints
 * `addr=0x... size=N data=HEX` and exits 0, or `error ENAME` and exits 1; usage errors exit 2.
 * `bench` is the bare loop a reader of kernel memory through kpeek.ko can do at best: N
 * KPEEK_IOC_PEEK calls of LEN bytes at ADDR on one open /dev/kpeek, timed; it prints
 * `reads=N ms=T per_s=R` (the baseline `kpeek peek --watch 0` is compared with).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <kpeek.h>

#define NL_BUF (KPEEK_PEEK_LEN_MAX + 4096)

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case ENOTTY: return "ENOTTY";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case EACCES: return "EACCES";
	case ERANGE: return "ERANGE";
	default: return "E?";
	}
}

static int report_err(int e)
{
	printf("error %s\n", errname(e));
	return 1;
}

static void report_ok(uint64_t addr, uint64_t size, const unsigned char *data, uint32_t len)
{
	uint32_t i;

	printf("addr=0x%llx size=%llu data=", (unsigned long long)addr, (unsigned long long)size);
	for (i = 0; i < len; i++)
		printf("%02x", data[i]);
	printf("\n");
}

static int do_ioctl(const char *name, uint64_t addr, uint64_t off, uint32_t len, uint32_t flags)
{
	struct kpeek_peek p;
	unsigned char *buf = calloc(1, len ? len : 1);
	int fd;

	memset(&p, 0, sizeof(p));
	if (strlen(name) >= sizeof(p.name))
		memcpy(p.name, name, sizeof(p.name));	/* not NUL-terminated: EINVAL */
	else
		strcpy(p.name, name);
	p.addr = addr;
	p.offset = off;
	p.len = len;
	p.flags = flags;
	p.buf = (uintptr_t)buf;
	fd = open("/dev/kpeek", O_RDONLY);
	if (fd < 0)
		return report_err(errno);
	if (ioctl(fd, KPEEK_IOC_PEEK, &p))
		return report_err(errno);
	report_ok(p.addr, p.sym_size, buf, len);
	return 0;
}

struct nlreq {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char attrs[512];
};

static void put_attr(struct nlreq *r, int type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* Send r, receive into buf; returns the reply length, or -errno (from an error message). */
static int nl_call(int fd, struct nlreq *r, char *buf)
{
	struct nlmsghdr *h;
	int n;

	if (send(fd, r, r->n.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, NL_BUF, 0);
	if (n < 0)
		return -errno;
	h = (struct nlmsghdr *)buf;
	if (h->nlmsg_type == NLMSG_ERROR)
		return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	return n;
}

static struct nlattr *find_attr(char *buf, int type)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	char *p = (char *)NLMSG_DATA(h) + GENL_HDRLEN;
	char *end = buf + h->nlmsg_len;

	while (p + NLA_HDRLEN <= end) {
		struct nlattr *a = (struct nlattr *)p;

		if (a->nla_len < NLA_HDRLEN)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		p += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static int do_nl(const char *name, uint64_t addr, uint64_t off, uint32_t len)
{
	static char buf[NL_BUF];
	struct nlreq r;
	struct nlattr *a;
	uint16_t family;
	uint64_t raddr = 0, rsize = 0;
	int fd, n, sz = NL_BUF;

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	if (fd < 0)
		return report_err(errno);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	memset(&r, 0, sizeof(r));
	r.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r.n.nlmsg_type = GENL_ID_CTRL;
	r.n.nlmsg_flags = NLM_F_REQUEST;
	r.g.cmd = CTRL_CMD_GETFAMILY;
	r.g.version = 1;
	put_attr(&r, CTRL_ATTR_FAMILY_NAME, KPEEK_GENL_NAME, sizeof(KPEEK_GENL_NAME));
	n = nl_call(fd, &r, buf);
	if (n < 0)
		return report_err(-n);
	a = find_attr(buf, CTRL_ATTR_FAMILY_ID);
	if (!a)
		return report_err(ENOENT);
	memcpy(&family, (char *)a + NLA_HDRLEN, sizeof(family));

	memset(&r, 0, sizeof(r));
	r.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r.n.nlmsg_type = family;
	r.n.nlmsg_flags = NLM_F_REQUEST;
	r.g.cmd = KPEEK_CMD_PEEK;
	r.g.version = KPEEK_GENL_VERSION;
	if (*name)
		put_attr(&r, KPEEK_A_PEEK_NAME, name, strlen(name) + 1);
	if (addr || !*name)
		put_attr(&r, KPEEK_A_PEEK_ADDR, &addr, sizeof(addr));
	if (off)
		put_attr(&r, KPEEK_A_PEEK_OFFSET, &off, sizeof(off));
	put_attr(&r, KPEEK_A_PEEK_LEN, &len, sizeof(len));
	n = nl_call(fd, &r, buf);
	if (n < 0)
		return report_err(-n);
	a = find_attr(buf, KPEEK_A_PEEK_ADDR);
	if (a)
		memcpy(&raddr, (char *)a + NLA_HDRLEN, sizeof(raddr));
	a = find_attr(buf, KPEEK_A_PEEK_SIZE);
	if (a)
		memcpy(&rsize, (char *)a + NLA_HDRLEN, sizeof(rsize));
	a = find_attr(buf, KPEEK_A_PEEK_DATA);
	if (!a || (uint32_t)(a->nla_len - NLA_HDRLEN) != len) {
		printf("error BADREPLY\n");
		return 1;
	}
	report_ok(raddr, rsize, (unsigned char *)a + NLA_HDRLEN, len);
	return 0;
}

static int do_bench(uint64_t addr, uint32_t len, unsigned long n)
{
	struct kpeek_peek p;
	unsigned char buf[64];
	struct timespec t0, t1;
	unsigned long i;
	double ms;
	int fd;

	if (len > sizeof(buf) || !n) {
		fprintf(stderr, "peektest bench: LEN at most %zu, N at least 1\n", sizeof(buf));
		return 2;
	}
	fd = open("/dev/kpeek", O_RDONLY);
	if (fd < 0)
		return report_err(errno);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		memset(&p, 0, sizeof(p));
		p.addr = addr;
		p.len = len;
		p.buf = (uintptr_t)buf;
		if (ioctl(fd, KPEEK_IOC_PEEK, &p))
			return report_err(errno);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("reads=%lu ms=%.1f per_s=%.0f\n", n, ms, n / (ms / 1e3));
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t addr, off;
	uint32_t len, flags = 0;
	const char *name;

	if (argc == 5 && !strcmp(argv[1], "bench"))
		return do_bench(strtoull(argv[2], NULL, 0), strtoul(argv[3], NULL, 0),
				strtoul(argv[4], NULL, 0));
	if (argc < 6 || argc > 7 || (strcmp(argv[1], "ioctl") && strcmp(argv[1], "nl"))) {
		fprintf(stderr, "usage: peektest ioctl|nl NAME ADDR OFFSET LEN [FLAGS] | bench ADDR LEN N\n");
		return 2;
	}
	name = strcmp(argv[2], "-") ? argv[2] : "";
	addr = strtoull(argv[3], NULL, 0);
	off = strtoull(argv[4], NULL, 0);
	len = strtoul(argv[5], NULL, 0);
	if (argc == 7)
		flags = strtoul(argv[6], NULL, 0);
	if (!strcmp(argv[1], "ioctl"))
		return do_ioctl(name, addr, off, len, flags);
	return do_nl(name, addr, off, len);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * nltest - a raw generic netlink client for the kpeek family, for the guest suite (busybox has
 * no genl tool). Built statically by vmtest/run with the uapi header kmod/include/uapi/kpeek.h.
 * It speaks plain AF_NETLINK (no libnl) so that the tests see exactly what the kernel sends:
 * every datagram, every flag, every extended ACK.
 *
 *   nltest info
 *   nltest get ID | nltest get GROUP COUNTER
 *   nltest dump [-g GROUP] [-b RECVBUF] [-i] [-c] [-x SHELLCMD]   lines "group counter value"
 *                      (-i: ids too); stderr: records, datagrams, intr; -c: exit 1 on
 *                      NLM_F_DUMP_INTR; -x: run SHELLCMD after the first datagram (mid-dump)
 *   nltest dump-intr GROUP N     dump with a small buffer, create N counters in GROUP (new
 *                      names) after the first datagram; exit 0 only if NLM_F_DUMP_INTR came
 *   nltest create GROUP [COUNTER]          prints the new id
 *   nltest create-many GROUP N PREFIX      creates PREFIX0..PREFIX(N-1) in GROUP
 *   nltest destroy ID [TARGET] | nltest reset [ID [TARGET]] | nltest threshold ID VALUE
 *   nltest threshold-group GROUP VALUE     the threshold on every counter of GROUP
 *   nltest probe PROBE FLAGS [dev=NAME] [pid=N] [minlen=N]
 *   nltest listen N TIMEOUT_MS   subscribe to "events", print "listening", then N events
 *   nltest raw CMD [-f NLFLAGS] [-r RESERVED] ATTR...   ATTR: TYPE:KIND=VALUE with KIND one
 *                      of u8 u16 u32 u64 s32 str (NUL added) nonul (no NUL) hex empty
 *
 * Errors print `nltest: CMD: <strerror> (ENAME); extack: '<msg>' offset N missing-attr N` and
 * exit 1; usage errors exit 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <kpeek.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

#define BUF_SIZE (64 * 1024)

static const char *prog_cmd = "?";
static int family_id;
static int events_grp;
static uint32_t seq_no = 1;

static const char *errno_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case ERANGE: return "ERANGE";
	case EEXIST: return "EEXIST";
	case ENOSPC: return "ENOSPC";
	case EACCES: return "EACCES";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOMEM: return "ENOMEM";
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
	case ENOBUFS: return "ENOBUFS";
	default: return "E?";
	}
}

static void die(const char *what)
{
	fprintf(stderr, "nltest: %s: %s: %s (%s)\n", prog_cmd, what, strerror(errno),
		errno_name(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "nltest: usage: see the comment at the top of vmtest/nltest.c\n");
	exit(2);
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || !*s) {
		fprintf(stderr, "nltest: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* ---- messages ---- */

struct msg {
	union {
		struct nlmsghdr nlh;
		char buf[BUF_SIZE];
	};
};

static struct genlmsghdr *msg_init(struct msg *m, int type, int flags, int cmd)
{
	struct genlmsghdr *g;

	memset(m->buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	m->nlh.nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
	m->nlh.nlmsg_type = type;
	m->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
	m->nlh.nlmsg_seq = seq_no++;
	g = (struct genlmsghdr *)(m->buf + NLMSG_HDRLEN);
	g->cmd = cmd;
	g->version = KPEEK_GENL_VERSION;
	return g;
}

static void put_attr(struct msg *m, int type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->nlh.nlmsg_len));

	if (NLMSG_ALIGN(m->nlh.nlmsg_len) + NLA_HDRLEN + NLA_ALIGN(len) > BUF_SIZE) {
		fprintf(stderr, "nltest: message too long\n");
		exit(2);
	}
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	m->nlh.nlmsg_len = NLMSG_ALIGN(m->nlh.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void put_u32(struct msg *m, int type, uint32_t v) { put_attr(m, type, &v, 4); }
static void put_u64(struct msg *m, int type, uint64_t v) { put_attr(m, type, &v, 8); }
static void put_str(struct msg *m, int type, const char *s) { put_attr(m, type, s, strlen(s) + 1); }

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, one = 1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind");
	if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)))
		die("NETLINK_EXT_ACK");
	return fd;
}

static void nl_send(int fd, struct msg *m)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (sendto(fd, m->buf, m->nlh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("sendto");
}

/* attrs[type] for one message's attributes (the last one of a type wins) */
static void parse_attrs(struct nlattr *a, int len, struct nlattr **tb, int max)
{
	memset(tb, 0, sizeof(*tb) * (max + 1));
	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len) {
		if ((a->nla_type & NLA_TYPE_MASK) <= max)
			tb[a->nla_type & NLA_TYPE_MASK] = a;
		len -= NLA_ALIGN(a->nla_len);
		a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
	}
}

static void *nla_data(struct nlattr *a) { return (char *)a + NLA_HDRLEN; }
static uint32_t nla_u32(struct nlattr *a) { uint32_t v; memcpy(&v, nla_data(a), 4); return v; }
static uint64_t nla_u64(struct nlattr *a) { uint64_t v; memcpy(&v, nla_data(a), 8); return v; }

/* the attributes of a generic netlink message */
static void parse_genl(struct nlmsghdr *nlh, struct nlattr **tb, int max)
{
	parse_attrs((struct nlattr *)((char *)NLMSG_DATA(nlh) + GENL_HDRLEN),
		    nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, tb, max);
}

/*
 * An NLMSG_ERROR: 0 for an ACK, else prints errno and extended ACK and returns -errno. The
 * request is echoed only in part (NETLINK_CAP_ACK is off, but the kernel caps it for us when
 * ext-ack TLVs follow: NLM_F_CAPPED).
 */
static int handle_error(struct nlmsghdr *nlh, int quiet)
{
	struct nlmsgerr *e = NLMSG_DATA(nlh);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	int off, err = e->error;

	if (!err)
		return 0;
	if (quiet)
		return err;
	fprintf(stderr, "nltest: %s: %s (%s)", prog_cmd, strerror(-err), errno_name(-err));
	off = NLMSG_HDRLEN + sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS && (int)nlh->nlmsg_len > off) {
		parse_attrs((struct nlattr *)((char *)nlh + off), nlh->nlmsg_len - off, tb,
			    NLMSGERR_ATTR_MAX);
		if (tb[NLMSGERR_ATTR_MSG])
			fprintf(stderr, "; extack: '%s'", (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
		if (tb[NLMSGERR_ATTR_OFFS])
			fprintf(stderr, " offset %u", nla_u32(tb[NLMSGERR_ATTR_OFFS]));
#ifdef NLMSGERR_ATTR_MISS_TYPE
		if (tb[NLMSGERR_ATTR_MISS_TYPE])
			fprintf(stderr, " missing-attr %u", nla_u32(tb[NLMSGERR_ATTR_MISS_TYPE]));
#endif
	}
	fprintf(stderr, "\n");
	return err;
}

/*
 * NLMSG_DONE ends a dump with an int status: 0, or the -errno the dump callback failed with
 * (then possibly followed by extack TLVs).
 */
static int done_status(struct nlmsghdr *nlh)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	int err, off = NLMSG_HDRLEN + sizeof(int);

	if (nlh->nlmsg_len < (unsigned int)off)
		return 0;
	memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
	if (!err)
		return 0;
	fprintf(stderr, "nltest: %s: dump failed: %s (%s)", prog_cmd, strerror(-err),
		errno_name(-err));
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS && (int)nlh->nlmsg_len > off) {
		parse_attrs((struct nlattr *)((char *)nlh + off), nlh->nlmsg_len - off, tb,
			    NLMSGERR_ATTR_MAX);
		if (tb[NLMSGERR_ATTR_MSG])
			fprintf(stderr, "; extack: '%s'", (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	}
	fprintf(stderr, "\n");
	return err;
}

typedef void (*msg_cb)(struct nlmsghdr *nlh, void *arg);

/*
 * Receive the answer to request `seq`: data messages go to cb; ends at the ACK/error (for a
 * doit) or NLMSG_DONE (for a dump). Returns 0 or -errno.
 */
static int nl_recv(int fd, uint32_t seq, msg_cb cb, void *arg, int quiet)
{
	static char buf[BUF_SIZE];
	struct nlmsghdr *nlh;
	ssize_t n;
	int err;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recv");
		}
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				err = handle_error(nlh, quiet);
				return err;
			}
			if (nlh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (cb)
				cb(nlh, arg);
		}
	}
}

static void family_cb(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[CTRL_ATTR_MAX + 1], *gtb[CTRL_ATTR_MCAST_GRP_MAX + 1], *a;
	int len, glen;

	(void)arg;
	parse_genl(nlh, tb, CTRL_ATTR_MAX);
	if (tb[CTRL_ATTR_FAMILY_ID])
		family_id = *(uint16_t *)nla_data(tb[CTRL_ATTR_FAMILY_ID]);
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return;
	a = nla_data(tb[CTRL_ATTR_MCAST_GROUPS]);
	len = tb[CTRL_ATTR_MCAST_GROUPS]->nla_len - NLA_HDRLEN;
	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len) {
		glen = a->nla_len - NLA_HDRLEN;
		parse_attrs(nla_data(a), glen, gtb, CTRL_ATTR_MCAST_GRP_MAX);
		if (gtb[CTRL_ATTR_MCAST_GRP_NAME] && gtb[CTRL_ATTR_MCAST_GRP_ID] &&
		    !strcmp(nla_data(gtb[CTRL_ATTR_MCAST_GRP_NAME]), KPEEK_GENL_MCGRP_EVENTS))
			events_grp = nla_u32(gtb[CTRL_ATTR_MCAST_GRP_ID]);
		len -= NLA_ALIGN(a->nla_len);
		a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
	}
}

/* CTRL_CMD_GETFAMILY "kpeek": the family id and the "events" group id */
static void resolve_family(int fd)
{
	struct msg *m = malloc(sizeof(*m));
	int err;

	msg_init(m, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY);
	((struct genlmsghdr *)(m->buf + NLMSG_HDRLEN))->version = 2;
	put_str(m, CTRL_ATTR_FAMILY_NAME, KPEEK_GENL_NAME);
	nl_send(fd, m);
	err = nl_recv(fd, m->nlh.nlmsg_seq, family_cb, NULL, 1);
	free(m);
	if (err || !family_id) {
		fprintf(stderr, "nltest: %s: generic netlink family '%s' not found: %s\n", prog_cmd,
			KPEEK_GENL_NAME, strerror(-err));
		exit(1);
	}
}

/* ---- printing ---- */

static void print_attrs(struct nlmsghdr *nlh, void *arg)
{
	static const char *const names[KPEEK_A_MAX + 1] = {
		[KPEEK_A_ABI_VERSION] = "abi_version", [KPEEK_A_GROUPS] = "groups",
		[KPEEK_A_COUNTERS] = "counters", [KPEEK_A_GENERATION] = "generation",
		[KPEEK_A_TARGET] = "target", [KPEEK_A_ID] = "id", [KPEEK_A_GROUP_ID] = "group_id",
		[KPEEK_A_GROUP] = "group", [KPEEK_A_COUNTER] = "counter", [KPEEK_A_VALUE] = "value",
		[KPEEK_A_THRESHOLD] = "threshold", [KPEEK_A_EVENT] = "event",
	};
	static const char *const events[] = {
		"unspec", "group_created", "group_removed", "counter_created", "counter_removed",
		"threshold",
	};
	struct nlattr *tb[KPEEK_A_MAX + 1];
	const char *sep = "";
	int t;

	(void)arg;
	parse_genl(nlh, tb, KPEEK_A_MAX);
	/* the event kind first, then the attributes in type order */
	for (t = 0; t <= KPEEK_A_MAX; t++) {
		int type = t == 0 ? KPEEK_A_EVENT : t;

		if (t == KPEEK_A_EVENT)
			continue;
		if (!tb[type] || !names[type])
			continue;
		printf("%s%s=", sep, names[type]);
		sep = " ";
		switch (type) {
		case KPEEK_A_GROUP:
		case KPEEK_A_COUNTER:
			printf("%s", (char *)nla_data(tb[type]));
			break;
		case KPEEK_A_EVENT:
			if (nla_u32(tb[type]) < sizeof(events) / sizeof(events[0]))
				printf("%s", events[nla_u32(tb[type])]);
			else
				printf("%u", nla_u32(tb[type]));
			break;
		default:
			if (tb[type]->nla_len == NLA_HDRLEN + 8)
				printf("%" PRIu64, nla_u64(tb[type]));
			else
				printf("%u", nla_u32(tb[type]));
		}
	}
	printf("\n");
	fflush(stdout);
}

/* ---- commands ---- */

/* A doit with ACK: replies printed; returns 0 or exits 1 on error. */
static int simple(int fd, struct msg *m, msg_cb cb)
{
	int err;

	nl_send(fd, m);
	err = nl_recv(fd, m->nlh.nlmsg_seq, cb, NULL, 0);
	return err ? 1 : 0;
}

static void id_cb(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[KPEEK_A_MAX + 1];

	parse_genl(nlh, tb, KPEEK_A_MAX);
	if (tb[KPEEK_A_ID])
		*(uint64_t *)arg = nla_u64(tb[KPEEK_A_ID]);
}

struct dump_state {
	unsigned long records, datagrams, intr_msgs;
	int intr_done, ids;
	uint64_t last_gid, last_cid;
	int order_bad;
	int quiet;			/* collect ids instead of printing */
	uint64_t *idv;
	size_t nid, cap;
};

static void dump_record(struct nlmsghdr *nlh, struct dump_state *st)
{
	struct nlattr *tb[KPEEK_A_MAX + 1];
	uint64_t gid, cid;

	parse_genl(nlh, tb, KPEEK_A_MAX);
	if (!tb[KPEEK_A_ID] || !tb[KPEEK_A_GROUP_ID] || !tb[KPEEK_A_GROUP] ||
	    !tb[KPEEK_A_COUNTER] || !tb[KPEEK_A_VALUE]) {
		fprintf(stderr, "nltest: dump: a record lacks an attribute\n");
		exit(1);
	}
	gid = nla_u64(tb[KPEEK_A_GROUP_ID]);
	cid = nla_u64(tb[KPEEK_A_ID]);
	/* dump order: groups by id, counters by id within a group; never a duplicate */
	if (st->records && (gid < st->last_gid || (gid == st->last_gid && cid <= st->last_cid)))
		st->order_bad++;
	st->last_gid = gid;
	st->last_cid = cid;
	st->records++;
	if (st->quiet) {
		if (st->nid == st->cap) {
			st->cap = st->cap ? 2 * st->cap : 1024;
			st->idv = realloc(st->idv, st->cap * sizeof(*st->idv));
			if (!st->idv)
				die("realloc");
		}
		st->idv[st->nid++] = cid;
		return;
	}
	if (st->ids)
		printf("%" PRIu64 " %" PRIu64 " ", gid, cid);
	printf("%s %s %" PRIu64 "\n", (char *)nla_data(tb[KPEEK_A_GROUP]),
	       (char *)nla_data(tb[KPEEK_A_COUNTER]), nla_u64(tb[KPEEK_A_VALUE]));
}

/*
 * Reads one dump datagram by datagram (recv buffer `bufsize`, which also sizes the kernel's
 * dump skbs: it sizes them by the largest recv buffer the socket has seen, hence a fresh
 * socket); `between` runs after the first datagram. Returns 0 at NLMSG_DONE or -errno.
 */
static int dump_run(const char *group, size_t bufsize, struct dump_state *st,
		    void (*between)(void *), void *arg)
{
	struct msg *m = malloc(sizeof(*m));
	char *buf = malloc(bufsize);
	struct iovec iov = { .iov_base = buf, .iov_len = bufsize };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct nlmsghdr *nlh;
	int fd = nl_open();
	uint32_t seq;
	ssize_t n;

	msg_init(m, family_id, NLM_F_DUMP, KPEEK_CMD_GET_COUNTERS);
	if (group)
		put_str(m, KPEEK_A_GROUP, group);
	nl_send(fd, m);
	seq = m->nlh.nlmsg_seq;
	free(m);
	for (;;) {
		n = recvmsg(fd, &mh, 0);
		if (n < 0)
			die("recv");
		if (mh.msg_flags & MSG_TRUNC) {
			fprintf(stderr, "nltest: dump: a datagram larger than the %zu-byte buffer\n",
				bufsize);
			exit(1);
		}
		st->datagrams++;
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
				st->intr_msgs++;
				if (nlh->nlmsg_type == NLMSG_DONE)
					st->intr_done = 1;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR)
				return handle_error(nlh, 0);
			if (nlh->nlmsg_type == NLMSG_DONE) {
				free(buf);
				close(fd);
				return done_status(nlh);
			}
			if (nlh->nlmsg_type != family_id) {
				fprintf(stderr, "nltest: dump: unexpected message type %u\n",
					nlh->nlmsg_type);
				exit(1);
			}
			dump_record(nlh, st);
		}
		if (between && st->datagrams == 1)
			between(arg);
	}
}

static void run_shell(void *cmd)
{
	int status;

	fflush(stdout);
	status = system(cmd);
	fprintf(stderr, "nltest: dump: mid-dump command exited %d\n",
		WIFEXITED(status) ? WEXITSTATUS(status) : 128);
}

static int cmd_dump(int fd, int argc, char **argv)
{
	struct dump_state st = { 0 };
	const char *group = NULL;
	char *shell = NULL;
	size_t bufsize = 32768;
	int opt, consistent = 0, err;

	while ((opt = getopt(argc, argv, "g:b:icx:")) != -1) {
		switch (opt) {
		case 'x': shell = optarg; break;
		case 'g': group = optarg; break;
		case 'b': bufsize = num(optarg); break;
		case 'i': st.ids = 1; break;
		case 'c': consistent = 1; break;
		default: usage();
		}
	}
	(void)fd;
	err = dump_run(group, bufsize, &st, shell ? run_shell : NULL, shell);
	fflush(stdout);
	fprintf(stderr, "nltest: dump: %lu records in %lu datagrams, intr %lu, order errors %d\n",
		st.records, st.datagrams, st.intr_msgs, st.order_bad);
	if (err)
		return 1;
	if (st.order_bad)
		return 1;
	if (consistent && st.intr_msgs)
		return 1;
	return 0;
}

static int create(int fd, const char *group, const char *counter, uint64_t *id, int quiet)
{
	static struct msg m;
	int err;

	msg_init(&m, family_id, NLM_F_ACK, KPEEK_CMD_CREATE);
	put_str(&m, KPEEK_A_GROUP, group);
	if (counter)
		put_str(&m, KPEEK_A_COUNTER, counter);
	nl_send(fd, &m);
	*id = 0;
	err = nl_recv(fd, m.nlh.nlmsg_seq, id_cb, id, quiet);
	if (!err && !*id) {
		fprintf(stderr, "nltest: create: no ID in the reply\n");
		exit(1);
	}
	return err;
}

struct intr_arg {
	const char *group;
	unsigned long n;
};

static void intr_between(void *p)
{
	struct intr_arg *a = p;
	char name[32];
	uint64_t id;
	unsigned long i;
	int fd = nl_open();

	/* Names from the clock: each run makes new ones. */
	for (i = 0; i < a->n; i++) {
		snprintf(name, sizeof(name), "i%lx_%lu", (unsigned long)time(NULL) & 0xffffff, i);
		if (create(fd, a->group, name, &id, 0))
			exit(1);
	}
	close(fd);
}

static int cmd_dump_intr(int fd, int argc, char **argv)
{
	struct intr_arg a;
	struct dump_state st = { 0 };

	if (argc != 3)
		usage();
	a.group = argv[1];
	a.n = num(argv[2]);
	if (freopen("/dev/null", "w", stdout) == NULL)
		die("freopen");
	(void)fd;
	if (dump_run(NULL, 4096, &st, intr_between, &a))
		return 1;
	fprintf(stderr,
		"nltest: dump-intr: %lu records in %lu datagrams, %lu marked NLM_F_DUMP_INTR (done marked: %d)\n",
		st.records, st.datagrams, st.intr_msgs, st.intr_done);
	return st.intr_msgs ? 0 : 1;
}

/* SET_THRESHOLD on every counter of GROUP, in one process (thousands of them) */
static int cmd_threshold_group(int fd, int argc, char **argv)
{
	struct dump_state st = { .quiet = 1 };
	static struct msg m;
	uint64_t value;
	size_t i;

	if (argc != 3)
		usage();
	value = num(argv[2]);
	if (dump_run(argv[1], 32768, &st, NULL, NULL))
		return 1;
	for (i = 0; i < st.nid; i++) {
		msg_init(&m, family_id, NLM_F_ACK, KPEEK_CMD_SET_THRESHOLD);
		put_u64(&m, KPEEK_A_ID, st.idv[i]);
		put_u64(&m, KPEEK_A_THRESHOLD, value);
		if (simple(fd, &m, NULL))
			return 1;
	}
	printf("%zu\n", st.nid);
	return 0;
}

static int cmd_create_many(int fd, int argc, char **argv)
{
	char name[64];
	unsigned long i, n;
	int width;
	uint64_t id;

	if (argc != 4)
		usage();
	n = num(argv[2]);
	width = snprintf(name, sizeof(name), "%lu", n ? n - 1 : 0);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%0*lu", argv[3], width, i);
		if (create(fd, argv[1], name, &id, 0))
			return 1;
	}
	return 0;
}

static int cmd_listen(int fd, int argc, char **argv)
{
	static char buf[BUF_SIZE];
	struct nlmsghdr *nlh;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned long want, got = 0;
	struct timespec t0, t;
	long timeout_ms, left;
	ssize_t n;

	if (argc != 3)
		usage();
	want = num(argv[1]);
	timeout_ms = num(argv[2]);
	if (!events_grp) {
		fprintf(stderr, "nltest: listen: the family has no '%s' group\n",
			KPEEK_GENL_MCGRP_EVENTS);
		return 1;
	}
	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &events_grp, sizeof(events_grp)))
		die("NETLINK_ADD_MEMBERSHIP");
	printf("listening\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < want) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - (t.tv_sec - t0.tv_sec) * 1000 -
		       (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			fprintf(stderr, "nltest: listen: timeout after %lu of %lu events\n", got, want);
			return 1;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			die("recv");
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_type != family_id)
				continue;
			if (((struct genlmsghdr *)NLMSG_DATA(nlh))->cmd != KPEEK_CMD_EVENT) {
				fprintf(stderr, "nltest: listen: a multicast message that is not EVENT\n");
				return 1;
			}
			print_attrs(nlh, NULL);
			got++;
		}
	}
	return 0;
}

/* TYPE:KIND=VALUE */
static void raw_attr(struct msg *m, const char *spec)
{
	char kind[16];
	const char *colon = strchr(spec, ':'), *eq = strchr(spec, '=');
	char tbuf[16];
	unsigned char bin[4096];
	size_t klen, i, blen;
	int type;

	if (!colon || !eq || eq < colon || colon - spec >= (long)sizeof(tbuf) ||
	    (klen = eq - colon - 1) >= sizeof(kind))
		usage();
	memcpy(tbuf, spec, colon - spec);
	tbuf[colon - spec] = 0;
	type = num(tbuf);
	memcpy(kind, colon + 1, klen);
	kind[klen] = 0;
	eq++;
	if (!strcmp(kind, "u8")) {
		uint8_t v = num(eq);
		put_attr(m, type, &v, 1);
	} else if (!strcmp(kind, "u16")) {
		uint16_t v = num(eq);
		put_attr(m, type, &v, 2);
	} else if (!strcmp(kind, "u32")) {
		put_u32(m, type, num(eq));
	} else if (!strcmp(kind, "s32")) {
		int32_t v = strtol(eq, NULL, 0);
		put_attr(m, type, &v, 4);
	} else if (!strcmp(kind, "u64")) {
		put_u64(m, type, num(eq));
	} else if (!strcmp(kind, "str")) {
		put_str(m, type, eq);
	} else if (!strcmp(kind, "nonul")) {
		put_attr(m, type, eq, strlen(eq));
	} else if (!strcmp(kind, "empty")) {
		put_attr(m, type, NULL, 0);
	} else if (!strcmp(kind, "hex")) {
		blen = strlen(eq) / 2;
		if (blen > sizeof(bin))
			usage();
		for (i = 0; i < blen; i++)
			sscanf(eq + 2 * i, "%2hhx", &bin[i]);
		put_attr(m, type, bin, blen);
	} else {
		usage();
	}
}

static int cmd_raw(int fd, int argc, char **argv)
{
	static struct msg m;
	struct genlmsghdr *g;
	int opt, flags = NLM_F_ACK, reserved = 0, version = KPEEK_GENL_VERSION, cmd;

	if (argc < 2)
		usage();
	cmd = num(argv[1]);
	optind = 2;
	while ((opt = getopt(argc, argv, "f:r:v:")) != -1) {
		switch (opt) {
		case 'f': flags = num(optarg); break;
		case 'r': reserved = num(optarg); break;
		case 'v': version = num(optarg); break;
		default: usage();
		}
	}
	g = msg_init(&m, family_id, flags, cmd);
	g->reserved = reserved;
	g->version = version;
	for (; optind < argc; optind++)
		raw_attr(&m, argv[optind]);
	return simple(fd, &m, print_attrs);
}

int main(int argc, char **argv)
{
	static struct msg m;
	const char *cmd;
	uint64_t id;
	int fd, i;

	if (argc < 2)
		usage();
	cmd = prog_cmd = argv[1];
	fd = nl_open();
	resolve_family(fd);

	if (!strcmp(cmd, "family")) {
		printf("id=%d events=%d\n", family_id, events_grp);
		return 0;
	}
	if (!strcmp(cmd, "info") && argc == 2) {
		msg_init(&m, family_id, NLM_F_ACK, KPEEK_CMD_GET_INFO);
		return simple(fd, &m, print_attrs);
	}
	if (!strcmp(cmd, "get") && (argc == 3 || argc == 4)) {
		msg_init(&m, family_id, NLM_F_ACK, KPEEK_CMD_GET_COUNTER);
		if (argc == 3) {
			put_u64(&m, KPEEK_A_ID, num(argv[2]));
		} else {
			put_str(&m, KPEEK_A_GROUP, argv[2]);
			put_str(&m, KPEEK_A_COUNTER, argv[3]);
		}
		return simple(fd, &m, print_attrs);
	}
	if (!strcmp(cmd, "dump"))
		return cmd_dump(fd, argc - 1, argv + 1);
	if (!strcmp(cmd, "dump-intr"))
		return cmd_dump_intr(fd, argc - 1, argv + 1);
	if (!strcmp(cmd, "create") && (argc == 3 || argc == 4)) {
		if (create(fd, argv[2], argc == 4 ? argv[3] : NULL, &id, 0))
			return 1;
		printf("%" PRIu64 "\n", id);
		return 0;
	}
	if (!strcmp(cmd, "threshold-group"))
		return cmd_threshold_group(fd, argc - 1, argv + 1);
	if (!strcmp(cmd, "create-many"))
		return cmd_create_many(fd, argc - 1, argv + 1);
	if (!strcmp(cmd, "destroy") && (argc == 3 || argc == 4)) {
		msg_init(&m, family_id, NLM_F_ACK, KPEEK_CMD_DESTROY);
		put_u64(&m, KPEEK_A_ID, num(argv[2]));
		if (argc == 4)
			put_u32(&m, KPEEK_A_TARGET, num(argv[3]));
		return simple(fd, &m, NULL);
	}
	if (!strcmp(cmd, "reset") && argc <= 4) {
		msg_init(&m, family_id, NLM_F_ACK, KPEEK_CMD_RESET);
		if (argc >= 3)
			put_u64(&m, KPEEK_A_ID, num(argv[2]));
		if (argc == 4)
			put_u32(&m, KPEEK_A_TARGET, num(argv[3]));
		return simple(fd, &m, NULL);
	}
	if (!strcmp(cmd, "threshold") && argc == 4) {
		msg_init(&m, family_id, NLM_F_ACK, KPEEK_CMD_SET_THRESHOLD);
		put_u64(&m, KPEEK_A_ID, num(argv[2]));
		put_u64(&m, KPEEK_A_THRESHOLD, num(argv[3]));
		return simple(fd, &m, NULL);
	}
	if (!strcmp(cmd, "probe") && argc >= 4) {
		msg_init(&m, family_id, NLM_F_ACK, KPEEK_CMD_PROBE_SET);
		put_u32(&m, KPEEK_A_PROBE, num(argv[2]));
		put_u32(&m, KPEEK_A_PROBE_FLAGS, num(argv[3]));
		for (i = 4; i < argc; i++) {
			if (!strncmp(argv[i], "dev=", 4))
				put_str(&m, KPEEK_A_FILTER_DEV, argv[i] + 4);
			else if (!strncmp(argv[i], "pid=", 4))
				put_u32(&m, KPEEK_A_FILTER_PID, num(argv[i] + 4));
			else if (!strncmp(argv[i], "minlen=", 7))
				put_u32(&m, KPEEK_A_FILTER_MINLEN, num(argv[i] + 7));
			else
				usage();
		}
		return simple(fd, &m, NULL);
	}
	if (!strcmp(cmd, "listen"))
		return cmd_listen(fd, argc - 1, argv + 1);
	if (!strcmp(cmd, "raw"))
		return cmd_raw(fd, argc - 1, argv + 1);
	usage();
	return 2;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * kpeekdev - kernel-level checks of /dev/kpeek for the guest suite (vmtest/guest/6[0-4]-*.sh),
 * written against include/uapi/kpeek.h alone, independent of the Rust client. Built statically
 * by vmtest/run. Each subcommand prints PASS:/FAIL: lines and exits 1 if anything failed.
 *
 *	kpeekdev snap			print the read() snapshot as `group counter value` lines
 *	kpeekdev snap-check		header, partial reads, lseek, one copy per snapshot
 *	kpeekdev ioctl-errno		every errno of every command (run as root)
 *	kpeekdev ioctl-user		opens as root, drops to uid 1000: mutations -> EPERM
 *	kpeekdev ioctl-dump		GET_COUNTERS (paged) as `group counter value` lines
 *	kpeekdev mmap-dump		MMAP_SYNC + seqcount read as `group counter value` lines
 *	kpeekdev mmap-check		mapping rules: read-only, sizes, MAP_PRIVATE, live refresh
 *	kpeekdev ring SIZE PACKETS	rings + netif probe (dev=lo): records, seq, lost, poll
 *	kpeekdev ring-poll		poll() sleeps and wakes (irq_work), watermark
 *	kpeekdev probe-check		sched_switch/netif filters and counts, block attach
 *	kpeekdev pin ORDER		rmmod refused while open/mapped; ORDER: close-first|unmap-first|ring
 *	kpeekdev ring-claim		one owner per rings: EBUSY for others, read-only pages,
 *					RING_CONSUME rules, claim ends with the owner, refcounts
 *	kpeekdev ring-hotplug		rings per online CPU, following CPU 1 offline/online
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <kpeek.h>

static int failures;

static void pass(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("PASS: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures++;
}

static void check(int ok, const char *what)
{
	if (ok)
		pass("%s", what);
	else
		fail("%s", what);
}

/* expect ioctl(fd, cmd, arg) to fail with want (0: succeed) */
static void expect(const char *what, int fd, unsigned long cmd, void *arg, int want)
{
	int r = ioctl(fd, cmd, arg);
	int e = r < 0 ? errno : 0;

	if (e == want)
		pass("%s -> %s", what, want ? strerrorname_np(want) : "ok");
	else
		fail("%s: got %s, want %s", what, e ? strerrorname_np(e) : "success",
		     want ? strerrorname_np(want) : "success");
}

static int dev_open(void)
{
	int fd = open(KPEEK_DEV_PATH, O_RDWR);

	if (fd < 0) {
		printf("FAIL: open %s: %s\n", KPEEK_DEV_PATH, strerror(errno));
		exit(1);
	}
	return fd;
}

static int finish(void)
{
	fflush(stdout);
	return failures ? 1 : 0;
}

/* ---- read() snapshot ---- */

static char *read_all(int fd, size_t *len, size_t chunk)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	for (;;) {
		if (n + chunk > cap) {
			cap = (n + chunk) * 2;
			buf = realloc(buf, cap);
		}
		r = read(fd, buf + n, chunk);
		if (r < 0) {
			fail("read: %s", strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += r;
	}
	*len = n;
	return buf;
}

static void print_recs(const struct kpeek_counter_rec *r, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		printf("%s %s %llu\n", r[i].group, r[i].counter, (unsigned long long)r[i].value);
}

static int cmd_snap(void)
{
	int fd = dev_open();
	struct kpeek_snap_header *h;
	size_t len;
	char *buf = read_all(fd, &len, 4096);

	h = (void *)buf;
	if (len < sizeof(*h) || h->magic != KPEEK_SNAP_MAGIC ||
	    len != h->header_size + (size_t)h->count * h->record_size) {
		fprintf(stderr, "kpeekdev: bad snapshot (%zu bytes)\n", len);
		return 1;
	}
	print_recs((void *)(buf + h->header_size), h->count);
	return 0;
}

static int create(int fd, unsigned int target, const char *g, const char *c, uint64_t *id)
{
	struct kpeek_create k = { .size = sizeof(k), .target = target };

	strncpy(k.group, g, sizeof(k.group) - 1);
	if (c)
		strncpy(k.counter, c, sizeof(k.counter) - 1);
	if (ioctl(fd, KPEEK_IOC_CREATE, &k))
		return -errno;
	if (id)
		*id = k.id;
	return 0;
}

static int destroy(int fd, unsigned int target, uint64_t id)
{
	struct kpeek_destroy k = { .size = sizeof(k), .target = target, .id = id };

	return ioctl(fd, KPEEK_IOC_DESTROY, &k) ? -errno : 0;
}

static int cmd_snap_check(void)
{
	int fd = dev_open(), fd2;
	struct kpeek_snap_header *h;
	size_t len, len2, chunk;
	char *a, *b, small[64];
	uint64_t gid;
	off_t off;
	ssize_t r;
	unsigned int count0;

	a = read_all(fd, &len, 1 << 20);
	h = (void *)a;
	check(len >= sizeof(*h) && h->magic == KPEEK_SNAP_MAGIC, "snapshot magic");
	check(h->abi_version == KPEEK_ABI_VERSION, "snapshot abi_version");
	check(h->header_size == sizeof(*h) && h->record_size == sizeof(struct kpeek_counter_rec),
	      "snapshot header_size and record_size");
	check(len == h->header_size + (size_t)h->count * h->record_size,
	      "snapshot length = header + count * record");
	count0 = h->count;

	/* Partial reads of every size rebuild nothing after offset 0: same bytes (quiet system). */
	for (chunk = 1; chunk <= 97; chunk += 24) {
		if (lseek(fd, 0, SEEK_SET) != 0)
			fail("lseek 0: %s", strerror(errno));
		b = read_all(fd, &len2, chunk);
		if (len2 == len && !memcmp(a, b, len))
			pass("reads of %zu bytes give the same snapshot", chunk);
		else
			fail("reads of %zu bytes: %zu bytes, want %zu", chunk, len2, len);
		free(b);
	}
	off = lseek(fd, 0, SEEK_END);
	check(off == (off_t)len, "SEEK_END is the snapshot size");
	check(read(fd, small, sizeof(small)) == 0, "read at the end returns 0");
	check(lseek(fd, 100, SEEK_END) == (off_t)len + 100 && read(fd, small, 8) == 0,
	      "read past the end returns 0");
	off = lseek(fd, 30, SEEK_SET);
	r = read(fd, small, 20);
	check(off == 30 && r == 20 && !memcmp(small, a + 30, 20), "SEEK_SET 30 + read 20");
	off = lseek(fd, 10, SEEK_CUR);
	r = read(fd, small, 16);
	check(off == 60 && r == 16 && !memcmp(small, a + 60, 16), "SEEK_CUR +10 + read 16");
	errno = 0;
	check(lseek(fd, -1, SEEK_SET) < 0 && errno == EINVAL, "negative SEEK_SET -> EINVAL");

	/* One copy per snapshot: a counter created mid-read is not in it; the next one has it. */
	lseek(fd, 0, SEEK_SET);
	r = read(fd, small, 8);
	if (create(fd, KPEEK_TARGET_GROUP, "snapmid", NULL, &gid) ||
	    create(fd, KPEEK_TARGET_COUNTER, "snapmid", "c", NULL)) {
		fail("create snapmid: %s", strerror(errno));
	} else {
		b = read_all(fd, &len2, 7);
		check(r == 8 && len2 + 8 == len && !memcmp(b, a + 8, len2),
		      "rest of a snapshot after a create is the old copy");
		free(b);
		lseek(fd, 0, SEEK_SET);
		b = read_all(fd, &len2, 4096);
		h = (void *)b;
		check(h->count == count0 + 1 && len2 == len + sizeof(struct kpeek_counter_rec),
		      "back at offset 0: a new snapshot with the new counter");
		check(!strcmp(((struct kpeek_counter_rec *)(b + h->header_size))[count0].group,
			      "snapmid"), "the new counter is last (creation order)");
		free(b);
		check(destroy(fd, KPEEK_TARGET_GROUP, gid) == 0, "destroy snapmid");
	}

	/* Two open files have their own snapshots. */
	fd2 = dev_open();
	check(lseek(fd2, 0, SEEK_END) == (off_t)len, "a second open file has its own snapshot");
	close(fd2);
	close(fd);
	free(a);
	return finish();
}

/* ---- ioctl ---- */

static int cmd_ioctl_errno(void)
{
	int fd = dev_open();
	struct kpeek_info info = { .size = sizeof(info) };
	struct kpeek_counter_get cg = { .size = sizeof(cg) };
	struct kpeek_counters_get cs = { .size = sizeof(cs) };
	struct kpeek_reset rs = { .size = sizeof(rs) };
	struct kpeek_create cr = { .size = sizeof(cr) };
	struct kpeek_destroy ds = { .size = sizeof(ds) };
	struct kpeek_probe_config pc = { .size = sizeof(pc) };
	struct kpeek_ring_config rc = { .size = sizeof(rc) };
	struct kpeek_counter_rec recs[4];
	void *bad = (void *)16;
	uint64_t gid, cid, cid2;
	int i;

	/* Unknown commands: another letter, another number, a known number with another size. */
	expect("unknown cmd (other letter)", fd, _IOR('X', 0, int), &info, ENOTTY);
	expect("unknown cmd (number 0x7f)", fd, _IOWR(KPEEK_IOC_MAGIC, 0x7f, struct kpeek_info),
	       &info, ENOTTY);
	expect("INFO with another size in the cmd", fd, _IOWR(KPEEK_IOC_MAGIC, 0, __u64), &info,
	       ENOTTY);
	expect("INFO with another direction", fd, _IOR(KPEEK_IOC_MAGIC, 0, struct kpeek_info),
	       &info, ENOTTY);

	/* INFO */
	expect("INFO", fd, KPEEK_IOC_INFO, &info, 0);
	check(info.abi_version == KPEEK_ABI_VERSION && info.nr_cpus > 0 &&
	      info.max_counters > 0 && info.mmap_counters_size > 0, "INFO values");
	expect("INFO bad pointer", fd, KPEEK_IOC_INFO, bad, EFAULT);
	expect("INFO NULL", fd, KPEEK_IOC_INFO, NULL, EFAULT);
	info.size = sizeof(info) - 8;
	expect("INFO size-8", fd, KPEEK_IOC_INFO, &info, EINVAL);
	info.size = 0;
	expect("INFO size 0", fd, KPEEK_IOC_INFO, &info, EINVAL);
	info.size = sizeof(info);
	info.reserved = 1;
	expect("INFO reserved != 0", fd, KPEEK_IOC_INFO, &info, EINVAL);
	info.reserved = 0;

	/* CREATE / DESTROY */
	strcpy(cr.group, "ioc_g");
	cr.target = KPEEK_TARGET_GROUP;
	expect("CREATE group", fd, KPEEK_IOC_CREATE, &cr, 0);
	gid = cr.id;
	check(gid > 0, "CREATE returns the group id");
	expect("CREATE group again", fd, KPEEK_IOC_CREATE, &cr, EEXIST);
	cr.target = KPEEK_TARGET_COUNTER;
	strcpy(cr.counter, "c1");
	expect("CREATE counter", fd, KPEEK_IOC_CREATE, &cr, 0);
	cid = cr.id;
	strcpy(cr.counter, "c2");
	expect("CREATE counter c2", fd, KPEEK_IOC_CREATE, &cr, 0);
	cid2 = cr.id;
	check(cid > gid && cid2 > cid, "ids grow");
	expect("CREATE counter again", fd, KPEEK_IOC_CREATE, &cr, EEXIST);
	strcpy(cr.counter, "bad-name");
	expect("CREATE bad counter name", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	strcpy(cr.counter, "reset");
	expect("CREATE reserved counter name", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	memset(cr.counter, 'a', sizeof(cr.counter));
	expect("CREATE counter name without NUL", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	memset(cr.counter, 0, sizeof(cr.counter));
	expect("CREATE empty counter name", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	strcpy(cr.counter, "x");
	strcpy(cr.group, "nosuchgroup");
	expect("CREATE counter in a missing group", fd, KPEEK_IOC_CREATE, &cr, ENOENT);
	strcpy(cr.group, "kpeek_example");
	expect("CREATE counter in a module's group", fd, KPEEK_IOC_CREATE, &cr, EPERM);
	cr.target = KPEEK_TARGET_GROUP;
	expect("CREATE group with a counter name set", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	memset(cr.counter, 0, sizeof(cr.counter));
	expect("CREATE group named like a module's", fd, KPEEK_IOC_CREATE, &cr, EEXIST);
	strcpy(cr.group, "info");
	expect("CREATE reserved group name", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	strcpy(cr.group, KPEEK_PROBES_GROUP);
	expect("CREATE group named like the probes' group", fd, KPEEK_IOC_CREATE, &cr, EEXIST);
	memset(cr.group, 'g', KPEEK_NAME_MAX + 1);
	expect("CREATE group name without NUL", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	memset(cr.group, 0, sizeof(cr.group));
	memset(cr.group, 'g', KPEEK_NAME_MAX);
	expect("CREATE 31-byte group name", fd, KPEEK_IOC_CREATE, &cr, 0);
	ds.target = KPEEK_TARGET_GROUP;
	ds.id = cr.id;
	expect("DESTROY it", fd, KPEEK_IOC_DESTROY, &ds, 0);
	cr.target = 0;
	strcpy(cr.group, "x");
	expect("CREATE target ALL", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	cr.target = 9;
	expect("CREATE target 9", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	cr.target = KPEEK_TARGET_GROUP;
	cr.size = 1;
	expect("CREATE size 1", fd, KPEEK_IOC_CREATE, &cr, EINVAL);
	expect("CREATE bad pointer", fd, KPEEK_IOC_CREATE, bad, EFAULT);

	/* GET_COUNTER */
	cg.id = cid;
	expect("GET_COUNTER", fd, KPEEK_IOC_GET_COUNTER, &cg, 0);
	check(cg.rec.id == cid && cg.rec.group_id == gid && !strcmp(cg.rec.group, "ioc_g") &&
	      !strcmp(cg.rec.counter, "c1") && cg.rec.value == 0, "GET_COUNTER record");
	cg.id = gid;
	expect("GET_COUNTER with a group id", fd, KPEEK_IOC_GET_COUNTER, &cg, ENOENT);
	cg.id = 0;
	expect("GET_COUNTER id 0", fd, KPEEK_IOC_GET_COUNTER, &cg, ENOENT);
	cg.id = ~0ULL;
	expect("GET_COUNTER id max", fd, KPEEK_IOC_GET_COUNTER, &cg, ENOENT);
	cg.id = cid;
	cg.flags = 1;
	expect("GET_COUNTER flags", fd, KPEEK_IOC_GET_COUNTER, &cg, EINVAL);
	cg.flags = 0;
	cg.size = sizeof(cg) + 8;
	expect("GET_COUNTER size+8", fd, KPEEK_IOC_GET_COUNTER, &cg, EINVAL);
	cg.size = sizeof(cg);
	expect("GET_COUNTER bad pointer", fd, KPEEK_IOC_GET_COUNTER, bad, EFAULT);
	/* out: the kernel writes the whole struct; a read-only page faults on the way back. */
	{
		void *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);

		memcpy(ro, &cg, sizeof(cg));
		mprotect(ro, 4096, PROT_READ);
		expect("GET_COUNTER read-only argument", fd, KPEEK_IOC_GET_COUNTER, ro, EFAULT);
		munmap(ro, 4096);
	}

	/* GET_COUNTERS */
	cs.recs = (uintptr_t)recs;
	cs.capacity = 4;
	expect("GET_COUNTERS", fd, KPEEK_IOC_GET_COUNTERS, &cs, 0);
	check(cs.total >= 2 && cs.count == (cs.total < 4 ? cs.total : 4), "GET_COUNTERS count");
	cs.start = cs.total - 1;
	expect("GET_COUNTERS last page", fd, KPEEK_IOC_GET_COUNTERS, &cs, 0);
	check(cs.count == 1 && recs[0].id == cid2, "GET_COUNTERS start = total-1 gives the last");
	cs.start = cs.total + 5;
	expect("GET_COUNTERS start past the end", fd, KPEEK_IOC_GET_COUNTERS, &cs, 0);
	check(cs.count == 0, "GET_COUNTERS past the end: count 0");
	cs.start = 0;
	cs.capacity = 0;
	cs.recs = 8;
	expect("GET_COUNTERS capacity 0 (pointer unused)", fd, KPEEK_IOC_GET_COUNTERS, &cs, 0);
	check(cs.count == 0 && cs.total >= 2 && cs.generation == info.generation + 5,
	      "GET_COUNTERS capacity 0: total and generation");
	cs.capacity = 4;
	expect("GET_COUNTERS bad recs pointer", fd, KPEEK_IOC_GET_COUNTERS, &cs, EFAULT);
	cs.recs = (uintptr_t)recs;
	cs.flags = 2;
	expect("GET_COUNTERS flags", fd, KPEEK_IOC_GET_COUNTERS, &cs, EINVAL);
	cs.flags = 0;
	cs.size = 0;
	expect("GET_COUNTERS size 0", fd, KPEEK_IOC_GET_COUNTERS, &cs, EINVAL);
	cs.size = sizeof(cs);
	expect("GET_COUNTERS bad pointer", fd, KPEEK_IOC_GET_COUNTERS, bad, EFAULT);

	/* RESET */
	rs.target = KPEEK_TARGET_COUNTER;
	rs.id = cid;
	expect("RESET counter", fd, KPEEK_IOC_RESET, &rs, 0);
	rs.target = KPEEK_TARGET_GROUP;
	rs.id = gid;
	expect("RESET group", fd, KPEEK_IOC_RESET, &rs, 0);
	rs.id = cid;
	expect("RESET group with a counter id", fd, KPEEK_IOC_RESET, &rs, ENOENT);
	rs.target = KPEEK_TARGET_COUNTER;
	rs.id = gid;
	expect("RESET counter with a group id", fd, KPEEK_IOC_RESET, &rs, ENOENT);
	rs.target = KPEEK_TARGET_ALL;
	rs.id = 1;
	expect("RESET all with an id", fd, KPEEK_IOC_RESET, &rs, EINVAL);
	rs.target = 3;
	expect("RESET target 3", fd, KPEEK_IOC_RESET, &rs, EINVAL);
	rs.target = KPEEK_TARGET_ALL;
	rs.id = 0;
	rs.size = 8;
	expect("RESET size 8", fd, KPEEK_IOC_RESET, &rs, EINVAL);
	expect("RESET bad pointer", fd, KPEEK_IOC_RESET, bad, EFAULT);

	/* DESTROY */
	ds.size = sizeof(ds);
	ds.target = KPEEK_TARGET_COUNTER;
	ds.id = gid;
	expect("DESTROY counter with a group id", fd, KPEEK_IOC_DESTROY, &ds, ENOENT);
	ds.target = KPEEK_TARGET_ALL;
	expect("DESTROY target ALL", fd, KPEEK_IOC_DESTROY, &ds, EINVAL);
	ds.target = KPEEK_TARGET_COUNTER;
	ds.id = cid2;
	expect("DESTROY counter", fd, KPEEK_IOC_DESTROY, &ds, 0);
	expect("DESTROY counter again", fd, KPEEK_IOC_DESTROY, &ds, ENOENT);
	cg.id = cid2;
	expect("GET_COUNTER of a destroyed counter", fd, KPEEK_IOC_GET_COUNTER, &cg, ENOENT);
	{
		/* A module's group and counter: not user space's to destroy. */
		struct kpeek_counters_get all = { .size = sizeof(all), .recs = (uintptr_t)recs,
						  .capacity = 4 };
		uint64_t ex = 0, exg = 0;

		ioctl(fd, KPEEK_IOC_GET_COUNTERS, &all);
		for (i = 0; i < (int)all.count; i++)
			if (!strcmp(recs[i].group, "kpeek_example")) {
				ex = recs[i].id;
				exg = recs[i].group_id;
			}
		check(ex != 0, "kpeek_example's counter is listed");
		ds.target = KPEEK_TARGET_COUNTER;
		ds.id = ex;
		expect("DESTROY a module's counter", fd, KPEEK_IOC_DESTROY, &ds, EPERM);
		ds.target = KPEEK_TARGET_GROUP;
		ds.id = exg;
		expect("DESTROY a module's group", fd, KPEEK_IOC_DESTROY, &ds, EPERM);
	}
	ds.target = KPEEK_TARGET_GROUP;
	ds.id = gid;
	ds.size = sizeof(ds) * 2;
	expect("DESTROY size*2", fd, KPEEK_IOC_DESTROY, &ds, EINVAL);
	ds.size = sizeof(ds);
	expect("DESTROY bad pointer", fd, KPEEK_IOC_DESTROY, bad, EFAULT);
	expect("DESTROY group (with its counter)", fd, KPEEK_IOC_DESTROY, &ds, 0);
	expect("DESTROY group again", fd, KPEEK_IOC_DESTROY, &ds, ENOENT);

	/* PROBE_SET / PROBE_GET (validation only: 63-ring.sh runs the probes) */
	pc.probe = 0;
	expect("PROBE_GET probe 0", fd, KPEEK_IOC_PROBE_GET, &pc, EINVAL);
	pc.probe = KPEEK_PROBE_MAX + 1;
	expect("PROBE_SET probe MAX+1", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	pc.probe = KPEEK_PROBE_SCHED_SWITCH;
	expect("PROBE_GET sched_switch", fd, KPEEK_IOC_PROBE_GET, &pc, 0);
	check(pc.flags == 0, "sched_switch is off");
	pc.flags = 1 << 5;
	expect("PROBE_SET unknown flag", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	pc.flags = KPEEK_PROBE_F_ENABLE;
	pc.filter = KPEEK_FILTER_DEV;
	strcpy(pc.dev, "lo");
	expect("PROBE_SET dev filter on sched_switch", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	pc.filter = 1 << 7;
	memset(pc.dev, 0, sizeof(pc.dev));
	expect("PROBE_SET unknown filter bit", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	pc.filter = 0;
	pc.pid = 5;
	expect("PROBE_SET pid without its filter bit", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	pc.pid = 0;
	pc.probe = KPEEK_PROBE_NETIF_RECEIVE_SKB;
	pc.filter = KPEEK_FILTER_DEV;
	memset(pc.dev, 'x', sizeof(pc.dev));
	expect("PROBE_SET dev without NUL", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	memset(pc.dev, 0, sizeof(pc.dev));
	expect("PROBE_SET empty dev", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	pc.filter = 0;
	pc.min_len = 3;
	expect("PROBE_SET min_len without its filter bit", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	pc.min_len = 0;
	strcpy(pc.dev, "lo");
	expect("PROBE_SET dev without its filter bit", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	memset(pc.dev, 0, sizeof(pc.dev));
	pc.size = 4;
	expect("PROBE_SET size 4", fd, KPEEK_IOC_PROBE_SET, &pc, EINVAL);
	pc.size = sizeof(pc);
	expect("PROBE_SET bad pointer", fd, KPEEK_IOC_PROBE_SET, bad, EFAULT);
	expect("PROBE_GET bad pointer", fd, KPEEK_IOC_PROBE_GET, bad, EFAULT);
	pc.flags = 0;
	expect("PROBE_SET disable an idle probe", fd, KPEEK_IOC_PROBE_SET, &pc, 0);

	/* RING_SETUP */
	rc.data_size = 4096 + 8;
	expect("RING_SETUP not a power of two", fd, KPEEK_IOC_RING_SETUP, &rc, EINVAL);
	rc.data_size = 2048;
	expect("RING_SETUP below a page", fd, KPEEK_IOC_RING_SETUP, &rc, EINVAL);
	rc.data_size = 32 << 20;
	expect("RING_SETUP 32 MiB", fd, KPEEK_IOC_RING_SETUP, &rc, EINVAL);
	rc.data_size = 4096;
	rc.watermark = 4096;
	expect("RING_SETUP watermark = size", fd, KPEEK_IOC_RING_SETUP, &rc, EINVAL);
	rc.watermark = 0;
	rc.flags = 1;
	expect("RING_SETUP flags", fd, KPEEK_IOC_RING_SETUP, &rc, EINVAL);
	rc.flags = 0;
	rc.size = 0;
	expect("RING_SETUP size 0", fd, KPEEK_IOC_RING_SETUP, &rc, EINVAL);
	rc.size = sizeof(rc);
	expect("RING_SETUP bad pointer", fd, KPEEK_IOC_RING_SETUP, bad, EFAULT);
	expect("RING_SETUP 4096", fd, KPEEK_IOC_RING_SETUP, &rc, 0);
	expect("INFO after ring setup", fd, KPEEK_IOC_INFO, &info, 0);
	check(info.ring_data_size == 4096, "INFO ring_data_size");
	{
		void *m = mmap(NULL, 4096 * 2, PROT_READ, MAP_SHARED, fd, KPEEK_MMAP_RING(0));

		check(m != MAP_FAILED, "ring 0 mapped");
		/* The owner may replace its rings while mapped; the mapping keeps the old ones. */
		expect("RING_SETUP by the owner while mapped", fd, KPEEK_IOC_RING_SETUP, &rc, 0);
		if (m != MAP_FAILED) {
			check(((struct kpeek_ring_header *)m)->magic == KPEEK_RING_MAGIC,
			      "the replaced ring's mapping still reads");
			munmap(m, 4096 * 2);
		}
	}
	rc.data_size = 0;
	expect("RING_SETUP 0 frees the rings", fd, KPEEK_IOC_RING_SETUP, &rc, 0);
	expect("INFO after the rings are freed", fd, KPEEK_IOC_INFO, &info, 0);
	check(info.ring_data_size == 0, "INFO ring_data_size 0");

	/* MMAP_SYNC takes no argument */
	expect("MMAP_SYNC", fd, KPEEK_IOC_MMAP_SYNC, NULL, 0);
	close(fd);
	return finish();
}

static int cmd_ioctl_user(void)
{
	int fd = dev_open();
	struct kpeek_info info = { .size = sizeof(info) };
	struct kpeek_create cr = { .size = sizeof(cr), .target = KPEEK_TARGET_GROUP };
	struct kpeek_destroy ds = { .size = sizeof(ds), .target = KPEEK_TARGET_GROUP, .id = 1 };
	struct kpeek_reset rs = { .size = sizeof(rs) };
	struct kpeek_probe_config pc = { .size = sizeof(pc), .probe = 1,
					 .flags = KPEEK_PROBE_F_ENABLE };
	struct kpeek_ring_config rc = { .size = sizeof(rc), .data_size = 4096 };
	struct kpeek_counter_rec recs[2];
	struct kpeek_counters_get cs = { .size = sizeof(cs), .recs = (uintptr_t)recs,
					 .capacity = 2 };

	strcpy(cr.group, "user_g");
	if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) {
		fail("drop privileges: %s", strerror(errno));
		return finish();
	}
	check(open(KPEEK_DEV_PATH, O_RDONLY) < 0 && errno == EACCES,
	      "uid 1000 cannot open /dev/kpeek (0600)");
	/* With a descriptor root handed over: reads work, mutations are refused. */
	expect("user INFO", fd, KPEEK_IOC_INFO, &info, 0);
	expect("user GET_COUNTERS", fd, KPEEK_IOC_GET_COUNTERS, &cs, 0);
	expect("user MMAP_SYNC", fd, KPEEK_IOC_MMAP_SYNC, NULL, 0);
	expect("user CREATE", fd, KPEEK_IOC_CREATE, &cr, EPERM);
	expect("user DESTROY", fd, KPEEK_IOC_DESTROY, &ds, EPERM);
	expect("user RESET", fd, KPEEK_IOC_RESET, &rs, EPERM);
	expect("user PROBE_SET", fd, KPEEK_IOC_PROBE_SET, &pc, EPERM);
	expect("user RING_SETUP", fd, KPEEK_IOC_RING_SETUP, &rc, EPERM);
	/* EPERM comes before the argument is even read. */
	expect("user CREATE bad pointer", fd, KPEEK_IOC_CREATE, (void *)16, EPERM);
	expect("user unknown cmd", fd, _IO(KPEEK_IOC_MAGIC, 0x55), NULL, ENOTTY);
	close(fd);
	return finish();
}

static int cmd_ioctl_dump(void)
{
	int fd = dev_open();
	struct kpeek_counter_rec recs[7];
	struct kpeek_counters_get cs = { .size = sizeof(cs), .recs = (uintptr_t)recs,
					 .capacity = 7 };
	uint64_t gen = 0;

	/* Small pages on purpose: paging must give each counter once. */
	do {
		if (ioctl(fd, KPEEK_IOC_GET_COUNTERS, &cs)) {
			fprintf(stderr, "GET_COUNTERS: %s\n", strerror(errno));
			return 1;
		}
		if (cs.start && cs.generation != gen) {
			fprintf(stderr, "generation changed while paging\n");
			return 1;
		}
		gen = cs.generation;
		print_recs(recs, cs.count);
		cs.start += cs.count;
	} while (cs.count);
	return 0;
}

/* ---- mmap ---- */

static void *map_counters(int fd, size_t *size)
{
	struct kpeek_info info = { .size = sizeof(info) };
	void *m;

	if (ioctl(fd, KPEEK_IOC_INFO, &info)) {
		fail("INFO: %s", strerror(errno));
		return NULL;
	}
	*size = info.mmap_counters_size;
	m = mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, KPEEK_MMAP_COUNTERS);
	if (m == MAP_FAILED) {
		fail("mmap counters: %s", strerror(errno));
		return NULL;
	}
	return m;
}

/* A consistent copy of the slots, by the seqcount protocol of kpeek.h. Returns count. */
static unsigned int snap_counters(const struct kpeek_mmap_counters *h,
				  struct kpeek_mmap_slot *out, unsigned int cap, uint64_t *gen,
				  unsigned int *retries)
{
	const struct kpeek_mmap_slot *slots = (const void *)(h + 1);
	unsigned int s, n;

	for (;;) {
		s = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
		if (s & 1) {
			(*retries)++;
			continue;
		}
		n = h->count < cap ? h->count : cap;
		memcpy(out, slots, n * sizeof(*out));
		*gen = h->generation;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);	/* smp_rmb() */
		if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == s)
			return n;
		(*retries)++;
	}
}

static int cmd_mmap_dump(void)
{
	int fd = dev_open();
	struct kpeek_mmap_counters *h;
	struct kpeek_mmap_slot *slots;
	unsigned int n, i, retries = 0;
	uint64_t gen;
	size_t size;

	if (ioctl(fd, KPEEK_IOC_MMAP_SYNC)) {
		fprintf(stderr, "MMAP_SYNC: %s\n", strerror(errno));
		return 1;
	}
	h = map_counters(fd, &size);
	if (!h)
		return 1;
	/* Sync again with the mapping in place: the values are current now. */
	ioctl(fd, KPEEK_IOC_MMAP_SYNC);
	slots = calloc(h->capacity, sizeof(*slots));
	n = snap_counters(h, slots, h->capacity, &gen, &retries);
	for (i = 0; i < n; i++)
		printf("%s %s %llu\n", slots[i].group, slots[i].counter,
		       (unsigned long long)slots[i].value);
	return 0;
}

static int cmd_mmap_check(void)
{
	int fd = dev_open(), rofd;
	struct kpeek_mmap_counters *h;
	struct kpeek_mmap_slot slots[64];
	struct kpeek_counter_get cg = { .size = sizeof(cg) };
	unsigned int n, i, retries = 0;
	uint64_t gen, cid = 0, gid = 0, t0;
	size_t size;
	void *m;

	h = map_counters(fd, &size);
	if (!h)
		return finish();
	check(h->magic == KPEEK_MMAP_MAGIC, "mapping magic");
	check(sizeof(*h) + (size_t)h->capacity * sizeof(struct kpeek_mmap_slot) <= size,
	      "capacity fits the mapping");
	check(!(h->seq & 1), "seq even at rest");

	errno = 0;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, KPEEK_MMAP_COUNTERS);
	check(m == MAP_FAILED && errno == EPERM, "PROT_WRITE mapping refused with EPERM");
	errno = 0;
	check(mprotect(h, size, PROT_READ | PROT_WRITE) < 0 && errno == EACCES,
	      "mprotect to writable refused (EACCES)");
	errno = 0;
	m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, KPEEK_MMAP_COUNTERS);
	check(m == MAP_FAILED && errno == EINVAL, "MAP_PRIVATE refused with EINVAL");
	errno = 0;
	m = mmap(NULL, size + 4096, PROT_READ, MAP_SHARED, fd, KPEEK_MMAP_COUNTERS);
	check(m == MAP_FAILED && errno == EINVAL, "mapping too long refused with EINVAL");
	errno = 0;
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096);
	check(m == MAP_FAILED && errno == EINVAL, "offset 4096 refused with EINVAL");
	errno = 0;
	m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, KPEEK_MMAP_RING(0));
	check(m == MAP_FAILED && errno == ENODEV, "ring mapping without rings: ENODEV");
	rofd = open(KPEEK_DEV_PATH, O_RDONLY);
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, rofd, KPEEK_MMAP_COUNTERS);
	check(m != MAP_FAILED, "read-only descriptor maps the counters");
	if (m != MAP_FAILED)
		munmap(m, size);
	close(rofd);

	/* The worker keeps it current without MMAP_SYNC. */
	if (create(fd, KPEEK_TARGET_GROUP, "mm_g", NULL, &gid) ||
	    create(fd, KPEEK_TARGET_COUNTER, "mm_g", "c", &cid)) {
		fail("create mm_g/c");
		return finish();
	}
	t0 = h->refresh_ns;
	for (i = 0; i < 100; i++) {
		n = snap_counters(h, slots, 64, &gen, &retries);
		if (n && slots[n - 1].id == cid)
			break;
		usleep(20000);
	}
	check(i < 100, "a new counter appears in the mapping without a system call");
	check(h->refresh_ns > t0, "refresh_ns moves");
	cg.id = cid;
	check(!ioctl(fd, KPEEK_IOC_GET_COUNTER, &cg) && gen == ({
		struct kpeek_info in = { .size = sizeof(in) };

		ioctl(fd, KPEEK_IOC_INFO, &in);
		in.generation;
	}), "mapping generation = INFO generation");
	destroy(fd, KPEEK_TARGET_GROUP, gid);
	ioctl(fd, KPEEK_IOC_MMAP_SYNC);
	n = snap_counters(h, slots, 64, &gen, &retries);
	for (i = 0; i < n; i++)
		if (slots[i].id == cid)
			break;
	check(i == n, "after destroy + MMAP_SYNC the counter is gone from the mapping");
	munmap(h, size);
	close(fd);
	return finish();
}

/* ---- rings ---- */

struct ring_state {
	int fd;			/* the owner: KPEEK_IOC_RING_CONSUME goes through it */
	struct kpeek_ring_header *h;
	uint8_t *data;
	uint32_t next_seq;
	int have_seq;
	uint64_t records, gaps, pads;
};

static int set_probe(int fd, unsigned int probe, unsigned int flags, const char *dev)
{
	struct kpeek_probe_config pc = { .size = sizeof(pc), .probe = probe, .flags = flags };

	if (dev) {
		pc.filter = KPEEK_FILTER_DEV;
		strncpy(pc.dev, dev, sizeof(pc.dev) - 1);
	}
	return ioctl(fd, KPEEK_IOC_PROBE_SET, &pc) ? -errno : 0;
}

static int ring_consume(int fd, unsigned int cpu, uint32_t tail)
{
	struct kpeek_ring_consume rc = { .size = sizeof(rc), .cpu = cpu, .tail = tail };

	return ioctl(fd, KPEEK_IOC_RING_CONSUME, &rc);
}

/* Consume everything in one ring; returns records seen, -1 on a protocol error. */
static long drain(struct ring_state *r, uint32_t size, unsigned int *bad_dev)
{
	uint32_t head = __atomic_load_n(&r->h->head, __ATOMIC_ACQUIRE);
	uint32_t tail = r->h->tail;
	long n = 0;

	while (tail != head) {
		struct kpeek_rec_header *rh = (void *)(r->data + tail);

		if (rh->len < 8 || rh->len % 8 || tail + rh->len > size) {
			fail("ring cpu %u: bad record len %u at %llu", r->h->cpu, rh->len,
			     (unsigned long long)tail);
			return -1;
		}
		if (rh->type == KPEEK_REC_PAD) {
			if (tail + rh->len != size) {
				fail("ring cpu %u: PAD not at the end", r->h->cpu);
				return -1;
			}
			r->pads++;
		} else {
			if (rh->cpu != r->h->cpu) {
				fail("record of cpu %u in ring %u", rh->cpu, r->h->cpu);
				return -1;
			}
			if (r->have_seq && rh->seq != r->next_seq) {
				if ((int32_t)(rh->seq - r->next_seq) < 0) {
					fail("ring cpu %u: seq %u after %u (dup/reorder)",
					     r->h->cpu, rh->seq, r->next_seq - 1);
					return -1;
				}
				r->gaps += rh->seq - r->next_seq;
			} else if (!r->have_seq) {
				r->gaps += rh->seq;	/* records lost before the first one */
			}
			r->have_seq = 1;
			r->next_seq = rh->seq + 1;
			if (rh->type == KPEEK_REC_NETIF_RECEIVE_SKB) {
				struct kpeek_rec_netif *nr = (void *)rh;

				if (rh->len != sizeof(*nr) || strcmp(nr->dev, "lo"))
					(*bad_dev)++;
			} else {
				(*bad_dev)++;
			}
			r->records++;
			n++;
		}
		tail = (tail + rh->len) & (size - 1);
	}
	if (ring_consume(r->fd, r->h->cpu, tail)) {
		fail("RING_CONSUME cpu %u tail %u: %s", r->h->cpu, tail, strerror(errno));
		return -1;
	}
	return n;
}

static unsigned long send_errors;

/*
 * count UDP packets over lo to a socket of our own; returns how many it received (each of
 * those went through netif_receive_skb on lo). Send errors are counted in send_errors.
 */
static int send_udp(int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_DGRAM, 0), rx = socket(AF_INET, SOCK_DGRAM, 0), i, got = 0;
	int big = 1 << 20;
	char buf[64] = "kpeek";

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(rx, (void *)&a, sizeof(a)) || getsockname(rx, (void *)&a, &alen))
		fail("bind a UDP receiver: %s", strerror(errno));
	for (i = 0; i < count; i++) {
		if (sendto(s, buf, sizeof(buf), 0, (void *)&a, sizeof(a)) < 0)
			send_errors++;
		/* Drain as we go so that the receive buffer never drops. */
		while (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			got++;
	}
	for (i = 0; i < 100; i++) {
		while (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			got++;
		if (got >= count)
			break;
		usleep(1000);
	}
	close(s);
	close(rx);
	return got;
}

static int cmd_ring(unsigned int size, int packets)
{
	int fd = dev_open();
	struct kpeek_ring_config rc = { .size = sizeof(rc), .data_size = size };
	struct kpeek_info info = { .size = sizeof(info) };
	struct kpeek_probe_config pc = { .size = sizeof(pc), .probe = 1 };
	struct ring_state *rs;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned int cpu, bad_dev = 0;
	uint64_t records = 0, lost = 0, gaps = 0, written = 0, pads = 0;
	int waited, pr, delivered, delivered_paced = 0;
	uint64_t matched0;
	cpu_set_t one;

	/*
	 * Loopback traffic is received in the softirq of the sending CPU: staying on CPU 0 makes
	 * the paced phase run after the burst on the same ring, so every loss shows as a gap.
	 */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	check(!sched_setaffinity(0, sizeof(one), &one), "pinned to CPU 0");
	ioctl(fd, KPEEK_IOC_PROBE_GET, &pc);
	matched0 = pc.matched;
	check(!ioctl(fd, KPEEK_IOC_RING_SETUP, &rc), "RING_SETUP");
	ioctl(fd, KPEEK_IOC_INFO, &info);
	rs = calloc(info.nr_cpus, sizeof(*rs));
	pr = poll(&pfd, 1, 0);
	check(pr == 0, "poll on empty rings: nothing ready");
	for (cpu = 0; cpu < info.nr_cpus; cpu++) {
		void *m = mmap(NULL, 4096 + size, PROT_READ, MAP_SHARED, fd, KPEEK_MMAP_RING(cpu));

		if (m == MAP_FAILED) {
			fail("mmap ring %u: %s", cpu, strerror(errno));
			return finish();
		}
		rs[cpu].fd = fd;
		rs[cpu].h = m;
		rs[cpu].data = (uint8_t *)m + rs[cpu].h->data_offset;
		if (rs[cpu].h->magic != KPEEK_RING_MAGIC || rs[cpu].h->cpu != cpu ||
		    rs[cpu].h->data_size != size || rs[cpu].h->data_offset != 4096)
			fail("ring %u header", cpu);
	}
	check(mmap(NULL, 4096 + size, PROT_READ, MAP_SHARED, fd,
		   KPEEK_MMAP_RING(info.nr_cpus)) == MAP_FAILED && errno == EINVAL,
	      "ring of cpu nr_cpus: EINVAL");
	check(mmap(NULL, size, PROT_READ, MAP_SHARED, fd, KPEEK_MMAP_RING(0)) == MAP_FAILED &&
	      errno == EINVAL, "ring mapping of the wrong length: EINVAL");
	check(!set_probe(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB,
			 KPEEK_PROBE_F_ENABLE | KPEEK_PROBE_F_RING, "lo"),
	      "enable netif_receive_skb dev=lo with ring");

	/* Burst without reading: a small ring overflows and counts what it dropped. */
	delivered = send_udp(packets);
	waited = poll(&pfd, 1, 2000);
	check(waited == 1 && (pfd.revents & POLLIN), "poll reports POLLIN after traffic");
	for (cpu = 0; cpu < info.nr_cpus; cpu++) {
		if (drain(&rs[cpu], size, &bad_dev) < 0)
			return finish();
	}
	/* Then a paced phase, reading as we go. */
	for (waited = 0; waited < packets; waited += 10) {
		delivered_paced += send_udp(10);
		for (cpu = 0; cpu < info.nr_cpus; cpu++)
			if (drain(&rs[cpu], size, &bad_dev) < 0)
				return finish();
	}
	check(!set_probe(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB, 0, NULL), "disable the probe");
	for (cpu = 0; cpu < info.nr_cpus; cpu++) {
		if (drain(&rs[cpu], size, &bad_dev) < 0)
			return finish();
		/* Records lost after the last one we saw are only in lost, not in a gap. */
		records += rs[cpu].records;
		gaps += rs[cpu].gaps;
		pads += rs[cpu].pads;
		lost += rs[cpu].h->lost;
		written += rs[cpu].h->written;
	}
	ioctl(fd, KPEEK_IOC_PROBE_GET, &pc);
	pc.matched -= matched0;
	printf("ring: size %u, %d+%d packets delivered (%lu send errors), %llu records, %llu lost, "
	       "%llu seq gaps, %llu pads, matched %llu\n", size, delivered, delivered_paced,
	       send_errors, (unsigned long long)records, (unsigned long long)lost,
	       (unsigned long long)gaps, (unsigned long long)pads,
	       (unsigned long long)pc.matched);
	check(delivered_paced > 0 && records >= (uint64_t)delivered_paced,
	      "a record for every packet delivered in the paced phase");
	check(pc.matched >= (uint64_t)(delivered + delivered_paced),
	      "the probe matched every delivered packet");
	check(bad_dev == 0, "every record is a netif record of dev lo");
	check(records == written, "records read = written");
	check(records + lost == pc.matched, "records + lost = probe matched count");
	/* The seq gaps we saw can only be losses; losses after the last record are not gaps. */
	check(gaps <= lost, "every seq gap is accounted by lost");
	if (size == 4096) {
		check(lost > 0, "a 4 KiB ring overflows under a burst (lost > 0)");
		check(gaps == lost, "seq gaps == lost (the paced phase followed the burst)");
	}
	for (cpu = 0; cpu < info.nr_cpus; cpu++)
		munmap(rs[cpu].h, 4096 + size);
	rc.data_size = 0;
	check(!ioctl(fd, KPEEK_IOC_RING_SETUP, &rc), "rings freed after unmapping");
	close(fd);
	return finish();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * poll() sleeping until a producer in softirq wakes it (through irq_work), and the watermark:
 * below it poll() times out, at it poll() wakes.
 */
static int cmd_ring_poll(void)
{
	int fd = dev_open();
	struct kpeek_ring_config rc = { .size = sizeof(rc), .data_size = 65536 };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct ring_state r = { 0 };
	unsigned int bad = 0;
	cpu_set_t one;
	pid_t child;
	double t0, dt;
	void *m;
	int pr;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);	/* the child inherits it: one ring */
	errno = 0;
	check(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR), "poll without rings: POLLERR");
	check(!ioctl(fd, KPEEK_IOC_RING_SETUP, &rc), "RING_SETUP 64 KiB, watermark 0");
	m = mmap(NULL, 4096 + rc.data_size, PROT_READ, MAP_SHARED, fd, KPEEK_MMAP_RING(0));
	if (m == MAP_FAILED) {
		fail("mmap ring 0: %s", strerror(errno));
		return finish();
	}
	r.fd = fd;
	r.h = m;
	r.data = (uint8_t *)m + 4096;
	check(!set_probe(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB,
			 KPEEK_PROBE_F_ENABLE | KPEEK_PROBE_F_RING, "lo"), "probe on");

	child = fork();
	if (!child) {
		usleep(300000);
		send_udp(1);
		_exit(0);
	}
	t0 = now_s();
	pr = poll(&pfd, 1, 10000);
	dt = now_s() - t0;
	waitpid(child, NULL, 0);
	check(pr == 1 && (pfd.revents & POLLIN) && dt >= 0.2 && dt < 5,
	      "a sleeping poll() is woken by one packet 0.3 s later");
	printf("poll slept %.3f s\n", dt);
	check(drain(&r, rc.data_size, &bad) >= 1 && !bad, "and the record is there");
	munmap(m, 4096 + rc.data_size);

	/* Watermark 2400 bytes = 50 netif records of 48 bytes. */
	rc.watermark = 2400;
	check(!ioctl(fd, KPEEK_IOC_RING_SETUP, &rc), "RING_SETUP watermark 2400");
	m = mmap(NULL, 4096 + rc.data_size, PROT_READ, MAP_SHARED, fd, KPEEK_MMAP_RING(0));
	if (m == MAP_FAILED) {
		fail("mmap ring 0: %s", strerror(errno));
		return finish();
	}
	r.h = m;
	r.data = (uint8_t *)m + 4096;
	r.have_seq = 0;
	check(r.h->watermark == 2400, "the ring header shows the watermark");
	send_udp(10);
	check(poll(&pfd, 1, 300) == 0, "10 records (480 bytes) < watermark: poll times out");
	child = fork();
	if (!child) {
		usleep(200000);
		send_udp(60);
		_exit(0);
	}
	t0 = now_s();
	pr = poll(&pfd, 1, 10000);
	dt = now_s() - t0;
	waitpid(child, NULL, 0);
	check(pr == 1 && (pfd.revents & POLLIN) && dt < 5, "crossing the watermark wakes poll()");
	check(drain(&r, rc.data_size, &bad) >= 60 && !bad, "70 records there");
	set_probe(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB, 0, NULL);
	munmap(m, 4096 + rc.data_size);

	/* Freeing the rings wakes a sleeping poll(), which then reports POLLERR. */
	child = fork();
	if (!child) {
		struct pollfd cp = { .fd = fd, .events = POLLIN };

		pr = poll(&cp, 1, 10000);
		_exit(pr == 1 && (cp.revents & POLLERR) ? 0 : 1);
	}
	usleep(300000);
	rc.data_size = 0;
	rc.watermark = 0;
	t0 = now_s();
	check(!ioctl(fd, KPEEK_IOC_RING_SETUP, &rc), "rings freed");
	waitpid(child, &pr, 0);
	dt = now_s() - t0;
	check(WIFEXITED(pr) && WEXITSTATUS(pr) == 0 && dt < 5,
	      "a poll() sleeping when the rings are freed wakes with POLLERR");
	close(fd);
	return finish();
}

static uint64_t probe_matched(int fd, unsigned int probe, uint64_t *hits)
{
	struct kpeek_probe_config pc = { .size = sizeof(pc), .probe = probe };

	if (ioctl(fd, KPEEK_IOC_PROBE_GET, &pc))
		fail("PROBE_GET %u: %s", probe, strerror(errno));
	if (hits)
		*hits = pc.hits;
	return pc.matched;
}

/* sched_switch (with and without a pid filter) and block_rq_issue counting, no rings. */
static int cmd_probe_check(void)
{
	int fd = dev_open(), i;
	struct kpeek_probe_config pc = { .size = sizeof(pc), .probe = KPEEK_PROBE_SCHED_SWITCH,
					 .flags = KPEEK_PROBE_F_ENABLE };
	uint64_t h0, m0, h1, m1;
	pid_t child;

	m0 = probe_matched(fd, KPEEK_PROBE_SCHED_SWITCH, &h0);
	check(!ioctl(fd, KPEEK_IOC_PROBE_SET, &pc), "enable sched_switch (no filter)");
	for (i = 0; i < 20; i++)
		usleep(1000);
	m1 = probe_matched(fd, KPEEK_PROBE_SCHED_SWITCH, &h1);
	check(h1 - h0 >= 40 && m1 - m0 == h1 - h0,
	      "sched_switch: >= 40 hits from 20 sleeps, all matched without a filter");
	pc.size = sizeof(pc);
	check(!ioctl(fd, KPEEK_IOC_PROBE_GET, &pc) && pc.flags == KPEEK_PROBE_F_ENABLE &&
	      pc.filter == 0, "PROBE_GET shows it enabled");

	/* A pid that never runs: hits go on, matches stop. */
	child = fork();
	if (!child) {
		pause();
		_exit(0);
	}
	usleep(20000);
	pc.filter = KPEEK_FILTER_PID;
	pc.pid = child;
	pc.hits = pc.matched = 12345;	/* out fields are ignored on input */
	check(!ioctl(fd, KPEEK_IOC_PROBE_SET, &pc), "refilter sched_switch on a sleeping pid");
	m0 = probe_matched(fd, KPEEK_PROBE_SCHED_SWITCH, &h0);
	for (i = 0; i < 20; i++)
		usleep(1000);
	m1 = probe_matched(fd, KPEEK_PROBE_SCHED_SWITCH, &h1);
	check(h1 - h0 >= 40 && m1 == m0, "pid filter: hits go on, a sleeping pid matches nothing");
	pc.pid = getpid();
	check(!ioctl(fd, KPEEK_IOC_PROBE_SET, &pc), "refilter sched_switch on our pid");
	m0 = probe_matched(fd, KPEEK_PROBE_SCHED_SWITCH, NULL);
	for (i = 0; i < 20; i++)
		usleep(1000);
	m1 = probe_matched(fd, KPEEK_PROBE_SCHED_SWITCH, NULL);
	check(m1 - m0 >= 40, "pid filter: our 20 sleeps match (in and out)");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	pc.flags = 0;
	pc.filter = 0;
	pc.pid = 0;
	check(!ioctl(fd, KPEEK_IOC_PROBE_SET, &pc), "disable sched_switch");
	m0 = probe_matched(fd, KPEEK_PROBE_SCHED_SWITCH, &h0);
	usleep(20000);
	m1 = probe_matched(fd, KPEEK_PROBE_SCHED_SWITCH, &h1);
	check(h1 == h0 && m1 == m0, "disabled: no more hits");

	pc.probe = KPEEK_PROBE_BLOCK_RQ_ISSUE;
	pc.flags = KPEEK_PROBE_F_ENABLE | KPEEK_PROBE_F_RING;
	pc.filter = KPEEK_FILTER_MINLEN;
	pc.min_len = 512;
	check(!ioctl(fd, KPEEK_IOC_PROBE_SET, &pc), "block_rq_issue attaches (min_len 512)");
	pc.flags = 0;
	pc.filter = 0;
	pc.min_len = 0;
	check(!ioctl(fd, KPEEK_IOC_PROBE_SET, &pc), "block_rq_issue detaches");
	pc.probe = KPEEK_PROBE_NETIF_RECEIVE_SKB;
	pc.flags = KPEEK_PROBE_F_ENABLE;
	pc.filter = KPEEK_FILTER_MINLEN | KPEEK_FILTER_DEV;
	pc.min_len = 100000;
	strcpy(pc.dev, "lo");
	check(!ioctl(fd, KPEEK_IOC_PROBE_SET, &pc), "netif_receive_skb dev=lo min_len=100000");
	m0 = probe_matched(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB, &h0);
	send_udp(20);
	m1 = probe_matched(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB, &h1);
	check(h1 - h0 >= 20 && m1 == m0, "netif: 20 packets hit, none as long as min_len");
	pc.min_len = 64;
	check(!ioctl(fd, KPEEK_IOC_PROBE_SET, &pc), "netif_receive_skb dev=lo min_len=64");
	send_udp(20);
	m1 = probe_matched(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB, &h1);
	check(m1 - m0 >= 20, "netif: 20 packets of >= 64 bytes match");
	strcpy(pc.dev, "eth9");
	check(!ioctl(fd, KPEEK_IOC_PROBE_SET, &pc), "netif_receive_skb dev=eth9");
	m0 = probe_matched(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB, NULL);
	send_udp(20);
	m1 = probe_matched(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB, NULL);
	check(m1 == m0, "netif: dev=eth9 matches nothing on lo");
	/* Left enabled on purpose: the shell compares the counts with /proc/kpeek, then unloads. */
	close(fd);
	return finish();
}

/* ---- ring ownership (ABI 4) ---- */

static void *ring_map(int fd, unsigned int cpu, uint32_t size, int prot)
{
	return mmap(NULL, 4096 + size, prot, MAP_SHARED, fd, KPEEK_MMAP_RING(cpu));
}

static int ring_setup(int fd, uint32_t size)
{
	struct kpeek_ring_config rc = { .size = sizeof(rc), .data_size = size };

	return ioctl(fd, KPEEK_IOC_RING_SETUP, &rc) ? errno : 0;
}

/* 0: the child exited 0; else the signal that killed it (or 1000 + its exit status) */
static int child_result(pid_t child)
{
	int st;

	if (waitpid(child, &st, 0) != child)
		return -1;
	if (WIFSIGNALED(st))
		return WTERMSIG(st);
	return WEXITSTATUS(st) ? 1000 + WEXITSTATUS(st) : 0;
}

/* A child that stores one byte at p: the signal that stopped it (0: the store went through). */
static int write_fault(volatile uint8_t *p)
{
	pid_t child = fork();

	if (!child) {
		*p = 0x5a;
		_exit(0);
	}
	return child_result(child);
}

static uint32_t head_of(const struct kpeek_ring_header *h)
{
	return __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
}

static int cmd_ring_claim(void)
{
	int a = dev_open(), b = dev_open(), c, dup_a;
	struct kpeek_ring_consume rc = { .size = sizeof(rc) };
	struct kpeek_info info = { .size = sizeof(info) };
	struct kpeek_ring_header *h, *h2;
	struct ring_state r = { 0 };
	unsigned int bad = 0;
	uint32_t head, old;
	cpu_set_t one;
	pid_t child;
	void *m;
	int sig;

	/* Loopback packets are received on the sending CPU: everything goes to ring 0. */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	check(!sched_setaffinity(0, sizeof(one), &one), "pinned to CPU 0");
	ioctl(a, KPEEK_IOC_INFO, &info);

	/* A owns the rings; B, another open of the same device, may not touch them. */
	check(ring_setup(a, 4096) == 0, "A: RING_SETUP 4096");
	check(ring_setup(b, 4096) == EBUSY, "B: RING_SETUP while A owns the rings: EBUSY");
	check(ring_setup(b, 0) == EBUSY, "B: RING_SETUP 0 (free) while A owns them: EBUSY");
	errno = 0;
	check(ring_map(b, 0, 4096, PROT_READ) == MAP_FAILED && errno == EBUSY,
	      "B: mmap of a ring A owns: EBUSY");
	rc.cpu = 0;
	expect("B: RING_CONSUME on A's rings", b, KPEEK_IOC_RING_CONSUME, &rc, EBUSY);
	dup_a = dup(a);
	m = ring_map(dup_a, 0, 4096, PROT_READ);
	check(m != MAP_FAILED, "a dup() of A's descriptor is the same owner: it maps");
	if (m != MAP_FAILED)
		munmap(m, 8192);
	close(dup_a);

	/* Read-only pages. */
	errno = 0;
	check(ring_map(a, 0, 4096, PROT_READ | PROT_WRITE) == MAP_FAILED && errno == EPERM,
	      "A: PROT_WRITE ring mapping refused: EPERM");
	h = ring_map(a, 0, 4096, PROT_READ);
	if (h == MAP_FAILED) {
		fail("A: mmap ring 0: %s", strerror(errno));
		return finish();
	}
	check(h->magic == KPEEK_RING_MAGIC && h->cpu == 0 && h->data_size == 4096,
	      "A: ring 0 header");
	errno = 0;
	check(mprotect(h, 8192, PROT_READ | PROT_WRITE) < 0 && errno == EACCES,
	      "mprotect of the ring to writable refused: EACCES");
	errno = 0;
	check(mprotect((uint8_t *)h + 4096, 4096, PROT_READ | PROT_WRITE) < 0 && errno == EACCES,
	      "mprotect of a record page to writable refused: EACCES");
	sig = write_fault((uint8_t *)h + 4096 + 64);
	check(sig == SIGSEGV, "a store to a record page kills the writer with SIGSEGV");
	if (sig != SIGSEGV)
		printf("    (the child ended with %d)\n", sig);
	check(write_fault((uint8_t *)&h->tail) == SIGSEGV,
	      "a store to the header's tail kills the writer with SIGSEGV");

	/* Records flow; RING_CONSUME moves tail, only forward, only over published records. */
	check(!set_probe(a, KPEEK_PROBE_NETIF_RECEIVE_SKB,
			 KPEEK_PROBE_F_ENABLE | KPEEK_PROBE_F_RING, "lo"), "probe on, with ring");
	send_udp(10);
	head = head_of(h);
	check(head != 0, "records arrived in ring 0");
	old = h->tail;
	rc.cpu = 0;
	rc.tail = old;
	expect("RING_CONSUME to the current tail (no move)", a, KPEEK_IOC_RING_CONSUME, &rc, 0);
	rc.tail = (head + 8) & 4095;
	expect("RING_CONSUME past head", a, KPEEK_IOC_RING_CONSUME, &rc, EINVAL);
	rc.tail = 4;
	expect("RING_CONSUME misaligned", a, KPEEK_IOC_RING_CONSUME, &rc, EINVAL);
	rc.tail = 4096;
	expect("RING_CONSUME outside the data", a, KPEEK_IOC_RING_CONSUME, &rc, EINVAL);
	rc.tail = old;
	rc.flags = 1;
	expect("RING_CONSUME flags", a, KPEEK_IOC_RING_CONSUME, &rc, EINVAL);
	rc.flags = 0;
	rc.cpu = info.nr_cpus;
	expect("RING_CONSUME cpu nr_cpus", a, KPEEK_IOC_RING_CONSUME, &rc, EINVAL);
	rc.cpu = 0;
	rc.size = sizeof(rc) - 4;
	expect("RING_CONSUME size-4", a, KPEEK_IOC_RING_CONSUME, &rc, EINVAL);
	rc.size = sizeof(rc);
	r.fd = a;
	r.h = h;
	r.data = (uint8_t *)h + 4096;
	check(drain(&r, 4096, &bad) >= 10 && !bad, "A drains ring 0 through RING_CONSUME");
	check(h->tail == head_of(h), "the header's tail mirrors the consumed tail");
	send_udp(2);
	rc.tail = old;
	check(head_of(h) != h->tail, "new records after the drain");
	expect("RING_CONSUME backwards (to an older tail)", a, KPEEK_IOC_RING_CONSUME, &rc,
	       EINVAL);

	/* A's mapping keeps A's claim and the ring alive after close(). */
	close(a);
	check(ring_setup(b, 4096) == EBUSY, "A closed but still mapped: B's RING_SETUP is EBUSY");
	head = head_of(h);
	send_udp(3);
	check(h->magic == KPEEK_RING_MAGIC && head_of(h) != head,
	      "A's mapping still reads, and records still arrive, after close()");
	munmap(h, 8192);
	check(ring_setup(b, 4096) == 0, "A closed and unmapped: B's RING_SETUP succeeds");

	/* A reader that dies without cleaning up does not leave the rings stuck. */
	child = fork();
	if (!child) {
		int cfd = open(KPEEK_DEV_PATH, O_RDWR);

		/* B owns the rings: a third open file cannot take them either. */
		if (ring_setup(cfd, 8192) != EBUSY)
			_exit(3);
		_exit(4);
	}
	check(child_result(child) == 1004, "C (another process): RING_SETUP while B owns: EBUSY");
	check(ring_setup(b, 0) == 0, "B frees its rings");
	child = fork();
	if (!child) {
		int cfd = open(KPEEK_DEV_PATH, O_RDWR);

		if (ring_setup(cfd, 8192) || ring_map(cfd, 0, 8192, PROT_READ) == MAP_FAILED)
			_exit(3);
		/* Dies holding the claim, a descriptor and a mapping. */
		raise(SIGKILL);
		_exit(4);
	}
	check(child_result(child) == SIGKILL, "C claims the rings, maps ring 0, is killed");
	check(ring_setup(b, 4096) == 0, "after C died, B's RING_SETUP succeeds (not stuck)");

	/* The owner replacing its own rings while mapped: the old mapping stays valid. */
	h = ring_map(b, 0, 4096, PROT_READ);
	check(h != MAP_FAILED, "B maps ring 0");
	if (h != MAP_FAILED) {
		send_udp(2);
		head = head_of(h);
		check(ring_setup(b, 8192) == 0, "B replaces its rings while mapped");
		send_udp(2);
		check(h->magic == KPEEK_RING_MAGIC && h->data_size == 4096 &&
		      head_of(h) == head, "the old mapping still reads, and no longer moves");
		h2 = ring_map(b, 0, 8192, PROT_READ);
		check(h2 != MAP_FAILED && h2->data_size == 8192, "the new rings map");
		if (h2 != MAP_FAILED)
			munmap(h2, 4096 + 8192);
		munmap(h, 8192);
	}
	set_probe(b, KPEEK_PROBE_NETIF_RECEIVE_SKB, 0, NULL);
	check(ring_setup(b, 0) == 0, "B frees the rings");
	c = dev_open();
	check(ring_setup(c, 0) == 0, "without rings, anyone with CAP_SYS_ADMIN may set up (0)");
	close(c);
	close(b);
	return finish();
}

static int cpu_online(unsigned int cpu, int on)
{
	char path[64];
	int fd, ok;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/online", cpu);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ok = write(fd, on ? "1" : "0", 1) == 1;
	close(fd);
	return ok ? 0 : -errno;
}

/* Pin to cpu and send n packets over lo: their records go to cpu's ring. */
static void traffic_on(unsigned int cpu, int n)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		fail("pin to CPU %u: %s", cpu, strerror(errno));
	send_udp(n);
}

static int cmd_ring_hotplug(void)
{
	int fd = dev_open(), err;
	struct kpeek_ring_header *h0, *h1;
	uint32_t head0, head1;
	void *m;

	if (sysconf(_SC_NPROCESSORS_CONF) < 2) {
		fail("ring-hotplug needs 2 CPUs, this guest has %ld", sysconf(_SC_NPROCESSORS_CONF));
		return finish();
	}
	traffic_on(0, 0);
	err = cpu_online(1, 0);
	check(!err, "CPU 1 taken offline");
	if (err) {
		printf("    (%s)\n", strerror(-err));
		return finish();
	}
	check(ring_setup(fd, 4096) == 0, "RING_SETUP with CPU 1 offline");
	h0 = ring_map(fd, 0, 4096, PROT_READ);
	check(h0 != MAP_FAILED, "ring of CPU 0 maps");
	errno = 0;
	m = ring_map(fd, 1, 4096, PROT_READ);
	check(m == MAP_FAILED && errno == ENXIO, "offline CPU 1 has no ring: ENXIO");
	if (m != MAP_FAILED)
		munmap(m, 8192);
	check(!set_probe(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB,
			 KPEEK_PROBE_F_ENABLE | KPEEK_PROBE_F_RING, "lo"), "probe on, with ring");
	if (h0 == MAP_FAILED)
		return finish();
	head0 = head_of(h0);
	traffic_on(0, 5);
	check(head_of(h0) != head0, "records flow into CPU 0's ring while CPU 1 is offline");

	check(!cpu_online(1, 1), "CPU 1 back online");
	h1 = ring_map(fd, 1, 4096, PROT_READ);
	check(h1 != MAP_FAILED, "CPU 1 has a ring once online (allocated by the hotplug callback)");
	if (h1 == MAP_FAILED)
		goto out;
	check(h1->magic == KPEEK_RING_MAGIC && h1->cpu == 1 && h1->data_size == 4096,
	      "CPU 1's ring header");
	head1 = head_of(h1);
	traffic_on(1, 5);
	check(head_of(h1) != head1, "records flow into CPU 1's ring");
	check(((struct kpeek_rec_header *)((uint8_t *)h1 + 4096 + h1->tail))->cpu == 1,
	      "and say CPU 1");

	/* Offline again: CPU 1's unread records stay; CPU 0 goes on. */
	traffic_on(0, 0);
	head1 = head_of(h1);
	check(!cpu_online(1, 0), "CPU 1 offline again, its records unread");
	check(h1->magic == KPEEK_RING_MAGIC && head_of(h1) == head1 && h1->tail != head1,
	      "CPU 1's ring and its unread records stay while it is offline");
	head0 = head_of(h0);
	traffic_on(0, 5);
	check(head_of(h0) != head0, "events still flow on CPU 0");
	check(!cpu_online(1, 1), "CPU 1 online again");
	traffic_on(1, 3);
	check(head_of(h1) != head1, "the same ring (same mapping) receives CPU 1's records again");
	traffic_on(0, 0);
	munmap(h1, 8192);
out:
	munmap(h0, 8192);
	set_probe(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB, 0, NULL);
	check(ring_setup(fd, 0) == 0, "rings freed");
	cpu_online(1, 1);
	close(fd);
	return finish();
}

/* ---- module pinning ---- */

static int rmmod_kpeek(void)
{
	int st = system("rmmod kpeek 2>/dev/null");

	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int cmd_pin(const char *order)
{
	int fd = dev_open();
	size_t size = 0;
	void *m;

	if (!strcmp(order, "ring")) {
		struct kpeek_ring_config rc = { .size = sizeof(rc), .data_size = 4096 };

		check(!ioctl(fd, KPEEK_IOC_RING_SETUP, &rc), "RING_SETUP");
		size = 8192;
		m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, KPEEK_MMAP_RING(0));
		check(!set_probe(fd, KPEEK_PROBE_NETIF_RECEIVE_SKB,
				 KPEEK_PROBE_F_ENABLE | KPEEK_PROBE_F_RING, NULL),
		      "probe with ring enabled");
	} else {
		m = map_counters(fd, &size);
	}
	if (m == MAP_FAILED || !m) {
		fail("mmap: %s", strerror(errno));
		return finish();
	}
	check(!rmmod_kpeek(), "rmmod refused while open and mapped");
	if (!strcmp(order, "unmap-first")) {
		munmap(m, size);
		check(!rmmod_kpeek(), "rmmod refused while open (unmapped)");
		close(fd);
	} else {
		close(fd);
		/* The mapping holds the file, the file holds the module. */
		check(!rmmod_kpeek(), "rmmod refused while mapped (closed)");
		check(((volatile uint32_t *)m)[0] == (strcmp(order, "ring") ? KPEEK_MMAP_MAGIC
							    : KPEEK_RING_MAGIC),
		      "the mapping still reads after close");
		if (!strcmp(order, "ring"))
			send_udp(50);
		munmap(m, size);
	}
	check(rmmod_kpeek(), "rmmod succeeds once closed and unmapped");
	return finish();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "snap"))
		return cmd_snap();
	if (argc >= 2 && !strcmp(argv[1], "snap-check"))
		return cmd_snap_check();
	if (argc >= 2 && !strcmp(argv[1], "ioctl-errno"))
		return cmd_ioctl_errno();
	if (argc >= 2 && !strcmp(argv[1], "ioctl-user"))
		return cmd_ioctl_user();
	if (argc >= 2 && !strcmp(argv[1], "ioctl-dump"))
		return cmd_ioctl_dump();
	if (argc >= 2 && !strcmp(argv[1], "mmap-dump"))
		return cmd_mmap_dump();
	if (argc >= 2 && !strcmp(argv[1], "mmap-check"))
		return cmd_mmap_check();
	if (argc >= 4 && !strcmp(argv[1], "ring"))
		return cmd_ring(strtoul(argv[2], NULL, 0), atoi(argv[3]));
	if (argc >= 2 && !strcmp(argv[1], "ring-poll"))
		return cmd_ring_poll();
	if (argc >= 2 && !strcmp(argv[1], "probe-check"))
		return cmd_probe_check();
	if (argc >= 3 && !strcmp(argv[1], "pin"))
		return cmd_pin(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "ring-claim"))
		return cmd_ring_claim();
	if (argc >= 2 && !strcmp(argv[1], "ring-hotplug"))
		return cmd_ring_hotplug();
	fprintf(stderr, "usage: kpeekdev snap|snap-check|ioctl-errno|ioctl-user|ioctl-dump|"
			"mmap-dump|mmap-check|ring SIZE PACKETS|ring-poll|probe-check|pin close-first|unmap-first|ring|"
			"ring-claim|ring-hotplug\n");
	return 2;
}

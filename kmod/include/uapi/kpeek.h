/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kpeek.h - the ABI shared by kpeek.ko and user space.
 *
 * Everything user space may rely on lives here: limits, names of the channels, and (from ABI
 * version 2 on) the char-device, ioctl, mmap and netlink layouts. The Rust mirror is
 * crates/kpeek-abi; a test compiles this header and compares every size, offset and constant.
 */
#ifndef _UAPI_LINUX_KPEEK_H
#define _UAPI_LINUX_KPEEK_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Bumped whenever anything below changes incompatibly (3: ring head and tail are __u32;
 * 4: rwbs[16], ring mmap offsets below 2 GiB, rings mapped read-only by their one owner, which
 * moves tail with KPEEK_IOC_RING_CONSUME).
 */
#define KPEEK_ABI_VERSION 4

/*
 * Group and counter names: 1..KPEEK_NAME_MAX bytes of [A-Za-z0-9_] (they become sysfs and
 * configfs file names, netlink strings and metric labels, so nothing that needs quoting).
 * Longer names fail with -ENAMETOOLONG, other bad names with -EINVAL.
 */
#define KPEEK_NAME_MAX 31
/* A counter's description: printable text, at most this many bytes. */
#define KPEEK_DESC_MAX 127

/* Reserved: a group may not be called "info", a counter may not be called "reset". */
#define KPEEK_RESERVED_GROUP "info"
#define KPEEK_RESERVED_COUNTER "reset"

/* Default caps; the module parameters max_groups and max_counters override them at load. */
#define KPEEK_DEFAULT_MAX_GROUPS 1024
#define KPEEK_DEFAULT_MAX_COUNTERS 65536

/* Where the channels live. */
#define KPEEK_PROC_PATH "/proc/kpeek"
#define KPEEK_SYSFS_DIR "/sys/kernel/kpeek"
#define KPEEK_CONFIGFS_DIR "/sys/kernel/config/kpeek"
#define KPEEK_DEBUGFS_DIR "/sys/kernel/debug/kpeek"
#define KPEEK_PARAMS_DIR "/sys/module/kpeek/parameters"

#define KPEEK_DEV_PATH "/dev/kpeek"
#define KPEEK_DEV_NAME "kpeek"

/* ---------------------------------------------------------------------------------------- */
/*
 * read(): a self-describing binary snapshot of all counters: one header, then `count` records.
 * The snapshot is taken when a read starts at offset 0 and served from that copy until the
 * reader returns to offset 0 (lseek(fd, 0, SEEK_SET) or a new open): partial reads and lseek
 * (SEEK_SET/SEEK_CUR, and SEEK_END = total size) work on one consistent copy.
 */
#define KPEEK_SNAP_MAGIC 0x4b50534eU	/* "KPSN" */

struct kpeek_snap_header {
	__u32 magic;		/* KPEEK_SNAP_MAGIC */
	__u16 abi_version;	/* KPEEK_ABI_VERSION */
	__u16 header_size;	/* sizeof(struct kpeek_snap_header) */
	__u32 record_size;	/* sizeof(struct kpeek_counter_rec) */
	__u32 count;		/* records that follow */
	__u64 generation;	/* bumped on every group/counter create or destroy */
};

/* One counter: used by read(), KPEEK_IOC_GET_COUNTER, KPEEK_IOC_GET_COUNTERS. */
struct kpeek_counter_rec {
	__u64 id;				/* counter id, unique for the module's lifetime */
	__u64 group_id;
	__u64 value;				/* summed over CPUs */
	char group[KPEEK_NAME_MAX + 1];		/* NUL-terminated */
	char counter[KPEEK_NAME_MAX + 1];	/* NUL-terminated */
};	/* 88 bytes */

/* ---------------------------------------------------------------------------------------- */
/* ioctl: letter 0xBE, not listed in Documentation/userspace-api/ioctl/ioctl-number.rst (6.18). */
#define KPEEK_IOC_MAGIC 0xBE

struct kpeek_info {
	__u32 size;		/* in: sizeof(struct kpeek_info) */
	__u32 abi_version;	/* out */
	__u32 nr_cpus;		/* out: nr_cpu_ids: rings are indexed 0..nr_cpus-1 */
	__u32 max_groups;	/* out */
	__u32 max_counters;	/* out */
	__u32 groups;		/* out: live groups */
	__u32 counters;		/* out: live counters */
	__u32 mmap_counters_size; /* out: bytes to map at offset KPEEK_MMAP_COUNTERS */
	__u64 generation;	/* out */
	__u32 ring_data_size;	/* out: bytes of ring data per CPU (0: rings not set up) */
	__u32 reserved;		/* must be 0 */
};

struct kpeek_counter_get {		/* KPEEK_IOC_GET_COUNTER */
	__u32 size;
	__u32 flags;			/* must be 0 */
	__u64 id;			/* in: counter id */
	struct kpeek_counter_rec rec;	/* out */
};

struct kpeek_counters_get {		/* KPEEK_IOC_GET_COUNTERS */
	__u32 size;
	__u32 flags;			/* must be 0 */
	__u64 recs;			/* in: user pointer to struct kpeek_counter_rec[] */
	__u32 capacity;			/* in: array length */
	__u32 count;			/* out: records written (min(capacity, total - start)) */
	__u32 start;			/* in: index of the first counter to return (for paging) */
	__u32 total;			/* out: counters that exist */
	__u64 generation;		/* out: compare between pages to detect changes */
};

#define KPEEK_TARGET_ALL	0	/* reset: every counter */
#define KPEEK_TARGET_GROUP	1
#define KPEEK_TARGET_COUNTER	2

struct kpeek_reset {			/* KPEEK_IOC_RESET (CAP_SYS_ADMIN) */
	__u32 size;
	__u32 target;			/* KPEEK_TARGET_* */
	__u64 id;			/* group or counter id; 0 for KPEEK_TARGET_ALL */
};

struct kpeek_create {			/* KPEEK_IOC_CREATE (CAP_SYS_ADMIN) */
	__u32 size;
	__u32 target;			/* KPEEK_TARGET_GROUP or KPEEK_TARGET_COUNTER */
	char group[KPEEK_NAME_MAX + 1];
	char counter[KPEEK_NAME_MAX + 1];	/* KPEEK_TARGET_COUNTER only; else all zero */
	__u64 id;			/* out: the new object's id */
};

struct kpeek_destroy {			/* KPEEK_IOC_DESTROY (CAP_SYS_ADMIN) */
	__u32 size;
	__u32 target;			/* KPEEK_TARGET_GROUP or KPEEK_TARGET_COUNTER */
	__u64 id;
};

/*
 * Groups and counters created through ioctl/netlink belong to user space (like configfs) and
 * live until destroyed or until kpeek.ko unloads. Destroying an API-owned group: -EPERM.
 */

/* In-kernel tracepoint probes. */
#define KPEEK_PROBE_NETIF_RECEIVE_SKB	1	/* net:netif_receive_skb */
#define KPEEK_PROBE_SCHED_SWITCH	2	/* sched:sched_switch */
#define KPEEK_PROBE_BLOCK_RQ_ISSUE	3	/* block:block_rq_issue */
#define KPEEK_PROBE_MAX			3
#define KPEEK_RING_MAX_SIZE		(16U << 20)

#define KPEEK_PROBE_F_ENABLE	(1U << 0)	/* attach (else detach) */
#define KPEEK_PROBE_F_RING	(1U << 1)	/* also write records into the event rings */
#define KPEEK_FILTER_DEV	(1U << 0)	/* netif: skb->dev->name == dev */
/* sched: prev or next pid == pid; block: current pid (init-namespace pids, as in records) */
#define KPEEK_FILTER_PID	(1U << 1)
#define KPEEK_FILTER_MINLEN	(1U << 2)	/* netif: skb->len >= min_len; block: bytes >= */

/* KPEEK_IOC_PROBE_SET (CAP_SYS_ADMIN), KPEEK_IOC_PROBE_GET */
struct kpeek_probe_config {
	__u32 size;
	__u32 probe;			/* KPEEK_PROBE_* */
	__u32 flags;			/* KPEEK_PROBE_F_* */
	__u32 filter;			/* KPEEK_FILTER_* bits that are set */
	__s32 pid;
	__u32 min_len;
	char dev[16];			/* IFNAMSIZ, NUL-terminated */
	__u64 hits;			/* out (PROBE_GET): events seen */
	__u64 matched;			/* out (PROBE_GET): events that passed the filter */
};

/*
 * Each probe also counts into the counter group KPEEK_PROBES_GROUP: <probe>_hits,
 * <probe>_matched. kpeek.ko makes it on the first probe enable; the name is kpeek's alone, so
 * creating a group of that name fails with -EEXIST even before that.
 */
#define KPEEK_PROBES_GROUP "kpeek_probes"

/*
 * The event rings have one owner: the open file (struct file, shared by dup() and fork()) that
 * set them up with KPEEK_IOC_RING_SETUP. Only the owner may map them (KPEEK_MMAP_RING) and move
 * their tails (KPEEK_IOC_RING_CONSUME); for any other open file RING_SETUP, mmap and
 * RING_CONSUME fail with -EBUSY. The claim ends when the owner is released: its last
 * descriptor closed and its last mapping unmapped (a mapping keeps its file, hence the claim and
 * the mapped memory, alive after close()). Rings outlive their owner: producers keep writing
 * until the next RING_SETUP replaces or frees them. A mapping of rings that were replaced or
 * freed stays valid (the memory goes with the last munmap()) but is no longer written.
 */
struct kpeek_ring_config {		/* KPEEK_IOC_RING_SETUP (CAP_SYS_ADMIN) */
	__u32 size;
	__u32 flags;			/* must be 0 */
	__u32 data_size;		/* bytes of data per CPU: a power of two, >= PAGE_SIZE,
					 * <= 16 MiB, or 0 to free the rings; -EBUSY while
					 * another open file owns them */
	__u32 watermark;		/* POLLIN once a ring holds >= this many bytes
					 * (0: any record) */
};

/*
 * KPEEK_IOC_RING_CONSUME (the rings' owner): the consumer is done with every byte of cpu's ring
 * before tail. tail is a multiple of KPEEK_REC_ALIGN, below data_size, between the ring's current
 * tail and head (-EINVAL otherwise: a consumer only moves forward over published records).
 * -ENODEV: no rings; -EBUSY: not the owner; -ENXIO: that CPU has no ring.
 */
struct kpeek_ring_consume {
	__u32 size;
	__u32 cpu;
	__u32 tail;			/* the new tail: a byte offset into the data */
	__u32 flags;			/* must be 0 */
};

#define KPEEK_IOC_INFO		_IOWR(KPEEK_IOC_MAGIC, 0x00, struct kpeek_info)
#define KPEEK_IOC_GET_COUNTER	_IOWR(KPEEK_IOC_MAGIC, 0x01, struct kpeek_counter_get)
#define KPEEK_IOC_GET_COUNTERS	_IOWR(KPEEK_IOC_MAGIC, 0x02, struct kpeek_counters_get)
#define KPEEK_IOC_RESET		_IOW(KPEEK_IOC_MAGIC, 0x03, struct kpeek_reset)
#define KPEEK_IOC_CREATE	_IOWR(KPEEK_IOC_MAGIC, 0x04, struct kpeek_create)
#define KPEEK_IOC_DESTROY	_IOW(KPEEK_IOC_MAGIC, 0x05, struct kpeek_destroy)
#define KPEEK_IOC_PROBE_SET	_IOW(KPEEK_IOC_MAGIC, 0x06, struct kpeek_probe_config)
#define KPEEK_IOC_PROBE_GET	_IOWR(KPEEK_IOC_MAGIC, 0x07, struct kpeek_probe_config)
#define KPEEK_IOC_RING_SETUP	_IOW(KPEEK_IOC_MAGIC, 0x08, struct kpeek_ring_config)
/* KPEEK_IOC_MMAP_SYNC: refresh the counter mapping now. */
#define KPEEK_IOC_MMAP_SYNC	_IO(KPEEK_IOC_MAGIC, 0x09)
/*
 * INFO, GET_COUNTER(S), PROBE_GET and MMAP_SYNC only read (or refresh what any opener may map):
 * they need no capability beyond opening /dev/kpeek.
 */

/*
 * KPEEK_IOC_PEEK (CAP_SYS_RAWIO, and not under lockdown: -EPERM): read kernel memory, by
 * symbol name or by address. A name is resolved in the kernel, non-exported symbols included;
 * "module:sym" looks in that module only. Where the kernel gives kpeek.ko no name lookup, a
 * name is accepted only with a non-zero addr that is exactly the start of that symbol.
 * Errors: -EINVAL (flags not 0, len > KPEEK_PEEK_LEN_MAX, name not NUL-terminated), -ENOENT
 * (no such symbol), -EFAULT (the range, or buf, cannot be read/written: user addresses, NULL,
 * unmapped pages, vmalloc guard pages, device memory, address overflow). Nothing is partial.
 */
#define KPEEK_PEEK_NAME_MAX	128	/* "sym" or "module:sym", NUL-terminated */
#define KPEEK_PEEK_LEN_MAX	65536	/* bytes one call may read */
#define KPEEK_PEEK_NL_LEN_MAX	65531	/* through netlink: an attribute's length is a u16 */

struct kpeek_peek {
	char	name[KPEEK_PEEK_NAME_MAX]; /* in: symbol to resolve; "" = read at addr */
	__u64	addr;		/* in: with name: the address user space believes (from
				 *     /proc/kallsyms) or 0; without name: address to read.
				 * out: the symbol's start address (with name), else addr */
	__u64	sym_size;	/* out: the symbol's size from kallsyms (0 if unknown) */
	__u64	offset;		/* in: bytes past addr / the symbol start to read from */
	__u64	buf;		/* in: user buffer of len bytes */
	__u32	len;		/* in: bytes to read, 0 = resolve only; <= KPEEK_PEEK_LEN_MAX */
	__u32	flags;		/* in: must be 0 (EINVAL otherwise) */
};	/* 168 bytes */
#define KPEEK_IOC_PEEK	_IOWR(KPEEK_IOC_MAGIC, 0x0A, struct kpeek_peek)
#define KPEEK_IOC_RING_CONSUME	_IOW(KPEEK_IOC_MAGIC, 0x0B, struct kpeek_ring_consume)

/* ---------------------------------------------------------------------------------------- */
/*
 * mmap. Offsets select what is mapped:
 *  - KPEEK_MMAP_COUNTERS (0): read-only (PROT_WRITE -> -EPERM) counter values, length
 *    kpeek_info.mmap_counters_size: a struct kpeek_mmap_counters header, then `capacity`
 *    struct kpeek_mmap_slot. The kernel refreshes it (sums per-CPU values) every
 *    `mmap_refresh_ms` (module parameter) while mapped, and on KPEEK_IOC_MMAP_SYNC, inside a
 *    seqcount write section: readers loop { s = load_acquire(seq); if odd retry; copy;
 *    smp_rmb(); if seq != s retry }.
 *  - KPEEK_MMAP_RING(cpu): that CPU's event ring, length PAGE_SIZE (struct kpeek_ring_header)
 *    + ring data_size, read-only (PROT_WRITE -> -EPERM), by the rings' owner only (-EBUSY
 *    for any other open file). Rings exist for the CPUs online at RING_SETUP and those onlined
 *    since (a CPU that goes offline keeps its ring); -ENXIO for a CPU without one.
 * As io_uring's IORING_OFF_PBUF_RING, an offset only names what is mapped: KPEEK_MMAP_RING_BASE
 * plus the CPU in units of 64 KiB (page-aligned for every page size up to 64 KiB), so every
 * offset stays below 2 GiB, within what a 32-bit kernel accepts for a character device and what
 * a 32-bit off_t holds. A ring mapping is longer than its 64 KiB step; that is fine, as the
 * offset is matched exactly, never as a position in a file.
 */
#define KPEEK_MMAP_COUNTERS	0ULL
#define KPEEK_MMAP_RING_BASE	0x40000000ULL
#define KPEEK_MMAP_RING_SHIFT	16
#define KPEEK_MMAP_RING_MAX_CPUS	(1U << 14)	/* ring offsets stay below 2 GiB */
#define KPEEK_MMAP_RING(cpu)	(KPEEK_MMAP_RING_BASE + ((__u64)(cpu) << KPEEK_MMAP_RING_SHIFT))

#define KPEEK_MMAP_MAGIC 0x4b504d43U	/* "KPMC" */

struct kpeek_mmap_counters {
	__u32 magic;		/* KPEEK_MMAP_MAGIC */
	__u32 seq;		/* seqcount: odd while the kernel writes */
	__u32 count;		/* slots in use, from slot 0 */
	__u32 capacity;		/* slots that fit in the mapping */
	__u64 generation;	/* as in kpeek_info */
	__u64 refresh_ns;	/* ktime_get_ns() of the last refresh */
};	/* 32 bytes; slots follow */

struct kpeek_mmap_slot {
	__u64 id;
	__u64 value;
	char group[KPEEK_NAME_MAX + 1];
	char counter[KPEEK_NAME_MAX + 1];
};	/* 80 bytes */

/*
 * One single-producer/single-consumer ring per CPU, Documentation/core-api/circular-buffers.rst:
 * head and tail are byte offsets in [0, data_size); empty when head == tail; the producer never
 * fills the ring completely (one 8-byte slot always stays empty). The producer (a probe on that
 * CPU, any context incl. softirq, with interrupts/preemption handled so one CPU has one producer
 * at a time) reads tail, writes the record, then smp_store_release(head). The consumer reads
 * head with smp_load_acquire, reads the records, then hands the new tail to the kernel with
 * KPEEK_IOC_RING_CONSUME (which publishes it with a release store). The whole mapping is
 * read-only: `tail` here is the kernel's copy of the last tail consumed, for information.
 * A record that does not fit is dropped and counted in `lost` (its seq is still consumed, so
 * seq gaps == lost). Records never straddle the end: a KPEEK_REC_PAD record fills the rest.
 * head and tail are __u32 (data_size is at most 16 MiB) so that both sides can load-acquire and
 * store-release them on 32-bit machines too; lost and written are statistics a 32-bit reader
 * may see torn (seq gaps are the exact account of lost records).
 */
#define KPEEK_RING_MAGIC 0x4b505247U	/* "KPRG" */

struct kpeek_ring_header {
	__u32 magic;		/* KPEEK_RING_MAGIC */
	__u32 cpu;
	__u32 data_offset;	/* from the start of the mapping: PAGE_SIZE */
	__u32 data_size;
	__u64 lost;		/* records dropped because the ring was full */
	__u64 written;		/* records written */
	__u32 watermark;
	__u32 reserved0;
	__u8 pad0[24];		/* head on its own cache line */
	__u32 head;		/* producer: kernel */
	__u32 reserved1;
	__u8 pad1[56];
	__u32 tail;		/* the last tail KPEEK_IOC_RING_CONSUME set */
	__u32 reserved2;
	__u8 pad2[56];
};	/* 192 bytes */

#define KPEEK_REC_PAD			0
#define KPEEK_REC_NETIF_RECEIVE_SKB	1
#define KPEEK_REC_SCHED_SWITCH		2
#define KPEEK_REC_BLOCK_RQ_ISSUE	3

/*
 * type and len come first so that a PAD record needs only 8 bytes: the space left before the
 * end of the data area may be 8 or 16 bytes. Read type and len first; of a PAD record nothing
 * else is valid. PAD records consume no seq number.
 */
#define KPEEK_REC_ALIGN 8

struct kpeek_rec_header {
	__u16 type;		/* KPEEK_REC_* */
	__u16 len;		/* whole record incl. this header, multiple of KPEEK_REC_ALIGN */
	__u32 seq;		/* per-CPU, +1 per record produced or lost */
	__u64 ts_ns;		/* CLOCK_MONOTONIC (ktime_get_mono_fast_ns()) */
	__u32 cpu;
	__s32 pid;		/* current->pid when produced: an init-namespace pid */
};	/* 24 bytes */

struct kpeek_rec_netif {
	struct kpeek_rec_header hdr;
	char dev[16];
	__u32 len;		/* skb->len */
	__u16 protocol;		/* ntohs(skb->protocol) */
	__u16 reserved;
};

struct kpeek_rec_sched_switch {
	struct kpeek_rec_header hdr;
	char prev_comm[16];
	char next_comm[16];
	__s32 prev_pid;		/* init-namespace pids, as hdr.pid */
	__s32 next_pid;
	__s64 prev_state;
};

struct kpeek_rec_block_rq {
	struct kpeek_rec_header hdr;
	__u64 sector;
	__u32 dev;		/* new_encode_dev-style major:minor */
	__u32 bytes;
	char rwbs[16];		/* blk_fill_rwbs() text, NUL-terminated (RWBS_LEN is 8 or 10) */
};

/* ---------------------------------------------------------------------------------------- */
/* Generic netlink: family "kpeek", version 1, multicast group "events". */
#define KPEEK_GENL_NAME		"kpeek"
#define KPEEK_GENL_VERSION	1
#define KPEEK_GENL_MCGRP_EVENTS	"events"

enum kpeek_genl_cmd {
	KPEEK_CMD_UNSPEC,
	KPEEK_CMD_GET_INFO,		/* -> ABI_VERSION, GROUPS, COUNTERS, GENERATION */
	KPEEK_CMD_GET_COUNTER,		/* ID, or GROUP+COUNTER -> one counter (attrs below) */
	KPEEK_CMD_GET_COUNTERS,		/* NLM_F_DUMP: one message per counter (COUNTER_* attrs);
					 * NLM_F_DUMP_INTR when the generation changed mid-dump */
	KPEEK_CMD_RESET,		/* CAP_SYS_ADMIN: ID (+ TARGET), none = all */
	KPEEK_CMD_CREATE,		/* CAP_SYS_ADMIN: GROUP [+ COUNTER] -> ID */
	KPEEK_CMD_DESTROY,		/* CAP_SYS_ADMIN: TARGET + ID */
	KPEEK_CMD_SET_THRESHOLD,	/* CAP_SYS_ADMIN: ID + THRESHOLD (0 clears) */
	KPEEK_CMD_PROBE_SET,		/* CAP_SYS_ADMIN: PROBE, PROBE_FLAGS, FILTER_* */
	KPEEK_CMD_EVENT,		/* multicast notification (kernel -> user only) */
	KPEEK_CMD_PEEK,			/* CAP_SYS_RAWIO: PEEK_NAME and/or PEEK_ADDR, PEEK_OFFSET,
					 * PEEK_LEN -> PEEK_ADDR, PEEK_SIZE, PEEK_DATA (as
					 * KPEEK_IOC_PEEK, same errnos) */
	__KPEEK_CMD_MAX,
};

#define KPEEK_CMD_MAX (__KPEEK_CMD_MAX - 1)

enum kpeek_genl_attr {
	KPEEK_A_UNSPEC,
	KPEEK_A_PAD,			/* for nla_put_u64_64bit */
	KPEEK_A_ABI_VERSION,		/* u32 */
	KPEEK_A_GROUPS,			/* u32 */
	KPEEK_A_COUNTERS,		/* u32 */
	KPEEK_A_GENERATION,		/* u64 */
	KPEEK_A_TARGET,			/* u32: KPEEK_TARGET_* */
	KPEEK_A_ID,			/* u64 */
	KPEEK_A_GROUP_ID,		/* u64 */
	KPEEK_A_GROUP,			/* string, <= KPEEK_NAME_MAX */
	KPEEK_A_COUNTER,		/* string, <= KPEEK_NAME_MAX */
	KPEEK_A_VALUE,			/* u64 */
	KPEEK_A_THRESHOLD,		/* u64 */
	KPEEK_A_EVENT,			/* u32: KPEEK_EVENT_* */
	KPEEK_A_PROBE,			/* u32: KPEEK_PROBE_* */
	KPEEK_A_PROBE_FLAGS,		/* u32: KPEEK_PROBE_F_* */
	KPEEK_A_FILTER_DEV,		/* string, < 16 */
	KPEEK_A_FILTER_PID,		/* s32 */
	KPEEK_A_FILTER_MINLEN,		/* u32 */
	KPEEK_A_PEEK_NAME,		/* string, < KPEEK_PEEK_NAME_MAX: "sym" or "module:sym" */
	KPEEK_A_PEEK_ADDR,		/* u64: in as kpeek_peek.addr; out: the address read */
	KPEEK_A_PEEK_OFFSET,		/* u64 */
	KPEEK_A_PEEK_LEN,		/* u32, <= KPEEK_PEEK_NL_LEN_MAX (else -ERANGE) */
	KPEEK_A_PEEK_SIZE,		/* u64: the symbol's size (0 if unknown) */
	KPEEK_A_PEEK_DATA,		/* binary: the bytes read */
	__KPEEK_A_MAX,
};

#define KPEEK_A_MAX (__KPEEK_A_MAX - 1)

enum kpeek_event {			/* KPEEK_A_EVENT of a KPEEK_CMD_EVENT notification */
	KPEEK_EVENT_UNSPEC,
	KPEEK_EVENT_GROUP_CREATED,	/* + GROUP_ID, GROUP */
	KPEEK_EVENT_GROUP_REMOVED,	/* + GROUP_ID, GROUP */
	KPEEK_EVENT_COUNTER_CREATED,	/* + ID, GROUP, COUNTER */
	KPEEK_EVENT_COUNTER_REMOVED,	/* + ID, GROUP, COUNTER */
	KPEEK_EVENT_THRESHOLD,		/* + ID, GROUP, COUNTER, VALUE, THRESHOLD: the counter
					 * rose to >= its threshold (once per crossing) */
};

#endif /* _UAPI_LINUX_KPEEK_H */

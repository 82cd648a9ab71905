/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kpeek_internal.h - what the files of kpeek.ko share: the object model and the hooks between
 * the core (kpeek_core.c) and one file per channel.
 *
 * Locking, in one place:
 * - kpeek_lock (a mutex) serialises every change: creating/destroying groups and counters,
 *   adding/removing their sysfs files, configfs state, descriptions. Changes sleep (kobjects,
 *   per-CPU allocation), hence a mutex.
 * - Readers that walk the lists (procfs, debugfs, sysfs reset, part 2's dumps) use RCU and never
 *   take kpeek_lock: a reader may hold its place across many objects and must neither block
 *   writers for a whole 10,000-line dump nor be blocked by them. Objects are unlinked with
 *   list_del_rcu() and freed by call_rcu(), so a reader standing on a removed object can still
 *   step to the next one.
 * - sysfs files need no RCU: removing a kernfs file waits for its running show/store callbacks,
 *   and the core removes the files before unlinking the object. For the same reason those
 *   callbacks must never take kpeek_lock (the remover holds it while waiting for them).
 */
#ifndef _KPEEK_INTERNAL_H
#define _KPEEK_INTERNAL_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/types.h>
#include <kpeek.h>

/* Who created a group. */
enum kpeek_source {
	KPEEK_SRC_API,		/* another module, through include/kpeek.h */
	KPEEK_SRC_CONFIGFS,	/* user space, mkdir in configfs */
	KPEEK_SRC_USER,		/* user space, ioctl or netlink: lives until destroyed or unload */
};

struct kpeek_sysfs_dir;
struct file;
struct vm_area_struct;
struct poll_table_struct;

struct kpeek_group {
	struct list_head node;		/* in kpeek_groups, creation order; RCU */
	struct list_head counters;	/* kpeek_counter.node, creation order; RCU */
	u64 id;				/* unique, increasing: the iterators' sort key */
	enum kpeek_source source;
	struct module *owner;		/* KPEEK_SRC_API: the creating module */
	unsigned int ncounters;		/* under kpeek_lock */
	struct kpeek_sysfs_dir *sysfs;	/* /sys/kernel/kpeek/<name> */
	struct rcu_head rcu;
	char name[KPEEK_NAME_MAX + 1];
	char desc[KPEEK_DESC_MAX + 1];	/* under kpeek_lock */
};

/*
 * A counter's per-CPU slot. On 64-bit kernels a plain u64 (this_cpu_add, one instruction; a read
 * from another CPU is one load). On 32-bit kernels a u64 add is two stores and another CPU could
 * read half of it, so the slot is an atomic64_t there.
 */
#if BITS_PER_LONG == 64
typedef u64 kpeek_pcpu_t;
#define kpeek_pcpu_add(v, delta)	this_cpu_add(*(v), (delta))
#define kpeek_pcpu_read(p)		READ_ONCE(*(p))
#else
typedef atomic64_t kpeek_pcpu_t;
/* raw_cpu_ptr: an add that migrates lands, atomically, in another CPU's slot: still counted. */
#define kpeek_pcpu_add(v, delta)	atomic64_add((delta), raw_cpu_ptr(v))
#define kpeek_pcpu_read(p)		((u64)atomic64_read(p))
#endif

struct kpeek_counter {
	struct list_head node;		/* in group->counters; RCU */
	struct hlist_node hash;		/* in the (group, name) hash; under kpeek_lock */
	struct kpeek_group *group;
	u64 id;				/* unique, increasing, shared id space with groups */
	kpeek_pcpu_t __percpu *values;
	atomic64_t base;		/* the sum at the last reset/set, minus the value set */
	struct kobj_attribute sysfs_attr;	/* /sys/kernel/kpeek/<group>/<name> */
	bool sysfs_added;
	struct rcu_head rcu;
	char name[KPEEK_NAME_MAX + 1];
	char desc[KPEEK_DESC_MAX + 1];	/* under kpeek_lock */
};

extern struct mutex kpeek_lock;
extern struct list_head kpeek_groups;

/* kpeek_params.c: fixed at load time, bounded by these. */
#define KPEEK_MAX_GROUPS_LIMIT		BIT(20)
#define KPEEK_MAX_COUNTERS_LIMIT	BIT(24)	/* mapping: 1.25 GiB */
extern unsigned int kpeek_max_groups;
extern unsigned int kpeek_max_counters;
extern int kpeek_fail_init_step;

/* kpeek_core.c */
struct kpeek_stats {
	unsigned int groups;
	unsigned int counters;
	unsigned int api_groups;
	unsigned int configfs_groups;
	unsigned int user_groups;
	u64 groups_created;
	u64 counters_created;
	u64 generation;
	long bytes;
	long rcu_pending;
};

int kpeek_name_check(const char *name);
struct kpeek_group *kpeek_group_find_locked(const char *name);
struct kpeek_counter *kpeek_counter_find_locked(struct kpeek_group *group, const char *name);
struct kpeek_group *kpeek_group_find_id_locked(u64 id);
struct kpeek_counter *kpeek_counter_find_id_rcu(u64 id);
u64 kpeek_generation_read(void);
/*
 * What ioctl and netlink do for user space, in one place so both give the same errnos:
 * target is KPEEK_TARGET_*; see include/uapi/kpeek.h. The caller checks permissions.
 */
int kpeek_user_create(u32 target, const char *group, const char *counter, u64 *id);
int kpeek_user_destroy(u32 target, u64 id);
int kpeek_user_reset(u32 target, u64 id);
int kpeek_desc_check(const char *desc, size_t len);
struct kpeek_group *kpeek_group_add_locked(const char *name, enum kpeek_source source,
					   struct module *owner);
void kpeek_group_del_locked(struct kpeek_group *group);
struct kpeek_counter *kpeek_counter_add_locked(struct kpeek_group *group, const char *name);
void kpeek_counter_del_locked(struct kpeek_counter *counter);
void kpeek_counter_set(struct kpeek_counter *counter, u64 value);
void kpeek_stats_get(struct kpeek_stats *stats);
int kpeek_core_init(void);
void kpeek_core_exit(void);

/* kpeek_sysfs.c */
int kpeek_sysfs_init(void);
void kpeek_sysfs_exit(void);
int kpeek_sysfs_group_add(struct kpeek_group *group);
void kpeek_sysfs_group_del(struct kpeek_group *group);
int kpeek_sysfs_counter_add(struct kpeek_counter *counter);
void kpeek_sysfs_counter_del(struct kpeek_counter *counter);

/* kpeek_procfs.c */
int kpeek_procfs_init(void);
void kpeek_procfs_exit(void);

/* kpeek_debugfs.c */
int kpeek_debugfs_init(void);
void kpeek_debugfs_exit(void);

/* kpeek_configfs.c */
int kpeek_configfs_init(void);
void kpeek_configfs_exit(void);

/*
 * kpeek_netlink.c: the generic netlink family. The core calls the notify hooks under kpeek_lock
 * on every create (after publishing) and destroy (before unlinking), whatever the source.
 */
int kpeek_netlink_init(void);
void kpeek_netlink_exit(void);
void kpeek_notify_group(const struct kpeek_group *group, bool created);
void kpeek_notify_counter(const struct kpeek_counter *counter, bool created);

/* kpeek_params.c */
extern unsigned int kpeek_mmap_refresh_ms;

/*
 * kpeek_ring.c: per-CPU event rings (see the protocol in include/uapi/kpeek.h), owned by the
 * open file that set them up.
 */
struct kpeek_rec_header;
int kpeek_ring_init(void);
void kpeek_ring_exit(void);
int kpeek_ring_setup(const struct file *file, u32 data_size, u32 watermark);
int kpeek_ring_consume(const struct file *file, u32 cpu, u32 tail);
void kpeek_ring_release(const struct file *file);
u32 kpeek_ring_data_size(void);
void kpeek_ring_write(struct kpeek_rec_header *rec);
__poll_t kpeek_ring_poll(struct file *file, struct poll_table_struct *wait);
int kpeek_ring_mmap(struct file *file, struct vm_area_struct *vma, unsigned int cpu);

/* kpeek_probes.c: tracepoint probes. kpeek_probe_set() validates cfg itself. */
struct kpeek_probe_config;
int kpeek_probes_init(void);
void kpeek_probes_exit(void);
int kpeek_probe_set(const struct kpeek_probe_config *cfg);
int kpeek_probe_get(struct kpeek_probe_config *cfg);

/* kpeek_mmap.c: the counters mapping and the mmap() entry point of /dev/kpeek. */
int kpeek_mmap_init(void);
void kpeek_mmap_exit(void);
size_t kpeek_mmap_counters_size(void);
int kpeek_mmap_sync(void);
int kpeek_mmap(struct file *file, struct vm_area_struct *vma);

/*
 * kpeek_peek.c: KPEEK_IOC_PEEK and KPEEK_CMD_PEEK. kpeek_peek_allowed() is the permission check
 * of both channels; kpeek_peek_read() resolves req->name (filling addr and sym_size) and reads
 * req->len bytes into kbuf (at least that big); buf is not used.
 */
struct kpeek_peek;
int kpeek_peek_init(void);
void kpeek_peek_exit(void);
int kpeek_peek_allowed(bool capable_rawio);
int kpeek_peek_read(struct kpeek_peek *req, void *kbuf);

/* kpeek_chardev.c (/dev/kpeek) and kpeek_ioctl.c (its ioctl commands) */
int kpeek_chardev_init(void);
void kpeek_chardev_exit(void);
long kpeek_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
void kpeek_counter_rec_fill(struct kpeek_counter_rec *rec, const struct kpeek_counter *c);
void kpeek_counter_rec_fill_names(struct kpeek_counter_rec *rec, const struct kpeek_counter *c);
void kpeek_counter_recs_sum_unlock(struct kpeek_counter_rec *recs, size_t n);
/*
 * An open /dev/kpeek. Its buffers are kept between calls: a reader polling the snapshot or
 * GET_COUNTERS many times a second should not pay a vmalloc and vfree (with its TLB flush) each
 * time.
 */
struct kpeek_file {
	struct mutex lock;	/* everything below */
	void *snap;		/* the read() snapshot: header + records; NULL until first read */
	size_t len;		/* bytes of it in use */
	size_t cap;		/* bytes allocated */
	void *bounce;		/* GET_COUNTERS records on their way to user space */
	size_t bounce_cap;
};

void *kpeek_file_buf(void **buf, size_t *cap, size_t len);

#endif /* _KPEEK_INTERNAL_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_ioctl.c - the ioctl commands of /dev/kpeek (KPEEK_IOC_*, include/uapi/kpeek.h).
 *
 * Every command checks in the same order, so that user space (and the fuzzer) can rely on it:
 *   - a command number we do not know, including a known one with another size or direction
 *     encoded in it: -ENOTTY;
 *   - a command that changes state, without CAP_SYS_ADMIN: -EPERM, before the argument is read
 *     (PEEK: CAP_SYS_RAWIO, and not under lockdown);
 *   - an argument we cannot read or write: -EFAULT;
 *   - a `size` field other than sizeof(the struct), flags or reserved fields not zero, values
 *     out of range: -EINVAL.
 * Fields documented as output are ignored on input. Groups and counters made here belong to
 * user space (KPEEK_SRC_USER); the rules live in kpeek_core.c, shared with netlink.
 */
#include <linux/capability.h>
#include <linux/cpumask.h>
#include <linux/fs.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "kpeek_internal.h"

/* Copy a whole argument struct in and check its leading `size` field. */
static int kpeek_ioc_in(void *karg, const void __user *uarg, size_t size)
{
	u32 usize;

	if (copy_from_user(karg, uarg, size))
		return -EFAULT;
	memcpy(&usize, karg, sizeof(usize));
	return usize == size ? 0 : -EINVAL;
}

static int kpeek_ioc_out(void __user *uarg, const void *karg, size_t size)
{
	return copy_to_user(uarg, karg, size) ? -EFAULT : 0;
}

/* A name field: NUL-terminated inside its array (what is in it, the core checks). */
static bool kpeek_ioc_name_ok(const char *name, size_t size)
{
	return memchr(name, '\0', size);
}

static int kpeek_ioc_info(void __user *uarg)
{
	struct kpeek_info k;
	struct kpeek_stats s;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	if (k.reserved)
		return -EINVAL;
	kpeek_stats_get(&s);
	k.abi_version = KPEEK_ABI_VERSION;
	k.nr_cpus = nr_cpu_ids;
	k.max_groups = kpeek_max_groups;
	k.max_counters = kpeek_max_counters;
	k.groups = s.groups;
	k.counters = s.counters;
	/* Fits: max_counters is bounded at load (kpeek_params.c). */
	k.mmap_counters_size = (u32)kpeek_mmap_counters_size();
	k.generation = s.generation;
	k.ring_data_size = kpeek_ring_data_size();
	return kpeek_ioc_out(uarg, &k, sizeof(k));
}

static int kpeek_ioc_get_counter(void __user *uarg)
{
	struct kpeek_counter_get k;
	struct kpeek_counter *c;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	if (k.flags)
		return -EINVAL;
	rcu_read_lock();
	c = kpeek_counter_find_id_rcu(k.id);
	if (c)
		kpeek_counter_rec_fill(&k.rec, c);
	rcu_read_unlock();
	if (!c)
		return -ENOENT;
	return kpeek_ioc_out(uarg, &k, sizeof(k));
}

/*
 * Counters [start, start + capacity) in dump order. They are copied under kpeek_lock into the
 * file's bounce buffer first, so a page is consistent with the generation returned with it;
 * their values are summed after kpeek_lock is released.
 * copy_to_user() must not run under kpeek_lock: a fault takes mmap_lock, and our mmap()
 * handler takes kpeek_lock with mmap_lock held.
 */
static int kpeek_ioc_get_counters(struct kpeek_file *kf, void __user *uarg)
{
	struct kpeek_counter_rec *recs = NULL;
	struct kpeek_counters_get k;
	struct kpeek_group *g;
	struct kpeek_counter *c;
	u32 total = 0, n = 0, i = 0;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	if (k.flags)
		return -EINVAL;

	mutex_lock(&kf->lock);
	mutex_lock(&kpeek_lock);
	list_for_each_entry(g, &kpeek_groups, node)
		total += g->ncounters;
	if (k.start < total)
		n = min(k.capacity, total - k.start);
	if (n) {
		recs = kpeek_file_buf(&kf->bounce, &kf->bounce_cap, (size_t)n * sizeof(*recs));
		if (!recs) {
			mutex_unlock(&kpeek_lock);
			mutex_unlock(&kf->lock);
			return -ENOMEM;
		}
	}
	list_for_each_entry(g, &kpeek_groups, node) {
		list_for_each_entry(c, &g->counters, node) {
			if (i >= k.start && i - k.start < n)
				kpeek_counter_rec_fill_names(&recs[i - k.start], c);
			i++;
		}
	}
	k.generation = kpeek_generation_read();
	/* Values summed outside kpeek_lock, under RCU. */
	kpeek_counter_recs_sum_unlock(recs, n);

	k.count = n;
	k.total = total;
	err = 0;
	if (n && copy_to_user(u64_to_user_ptr(k.recs), recs, (size_t)n * sizeof(*recs)))
		err = -EFAULT;
	mutex_unlock(&kf->lock);
	if (err)
		return err;
	return kpeek_ioc_out(uarg, &k, sizeof(k));
}

static int kpeek_ioc_reset(void __user *uarg)
{
	struct kpeek_reset k;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	return kpeek_user_reset(k.target, k.id);
}

static int kpeek_ioc_create(void __user *uarg)
{
	struct kpeek_create k;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	if (!kpeek_ioc_name_ok(k.group, sizeof(k.group)) ||
	    !kpeek_ioc_name_ok(k.counter, sizeof(k.counter)))
		return -EINVAL;
	/* A group has no counter name: a stray one is a mistake, not something to ignore. */
	if (k.target == KPEEK_TARGET_GROUP && memchr_inv(k.counter, 0, sizeof(k.counter)))
		return -EINVAL;
	if (k.target != KPEEK_TARGET_GROUP && k.target != KPEEK_TARGET_COUNTER)
		return -EINVAL;
	err = kpeek_user_create(k.target, k.group, k.counter, &k.id);
	if (err)
		return err;
	/*
	 * All or nothing: a caller that cannot be told the id (its argument is not writable)
	 * gets -EFAULT and no object, so that a retry does not meet -EEXIST.
	 */
	err = kpeek_ioc_out(uarg, &k, sizeof(k));
	if (err)
		kpeek_user_destroy(k.target, k.id);
	return err;
}

static int kpeek_ioc_destroy(void __user *uarg)
{
	struct kpeek_destroy k;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	if (k.target != KPEEK_TARGET_GROUP && k.target != KPEEK_TARGET_COUNTER)
		return -EINVAL;
	return kpeek_user_destroy(k.target, k.id);
}

static int kpeek_ioc_probe_set(void __user *uarg)
{
	struct kpeek_probe_config k;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	return kpeek_probe_set(&k);
}

static int kpeek_ioc_probe_get(void __user *uarg)
{
	struct kpeek_probe_config k;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	err = kpeek_probe_get(&k);
	if (err)
		return err;
	return kpeek_ioc_out(uarg, &k, sizeof(k));
}

static int kpeek_ioc_ring_setup(struct file *file, void __user *uarg)
{
	struct kpeek_ring_config k;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	if (k.flags)
		return -EINVAL;
	return kpeek_ring_setup(file, k.data_size, k.watermark);
}

/* Not a capability: only the file that set the rings up (with CAP_SYS_ADMIN) may consume. */
static int kpeek_ioc_ring_consume(struct file *file, void __user *uarg)
{
	struct kpeek_ring_consume k;
	int err;

	err = kpeek_ioc_in(&k, uarg, sizeof(k));
	if (err)
		return err;
	if (k.flags)
		return -EINVAL;
	return kpeek_ring_consume(file, k.cpu, k.tail);
}

/* Read kernel memory (kpeek_peek.c): through a kernel buffer, so a fault is never the user's. */
static int kpeek_ioc_peek(void __user *uarg)
{
	struct kpeek_peek k;
	void *kbuf = NULL;
	int err;

	if (copy_from_user(&k, uarg, sizeof(k)))
		return -EFAULT;
	if (k.len && k.len <= KPEEK_PEEK_LEN_MAX) {
		kbuf = kvmalloc(k.len, GFP_KERNEL_ACCOUNT);
		if (!kbuf)
			return -ENOMEM;
	}
	err = kpeek_peek_read(&k, kbuf);
	if (!err && k.len && copy_to_user(u64_to_user_ptr(k.buf), kbuf, k.len))
		err = -EFAULT;
	kvfree(kbuf);
	if (err)
		return err;
	return kpeek_ioc_out(uarg, &k, sizeof(k));
}

/* Commands that change state: CAP_SYS_ADMIN, checked before anything else is looked at. */
static bool kpeek_ioc_mutates(unsigned int cmd)
{
	switch (cmd) {
	case KPEEK_IOC_RESET:
	case KPEEK_IOC_CREATE:
	case KPEEK_IOC_DESTROY:
	case KPEEK_IOC_PROBE_SET:
	case KPEEK_IOC_RING_SETUP:
		return true;
	default:
		return false;
	}
}

long kpeek_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	int err;

	if (kpeek_ioc_mutates(cmd) && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (cmd == KPEEK_IOC_PEEK) {
		err = kpeek_peek_allowed(capable(CAP_SYS_RAWIO));
		if (err)
			return err;
	}

	switch (cmd) {
	case KPEEK_IOC_INFO:
		return kpeek_ioc_info(uarg);
	case KPEEK_IOC_GET_COUNTER:
		return kpeek_ioc_get_counter(uarg);
	case KPEEK_IOC_GET_COUNTERS:
		return kpeek_ioc_get_counters(file->private_data, uarg);
	case KPEEK_IOC_RESET:
		return kpeek_ioc_reset(uarg);
	case KPEEK_IOC_CREATE:
		return kpeek_ioc_create(uarg);
	case KPEEK_IOC_DESTROY:
		return kpeek_ioc_destroy(uarg);
	case KPEEK_IOC_PROBE_SET:
		return kpeek_ioc_probe_set(uarg);
	case KPEEK_IOC_PROBE_GET:
		return kpeek_ioc_probe_get(uarg);
	case KPEEK_IOC_RING_SETUP:
		return kpeek_ioc_ring_setup(file, uarg);
	case KPEEK_IOC_RING_CONSUME:
		return kpeek_ioc_ring_consume(file, uarg);
	case KPEEK_IOC_MMAP_SYNC:
		/* _IO: no argument, and any value of arg is accepted like other _IO commands. */
		return kpeek_mmap_sync();
	case KPEEK_IOC_PEEK:
		return kpeek_ioc_peek(uarg);
	default:
		return -ENOTTY;
	}
}

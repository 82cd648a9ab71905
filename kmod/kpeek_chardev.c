// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_chardev.c - /dev/kpeek, a misc device (mode 0600; 99-kpeek.rules for other setups):
 * read() gives a self-describing binary snapshot of every counter, ioctl() the commands of
 * kpeek_ioctl.c, mmap() the counters and event rings (kpeek_mmap.c, kpeek_ring.c), and poll()
 * waits for ring data.
 *
 * read(): struct kpeek_snap_header, then `count` struct kpeek_counter_rec in dump order (groups
 * and their counters in creation order, as /proc/kpeek). The snapshot is built when a read
 * starts at offset 0 (or at any offset when there is none yet, and for SEEK_END), and later
 * reads and lseek()s are served from that one copy, so a reader taking it in small pieces still
 * sees one consistent set. Each open file has its own snapshot.
 *
 * Refcounting: misc_open() takes a reference on our fops' owner for every open file; a mapping
 * keeps its file (hence the module) alive after close(). rmmod therefore fails with EAGAIN
 * (module in use) while the device is open or mapped, and close/munmap may come in any order.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "kpeek_internal.h"

/* A buffer of at least len bytes, reusing *buf when it is big enough; contents not kept. */
void *kpeek_file_buf(void **buf, size_t *cap, size_t len)
{
	void *n;

	if (*buf && len <= *cap)
		return *buf;
	n = kvmalloc(len, GFP_KERNEL_ACCOUNT);
	if (!n)
		return NULL;
	kvfree(*buf);
	*buf = n;
	*cap = len;
	return n;
}

void kpeek_counter_rec_fill(struct kpeek_counter_rec *rec, const struct kpeek_counter *c)
{
	kpeek_counter_rec_fill_names(rec, c);
	rec->value = kpeek_counter_read(c);
}

/* Everything but the value, which the caller sums later (kpeek_counter_recs_sum()). */
void kpeek_counter_rec_fill_names(struct kpeek_counter_rec *rec, const struct kpeek_counter *c)
{
	memset(rec, 0, sizeof(*rec));
	rec->id = c->id;
	rec->group_id = c->group->id;
	/* Parked here until kpeek_counter_recs_sum() replaces it with the value. */
	rec->value = (u64)(uintptr_t)c;
	strscpy(rec->group, c->group->name, sizeof(rec->group));
	strscpy(rec->counter, c->name, sizeof(rec->counter));
}

/*
 * Called with kpeek_lock held after kpeek_counter_rec_fill_names() of n records; returns with
 * it released. Summing every counter over every possible CPU is the slow part of a snapshot,
 * so it runs outside kpeek_lock (creators need not wait for it) but inside an RCU read side
 * entered while the lock was still held: no counter of the records can be freed before it
 * ends (they are unlinked under kpeek_lock and freed after a grace period).
 */
void kpeek_counter_recs_sum_unlock(struct kpeek_counter_rec *recs, size_t n)
{
	const struct kpeek_counter *c;
	size_t i;

	rcu_read_lock();
	mutex_unlock(&kpeek_lock);
	for (i = 0; i < n; i++) {
		c = (const struct kpeek_counter *)(uintptr_t)recs[i].value;
		recs[i].value = kpeek_counter_read(c);
	}
	rcu_read_unlock();
}

/*
 * A new snapshot: count, generation and records are taken under kpeek_lock, so they agree; the
 * values are summed after it is released (kpeek_counter_recs_sum_unlock()).
 */
static int kpeek_snap_build(struct kpeek_file *kf)
{
	struct kpeek_snap_header *hdr;
	struct kpeek_counter_rec *rec;
	struct kpeek_group *g;
	struct kpeek_counter *c;
	size_t n = 0, len;
	void *buf;

	lockdep_assert_held(&kf->lock);
	mutex_lock(&kpeek_lock);
	list_for_each_entry(g, &kpeek_groups, node)
		n += g->ncounters;
	len = sizeof(*hdr) + n * sizeof(*rec);
	/* The old snapshot's buffer is reused; on failure the old snapshot is gone too. */
	buf = kpeek_file_buf(&kf->snap, &kf->cap, len);
	if (!buf) {
		kf->len = 0;
		mutex_unlock(&kpeek_lock);
		return -ENOMEM;
	}
	hdr = buf;
	hdr->magic = KPEEK_SNAP_MAGIC;
	hdr->abi_version = KPEEK_ABI_VERSION;
	hdr->header_size = sizeof(*hdr);
	hdr->record_size = sizeof(*rec);
	hdr->count = n;
	hdr->generation = kpeek_generation_read();
	rec = (struct kpeek_counter_rec *)(hdr + 1);
	list_for_each_entry(g, &kpeek_groups, node)
		list_for_each_entry(c, &g->counters, node)
			kpeek_counter_rec_fill_names(rec++, c);
	kpeek_counter_recs_sum_unlock((struct kpeek_counter_rec *)(hdr + 1), n);
	kf->len = len;
	return 0;
}

static ssize_t kpeek_dev_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	struct kpeek_file *kf = file->private_data;
	ssize_t ret;

	mutex_lock(&kf->lock);
	if (*ppos == 0 || !kf->len) {
		ret = kpeek_snap_build(kf);
		if (ret)
			goto unlock;
	}
	ret = simple_read_from_buffer(ubuf, count, ppos, kf->snap, kf->len);
unlock:
	mutex_unlock(&kf->lock);
	return ret;
}

/* SEEK_SET, SEEK_CUR and SEEK_END (the snapshot's size); past the end reads return 0. */
static loff_t kpeek_dev_llseek(struct file *file, loff_t offset, int whence)
{
	struct kpeek_file *kf = file->private_data;
	loff_t ret;

	mutex_lock(&kf->lock);
	if (whence == SEEK_END && !kf->len) {
		ret = kpeek_snap_build(kf);
		if (ret)
			goto unlock;
	}
	ret = generic_file_llseek_size(file, offset, whence, MAX_LFS_FILESIZE, kf->len);
unlock:
	mutex_unlock(&kf->lock);
	return ret;
}

static int kpeek_dev_open(struct inode *inode, struct file *file)
{
	struct kpeek_file *kf;

	kf = kzalloc(sizeof(*kf), GFP_KERNEL_ACCOUNT);
	if (!kf)
		return -ENOMEM;
	mutex_init(&kf->lock);
	/* misc_open() set private_data to the miscdevice; we have no use for it. */
	file->private_data = kf;
	return 0;
}

static int kpeek_dev_release(struct inode *inode, struct file *file)
{
	struct kpeek_file *kf = file->private_data;

	/* No descriptor and no mapping of this file is left: its claim on the rings ends. */
	kpeek_ring_release(file);
	kvfree(kf->snap);
	kvfree(kf->bounce);
	mutex_destroy(&kf->lock);
	kfree(kf);
	return 0;
}

static const struct file_operations kpeek_dev_fops = {
	.owner = THIS_MODULE,
	.open = kpeek_dev_open,
	.release = kpeek_dev_release,
	.read = kpeek_dev_read,
	.llseek = kpeek_dev_llseek,
	.unlocked_ioctl = kpeek_ioctl,
	/* Every argument struct has the same layout for 32-bit callers (u64-aligned). */
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = kpeek_mmap,
	.poll = kpeek_ring_poll,
};

static struct miscdevice kpeek_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = KPEEK_DEV_NAME,
	.fops = &kpeek_dev_fops,
	/* root only by default; 99-kpeek.rules shows how to open it to a group. */
	.mode = 0600,
};

int kpeek_chardev_init(void)
{
	return misc_register(&kpeek_miscdev);
}

void kpeek_chardev_exit(void)
{
	misc_deregister(&kpeek_miscdev);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_mmap.c - mmap() of /dev/kpeek: the counter values (offset KPEEK_MMAP_COUNTERS) and the
 * event rings (offset KPEEK_MMAP_RING(cpu), see kpeek_ring.c).
 *
 * The counters mapping is one vmalloc_user() area: a struct kpeek_mmap_counters header, then
 * one struct kpeek_mmap_slot per counter, room for max_counters of them. The kernel rewrites it
 * (summing the per-CPU values) every mmap_refresh_ms while at least one mapping exists, and at
 * once on KPEEK_IOC_MMAP_SYNC. Each rewrite is a seqcount write section on the header's `seq`,
 * so user space reads a consistent snapshot without a system call:
 *	do { s = load_acquire(seq); if (s & 1) continue; copy; smp_rmb(); } while (seq != s);
 * The mapping is read-only for user space: PROT_WRITE is refused and VM_MAYWRITE cleared, so
 * mprotect() cannot make it writable either.
 *
 * Lifetime: the area is allocated on the first use and freed at unload. A mapping holds a
 * reference to its file, and the file one to this module (fops .owner), so the module cannot
 * go while anything is mapped, even after the descriptor was closed.
 */
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/rculist.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include "kpeek_compat.h"
#include "kpeek_internal.h"

static DEFINE_MUTEX(kpeek_mmap_lock);	/* the area and the writers of its seqcount */
static struct kpeek_mmap_counters *kpeek_mmap_area;
/*
 * The slots are summed into this private copy first, outside the write section: summing every
 * counter over every CPU takes long, and a writer preempted with `seq` odd would leave readers
 * spinning on the CPU it needs. The write section is then one memcpy with preemption off.
 */
static struct kpeek_mmap_slot *kpeek_mmap_stage;
static u32 kpeek_mmap_seq;		/* our copy of seq: the kernel never reads the page's */
static atomic_t kpeek_mmap_users = ATOMIC_INIT(0);
static void kpeek_mmap_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(kpeek_mmap_work, kpeek_mmap_work_fn);

static u32 kpeek_mmap_capacity(void)
{
	return kpeek_max_counters;
}

u32 kpeek_mmap_counters_size(void)
{
	return PAGE_ALIGN(sizeof(struct kpeek_mmap_counters) +
			  (size_t)kpeek_mmap_capacity() * sizeof(struct kpeek_mmap_slot));
}

static int kpeek_mmap_area_get_locked(void)
{
	lockdep_assert_held(&kpeek_mmap_lock);
	if (kpeek_mmap_area)
		return 0;
	kpeek_mmap_stage = vmalloc(array_size(kpeek_mmap_capacity(), sizeof(*kpeek_mmap_stage)));
	if (!kpeek_mmap_stage)
		return -ENOMEM;
	kpeek_mmap_area = vmalloc_user(kpeek_mmap_counters_size());
	if (!kpeek_mmap_area) {
		vfree(kpeek_mmap_stage);
		kpeek_mmap_stage = NULL;
		return -ENOMEM;
	}
	kpeek_mmap_area->magic = KPEEK_MMAP_MAGIC;
	kpeek_mmap_area->capacity = kpeek_mmap_capacity();
	return 0;
}

/*
 * Rewrite the area. kpeek_lock keeps the set of counters and the generation still while we
 * sum into the staging copy, so count, generation and slots agree; values are summed per CPU
 * as everywhere else. Only the copy into the mapping is inside the seqcount write section.
 */
static void kpeek_mmap_refresh_locked(void)
{
	struct kpeek_mmap_counters *h = kpeek_mmap_area;
	struct kpeek_mmap_slot *slot = kpeek_mmap_stage;
	u32 n = 0, cap = kpeek_mmap_capacity();
	struct kpeek_group *g;
	struct kpeek_counter *c;
	u64 generation;

	lockdep_assert_held(&kpeek_mmap_lock);
	mutex_lock(&kpeek_lock);
	list_for_each_entry(g, &kpeek_groups, node) {
		list_for_each_entry(c, &g->counters, node) {
			if (n == cap)
				break;
			slot[n].id = c->id;
			slot[n].value = kpeek_counter_read(c);
			memcpy(slot[n].group, g->name, sizeof(slot[n].group));
			memcpy(slot[n].counter, c->name, sizeof(slot[n].counter));
			n++;
		}
	}
	generation = kpeek_generation_read();

	preempt_disable();
	WRITE_ONCE(h->seq, ++kpeek_mmap_seq);	/* odd: readers retry */
	smp_wmb();
	memcpy(h + 1, slot, array_size(n, sizeof(*slot)));
	h->count = n;
	h->generation = generation;
	h->refresh_ns = ktime_get_ns();
	smp_wmb();
	WRITE_ONCE(h->seq, ++kpeek_mmap_seq);	/* even: consistent again */
	preempt_enable();
	mutex_unlock(&kpeek_lock);
}

int kpeek_mmap_sync(void)
{
	int err;

	mutex_lock(&kpeek_mmap_lock);
	err = kpeek_mmap_area_get_locked();
	if (!err)
		kpeek_mmap_refresh_locked();
	mutex_unlock(&kpeek_mmap_lock);
	return err;
}

static unsigned long kpeek_mmap_period(void)
{
	return msecs_to_jiffies(max(kpeek_mmap_refresh_ms, 1U));
}

/* Runs while mapped; the last munmap() lets it stop by itself at its next run. */
static void kpeek_mmap_work_fn(struct work_struct *work)
{
	mutex_lock(&kpeek_mmap_lock);
	kpeek_mmap_refresh_locked();
	mutex_unlock(&kpeek_mmap_lock);
	if (atomic_read(&kpeek_mmap_users))
		schedule_delayed_work(&kpeek_mmap_work, kpeek_mmap_period());
}

static void kpeek_mmap_vm_open(struct vm_area_struct *vma)
{
	atomic_inc(&kpeek_mmap_users);
}

static void kpeek_mmap_vm_close(struct vm_area_struct *vma)
{
	atomic_dec(&kpeek_mmap_users);
}

static const struct vm_operations_struct kpeek_mmap_vm_ops = {
	.open = kpeek_mmap_vm_open,
	.close = kpeek_mmap_vm_close,
};

static int kpeek_mmap_counters(struct vm_area_struct *vma)
{
	int err;

	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	if (vma->vm_end - vma->vm_start != kpeek_mmap_counters_size())
		return -EINVAL;
	mutex_lock(&kpeek_mmap_lock);
	err = kpeek_mmap_area_get_locked();
	if (err)
		goto unlock;
	err = remap_vmalloc_range(vma, kpeek_mmap_area, 0);
	if (err)
		goto unlock;
	kpeek_compat_vm_flags_clear(vma, VM_MAYWRITE);
	vma->vm_ops = &kpeek_mmap_vm_ops;
	/* Current from the start, then kept current by the worker. */
	kpeek_mmap_refresh_locked();
	if (atomic_inc_return(&kpeek_mmap_users) == 1)
		schedule_delayed_work(&kpeek_mmap_work, kpeek_mmap_period());
unlock:
	mutex_unlock(&kpeek_mmap_lock);
	return err;
}

/* The mmap() of /dev/kpeek: the offset selects the counters or one CPU's ring. */
int kpeek_mmap(struct file *file, struct vm_area_struct *vma)
{
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;

	/*
	 * Private copies would silently stop following the kernel's updates. VM_MAYSHARE, not
	 * VM_SHARED: a shared mapping of a read-only descriptor has only the former.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (off == KPEEK_MMAP_COUNTERS)
		return kpeek_mmap_counters(vma);
	if (off & 0xffffffffULL)
		return -EINVAL;
	return kpeek_ring_mmap(vma, (unsigned int)min_t(u64, (off >> 32) - 1, UINT_MAX));
}

int kpeek_mmap_init(void)
{
	return 0;
}

/* /dev/kpeek is gone, so nothing is mapped and the worker does not rearm. */
void kpeek_mmap_exit(void)
{
	cancel_delayed_work_sync(&kpeek_mmap_work);
	vfree(kpeek_mmap_area);
	kpeek_mmap_area = NULL;
	vfree(kpeek_mmap_stage);
	kpeek_mmap_stage = NULL;
}

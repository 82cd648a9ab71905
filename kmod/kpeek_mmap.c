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
 * Lifetime: the area is allocated on the first use and freed at unload. It is one cache shared
 * by every reader, not the caller's: it is not charged to the memory cgroup of whoever happened
 * to map it first (that would pin a cgroup until unload); max_counters bounds it at load.
 * A mapping holds a reference to its file, and the file one to this module (fops .owner), so
 * the module cannot go while anything is mapped, even after the descriptor was closed.
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

/*
 * The bytes to map: the header and room for every counter the cap allows. The cap is bounded at
 * load (kpeek_params.c) so this fits a u32 (kpeek_info.mmap_counters_size); SIZE_MAX (refused
 * by every user) if it ever did not.
 */
size_t kpeek_mmap_counters_size(void)
{
	size_t slots, size;

	if (check_mul_overflow((size_t)kpeek_mmap_capacity(), sizeof(struct kpeek_mmap_slot),
			       &slots) ||
	    check_add_overflow(slots, sizeof(struct kpeek_mmap_counters) + PAGE_SIZE - 1, &size) ||
	    size > U32_MAX)
		return SIZE_MAX;
	return size & PAGE_MASK;
}

static int kpeek_mmap_area_get_locked(void)
{
	lockdep_assert_held(&kpeek_mmap_lock);
	if (kpeek_mmap_area)
		return 0;
	if (kpeek_mmap_counters_size() == SIZE_MAX)
		return -EOVERFLOW;
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

/* The staging copy of the slots, from the RCU lists: no kpeek_lock, so creators never wait. */
static u32 kpeek_mmap_stage_fill(u32 cap)
{
	struct kpeek_mmap_slot *slot = kpeek_mmap_stage;
	struct kpeek_group *g;
	struct kpeek_counter *c;
	u32 n = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(g, &kpeek_groups, node) {
		list_for_each_entry_rcu(c, &g->counters, node) {
			if (n == cap)
				goto out;
			slot[n].id = c->id;
			slot[n].value = kpeek_counter_read(c);
			memcpy(slot[n].group, g->name, sizeof(slot[n].group));
			memcpy(slot[n].counter, c->name, sizeof(slot[n].counter));
			n++;
		}
	}
out:
	rcu_read_unlock();
	return n;
}

/* Bytes copied into the mapping between two chances to reschedule. */
#define KPEEK_MMAP_COPY_CHUNK	(256 * 1024)

/*
 * Rewrite the area. The slots are summed into the staging copy under RCU, without kpeek_lock;
 * the walk is repeated (a few times at most) until the generation is the same before and
 * after it, so count, generation and slots agree. Only the copy into the mapping is inside
 * the seqcount write section. Its readers are in user space only, so the section need not run
 * with preemption off (a preempted writer makes readers retry longer, it cannot starve them
 * of the CPU): the copy reschedules between chunks, so even a mapping of millions of slots
 * keeps no CPU from scheduling.
 */
static void kpeek_mmap_refresh_locked(void)
{
	struct kpeek_mmap_counters *h = kpeek_mmap_area;
	u32 n, cap = kpeek_mmap_capacity();
	u64 generation, before;
	size_t len, done;
	int tries = 0;

	lockdep_assert_held(&kpeek_mmap_lock);
	do {
		before = kpeek_generation_read();
		n = kpeek_mmap_stage_fill(cap);
		generation = kpeek_generation_read();
	} while (generation != before && ++tries < 4);

	WRITE_ONCE(h->seq, ++kpeek_mmap_seq);	/* odd: readers retry */
	smp_wmb();
	len = array_size(n, sizeof(*kpeek_mmap_stage));
	for (done = 0; done < len; done += KPEEK_MMAP_COPY_CHUNK) {
		memcpy((u8 *)(h + 1) + done, (u8 *)kpeek_mmap_stage + done,
		       min_t(size_t, len - done, KPEEK_MMAP_COPY_CHUNK));
		cond_resched();
	}
	h->count = n;
	h->generation = generation;
	h->refresh_ns = ktime_get_ns();
	smp_wmb();	/* the slots before the even seq; pairs with the reader's smp_rmb() */
	WRITE_ONCE(h->seq, ++kpeek_mmap_seq);	/* even: consistent again */
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
	if (kpeek_mmap_counters_size() == SIZE_MAX ||
	    vma->vm_end - vma->vm_start != kpeek_mmap_counters_size())
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
	/* Every CPU has a ring offset (KPEEK_MMAP_RING() stays below 2 GiB for this many). */
	BUILD_BUG_ON(CONFIG_NR_CPUS > KPEEK_MMAP_RING_MAX_CPUS);
	if (off == KPEEK_MMAP_COUNTERS)
		return kpeek_mmap_counters(vma);
	if (off < KPEEK_MMAP_RING(0) || off >= KPEEK_MMAP_RING(KPEEK_MMAP_RING_MAX_CPUS))
		return -EINVAL;
	off -= KPEEK_MMAP_RING(0);
	if (off & ((1ULL << KPEEK_MMAP_RING_SHIFT) - 1))
		return -EINVAL;
	return kpeek_ring_mmap(file, vma, (unsigned int)(off >> KPEEK_MMAP_RING_SHIFT));
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

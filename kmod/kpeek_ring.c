// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_ring.c - the event rings: one single-producer/single-consumer ring per online CPU, mapped
 * read-only by their one consumer (KPEEK_MMAP_RING(cpu)), following
 * Documentation/core-api/circular-buffers.rst.
 *
 * The producer is whatever probe fires on that CPU. Probes run in process context, in softirq
 * (netif_receive_skb) and with the runqueue lock held and interrupts off (sched_switch), so two
 * of them can nest on one CPU: a softirq can interrupt a block_rq_issue probe halfway through a
 * record. The writer therefore runs with local interrupts disabled, which makes it the only
 * producer of its CPU's ring for the duration of one record, without a lock.
 *
 * Memory ordering, per ring:
 *   producer: tail = smp_load_acquire(&r->tail) -- the consumer is done with the bytes before it
 *             write the record
 *             smp_store_release(&hdr->head, head') -- the record is visible before head moves
 *   consumer: head = smp_load_acquire(&hdr->head); read records; KPEEK_IOC_RING_CONSUME(tail'),
 *             which checks tail' and smp_store_release()s it into r->tail.
 * One 8-byte slot always stays empty so that head == tail means empty, never full.
 *
 * Nothing of a ring is writable by user space: the mapping is read-only (VM_MAYWRITE cleared)
 * and the consumer hands its tail back through an ioctl, so the kernel never reads anything a
 * process could have scribbled on, and no reader can forge records another one parses.
 *
 * One claimed consumer: the open file that set the rings up (KPEEK_IOC_RING_SETUP) owns them.
 * Only it may map them and move their tails; any other file gets -EBUSY from RING_SETUP, mmap
 * and RING_CONSUME until the owner is released (its last descriptor closed and its last mapping
 * gone: a mapping holds its file). The rings themselves stay set up after that, producers keep
 * writing, and the next RING_SETUP, by anyone with CAP_SYS_ADMIN, replaces them.
 *
 * Lifetime: a set of rings is refcounted. The published pointer holds one reference and every
 * mapping (vma) one, so replacing or freeing the rings never pulls pages from under a mapping:
 * the old set is unpublished, producers are waited for (RCU), and its memory goes with the last
 * munmap().
 *
 * CPU hotplug: a ring is allocated for each CPU that is online at setup and, through a
 * multi-instance CPUHP_BP_PREPARE_DYN state, for each CPU that comes online later, before it
 * runs anything (a failed allocation fails that CPU's onlining, as the tracing ring buffer
 * does). A CPU that goes offline keeps its ring, with any unread records, until the set is
 * replaced. Mapping the ring of a CPU that has none gives -ENXIO.
 *
 * Waking a poll()ing reader: wake_up() takes the wait queue's lock and may take a runqueue lock
 * to wake the task, which deadlocks when the producer is the sched_switch probe (it runs with
 * this CPU's runqueue lock held) and is not safe from every context a tracepoint fires in. So
 * the producer only queues an irq_work, which is NMI-safe; its handler runs in a clean hardirq
 * context right after and does the wake_up. To keep that to one self-interrupt per sleep,
 * poll() arms each ring and the producer disarms it when it queues the wakeup.
 */
#include <linux/cpuhotplug.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include "kpeek_compat.h"
#include "kpeek_internal.h"

struct kpeek_ring {
	struct kpeek_ring_header *hdr;	/* __vmalloc(): the header page, then the data */
	u8 *data;
	u32 head;			/* the producer's own copy of head */
	u32 tail;			/* the consumer's tail, as RING_CONSUME last set it */
	u32 seq;			/* next record's seq, counting lost records too */
	u64 lost;
	u64 written;
	bool armed;			/* a poll()er sleeps: wake it at the watermark */
	unsigned int cpu;
	struct irq_work wake;
};

struct kpeek_rings {
	struct kref ref;		/* the published pointer, and one per mapping */
	struct hlist_node cpuhp;	/* in kpeek_ring_cpuhp's instances while published */
	const struct file *owner;	/* the claimed consumer, NULL once released; ring lock */
	gfp_t gfp;			/* accounted while RING_SETUP allocates, then not */
	u32 data_size;
	u32 watermark;
	struct kpeek_ring *ring[];	/* nr_cpu_ids entries, NULL for CPUs never online */
};

/* Replaced under kpeek_ring_lock; producers read it under RCU. */
static struct kpeek_rings __rcu *kpeek_rings;
static DEFINE_MUTEX(kpeek_ring_lock);
static DECLARE_WAIT_QUEUE_HEAD(kpeek_ring_wq);
static enum cpuhp_state kpeek_ring_cpuhp;

static void kpeek_ring_wake(struct irq_work *work)
{
	wake_up_interruptible_all(&kpeek_ring_wq);
}

/* A CPU's ring, or NULL: the hotplug callback publishes it once complete. */
static struct kpeek_ring *kpeek_ring_of(const struct kpeek_rings *rings, unsigned int cpu)
{
	/* Pairs with smp_store_release() in kpeek_ring_cpu_prepare(): the ring is complete. */
	return smp_load_acquire(&rings->ring[cpu]);
}

static u32 kpeek_ring_tail(const struct kpeek_ring *r)
{
	/* Pairs with smp_store_release() in kpeek_ring_consume(): the consumer is done. */
	return smp_load_acquire(&r->tail);
}

/*
 * Append one record to this CPU's ring; any context. rec->type and rec->len (a multiple of
 * KPEEK_REC_ALIGN) are set by the caller; seq, ts_ns, cpu and pid are filled in here. A record
 * that does not fit is counted as lost, and still consumes its seq number so that user space
 * can see where records are missing.
 */
void kpeek_ring_write(struct kpeek_rec_header *rec)
{
	const struct kpeek_rings *rings;
	struct kpeek_ring *r;
	unsigned long flags;
	u32 len = rec->len, size, mask, head, tail, to_end, need, thresh;
	u64 *pad;

	local_irq_save(flags);
	/* Callers hold rcu_read_lock(); interrupts are off here as well. */
	rings = rcu_dereference(kpeek_rings);
	if (!rings)
		goto out;
	r = READ_ONCE(rings->ring[smp_processor_id()]);
	/* Allocated before this CPU came online: only a set made while it was going is short. */
	if (unlikely(!r))
		goto out;
	size = rings->data_size;
	mask = size - 1;

	rec->seq = r->seq++;
	rec->cpu = r->cpu;
	rec->pid = current->pid;
	/* NMI-safe, unlike ktime_get_ns(): probes can run under the timekeeping seqcount. */
	rec->ts_ns = ktime_get_mono_fast_ns();

	head = r->head;
	tail = kpeek_ring_tail(r);
	to_end = size - head;
	/* Records never straddle the end: a PAD record fills it and this one goes to 0. */
	need = len <= to_end ? len : to_end + len;
	if (need > ((tail - head - KPEEK_REC_ALIGN) & mask)) {
		r->lost++;
		WRITE_ONCE(r->hdr->lost, r->lost);
		goto out;
	}
	if (len > to_end) {
		/* type, len and seq: all a PAD record has, in as little as 8 bytes. */
		pad = (u64 *)(r->data + head);
		*pad = 0;
		((struct kpeek_rec_header *)pad)->type = KPEEK_REC_PAD;
		((struct kpeek_rec_header *)pad)->len = to_end;
		head = 0;
	}
	memcpy(r->data + head, rec, len);
	head = (head + len) & mask;
	WRITE_ONCE(r->head, head);
	r->written++;
	WRITE_ONCE(r->hdr->written, r->written);
	/* The record (and any PAD) is complete before user space can see head move. */
	smp_store_release(&r->hdr->head, head);

	/*
	 * Pairs with smp_mb() in kpeek_ring_poll(): either poll() sees the new head, or we see
	 * its armed flag (store buffering: both sides store, fence, then load).
	 */
	smp_mb();
	if (READ_ONCE(r->armed)) {
		thresh = rings->watermark ? rings->watermark : 1;
		if (((head - kpeek_ring_tail(r)) & mask) >= thresh) {
			WRITE_ONCE(r->armed, false);
			irq_work_queue(&r->wake);
		}
	}
out:
	local_irq_restore(flags);
}

/* The last reference: unpublished, no producer left, no mapping left. */
static void kpeek_rings_release(struct kref *ref)
{
	struct kpeek_rings *rings = container_of(ref, struct kpeek_rings, ref);
	unsigned int cpu;

	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		struct kpeek_ring *r = rings->ring[cpu];

		if (!r)
			continue;
		/* A wakeup queued by a producer may still be pending on that CPU. */
		irq_work_sync(&r->wake);
		vfree(r->hdr);
		kfree(r);
	}
	kfree(rings);
}

static void kpeek_rings_put(struct kpeek_rings *rings)
{
	kref_put(&rings->ref, kpeek_rings_release);
}

/*
 * A ring for cpu, made before the CPU runs (CPUHP_BP_PREPARE_DYN, on the CPU that brings it
 * up) or by RING_SETUP for each CPU already online; a CPU that was online before keeps its ring.
 */
static int kpeek_ring_cpu_prepare(unsigned int cpu, struct hlist_node *node)
{
	struct kpeek_rings *rings = hlist_entry(node, struct kpeek_rings, cpuhp);
	gfp_t gfp = READ_ONCE(rings->gfp);
	struct kpeek_ring *r;

	if (rings->ring[cpu])
		return 0;
	r = kzalloc_node(sizeof(*r), gfp, cpu_to_node(cpu));
	if (!r)
		return -ENOMEM;
	/*
	 * Zeroed, and mapped page by page (vm_insert_page()) rather than with vmalloc_user() and
	 * remap_vmalloc_range(): modules have no vmalloc_user() that charges the caller's memcg.
	 */
	r->hdr = __vmalloc(PAGE_SIZE + rings->data_size, gfp | __GFP_ZERO);
	if (!r->hdr) {
		kfree(r);
		return -ENOMEM;
	}
	/* Only once nothing can fail: kpeek_rings_release() syncs it. */
	init_irq_work(&r->wake, kpeek_ring_wake);
	r->data = (u8 *)r->hdr + PAGE_SIZE;
	r->cpu = cpu;
	r->hdr->magic = KPEEK_RING_MAGIC;
	r->hdr->cpu = cpu;
	r->hdr->data_offset = PAGE_SIZE;
	r->hdr->data_size = rings->data_size;
	r->hdr->watermark = rings->watermark;
	/* Complete before poll(), mmap() or RING_CONSUME can find it. */
	smp_store_release(&rings->ring[cpu], r);
	return 0;
}

static struct kpeek_rings *kpeek_rings_alloc(const struct file *owner, u32 data_size,
					     u32 watermark)
{
	struct kpeek_rings *rings;
	int err;

	rings = kzalloc(struct_size(rings, ring, nr_cpu_ids), GFP_KERNEL_ACCOUNT);
	if (!rings)
		return ERR_PTR(-ENOMEM);
	kref_init(&rings->ref);
	rings->owner = owner;
	rings->gfp = GFP_KERNEL_ACCOUNT;
	rings->data_size = data_size;
	rings->watermark = watermark;
	/* Calls kpeek_ring_cpu_prepare() for every online CPU, then for each one that comes. */
	err = cpuhp_state_add_instance(kpeek_ring_cpuhp, &rings->cpuhp);
	if (err) {
		kpeek_rings_put(rings);
		return ERR_PTR(err);
	}
	/* Rings of CPUs onlined later are the system's, not charged to this caller's memcg. */
	WRITE_ONCE(rings->gfp, GFP_KERNEL);
	return rings;
}

/* Unpublished: no new CPU gets a ring, no producer is left; mappings may still hold it. */
static void kpeek_rings_retire(struct kpeek_rings *old)
{
	cpuhp_state_remove_instance_nocalls(kpeek_ring_cpuhp, &old->cpuhp);
	/* Producers are inside rcu_read_lock(): a grace period waits for all of them. */
	synchronize_rcu();
	kpeek_rings_put(old);
}

/* Another open file owns the rings: the caller may not touch them. Under kpeek_ring_lock. */
static bool kpeek_rings_foreign(const struct kpeek_rings *rings, const struct file *file)
{
	return rings && rings->owner && rings->owner != file;
}

/*
 * data_size 0 frees the rings. New rings are owned by file. -EBUSY while another open file
 * owns the current ones; the caller's own mappings of old rings stay valid (and stale).
 *
 * The new rings are allocated without kpeek_ring_lock: cpuhp_state_add_instance() takes the CPU
 * hotplug lock, and mmap() takes kpeek_ring_lock under mmap_lock, so holding it here would
 * order mmap_lock before the hotplug lock. The claim is checked again before publishing.
 */
int kpeek_ring_setup(const struct file *file, u32 data_size, u32 watermark)
{
	struct kpeek_rings *new = NULL, *old;
	bool busy;

	if (data_size) {
		if (!is_power_of_2(data_size) || data_size < PAGE_SIZE ||
		    data_size > KPEEK_RING_MAX_SIZE || watermark >= data_size)
			return -EINVAL;
	} else if (watermark) {
		return -EINVAL;
	}

	mutex_lock(&kpeek_ring_lock);
	busy = kpeek_rings_foreign(rcu_dereference_protected(kpeek_rings,
							     lockdep_is_held(&kpeek_ring_lock)),
				   file);
	mutex_unlock(&kpeek_ring_lock);
	if (busy)
		return -EBUSY;
	if (data_size) {
		new = kpeek_rings_alloc(file, data_size, watermark);
		if (IS_ERR(new))
			return PTR_ERR(new);
	}

	mutex_lock(&kpeek_ring_lock);
	old = rcu_dereference_protected(kpeek_rings, lockdep_is_held(&kpeek_ring_lock));
	if (kpeek_rings_foreign(old, file)) {
		/* Another file set rings up in the meantime: they are its now. */
		mutex_unlock(&kpeek_ring_lock);
		if (new)
			kpeek_rings_retire(new);
		return -EBUSY;
	}
	rcu_assign_pointer(kpeek_rings, new);
	mutex_unlock(&kpeek_ring_lock);
	/* Sleeping poll()ers look again: at new, empty rings, or at none (POLLERR). */
	wake_up_interruptible_all(&kpeek_ring_wq);
	if (old)
		kpeek_rings_retire(old);
	return 0;
}

/*
 * The consumer is done with everything before tail in cpu's ring. tail must lie between the
 * current tail and head (a consumer only moves forward) and be record-aligned.
 */
int kpeek_ring_consume(const struct file *file, u32 cpu, u32 tail)
{
	const struct kpeek_rings *rings;
	struct kpeek_ring *r;
	u32 mask, cur;
	int err;

	mutex_lock(&kpeek_ring_lock);
	rings = rcu_dereference_protected(kpeek_rings, lockdep_is_held(&kpeek_ring_lock));
	err = -ENODEV;
	if (!rings)
		goto unlock;
	err = -EBUSY;
	if (rings->owner != file)
		goto unlock;
	err = -EINVAL;
	if (cpu >= nr_cpu_ids)
		goto unlock;
	err = -ENXIO;
	r = kpeek_ring_of(rings, cpu);
	if (!r)
		goto unlock;
	mask = rings->data_size - 1;
	cur = r->tail;
	err = -EINVAL;
	if (tail & ~mask || tail % KPEEK_REC_ALIGN ||
	    ((tail - cur) & mask) > ((READ_ONCE(r->head) - cur) & mask))
		goto unlock;
	WRITE_ONCE(r->hdr->tail, tail);
	/* Pairs with kpeek_ring_tail(): the consumer's reads of the records came before. */
	smp_store_release(&r->tail, tail);
	err = 0;
unlock:
	mutex_unlock(&kpeek_ring_lock);
	return err;
}

/* An open file goes away (no descriptor, no mapping left): its claim on the rings ends. */
void kpeek_ring_release(const struct file *file)
{
	struct kpeek_rings *rings;

	mutex_lock(&kpeek_ring_lock);
	rings = rcu_dereference_protected(kpeek_rings, lockdep_is_held(&kpeek_ring_lock));
	if (rings && rings->owner == file)
		rings->owner = NULL;
	mutex_unlock(&kpeek_ring_lock);
}

u32 kpeek_ring_data_size(void)
{
	const struct kpeek_rings *rings;
	u32 size;

	rcu_read_lock();
	rings = rcu_dereference(kpeek_rings);
	size = rings ? rings->data_size : 0;
	rcu_read_unlock();
	return size;
}

/*
 * POLLIN when some ring holds at least the watermark (at least one record for watermark 0);
 * EPOLLERR when no rings are set up, so that a reader does not sleep forever.
 */
__poll_t kpeek_ring_poll(struct file *file, struct poll_table_struct *wait)
{
	const struct kpeek_rings *rings;
	struct kpeek_ring *r;
	__poll_t mask = 0;
	unsigned int cpu;
	u32 thresh, used, m;

	poll_wait(file, &kpeek_ring_wq, wait);
	rcu_read_lock();
	rings = rcu_dereference(kpeek_rings);
	if (!rings) {
		mask = EPOLLERR;
		goto out;
	}
	m = rings->data_size - 1;
	thresh = rings->watermark ? rings->watermark : 1;
	for_each_possible_cpu(cpu) {
		r = kpeek_ring_of(rings, cpu);
		if (r)
			WRITE_ONCE(r->armed, true);
	}
	/* Pairs with smp_mb() in kpeek_ring_write(). */
	smp_mb();
	for_each_possible_cpu(cpu) {
		r = kpeek_ring_of(rings, cpu);
		if (!r)
			continue;
		used = (READ_ONCE(r->head) - kpeek_ring_tail(r)) & m;
		if (used >= thresh) {
			mask = EPOLLIN | EPOLLRDNORM;
			break;
		}
	}
out:
	rcu_read_unlock();
	return mask;
}

/* Copies of a mapping (fork, split) take their own reference. */
static void kpeek_ring_vm_open(struct vm_area_struct *vma)
{
	struct kpeek_rings *rings = vma->vm_private_data;

	kref_get(&rings->ref);
}

static void kpeek_ring_vm_close(struct vm_area_struct *vma)
{
	kpeek_rings_put(vma->vm_private_data);
}

static const struct vm_operations_struct kpeek_ring_vm_ops = {
	.open = kpeek_ring_vm_open,
	.close = kpeek_ring_vm_close,
};

/*
 * Map one CPU's ring, read-only: exactly its header page and its data. Only the owner of the
 * rings may (-EBUSY otherwise); PROT_WRITE is refused (-EPERM) and mprotect() cannot add it.
 */
int kpeek_ring_mmap(struct file *file, struct vm_area_struct *vma, unsigned int cpu)
{
	struct kpeek_rings *rings;
	unsigned long off, len = vma->vm_end - vma->vm_start;
	struct kpeek_ring *r;
	int err;

	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	mutex_lock(&kpeek_ring_lock);
	rings = rcu_dereference_protected(kpeek_rings, lockdep_is_held(&kpeek_ring_lock));
	err = -ENODEV;
	if (!rings)
		goto unlock;
	err = -EBUSY;
	if (rings->owner != file)
		goto unlock;
	err = -EINVAL;
	if (cpu >= nr_cpu_ids || len != PAGE_SIZE + (unsigned long)rings->data_size)
		goto unlock;
	err = -ENXIO;
	r = kpeek_ring_of(rings, cpu);
	if (!r)
		goto unlock;
	kpeek_compat_vm_flags_clear(vma, VM_MAYWRITE);
	kpeek_compat_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	for (off = 0; off < len; off += PAGE_SIZE) {
		/* On failure mmap() unmaps what was inserted; no reference was taken yet. */
		err = vm_insert_page(vma, vma->vm_start + off,
				     vmalloc_to_page((u8 *)r->hdr + off));
		if (err)
			goto unlock;
	}
	vma->vm_private_data = rings;
	vma->vm_ops = &kpeek_ring_vm_ops;
	/* The first mapping gets no ->open() call; later copies (fork, split) do. */
	kref_get(&rings->ref);
	err = 0;
unlock:
	mutex_unlock(&kpeek_ring_lock);
	return err;
}

int kpeek_ring_init(void)
{
	int ret;

	/* Records are copied whole into the rings, which keep KPEEK_REC_ALIGN alignment. */
	BUILD_BUG_ON(sizeof(struct kpeek_rec_header) % KPEEK_REC_ALIGN);
	BUILD_BUG_ON(sizeof(struct kpeek_ring_header) > PAGE_SIZE);
	ret = cpuhp_setup_state_multi(CPUHP_BP_PREPARE_DYN, "kpeek/ring:prepare",
				      kpeek_ring_cpu_prepare, NULL);
	if (ret < 0)
		return ret;
	kpeek_ring_cpuhp = ret;
	return 0;
}

/* /dev/kpeek is gone and the probes are unregistered: nothing maps or writes the rings. */
void kpeek_ring_exit(void)
{
	struct kpeek_rings *old;

	mutex_lock(&kpeek_ring_lock);
	old = rcu_replace_pointer(kpeek_rings, NULL, lockdep_is_held(&kpeek_ring_lock));
	mutex_unlock(&kpeek_ring_lock);
	if (old)
		kpeek_rings_retire(old);
	cpuhp_remove_multi_state(kpeek_ring_cpuhp);
}

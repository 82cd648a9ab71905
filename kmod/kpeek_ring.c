// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_ring.c - the event rings: one single-producer/single-consumer ring per CPU, mapped by
 * user space (KPEEK_MMAP_RING(cpu)), following Documentation/core-api/circular-buffers.rst.
 *
 * The producer is whatever probe fires on that CPU. Probes run in process context, in softirq
 * (netif_receive_skb) and with the runqueue lock held and interrupts off (sched_switch), so two
 * of them can nest on one CPU: a softirq can interrupt a block_rq_issue probe halfway through a
 * record. The writer therefore runs with local interrupts disabled, which makes it the only
 * producer of its CPU's ring for the duration of one record, without a lock.
 *
 * Memory ordering, per ring:
 *   producer: tail = smp_load_acquire(&tail)  -- the consumer is done with the bytes before tail
 *             write the record
 *             smp_store_release(&head, head') -- the record is visible before head moves
 *   consumer: head = smp_load_acquire(&head); read records; smp_store_release(&tail, tail')
 * One 8-byte slot always stays empty so that head == tail means empty, never full.
 *
 * The header page is writable by user space (it must write tail). The kernel never reads back
 * head, lost or written from it: it keeps its own copies and only publishes them. tail is masked
 * into the ring, so a scribbling consumer can only corrupt its own view, never kernel memory.
 *
 * Waking a poll()ing reader: wake_up() takes the wait queue's lock and may take a runqueue lock
 * to wake the task, which deadlocks when the producer is the sched_switch probe (it runs with
 * this CPU's runqueue lock held) and is not safe from every context a tracepoint fires in. So
 * the producer only queues an irq_work, which is NMI-safe; its handler runs in a clean hardirq
 * context right after and does the wake_up. To keep that to one self-interrupt per sleep,
 * poll() arms each ring and the producer disarms it when it queues the wakeup.
 */
#include <linux/irq_work.h>
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
#include "kpeek_internal.h"

struct kpeek_ring {
	struct kpeek_ring_header *hdr;	/* vmalloc_user(): the header page, then the data */
	u8 *data;
	u32 head;			/* the producer's own copy of head */
	u32 seq;			/* next record's seq, counting lost records too */
	u64 lost;
	u64 written;
	bool armed;			/* a poll()er sleeps: wake it at the watermark */
	unsigned int cpu;
	struct irq_work wake;
};

struct kpeek_rings {
	u32 data_size;
	u32 watermark;
	struct kpeek_ring *ring[];	/* nr_cpu_ids entries, NULL for impossible CPUs */
};

/* Replaced under kpeek_ring_lock; producers read it under RCU (probes run preempt-off). */
static struct kpeek_rings __rcu *kpeek_rings;
static DEFINE_MUTEX(kpeek_ring_lock);
/* Mappings of any ring: while there are some, the rings may not be replaced or freed. */
static atomic_t kpeek_ring_mapped = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(kpeek_ring_wq);

static void kpeek_ring_wake(struct irq_work *work)
{
	wake_up_interruptible_all(&kpeek_ring_wq);
}

static u32 kpeek_ring_tail(const struct kpeek_ring *r, u32 mask)
{
	/* Pairs with the consumer's smp_store_release(&tail): it is done with those bytes. */
	return (u32)smp_load_acquire(&r->hdr->tail) & mask & ~(KPEEK_REC_ALIGN - 1);
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
	rings = rcu_dereference_sched(kpeek_rings);
	if (!rings)
		goto out;
	r = rings->ring[smp_processor_id()];
	size = rings->data_size;
	mask = size - 1;

	rec->seq = r->seq++;
	rec->cpu = r->cpu;
	rec->pid = current->pid;
	/* NMI-safe, unlike ktime_get_ns(): probes can run under the timekeeping seqcount. */
	rec->ts_ns = ktime_get_mono_fast_ns();

	head = r->head;
	tail = kpeek_ring_tail(r, mask);
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
		if (((head - kpeek_ring_tail(r, mask)) & mask) >= thresh) {
			WRITE_ONCE(r->armed, false);
			irq_work_queue(&r->wake);
		}
	}
out:
	local_irq_restore(flags);
}

static void kpeek_rings_free(struct kpeek_rings *rings)
{
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

static struct kpeek_rings *kpeek_rings_alloc(u32 data_size, u32 watermark)
{
	struct kpeek_rings *rings;
	struct kpeek_ring *r;
	unsigned int cpu;

	rings = kzalloc(struct_size(rings, ring, nr_cpu_ids), GFP_KERNEL_ACCOUNT);
	if (!rings)
		return NULL;
	rings->data_size = data_size;
	rings->watermark = watermark;
	for_each_possible_cpu(cpu) {
		r = kzalloc_node(sizeof(*r), GFP_KERNEL_ACCOUNT, cpu_to_node(cpu));
		if (!r)
			goto err_free;
		/* Before anything can fail: kpeek_rings_free() syncs it. */
		init_irq_work(&r->wake, kpeek_ring_wake);
		rings->ring[cpu] = r;
		/*
		 * vmalloc_user(): zeroed and allowed to be mapped into user space. Not charged to
		 * the caller's memcg (modules have no accounted allocator that sets VM_USERMAP);
		 * bounded by RING_SETUP's CAP_SYS_ADMIN and 16 MiB per CPU.
		 */
		r->hdr = vmalloc_user(PAGE_SIZE + data_size);
		if (!r->hdr)
			goto err_free;
		r->data = (u8 *)r->hdr + PAGE_SIZE;
		r->cpu = cpu;
		r->hdr->magic = KPEEK_RING_MAGIC;
		r->hdr->cpu = cpu;
		r->hdr->data_offset = PAGE_SIZE;
		r->hdr->data_size = data_size;
		r->hdr->watermark = watermark;
	}
	return rings;

err_free:
	kpeek_rings_free(rings);
	return NULL;
}

/* data_size 0 frees the rings. -EBUSY while any ring is mapped. */
int kpeek_ring_setup(u32 data_size, u32 watermark)
{
	struct kpeek_rings *new = NULL, *old;
	int err = 0;

	if (data_size) {
		if (!is_power_of_2(data_size) || data_size < PAGE_SIZE ||
		    data_size > KPEEK_RING_MAX_SIZE || watermark >= data_size)
			return -EINVAL;
	} else if (watermark) {
		return -EINVAL;
	}

	mutex_lock(&kpeek_ring_lock);
	if (atomic_read(&kpeek_ring_mapped)) {
		err = -EBUSY;
		goto unlock;
	}
	if (data_size) {
		new = kpeek_rings_alloc(data_size, watermark);
		if (!new) {
			err = -ENOMEM;
			goto unlock;
		}
	}
	old = rcu_replace_pointer(kpeek_rings, new, lockdep_is_held(&kpeek_ring_lock));
	mutex_unlock(&kpeek_ring_lock);
	/* Sleeping poll()ers look again: at new, empty rings, or at none (POLLERR). */
	wake_up_interruptible_all(&kpeek_ring_wq);
	if (old) {
		/* Producers run with preemption off: a grace period waits for all of them. */
		synchronize_rcu();
		kpeek_rings_free(old);
	}
	return 0;

unlock:
	mutex_unlock(&kpeek_ring_lock);
	return err;
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
	for_each_possible_cpu(cpu)
		WRITE_ONCE(rings->ring[cpu]->armed, true);
	/* Pairs with smp_mb() in kpeek_ring_write(). */
	smp_mb();
	for_each_possible_cpu(cpu) {
		r = rings->ring[cpu];
		used = (READ_ONCE(r->head) - kpeek_ring_tail(r, m)) & m;
		if (used >= thresh) {
			mask = EPOLLIN | EPOLLRDNORM;
			break;
		}
	}
out:
	rcu_read_unlock();
	return mask;
}

static void kpeek_ring_vm_open(struct vm_area_struct *vma)
{
	atomic_inc(&kpeek_ring_mapped);
}

static void kpeek_ring_vm_close(struct vm_area_struct *vma)
{
	atomic_dec(&kpeek_ring_mapped);
}

static const struct vm_operations_struct kpeek_ring_vm_ops = {
	.open = kpeek_ring_vm_open,
	.close = kpeek_ring_vm_close,
};

/* Map one CPU's ring: exactly its header page and its data, shared, read-write. */
int kpeek_ring_mmap(struct vm_area_struct *vma, unsigned int cpu)
{
	const struct kpeek_rings *rings;
	int err;

	mutex_lock(&kpeek_ring_lock);
	rings = rcu_dereference_protected(kpeek_rings, lockdep_is_held(&kpeek_ring_lock));
	err = -ENODEV;
	if (!rings)
		goto unlock;
	err = -EINVAL;
	if (cpu >= nr_cpu_ids || !rings->ring[cpu] ||
	    vma->vm_end - vma->vm_start != PAGE_SIZE + (unsigned long)rings->data_size)
		goto unlock;
	err = remap_vmalloc_range(vma, rings->ring[cpu]->hdr, 0);
	if (err)
		goto unlock;
	vma->vm_ops = &kpeek_ring_vm_ops;
	/* The first mapping gets no ->open() call; later copies (fork, split) do. */
	atomic_inc(&kpeek_ring_mapped);
unlock:
	mutex_unlock(&kpeek_ring_lock);
	return err;
}

int kpeek_ring_init(void)
{
	return 0;
}

/* /dev/kpeek is gone and the probes are unregistered: nothing maps or writes the rings. */
void kpeek_ring_exit(void)
{
	struct kpeek_rings *old;

	mutex_lock(&kpeek_ring_lock);
	old = rcu_replace_pointer(kpeek_rings, NULL, lockdep_is_held(&kpeek_ring_lock));
	mutex_unlock(&kpeek_ring_lock);
	if (old) {
		synchronize_rcu();
		kpeek_rings_free(old);
	}
}

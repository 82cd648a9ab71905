// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_probes.c - in-kernel probes on kernel tracepoints (net:netif_receive_skb,
 * sched:sched_switch, block:block_rq_issue), enabled and filtered from user space.
 *
 * The tracepoints are not all exported to modules, so they are found by name with
 * for_each_kernel_tracepoint() and attached with tracepoint_probe_register().
 *
 * Hot path: a probe takes no lock. Its filter is an immutable object published with
 * rcu_assign_pointer() and read inside rcu_read_lock()/rcu_dereference(); a replaced filter is
 * freed with kfree_rcu(). The probe takes its own RCU read side rather than relying on how the
 * tracepoint calls it: older kernels call probes with preemption off (an RCU-sched read side
 * that covers normal RCU since 5.0), newer PREEMPT_RT kernels under SRCU with only migration
 * disabled, which a plain RCU grace period does not wait for. Counting goes to per-CPU kpeek
 * counters in the group "kpeek_probes"
 * (<probe>_hits: every call, <probe>_matched: calls that passed the filter), created on the first
 * enable so that an unused module shows no extra group. With KPEEK_PROBE_F_RING the probe also
 * writes a record into this CPU's event ring.
 *
 * Probe prototypes: those of 5.18 and later (sched_switch has had prev_state since 5.18;
 * block_rq_issue lost its request_queue argument in 5.11), checked against Debian's 6.1, 6.12
 * and 7.x include/trace/events/ headers; kpeek_compat.h gives 5.10's.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/blktrace_api.h>
#include <linux/kdev_t.h>
#include <linux/netdevice.h>
#include <linux/sched.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include "kpeek_compat.h"
#include <trace/events/block.h>	/* RWBS_LEN */
#include "kpeek_internal.h"

struct kpeek_probe_filter {
	u32 flags;		/* KPEEK_PROBE_F_RING (ENABLE is implied by existing) */
	u32 filter;		/* KPEEK_FILTER_* */
	s32 pid;
	u32 min_len;
	char dev[IFNAMSIZ];
	struct rcu_head rcu;
};

struct kpeek_probe {
	const char *tp_name;
	u32 filters;		/* the KPEEK_FILTER_* bits that apply to this probe */
	void *func;
	struct tracepoint *tp;	/* NULL: this kernel has no such tracepoint */
	bool registered;	/* under kpeek_probe_lock */
	struct kpeek_probe_filter __rcu *filter;
	/* Set before the first registration, freed after the last: probes use them freely. */
	struct kpeek_counter *hits;
	struct kpeek_counter *matched;
};

static DEFINE_MUTEX(kpeek_probe_lock);
static struct kpeek_group *kpeek_probes_group;	/* under kpeek_probe_lock */

/* Under rcu_read_lock(), held until the probe is done with the filter. */
static const struct kpeek_probe_filter *kpeek_probe_enter(struct kpeek_probe *p)
{
	const struct kpeek_probe_filter *f = rcu_dereference(p->filter);

	if (f)
		kpeek_counter_add(p->hits, 1);
	return f;
}

static void __kpeek_probe_netif(struct kpeek_probe *p, struct sk_buff *skb)
{
	const struct kpeek_probe_filter *f = kpeek_probe_enter(p);
	struct kpeek_rec_netif rec;

	if (!f)
		return;
	if ((f->filter & KPEEK_FILTER_DEV) &&
	    (!skb->dev || strncmp(skb->dev->name, f->dev, IFNAMSIZ)))
		return;
	if ((f->filter & KPEEK_FILTER_MINLEN) && skb->len < f->min_len)
		return;
	kpeek_counter_add(p->matched, 1);
	if (!(f->flags & KPEEK_PROBE_F_RING))
		return;
	memset(&rec, 0, sizeof(rec));
	rec.hdr.type = KPEEK_REC_NETIF_RECEIVE_SKB;
	rec.hdr.len = sizeof(rec);
	if (skb->dev)
		strscpy(rec.dev, skb->dev->name, sizeof(rec.dev));
	rec.len = skb->len;
	rec.protocol = ntohs(skb->protocol);
	kpeek_ring_write(&rec.hdr);
}

static void __kpeek_probe_sched(struct kpeek_probe *p, struct task_struct *prev,
				struct task_struct *next, unsigned int prev_state)
{
	const struct kpeek_probe_filter *f = kpeek_probe_enter(p);
	struct kpeek_rec_sched_switch rec;

	if (!f)
		return;
	if ((f->filter & KPEEK_FILTER_PID) && prev->pid != f->pid && next->pid != f->pid)
		return;
	kpeek_counter_add(p->matched, 1);
	if (!(f->flags & KPEEK_PROBE_F_RING))
		return;
	memset(&rec, 0, sizeof(rec));
	rec.hdr.type = KPEEK_REC_SCHED_SWITCH;
	rec.hdr.len = sizeof(rec);
	/* As the sched_switch trace event does: ->comm is read without task_lock(). */
	memcpy(rec.prev_comm, prev->comm, sizeof(rec.prev_comm));
	memcpy(rec.next_comm, next->comm, sizeof(rec.next_comm));
	rec.prev_comm[sizeof(rec.prev_comm) - 1] = '\0';
	rec.next_comm[sizeof(rec.next_comm) - 1] = '\0';
	rec.prev_pid = prev->pid;
	rec.next_pid = next->pid;
	rec.prev_state = prev_state;
	kpeek_ring_write(&rec.hdr);
}

static void __kpeek_probe_block(struct kpeek_probe *p, struct request *rq)
{
	const struct kpeek_probe_filter *f = kpeek_probe_enter(p);
	struct kpeek_rec_block_rq rec;
	char rwbs[RWBS_LEN] = "";
	unsigned int bytes;

	if (!f)
		return;
	bytes = blk_rq_bytes(rq);
	if ((f->filter & KPEEK_FILTER_PID) && current->pid != f->pid)
		return;
	if ((f->filter & KPEEK_FILTER_MINLEN) && bytes < f->min_len)
		return;
	kpeek_counter_add(p->matched, 1);
	if (!(f->flags & KPEEK_PROBE_F_RING))
		return;
	memset(&rec, 0, sizeof(rec));
	rec.hdr.type = KPEEK_REC_BLOCK_RQ_ISSUE;
	rec.hdr.len = sizeof(rec);
	rec.sector = blk_rq_is_passthrough(rq) ? 0 : blk_rq_pos(rq);
	rec.dev = new_encode_dev(kpeek_compat_rq_devt(rq));
	rec.bytes = bytes;
	/* blk_fill_rwbs() writes up to RWBS_LEN bytes with the NUL; rec.rwbs holds as many. */
	BUILD_BUG_ON(sizeof(rec.rwbs) < RWBS_LEN);
	kpeek_compat_fill_rwbs(rwbs, rq);
	strscpy(rec.rwbs, rwbs, sizeof(rec.rwbs));
	kpeek_ring_write(&rec.hdr);
}

/* The tracepoint callbacks: each holds its own RCU read side over the filter. */
static void kpeek_probe_netif(void *data, struct sk_buff *skb)
{
	rcu_read_lock();
	__kpeek_probe_netif(data, skb);
	rcu_read_unlock();
}

static void kpeek_probe_sched(void *data, KPEEK_COMPAT_SCHED_SWITCH_ARGS)
{
	rcu_read_lock();
	__kpeek_probe_sched(data, prev, next, kpeek_compat_prev_state(prev, prev_state));
	rcu_read_unlock();
}

static void kpeek_probe_block(void *data, KPEEK_COMPAT_BLOCK_RQ_ISSUE_ARGS)
{
	rcu_read_lock();
	__kpeek_probe_block(data, rq);
	rcu_read_unlock();
}

/* Indexed by KPEEK_PROBE_* - 1; counter names are <tp_name>_hits and <tp_name>_matched. */
static struct kpeek_probe kpeek_probes[KPEEK_PROBE_MAX] = {
	{
		.tp_name = "netif_receive_skb",
		.filters = KPEEK_FILTER_DEV | KPEEK_FILTER_MINLEN,
		.func = kpeek_probe_netif,
	},
	{
		.tp_name = "sched_switch",
		.filters = KPEEK_FILTER_PID,
		.func = kpeek_probe_sched,
	},
	{
		.tp_name = "block_rq_issue",
		.filters = KPEEK_FILTER_PID | KPEEK_FILTER_MINLEN,
		.func = kpeek_probe_block,
	},
};

static struct kpeek_probe *kpeek_probe_of(u32 probe)
{
	if (probe < 1 || probe > KPEEK_PROBE_MAX)
		return NULL;
	return &kpeek_probes[probe - 1];
}

/* The "kpeek_probes" group and its counters, made once; they live until unload. */
static int kpeek_probes_counters(void)
{
	char name[KPEEK_NAME_MAX + 1];
	struct kpeek_counter *c;
	struct kpeek_group *g;
	int i, err = 0;

	lockdep_assert_held(&kpeek_probe_lock);
	if (kpeek_probes_group)
		return 0;
	mutex_lock(&kpeek_lock);
	g = kpeek_group_add_locked(KPEEK_PROBES_GROUP, KPEEK_SRC_API, THIS_MODULE);
	if (IS_ERR(g)) {
		err = PTR_ERR(g);
		goto unlock;
	}
	for (i = 0; i < KPEEK_PROBE_MAX; i++) {
		snprintf(name, sizeof(name), "%s_hits", kpeek_probes[i].tp_name);
		c = kpeek_counter_add_locked(g, name);
		if (IS_ERR(c))
			goto err_del;
		kpeek_probes[i].hits = c;
		snprintf(name, sizeof(name), "%s_matched", kpeek_probes[i].tp_name);
		c = kpeek_counter_add_locked(g, name);
		if (IS_ERR(c))
			goto err_del;
		kpeek_probes[i].matched = c;
	}
	kpeek_probes_group = g;
	goto unlock;

err_del:
	err = PTR_ERR(c);
	kpeek_group_del_locked(g);
	for (i = 0; i < KPEEK_PROBE_MAX; i++) {
		kpeek_probes[i].hits = NULL;
		kpeek_probes[i].matched = NULL;
	}
unlock:
	mutex_unlock(&kpeek_lock);
	return err;
}

/* Checks a configuration as KPEEK_IOC_PROBE_SET and KPEEK_CMD_PROBE_SET take it. */
static int kpeek_probe_check(const struct kpeek_probe_config *cfg, struct kpeek_probe **pp)
{
	struct kpeek_probe *p = kpeek_probe_of(cfg->probe);

	if (!p)
		return -EINVAL;
	if (cfg->flags & ~(KPEEK_PROBE_F_ENABLE | KPEEK_PROBE_F_RING))
		return -EINVAL;
	if (cfg->filter & ~p->filters)
		return -EINVAL;
	if (!(cfg->filter & KPEEK_FILTER_PID) && cfg->pid)
		return -EINVAL;
	if (!(cfg->filter & KPEEK_FILTER_MINLEN) && cfg->min_len)
		return -EINVAL;
	if (!memchr(cfg->dev, '\0', sizeof(cfg->dev)))
		return -EINVAL;
	if (cfg->filter & KPEEK_FILTER_DEV) {
		if (!cfg->dev[0])
			return -EINVAL;
	} else if (memchr_inv(cfg->dev, 0, sizeof(cfg->dev))) {
		return -EINVAL;
	}
	*pp = p;
	return 0;
}

static void kpeek_probe_detach(struct kpeek_probe *p)
{
	struct kpeek_probe_filter *old;

	lockdep_assert_held(&kpeek_probe_lock);
	if (p->registered) {
		/*
		 * On memory shortage the tracepoint core replaces the probe by a stub instead
		 * of failing, so after this call the probe will not be called again (once the
		 * callers already inside it are done: see kpeek_probes_exit()).
		 */
		tracepoint_probe_unregister(p->tp, p->func, p);
		p->registered = false;
	}
	old = rcu_replace_pointer(p->filter, NULL, lockdep_is_held(&kpeek_probe_lock));
	if (old)
		kfree_rcu(old, rcu);
}

/*
 * Enable (with a new filter, replacing the old one atomically for the hot path) or disable a
 * probe. The caller checks permissions; cfg is validated here.
 */
int kpeek_probe_set(const struct kpeek_probe_config *cfg)
{
	struct kpeek_probe_filter *nf, *old;
	struct kpeek_probe *p;
	int err;

	err = kpeek_probe_check(cfg, &p);
	if (err)
		return err;
	if (!p->tp)
		return -ENOENT;

	mutex_lock(&kpeek_probe_lock);
	if (!(cfg->flags & KPEEK_PROBE_F_ENABLE)) {
		kpeek_probe_detach(p);
		goto unlock;
	}
	err = kpeek_probes_counters();
	if (err)
		goto unlock;
	nf = kzalloc(sizeof(*nf), GFP_KERNEL_ACCOUNT);
	if (!nf) {
		err = -ENOMEM;
		goto unlock;
	}
	nf->flags = cfg->flags & KPEEK_PROBE_F_RING;
	nf->filter = cfg->filter;
	nf->pid = cfg->pid;
	nf->min_len = cfg->min_len;
	memcpy(nf->dev, cfg->dev, sizeof(nf->dev));
	old = rcu_replace_pointer(p->filter, nf, lockdep_is_held(&kpeek_probe_lock));
	if (!p->registered) {
		err = tracepoint_probe_register(p->tp, p->func, p);
		if (err) {
			rcu_assign_pointer(p->filter, old);
			old = nf;
		} else {
			p->registered = true;
		}
	}
	if (old)
		kfree_rcu(old, rcu);
unlock:
	mutex_unlock(&kpeek_probe_lock);
	return err;
}

/* Fill cfg (probe given) with the probe's state and counts. */
int kpeek_probe_get(struct kpeek_probe_config *cfg)
{
	const struct kpeek_probe_filter *f;
	struct kpeek_probe *p = kpeek_probe_of(cfg->probe);

	if (!p)
		return -EINVAL;
	mutex_lock(&kpeek_probe_lock);
	f = rcu_dereference_protected(p->filter, lockdep_is_held(&kpeek_probe_lock));
	cfg->flags = f ? f->flags | KPEEK_PROBE_F_ENABLE : 0;
	cfg->filter = f ? f->filter : 0;
	cfg->pid = f ? f->pid : 0;
	cfg->min_len = f ? f->min_len : 0;
	memset(cfg->dev, 0, sizeof(cfg->dev));
	if (f)
		memcpy(cfg->dev, f->dev, sizeof(cfg->dev));
	cfg->hits = p->hits ? kpeek_counter_read(p->hits) : 0;
	cfg->matched = p->matched ? kpeek_counter_read(p->matched) : 0;
	mutex_unlock(&kpeek_probe_lock);
	return 0;
}

static void kpeek_probes_find(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < KPEEK_PROBE_MAX; i++)
		if (!strcmp(tp->name, kpeek_probes[i].tp_name))
			kpeek_probes[i].tp = tp;
}

int kpeek_probes_init(void)
{
	int i;

	/* Records are copied whole into the rings, which keep KPEEK_REC_ALIGN alignment. */
	BUILD_BUG_ON(sizeof(struct kpeek_rec_netif) % KPEEK_REC_ALIGN);
	BUILD_BUG_ON(sizeof(struct kpeek_rec_sched_switch) % KPEEK_REC_ALIGN);
	BUILD_BUG_ON(sizeof(struct kpeek_rec_block_rq) % KPEEK_REC_ALIGN);
	BUILD_BUG_ON(sizeof(struct kpeek_rec_header) % KPEEK_REC_ALIGN);

	for_each_kernel_tracepoint(kpeek_probes_find, NULL);
	for (i = 0; i < KPEEK_PROBE_MAX; i++)
		if (!kpeek_probes[i].tp)
			pr_info("no tracepoint %s in this kernel: probe %d unavailable\n",
				kpeek_probes[i].tp_name, i + 1);
	return 0;
}

void kpeek_probes_exit(void)
{
	int i;

	mutex_lock(&kpeek_probe_lock);
	for (i = 0; i < KPEEK_PROBE_MAX; i++)
		kpeek_probe_detach(&kpeek_probes[i]);
	/* No probe of ours runs any more: its code and the counters it touches may go. */
	tracepoint_synchronize_unregister();
	if (kpeek_probes_group) {
		mutex_lock(&kpeek_lock);
		kpeek_group_del_locked(kpeek_probes_group);
		mutex_unlock(&kpeek_lock);
		kpeek_probes_group = NULL;
	}
	for (i = 0; i < KPEEK_PROBE_MAX; i++) {
		kpeek_probes[i].hits = NULL;
		kpeek_probes[i].matched = NULL;
		kpeek_probes[i].tp = NULL;
	}
	mutex_unlock(&kpeek_probe_lock);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_netlink.c - the generic netlink family "kpeek" (see include/uapi/kpeek.h): get info, get
 * one counter, dump all counters, and, with CAP_SYS_ADMIN (as the ioctls), reset, create,
 * destroy, set thresholds and configure probes; with CAP_SYS_RAWIO, peek. Its multicast group
 * "events" is the one channel where the kernel speaks first: groups and counters created or
 * removed (by any source: other modules, configfs, ioctl, netlink) and counters rising to a
 * threshold user space set.
 *
 * Every command has its own attribute policy and the family validates strictly (resv_start_op 0):
 * an attribute a command does not take, a reserved header byte or a bad length is refused by
 * the genetlink core before we run, with an extended ACK naming the attribute. What the policy
 * cannot express (missing attributes, unknown ids, names taken) gets an extack message here.
 *
 * Dumps resume from a key (group id, counter id), like /proc/kpeek, and walk the RCU lists, so
 * they never hold kpeek_lock across messages. Each pass records the core's generation in
 * cb->seq; genl_dump_check_consistent() then marks the messages of a pass that saw a different
 * generation than the previous one (and the netlink core marks NLMSG_DONE) with
 * NLM_F_DUMP_INTR: the reader knows to dump again.
 *
 * Thresholds are checked by a worker every KPEEK_NL_THRESHOLD_MS while any is set, never on
 * the counter hot path (kpeek_counter_add must stay one per-CPU add, in any context): an event
 * goes out at most KPEEK_NL_THRESHOLD_MS (plus workqueue latency) after the crossing, once per
 * upward crossing; a counter that falls below again (reset) re-arms it. A counter that rises and
 * falls back between two checks is not seen: the check samples, it does not trace. Removing a
 * counter checks its threshold one last time, so a crossing is never lost to a removal that
 * comes before the next check.
 */
#include <linux/capability.h>
#include <linux/hashtable.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/netlink.h>
#include <net/genetlink.h>
#include "kpeek_compat.h"
#include "kpeek_internal.h"

#define KPEEK_NL_THRESHOLD_MS 100

enum kpeek_nl_mcgrp {
	KPEEK_NL_MCGRP_EVENTS,
};

static const struct genl_multicast_group kpeek_nl_mcgrps[] = {
	[KPEEK_NL_MCGRP_EVENTS] = { .name = KPEEK_GENL_MCGRP_EVENTS },
};

static struct genl_family kpeek_nl_family;

/*
 * True between registration and unregistration; written under kpeek_lock and kpeek_nl_thr_lock,
 * read under either. The core calls the notify hooks for every create/destroy, including
 * those before our family exists (init) and after it is gone (exit cleans up leftovers); and
 * the threshold worker must not be queued once exit has cancelled it.
 */
static bool kpeek_nl_ready;

/* ---- thresholds ---- */

struct kpeek_nl_threshold {
	struct list_head node;		/* in kpeek_nl_thresholds: what the worker walks */
	struct hlist_node hash;		/* in kpeek_nl_thr_hash: found by counter */
	struct kpeek_counter *counter;	/* unlinked (kpeek_notify_counter) before it is freed */
	u64 threshold;
	bool above;			/* the last check saw value >= threshold */
};

/*
 * kpeek_nl_thr_lock protects the list; it nests inside kpeek_lock (the core's hooks call us
 * under it), and the worker takes it alone, so a check never waits for a create or destroy.
 */
static LIST_HEAD(kpeek_nl_thresholds);
/* Every counter removal looks here, so the lookup must not be a scan of all thresholds. */
static DEFINE_HASHTABLE(kpeek_nl_thr_hash, 8);
static DEFINE_MUTEX(kpeek_nl_thr_lock);
static struct delayed_work kpeek_nl_thr_work;

static struct kpeek_nl_threshold *kpeek_nl_thr_find(const struct kpeek_counter *c)
{
	struct kpeek_nl_threshold *t;

	lockdep_assert_held(&kpeek_nl_thr_lock);
	hash_for_each_possible(kpeek_nl_thr_hash, t, hash, (unsigned long)c)
		if (t->counter == c)
			return t;
	return NULL;
}

static void kpeek_nl_thr_add(struct kpeek_nl_threshold *t)
{
	lockdep_assert_held(&kpeek_nl_thr_lock);
	list_add_tail(&t->node, &kpeek_nl_thresholds);
	hash_add(kpeek_nl_thr_hash, &t->hash, (unsigned long)t->counter);
}

static void kpeek_nl_thr_del(struct kpeek_nl_threshold *t)
{
	lockdep_assert_held(&kpeek_nl_thr_lock);
	list_del(&t->node);
	hash_del(&t->hash);
	kfree(t);
}

/* ---- messages ---- */

static int kpeek_nl_put_u64(struct sk_buff *msg, int attr, u64 value)
{
	return nla_put_u64_64bit(msg, attr, value, KPEEK_A_PAD);
}

/* A counter as GET_COUNTER, the dump and events describe it. */
static int kpeek_nl_put_counter(struct sk_buff *msg, const struct kpeek_counter *c)
{
	if (kpeek_nl_put_u64(msg, KPEEK_A_ID, c->id) ||
	    kpeek_nl_put_u64(msg, KPEEK_A_GROUP_ID, c->group->id) ||
	    nla_put_string(msg, KPEEK_A_GROUP, c->group->name) ||
	    nla_put_string(msg, KPEEK_A_COUNTER, c->name) ||
	    kpeek_nl_put_u64(msg, KPEEK_A_VALUE, kpeek_counter_read(c)))
		return -EMSGSIZE;
	return 0;
}

/*
 * Send one event to the "events" group. Multicast delivery never blocks: a listener whose
 * socket buffer is full loses the message and sees ENOBUFS on its next recv (netlink's rule).
 */
static void kpeek_nl_event(u32 event, const struct kpeek_group *g, const struct kpeek_counter *c,
			   u64 value, u64 threshold)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&kpeek_nl_family, &init_net, KPEEK_NL_MCGRP_EVENTS))
		return;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &kpeek_nl_family, 0, KPEEK_CMD_EVENT);
	if (!hdr)
		goto err_free;
	if (nla_put_u32(msg, KPEEK_A_EVENT, event) ||
	    kpeek_nl_put_u64(msg, KPEEK_A_GROUP_ID, g->id) ||
	    nla_put_string(msg, KPEEK_A_GROUP, g->name))
		goto err_free;
	if (c && (kpeek_nl_put_u64(msg, KPEEK_A_ID, c->id) ||
		  nla_put_string(msg, KPEEK_A_COUNTER, c->name)))
		goto err_free;
	if (event == KPEEK_EVENT_THRESHOLD &&
	    (kpeek_nl_put_u64(msg, KPEEK_A_VALUE, value) ||
	     kpeek_nl_put_u64(msg, KPEEK_A_THRESHOLD, threshold)))
		goto err_free;
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&kpeek_nl_family, msg, 0, KPEEK_NL_MCGRP_EVENTS, GFP_KERNEL);
	return;

err_free:
	nlmsg_free(msg);
}

/*
 * Called by the core under kpeek_lock, right after a group is published or right before it is
 * unlinked: holding the lock keeps the events in the order of the changes.
 */
void kpeek_notify_group(const struct kpeek_group *g, bool created)
{
	lockdep_assert_held(&kpeek_lock);
	if (kpeek_nl_ready)
		kpeek_nl_event(created ? KPEEK_EVENT_GROUP_CREATED : KPEEK_EVENT_GROUP_REMOVED, g,
			       NULL, 0, 0);
}

/*
 * As above for counters; a removed counter also loses its threshold before it is freed. Its
 * value is final now, so the threshold gets its last check here: a crossing since the worker's
 * last check is notified (before the removal) instead of being lost with the counter.
 */
void kpeek_notify_counter(const struct kpeek_counter *c, bool created)
{
	struct kpeek_nl_threshold *t;
	u64 value;

	lockdep_assert_held(&kpeek_lock);
	if (!created) {
		mutex_lock(&kpeek_nl_thr_lock);
		t = kpeek_nl_thr_find(c);
		if (t) {
			value = kpeek_counter_read(c);
			if (kpeek_nl_ready && !t->above && value >= t->threshold)
				kpeek_nl_event(KPEEK_EVENT_THRESHOLD, c->group, c, value,
					       t->threshold);
			kpeek_nl_thr_del(t);
		}
		mutex_unlock(&kpeek_nl_thr_lock);
	}
	if (kpeek_nl_ready)
		kpeek_nl_event(created ? KPEEK_EVENT_COUNTER_CREATED :
			       KPEEK_EVENT_COUNTER_REMOVED, c->group, c, 0, 0);
}

/* The next check, while thresholds exist and the family is up; under kpeek_nl_thr_lock. */
static void kpeek_nl_thr_schedule(void)
{
	lockdep_assert_held(&kpeek_nl_thr_lock);
	if (kpeek_nl_ready && !list_empty(&kpeek_nl_thresholds))
		/* No-op when queued already: setting thresholds fast must not postpone checks. */
		schedule_delayed_work(&kpeek_nl_thr_work, msecs_to_jiffies(KPEEK_NL_THRESHOLD_MS));
}

static void kpeek_nl_thr_check(struct work_struct *work)
{
	struct kpeek_nl_threshold *t;
	u64 value;

	mutex_lock(&kpeek_nl_thr_lock);
	list_for_each_entry(t, &kpeek_nl_thresholds, node) {
		value = kpeek_counter_read(t->counter);
		if (value < t->threshold) {
			t->above = false;
			continue;
		}
		if (t->above)
			continue;
		t->above = true;
		kpeek_nl_event(KPEEK_EVENT_THRESHOLD, t->counter->group, t->counter, value,
			       t->threshold);
	}
	kpeek_nl_thr_schedule();
	mutex_unlock(&kpeek_nl_thr_lock);
}

static void kpeek_nl_set_ready(bool ready)
{
	mutex_lock(&kpeek_lock);
	mutex_lock(&kpeek_nl_thr_lock);
	kpeek_nl_ready = ready;
	/* A threshold set between registration and now had no worker queued for it. */
	kpeek_nl_thr_schedule();
	mutex_unlock(&kpeek_nl_thr_lock);
	mutex_unlock(&kpeek_lock);
}

/* ---- extended ACK helpers ---- */

/*
 * The message for an error of the core's create functions, on the attribute that caused it
 * (extack messages must be string literals: they are kept by pointer).
 */
static void kpeek_nl_create_err(struct genl_info *info, int err, bool counter)
{
	struct nlattr *group = info->attrs[KPEEK_A_GROUP];
	struct nlattr *name = counter ? info->attrs[KPEEK_A_COUNTER] : group;

	switch (err) {
	case -EINVAL:
		if (counter)
			NL_SET_ERR_MSG_ATTR(info->extack, name,
					    "invalid counter name: 1..31 bytes of [A-Za-z0-9_], not \"reset\"");
		else
			NL_SET_ERR_MSG_ATTR(info->extack, name,
					    "invalid group name: 1..31 bytes of [A-Za-z0-9_], not \"info\"");
		break;
	case -EEXIST:
		if (counter)
			NL_SET_ERR_MSG_ATTR(info->extack, name,
					    "a counter of this name exists in the group");
		else if (!strcmp(nla_data(group), KPEEK_PROBES_GROUP))
			NL_SET_ERR_MSG_ATTR(info->extack, name,
					    "kpeek_probes is kpeek's own group (its probes count there)");
		else
			NL_SET_ERR_MSG_ATTR(info->extack, name, "a group of this name exists");
		break;
	case -ENOSPC:
		if (counter)
			NL_SET_ERR_MSG(info->extack, "max_counters reached");
		else
			NL_SET_ERR_MSG(info->extack, "max_groups reached");
		break;
	case -ENOENT:
		NL_SET_ERR_MSG_ATTR(info->extack, group, "no such group");
		break;
	case -EPERM:
		NL_SET_ERR_MSG_ATTR(info->extack, group,
				    "the group belongs to a module or to configfs; only groups made through netlink or ioctl take new counters");
		break;
	}
}

/*
 * NLA_NUL_STRING only asks for a NUL within the allowed length, so "ab\0cd" would pass as
 * "ab": refuse a string attribute whose first NUL is not its last byte.
 */
static bool kpeek_nl_string_ok(const struct nlattr *attr, struct netlink_ext_ack *extack)
{
	if (!attr || strnlen(nla_data(attr), nla_len(attr)) == nla_len(attr) - 1)
		return true;
	NL_SET_ERR_MSG_ATTR(extack, attr, "a NUL byte inside the string");
	return false;
}

/* Every string attribute of a request, checked before a handler looks at any of them. */
static bool kpeek_nl_strings_ok(struct genl_info *info)
{
	return kpeek_nl_string_ok(info->attrs[KPEEK_A_GROUP], info->extack) &&
	       kpeek_nl_string_ok(info->attrs[KPEEK_A_COUNTER], info->extack) &&
	       kpeek_nl_string_ok(info->attrs[KPEEK_A_FILTER_DEV], info->extack);
}

/* ---- commands ---- */

/*
 * The admin commands (reset, create, destroy, thresholds, probes) need CAP_SYS_ADMIN, as their
 * ioctls do: attaching system-wide probes and allocating per-CPU counters is the same power
 * on every channel. GENL_ADMIN_PERM would ask for CAP_NET_ADMIN instead. The genetlink core
 * validates the attributes against the policy before this runs, so a malformed request gets
 * -EINVAL from anyone; nothing is changed or looked up before the check.
 */
static bool kpeek_nl_admin(struct sk_buff *skb, struct genl_info *info)
{
	if (netlink_capable(skb, CAP_SYS_ADMIN))
		return true;
	NL_SET_ERR_MSG(info->extack, "needs CAP_SYS_ADMIN (as the ioctl does)");
	return false;
}

static int kpeek_nl_get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct kpeek_stats s;
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &kpeek_nl_family, 0, KPEEK_CMD_GET_INFO);
	if (!hdr)
		goto err_free;
	kpeek_stats_get(&s);
	if (nla_put_u32(msg, KPEEK_A_ABI_VERSION, KPEEK_ABI_VERSION) ||
	    nla_put_u32(msg, KPEEK_A_GROUPS, s.groups) ||
	    nla_put_u32(msg, KPEEK_A_COUNTERS, s.counters) ||
	    kpeek_nl_put_u64(msg, KPEEK_A_GENERATION, s.generation))
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/*
 * The counter an ID, or a GROUP+COUNTER pair, names; under kpeek_lock. Sets the extack and
 * returns an ERR_PTR when the request names none.
 */
static struct kpeek_counter *kpeek_nl_counter_from(struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	struct kpeek_counter *c;
	struct kpeek_group *g;

	lockdep_assert_held(&kpeek_lock);
	if (!kpeek_nl_strings_ok(info))
		return ERR_PTR(-EINVAL);
	if (attrs[KPEEK_A_ID]) {
		if (attrs[KPEEK_A_GROUP] || attrs[KPEEK_A_COUNTER]) {
			NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_ID],
					    "name a counter by ID or by GROUP+COUNTER, not both");
			return ERR_PTR(-EINVAL);
		}
		c = kpeek_counter_find_id_rcu(nla_get_u64(attrs[KPEEK_A_ID]));
		if (!c) {
			NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_ID],
					    "no counter with this ID");
			return ERR_PTR(-ENOENT);
		}
		return c;
	}
	if (!attrs[KPEEK_A_GROUP] && !attrs[KPEEK_A_COUNTER]) {
		GENL_REQ_ATTR_CHECK(info, KPEEK_A_ID);
		NL_SET_ERR_MSG(info->extack, "name a counter by ID or by GROUP+COUNTER");
		return ERR_PTR(-EINVAL);
	}
	if (GENL_REQ_ATTR_CHECK(info, KPEEK_A_GROUP) ||
	    GENL_REQ_ATTR_CHECK(info, KPEEK_A_COUNTER)) {
		NL_SET_ERR_MSG(info->extack, "GROUP and COUNTER go together");
		return ERR_PTR(-EINVAL);
	}
	g = kpeek_group_find_locked(nla_data(attrs[KPEEK_A_GROUP]));
	if (!g) {
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_GROUP], "no such group");
		return ERR_PTR(-ENOENT);
	}
	c = kpeek_counter_find_locked(g, nla_data(attrs[KPEEK_A_COUNTER]));
	if (!c) {
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_COUNTER],
				    "no such counter in the group");
		return ERR_PTR(-ENOENT);
	}
	return c;
}

static int kpeek_nl_get_counter(struct sk_buff *skb, struct genl_info *info)
{
	struct kpeek_nl_threshold *t;
	struct kpeek_counter *c;
	struct sk_buff *msg;
	void *hdr;
	int err;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &kpeek_nl_family, 0, KPEEK_CMD_GET_COUNTER);
	if (!hdr) {
		err = -EMSGSIZE;
		goto err_free;
	}
	mutex_lock(&kpeek_lock);
	c = kpeek_nl_counter_from(info);
	if (IS_ERR(c)) {
		err = PTR_ERR(c);
		goto err_unlock;
	}
	err = kpeek_nl_put_counter(msg, c);
	if (err)
		goto err_unlock;
	mutex_lock(&kpeek_nl_thr_lock);
	t = kpeek_nl_thr_find(c);
	if (t)
		err = kpeek_nl_put_u64(msg, KPEEK_A_THRESHOLD, t->threshold);
	mutex_unlock(&kpeek_nl_thr_lock);
	if (err)
		goto err_unlock;
	mutex_unlock(&kpeek_lock);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_unlock:
	mutex_unlock(&kpeek_lock);
err_free:
	nlmsg_free(msg);
	return err;
}

/* Where a dump resumes, kept in cb->ctx between passes. */
struct kpeek_nl_dump_ctx {
	u64 gid;		/* next: the first counter whose (group id, id) >= (gid, cid) */
	u64 cid;
	u64 only_gid;		/* GROUP given: only this group (0: all) */
	bool started;		/* the first pass has run (cb->ctx starts zeroed) */
};

/*
 * cb->seq for a generation: never 0 (0 means "not tracked" to nl_dump_check_consistent) and
 * different for consecutive generations.
 */
static unsigned int kpeek_nl_dump_seq(u64 generation)
{
	return (unsigned int)(generation % 0xffffffffULL) + 1;
}

/*
 * The GROUP filter, resolved in the first pass rather than in a ->start callback: 6.1 gives
 * ->start no extack, while an error from the first pass reaches user space in NLMSG_DONE with
 * its message on every kernel.
 */
static int kpeek_nl_dump_first(struct netlink_callback *cb, struct kpeek_nl_dump_ctx *ctx)
{
	const struct nlattr *attr;
	struct kpeek_group *g;

	ctx->started = true;
	/* The genetlink core has validated the request against the policy already. */
	attr = nlmsg_find_attr(cb->nlh, GENL_HDRLEN, KPEEK_A_GROUP);
	if (!attr)
		return 0;
	if (!kpeek_nl_string_ok(attr, cb->extack))
		return -EINVAL;
	mutex_lock(&kpeek_lock);
	g = kpeek_group_find_locked(nla_data(attr));
	if (g)
		ctx->only_gid = g->id;
	mutex_unlock(&kpeek_lock);
	if (!g) {
		NL_SET_ERR_MSG_ATTR(cb->extack, attr, "no such group");
		return -ENOENT;
	}
	ctx->gid = ctx->only_gid;
	return 0;
}

static int kpeek_nl_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct kpeek_nl_dump_ctx *ctx = (struct kpeek_nl_dump_ctx *)cb->ctx;
	struct kpeek_counter *c;
	struct kpeek_group *g;
	void *hdr;
	int err;

	BUILD_BUG_ON(sizeof(*ctx) > sizeof(cb->ctx));
	if (!ctx->started) {
		err = kpeek_nl_dump_first(cb, ctx);
		if (err)
			return err;
	}
	/*
	 * Read before walking: a change during this pass bumps the generation after this read,
	 * so the next pass (there is always one more, if only to add NLMSG_DONE) sees a new seq.
	 */
	cb->seq = kpeek_nl_dump_seq(kpeek_generation_read());
	rcu_read_lock();
	list_for_each_entry_rcu(g, &kpeek_groups, node) {
		if (g->id < ctx->gid)
			continue;
		if (ctx->only_gid && g->id != ctx->only_gid)
			break;
		list_for_each_entry_rcu(c, &g->counters, node) {
			if (g->id == ctx->gid && c->id < ctx->cid)
				continue;
			hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
					  &kpeek_nl_family, NLM_F_MULTI, KPEEK_CMD_GET_COUNTERS);
			if (!hdr)
				goto out;
			genl_dump_check_consistent(cb, hdr);
			if (kpeek_nl_put_counter(skb, c)) {
				genlmsg_cancel(skb, hdr);
				goto out;
			}
			genlmsg_end(skb, hdr);
			ctx->gid = g->id;
			ctx->cid = c->id + 1;
		}
	}
out:
	rcu_read_unlock();
	return skb->len;
}

/*
 * Without TARGET an ID names whichever object has it: groups and counters share one id space.
 * An ID that names nothing resolves to GROUP, whose lookup then answers -ENOENT.
 */
static u32 kpeek_nl_target_of(u64 id)
{
	u32 target;

	rcu_read_lock();
	target = kpeek_counter_find_id_rcu(id) ? KPEEK_TARGET_COUNTER : KPEEK_TARGET_GROUP;
	rcu_read_unlock();
	return target;
}

static int kpeek_nl_reset(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	u32 target;
	u64 id = 0;
	int err;

	if (!kpeek_nl_admin(skb, info))
		return -EPERM;
	if (attrs[KPEEK_A_ID])
		id = nla_get_u64(attrs[KPEEK_A_ID]);
	if (attrs[KPEEK_A_TARGET])
		target = nla_get_u32(attrs[KPEEK_A_TARGET]);
	else
		target = id ? kpeek_nl_target_of(id) : KPEEK_TARGET_ALL;
	if (target == KPEEK_TARGET_ALL && id) {
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_ID],
				    "TARGET ALL resets every counter and takes no ID");
		return -EINVAL;
	}
	if (target != KPEEK_TARGET_ALL && GENL_REQ_ATTR_CHECK(info, KPEEK_A_ID)) {
		NL_SET_ERR_MSG(info->extack, "resetting a group or counter needs its ID");
		return -EINVAL;
	}
	err = kpeek_user_reset(target, id);
	if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_ID],
				    "no group or counter of this TARGET with this ID");
	return err;
}

/*
 * CREATE is all or nothing: the reply is allocated before the object is made, so that no
 * allocation can fail once it exists, and a reply that cannot be delivered (the caller's
 * receive queue is full, or its socket is gone) destroys the object again. An error answer
 * thus always means that nothing was created, and the caller may retry.
 */
static int kpeek_nl_create(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	bool counter = attrs[KPEEK_A_COUNTER];
	u32 target = counter ? KPEEK_TARGET_COUNTER : KPEEK_TARGET_GROUP;
	struct sk_buff *msg;
	void *hdr;
	u64 id;
	int err;

	if (!kpeek_nl_admin(skb, info))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, KPEEK_A_GROUP)) {
		NL_SET_ERR_MSG(info->extack, "CREATE needs GROUP (and COUNTER for a counter)");
		return -EINVAL;
	}
	if (!kpeek_nl_strings_ok(info))
		return -EINVAL;
	msg = genlmsg_new(nla_total_size_64bit(sizeof(u64)), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &kpeek_nl_family, 0, KPEEK_CMD_CREATE);
	if (!hdr) {
		err = -EMSGSIZE;
		goto err_free;
	}
	err = kpeek_user_create(target, nla_data(attrs[KPEEK_A_GROUP]),
				counter ? nla_data(attrs[KPEEK_A_COUNTER]) : NULL, &id);
	if (err) {
		kpeek_nl_create_err(info, err, counter);
		goto err_free;
	}
	/* Cannot fail: the message was sized for this one attribute. */
	err = kpeek_nl_put_u64(msg, KPEEK_A_ID, id);
	if (WARN_ON_ONCE(err))
		goto err_destroy;
	genlmsg_end(msg, hdr);
	/* genlmsg_reply() consumes msg, delivered or not. */
	err = genlmsg_reply(msg, info);
	if (err) {
		NL_SET_ERR_MSG(info->extack, "reply not delivered: nothing was created");
		kpeek_user_destroy(target, id);
	}
	return err;

err_destroy:
	kpeek_user_destroy(target, id);
err_free:
	nlmsg_free(msg);
	return err;
}

static int kpeek_nl_destroy(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	u32 target;
	int err;
	u64 id;

	if (!kpeek_nl_admin(skb, info))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, KPEEK_A_ID)) {
		NL_SET_ERR_MSG(info->extack, "DESTROY needs the ID of a group or counter");
		return -EINVAL;
	}
	id = nla_get_u64(attrs[KPEEK_A_ID]);
	if (attrs[KPEEK_A_TARGET])
		target = nla_get_u32(attrs[KPEEK_A_TARGET]);
	else
		target = kpeek_nl_target_of(id);
	err = kpeek_user_destroy(target, id);
	if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_ID],
				    "no group or counter of this TARGET with this ID");
	else if (err == -EPERM)
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_ID],
				    "not made through netlink or ioctl: its owner (a module or configfs) removes it");
	return err;
}

static int kpeek_nl_set_threshold(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	struct kpeek_nl_threshold *t, *fresh;
	struct kpeek_counter *c;
	u64 threshold;
	int err = 0;

	if (!kpeek_nl_admin(skb, info))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, KPEEK_A_ID) || GENL_REQ_ATTR_CHECK(info, KPEEK_A_THRESHOLD)) {
		NL_SET_ERR_MSG(info->extack, "SET_THRESHOLD needs ID and THRESHOLD (0 clears)");
		return -EINVAL;
	}
	threshold = nla_get_u64(attrs[KPEEK_A_THRESHOLD]);
	/* Allocated before the locks; freed unused when the counter already has a threshold. */
	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh)
		return -ENOMEM;
	mutex_lock(&kpeek_lock);
	c = kpeek_counter_find_id_rcu(nla_get_u64(attrs[KPEEK_A_ID]));
	if (!c) {
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_ID], "no counter with this ID");
		err = -ENOENT;
		goto out_unlock;
	}
	mutex_lock(&kpeek_nl_thr_lock);
	t = kpeek_nl_thr_find(c);
	if (!threshold) {
		if (t)
			kpeek_nl_thr_del(t);
	} else {
		if (!t) {
			t = fresh;
			fresh = NULL;
			t->counter = c;
			kpeek_nl_thr_add(t);
		}
		t->threshold = threshold;
		/*
		 * Armed from now on: a counter already at or above the threshold is not a
		 * crossing; it notifies after it fell below (a reset) and rose again.
		 */
		t->above = kpeek_counter_read(c) >= threshold;
		kpeek_nl_thr_schedule();
	}
	mutex_unlock(&kpeek_nl_thr_lock);
out_unlock:
	mutex_unlock(&kpeek_lock);
	kfree(fresh);
	return err;
}

static int kpeek_nl_probe_set(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	struct kpeek_probe_config cfg = { .size = sizeof(cfg) };
	int err;

	if (!kpeek_nl_admin(skb, info))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, KPEEK_A_PROBE)) {
		NL_SET_ERR_MSG(info->extack, "PROBE_SET needs PROBE");
		return -EINVAL;
	}
	if (!kpeek_nl_strings_ok(info))
		return -EINVAL;
	cfg.probe = nla_get_u32(attrs[KPEEK_A_PROBE]);
	if (attrs[KPEEK_A_PROBE_FLAGS])
		cfg.flags = nla_get_u32(attrs[KPEEK_A_PROBE_FLAGS]);
	if (attrs[KPEEK_A_FILTER_DEV]) {
		cfg.filter |= KPEEK_FILTER_DEV;
		nla_strscpy(cfg.dev, attrs[KPEEK_A_FILTER_DEV], sizeof(cfg.dev));
	}
	if (attrs[KPEEK_A_FILTER_PID]) {
		cfg.filter |= KPEEK_FILTER_PID;
		cfg.pid = nla_get_s32(attrs[KPEEK_A_FILTER_PID]);
	}
	if (attrs[KPEEK_A_FILTER_MINLEN]) {
		cfg.filter |= KPEEK_FILTER_MINLEN;
		cfg.min_len = nla_get_u32(attrs[KPEEK_A_FILTER_MINLEN]);
	}
	err = kpeek_probe_set(&cfg);
	if (err == -EINVAL)
		NL_SET_ERR_MSG(info->extack,
			       "a filter does not apply to this probe (FILTER_DEV: netif_receive_skb; FILTER_PID: sched_switch, block_rq_issue; FILTER_MINLEN: netif_receive_skb, block_rq_issue)");
	else if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_PROBE],
				    "the running kernel lacks this probe's tracepoint");
	else if (err)
		NL_SET_ERR_MSG(info->extack, "the probe could not be configured");
	return err;
}

/*
 * Read kernel memory, as KPEEK_IOC_PEEK. The reply carries up to KPEEK_PEEK_NL_LEN_MAX bytes: the
 * reader's receive buffer must hold that much (netlink truncates, and says so with MSG_TRUNC).
 */
static int kpeek_nl_peek(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	struct kpeek_peek req = {};
	struct sk_buff *msg;
	void *kbuf = NULL;
	void *hdr;
	int err;

	err = kpeek_peek_allowed(netlink_capable(skb, CAP_SYS_RAWIO));
	if (err) {
		NL_SET_ERR_MSG(info->extack,
			       "peek needs CAP_SYS_RAWIO and a kernel not locked down");
		return err;
	}
	if (!kpeek_nl_string_ok(attrs[KPEEK_A_PEEK_NAME], info->extack))
		return -EINVAL;
	if (attrs[KPEEK_A_PEEK_NAME])
		nla_strscpy(req.name, attrs[KPEEK_A_PEEK_NAME], sizeof(req.name));
	if (attrs[KPEEK_A_PEEK_ADDR])
		req.addr = nla_get_u64(attrs[KPEEK_A_PEEK_ADDR]);
	if (attrs[KPEEK_A_PEEK_OFFSET])
		req.offset = nla_get_u64(attrs[KPEEK_A_PEEK_OFFSET]);
	if (attrs[KPEEK_A_PEEK_LEN])
		req.len = nla_get_u32(attrs[KPEEK_A_PEEK_LEN]);
	if (!req.name[0] && !attrs[KPEEK_A_PEEK_ADDR]) {
		NL_SET_ERR_MSG(info->extack, "PEEK needs PEEK_NAME or PEEK_ADDR");
		return -EINVAL;
	}
	if (req.len) {
		kbuf = kvmalloc(req.len, GFP_KERNEL_ACCOUNT);
		if (!kbuf)
			return -ENOMEM;
	}
	err = kpeek_peek_read(&req, kbuf);
	if (err) {
		if (err == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack, attrs[KPEEK_A_PEEK_NAME],
					    "no such symbol (or not at PEEK_ADDR)");
		else if (err == -EFAULT)
			NL_SET_ERR_MSG(info->extack, "the address range cannot be read");
		goto out_free;
	}
	err = -ENOMEM;
	msg = genlmsg_new(nla_total_size(req.len) + NLMSG_DEFAULT_SIZE, GFP_KERNEL_ACCOUNT);
	if (!msg)
		goto out_free;
	hdr = genlmsg_put_reply(msg, info, &kpeek_nl_family, 0, KPEEK_CMD_PEEK);
	if (!hdr || kpeek_nl_put_u64(msg, KPEEK_A_PEEK_ADDR, req.addr) ||
	    kpeek_nl_put_u64(msg, KPEEK_A_PEEK_SIZE, req.sym_size) ||
	    nla_put(msg, KPEEK_A_PEEK_DATA, req.len, kbuf)) {
		nlmsg_free(msg);
		err = -EMSGSIZE;
		goto out_free;
	}
	genlmsg_end(msg, hdr);
	err = genlmsg_reply(msg, info);
out_free:
	kvfree(kbuf);
	return err;
}

/* ---- policies: one per command, strict; anything a command does not list is refused ---- */

#define KPEEK_NL_NAME_POLICY { .type = NLA_NUL_STRING, .len = KPEEK_NAME_MAX }

static const struct nla_policy kpeek_nl_info_policy[KPEEK_A_MAX + 1] = {
};

static const struct nla_policy kpeek_nl_get_policy[KPEEK_A_MAX + 1] = {
	[KPEEK_A_ID] = NLA_POLICY_MIN(NLA_U64, 1),
	[KPEEK_A_GROUP] = KPEEK_NL_NAME_POLICY,
	[KPEEK_A_COUNTER] = KPEEK_NL_NAME_POLICY,
};

static const struct nla_policy kpeek_nl_dump_policy[KPEEK_A_MAX + 1] = {
	[KPEEK_A_GROUP] = KPEEK_NL_NAME_POLICY,
};

static const struct nla_policy kpeek_nl_reset_policy[KPEEK_A_MAX + 1] = {
	[KPEEK_A_TARGET] = NLA_POLICY_MAX(NLA_U32, KPEEK_TARGET_COUNTER),
	[KPEEK_A_ID] = NLA_POLICY_MIN(NLA_U64, 1),
};

static const struct nla_policy kpeek_nl_create_policy[KPEEK_A_MAX + 1] = {
	[KPEEK_A_GROUP] = KPEEK_NL_NAME_POLICY,
	[KPEEK_A_COUNTER] = KPEEK_NL_NAME_POLICY,
};

static const struct nla_policy kpeek_nl_destroy_policy[KPEEK_A_MAX + 1] = {
	[KPEEK_A_TARGET] = NLA_POLICY_RANGE(NLA_U32, KPEEK_TARGET_GROUP, KPEEK_TARGET_COUNTER),
	[KPEEK_A_ID] = NLA_POLICY_MIN(NLA_U64, 1),
};

static const struct nla_policy kpeek_nl_threshold_policy[KPEEK_A_MAX + 1] = {
	[KPEEK_A_ID] = NLA_POLICY_MIN(NLA_U64, 1),
	[KPEEK_A_THRESHOLD] = { .type = NLA_U64 },
};

static const struct nla_policy kpeek_nl_probe_policy[KPEEK_A_MAX + 1] = {
	[KPEEK_A_PROBE] = NLA_POLICY_RANGE(NLA_U32, 1, KPEEK_PROBE_MAX),
	[KPEEK_A_PROBE_FLAGS] = NLA_POLICY_MASK(NLA_U32, KPEEK_PROBE_F_ENABLE | KPEEK_PROBE_F_RING),
	[KPEEK_A_FILTER_DEV] = { .type = NLA_NUL_STRING, .len = 15 },	/* IFNAMSIZ - 1 */
	[KPEEK_A_FILTER_PID] = NLA_POLICY_MIN(NLA_S32, 0),
	[KPEEK_A_FILTER_MINLEN] = { .type = NLA_U32 },
};

/*
 * The data comes back in one attribute, whose length field is a u16: at most
 * KPEEK_PEEK_NL_LEN_MAX bytes, not KPEEK_PEEK_LEN_MAX. Above the s16 of NLA_POLICY_MAX, hence
 * a range struct.
 */
static KPEEK_COMPAT_NL_RANGE_CONST struct netlink_range_validation kpeek_nl_peek_len_range = {
	.max = KPEEK_PEEK_NL_LEN_MAX,
};

static const struct nla_policy kpeek_nl_peek_policy[KPEEK_A_MAX + 1] = {
	[KPEEK_A_PEEK_NAME] = { .type = NLA_NUL_STRING, .len = KPEEK_PEEK_NAME_MAX - 1 },
	[KPEEK_A_PEEK_ADDR] = { .type = NLA_U64 },
	[KPEEK_A_PEEK_OFFSET] = { .type = NLA_U64 },
	[KPEEK_A_PEEK_LEN] = NLA_POLICY_FULL_RANGE(NLA_U32, &kpeek_nl_peek_len_range),
};

/*
 * genl_ops (not small_ops): per-command policies, which both 6.1 and 6.12 accept in this form
 * (6.12 converts them to split ops itself).
 */
static const struct genl_ops kpeek_nl_ops[] = {
	{
		.cmd = KPEEK_CMD_GET_INFO,
		.doit = kpeek_nl_get_info,
		.policy = kpeek_nl_info_policy,
		.maxattr = KPEEK_A_MAX,
	},
	{
		.cmd = KPEEK_CMD_GET_COUNTER,
		.doit = kpeek_nl_get_counter,
		.policy = kpeek_nl_get_policy,
		.maxattr = KPEEK_A_MAX,
	},
	{
		.cmd = KPEEK_CMD_GET_COUNTERS,
		.dumpit = kpeek_nl_dump,
		.policy = kpeek_nl_dump_policy,
		.maxattr = KPEEK_A_MAX,
	},
	{
		.cmd = KPEEK_CMD_RESET,
		.doit = kpeek_nl_reset,
		.policy = kpeek_nl_reset_policy,
		.maxattr = KPEEK_A_MAX,
	},
	{
		.cmd = KPEEK_CMD_CREATE,
		.doit = kpeek_nl_create,
		.policy = kpeek_nl_create_policy,
		.maxattr = KPEEK_A_MAX,
	},
	{
		.cmd = KPEEK_CMD_DESTROY,
		.doit = kpeek_nl_destroy,
		.policy = kpeek_nl_destroy_policy,
		.maxattr = KPEEK_A_MAX,
	},
	{
		.cmd = KPEEK_CMD_SET_THRESHOLD,
		.doit = kpeek_nl_set_threshold,
		.policy = kpeek_nl_threshold_policy,
		.maxattr = KPEEK_A_MAX,
	},
	{
		.cmd = KPEEK_CMD_PROBE_SET,
		.doit = kpeek_nl_probe_set,
		.policy = kpeek_nl_probe_policy,
		.maxattr = KPEEK_A_MAX,
	},
	{
		/* Capability checked in the handler: CAP_SYS_RAWIO and lockdown, as the ioctl. */
		.cmd = KPEEK_CMD_PEEK,
		.doit = kpeek_nl_peek,
		.policy = kpeek_nl_peek_policy,
		.maxattr = KPEEK_A_MAX,
	},
};

/*
 * parallel_ops: our commands take kpeek_lock themselves, so they need not queue behind every
 * other genetlink family's commands on genl_mutex. .module pins kpeek.ko while a dump is in
 * progress; resv_start_op 0 makes the core check reserved header bytes for every command.
 */
static struct genl_family kpeek_nl_family = {
	.name = KPEEK_GENL_NAME,
	.version = KPEEK_GENL_VERSION,
	.netnsok = false,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = kpeek_nl_ops,
	.n_ops = ARRAY_SIZE(kpeek_nl_ops),
	.mcgrps = kpeek_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(kpeek_nl_mcgrps),
	KPEEK_COMPAT_GENL_RESV_START_OP
};

int kpeek_netlink_init(void)
{
	int err;

	INIT_DELAYED_WORK(&kpeek_nl_thr_work, kpeek_nl_thr_check);
	err = genl_register_family(&kpeek_nl_family);
	if (err)
		return err;
	kpeek_nl_set_ready(true);
	return 0;
}

void kpeek_netlink_exit(void)
{
	struct kpeek_nl_threshold *t, *tmp;

	/* No event and no queued check from here on ... */
	kpeek_nl_set_ready(false);
	/* ... so once a running check is done, none can send through the family we remove. */
	cancel_delayed_work_sync(&kpeek_nl_thr_work);
	/* Waits for running commands and dumps; none starts after it returns. */
	genl_unregister_family(&kpeek_nl_family);
	mutex_lock(&kpeek_nl_thr_lock);
	list_for_each_entry_safe(t, tmp, &kpeek_nl_thresholds, node)
		kpeek_nl_thr_del(t);
	mutex_unlock(&kpeek_nl_thr_lock);
}

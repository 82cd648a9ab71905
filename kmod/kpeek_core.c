// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_core.c - groups and counters: creation, destruction, names, caps, the exported API and
 * the rule that a module's groups die with it. Channels only read what is kept here; see
 * kpeek_internal.h for the locking rules.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/hashtable.h>
#include <linux/jhash.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/percpu.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "kpeek_internal.h"

/* Serialises every change to groups and counters (see kpeek_internal.h). */
DEFINE_MUTEX(kpeek_lock);
LIST_HEAD(kpeek_groups);

/*
 * Counter names are looked up by (group, name) when creating, so that 10,000 counters in one
 * group do not cost a quadratic scan. Only writers use it, under kpeek_lock.
 */
static DEFINE_HASHTABLE(kpeek_counter_hash, 10);

/* Counts, under kpeek_lock (debugfs takes it briefly to read a consistent set). */
static unsigned int kpeek_ngroups;
static unsigned int kpeek_ncounters;
static unsigned int kpeek_napi_groups;
static unsigned int kpeek_nuser_groups;
static u64 kpeek_next_id = 1;
static u64 kpeek_groups_created;
static u64 kpeek_counters_created;
/*
 * Bumped on every create and destroy: a dump spanning several calls (netlink's
 * NLM_F_DUMP_INTR, paged ioctl reads) compares it to know whether the set changed under it.
 * Written under kpeek_lock, read locklessly by kpeek_generation_read().
 */
static u64 kpeek_generation;

/*
 * Called after the list change. The barriers pair: a lockless reader that sees the new
 * generation and then walks the lists also sees the change, so a walk that starts after the
 * bump can never miss an object yet carry the new generation (which would hide the change).
 */
static void kpeek_generation_bump(void)
{
	smp_wmb();	/* the list change before the new generation; pairs with smp_rmb() */
	WRITE_ONCE(kpeek_generation, kpeek_generation + 1);
}

u64 kpeek_generation_read(void)
{
	u64 gen = READ_ONCE(kpeek_generation);

	smp_rmb();	/* the generation before the walk; pairs with smp_wmb() above */
	return gen;
}

/* Updated from RCU callbacks too, hence atomics. */
static atomic_long_t kpeek_bytes = ATOMIC_LONG_INIT(0);
static atomic_long_t kpeek_rcu_pending = ATOMIC_LONG_INIT(0);

static long kpeek_counter_bytes(void)
{
	return sizeof(struct kpeek_counter) + (long)sizeof(u64) * num_possible_cpus();
}

/*
 * ASCII only: the kernel's isalnum() also accepts Latin-1 letters, which are not valid UTF-8
 * on their own and would reach user space as broken names.
 */
static bool kpeek_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

/* 1..KPEEK_NAME_MAX bytes of [A-Za-z0-9_]: a name must be a valid file name everywhere. */
int kpeek_name_check(const char *name)
{
	size_t len = strnlen(name, KPEEK_NAME_MAX + 1);
	size_t i;

	if (len == 0)
		return -EINVAL;
	if (len > KPEEK_NAME_MAX)
		return -ENAMETOOLONG;
	for (i = 0; i < len; i++)
		if (!kpeek_name_char(name[i]))
			return -EINVAL;
	return 0;
}

/* Printable ASCII (spaces allowed) of at most KPEEK_DESC_MAX bytes. */
int kpeek_desc_check(const char *desc, size_t len)
{
	size_t i;

	if (len > KPEEK_DESC_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if ((unsigned char)desc[i] < 0x20 || (unsigned char)desc[i] > 0x7e)
			return -EINVAL;
	return 0;
}

struct kpeek_group *kpeek_group_find_locked(const char *name)
{
	struct kpeek_group *g;

	list_for_each_entry(g, &kpeek_groups, node)
		if (!strcmp(g->name, name))
			return g;
	return NULL;
}

static u32 kpeek_counter_key(const struct kpeek_group *group, const char *name)
{
	return jhash(name, strlen(name), (u32)group->id);
}

struct kpeek_counter *kpeek_counter_find_locked(struct kpeek_group *group, const char *name)
{
	struct kpeek_counter *c;

	hash_for_each_possible(kpeek_counter_hash, c, hash, kpeek_counter_key(group, name))
		if (c->group == group && !strcmp(c->name, name))
			return c;
	return NULL;
}

/* Linear: ids are looked up by user commands, not on any hot path. */
struct kpeek_group *kpeek_group_find_id_locked(u64 id)
{
	struct kpeek_group *g;

	lockdep_assert_held(&kpeek_lock);
	list_for_each_entry(g, &kpeek_groups, node)
		if (g->id == id)
			return g;
	return NULL;
}

/* Under rcu_read_lock() or kpeek_lock. Ids grow along both lists, so a group past id ends it. */
struct kpeek_counter *kpeek_counter_find_id_rcu(u64 id)
{
	struct kpeek_group *g;
	struct kpeek_counter *c;

	list_for_each_entry_rcu(g, &kpeek_groups, node, lockdep_is_held(&kpeek_lock)) {
		if (g->id > id)
			break;
		list_for_each_entry_rcu(c, &g->counters, node, lockdep_is_held(&kpeek_lock))
			if (c->id == id)
				return c;
	}
	return NULL;
}

struct kpeek_group *kpeek_group_add_locked(const char *name, enum kpeek_source source,
					   struct module *owner)
{
	struct kpeek_group *g;
	int err;

	lockdep_assert_held(&kpeek_lock);
	err = kpeek_name_check(name);
	if (err)
		return ERR_PTR(err);
	if (!strcmp(name, KPEEK_RESERVED_GROUP))
		return ERR_PTR(-EINVAL);
	if (kpeek_group_find_locked(name))
		return ERR_PTR(-EEXIST);
	/* Taken by kpeek's probes even before they make it, so that they never find it in use. */
	if (!strcmp(name, KPEEK_PROBES_GROUP) && owner != THIS_MODULE)
		return ERR_PTR(-EEXIST);
	if (kpeek_ngroups >= kpeek_max_groups)
		return ERR_PTR(-ENOSPC);

	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&g->counters);
	strscpy(g->name, name, sizeof(g->name));
	g->source = source;
	g->owner = owner;
	g->id = kpeek_next_id++;

	err = kpeek_sysfs_group_add(g);
	if (err)
		goto err_free;

	/* Publish last: readers only ever see a fully built group. */
	list_add_tail_rcu(&g->node, &kpeek_groups);
	kpeek_ngroups++;
	if (source == KPEEK_SRC_API)
		kpeek_napi_groups++;
	else if (source == KPEEK_SRC_USER)
		kpeek_nuser_groups++;
	kpeek_groups_created++;
	kpeek_generation_bump();
	atomic_long_add(sizeof(*g), &kpeek_bytes);
	kpeek_notify_group(g, true);
	return g;

err_free:
	kfree(g);
	return ERR_PTR(err);
}

static void kpeek_group_free_rcu(struct rcu_head *head)
{
	struct kpeek_group *g = container_of(head, struct kpeek_group, rcu);

	kfree(g);
	atomic_long_sub(sizeof(*g), &kpeek_bytes);
	atomic_long_dec(&kpeek_rcu_pending);
}

static void kpeek_counter_free_rcu(struct rcu_head *head)
{
	struct kpeek_counter *c = container_of(head, struct kpeek_counter, rcu);

	free_percpu(c->values);
	kfree(c);
	atomic_long_sub(kpeek_counter_bytes(), &kpeek_bytes);
	atomic_long_dec(&kpeek_rcu_pending);
}

void kpeek_counter_del_locked(struct kpeek_counter *c)
{
	lockdep_assert_held(&kpeek_lock);
	kpeek_notify_counter(c, false);
	/* Waits for running sysfs reads of this counter; see kpeek_internal.h. */
	kpeek_sysfs_counter_del(c);
	hash_del(&c->hash);
	list_del_rcu(&c->node);
	c->group->ncounters--;
	kpeek_ncounters--;
	kpeek_generation_bump();
	atomic_long_inc(&kpeek_rcu_pending);
	call_rcu(&c->rcu, kpeek_counter_free_rcu);
}

void kpeek_group_del_locked(struct kpeek_group *g)
{
	struct kpeek_counter *c, *tmp;

	lockdep_assert_held(&kpeek_lock);
	list_for_each_entry_safe(c, tmp, &g->counters, node)
		kpeek_counter_del_locked(c);
	kpeek_notify_group(g, false);
	kpeek_sysfs_group_del(g);
	list_del_rcu(&g->node);
	kpeek_ngroups--;
	if (g->source == KPEEK_SRC_API)
		kpeek_napi_groups--;
	else if (g->source == KPEEK_SRC_USER)
		kpeek_nuser_groups--;
	kpeek_generation_bump();
	atomic_long_inc(&kpeek_rcu_pending);
	call_rcu(&g->rcu, kpeek_group_free_rcu);
}

struct kpeek_counter *kpeek_counter_add_locked(struct kpeek_group *group, const char *name)
{
	struct kpeek_counter *c;
	int err;

	lockdep_assert_held(&kpeek_lock);
	err = kpeek_name_check(name);
	if (err)
		return ERR_PTR(err);
	if (!strcmp(name, KPEEK_RESERVED_COUNTER))
		return ERR_PTR(-EINVAL);
	if (kpeek_counter_find_locked(group, name))
		return ERR_PTR(-EEXIST);
	if (kpeek_ncounters >= kpeek_max_counters)
		return ERR_PTR(-ENOSPC);

	c = kzalloc(sizeof(*c), GFP_KERNEL_ACCOUNT);
	if (!c)
		return ERR_PTR(-ENOMEM);
	c->values = alloc_percpu_gfp(kpeek_pcpu_t, GFP_KERNEL_ACCOUNT);
	if (!c->values) {
		err = -ENOMEM;
		goto err_free;
	}
	strscpy(c->name, name, sizeof(c->name));
	c->group = group;
	c->id = kpeek_next_id++;

	err = kpeek_sysfs_counter_add(c);
	if (err)
		goto err_free_percpu;

	hash_add(kpeek_counter_hash, &c->hash, kpeek_counter_key(group, name));
	list_add_tail_rcu(&c->node, &group->counters);
	group->ncounters++;
	kpeek_ncounters++;
	kpeek_counters_created++;
	kpeek_generation_bump();
	atomic_long_add(kpeek_counter_bytes(), &kpeek_bytes);
	kpeek_notify_counter(c, true);
	return c;

err_free_percpu:
	free_percpu(c->values);
err_free:
	kfree(c);
	return ERR_PTR(err);
}

/* The raw sum of the per-CPU slots: only ever grows (mod 2^64). */
static u64 kpeek_counter_sum(const struct kpeek_counter *c)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += kpeek_pcpu_read(per_cpu_ptr(c->values, cpu));
	return sum;
}

/*
 * Setting (configfs) and resetting (sysfs, ioctl, netlink) never write the per-CPU slots, which
 * other CPUs may be adding to: they move the counter's base, so that value = sum - base. An add
 * racing with a reset is then either in the sum the reset took (and reset away) or counted
 * after it; it is never lost and never undone. Two resets or sets racing each other: the later
 * base wins, as the later write would.
 */
void kpeek_counter_set(struct kpeek_counter *c, u64 value)
{
	/* Pairs with the acquire in kpeek_counter_read(). */
	atomic64_set_release(&c->base, kpeek_counter_sum(c) - value);
}

/*
 * The base first: a reader that sees a reset's base sees at least the per-CPU values that
 * reset summed (release/acquire), so sum - base never goes below the value set.
 */
u64 kpeek_counter_read(const struct kpeek_counter *c)
{
	u64 base = (u64)atomic64_read_acquire(&c->base);

	return kpeek_counter_sum(c) - base;
}
EXPORT_SYMBOL_GPL(kpeek_counter_read);

void kpeek_counter_add(struct kpeek_counter *c, u64 delta)
{
	kpeek_pcpu_add(c->values, delta);
}
EXPORT_SYMBOL_GPL(kpeek_counter_add);

struct kpeek_group *__kpeek_group_create(const char *name, struct module *owner)
{
	struct kpeek_group *g;

	/*
	 * Callers are modules (built-in code cannot link against a module), so a NULL owner is a
	 * bug: such a group would outlive its creator and never be cleaned up.
	 */
	if (!owner)
		return ERR_PTR(-EINVAL);
	mutex_lock(&kpeek_lock);
	g = kpeek_group_add_locked(name, KPEEK_SRC_API, owner);
	mutex_unlock(&kpeek_lock);
	return g;
}
EXPORT_SYMBOL_GPL(__kpeek_group_create);

void kpeek_group_destroy(struct kpeek_group *group)
{
	if (IS_ERR_OR_NULL(group))
		return;
	mutex_lock(&kpeek_lock);
	kpeek_group_del_locked(group);
	mutex_unlock(&kpeek_lock);
}
EXPORT_SYMBOL_GPL(kpeek_group_destroy);

struct kpeek_counter *kpeek_counter_create(struct kpeek_group *group, const char *name)
{
	struct kpeek_counter *c;

	if (IS_ERR_OR_NULL(group))
		return ERR_PTR(-EINVAL);
	mutex_lock(&kpeek_lock);
	c = kpeek_counter_add_locked(group, name);
	mutex_unlock(&kpeek_lock);
	return c;
}
EXPORT_SYMBOL_GPL(kpeek_counter_create);

void kpeek_counter_destroy(struct kpeek_counter *counter)
{
	if (IS_ERR_OR_NULL(counter))
		return;
	mutex_lock(&kpeek_lock);
	kpeek_counter_del_locked(counter);
	mutex_unlock(&kpeek_lock);
}
EXPORT_SYMBOL_GPL(kpeek_counter_destroy);

/*
 * ioctl and netlink: user space creates groups of its own (KPEEK_SRC_USER) and counters only in
 * those; groups of modules and of configfs are theirs to manage (-EPERM).
 */
int kpeek_user_create(u32 target, const char *group, const char *counter, u64 *id)
{
	struct kpeek_group *g;
	struct kpeek_counter *c;
	int err = 0;

	mutex_lock(&kpeek_lock);
	switch (target) {
	case KPEEK_TARGET_GROUP:
		g = kpeek_group_add_locked(group, KPEEK_SRC_USER, NULL);
		if (IS_ERR(g))
			err = PTR_ERR(g);
		else
			*id = g->id;
		break;
	case KPEEK_TARGET_COUNTER:
		err = kpeek_name_check(group);
		if (err)
			break;
		g = kpeek_group_find_locked(group);
		if (!g) {
			err = -ENOENT;
			break;
		}
		if (g->source != KPEEK_SRC_USER) {
			err = -EPERM;
			break;
		}
		c = kpeek_counter_add_locked(g, counter);
		if (IS_ERR(c))
			err = PTR_ERR(c);
		else
			*id = c->id;
		break;
	default:
		err = -EINVAL;
	}
	mutex_unlock(&kpeek_lock);
	return err;
}

int kpeek_user_destroy(u32 target, u64 id)
{
	struct kpeek_group *g;
	struct kpeek_counter *c;
	int err = 0;

	mutex_lock(&kpeek_lock);
	switch (target) {
	case KPEEK_TARGET_GROUP:
		g = kpeek_group_find_id_locked(id);
		if (!g)
			err = -ENOENT;
		else if (g->source != KPEEK_SRC_USER)
			err = -EPERM;
		else
			kpeek_group_del_locked(g);
		break;
	case KPEEK_TARGET_COUNTER:
		c = kpeek_counter_find_id_rcu(id);
		if (!c)
			err = -ENOENT;
		else if (c->group->source != KPEEK_SRC_USER)
			err = -EPERM;
		else
			kpeek_counter_del_locked(c);
		break;
	default:
		err = -EINVAL;
	}
	mutex_unlock(&kpeek_lock);
	return err;
}

/* Reset works on every source, as the sysfs `reset` file does. */
int kpeek_user_reset(u32 target, u64 id)
{
	struct kpeek_group *g;
	struct kpeek_counter *c;
	int err = 0;

	mutex_lock(&kpeek_lock);
	switch (target) {
	case KPEEK_TARGET_ALL:
		if (id) {
			err = -EINVAL;
			break;
		}
		list_for_each_entry(g, &kpeek_groups, node)
			list_for_each_entry(c, &g->counters, node)
				kpeek_counter_set(c, 0);
		break;
	case KPEEK_TARGET_GROUP:
		g = kpeek_group_find_id_locked(id);
		if (!g) {
			err = -ENOENT;
			break;
		}
		list_for_each_entry(c, &g->counters, node)
			kpeek_counter_set(c, 0);
		break;
	case KPEEK_TARGET_COUNTER:
		c = kpeek_counter_find_id_rcu(id);
		if (c)
			kpeek_counter_set(c, 0);
		else
			err = -ENOENT;
		break;
	default:
		err = -EINVAL;
	}
	mutex_unlock(&kpeek_lock);
	return err;
}

void kpeek_stats_get(struct kpeek_stats *s)
{
	mutex_lock(&kpeek_lock);
	s->groups = kpeek_ngroups;
	s->counters = kpeek_ncounters;
	s->api_groups = kpeek_napi_groups;
	s->configfs_groups = kpeek_ngroups - kpeek_napi_groups - kpeek_nuser_groups;
	s->user_groups = kpeek_nuser_groups;
	s->groups_created = kpeek_groups_created;
	s->counters_created = kpeek_counters_created;
	s->generation = kpeek_generation;
	mutex_unlock(&kpeek_lock);
	s->bytes = atomic_long_read(&kpeek_bytes);
	s->rcu_pending = atomic_long_read(&kpeek_rcu_pending);
}

/*
 * A module's groups go with it. MODULE_STATE_GOING is announced after the module's exit
 * function has returned (or after its init failed), so the module can no longer touch the
 * handles we free here.
 */
static int kpeek_module_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	struct module *mod = data;
	struct kpeek_group *g, *tmp;

	if (action != MODULE_STATE_GOING)
		return NOTIFY_DONE;
	mutex_lock(&kpeek_lock);
	list_for_each_entry_safe(g, tmp, &kpeek_groups, node) {
		if (g->source == KPEEK_SRC_API && g->owner == mod) {
			pr_info("destroying group %s left by module %s\n", g->name,
				mod->name);
			kpeek_group_del_locked(g);
		}
	}
	mutex_unlock(&kpeek_lock);
	return NOTIFY_OK;
}

static struct notifier_block kpeek_module_nb = {
	.notifier_call = kpeek_module_notify,
};

int kpeek_core_init(void)
{
	return register_module_notifier(&kpeek_module_nb);
}

void kpeek_core_exit(void)
{
	struct kpeek_group *g, *tmp;

	unregister_module_notifier(&kpeek_module_nb);
	/*
	 * Only groups made through ioctl/netlink may be left: they belong to user space and live
	 * until unload. Anything else is a bug: client modules pin kpeek.ko, and so do configfs
	 * directories. Free whatever is, then wait for the RCU callbacks, whose code lives in
	 * this module.
	 */
	mutex_lock(&kpeek_lock);
	list_for_each_entry_safe(g, tmp, &kpeek_groups, node) {
		WARN_ON_ONCE(g->source != KPEEK_SRC_USER);
		kpeek_group_del_locked(g);
	}
	mutex_unlock(&kpeek_lock);
	rcu_barrier();
}

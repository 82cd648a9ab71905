/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kpeek.h - the in-kernel API of kpeek.ko for other modules.
 *
 * A module publishes named u64 counters in a named group; kpeek.ko shows them through
 * /proc/kpeek, /sys/kernel/kpeek/<group>/<counter>, debugfs and (part 2) its fast channels.
 *
 *	static struct kpeek_group *grp;
 *	static struct kpeek_counter *hits;
 *
 *	grp = kpeek_group_create("mydrv");		// records THIS_MODULE as owner
 *	if (IS_ERR(grp))
 *		return PTR_ERR(grp);
 *	hits = kpeek_counter_create(grp, "hits");
 *	...
 *	kpeek_counter_inc(hits);			// hot path: one per-CPU add
 *	...
 *	kpeek_group_destroy(grp);			// destroys its counters too
 *
 * Rules:
 * - Every function that creates returns ERR_PTR(-errno) on failure: -EINVAL (bad name, or the
 *   reserved names "info"/"reset"), -ENAMETOOLONG (more than KPEEK_NAME_MAX bytes), -EEXIST
 *   (name taken), -ENOSPC (the max_groups/max_counters cap reached), -ENOMEM.
 * - Create and destroy may sleep (process context). kpeek_counter_add/inc may be called from
 *   any context, including hard and soft interrupts; they never sleep or lock.
 * - Using these symbols makes the caller's module depend on kpeek.ko, so kpeek.ko cannot be
 *   unloaded while the caller is loaded.
 * - Ownership: a group belongs to the module that created it. When that module unloads (after
 *   its exit function returns, or when its init fails), kpeek.ko destroys every group it left
 *   behind, with their counters. A module therefore never has to clean up, but it must not use
 *   a handle after destroying it (or after its own exit function has run).
 * - A counter belongs to its group and dies with it, whoever created it: create counters only
 *   in your own groups.
 * - Counters are per-CPU, summed on read: a read is not a snapshot across CPUs. A reset (or a
 *   set through configfs) moves the counter's base rather than the per-CPU values, so an add
 *   racing with it is either reset away or counted after it, never lost or undone.
 */
#ifndef _KPEEK_H
#define _KPEEK_H

#include <linux/module.h>
#include <linux/types.h>
#include "uapi/kpeek.h"

struct kpeek_group;
struct kpeek_counter;

struct kpeek_group *__kpeek_group_create(const char *name, struct module *owner);
/* Create a group owned by the calling module. */
#define kpeek_group_create(name) __kpeek_group_create((name), THIS_MODULE)
void kpeek_group_destroy(struct kpeek_group *group);

struct kpeek_counter *kpeek_counter_create(struct kpeek_group *group, const char *name);
void kpeek_counter_destroy(struct kpeek_counter *counter);

void kpeek_counter_add(struct kpeek_counter *counter, u64 delta);
u64 kpeek_counter_read(const struct kpeek_counter *counter);

static inline void kpeek_counter_inc(struct kpeek_counter *counter)
{
	kpeek_counter_add(counter, 1);
}

/*
 * Resolve a kernel or module symbol, non-exported ones included: name is "sym" or "module:sym"
 * (that module only). *addr is in/out: if non-zero on entry and exactly the start of that
 * symbol (as in /proc/kallsyms), it is kept; otherwise the name is looked up. On success *addr
 * is the symbol's start and *size its size per kallsyms, or sizeof for the few exported
 * variables kpeek.ko links to (__per_cpu_offset, jiffies, jiffies_64), 0 if unknown. Returns
 * 0, -ENOENT (no such symbol, or the kernel offers kpeek.ko no name lookup and *addr was not
 * its start), -ENAMETOOLONG (KPEEK_PEEK_NAME_MAX bytes or more), -EINVAL (a NULL argument).
 * Process context; may sleep.
 */
int kpeek_lookup_symbol(const char *name, unsigned long *addr, unsigned long *size);

#endif /* _KPEEK_H */

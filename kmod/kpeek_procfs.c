// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_procfs.c - /proc/kpeek: one line `<group> <counter> <value>` per counter, groups in
 * creation order, counters in creation order within their group.
 *
 * A dump of 10,000 counters spans many read() calls, and groups and counters come and go in
 * between. Between two calls the iterator keeps no pointer, only the sort key (group id,
 * counter id) of the record it must show next; ids only grow along the lists, so start()
 * re-finds its place even if that record was destroyed meanwhile (it resumes at the next one).
 * Within one call it walks the RCU lists (see kpeek_internal.h), so it never blocks writers
 * and a line is always formatted whole from a live (or RCU-protected) counter.
 */
#include <linux/proc_fs.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include "kpeek_internal.h"

struct kpeek_proc_iter {
	loff_t pos;		/* the position the key below belongs to */
	u64 gid, cid;		/* show the first counter whose (gid, cid) >= this */
};

static struct kpeek_counter *kpeek_proc_first_in(struct kpeek_group *g, u64 cid)
{
	struct kpeek_counter *c;

	list_for_each_entry_rcu(c, &g->counters, node)
		if (c->id >= cid)
			return c;
	return NULL;
}

/* The first counter at or after the key, or NULL. Called under rcu_read_lock(). */
static struct kpeek_counter *kpeek_proc_seek(u64 gid, u64 cid)
{
	struct kpeek_group *g;
	struct kpeek_counter *c;

	list_for_each_entry_rcu(g, &kpeek_groups, node) {
		if (g->id < gid)
			continue;
		c = kpeek_proc_first_in(g, g->id == gid ? cid : 0);
		if (c)
			return c;
	}
	return NULL;
}

/*
 * The counter after c in dump order. c may have been removed since we found it: list_del_rcu()
 * leaves its forward pointers intact, so following them is still safe and leads to live
 * entries or to the list heads.
 */
static struct kpeek_counter *kpeek_proc_after(struct kpeek_counter *c)
{
	struct kpeek_group *g = c->group;
	struct kpeek_counter *n;

	n = list_next_or_null_rcu(&g->counters, &c->node, struct kpeek_counter, node);
	while (!n) {
		g = list_next_or_null_rcu(&kpeek_groups, &g->node, struct kpeek_group, node);
		if (!g)
			return NULL;
		n = list_first_or_null_rcu(&g->counters, struct kpeek_counter, node);
	}
	return n;
}

static void kpeek_proc_remember(struct kpeek_proc_iter *it, loff_t pos,
				struct kpeek_counter *c)
{
	it->pos = pos;
	if (c) {
		it->gid = c->group->id;
		it->cid = c->id;
	}
}

static void *kpeek_proc_start(struct seq_file *m, loff_t *pos)
	__acquires(RCU)
{
	struct kpeek_proc_iter *it = m->private;
	struct kpeek_counter *c;
	loff_t i;

	rcu_read_lock();
	if (*pos == 0 || *pos != it->pos) {
		/* A fresh dump, or an lseek(): count records from the beginning. */
		c = kpeek_proc_seek(0, 0);
		for (i = 0; c && i < *pos; i++)
			c = kpeek_proc_after(c);
	} else {
		c = kpeek_proc_seek(it->gid, it->cid);
	}
	kpeek_proc_remember(it, *pos, c);
	return c;
}

static void *kpeek_proc_next(struct seq_file *m, void *v, loff_t *pos)
{
	struct kpeek_proc_iter *it = m->private;
	struct kpeek_counter *c = v;
	struct kpeek_counter *n = kpeek_proc_after(c);

	++*pos;
	if (n) {
		kpeek_proc_remember(it, *pos, n);
	} else {
		/* End for now: a later read resumes after c, showing counters created since. */
		it->pos = *pos;
		it->gid = c->group->id;
		it->cid = c->id + 1;
	}
	return n;
}

static void kpeek_proc_stop(struct seq_file *m, void *v)
	__releases(RCU)
{
	rcu_read_unlock();
}

static int kpeek_proc_show(struct seq_file *m, void *v)
{
	struct kpeek_counter *c = v;

	seq_printf(m, "%s %s %llu\n", c->group->name, c->name, kpeek_counter_read(c));
	return 0;
}

static const struct seq_operations kpeek_proc_ops = {
	.start = kpeek_proc_start,
	.next = kpeek_proc_next,
	.stop = kpeek_proc_stop,
	.show = kpeek_proc_show,
};

static struct proc_dir_entry *kpeek_proc_entry;

int kpeek_procfs_init(void)
{
	kpeek_proc_entry = proc_create_seq_private("kpeek", 0444, NULL, &kpeek_proc_ops,
						   sizeof(struct kpeek_proc_iter), NULL);
	return kpeek_proc_entry ? 0 : -ENOMEM;
}

void kpeek_procfs_exit(void)
{
	/* Waits for readers inside our callbacks and detaches open files. */
	proc_remove(kpeek_proc_entry);
}

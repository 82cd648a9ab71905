// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_debugfs.c - /sys/kernel/debug/kpeek/stats: internals for debugging, `key value` lines
 * (the format may change between versions), and counters: every counter as in /proc/kpeek, one
 * `<group> <counter> <value>` line each, so that debugfs can be measured as a channel too.
 */
#include <linux/debugfs.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include "kpeek_internal.h"

static struct dentry *kpeek_debugfs_dir;

static int kpeek_stats_show(struct seq_file *m, void *unused)
{
	struct kpeek_stats s;

	kpeek_stats_get(&s);
	seq_printf(m, "groups %u\n", s.groups);
	seq_printf(m, "counters %u\n", s.counters);
	seq_printf(m, "api_groups %u\n", s.api_groups);
	seq_printf(m, "configfs_groups %u\n", s.configfs_groups);
	/* Live objects including their per-CPU slots; freed objects count until RCU frees them. */
	seq_printf(m, "bytes %ld\n", s.bytes);
	seq_printf(m, "rcu_pending %ld\n", s.rcu_pending);
	seq_printf(m, "groups_created %llu\n", s.groups_created);
	seq_printf(m, "counters_created %llu\n", s.counters_created);
	seq_printf(m, "generation %llu\n", s.generation);
	seq_printf(m, "max_groups %u\n", kpeek_max_groups);
	seq_printf(m, "max_counters %u\n", kpeek_max_counters);
	seq_printf(m, "possible_cpus %u\n", num_possible_cpus());
	seq_printf(m, "user_groups %u\n", s.user_groups);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kpeek_stats);

/* One pass under RCU: seq_file grows its buffer and calls us again if the text does not fit. */
static int kpeek_counters_show(struct seq_file *m, void *unused)
{
	struct kpeek_group *g;
	struct kpeek_counter *c;

	rcu_read_lock();
	list_for_each_entry_rcu(g, &kpeek_groups, node)
		list_for_each_entry_rcu(c, &g->counters, node)
			seq_printf(m, "%s %s %llu\n", g->name, c->name, kpeek_counter_read(c));
	rcu_read_unlock();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kpeek_counters);

int kpeek_debugfs_init(void)
{
	/* debugfs failures are not fatal by kernel convention; its functions accept ERR_PTRs. */
	kpeek_debugfs_dir = debugfs_create_dir("kpeek", NULL);
	debugfs_create_file("stats", 0400, kpeek_debugfs_dir, NULL, &kpeek_stats_fops);
	debugfs_create_file("counters", 0400, kpeek_debugfs_dir, NULL, &kpeek_counters_fops);
	return 0;
}

void kpeek_debugfs_exit(void)
{
	debugfs_remove_recursive(kpeek_debugfs_dir);
}

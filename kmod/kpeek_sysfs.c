// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_sysfs.c - /sys/kernel/kpeek: `info` (the ABI version), one directory (kobject) per
 * group holding one read-only file per counter and a root-only `reset`.
 *
 * No callback here takes kpeek_lock: the core removes a file (which waits for its running
 * callbacks) while holding that lock. The objects a callback touches are alive because their
 * file still is.
 *
 * `remove-seq` (a dash: no group name can take it) lets readers know a directory listing is
 * complete. Before 6.15, kernfs drops its rwsem while copying each entry out in readdir; when
 * that entry is removed meanwhile,
 * kernfs_dir_next_pos() resumes from its hash, lands on the next live sibling and steps past
 * it, so a listing can miss an entry that lived throughout. Every removal here is wrapped in a
 * seqcount (odd while it runs): a listing read between two equal even values saw no removal.
 */
#include <linux/kobject.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include "kpeek_compat.h"
#include "kpeek_internal.h"

static struct kobject *kpeek_sysfs_root;
/* Removals are serialised by kpeek_lock; readers use it as a seqcount (see above). */
static atomic64_t kpeek_sysfs_remove_seq = ATOMIC64_INIT(0);

/* Odd from before kernfs deactivates the entry until it is gone. */
static void kpeek_sysfs_remove_begin(void)
{
	lockdep_assert_held(&kpeek_lock);
	atomic64_inc(&kpeek_sysfs_remove_seq);
	smp_mb__after_atomic();	/* odd before the entry goes; pairs with the reader's loads */
}

static void kpeek_sysfs_remove_end(void)
{
	smp_mb__before_atomic();	/* the entry gone before the even value */
	atomic64_inc(&kpeek_sysfs_remove_seq);
}

/* A group's directory. Its lifetime is the kobject's, which may outlive the group. */
struct kpeek_sysfs_dir {
	struct kobject kobj;
	struct kpeek_group *group;	/* valid while the directory is in sysfs */
};

static ssize_t kpeek_info_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", KPEEK_ABI_VERSION);
}

static struct kobj_attribute kpeek_info_attr = __ATTR(info, 0444, kpeek_info_show, NULL);

static ssize_t kpeek_remove_seq_show(struct kobject *kobj, struct kobj_attribute *attr,
				     char *buf)
{
	return sysfs_emit(buf, "%lld\n", (long long)atomic64_read(&kpeek_sysfs_remove_seq));
}

static struct kobj_attribute kpeek_remove_seq_attr =
	__ATTR(remove-seq, 0444, kpeek_remove_seq_show, NULL);

static struct attribute *kpeek_root_attrs[] = {
	&kpeek_info_attr.attr,
	&kpeek_remove_seq_attr.attr,
	NULL,
};

static const struct attribute_group kpeek_root_group = {
	.attrs = kpeek_root_attrs,
};

/* Only "1", optionally followed by a newline: anything else is probably a mistake. */
static ssize_t kpeek_reset_store(struct kobject *kobj, struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	struct kpeek_sysfs_dir *dir = container_of(kobj, struct kpeek_sysfs_dir, kobj);
	struct kpeek_counter *c;

	if (!(count == 1 || (count == 2 && buf[1] == '\n')) || buf[0] != '1')
		return -EINVAL;
	rcu_read_lock();
	list_for_each_entry_rcu(c, &dir->group->counters, node)
		kpeek_counter_set(c, 0);
	rcu_read_unlock();
	return count;
}

static struct kobj_attribute kpeek_reset_attr = __ATTR(reset, 0200, NULL, kpeek_reset_store);

static struct attribute *kpeek_group_attrs[] = {
	&kpeek_reset_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(kpeek_group);

static void kpeek_sysfs_dir_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct kpeek_sysfs_dir, kobj));
}

static KPEEK_COMPAT_KTYPE_CONST struct kobj_type kpeek_sysfs_dir_type = {
	.release = kpeek_sysfs_dir_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = kpeek_group_groups,
};

int kpeek_sysfs_group_add(struct kpeek_group *group)
{
	struct kpeek_sysfs_dir *dir;
	int err;

	dir = kzalloc(sizeof(*dir), GFP_KERNEL_ACCOUNT);
	if (!dir)
		return -ENOMEM;
	dir->group = group;
	err = kobject_init_and_add(&dir->kobj, &kpeek_sysfs_dir_type, kpeek_sysfs_root, "%s",
				   group->name);
	if (err) {
		kobject_put(&dir->kobj);	/* frees dir */
		return err;
	}
	group->sysfs = dir;
	return 0;
}

void kpeek_sysfs_group_del(struct kpeek_group *group)
{
	/* kobject_del() waits for running reset writes; the put may free dir later. */
	kpeek_sysfs_remove_begin();
	kobject_del(&group->sysfs->kobj);
	kpeek_sysfs_remove_end();
	kobject_put(&group->sysfs->kobj);
	group->sysfs = NULL;
}

static ssize_t kpeek_counter_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct kpeek_counter *c = container_of(attr, struct kpeek_counter, sysfs_attr);

	return sysfs_emit(buf, "%llu\n", kpeek_counter_read(c));
}

int kpeek_sysfs_counter_add(struct kpeek_counter *c)
{
	int err;

	sysfs_attr_init(&c->sysfs_attr.attr);
	c->sysfs_attr.attr.name = c->name;
	c->sysfs_attr.attr.mode = 0444;
	c->sysfs_attr.show = kpeek_counter_show;
	err = sysfs_create_file(&c->group->sysfs->kobj, &c->sysfs_attr.attr);
	if (err)
		return err;
	c->sysfs_added = true;
	return 0;
}

void kpeek_sysfs_counter_del(struct kpeek_counter *c)
{
	if (c->sysfs_added) {
		kpeek_sysfs_remove_begin();
		sysfs_remove_file(&c->group->sysfs->kobj, &c->sysfs_attr.attr);
		kpeek_sysfs_remove_end();
	}
	c->sysfs_added = false;
}

int kpeek_sysfs_init(void)
{
	int err;

	kpeek_sysfs_root = kobject_create_and_add("kpeek", kernel_kobj);
	if (!kpeek_sysfs_root)
		return -ENOMEM;
	err = sysfs_create_group(kpeek_sysfs_root, &kpeek_root_group);
	if (err)
		goto err_put;
	return 0;

err_put:
	kobject_put(kpeek_sysfs_root);
	return err;
}

void kpeek_sysfs_exit(void)
{
	sysfs_remove_group(kpeek_sysfs_root, &kpeek_root_group);
	kobject_put(kpeek_sysfs_root);
}

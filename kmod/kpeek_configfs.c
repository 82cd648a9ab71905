// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_configfs.c - /sys/kernel/config/kpeek/groups: user space creates and removes groups and
 * counters with mkdir/rmdir and sets values and descriptions through attributes.
 *
 *	mkdir groups/<g>		a group (source "configfs")
 *	mkdir groups/<g>/<c>		a counter in it
 *	groups/<g>/description		0644, printable text up to KPEEK_DESC_MAX bytes
 *	groups/<g>/<c>/value		0644, read: the value; write (root): a decimal u64 to set
 *	groups/<g>/<c>/description	0644, as above
 *
 * Only groups made here show up here; groups of other modules are theirs to manage. configfs
 * refuses rmdir of a group that still holds counters, and each directory pins kpeek.ko, so the
 * module cannot be unloaded while user-made groups exist.
 *
 * Items point to their core object under kpeek_lock; an attribute opened before rmdir may be
 * read after it, so every callback checks the pointer and answers -ENODEV once it is gone.
 */
#include <linux/configfs.h>
#include <linux/err.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "kpeek_internal.h"

struct kpeek_cfs_group {
	struct config_group cg;
	struct kpeek_group *group;	/* under kpeek_lock; NULL after rmdir */
};

struct kpeek_cfs_counter {
	struct config_item item;
	struct kpeek_counter *counter;	/* under kpeek_lock; NULL after rmdir */
};

static struct kpeek_cfs_group *to_kpeek_cfs_group(struct config_item *item)
{
	return container_of(to_config_group(item), struct kpeek_cfs_group, cg);
}

static struct kpeek_cfs_counter *to_kpeek_cfs_counter(struct config_item *item)
{
	return container_of(item, struct kpeek_cfs_counter, item);
}

/*
 * A description arrives as written, usually with echo's newline: drop one trailing newline,
 * then it must be printable text of at most KPEEK_DESC_MAX bytes (-EINVAL otherwise).
 */
static ssize_t kpeek_cfs_desc_store(char *dst, const char *buf, size_t count)
{
	size_t len = count;
	int err;

	if (len && buf[len - 1] == '\n')
		len--;
	err = kpeek_desc_check(buf, len);
	if (err)
		return err;
	memcpy(dst, buf, len);
	dst[len] = '\0';
	return count;
}

/* ---- counters: groups/<g>/<c> ---- */

static ssize_t kpeek_cfs_counter_value_show(struct config_item *item, char *page)
{
	struct kpeek_cfs_counter *cc = to_kpeek_cfs_counter(item);
	ssize_t ret = -ENODEV;

	mutex_lock(&kpeek_lock);
	if (cc->counter)
		ret = scnprintf(page, PAGE_SIZE, "%llu\n", kpeek_counter_read(cc->counter));
	mutex_unlock(&kpeek_lock);
	return ret;
}

static ssize_t kpeek_cfs_counter_value_store(struct config_item *item, const char *page,
					     size_t count)
{
	struct kpeek_cfs_counter *cc = to_kpeek_cfs_counter(item);
	ssize_t ret = count;
	u64 value;
	int err;

	/* kstrtou64 accepts one trailing newline and rejects signs, spaces and overflow. */
	err = kstrtou64(page, 10, &value);
	if (err)
		return -EINVAL;
	mutex_lock(&kpeek_lock);
	if (cc->counter)
		kpeek_counter_set(cc->counter, value);
	else
		ret = -ENODEV;
	mutex_unlock(&kpeek_lock);
	return ret;
}

static ssize_t kpeek_cfs_counter_description_show(struct config_item *item, char *page)
{
	struct kpeek_cfs_counter *cc = to_kpeek_cfs_counter(item);
	ssize_t ret = -ENODEV;

	mutex_lock(&kpeek_lock);
	if (cc->counter)
		ret = scnprintf(page, PAGE_SIZE, "%s\n", cc->counter->desc);
	mutex_unlock(&kpeek_lock);
	return ret;
}

static ssize_t kpeek_cfs_counter_description_store(struct config_item *item, const char *page,
						   size_t count)
{
	struct kpeek_cfs_counter *cc = to_kpeek_cfs_counter(item);
	ssize_t ret = -ENODEV;

	mutex_lock(&kpeek_lock);
	if (cc->counter)
		ret = kpeek_cfs_desc_store(cc->counter->desc, page, count);
	mutex_unlock(&kpeek_lock);
	return ret;
}

CONFIGFS_ATTR(kpeek_cfs_counter_, value);
CONFIGFS_ATTR(kpeek_cfs_counter_, description);

static struct configfs_attribute *kpeek_cfs_counter_attrs[] = {
	&kpeek_cfs_counter_attr_value,
	&kpeek_cfs_counter_attr_description,
	NULL,
};

static void kpeek_cfs_counter_release(struct config_item *item)
{
	kfree(to_kpeek_cfs_counter(item));
}

static struct configfs_item_operations kpeek_cfs_counter_item_ops = {
	.release = kpeek_cfs_counter_release,
};

static const struct config_item_type kpeek_cfs_counter_type = {
	.ct_item_ops = &kpeek_cfs_counter_item_ops,
	.ct_attrs = kpeek_cfs_counter_attrs,
	.ct_owner = THIS_MODULE,
};

/* ---- groups: groups/<g> ---- */

static struct config_item *kpeek_cfs_counter_make(struct config_group *parent, const char *name)
{
	struct kpeek_cfs_group *cg = to_kpeek_cfs_group(&parent->cg_item);
	struct kpeek_cfs_counter *cc;
	struct kpeek_counter *c;
	int err;

	cc = kzalloc(sizeof(*cc), GFP_KERNEL_ACCOUNT);
	if (!cc)
		return ERR_PTR(-ENOMEM);
	mutex_lock(&kpeek_lock);
	if (!cg->group) {
		err = -ENODEV;
		goto err_unlock;
	}
	c = kpeek_counter_add_locked(cg->group, name);
	if (IS_ERR(c)) {
		err = PTR_ERR(c);
		goto err_unlock;
	}
	cc->counter = c;
	mutex_unlock(&kpeek_lock);
	config_item_init_type_name(&cc->item, name, &kpeek_cfs_counter_type);
	return &cc->item;

err_unlock:
	mutex_unlock(&kpeek_lock);
	kfree(cc);
	return ERR_PTR(err);
}

static void kpeek_cfs_counter_drop(struct config_group *parent, struct config_item *item)
{
	struct kpeek_cfs_counter *cc = to_kpeek_cfs_counter(item);

	mutex_lock(&kpeek_lock);
	if (cc->counter)
		kpeek_counter_del_locked(cc->counter);
	cc->counter = NULL;
	mutex_unlock(&kpeek_lock);
	config_item_put(item);
}

static ssize_t kpeek_cfs_group_description_show(struct config_item *item, char *page)
{
	struct kpeek_cfs_group *cg = to_kpeek_cfs_group(item);
	ssize_t ret = -ENODEV;

	mutex_lock(&kpeek_lock);
	if (cg->group)
		ret = scnprintf(page, PAGE_SIZE, "%s\n", cg->group->desc);
	mutex_unlock(&kpeek_lock);
	return ret;
}

static ssize_t kpeek_cfs_group_description_store(struct config_item *item, const char *page,
						 size_t count)
{
	struct kpeek_cfs_group *cg = to_kpeek_cfs_group(item);
	ssize_t ret = -ENODEV;

	mutex_lock(&kpeek_lock);
	if (cg->group)
		ret = kpeek_cfs_desc_store(cg->group->desc, page, count);
	mutex_unlock(&kpeek_lock);
	return ret;
}

CONFIGFS_ATTR(kpeek_cfs_group_, description);

static struct configfs_attribute *kpeek_cfs_group_attrs[] = {
	&kpeek_cfs_group_attr_description,
	NULL,
};

static void kpeek_cfs_group_release(struct config_item *item)
{
	kfree(to_kpeek_cfs_group(item));
}

static struct configfs_item_operations kpeek_cfs_group_item_ops = {
	.release = kpeek_cfs_group_release,
};

static struct configfs_group_operations kpeek_cfs_group_group_ops = {
	.make_item = kpeek_cfs_counter_make,
	.drop_item = kpeek_cfs_counter_drop,
};

static const struct config_item_type kpeek_cfs_group_type = {
	.ct_item_ops = &kpeek_cfs_group_item_ops,
	.ct_group_ops = &kpeek_cfs_group_group_ops,
	.ct_attrs = kpeek_cfs_group_attrs,
	.ct_owner = THIS_MODULE,
};

/* ---- the groups/ directory ---- */

static struct config_group *kpeek_cfs_group_make(struct config_group *parent, const char *name)
{
	struct kpeek_cfs_group *cg;
	struct kpeek_group *g;

	cg = kzalloc(sizeof(*cg), GFP_KERNEL_ACCOUNT);
	if (!cg)
		return ERR_PTR(-ENOMEM);
	mutex_lock(&kpeek_lock);
	g = kpeek_group_add_locked(name, KPEEK_SRC_CONFIGFS, NULL);
	if (IS_ERR(g)) {
		mutex_unlock(&kpeek_lock);
		kfree(cg);
		return ERR_CAST(g);
	}
	cg->group = g;
	mutex_unlock(&kpeek_lock);
	config_group_init_type_name(&cg->cg, name, &kpeek_cfs_group_type);
	return &cg->cg;
}

static void kpeek_cfs_group_drop(struct config_group *parent, struct config_item *item)
{
	struct kpeek_cfs_group *cg = to_kpeek_cfs_group(item);

	mutex_lock(&kpeek_lock);
	if (cg->group)
		kpeek_group_del_locked(cg->group);
	cg->group = NULL;
	mutex_unlock(&kpeek_lock);
	config_item_put(item);
}

static struct configfs_group_operations kpeek_cfs_groups_ops = {
	.make_group = kpeek_cfs_group_make,
	.drop_item = kpeek_cfs_group_drop,
};

static const struct config_item_type kpeek_cfs_groups_type = {
	.ct_group_ops = &kpeek_cfs_groups_ops,
	.ct_owner = THIS_MODULE,
};

static const struct config_item_type kpeek_cfs_root_type = {
	.ct_owner = THIS_MODULE,
};

static struct config_group kpeek_cfs_groups;

static struct configfs_subsystem kpeek_cfs_subsys = {
	.su_group = {
		.cg_item = {
			.ci_namebuf = "kpeek",
			.ci_type = &kpeek_cfs_root_type,
		},
	},
};

int kpeek_configfs_init(void)
{
	config_group_init(&kpeek_cfs_subsys.su_group);
	mutex_init(&kpeek_cfs_subsys.su_mutex);
	config_group_init_type_name(&kpeek_cfs_groups, "groups", &kpeek_cfs_groups_type);
	configfs_add_default_group(&kpeek_cfs_groups, &kpeek_cfs_subsys.su_group);
	return configfs_register_subsystem(&kpeek_cfs_subsys);
}

void kpeek_configfs_exit(void)
{
	configfs_unregister_subsystem(&kpeek_cfs_subsys);
}

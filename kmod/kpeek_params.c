// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_params.c - /sys/module/kpeek/parameters. All are 0444: the caps are checked on every
 * create, and lowering one under existing objects would leave more objects than allowed, so they
 * are fixed at load (`insmod kpeek.ko max_groups=16`).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include "kpeek_internal.h"

/*
 * The caps are bounded so that every size derived from them fits: the counters mapping
 * (a header plus one 80-byte slot per counter) stays far below 4 GiB, the u32 of
 * kpeek_info.mmap_counters_size. A value above the bound fails the load with -EINVAL.
 */
static int kpeek_param_set_bounded(const char *val, const struct kernel_param *kp,
				   unsigned int max)
{
	unsigned int v;
	int err;

	err = kstrtouint(val, 0, &v);
	if (err)
		return err;
	if (v > max) {
		pr_err("%s=%u is above its limit %u\n", kp->name, v, max);
		return -EINVAL;
	}
	*(unsigned int *)kp->arg = v;
	return 0;
}

static int kpeek_param_set_groups(const char *val, const struct kernel_param *kp)
{
	return kpeek_param_set_bounded(val, kp, KPEEK_MAX_GROUPS_LIMIT);
}

static int kpeek_param_set_counters(const char *val, const struct kernel_param *kp)
{
	return kpeek_param_set_bounded(val, kp, KPEEK_MAX_COUNTERS_LIMIT);
}

static const struct kernel_param_ops kpeek_param_groups_ops = {
	.set = kpeek_param_set_groups,
	.get = param_get_uint,
};

static const struct kernel_param_ops kpeek_param_counters_ops = {
	.set = kpeek_param_set_counters,
	.get = param_get_uint,
};

unsigned int kpeek_max_groups = KPEEK_DEFAULT_MAX_GROUPS;
module_param_cb(max_groups, &kpeek_param_groups_ops, &kpeek_max_groups, 0444);
MODULE_PARM_DESC(max_groups, "Maximum number of counter groups (default 1024, at most 1048576)");

unsigned int kpeek_max_counters = KPEEK_DEFAULT_MAX_COUNTERS;
module_param_cb(max_counters, &kpeek_param_counters_ops, &kpeek_max_counters, 0444);
MODULE_PARM_DESC(max_counters,
		 "Maximum number of counters in all groups (default 65536, at most 16777216)");

/* Debugging only: lets the test suite check that every init step unwinds cleanly. */
int kpeek_fail_init_step;
module_param_named(fail_init_step, kpeek_fail_init_step, int, 0444);
MODULE_PARM_DESC(fail_init_step, "Debug: make module init fail at step N (0 = never)");

/* How often a mapped counter page is refreshed; KPEEK_IOC_MMAP_SYNC refreshes it at once. */
unsigned int kpeek_mmap_refresh_ms = 100;
module_param_named(mmap_refresh_ms, kpeek_mmap_refresh_ms, uint, 0444);
MODULE_PARM_DESC(mmap_refresh_ms, "Refresh period of the mmap'ed counters in ms (default 100)");

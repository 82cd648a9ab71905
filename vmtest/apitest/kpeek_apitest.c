// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_apitest.c - exercises kpeek.ko's exported API from inside the kernel (built and loaded
 * only by vmtest). Each check prints `kpeek_apitest: PASS <name>` or `kpeek_apitest: FAIL <name>
 * ...`; vmtest/guest/48-api.sh turns those into suite results. Init always succeeds so the
 * script can also check what the module leaves behind: a group `apitest` whose counters carry
 * known values, and a group `apitest_left` that is never destroyed here (kpeek.ko must remove it
 * when this module unloads).
 */
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/utsname.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <kpeek.h>
#include "kpeek_compat.h"

#define APITEST_IRQ_FIRES 1000
#define APITEST_WORK_ADDS 100000

static struct kpeek_group *apitest_group;
static struct kpeek_counter *apitest_irq;
static struct kpeek_counter *apitest_cpus;
static unsigned int apitest_failed;

static void apitest_check(bool ok, const char *name, long got)
{
	if (ok) {
		pr_info("kpeek_apitest: PASS %s\n", name);
	} else {
		pr_info("kpeek_apitest: FAIL %s (got %ld)\n", name, got);
		apitest_failed++;
	}
}

/* Expect ptr to be ERR_PTR(err); destroy it if it was unexpectedly created. */
static void apitest_group_err(const char *name, struct module *owner, int err,
			      const char *what)
{
	struct kpeek_group *g = __kpeek_group_create(name, owner);

	apitest_check(IS_ERR(g) && PTR_ERR(g) == err, what, IS_ERR(g) ? PTR_ERR(g) : 0);
	if (!IS_ERR(g))
		kpeek_group_destroy(g);
}

static void apitest_counter_err(struct kpeek_group *g, const char *name, int err,
				const char *what)
{
	struct kpeek_counter *c = kpeek_counter_create(g, name);

	apitest_check(IS_ERR(c) && PTR_ERR(c) == err, what, IS_ERR(c) ? PTR_ERR(c) : 0);
	if (!IS_ERR(c))
		kpeek_counter_destroy(c);
}

static void apitest_names(void)
{
	apitest_group_err("apitest", THIS_MODULE, -EEXIST, "group duplicate -> EEXIST");
	apitest_group_err("info", THIS_MODULE, -EINVAL, "group info -> EINVAL");
	apitest_group_err("", THIS_MODULE, -EINVAL, "group empty -> EINVAL");
	apitest_group_err("a-b", THIS_MODULE, -EINVAL, "group a-b -> EINVAL");
	apitest_group_err("abcdefghijklmnopqrstuvwxyz012345", THIS_MODULE, -ENAMETOOLONG,
			  "group 32 bytes -> ENAMETOOLONG");
	apitest_group_err("apitest_owner", NULL, -EINVAL, "group without owner -> EINVAL");
	apitest_counter_err(apitest_group, "reset", -EINVAL, "counter reset -> EINVAL");
	apitest_counter_err(apitest_group, "irq", -EEXIST, "counter duplicate -> EEXIST");
	apitest_counter_err(apitest_group, "x y", -EINVAL, "counter x y -> EINVAL");
	apitest_counter_err(ERR_PTR(-ENOMEM), "c", -EINVAL, "counter in an ERR_PTR group -> EINVAL");
}

/* Adds from hard-interrupt context: the hot path must not sleep or lock. */
static struct hrtimer apitest_timer;
static atomic_t apitest_fires = ATOMIC_INIT(0);
static DECLARE_COMPLETION(apitest_timer_done);

static enum hrtimer_restart apitest_timer_fn(struct hrtimer *t)
{
	kpeek_counter_inc(apitest_irq);
	if (atomic_inc_return(&apitest_fires) >= APITEST_IRQ_FIRES) {
		complete(&apitest_timer_done);
		return HRTIMER_NORESTART;
	}
	hrtimer_forward_now(t, ns_to_ktime(20 * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static void apitest_hardirq(void)
{
	kpeek_compat_hrtimer_setup(&apitest_timer, apitest_timer_fn, CLOCK_MONOTONIC,
				   HRTIMER_MODE_REL);
	hrtimer_start(&apitest_timer, ns_to_ktime(20 * NSEC_PER_USEC), HRTIMER_MODE_REL);
	wait_for_completion(&apitest_timer_done);
	hrtimer_cancel(&apitest_timer);
	apitest_check(kpeek_counter_read(apitest_irq) == APITEST_IRQ_FIRES,
		      "1000 adds from hardirq context", (long)kpeek_counter_read(apitest_irq));
}

/* Adds on every CPU at once: the per-CPU sum is exact. */
static void apitest_work_fn(struct work_struct *w)
{
	int i;

	for (i = 0; i < APITEST_WORK_ADDS; i++)
		kpeek_counter_add(apitest_cpus, 1);
}

static void apitest_all_cpus(void)
{
	struct work_struct *works;
	unsigned int n = 0;
	int cpu;

	works = kcalloc(nr_cpu_ids, sizeof(*works), GFP_KERNEL);
	if (!works) {
		apitest_check(false, "allocate works", -ENOMEM);
		return;
	}
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		INIT_WORK(&works[cpu], apitest_work_fn);
		schedule_work_on(cpu, &works[cpu]);
		n++;
	}
	for_each_online_cpu(cpu)
		flush_work(&works[cpu]);
	cpus_read_unlock();
	kfree(works);
	apitest_check(kpeek_counter_read(apitest_cpus) == (u64)n * APITEST_WORK_ADDS,
		      "100000 adds on each online CPU sum exactly",
		      (long)kpeek_counter_read(apitest_cpus));
}

static void apitest_lifecycle(void)
{
	struct kpeek_group *g, *left;
	struct kpeek_counter *c;

	g = kpeek_group_create("apitest_tmp");
	apitest_check(!IS_ERR(g), "create a second group", IS_ERR(g) ? PTR_ERR(g) : 0);
	if (IS_ERR(g))
		return;
	c = kpeek_counter_create(g, "c");
	apitest_check(!IS_ERR(c), "create a counter", IS_ERR(c) ? PTR_ERR(c) : 0);
	if (!IS_ERR(c)) {
		kpeek_counter_add(c, 5);
		kpeek_counter_destroy(c);
	}
	c = kpeek_counter_create(g, "c");
	apitest_check(!IS_ERR(c) && kpeek_counter_read(c) == 0,
		      "a destroyed counter's name is reusable and starts at 0",
		      IS_ERR(c) ? PTR_ERR(c) : 0);
	/* Destroying a group takes its counters with it. */
	kpeek_group_destroy(g);
	g = kpeek_group_create("apitest_tmp");
	apitest_check(!IS_ERR(g), "a destroyed group's name is reusable",
		      IS_ERR(g) ? PTR_ERR(g) : 0);
	if (!IS_ERR(g))
		kpeek_group_destroy(g);

	left = kpeek_group_create("apitest_left");
	apitest_check(!IS_ERR(left), "create apitest_left", IS_ERR(left) ? PTR_ERR(left) : 0);
	if (!IS_ERR(left)) {
		c = kpeek_counter_create(left, "kept");
		if (!IS_ERR(c))
			kpeek_counter_add(c, 7);
	}
}

/*
 * For 80-peek.sh, found by name through kpeek peek: one vmalloc()ed page of 0xa5 (the page
 * after it is vmalloc's guard page) and an ioremap()ed device page (the HPET's, present on
 * qemu's pc machine) that peek must refuse to read.
 */
static void *apitest_vbuf;
static void __iomem *apitest_iomem;

/*
 * The same two addresses as read-only parameters: a kernel without CONFIG_KALLSYMS_ALL keeps no
 * data symbols in kallsyms once a module's init is over, so there they cannot be found by name.
 */
static unsigned long vbuf_addr;
module_param(vbuf_addr, ulong, 0400);
MODULE_PARM_DESC(vbuf_addr, "address of the vmalloc()ed page of 0xa5 (read-only)");
static unsigned long iomem_addr;
module_param(iomem_addr, ulong, 0400);
MODULE_PARM_DESC(iomem_addr, "address of the ioremap()ed HPET page (read-only)");

static void apitest_peek_targets(void)
{
	apitest_vbuf = vmalloc(PAGE_SIZE);
	if (apitest_vbuf)
		memset(apitest_vbuf, 0xa5, PAGE_SIZE);
	apitest_check(apitest_vbuf, "vmalloc a page for peek", 0);
	apitest_iomem = ioremap(0xfed00000, PAGE_SIZE);
	apitest_check(apitest_iomem, "ioremap the HPET page for peek", 0);
	vbuf_addr = (unsigned long)apitest_vbuf;
	iomem_addr = (unsigned long)apitest_iomem;
}

/* kpeek_lookup_symbol() from another module, checked against what the linker says. */
static void apitest_lookup(void)
{
	unsigned long addr = 0, size = 0;
	int err;

	err = kpeek_lookup_symbol("jiffies", &addr, &size);
	if (IS_ENABLED(CONFIG_KALLSYMS_ALL)) {
		apitest_check(!err && addr == (unsigned long)&jiffies, "lookup_symbol jiffies",
			      err ? err : (long)(addr - (unsigned long)&jiffies));
	} else {
		/*
		 * kallsyms has text symbols only (Debian's 686-pae): jiffies, an EXPORT_SYMBOL that
		 * __symbol_get() refuses (from 6.5, and in stable kernels that took the change), is
		 * one of the variables kpeek.ko links to itself, sized by sizeof.
		 */
		pr_info("kpeek_apitest: NOTE no CONFIG_KALLSYMS_ALL: jiffies through the variables kpeek.ko links to\n");
		apitest_check(!err && addr == (unsigned long)&jiffies && size == sizeof(jiffies),
			      "lookup_symbol jiffies (linked by kpeek.ko, sizeof)",
			      err ? err : (long)size);
	}
#if defined(CONFIG_SMP) && !defined(__per_cpu_offset)
	/* Found by kallsyms, or else linked by kpeek.ko (then sized by sizeof). */
	addr = 0;
	err = kpeek_lookup_symbol("__per_cpu_offset", &addr, &size);
	apitest_check(!err && addr == (unsigned long)&__per_cpu_offset &&
		      (IS_ENABLED(CONFIG_KALLSYMS_ALL) || size == sizeof(__per_cpu_offset)),
		      "lookup_symbol __per_cpu_offset", err ? err : (long)size);
#endif
	/* A GPL-only export: found by kallsyms or, without data symbols there, the export table. */
	addr = 0;
	err = kpeek_lookup_symbol("init_uts_ns", &addr, &size);
	apitest_check(!err && addr == (unsigned long)&init_uts_ns, "lookup_symbol init_uts_ns",
		      err ? err : (long)(addr - (unsigned long)&init_uts_ns));
	addr = 0;
	err = kpeek_lookup_symbol("kpeek_apitest:apitest_vbuf", &addr, &size);
	/* size 0: unknown (before 6.4, kallsyms gives a module's last data symbol none). */
	apitest_check(!err && addr == (unsigned long)&apitest_vbuf &&
		      (size == 0 || size >= sizeof(void *)),
		      "lookup_symbol kpeek_apitest:apitest_vbuf (mod:sym, a static)",
		      err ? err : (long)size);
	addr = (unsigned long)&apitest_vbuf;
	err = kpeek_lookup_symbol("kpeek_apitest:apitest_vbuf", &addr, &size);
	apitest_check(!err && addr == (unsigned long)&apitest_vbuf,
		      "lookup_symbol with the symbol's own address keeps it", err);
	addr = (unsigned long)&apitest_vbuf;
	err = kpeek_lookup_symbol("kpeek_apitest:apitest_iomem", &addr, &size);
	apitest_check(!err && addr == (unsigned long)&apitest_iomem,
		      "lookup_symbol with another symbol's address looks the name up", err);
	addr = 0;
	err = kpeek_lookup_symbol("kpeek_example:apitest_vbuf", &addr, &size);
	apitest_check(err == -ENOENT, "lookup_symbol in the wrong module -> ENOENT", err);
	addr = 0;
	err = kpeek_lookup_symbol("kpeek_no_such_symbol_anywhere", &addr, &size);
	apitest_check(err == -ENOENT, "lookup_symbol unknown -> ENOENT", err);
	err = kpeek_lookup_symbol(NULL, &addr, &size);
	apitest_check(err == -EINVAL, "lookup_symbol NULL -> EINVAL", err);
}

static int __init apitest_init(void)
{
	apitest_group = kpeek_group_create("apitest");
	if (IS_ERR(apitest_group))
		return PTR_ERR(apitest_group);
	apitest_irq = kpeek_counter_create(apitest_group, "irq");
	apitest_cpus = kpeek_counter_create(apitest_group, "cpus");
	if (IS_ERR(apitest_irq) || IS_ERR(apitest_cpus)) {
		kpeek_group_destroy(apitest_group);
		return -EINVAL;
	}
	apitest_names();
	apitest_hardirq();
	apitest_all_cpus();
	apitest_lifecycle();
	apitest_peek_targets();
	apitest_lookup();
	pr_info("kpeek_apitest: done, %u failed\n", apitest_failed);
	return 0;
}

static void __exit apitest_exit(void)
{
	/* apitest_left is deliberately left for kpeek.ko's module-unload cleanup. */
	kpeek_group_destroy(apitest_group);
	if (apitest_iomem)
		iounmap(apitest_iomem);
	vfree(apitest_vbuf);
}

module_init(apitest_init);
module_exit(apitest_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kpeek API test module (vmtest only)");

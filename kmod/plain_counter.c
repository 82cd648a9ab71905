// SPDX-License-Identifier: GPL-2.0
/*
 * plain_counter.c - a module that knows nothing about kpeek.
 *
 * /dev/plain_counter: every read() adds one to `reads` and returns 0 bytes (end of file),
 * every write() adds one to `writes` and accepts all bytes; both also add one to the per-CPU
 * `calls` of the CPU that runs them, and every open() adds one to a static variable of the open
 * function (which the symbol table names `opens.N`). The counts are exposed nowhere (no procfs,
 * sysfs, debugfs, no kpeek API): `kpeek peek plain_counter:reads` is the only way to see them,
 * which is what the tests check.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/spinlock.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/percpu.h>

/* Plain u64s, as a driver would have them; updated with WRITE_ONCE so readers see whole values. */
static u64 reads, writes;
static DEFINE_SPINLOCK(plain_counter_lock);
/* Reads plus writes, counted on the CPU that ran each. */
static DEFINE_PER_CPU(u64, calls);

static int plain_counter_open(struct inode *inode, struct file *file)
{
	static u64 opens;

	spin_lock(&plain_counter_lock);
	WRITE_ONCE(opens, opens + 1);
	spin_unlock(&plain_counter_lock);
	return 0;
}

static ssize_t plain_counter_read(struct file *file, char __user *buf, size_t count,
				  loff_t *ppos)
{
	spin_lock(&plain_counter_lock);
	WRITE_ONCE(reads, reads + 1);
	spin_unlock(&plain_counter_lock);
	this_cpu_inc(calls);
	return 0;
}

static ssize_t plain_counter_write(struct file *file, const char __user *buf, size_t count,
				   loff_t *ppos)
{
	spin_lock(&plain_counter_lock);
	WRITE_ONCE(writes, writes + 1);
	spin_unlock(&plain_counter_lock);
	this_cpu_inc(calls);
	return count;
}

static const struct file_operations plain_counter_fops = {
	.owner = THIS_MODULE,
	.open = plain_counter_open,
	.read = plain_counter_read,
	.write = plain_counter_write,
	.llseek = noop_llseek,
};

static struct miscdevice plain_counter_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "plain_counter",
	.fops = &plain_counter_fops,
};

module_misc_device(plain_counter_dev);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("plain_counter: a char device counting reads and writes, exposed nowhere");
MODULE_AUTHOR("kpeek developers");

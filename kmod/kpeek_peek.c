// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_peek.c - read kernel memory by symbol name (KPEEK_IOC_PEEK, KPEEK_CMD_PEEK) and the
 * symbol lookup offered to other modules (kpeek_lookup_symbol, include/kpeek.h).
 *
 * Name resolution: kallsyms_lookup_name() has not been exported since 5.7. Its address is taken
 * from a kprobe registered (disabled, so no code is patched) on it, as LTTng-modules does, and
 * called with IBT's ENDBR check off for the call (see kpeek_call_lookup_name()). Where that
 * fails (no CONFIG_KPROBES), a name is accepted only together with the
 * address user space read from /proc/kallsyms, and only if sprint_symbol() (exported) says that
 * address is exactly the start of that symbol. Sizes come from sprint_symbol() in both cases.
 * Names kallsyms lacks (no CONFIG_KALLSYMS_ALL) are looked up among the exports (see
 * kpeek_lookup_export()).
 *
 * Reading: copy_from_kernel_nofault() into a kernel buffer, then copy_to_user(). A user
 * address, NULL, an unmapped page or a vmalloc guard page gives -EFAULT, never an oops. A
 * vmalloc-area page that is not RAM (an ioremap()ed register window, where a read can have
 * side effects) is refused with -EFAULT before anything is read.
 *
 * Permission: CAP_SYS_RAWIO, like /proc/kcore, and not under lockdown (LOCKDOWN_KCORE); both
 * -EPERM, each said once in the kernel log.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/ioport.h>
#include <linux/jiffies.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/security.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#ifdef CONFIG_X86_KERNEL_IBT
#include <asm/cpufeature.h>
#include <asm/msr.h>
#endif
#include "kpeek_compat.h"
#include "kpeek_internal.h"

typedef unsigned long (*kpeek_lookup_name_t)(const char *name);

/* No symbol is this big; a larger size from kallsyms is a wrapped one (see kpeek_sym_at()). */
#define KPEEK_SYM_SIZE_MAX	SZ_1G

/* Set once at init, read-only afterwards. */
static kpeek_lookup_name_t kpeek_lookup_name_fn;

#ifdef CONFIG_KPROBES
static kpeek_lookup_name_t kpeek_find_lookup_name(void)
{
	struct kprobe kp = {
		.symbol_name = "kallsyms_lookup_name",
		/* Resolve only: a disabled kprobe is never armed, so no text is patched. */
		.flags = KPROBE_FLAG_DISABLED,
	};
	void *addr;

	if (register_kprobe(&kp))
		return NULL;
	addr = kp.addr;
	unregister_kprobe(&kp);
	return (kpeek_lookup_name_t)addr;
}
#else
static kpeek_lookup_name_t kpeek_find_lookup_name(void)
{
	return NULL;
}
#endif

#ifdef CONFIG_X86_KERNEL_IBT
/*
 * kallsyms_lookup_name() is only ever called directly in the kernel, so objtool sealed its
 * ENDBR: an indirect call to it traps where the CPU enforces IBT. As LTTng-modules does, turn
 * ENDBR tracking off on this CPU (preemption off, so we stay on it) for the one call.
 */
static unsigned long kpeek_call_lookup_name(const char *name)
{
	bool ibt = cpu_feature_enabled(X86_FEATURE_IBT);
	unsigned long addr;
	u64 cet = 0;

	preempt_disable();
	if (ibt) {
		kpeek_compat_rdmsr64(MSR_IA32_S_CET, cet);
		kpeek_compat_wrmsr64(MSR_IA32_S_CET, cet & ~CET_ENDBR_EN);
	}
	addr = kpeek_lookup_name_fn(name);
	if (ibt)
		kpeek_compat_wrmsr64(MSR_IA32_S_CET, cet);
	preempt_enable();
	return addr;
}
#else
static unsigned long kpeek_call_lookup_name(const char *name)
{
	return kpeek_lookup_name_fn(name);
}
#endif

/*
 * What kallsyms says is at addr: name, offset into it, size, module ("" for vmlinux). False if
 * nothing is known there. sprint_symbol() writes "name+0xoff/0xsize [module]".
 */
static bool kpeek_sym_at(unsigned long addr, char *buf, const char **name, unsigned long *off,
			 unsigned long *size, const char **mod)
{
	char *plus, *slash, *sp;

	if (!sprint_symbol(buf, addr))
		return false;
	plus = strrchr(buf, '+');
	if (!plus)
		return false;
	sp = strchr(plus, ' ');
	*mod = "";
	if (sp) {
		*sp = '\0';
		if (sp[1] == '[') {
			char *end = strchr(sp + 2, ']');

			if (end)
				*end = '\0';
			*mod = sp + 2;
		}
	}
	slash = strchr(plus, '/');
	if (!slash)
		return false;
	*slash = '\0';
	*plus = '\0';
	if (kstrtoul(plus + 1, 16, off) || kstrtoul(slash + 1, 16, size))
		return false;
	/*
	 * Before 6.4, a module's last data symbol gets "the end of the module's text" as its
	 * end, which can lie before it: a wrapped, huge size. Such a size says nothing.
	 */
	if (*size > KPEEK_SYM_SIZE_MAX)
		*size = 0;
	*name = buf;
	return true;
}

/* Split "mod:sym" (mod non-empty) or "sym"; false when the form is wrong. */
static bool kpeek_split_name(const char *name, char *mod, size_t modlen, const char **sym)
{
	const char *colon = strchr(name, ':');

	if (!colon) {
		*mod = '\0';
		*sym = name;
		return *name != '\0';
	}
	if (colon == name || !colon[1] || strchr(colon + 1, ':') ||
	    (size_t)(colon - name) >= modlen)
		return false;
	memcpy(mod, name, colon - name);
	mod[colon - name] = '\0';
	*sym = colon + 1;
	return true;
}

enum kpeek_sym_match {
	KPEEK_SYM_NONE,		/* not the start of a symbol (of that module) */
	KPEEK_SYM_ALIAS,	/* the start of a symbol of another name at the same address */
	KPEEK_SYM_EXACT,	/* the start of sym */
};

/*
 * What kallsyms says about addr, for sym in module mod ("" = any): kallsyms names one of the
 * symbols at an address (jiffies and jiffies_64 share one), hence ALIAS. *size is set for
 * ALIAS and EXACT: the gap to the next symbol does not depend on the name.
 */
static enum kpeek_sym_match kpeek_sym_match(unsigned long addr, const char *mod, const char *sym,
					    unsigned long *size)
{
	enum kpeek_sym_match match = KPEEK_SYM_NONE;
	const char *n, *m;
	unsigned long off;
	char *buf;

	buf = kmalloc(KSYM_SYMBOL_LEN, GFP_KERNEL);
	if (!buf)
		return KPEEK_SYM_NONE;
	if (kpeek_sym_at(addr, buf, &n, &off, size, &m) && !off && (!*mod || !strcmp(m, mod)))
		match = strcmp(n, sym) ? KPEEK_SYM_ALIAS : KPEEK_SYM_EXACT;
	kfree(buf);
	return match;
}

/*
 * A kernel built without CONFIG_KALLSYMS_ALL (Debian's 686-pae) has no data symbols in kallsyms,
 * but its exported ones are still in the module loader's export table. Two ways in there:
 *
 * - A few variables kpeek.ko links to itself (kpeek_linked[]): the module loader resolved them
 *   when kpeek.ko was loaded, whatever their export flavour (__per_cpu_offset and jiffies are
 *   EXPORT_SYMBOL), and their size is sizeof the object. __per_cpu_offset (SMP kernels whose
 *   per-CPU offsets are that array, as on x86) is what user space needs to find CPU n's copy
 *   of a module's per-CPU variable.
 * - __symbol_get(), which finds the GPL-only ones (init_uts_ns; since 6.5, and in stable kernels
 *   that took the change, it refuses EXPORT_SYMBOL ones). The reference it takes on a module
 *   that exports sym is dropped at once: the address is then as good as one from kallsyms,
 *   valid while that module stays loaded. The size stays unknown.
 */
struct kpeek_linked_sym {
	const char *name;
	unsigned long addr;
	unsigned long size;
};

#define KPEEK_LINKED(sym)	{ #sym, (unsigned long)&(sym), sizeof(sym) }

static const struct kpeek_linked_sym kpeek_linked[] = {
#if defined(CONFIG_SMP) && !defined(__per_cpu_offset)
	KPEEK_LINKED(__per_cpu_offset),
#endif
	KPEEK_LINKED(jiffies),
	KPEEK_LINKED(jiffies_64),
};

static unsigned long kpeek_lookup_export(const char *sym, unsigned long *size)
{
	void *p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kpeek_linked); i++) {
		if (!strcmp(sym, kpeek_linked[i].name)) {
			*size = kpeek_linked[i].size;
			return kpeek_linked[i].addr;
		}
	}
	p = __symbol_get(sym);
	if (p)
		__symbol_put(sym);
	*size = 0;
	return (unsigned long)p;
}

int kpeek_lookup_symbol(const char *name, unsigned long *addr, unsigned long *size)
{
	char mod[MODULE_NAME_LEN];
	unsigned long found = 0, sz = 0;
	const char *sym;

	if (!name || !addr || !size)
		return -EINVAL;
	if (strnlen(name, KPEEK_PEEK_NAME_MAX) >= KPEEK_PEEK_NAME_MAX)
		return -ENAMETOOLONG;
	if (!kpeek_split_name(name, mod, sizeof(mod), &sym))
		return -ENOENT;
	if (*addr && kpeek_sym_match(*addr, mod, sym, &sz) == KPEEK_SYM_EXACT) {
		/*
		 * The caller's address (from /proc/kallsyms), which kallsyms names exactly so: the
		 * only way in without a name lookup, and the way to pick one of several statics of
		 * the same name.
		 */
		found = *addr;
	} else if (kpeek_lookup_name_fn) {
		/* Understands "mod:sym" itself and then looks in that module only. */
		found = kpeek_call_lookup_name(name);
		if (found && kpeek_sym_match(found, mod, sym, &sz) == KPEEK_SYM_NONE)
			sz = 0;
	}
	if (!found && !*mod)
		found = kpeek_lookup_export(sym, &sz);
	if (!found)
		return -ENOENT;
	*addr = found;
	*size = sz;
	return 0;
}
EXPORT_SYMBOL_GPL(kpeek_lookup_symbol);

int kpeek_peek_allowed(bool capable_rawio)
{
	int err;

	if (!capable_rawio) {
		pr_info_once("peek refused: the caller lacks CAP_SYS_RAWIO\n");
		return -EPERM;
	}
	err = security_locked_down(LOCKDOWN_KCORE);
	if (err) {
		pr_notice_once("peek refused: the kernel is locked down (as for /proc/kcore)\n");
		return -EPERM;
	}
	return 0;
}

/*
 * May [start, start + len) be read? A vmalloc-area page must be mapped to RAM: an ioremap()
 * window is device memory, and reading a register can change the device.
 */
static bool kpeek_peek_range_ok(unsigned long start, size_t len)
{
	unsigned long p, end = start + len;
	unsigned long pfn;

	for (p = start & PAGE_MASK; p < end; p += PAGE_SIZE) {
		if (!is_vmalloc_addr((void *)p))
			continue;
		pfn = vmalloc_to_pfn((void *)p);
		if (!pfn || !pfn_valid(pfn) || !page_is_ram(pfn))
			return false;
	}
	return true;
}

int kpeek_peek_read(struct kpeek_peek *req, void *kbuf)
{
	unsigned long start, size = 0;
	int err;

	if (req->flags)
		return -EINVAL;
	if (req->len > KPEEK_PEEK_LEN_MAX)
		return -EINVAL;
	if (strnlen(req->name, sizeof(req->name)) >= sizeof(req->name))
		return -EINVAL;
	if (req->name[0]) {
		unsigned long a = req->addr;

		/* 32-bit kernels: an address above 4 GiB is not one of ours. */
		if (a != req->addr)
			return -ENOENT;
		err = kpeek_lookup_symbol(req->name, &a, &size);
		if (err)
			return err;
		req->addr = a;
		req->sym_size = size;
	} else {
		req->sym_size = 0;
	}
	if (!req->len)
		return 0;
	if (req->addr + req->offset < req->addr ||
	    req->addr + req->offset + req->len < req->addr + req->offset)
		return -EFAULT;
	start = req->addr + req->offset;
	if (start != req->addr + req->offset)
		return -EFAULT;
	if (!kpeek_peek_range_ok(start, req->len))
		return -EFAULT;
	if (copy_from_kernel_nofault(kbuf, (const void *)start, req->len))
		return -EFAULT;
	return 0;
}

int kpeek_peek_init(void)
{
	kpeek_lookup_name_fn = kpeek_find_lookup_name();
	if (!kpeek_lookup_name_fn)
		pr_info("peek: kallsyms_lookup_name unavailable; names need their /proc/kallsyms address\n");
	return 0;
}

void kpeek_peek_exit(void)
{
	kpeek_lookup_name_fn = NULL;
}

#!/bin/sh -eu
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's scripts/checker-valid.sh (Linux 6.15 on), for kernels whose headers package lacks
# it (Debian's 7.x linux-kbuild): kbuild runs it as `checker-valid.sh $(CHECK) $(CHECKFLAGS)`
# and, unless it prints 1, turns C=1/C=2 off. It asks whether sparse parses
# __typeof_unqual__, which the kernel's headers use from 6.15 on.

[ ! -x "$(command -v "$1")" ] && exit 1

tmp_file=$(mktemp)
trap "rm -f $tmp_file" EXIT

cat << EOF2 >$tmp_file
static inline int u(const int *q)
{
	__typeof_unqual__(*q) v = *q;
	return v;
}
EOF2

# sparse happily exits with 0 on error so validate
# there is none on stderr. Use awk as grep is a pain with sh -e
$@ $tmp_file 2>&1 | awk -v c=1 '/error/{c=0}END{print c}'

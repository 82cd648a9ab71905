# 40-perms: as an unprivileged user every read works and every mutation is refused. The VFS
# refuses by file mode before kpeek sees the call, so the errno is EACCES; module loading and
# unloading need CAP_SYS_MODULE (EPERM).
. /kpeek/guest/lib.sh

mkdir $CFS/groups/perm && mkdir $CFS/groups/perm/cnt && echo 42 >$CFS/groups/perm/cnt/value
echo "root set this" >$CFS/groups/perm/cnt/description
check_eq "as_user runs as uid 1000" "$(as_user id -u)" $USER_UID

# Reads.
check "user: read /proc/kpeek" as_user grep -q '^perm cnt 42$' $PROC
check_eq "user: read sysfs counter" "$(as_user cat $SYS/perm/cnt)" 42
check_eq "user: read sysfs info" "$(as_user cat $SYS/info)" $ABI_VERSION
check_eq "user: read configfs value" "$(as_user cat $CFS/groups/perm/cnt/value)" 42
check_eq "user: read configfs description" "$(as_user cat $CFS/groups/perm/cnt/description)" "root set this"
check_eq "user: read configfs group description" "$(as_user cat $CFS/groups/perm/description)" ""
check_eq "user: read param" "$(as_user cat $PARAMS/max_groups)" 1024
check "user: list configfs groups" as_user ls $CFS/groups/perm
check "user: list sysfs" as_user ls $SYS/kpeek_example

# Mutations.
expect_err "user: mkdir configfs group" EACCES as_user mkdir $CFS/groups/evil
expect_err "user: mkdir configfs counter" EACCES as_user mkdir $CFS/groups/perm/evil
expect_err "user: rmdir configfs counter" EACCES as_user rmdir $CFS/groups/perm/cnt
expect_err "user: rmdir configfs group" EACCES as_user rmdir $CFS/groups/perm
expect_err "user: set configfs value" EACCES as_user sh -c "echo 1 > $CFS/groups/perm/cnt/value"
expect_err "user: set counter description" EACCES as_user sh -c "echo x > $CFS/groups/perm/cnt/description"
expect_err "user: set group description" EACCES as_user sh -c "echo x > $CFS/groups/perm/description"
expect_err "user: sysfs reset" EACCES as_user sh -c "echo 1 > $SYS/perm/reset"
expect_err "user: sysfs reset of an API group" EACCES as_user sh -c "echo 1 > $SYS/kpeek_example/reset"
expect_err "user: write sysfs counter" EACCES as_user sh -c "echo 1 > $SYS/perm/cnt"
expect_err "user: write sysfs info" EACCES as_user sh -c "echo 2 > $SYS/info"
expect_err "user: write /proc/kpeek" EACCES as_user sh -c "echo x > $PROC"
expect_err "user: write param" EACCES as_user sh -c "echo 1 > $PARAMS/max_groups"
expect_err "user: read debugfs (root only)" EACCES as_user cat $DBG/stats
expect_err "user: open /dev/kpeek_example" EACCES as_user sh -c "echo x > /dev/kpeek_example"
expect_err "user: rmmod kpeek_example" EPERM as_user rmmod kpeek_example
expect_err "user: insmod" EPERM as_user insmod $KO/kpeek.ko

# Nothing changed.
check_eq "value unchanged" "$(cat $SYS/perm/cnt)" 42
check_eq "description unchanged" "$(cat $CFS/groups/perm/cnt/description)" "root set this"
check "group still there" test -d $CFS/groups/perm/cnt
check "modules still loaded" loaded kpeek_example
# Root: even root cannot write the read-only files.
expect_err "root: write sysfs counter" EACCES sh -c "echo 1 > $SYS/perm/cnt"
expect_err "root: write param" EACCES sh -c "echo 1 > $PARAMS/max_groups"
rmdir $CFS/groups/perm/cnt $CFS/groups/perm

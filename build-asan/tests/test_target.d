build-asan/tests/test_target: tests/unit/test_target.c \
 userspace/target/vt_layout.h userspace/target/vt_mem.h \
 userspace/target/vt_proc.h userspace/target/vt_target.h \
 tests/unit/vt_test.h
userspace/target/vt_layout.h:
userspace/target/vt_mem.h:
userspace/target/vt_proc.h:
userspace/target/vt_target.h:
tests/unit/vt_test.h:

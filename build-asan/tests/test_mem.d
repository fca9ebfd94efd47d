build-asan/tests/test_mem: tests/unit/test_mem.c \
 userspace/target/vt_mem.h tests/unit/vt_test.h
userspace/target/vt_mem.h:
tests/unit/vt_test.h:

build-asan/tests/test_layout: tests/unit/test_layout.c \
 userspace/target/vt_layout.h tests/unit/vt_test.h
userspace/target/vt_layout.h:
tests/unit/vt_test.h:

build-asan/tests/test_site: tests/unit/test_site.c \
 userspace/target/vt_site.h tests/unit/vt_test.h
userspace/target/vt_site.h:
tests/unit/vt_test.h:

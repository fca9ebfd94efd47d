build-asan/tests/test_server: tests/unit/test_server.c \
 userspace/serve/vt_server.h tests/unit/vt_test.h
userspace/serve/vt_server.h:
tests/unit/vt_test.h:

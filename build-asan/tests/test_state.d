build-asan/tests/test_state: tests/unit/test_state.c tests/unit/vt_img.h \
 userspace/model/vt_state.h bpf/valk_trace.h tests/unit/vt_test.h
tests/unit/vt_img.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
tests/unit/vt_test.h:

build-asan/tests/test_wire: tests/unit/test_wire.c tests/unit/vt_img.h \
 userspace/model/vt_state.h bpf/valk_trace.h userspace/wire/vt_wire.h \
 tests/unit/vt_test.h
tests/unit/vt_img.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/wire/vt_wire.h:
tests/unit/vt_test.h:

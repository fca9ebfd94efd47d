build-asan/tests/test_record: tests/unit/test_record.c \
 userspace/cli/vt_record.h userspace/model/vt_state.h bpf/valk_trace.h \
 userspace/wire/vt_rec.h tests/unit/vt_img.h tests/unit/vt_test.h
userspace/cli/vt_record.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/wire/vt_rec.h:
tests/unit/vt_img.h:
tests/unit/vt_test.h:

build-asan/tests/test_report: tests/unit/test_report.c \
 userspace/model/vt_report.h userspace/model/vt_state.h bpf/valk_trace.h \
 userspace/model/vt_verdict.h userspace/wire/vt_rfmt.h \
 tests/unit/vt_img.h tests/unit/vt_test.h
userspace/model/vt_report.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/model/vt_verdict.h:
userspace/wire/vt_rfmt.h:
tests/unit/vt_img.h:
tests/unit/vt_test.h:

build-asan/tests/test_rec: tests/unit/test_rec.c tests/unit/vt_img.h \
 userspace/model/vt_state.h bpf/valk_trace.h tests/unit/vt_test.h \
 userspace/wire/vt_rec.h userspace/wire/vt_rec_codec.h
tests/unit/vt_img.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
tests/unit/vt_test.h:
userspace/wire/vt_rec.h:
userspace/wire/vt_rec_codec.h:

build-asan/obj/wire/vt_rfmt.o: userspace/wire/vt_rfmt.c \
 userspace/wire/vt_rfmt.h userspace/model/vt_verdict.h \
 userspace/model/vt_report.h userspace/model/vt_state.h bpf/valk_trace.h
userspace/wire/vt_rfmt.h:
userspace/model/vt_verdict.h:
userspace/model/vt_report.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:

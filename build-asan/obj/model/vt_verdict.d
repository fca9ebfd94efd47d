build-asan/obj/model/vt_verdict.o: userspace/model/vt_verdict.c \
 userspace/model/vt_verdict.h userspace/model/vt_report.h \
 userspace/model/vt_state.h bpf/valk_trace.h
userspace/model/vt_verdict.h:
userspace/model/vt_report.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:

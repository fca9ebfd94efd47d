build-asan/obj/model/vt_report.o: userspace/model/vt_report.c \
 userspace/model/vt_report.h userspace/model/vt_state.h bpf/valk_trace.h
userspace/model/vt_report.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:

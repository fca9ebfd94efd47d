build-asan/obj/cli/vt_record.o: userspace/cli/vt_record.c \
 userspace/cli/vt_record.h userspace/model/vt_state.h bpf/valk_trace.h \
 userspace/wire/vt_rec.h userspace/cli/vt_recfile.h
userspace/cli/vt_record.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/wire/vt_rec.h:
userspace/cli/vt_recfile.h:

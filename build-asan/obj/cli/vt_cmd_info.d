build-asan/obj/cli/vt_cmd_info.o: userspace/cli/vt_cmd_info.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h \
 userspace/cli/vt_recfile.h userspace/wire/vt_rec.h \
 userspace/model/vt_state.h bpf/valk_trace.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:
userspace/cli/vt_recfile.h:
userspace/wire/vt_rec.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:

build-asan/obj/cli/vt_cmd_ps.o: userspace/cli/vt_cmd_ps.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h \
 userspace/target/vt_layout.h userspace/target/vt_proc.h \
 userspace/target/vt_snap.h userspace/model/vt_state.h bpf/valk_trace.h \
 userspace/target/vt_target.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:
userspace/target/vt_layout.h:
userspace/target/vt_proc.h:
userspace/target/vt_snap.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/target/vt_target.h:

build-asan/obj/target/vt_snap.o: userspace/target/vt_snap.c \
 userspace/target/vt_snap.h userspace/target/vt_layout.h \
 userspace/model/vt_state.h bpf/valk_trace.h userspace/target/vt_mem.h \
 userspace/target/vt_proc.h
userspace/target/vt_snap.h:
userspace/target/vt_layout.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/target/vt_mem.h:
userspace/target/vt_proc.h:

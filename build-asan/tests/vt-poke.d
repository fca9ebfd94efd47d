build-asan/tests/vt-poke: tests/tools/vt_poke.c \
 userspace/target/vt_layout.h userspace/target/vt_mem.h \
 userspace/target/vt_snap.h userspace/model/vt_state.h bpf/valk_trace.h \
 userspace/target/vt_target.h
userspace/target/vt_layout.h:
userspace/target/vt_mem.h:
userspace/target/vt_snap.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/target/vt_target.h:

build-asan/obj/cli/vt_replay.o: userspace/cli/vt_replay.c \
 userspace/cli/vt_replay.h userspace/cli/vt_recfile.h \
 userspace/cli/vt_trace.h userspace/model/vt_state.h bpf/valk_trace.h \
 userspace/serve/vt_routes.h userspace/wire/vt_wire.h \
 userspace/wire/vt_rec.h
userspace/cli/vt_replay.h:
userspace/cli/vt_recfile.h:
userspace/cli/vt_trace.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/serve/vt_routes.h:
userspace/wire/vt_wire.h:
userspace/wire/vt_rec.h:

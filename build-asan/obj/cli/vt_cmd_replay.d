build-asan/obj/cli/vt_cmd_replay.o: userspace/cli/vt_cmd_replay.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h \
 userspace/cli/vt_replay.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:
userspace/cli/vt_replay.h:

build-asan/obj/cli/vt_cmd_snapshot.o: userspace/cli/vt_cmd_snapshot.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:

build-asan/obj/cli/vt_cmd.o: userspace/cli/vt_cmd.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:

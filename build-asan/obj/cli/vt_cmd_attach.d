build-asan/obj/cli/vt_cmd_attach.o: userspace/cli/vt_cmd_attach.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:

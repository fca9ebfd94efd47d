build-asan/obj/cli/vt_cmd_demo.o: userspace/cli/vt_cmd_demo.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h userspace/cli/vt_load.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:
userspace/cli/vt_load.h:

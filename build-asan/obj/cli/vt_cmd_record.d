build-asan/obj/cli/vt_cmd_record.o: userspace/cli/vt_cmd_record.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:

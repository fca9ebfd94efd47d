build-asan/obj/target/vt_target.o: userspace/target/vt_target.c \
 userspace/target/vt_proc.h userspace/target/vt_target.h
userspace/target/vt_proc.h:
userspace/target/vt_target.h:

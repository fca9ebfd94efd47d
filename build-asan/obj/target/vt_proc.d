build-asan/obj/target/vt_proc.o: userspace/target/vt_proc.c \
 userspace/target/vt_proc.h
userspace/target/vt_proc.h:

build-asan/obj/target/vt_mem.o: userspace/target/vt_mem.c \
 userspace/target/vt_mem.h
userspace/target/vt_mem.h:

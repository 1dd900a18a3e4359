KMOD_SRCS := kmod/kvm.c kmod/ipicount.c
KMOD_OBJS := $(KMOD_SRCS:%.c=$(BUILD)/%.o)

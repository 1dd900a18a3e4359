/*
 * The control socket behind hyvectl: a Unix stream socket per running VM at
 * control_socket_path(name).  control_start runs a server thread; requests
 * act on the VM through vm_* and vcpu_call (a vCPU is paused while its
 * registers are read or written).
 */
#ifndef HYVE_CONTROL_H
#define HYVE_CONTROL_H

#include <stddef.h>

struct vm;

int control_start(struct vm *vm);
void control_stop(struct vm *vm);
/* $HYVE_RUN_DIR, else /run/hyve (root) or $XDG_RUNTIME_DIR/hyve. */
const char *control_dir(void);
int control_socket_path(const char *name, char *buf, size_t len);

#endif

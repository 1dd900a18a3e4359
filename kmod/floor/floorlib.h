/*
 * What the two floor programs (exitfloor, ipifloor) share: the smallest
 * way to load a test kernel and enter it the way hyve does (vmm/abi.h),
 * with the kvm ioctls called directly and nothing else around them.
 */
#ifndef HYVE_FLOORLIB_H
#define HYVE_FLOORLIB_H

#include <stdint.h>

#define FLOOR_EXIT_USAGE 64
#define FLOOR_EXIT_INTERNAL 70

extern const char *floor_prog;          /* for messages */
extern uint8_t *floor_mem;
extern uint64_t floor_mem_size;

__attribute__((noreturn, format(printf, 2, 3)))
void floor_die(int status, const char *fmt, ...);
/* SIGALRM handler: "PROG: timed out", exit 70. */
void floor_on_alarm(int sig);
/* [gpa, gpa+len) inside guest RAM, or NULL. */
void *floor_gpa(uint64_t gpa, uint64_t len);
/* Load an ELF64 test kernel's PT_LOAD segments; returns its entry. */
uint64_t floor_load_elf(const char *path);
/* GDT, TSS, identity map, command line and boot information. */
void floor_write_boot_memory(const char *cmdline, unsigned ncpus);
/* A vCPU in 64-bit mode at rip with the boot GDT and the given CR3. */
void floor_set_long_mode(int vcpu_fd, uint64_t cr3, uint64_t rip,
    uint64_t rsp, uint64_t rdi, uint64_t rsi);

/* A hyve-testresult report at gpa, printed as hyve prints it (with this
 * program's name); returns the device's status code (HYVE_TRE_*). */
uint32_t floor_take_report(uint32_t gpa);

#endif

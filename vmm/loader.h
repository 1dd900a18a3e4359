/* Boot loaders: ELF64 with 64-bit direct entry, Multiboot (v1), and Linux
 * bzImage kernels by the x86 boot protocol's 64-bit entry. */
#ifndef HYVE_LOADER_H
#define HYVE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

/* BOOT_LINUX64: long mode as BOOT_LONG64, but with the GDT layout that
 * Linux's 64-bit boot protocol asks for (__BOOT_CS 0x10, __BOOT_DS 0x18). */
enum boot_mode { BOOT_LONG64, BOOT_PROT32, BOOT_LINUX64 };

struct boot_state {
	enum boot_mode mode;
	uint64_t entry;
	uint64_t arg0, arg1;    /* RDI/RSI (long mode) or EAX/EBX (Multiboot) */
	uint64_t kernel_start, kernel_end;
};

/* Load cfg.kernel into guest memory and fill bs.  A bad or unsuitable
 * image is a one-line reason in err and -ENOEXEC (or another -errno). */
int load_kernel(struct vm *vm, struct boot_state *bs, char *err, size_t errlen);

/* Write the boot GDT, page tables and boot information (the direct-entry
 * environment of vmm/abi.h) and set the BSP's registers. */
int boot_setup_bsp(struct vm *vm, const struct boot_state *bs);

struct vcpu;
/* Registers and segments of the direct-entry (lm) or Multiboot state. */
int boot_set_cpu_state(struct vcpu *v, bool lm, uint64_t cr3, uint64_t rip,
    uint64_t rsp, uint64_t a0, uint64_t a1);

/* Loader helpers shared by the formats. */
int loader_copy(struct vm *vm, uint64_t gpa, const void *src, uint64_t filesz,
    uint64_t memsz, char *err, size_t errlen);

int load_elf64(struct vm *vm, const uint8_t *img, size_t len,
    struct boot_state *bs, char *err, size_t errlen);
int load_multiboot(struct vm *vm, const uint8_t *img, size_t len,
    struct boot_state *bs, char *err, size_t errlen);

/* Linux: where the zero page (struct boot_params) and the command line go. */
#define LINUX_ZERO_PAGE   0x20000u
#define LINUX_CMDLINE     0x21000u
#define LINUX_CMDLINE_MAX 0x10000u      /* bytes, with the NUL */

/* True if img carries the Linux setup header's "HdrS" magic. */
bool linux_is_bzimage(const uint8_t *img, size_t len);
/* Load a bzImage, cfg.initrd (if any) and cfg.cmdline; fill bs for the
 * 64-bit entry with RSI = LINUX_ZERO_PAGE. */
int load_linux(struct vm *vm, const uint8_t *img, size_t len,
    struct boot_state *bs, char *err, size_t errlen);

#endif

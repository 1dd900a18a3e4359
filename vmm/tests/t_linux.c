/* The Linux boot protocol loader: a crafted bzImage loads with the zero
 * page, e820 map, command line and initramfs where the protocol wants them;
 * every malformed header field is refused with a reason. */
#include <atf-c.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/abi.h"
#include "vmm/loader.h"
#include "vmm/tests/fakevm.h"
#include "vmm/vm.h"

#define RAM      (64u << 20)
#define SETUP    (5 * 512)              /* setup_sects 4 + the boot sector */
#define PM_LEN   0x1000u
#define IMG_LEN  (SETUP + PM_LEN + 0x40) /* a signature-like tail */
#define LOAD     0x200000u
#define INIT     0x400000u

static struct vm *
mkvm(void)
{
	struct vm *vm = fakevm_new(RAM, 1);
	ATF_REQUIRE(vm != NULL);
	return vm;
}


static void
w8(uint8_t *p, size_t off, uint8_t v)
{
	p[off] = v;
}

static void
w16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, 2);
}

static void
w32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static void
w64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, 8);
}

static uint16_t
r16(const uint8_t *p, size_t off)
{
	uint16_t v;
	memcpy(&v, p + off, 2);
	return v;
}

static uint32_t
r32(const uint8_t *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, 4);
	return v;
}

static uint64_t
r64(const uint8_t *p, size_t off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return v;
}

/* A bzImage as Linux 6.1 builds one, protocol 2.15, shrunk. */
static void
mkimg(uint8_t *im)
{
	memset(im, 0, IMG_LEN);
	w8(im, 0x1f1, 4);                       /* setup_sects */
	w32(im, 0x1f4, PM_LEN / 16);            /* syssize */
	w16(im, 0x1fa, 0xffff);                 /* vid_mode */
	w16(im, 0x1fe, 0xaa55);                 /* boot_flag */
	w8(im, 0x200, 0xeb);                    /* jmp */
	w8(im, 0x201, 0x6a);                    /* header ends at 0x26c */
	memcpy(im + 0x202, "HdrS", 4);
	w16(im, 0x206, 0x020f);                 /* version */
	w16(im, 0x20e, 0x1234);                 /* kernel_version */
	w8(im, 0x211, 0x01);                    /* loadflags: LOADED_HIGH */
	w32(im, 0x214, 0x100000);               /* code32_start */
	w32(im, 0x22c, 0x7fffffff);             /* initrd_addr_max */
	w32(im, 0x230, 0x200000);               /* kernel_alignment */
	w8(im, 0x234, 1);                       /* relocatable_kernel */
	w8(im, 0x235, 21);                      /* min_alignment */
	w16(im, 0x236, 0x7f);                   /* xloadflags */
	w32(im, 0x238, 2047);                   /* cmdline_size */
	w64(im, 0x258, LOAD);                   /* pref_address */
	w32(im, 0x260, INIT);                   /* init_size */
	w32(im, 0x268, 0xabcd);                 /* kernel_info_offset */
	w32(im, 0x26c, 0xdeadbeef);             /* beyond the header */
	for (size_t i = 0; i < PM_LEN; i++)
		im[SETUP + i] = (uint8_t)(i * 7 + 1);
	memset(im + SETUP + PM_LEN, 0xee, 0x40);
}

static int
load(struct vm *vm, const uint8_t *im, size_t len, struct boot_state *bs,
    char *err)
{
	err[0] = '\0';
	memset(bs, 0, sizeof(*bs));
	return load_linux(vm, im, len, bs, err, 256);
}

ATF_TC_WITHOUT_HEAD(detect);
ATF_TC_BODY(detect, tc)
{
	static uint8_t im[IMG_LEN];
	mkimg(im);
	ATF_CHECK(linux_is_bzimage(im, IMG_LEN));
	ATF_CHECK(!linux_is_bzimage(im, 0x205));
	im[0x203] = 'X';
	ATF_CHECK(!linux_is_bzimage(im, IMG_LEN));
}

ATF_TC_WITHOUT_HEAD(zero_page);
ATF_TC_BODY(zero_page, tc)
{
	struct vm *vm = mkvm();
	static uint8_t im[IMG_LEN];
	struct boot_state bs;
	char err[256];
	mkimg(im);
	vm->cfg.cmdline = "console=ttyS0 quiet";
	memset(vm->mem.lo + LOAD + PM_LEN, 0x77, 16);
	ATF_REQUIRE_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);

	/* Entry state: 64-bit entry 0x200 into the protected-mode kernel,
	 * RSI = the zero page, Linux's GDT layout. */
	ATF_CHECK_EQ(bs.mode, BOOT_LINUX64);
	ATF_CHECK_EQ(bs.entry, LOAD + 0x200);
	ATF_CHECK_EQ(bs.arg1, LINUX_ZERO_PAGE);
	ATF_CHECK_EQ(bs.kernel_start, LOAD);
	ATF_CHECK_EQ(bs.kernel_end, LOAD + INIT);

	/* The protected-mode kernel, without the file's tail. */
	ATF_CHECK(memcmp(vm->mem.lo + LOAD, im + SETUP, PM_LEN) == 0);
	ATF_CHECK_EQ(vm->mem.lo[LOAD + PM_LEN], 0x77);

	const uint8_t *zp = vm->mem.lo + LINUX_ZERO_PAGE;
	/* The setup header, copied up to its end and no further. */
	ATF_CHECK_EQ(r16(zp, 0x1fe), 0xaa55);
	ATF_CHECK(memcmp(zp + 0x202, "HdrS", 4) == 0);
	ATF_CHECK_EQ(r16(zp, 0x206), 0x020f);
	ATF_CHECK_EQ(r16(zp, 0x20e), 0x1234);
	ATF_CHECK_EQ(r32(zp, 0x268), 0xabcd);
	ATF_CHECK_EQ(r32(zp, 0x26c), 0);
	ATF_CHECK_EQ(zp[0x1ef], 0);             /* sentinel */
	/* What the loader fills in. */
	ATF_CHECK_EQ(zp[0x210], 0xff);          /* type_of_loader */
	ATF_CHECK_EQ(zp[0x211], 0x81);          /* LOADED_HIGH|CAN_USE_HEAP */
	ATF_CHECK_EQ(r32(zp, 0x214), LOAD);     /* code32_start */
	ATF_CHECK_EQ(r32(zp, 0x218), 0);        /* no ramdisk */
	ATF_CHECK_EQ(r32(zp, 0x21c), 0);
	ATF_CHECK_EQ(r32(zp, 0x228), LINUX_CMDLINE);
	ATF_CHECK_EQ(r32(zp, 0x0c8), 0);        /* ext_cmd_line_ptr */
	ATF_CHECK_EQ(r64(zp, 0x250), 0);        /* setup_data */
	ATF_CHECK_EQ(r64(zp, 0x070), HYVE_ACPI_RSDP);
	ATF_CHECK_STREQ((const char *)vm->mem.lo + LINUX_CMDLINE,
	    "console=ttyS0 quiet");
	fakevm_free(vm);
}

struct e820 {
	uint64_t base, len;
	uint32_t type;
};

static int
e820(const struct vm *vm, struct e820 *e, int max)
{
	const uint8_t *zp = vm->mem.lo + LINUX_ZERO_PAGE;
	int n = zp[0x1e8];
	for (int i = 0; i < n && i < max; i++) {
		e[i].base = r64(zp, 0x2d0 + (size_t)i * 20);
		e[i].len = r64(zp, 0x2d0 + (size_t)i * 20 + 8);
		e[i].type = r32(zp, 0x2d0 + (size_t)i * 20 + 16);
	}
	return n;
}

ATF_TC_WITHOUT_HEAD(e820_map);
ATF_TC_BODY(e820_map, tc)
{
	struct vm *vm = mkvm();
	static uint8_t im[IMG_LEN];
	struct boot_state bs;
	struct e820 e[8];
	char err[256];
	mkimg(im);
	ATF_REQUIRE_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);
	ATF_REQUIRE_EQ(e820(vm, e, 8), 4);
	ATF_CHECK(e[0].base == 0 && e[0].len == 0x9fc00 && e[0].type == 1);
	ATF_CHECK(e[1].base == 0x9fc00 && e[1].len == 0x100000 - 0x9fc00 &&
	    e[1].type == 2);
	/* The ACPI tables lie in the reserved BIOS area. */
	ATF_CHECK(HYVE_ACPI_RSDP >= e[1].base &&
	    HYVE_ACPI_END <= e[1].base + e[1].len);
	ATF_CHECK(e[2].base == 0x100000 && e[2].len == RAM - 0x100000 &&
	    e[2].type == 1);
	ATF_CHECK(e[3].base == HYVE_PCI_ECAM && e[3].len == HYVE_PCI_ECAM_LEN &&
	    e[3].type == 2);

	/* RAM above the hole (its sizes only: the loader writes nothing
	 * there). */
	vm->mem.hi_size = 1ull << 30;
	ATF_REQUIRE_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);
	ATF_REQUIRE_EQ(e820(vm, e, 8), 5);
	ATF_CHECK(e[4].base == HYVE_HIGHMEM_START && e[4].len == 1ull << 30 &&
	    e[4].type == 1);
	fakevm_free(vm);
}

static void
mkfile(const char *path, size_t len)
{
	FILE *f = fopen(path, "wb");
	ATF_REQUIRE(f != NULL);
	for (size_t i = 0; i < len; i++)
		ATF_REQUIRE(fputc((int)((i * 13 + 5) & 0xff), f) != EOF);
	ATF_REQUIRE(fclose(f) == 0);
}

static void
check_initrd(const struct vm *vm, uint32_t addr, size_t len)
{
	const uint8_t *p = vm->mem.lo + addr;
	size_t bad = 0;
	for (size_t i = 0; i < len; i++)
		bad += p[i] != ((i * 13 + 5) & 0xff);
	ATF_CHECK_EQ(bad, 0);
}

ATF_TC_WITHOUT_HEAD(initrd);
ATF_TC_BODY(initrd, tc)
{
	struct vm *vm = mkvm();
	static uint8_t im[IMG_LEN];
	struct boot_state bs;
	char err[256];
	const uint8_t *zp = vm->mem.lo + LINUX_ZERO_PAGE;
	FILE *f;
	mkimg(im);
	mkfile("initrd.img", 100000);
	vm->cfg.initrd = "initrd.img";

	/* As high as RAM goes, page-aligned. */
	ATF_REQUIRE_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);
	uint32_t a = r32(zp, 0x218);
	ATF_CHECK_EQ(a, (RAM - 100000) & ~0xfffu);
	ATF_CHECK_EQ(r32(zp, 0x21c), 100000);
	ATF_CHECK_EQ(r32(zp, 0x0c0), 0);        /* ext_ramdisk_image */
	ATF_CHECK_EQ(r32(zp, 0x0c4), 0);
	check_initrd(vm, a, 100000);

	/* Below initrd_addr_max, the address of its last byte. */
	w32(im, 0x22c, 0x1000000 - 1);
	ATF_REQUIRE_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);
	a = r32(zp, 0x218);
	ATF_CHECK_EQ(a, (0x1000000 - 100000) & ~0xfffu);
	ATF_CHECK(a + 100000 - 1 <= 0x1000000 - 1);
	check_initrd(vm, a, 100000);

	/* Not above the kernel's init_size: refused. */
	w32(im, 0x22c, LOAD + INIT + 50000);
	ATF_CHECK(load(vm, im, IMG_LEN, &bs, err) == -ENOEXEC);
	ATF_CHECK_MSG(strstr(err, "does not fit") != NULL, "%s", err);

	/* Larger than RAM above the kernel. */
	mkimg(im);
	f = fopen("big.img", "wb");
	ATF_REQUIRE(f != NULL && fclose(f) == 0);
	ATF_REQUIRE(truncate("big.img", RAM - LOAD - INIT + 1) == 0);
	vm->cfg.initrd = "big.img";
	ATF_CHECK(load(vm, im, IMG_LEN, &bs, err) == -ENOEXEC);
	ATF_CHECK_MSG(strstr(err, "does not fit") != NULL, "%s", err);

	mkfile("empty.img", 0);
	vm->cfg.initrd = "empty.img";
	ATF_CHECK(load(vm, im, IMG_LEN, &bs, err) == -ENOEXEC);
	ATF_CHECK_MSG(strstr(err, "empty.img: not a non-empty regular file")
	    != NULL, "%s", err);

	vm->cfg.initrd = "missing.img";
	ATF_CHECK(load(vm, im, IMG_LEN, &bs, err) == -ENOENT);
	ATF_CHECK_MSG(strstr(err, "missing.img") != NULL, "%s", err);
	fakevm_free(vm);
}

ATF_TC_WITHOUT_HEAD(cmdline);
ATF_TC_BODY(cmdline, tc)
{
	struct vm *vm = mkvm();
	static uint8_t im[IMG_LEN];
	struct boot_state bs;
	char err[256], cl[64];
	mkimg(im);
	w32(im, 0x238, 10);                     /* cmdline_size */
	vm->cfg.cmdline = strcpy(cl, "0123456789");
	ATF_REQUIRE_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);
	ATF_CHECK_STREQ((const char *)vm->mem.lo + LINUX_CMDLINE, cl);
	strcat(cl, "a");
	ATF_CHECK(load(vm, im, IMG_LEN, &bs, err) == -ENOEXEC);
	ATF_CHECK_MSG(strstr(err, "command line is 11 bytes; the kernel takes "
	    "at most 10") != NULL, "%s", err);
	vm->cfg.cmdline = NULL;                 /* none: an empty string */
	ATF_REQUIRE_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);
	ATF_CHECK_EQ(vm->mem.lo[LINUX_CMDLINE], 0);
	fakevm_free(vm);
}

ATF_TC_WITHOUT_HEAD(placement);
ATF_TC_BODY(placement, tc)
{
	struct vm *vm = mkvm();
	static uint8_t im[IMG_LEN];
	struct boot_state bs;
	char err[256];
	/* A relocatable kernel's pref_address rounds up to its alignment. */
	mkimg(im);
	w64(im, 0x258, 0x300000);
	ATF_REQUIRE_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);
	ATF_CHECK_EQ(bs.kernel_start, 0x400000);
	ATF_CHECK_EQ(bs.entry, 0x400200);
	/* A fixed one loads where it asks; no pref_address means 1 MiB. */
	w8(im, 0x234, 0);
	w64(im, 0x258, 0);
	ATF_REQUIRE_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);
	ATF_CHECK_EQ(bs.kernel_start, 0x100000);
	ATF_CHECK_EQ(r32(vm->mem.lo + LINUX_ZERO_PAGE, 0x214), 0x100000);
	/* init_size exactly up to the end of RAM fits. */
	mkimg(im);
	w32(im, 0x260, RAM - LOAD);
	ATF_CHECK_EQ_MSG(load(vm, im, IMG_LEN, &bs, err), 0, "%s", err);
	fakevm_free(vm);
}

#define REFUSED(mutation, expect) do {                                  \
	struct boot_state bs_;                                          \
	char err_[256];                                                 \
	size_t len = IMG_LEN;                                           \
	mkimg(im);                                                      \
	mutation;                                                       \
	ATF_CHECK_MSG(load(vm, im, len, &bs_, err_) == -ENOEXEC,        \
	    "accepted: %s", #mutation);                                 \
	ATF_CHECK_MSG(strstr(err_, expect) != NULL, "%s: '%s' lacks '%s'", \
	    #mutation, err_, expect);                                   \
} while (0)

ATF_TC_WITHOUT_HEAD(malformed);
ATF_TC_BODY(malformed, tc)
{
	struct vm *vm = mkvm();
	static uint8_t im[IMG_LEN];
	REFUSED(len = 0x280, "truncated");
	REFUSED(w16(im, 0x1fe, 0), "boot flag");
	REFUSED(w16(im, 0x206, 0x020b), "2.11 is too old");
	REFUSED(w16(im, 0x206, 0x0100), "1.00 is too old");
	REFUSED(w8(im, 0x201, 0x40), "header length");
	REFUSED(w8(im, 0x201, 0xff), "header length");
	REFUSED(w16(im, 0x236, 0x7e), "XLF_KERNEL_64");
	REFUSED(w8(im, 0x211, 0x80), "LOADED_HIGH");
	REFUSED(w8(im, 0x1f1, 255), "setup_sects 255");
	REFUSED(w32(im, 0x1f4, 0), "syssize");
	REFUSED(w32(im, 0x1f4, 0x20), "syssize");        /* no 0x200 entry */
	REFUSED(w32(im, 0x1f4, PM_LEN / 16 + 5), "syssize");
	REFUSED(w32(im, 0x1f4, 0xffffffff), "syssize");
	REFUSED(w32(im, 0x260, PM_LEN - 16), "init_size");
	REFUSED(w32(im, 0x260, RAM - LOAD + 1), "does not fit in guest RAM");
	REFUSED(w32(im, 0x260, 0xffffffff), "does not fit in guest RAM");
	REFUSED(w64(im, 0x258, RAM), "does not fit in guest RAM");
	REFUSED(w64(im, 0x258, 0xfffffffffff00000ull), "out of range");
	REFUSED((w8(im, 0x234, 0), w64(im, 0x258, 0xfffffffffff00000ull)),
	    "does not fit in guest RAM");
	REFUSED((w8(im, 0x234, 0), w64(im, 0x258, 0x80000)), "below 1 MiB");
	REFUSED(w32(im, 0x230, 0), "kernel_alignment");
	REFUSED(w32(im, 0x230, 0x300000), "kernel_alignment");
	REFUSED(w32(im, 0x230, 0x800), "kernel_alignment");
	/* Nothing of a refused image reached the kernel's place. */
	ATF_CHECK_EQ(vm->mem.lo[LOAD], 0);
	fakevm_free(vm);
}

/* load_kernel: a bzImage goes to the Linux loader; -i with anything else
 * is refused. */
ATF_TC_WITHOUT_HEAD(dispatch);
ATF_TC_BODY(dispatch, tc)
{
	struct vm *vm = mkvm();
	static uint8_t im[IMG_LEN];
	struct boot_state bs;
	char err[300];
	mkimg(im);
	FILE *f = fopen("bzImage", "wb");
	ATF_REQUIRE(f != NULL);
	ATF_REQUIRE_EQ(fwrite(im, 1, IMG_LEN, f), IMG_LEN);
	ATF_REQUIRE(fclose(f) == 0);
	mkfile("initrd.img", 5000);
	vm->cfg.kernel = "bzImage";
	vm->cfg.initrd = "initrd.img";
	err[0] = '\0';
	ATF_REQUIRE_EQ_MSG(load_kernel(vm, &bs, err, sizeof(err)), 0, "%s", err);
	ATF_CHECK_EQ(bs.mode, BOOT_LINUX64);
	ATF_CHECK_EQ(r32(vm->mem.lo + LINUX_ZERO_PAGE, 0x21c), 5000);

	/* A Multiboot-looking file with -i. */
	mkfile("other.bin", 4096);
	vm->cfg.kernel = "other.bin";
	ATF_CHECK(load_kernel(vm, &bs, err, sizeof(err)) == -ENOEXEC);
	ATF_CHECK_MSG(strstr(err, "kernel other.bin: not a Linux bzImage, "
	    "which -i INITRD needs") != NULL, "%s", err);

	/* A bad bzImage is refused by the Linux loader, not passed on. */
	w16(im, 0x206, 0x0204);
	f = fopen("old", "wb");
	ATF_REQUIRE(f != NULL);
	ATF_REQUIRE_EQ(fwrite(im, 1, IMG_LEN, f), IMG_LEN);
	ATF_REQUIRE(fclose(f) == 0);
	vm->cfg.kernel = "old";
	vm->cfg.initrd = NULL;
	ATF_CHECK(load_kernel(vm, &bs, err, sizeof(err)) == -ENOEXEC);
	ATF_CHECK_MSG(strstr(err, "kernel old: Linux boot protocol 2.04 is too "
	    "old") != NULL, "%s", err);
	fakevm_free(vm);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, detect);
	ATF_TP_ADD_TC(tp, zero_page);
	ATF_TP_ADD_TC(tp, e820_map);
	ATF_TP_ADD_TC(tp, initrd);
	ATF_TP_ADD_TC(tp, cmdline);
	ATF_TP_ADD_TC(tp, placement);
	ATF_TP_ADD_TC(tp, malformed);
	ATF_TP_ADD_TC(tp, dispatch);
	return atf_no_error();
}

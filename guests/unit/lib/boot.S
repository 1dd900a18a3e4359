/*
 * Entry points of every test kernel.
 *
 * _start64: hyve's 64-bit direct entry (vmm/abi.h).  Long mode, paging on
 *   with hyve's identity map, RDI = boot info, RSI = HYVE_BOOT_MAGIC.  The
 *   kernel keeps hyve's GDT (selectors 0x08/0x10) and page tables.
 * _start32: Multiboot v1 entry (QEMU -kernel NAME.flat).  32-bit protected
 *   mode, paging off, EAX = 0x2badb002, EBX = multiboot info.  It builds an
 *   identity map of the first 4 GiB with 2 MiB pages, loads a GDT with the
 *   same selectors as hyve's, enables long mode and joins the 64-bit path.
 * Both end in unit_main(bootinfo, magic, multiboot_info).
 */

#define MB_MAGIC   0x1badb002
#define MB_FLAGS   0x00000003   /* page-align modules, want memory info */

#define CR0_PE  (1 << 0)
#define CR0_MP  (1 << 1)
#define CR0_NE  (1 << 5)
#define CR0_WP  (1 << 16)
#define CR0_PG  (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)

#define STACK_SIZE 0x10000

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.section .text.boot, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	movl %eax, %ebp                 /* multiboot magic */
	movl %ebx, %edx                 /* multiboot info */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	movl %ebp, mb_magic
	movl %edx, mb_info
	movl $boot_stack_top, %esp

	/* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; 2048 2 MiB pages. */
	movl $mb_pdpt, %eax
	orl $0x3, %eax
	movl %eax, mb_pml4
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $12, %eax
	addl $mb_pd, %eax
	orl $0x3, %eax
	movl %eax, mb_pdpt(,%ecx,8)
	incl %ecx
	cmpl $4, %ecx
	jne 1b
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax                 /* present, writable, 2 MiB */
	movl %eax, mb_pd(,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jne 2b

	movl $mb_pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PE | CR0_MP | CR0_NE | CR0_WP | CR0_PG), %eax
	movl %eax, %cr0
	lgdt mb_gdt_desc
	ljmp $0x08, $start64_multiboot

	.code64
start64_multiboot:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	xorl %edi, %edi
	movl mb_magic, %esi
	movl mb_info, %edx
	jmp start64_common

	.globl _start64
_start64:
	cli
	cld
	movq %rdi, %r12
	movq %rsi, %r13
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	rep stosb
	movq $boot_stack_top, %rsp
	movq %r12, %rdi
	movq %r13, %rsi
	xorl %edx, %edx
start64_common:
	xorl %ebp, %ebp
	call unit_main
3:	cli
	hlt
	jmp 3b

	.section .rodata
	.balign 8
mb_gdt:
	.quad 0                         /* null */
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: flat data */
mb_gdt_end:
	.balign 8
mb_gdt_desc:
	.word mb_gdt_end - mb_gdt - 1
	.quad mb_gdt

	.section .bss
	.balign 4096
mb_pml4: .skip 4096
mb_pdpt: .skip 4096
mb_pd:   .skip 4 * 4096
	.balign 16
boot_stack: .skip STACK_SIZE
	.globl boot_stack_top
boot_stack_top:
	.balign 4
	.globl mb_magic, mb_info
mb_magic: .skip 4
mb_info:  .skip 4

/*
 * AP entry points.
 *
 * smp_tramp_start..smp_tramp_end: the real-mode trampoline for INIT/SIPI.
 * smp.c copies it to SMP_TRAMPOLINE (a page below 1 MiB; the start-up IPI's
 * vector is its page number) and fills in tramp_cr3, tramp_cr4 and
 * tramp_efer from the BSP.  An AP starts at CS = SMP_TRAMPOLINE >> 4, IP = 0
 * in real mode, loads the trampoline's GDT, enters 32-bit protected mode,
 * enables PAE, loads CR3, sets EFER.LME (and NXE as the BSP has it), turns
 * on paging, far-jumps to 64-bit code and then to smp_ap_entry_sipi in the
 * kernel.  The code is assembled for its run address: TADDR(x) is where x
 * lands after the copy.
 *
 * smp_ap_entry_sipi: 64-bit.  Finds its APIC ID with CPUID leaf 1, takes
 * the stack cpus[id].stack_top and calls smp_ap_main(id, SMP_SIPI).
 * smp_ap_entry_direct: hyve-apstart entry (RDI = arg = index, RSI = APIC
 * ID, RSP = the stack the BSP gave): calls smp_ap_main(index, SMP_DIRECT).
 */

#define TRAMP 0x10000
#define TADDR(x) (TRAMP + ((x) - smp_tramp_start))
#define CPU_SIZE_SHIFT 7                /* sizeof(struct cpu) == 128 */
#define CPU_STACK_TOP 8                 /* offsetof(struct cpu, stack_top) */

	.section .rodata
	.balign 16
	.globl smp_tramp_start, smp_tramp_end
	.globl tramp_cr3, tramp_cr4, tramp_efer
	.code16
smp_tramp_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdt_desc - smp_tramp_start
	movl %cr0, %eax
	orl $1, %eax                    /* PE */
	movl %eax, %cr0
	ljmpl $0x18, $TADDR(tramp32)

	.code32
tramp32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl TADDR(tramp_cr4), %eax
	movl %eax, %cr4
	movl TADDR(tramp_cr3), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx          /* EFER */
	movl TADDR(tramp_efer), %eax
	andl $0x901, %eax               /* SCE, LME, NXE: LMA is set by the CPU */
	orl $0x100, %eax
	xorl %edx, %edx
	wrmsr
	movl %cr0, %eax
	orl $0x80010023, %eax           /* PG WP NE MP PE */
	movl %eax, %cr0
	ljmpl $0x08, $TADDR(tramp64)

	.code64
tramp64:
	movabsq $smp_ap_entry_sipi, %rax
	jmpq *%rax

	.balign 8
tramp_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: flat data */
	.quad 0x00cf9a000000ffff        /* 0x18: 32-bit code */
tramp_gdt_end:
	.balign 8
tramp_gdt_desc:
	.word tramp_gdt_end - tramp_gdt - 1
	.long TADDR(tramp_gdt)
	.balign 8
tramp_cr3:  .long 0
tramp_cr4:  .long 0
tramp_efer: .long 0
smp_tramp_end:

	.text
	.code64
	.globl smp_ap_entry_sipi
smp_ap_entry_sipi:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movl $1, %eax
	xorl %ecx, %ecx
	cpuid
	shrl $24, %ebx                  /* initial APIC ID */
	movl %ebx, %edi
	cmpl $64, %edi
	jae 2f
	movq %rdi, %rax
	shlq $CPU_SIZE_SHIFT, %rax
	leaq cpus(%rip), %rcx
	movq CPU_STACK_TOP(%rcx,%rax), %rsp
	testq %rsp, %rsp
	jz 2f
	movl $0, %esi                   /* SMP_SIPI */
	xorl %ebp, %ebp
	call smp_ap_main
2:	cli
	hlt
	jmp 2b

	.globl smp_ap_entry_direct
smp_ap_entry_direct:
	movl $1, %esi                   /* SMP_DIRECT; RDI = index */
	xorl %ebp, %ebp
	call smp_ap_main
3:	cli
	hlt
	jmp 3b

	.section .note.GNU-stack, "", @progbits

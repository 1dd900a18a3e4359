/*
 * bench/exits guest: entry point, exception stubs and the self-IPI handler.
 *
 * _start is entered as vmm/abi.h describes (long mode, identity map,
 * RDI = boot info, RSI = HYVE_BOOT_MAGIC).  It clears .bss, moves to its own
 * stack and calls bench_main(bootinfo, magic).
 */

#define STACK_SIZE 0x4000
#define MSR_X2APIC_EOI 0x80b

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	cld
	movq %rdi, %r12
	movq %rsi, %r13
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	rep stosb
	movq $stack_top, %rsp
	movq %r12, %rdi
	movq %r13, %rsi
	xorl %ebp, %ebp
	call bench_main
1:	cli
	hlt
	jmp 1b

	.text
/* Exceptions 0..31: push a dummy error code where the CPU pushes none,
 * then the vector, and call bench_exception(vector, frame).  It never
 * returns: an exception ends the benchmark as a failure. */
.macro EXC_NOERR vec
	.balign 16
	pushq $0
	pushq $\vec
	jmp exc_common
.endm
.macro EXC_ERR vec
	.balign 16
	pushq $\vec
	jmp exc_common
.endm

	.balign 16
	.globl exc_stubs
exc_stubs:
	EXC_NOERR 0
	EXC_NOERR 1
	EXC_NOERR 2
	EXC_NOERR 3
	EXC_NOERR 4
	EXC_NOERR 5
	EXC_NOERR 6
	EXC_NOERR 7
	EXC_ERR 8
	EXC_NOERR 9
	EXC_ERR 10
	EXC_ERR 11
	EXC_ERR 12
	EXC_ERR 13
	EXC_ERR 14
	EXC_NOERR 15
	EXC_NOERR 16
	EXC_ERR 17
	EXC_NOERR 18
	EXC_NOERR 19
	EXC_NOERR 20
	EXC_ERR 21
	EXC_NOERR 22
	EXC_NOERR 23
	EXC_NOERR 24
	EXC_NOERR 25
	EXC_NOERR 26
	EXC_NOERR 27
	EXC_NOERR 28
	EXC_ERR 29
	EXC_ERR 30
	EXC_NOERR 31

exc_common:
	/* Stack: vector, error code, RIP, CS, RFLAGS, RSP, SS. */
	movq (%rsp), %rdi
	leaq 8(%rsp), %rsi
	andq $-16, %rsp
	call bench_exception
2:	cli
	hlt
	jmp 2b

/* The self-IPI vector: count, EOI, return. */
	.balign 16
	.globl ipi_entry
ipi_entry:
	pushq %rax
	pushq %rcx
	pushq %rdx
	lock incq ipi_count(%rip)
	movl $MSR_X2APIC_EOI, %ecx
	xorl %eax, %eax
	xorl %edx, %edx
	wrmsr
	popq %rdx
	popq %rcx
	popq %rax
	iretq

/* The spurious vector: no EOI. */
	.balign 16
	.globl spurious_entry
spurious_entry:
	iretq

	.bss
	.balign 16
	.globl ipi_count
ipi_count: .skip 8
	.balign 4096
stack: .skip STACK_SIZE
stack_top:
	.section .note.GNU-stack, "", @progbits

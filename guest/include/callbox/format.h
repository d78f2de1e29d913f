/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * A small printf-style formatter for the guest, which has no libc.
 *
 * It formats into a caller's buffer only: the guest has no console, so
 * there is nothing to print to; a message goes to the host some other way.
 *
 * Supported: the conversions %d %i %u %x %X %o %c %s %p %%; the length
 * modifiers hh h l ll z j t; the flags - 0 + space #; a width and a
 * precision, either of which may be '*'. They behave as C and glibc
 * define them, including where glibc chooses: a NULL %s prints "(null)"
 * (or nothing if a precision below 6 would cut it), %p prints like %#lx
 * and a NULL %p prints "(nil)", %lc is %c.
 *
 * Not supported: floating point (%f %F %e %E %g %G %a %A), because the
 * SDK is built without SSE registers (-mgeneral-regs-only); %n, because a
 * format that writes to memory is a hazard; wide strings (%ls); and any
 * other conversion. Such a conversion specification is copied to the
 * output as it stands ("%8.3f" prints "%8.3f"). %n and %ls consume their
 * pointer argument; the others consume none. A double argument travels in
 * an SSE register, so skipping it leaves the integer arguments after it
 * where they are; only beyond the eighth double (those passed on the
 * stack), or with a long double (always on the stack), could the
 * arguments that come from the stack go out of step.
 */
#ifndef CALLBOX_FORMAT_H
#define CALLBOX_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/**
 * callbox_vsnprintf() - format into a buffer, with a va_list
 * @buf: the buffer; may be NULL if @size is 0
 * @size: its size in bytes, the terminating NUL included
 * @fmt: the format
 * @ap: the arguments
 *
 * Writes at most @size bytes, always NUL-terminated when @size > 0:
 * output that does not fit is cut off, as with C's vsnprintf().
 *
 * Return: the length the whole output would have had (without the NUL),
 * whether or not it fitted; or -1 if that length, or a width or precision
 * in @fmt, exceeds INT_MAX (the buffer then holds what fitted of the
 * output up to there).
 */
int callbox_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/**
 * callbox_snprintf() - format into a buffer
 * @buf: the buffer; may be NULL if @size is 0
 * @size: its size in bytes, the terminating NUL included
 * @fmt: the format
 *
 * As callbox_vsnprintf(), with the arguments given directly.
 *
 * Return: as callbox_vsnprintf().
 */
int callbox_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* CALLBOX_FORMAT_H */

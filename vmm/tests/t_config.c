/* Command-line and size parsing. */
#include <atf-c.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"

ATF_TC_WITHOUT_HEAD(sizes);
ATF_TC_BODY(sizes, tc)
{
	uint64_t v;
	ATF_CHECK(parse_size("4096", &v) == 0 && v == 4096);
	ATF_CHECK(parse_size("4k", &v) == 0 && v == 4096);
	ATF_CHECK(parse_size("512M", &v) == 0 && v == 512ull << 20);
	ATF_CHECK(parse_size("2G", &v) == 0 && v == 2ull << 30);
	ATF_CHECK(parse_size("1T", &v) == 0 && v == 1ull << 40);
	ATF_CHECK(parse_size("3GB", &v) == 0 && v == 3ull << 30);
	ATF_CHECK(parse_size("", &v) < 0);
	ATF_CHECK(parse_size("M", &v) < 0);
	ATF_CHECK(parse_size("-1M", &v) < 0);
	ATF_CHECK(parse_size("12Q", &v) < 0);
	ATF_CHECK(parse_size("1MM", &v) < 0);
	ATF_CHECK(parse_size("99999999999999999999", &v) < 0);
	ATF_CHECK(parse_size("17179869184G", &v) < 0);    /* overflows */
}

ATF_TC_WITHOUT_HEAD(names);
ATF_TC_BODY(names, tc)
{
	ATF_CHECK(valid_vm_name("testvm"));
	ATF_CHECK(valid_vm_name("a-b_c.1"));
	ATF_CHECK(!valid_vm_name(""));
	ATF_CHECK(!valid_vm_name(".hidden"));
	ATF_CHECK(!valid_vm_name("-x"));
	ATF_CHECK(!valid_vm_name("a/b"));
	ATF_CHECK(!valid_vm_name("a b"));
	char longname[100];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ATF_CHECK(!valid_vm_name(longname));
}

static int
parse(struct vm_config *cfg, char *err, int argc, ...)
{
	char *argv[32];
	__builtin_va_list ap;
	__builtin_va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = __builtin_va_arg(ap, char *);
	__builtin_va_end(ap);
	argv[argc] = NULL;
	return parse_hyve_args(argc, argv, cfg, err, 300);
}

ATF_TC_WITHOUT_HEAD(good_command_line);
ATF_TC_BODY(good_command_line, tc)
{
	struct vm_config c;
	char err[300];
	char a0[] = "hyve", a1[] = "-c", a2[] = "4", a3[] = "-m", a4[] = "1G",
	    a5[] = "-s", a6[] = "3:1,virtio-blk,/tmp/disk.img", a7[] = "-l",
	    a8[] = "com1,stdio", a9[] = "-k", a10[] = "k.elf", a11[] = "-p",
	    a12[] = "2:1", a13[] = "vm1";
	ATF_REQUIRE_EQ(parse(&c, err, 14, a0, a1, a2, a3, a4, a5, a6, a7, a8,
	    a9, a10, a11, a12, a13), 0);
	ATF_CHECK_EQ(c.ncpus, 4);
	ATF_CHECK_EQ(c.mem_size, 1ull << 30);
	ATF_CHECK_EQ(c.ndevs, 2);
	ATF_CHECK_STREQ(c.devs[0].slot, "3:1");
	ATF_CHECK_STREQ(c.devs[0].emul, "virtio-blk");
	ATF_CHECK_STREQ(c.devs[0].conf, "/tmp/disk.img");
	ATF_CHECK_STREQ(c.devs[1].slot, "");
	ATF_CHECK_STREQ(c.devs[1].emul, "com1");
	ATF_CHECK_STREQ(c.devs[1].conf, "stdio");
	ATF_CHECK_EQ(c.pin[2], 1);
	ATF_CHECK_EQ(c.pin[0], -1);
	ATF_CHECK_STREQ(c.name, "vm1");
	ATF_CHECK_STREQ(c.kernel, "k.elf");
}

#define BAD(expect, ...) do {                                           \
	char *v[] = { __VA_ARGS__ };                                    \
	struct vm_config cfg_;                                          \
	char err[300] = "";                                             \
	int n_ = (int)(sizeof(v) / sizeof(v[0]));                       \
	ATF_CHECK_MSG(parse_hyve_args(n_, v, &cfg_, err, sizeof(err)) < 0,  \
	    "accepted: %s", expect);                                    \
	ATF_CHECK_MSG(strstr(err, expect) != NULL, "'%s' lacks '%s'",   \
	    err, expect);                                               \
} while (0)

ATF_TC_WITHOUT_HEAD(bad_command_lines);
ATF_TC_BODY(bad_command_lines, tc)
{
	char h[] = "hyve", k[] = "-k", kf[] = "k.elf", n[] = "vm";
	char c[] = "-c", c0[] = "0", c65[] = "65", cx[] = "two";
	char m[] = "-m", mbad[] = "12Q", msmall[] = "1M", modd[] = "3000001";
	char s[] = "-s", sbad[] = "virtio-blk", sslot[] = "x,virtio";
	char q[] = "-Q", p[] = "-p", pbad[] = "3", pvcpu[] = "5:0";
	char extra[] = "extra", badname[] = "a/b";
	BAD("unknown option -Q", h, q, k, kf, n);
	BAD("bad vCPU count", h, c, c0, k, kf, n);
	BAD("bad vCPU count", h, c, c65, k, kf, n);
	BAD("bad vCPU count", h, c, cx, k, kf, n);
	BAD("bad memory size", h, m, mbad, k, kf, n);
	BAD("bad memory size", h, m, msmall, k, kf, n);
	BAD("not a multiple of 4K", h, m, modd, k, kf, n);
	BAD("bad -s", h, s, sbad, k, kf, n);
	BAD("bad -s slot", h, s, sslot, k, kf, n);
	BAD("no VM name", h, k, kf);
	BAD("unexpected argument", h, k, kf, n, extra);
	BAD("bad VM name", h, k, kf, badname);
	BAD("no kernel", h, n);
	BAD("needs an argument", h, k, kf, n, m);
	BAD("bad -p", h, p, pbad, k, kf, n);
	BAD("-p names vCPU 5", h, p, pvcpu, k, kf, n);
}

static int
parse_c(const char *carg, struct vm_config *c, char *err)
{
	char a0[] = "hyve", a1[] = "-c", a3[] = "-k", a4[] = "k.elf", a5[] = "vm";
	char a2[64];
	snprintf(a2, sizeof(a2), "%s", carg);
	char *argv[] = { a0, a1, a2, a3, a4, a5, NULL };
	return parse_hyve_args(6, argv, c, err, 300);
}

ATF_TC_WITHOUT_HEAD(cpu_topology);
ATF_TC_BODY(cpu_topology, tc)
{
	struct vm_config c;
	char err[300];
	ATF_REQUIRE_EQ(parse_c("6", &c, err), 0);
	ATF_CHECK(c.ncpus == 6 && c.sockets == 1 && c.cores == 6 && c.threads == 1);
	ATF_REQUIRE_EQ(parse_c("sockets=2,cores=4,threads=2", &c, err), 0);
	ATF_CHECK(c.ncpus == 16 && c.sockets == 2 && c.cores == 4 && c.threads == 2);
	ATF_REQUIRE_EQ(parse_c("cpus=8,sockets=2,cores=4", &c, err), 0);
	ATF_CHECK(c.ncpus == 8 && c.threads == 1);
	ATF_REQUIRE_EQ(parse_c("8,sockets=2,cores=2,threads=2", &c, err), 0);
	ATF_CHECK_EQ(c.ncpus, 8);
	ATF_CHECK(parse_c("cpus=6,sockets=2,cores=2", &c, err) < 0);
	ATF_CHECK(strstr(err, "6 vCPUs but sockets * cores * threads = 4") != NULL);
	ATF_CHECK(parse_c("sockets=2,cores=3", &c, err) < 0);
	ATF_CHECK(strstr(err, "powers of two") != NULL);
	ATF_CHECK(parse_c("sockets=4,cores=8,threads=4", &c, err) < 0);  /* 128 */
	ATF_CHECK(parse_c("cores=2,sockets", &c, err) < 0);
	ATF_CHECK(parse_c("cores=2,4", &c, err) < 0);
	ATF_CHECK(parse_c("dies=2", &c, err) < 0);
	ATF_CHECK(strstr(err, "bad vCPU count") != NULL);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, cpu_topology);
	ATF_TP_ADD_TC(tp, sizes);
	ATF_TP_ADD_TC(tp, names);
	ATF_TP_ADD_TC(tp, good_command_line);
	ATF_TP_ADD_TC(tp, bad_command_lines);
	return atf_no_error();
}

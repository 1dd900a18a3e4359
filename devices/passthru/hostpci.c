/*
 * Host PCI functions through sysfs (see hostpci.h).  Claiming follows the
 * kernel's driver_override protocol: set the override to vfio-pci, unbind
 * the current driver, ask the PCI core to probe the function again.  The
 * original driver is recorded in RUN/passthru/ADDR (RUN is hyve's run
 * folder) so that release can bind it again.  Every check is made before
 * anything is written, and a failed claim or release undoes its writes.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/passthru/hostpci.h"
#include "vmm/control.h"

#define PCI_DEVS "/sys/bus/pci/devices"
#define PCI_DRVS "/sys/bus/pci/drivers"

static int
parse_num(const char *s, const char **end, int base, unsigned max,
    unsigned *out)
{
	char *e;
	if (!isxdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &e, base);
	if (errno || e == s || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	*end = e;
	return 0;
}

int
hostpci_parse(const char *s, char out[HOSTPCI_ADDR_LEN])
{
	unsigned dom = 0, bus, slot, fn;
	const char *p = s;
	if (strchr(s, '/') != NULL) {
		/* bhyve: bus/slot/function in decimal */
		if (parse_num(p, &p, 10, 255, &bus) < 0 || *p++ != '/' ||
		    parse_num(p, &p, 10, 31, &slot) < 0 || *p++ != '/' ||
		    parse_num(p, &p, 10, 7, &fn) < 0 || *p != '\0')
			return -EINVAL;
	} else {
		const char *c1 = strchr(s, ':');
		if (c1 == NULL)
			return -EINVAL;
		if (strchr(c1 + 1, ':') != NULL) {
			if (parse_num(p, &p, 16, 0xffff, &dom) < 0 || *p++ != ':')
				return -EINVAL;
		}
		if (parse_num(p, &p, 16, 255, &bus) < 0 || *p++ != ':' ||
		    parse_num(p, &p, 16, 31, &slot) < 0 || *p++ != '.' ||
		    parse_num(p, &p, 16, 7, &fn) < 0 || *p != '\0')
			return -EINVAL;
	}
	snprintf(out, HOSTPCI_ADDR_LEN, "%04x:%02x:%02x.%x", dom, bus, slot, fn);
	return 0;
}

bool
hostpci_exists(const char *addr)
{
	char p[320];
	struct stat st;
	snprintf(p, sizeof(p), PCI_DEVS "/%s/config", addr);
	return stat(p, &st) == 0;
}

static int
link_base(const char *path, char *buf, size_t len)
{
	char t[512];
	ssize_t n = readlink(path, t, sizeof(t) - 1);
	if (n < 0)
		return -errno;
	t[n] = '\0';
	const char *b = strrchr(t, '/');
	snprintf(buf, len, "%s", b ? b + 1 : t);
	return 0;
}

int
hostpci_driver(const char *addr, char *buf, size_t len)
{
	char p[320];
	snprintf(p, sizeof(p), PCI_DEVS "/%s/driver", addr);
	int r = link_base(p, buf, len);
	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r;
}

int
hostpci_iommu_group(const char *addr)
{
	char p[320], g[64];
	snprintf(p, sizeof(p), PCI_DEVS "/%s/iommu_group", addr);
	int r = link_base(p, g, sizeof(g));
	if (r < 0)
		return r;
	char *e;
	long v = strtol(g, &e, 10);
	return (*e != '\0' || v < 0 || v > 1000000) ? -EINVAL : (int)v;
}

bool
hostpci_have_iommu(void)
{
	DIR *d = opendir("/sys/kernel/iommu_groups");
	if (d == NULL)
		return false;
	bool any = false;
	struct dirent *e;
	while (!any && (e = readdir(d)) != NULL)
		any = e->d_name[0] != '.';
	closedir(d);
	return any;
}

void
hostpci_group_blockers(const char *addr, char *buf, size_t len)
{
	buf[0] = '\0';
	int g = hostpci_iommu_group(addr);
	if (g < 0)
		return;
	char p[320];
	snprintf(p, sizeof(p), "/sys/kernel/iommu_groups/%d/devices", g);
	DIR *d = opendir(p);
	if (d == NULL)
		return;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, addr) == 0)
			continue;
		char drv[64];
		if (hostpci_driver(e->d_name, drv, sizeof(drv)) < 0 ||
		    drv[0] == '\0' || strcmp(drv, "vfio-pci") == 0 ||
		    strcmp(drv, "pcieport") == 0)
			continue;
		int k = snprintf(buf + n, len - n, "%s%s (bound to %s)",
		    n ? ", " : "", e->d_name, drv);
		if (k < 0 || (size_t)k >= len - n)
			break;
		n += (size_t)k;
	}
	closedir(d);
}

int
hostpci_check(const char *addr, char *err, size_t errlen)
{
	if (!hostpci_exists(addr)) {
		snprintf(err, errlen, "no PCI device %s on this host", addr);
		return -ENOENT;
	}
	int g = hostpci_iommu_group(addr);
	if (g == -ENOENT) {
		snprintf(err, errlen, "%s: no IOMMU: the device has no IOMMU "
		    "group (%s; boot with intel_iommu=on or amd_iommu=on)", addr,
		    hostpci_have_iommu() ? "it is outside every IOMMU group" :
		    "the host has no IOMMU enabled");
		return -ENOENT;
	}
	if (g < 0) {
		snprintf(err, errlen, "%s: cannot read its IOMMU group: %s", addr,
		    strerror(-g));
		return g;
	}
	return 0;
}

static int
write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int r = n < 0 ? -errno : (size_t)n == strlen(s) ? 0 : -EIO;
	close(fd);
	return r;
}

static int
state_path(const char *addr, char *buf, size_t len, bool create)
{
	const char *run = control_dir();
	char dir[256];
	if (snprintf(dir, sizeof(dir), "%s/passthru", run) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (create) {
		(void)mkdir(run, 0700);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	if (snprintf(buf, len, "%s/%s", dir, addr) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* Bind addr: override (or clear it with "\n"), unbind, probe; then see
 * which driver took it. */
static int
rebind(const char *addr, const char *override, const char *cur)
{
	char p[400];
	snprintf(p, sizeof(p), PCI_DEVS "/%s/driver_override", addr);
	int r = write_file(p, override);
	if (r < 0)
		return r;
	if (cur[0] != '\0') {
		snprintf(p, sizeof(p), PCI_DRVS "/%s/unbind", cur);
		r = write_file(p, addr);
		if (r < 0)
			return r;
	}
	/* drivers_probe fails with an error when no driver takes the
	 * function; the caller checks the outcome itself. */
	(void)write_file("/sys/bus/pci/drivers_probe", addr);
	return 0;
}

int
hostpci_claim(const char *addr, char *err, size_t errlen)
{
	int r = hostpci_check(addr, err, errlen);
	if (r < 0)
		return r;
	char drv[64];
	r = hostpci_driver(addr, drv, sizeof(drv));
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read its driver: %s", addr,
		    strerror(-r));
		return r;
	}
	if (strcmp(drv, "vfio-pci") == 0)
		return 1;
	struct stat st;
	if (stat(PCI_DRVS "/vfio-pci", &st) < 0) {
		snprintf(err, errlen, "%s: the vfio-pci driver is not loaded "
		    "(modprobe vfio-pci)", addr);
		return -ENOENT;
	}
	char sp[300];
	r = state_path(addr, sp, sizeof(sp), true);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot record its driver in %s/passthru:"
		    " %s", addr, control_dir(), strerror(-r));
		return r;
	}
	FILE *f = fopen(sp, "w");
	if (f == NULL || fprintf(f, "%s\n", drv) < 0 || fclose(f) != 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot write %s: %s", addr, sp,
		    strerror(errno));
		unlink(sp);
		return r;
	}
	r = rebind(addr, "vfio-pci", drv);
	char now[64] = "";
	if (r == 0)
		r = hostpci_driver(addr, now, sizeof(now));
	if (r == 0 && strcmp(now, "vfio-pci") == 0)
		return 0;
	/* Undo: clear the override and give the function back. */
	int e = r < 0 ? r : -EIO;
	(void)rebind(addr, "\n", now);
	if (drv[0] != '\0' && hostpci_driver(addr, now, sizeof(now)) == 0 &&
	    strcmp(now, drv) != 0) {
		char p[400];
		snprintf(p, sizeof(p), PCI_DRVS "/%s/bind", drv);
		(void)write_file(p, addr);
	}
	unlink(sp);
	snprintf(err, errlen, "%s: vfio-pci did not take the device (%s); left "
	    "bound to %s", addr, r < 0 ? strerror(-r) : "probe failed",
	    drv[0] ? drv : "no driver");
	return e;
}

int
hostpci_release(const char *addr, char *orig, size_t origlen, char *err,
    size_t errlen)
{
	orig[0] = '\0';
	if (!hostpci_exists(addr)) {
		snprintf(err, errlen, "no PCI device %s on this host", addr);
		return -ENOENT;
	}
	char drv[64];
	int r = hostpci_driver(addr, drv, sizeof(drv));
	if (r == 0 && strcmp(drv, "vfio-pci") != 0) {
		snprintf(err, errlen, "%s is not claimed: bound to %s, not "
		    "vfio-pci", addr, drv[0] ? drv : "no driver");
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read its driver: %s", addr,
		    strerror(-r));
		return r;
	}
	/* Unbinding from vfio-pci blocks while a VMM holds the device: refuse
	 * instead.  The group node opens only while nobody else has it. */
	int g = hostpci_iommu_group(addr);
	if (g >= 0) {
		char node[64];
		snprintf(node, sizeof(node), "/dev/vfio/%d", g);
		int fd = open(node, O_RDWR | O_CLOEXEC);
		if (fd < 0 && errno == EBUSY) {
			snprintf(err, errlen, "%s is in use (%s is open, a VM is "
			    "running with it)", addr, node);
			return -EBUSY;
		}
		if (fd >= 0)
			close(fd);
	}
	char sp[300];
	if (state_path(addr, sp, sizeof(sp), false) == 0) {
		FILE *f = fopen(sp, "r");
		if (f != NULL) {
			if (fgets(orig, (int)origlen, f) == NULL)
				orig[0] = '\0';
			orig[strcspn(orig, "\n")] = '\0';
			fclose(f);
		}
	}
	for (char *c = orig; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			orig[0] = '\0';         /* not a driver name: ignore */
	r = rebind(addr, "\n", "vfio-pci");
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot unbind from vfio-pci: %s", addr,
		    strerror(-r));
		return r;
	}
	char now[64] = "";
	(void)hostpci_driver(addr, now, sizeof(now));
	if (orig[0] != '\0' && strcmp(now, orig) != 0) {
		char p[400];
		snprintf(p, sizeof(p), PCI_DRVS "/%s/bind", orig);
		r = write_file(p, addr);
		(void)hostpci_driver(addr, now, sizeof(now));
		if (strcmp(now, orig) != 0) {
			snprintf(err, errlen, "%s: released from vfio-pci, but %s "
			    "did not take it back (%s)", addr, orig,
			    r < 0 ? strerror(-r) : "bind failed");
			return -EIO;
		}
	}
	unlink(sp);
	if (orig[0] == '\0')
		snprintf(orig, origlen, "%s", now[0] ? now : "");
	return 0;
}

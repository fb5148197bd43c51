/* stats: see stats.h. */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned hist_index(uint64_t v)
{
	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - 6; /* keep 7 significant bits: 64..127 */
	return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

static uint64_t hist_value(unsigned idx)
{
	if (idx < 2 * HIST_SUB)
		return idx;
	unsigned shift = idx / HIST_SUB - 1;
	uint64_t mant = idx % HIST_SUB + HIST_SUB;
	/* middle of the bucket */
	return (mant << shift) + ((1ull << shift) >> 1);
}

void hist_add(hist_t *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

uint64_t hist_pct(const hist_t *h, double p)
{
	if (!h->n)
		return 0;
	if (p >= 1.0)
		return h->max;
	uint64_t want = (uint64_t)(p * (double)h->n) + 1, seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

int track_add(track_t *t, uint64_t seq)
{
	uint64_t w = seq >> 6, bit = 1ull << (seq & 63);

	if (w >= t->nwords) {
		uint64_t n = t->nwords ? t->nwords : 1024;
		while (n <= w)
			n *= 2;
		uint64_t *nb = realloc(t->bits, n * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		memset(nb + t->nwords, 0, (n - t->nwords) * sizeof(*nb));
		t->bits = nb;
		t->nwords = n;
	}
	if (t->bits[w] & bit) {
		t->dup++;
		return 0;
	}
	t->bits[w] |= bit;
	t->uniq++;
	if (seq < t->next)
		t->late++;
	else
		t->next = seq + 1;
	return 1;
}

void track_fini(track_t *t)
{
	free(t->bits);
	memset(t, 0, sizeof(*t));
}

static int read_proc(pid_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, cap - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	return 0;
}

int proc_cpu_ns(pid_t pid, uint64_t *out)
{
	char buf[1024];
	int rc = read_proc(pid, "stat", buf, sizeof(buf));
	if (rc)
		return rc;
	/* Fields after "(comm)": state is field 3, utime 14, stime 15. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	unsigned long long ut, st;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -EINVAL;
	long hz = sysconf(_SC_CLK_TCK);
	*out = (ut + st) * (1000000000ull / (uint64_t)hz);
	return 0;
}

int proc_machine_busy_ns(uint64_t *out)
{
	char buf[512];
	unsigned long long v[8] = {0};
	int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return -EINVAL;
	uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	*out = busy * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
	return 0;
}

int proc_rss_kb(pid_t pid, uint64_t *out)
{
	char buf[4096];
	int rc = read_proc(pid, "status", buf, sizeof(buf));
	if (rc)
		return rc;
	char *p = strstr(buf, "VmRSS:");
	unsigned long long kb;
	if (!p || sscanf(p + 6, "%llu", &kb) != 1)
		return -EINVAL;
	*out = kb;
	return 0;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t self_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The demo's measurement step: profile the server with the sampling profiler (on-CPU and off-CPU) over
 * the measured window; the walk will bring a step of its own. */
#include "demo/demo.h"
#include "profile/profiler.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int prof_prepare(void *ctx, pid_t server, char *err, size_t errlen)
{
	struct cw_demo_profile_ctx *c = ctx;
	struct cw_profiler_opts o = { .freq_hz = c->freq_hz ? c->freq_hz : 997, .offcpu = c->offcpu,
				      .follow_children = true };
	int ret;

	c->pid = server;
	if ((ret = cw_profiler_open(&o, &c->profiler, err, errlen)) < 0)
		return ret;
	if ((ret = cw_profiler_add_pid(c->profiler, server, false)) < 0)
		snprintf(err, errlen, "profiling pid %d: %s", (int)server, strerror(-ret));
	return ret;
}

static int prof_run(void *ctx, double seconds, volatile int *stop, char *err, size_t errlen)
{
	struct cw_demo_profile_ctx *c = ctx;
	int ret = cw_profiler_start(c->profiler, err, errlen);
	if (ret < 0)
		goto out;
	uint64_t deadline = cw_now_ns() + (uint64_t)(seconds * 1e9);
	while (!(stop && *stop) && cw_now_ns() < deadline)
		cw_profiler_poll(c->profiler, 50);
	if (stop && *stop) {
		snprintf(err, errlen, "interrupted");
		ret = -EINTR;
	}
out:
	cw_profiler_stop(c->profiler);
	return ret;
}

static int prof_collect(void *ctx, char *err, size_t errlen)
{
	struct cw_demo_profile_ctx *c = ctx;
	int ret = cw_profiler_collect(c->profiler, &c->prof);
	if (ret < 0)
		snprintf(err, errlen, "collecting the profile: %s", strerror(-ret));
	return ret;
}

const struct cw_demo_step cw_demo_profile_step = { prof_prepare, prof_run, prof_collect };

void cw_demo_profile_fini(struct cw_demo_profile_ctx *c)
{
	if (!c)
		return;
	cw_profile_free(&c->prof);
	cw_profiler_close(c->profiler);
	c->profiler = NULL;
}

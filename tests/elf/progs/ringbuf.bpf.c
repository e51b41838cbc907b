/* A ring buffer and perf buffer producer: one event per getppid() of the target pid. */
#include "bpf_helpers.h"

struct event {
	__u32 pid;
	__u32 seq;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

/* a global pointer keeps struct event in the object's BTF for decoders */
struct event *unused_event __attribute__((unused));

const volatile __u32 target_pid = 0;
__u32 seq = 0;

SEC("tp/syscalls/sys_enter_getppid")
int produce(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (target_pid && pid != target_pid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->seq = seq++;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, e, sizeof(*e));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

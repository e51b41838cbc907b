/* A tracepoint counter: counts getpid() syscalls per pid, and in total in .bss. */
#include "bpf_helpers.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

__u64 total_calls = 0;

struct sys_enter_args {
	__u64 common;
	long id;
	unsigned long args[6];
};

static __noinline void bump(__u32 pid)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &pid, &one, BPF_ANY);
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int count_getpid(void *ctx)
{
	bump(bpf_get_current_pid_tgid() >> 32);
	__sync_fetch_and_add(&total_calls, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int count_raw(struct sys_enter_args *ctx)
{
	return 0;
}

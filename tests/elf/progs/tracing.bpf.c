/* Program types this machine's kernel lacks (kprobes, fentry) next to one it has: the
 * loader attaches what the kernel supports and names the sections it cannot. */
#include "bpf_helpers.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void hit(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("kprobe/vfs_read")
int on_kprobe(void *ctx)
{
	hit(0);
	return 0;
}

SEC("fentry/vfs_read")
int on_fentry(void *ctx)
{
	hit(1);
	return 0;
}

SEC("tp_btf/sys_enter")
int on_tp_btf(void *ctx)
{
	hit(2);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getuid")
int on_tracepoint(void *ctx)
{
	hit(3);
	return 0;
}

/* Packet programs: a socket filter and an XDP program counting UDP packets to a port, a
 * tc program, and a cgroup_skb program. */
#include "bpf_helpers.h"

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

const volatile __u16 port = 0;

static __always_inline void bump(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&packets, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("socket")
int count_socket(struct __sk_buff *skb)
{
	bump(0);
	return skb->len;
}

SEC("xdp")
int count_xdp(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;

	/* eth(14) + ipv4(20) + udp(8) */
	if (data + 42 > end)
		return 2;
	if (data[12] == 0x08 && data[13] == 0x00 && data[23] == 17 &&
	    (port == 0 || ((data[36] << 8) | data[37]) == port))
		bump(1);
	return 2; /* XDP_PASS */
}

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	bump(2);
	return -1; /* TCX_NEXT */
}

SEC("cgroup_skb/egress")
int count_cgroup(struct __sk_buff *skb)
{
	bump(3);
	return 1;
}

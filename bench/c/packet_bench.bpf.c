/* C references for bench/packet_bench.py: the same four XDP programs as the pybpf ones
 * there, written the usual way (direct packet access, bounds checks by hand). Built at
 * bench time with clang -O2 -target bpf into a temporary directory. */
#include <linux/bpf.h>
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

struct ethhdr { __u8 dst[6]; __u8 src[6]; __be16 proto; };
struct iphdr {
	__u8 ihl_version; __u8 tos; __be16 tot_len; __be16 id; __be16 frag_off;
	__u8 ttl; __u8 protocol; __u16 check; __be32 saddr; __be32 daddr;
};
struct udphdr { __be16 source; __be16 dest; __be16 len; __u16 check; };
struct icmphdr { __u8 type; __u8 code; __u16 checksum; __be16 id; __be16 seq; };
struct lpm_key { __u32 prefixlen; __u32 addr; };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm_key);
	__type(value, __u32);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} blocked SEC(".maps");

#define ETH_P_IP_BE 0x0008 /* htons(0x0800) on little-endian */

SEC("xdp")
int drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int parse_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->proto != ETH_P_IP_BE)
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return XDP_PASS;
	__u32 key = ip->protocol;
	__u64 *v = bpf_map_lookup_elem(&stats, &key);
	if (v)
		*v += 1;
	__u32 ihl = (ip->ihl_version & 0xF) * 4;
	if (ihl < 20)
		return XDP_PASS;
	struct udphdr *udp = (void *)ip + ihl;
	if ((void *)(udp + 1) > end)
		return XDP_PASS;
	if (ip->protocol == 17 && udp->dest == 0x3500) /* htons(53) */
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int lpm_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->proto != ETH_P_IP_BE)
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return XDP_PASS;
	struct lpm_key k = { 32, ip->saddr };
	__u32 *rule = bpf_map_lookup_elem(&blocked, &k);
	if (rule && *rule)
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int reflector(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->proto != ETH_P_IP_BE)
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != 1)
		return XDP_PASS;
	__u32 ihl = (ip->ihl_version & 0xF) * 4;
	if (ihl < 20)
		return XDP_PASS;
	struct icmphdr *icmp = (void *)ip + ihl;
	if ((void *)(icmp + 1) > end)
		return XDP_PASS;
	/* request <-> reply, so that every repetition of the test run does the rewrite */
	__u32 c = __builtin_bswap16(icmp->checksum);
	if (icmp->type == 8) {
		icmp->type = 0;
		c += 0x0800;
	} else if (icmp->type == 0) {
		icmp->type = 8;
		c += 0xF7FF;
	} else {
		return XDP_PASS;
	}
	c = (c & 0xFFFF) + (c >> 16);
	icmp->checksum = __builtin_bswap16(c);
	__u32 a = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = a;
	__u8 m[6];
	__builtin_memcpy(m, eth->dst, 6);
	__builtin_memcpy(eth->dst, eth->src, 6);
	__builtin_memcpy(eth->src, m, 6);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";

// stateful-firewall.click -- connections may go out, their replies may come
// back, and nothing else comes in.
//
// The firewall sits in the wire between an inside network (port 0) and the
// outside (port 1), like a bridge: frames keep their Ethernet headers and
// addresses are not translated. It remembers the flows the inside starts,
// with IPRewriter's `keep` mappings (no rewriting, just state):
//
//   TCP and UDP going out make a mapping (rw) and pass; packets coming in
//       pass only when they belong to a mapping, in either direction of
//       the flow, and are dropped otherwise (unsolicited).
//   ICMP echo requests going out make a ping mapping (pings); echo replies
//       coming in pass only for a ping that went out.
//   ICMP errors coming in (unreachable, time exceeded, ...) pass only when
//       they are about a packet of a mapped flow or ping (icmperr, as
//       ICMPRewriter finds them); other incoming ICMP is dropped.
//   Other IP traffic going out (other ICMP, other protocols) passes; other
//       IP traffic coming in is dropped.
//
// Mappings expire as in Click's IPRewriter: TCP 24 hours once data went both
// ways, 4 minutes after FIN or RST, 5 minutes otherwise; UDP and pings after
// 5 minutes; at most $CAPACITY flows (a full table replaces the flow closest
// to expiry, or refuses new flows while all are younger than 5 seconds).
// Fragments after the first carry no ports and are dropped (both ways);
// reassemble first (IPReassembler) if they matter. The handlers rw.table,
// rw.nmappings, pings.table and the drop counters show what it does.
//
// Frames that are not IPv4: ARP passes both ways unchanged, so hosts on both
// sides can still resolve each other; IPv6 and every other ethertype are
// dropped and counted (nonip0.count inside, nonip1.count outside). IPv4
// packets with a bad header are dropped and counted (check0.drops,
// check1.drops); unsolicited inbound packets are counted in rw.drops,
// pings.drops, icmperr_dropped.count and other_in.count.
//
// Each port is a network device or a pair of pcap files:
//
//   clickpy run configs/stateful-firewall.click PORT0=eth0 PORT1=eth1
//   clickpy run configs/stateful-firewall.click PORT0=in0.pcap,out0.pcap PORT1=in1.pcap,out1.pcap
//       replays each side's trace (in timestamp order across both), writes
//       what the firewall sends onto each side into the second file, and
//       stops when both traces are done.

define(
    $PORT0     eth0,
    $PORT1     eth1,
    $CAPACITY  100000
);

elementclass FirewallPorts {
    $dev0, $dev1 |
        FromDevice($dev0, PROMISC true, SNIFFER false) -> [0]output;
        FromDevice($dev1, PROMISC true, SNIFFER false) -> [1]output;
        input[0] -> Queue(1024) -> ToDevice($dev0);
        input[1] -> Queue(1024) -> ToDevice($dev1);
||
    $in0, $out0, $in1, $out1 |
        merge :: TimeSortedSched(STOP true);
        FromDump($in0) -> Paint(0) -> [0]merge;
        FromDump($in1) -> Paint(1) -> [1]merge;
        // one packet at a time: a batch would reach each side's path whole,
        // and a reply could overtake the packet it answers
        merge -> Unqueue(BURST 1) -> ps :: PaintSwitch;
        ps[0] -> [0]output;
        ps[1] -> [1]output;
        input[0] -> ToDump($out0);
        input[1] -> ToDump($out1);
}

ports :: FirewallPorts($PORT0, $PORT1);

// flow state: input 0 = from inside (make a mapping), input 1 = from outside
// (mapped flows only); output 0 = to outside, output 1 = to inside
rw :: IPRewriter(keep 0 1, drop, MAPPING_CAPACITY $CAPACITY);
pings :: ICMPPingRewriter(keep 0 1, drop, MAPPING_CAPACITY $CAPACITY);
icmperr :: ICMPRewriter(rw pings);

to_outside :: Unstrip(14) -> [1]ports;
to_inside :: Unstrip(14) -> [0]ports;

// inside -> outside
c0 :: Classifier(12/0800, 12/0806, -);
ports[0] -> c0;
c0[0] -> Strip(14)
      -> check0 :: CheckIPHeader
      -> out_cls :: IPClassifier(tcp or udp, icmp type echo, -);
out_cls[0] -> [0]rw;
out_cls[1] -> [0]pings;
out_cls[2] -> other_out :: Counter -> to_outside;
c0[1] -> [1]ports;
c0[2] -> nonip0 :: Counter -> Discard;

// outside -> inside
c1 :: Classifier(12/0800, 12/0806, -);
ports[1] -> c1;
c1[0] -> Strip(14)
      -> check1 :: CheckIPHeader
      -> in_cls :: IPClassifier(tcp or udp, icmp type echo-reply, icmp, -);
in_cls[0] -> [1]rw;
in_cls[1] -> [1]pings;
in_cls[2] -> icmperr -> to_inside;
icmperr[1] -> icmperr_dropped :: Counter -> Discard;
in_cls[3] -> other_in :: Counter -> Discard;
c1[1] -> [0]ports;
c1[2] -> nonip1 :: Counter -> Discard;

rw[0] -> to_outside;
rw[1] -> to_inside;
pings[0] -> to_outside;
pings[1] -> to_inside;

// nat.click -- a NAT gateway: source NAT for an inside network behind one
// public address.
//
// Port 0 is the inside network ($INSIDE_NET; the gateway is $INSIDE_IP,
// $INSIDE_MAC), port 1 the outside ($PUBLIC_NET; the gateway is $PUBLIC_IP,
// $PUBLIC_MAC, and reaches everything beyond $PUBLIC_NET through $GATEWAY).
// Inside hosts use $INSIDE_IP as their default router.
//
//   TCP and UDP from the inside leave from $PUBLIC_IP, on the host's own
//       source port when it is free and above 1023, else on a free port of
//       1024-65535 (rw, Click's IPRewriter); replies come back to the host.
//   Pings from the inside leave from $PUBLIC_IP with a free identifier
//       (pings, ICMPPingRewriter); their echo replies come back.
//   ICMP errors from the outside about a translated flow or ping are
//       translated back to the inside host (icmperr, ICMPRewriter).
//   Unsolicited packets from the outside are dropped (rw.drops,
//       pings.drops, icmperr_dropped.count, other_in.count), except pings to
//       $PUBLIC_IP, which are answered; pings to $INSIDE_IP from the inside
//       are answered too. Other IP protocols from the inside cannot be
//       translated and are dropped (other_out.count).
//   The gateway routes: TTLs are decremented (time exceeded errors go back
//       to the sender) and next hops are found with ARP on each side.
//
// Mappings expire as in Click's IPRewriter (TCP: 24 hours with data both
// ways, 4 minutes after FIN or RST, 5 minutes otherwise; UDP and pings: 5
// minutes); at most $CAPACITY flows. Fragments after the first carry no
// ports and are dropped; packets larger than the outside MTU are not
// fragmented here. rw.table, pings.table and rw.nmappings show the state.
//
// Frames that are not IPv4: ARP requests for the gateway's addresses are
// answered on each side and ARP replies feed the gateway's ARP tables; other
// ARP frames, IPv6 and every other ethertype are dropped and counted
// (nonip0.count inside, nonip1.count outside). IPv4 packets with a bad header
// are dropped and counted (check0.drops, check1.drops).
//
// Each port is a network device or a pair of pcap files:
//
//   clickpy run configs/nat.click PORT0=eth0 PORT1=eth1 PUBLIC_IP=203.0.113.7 ...
//   clickpy run configs/nat.click PORT0=in0.pcap,out0.pcap PORT1=in1.pcap,out1.pcap
//       replays each side's trace (in timestamp order across both), writes
//       what the gateway sends onto each side into the second file, and
//       stops when both traces are done.

define(
    $PORT0        eth0,
    $PORT1        eth1,
    $INSIDE_IP    10.0.0.1,
    $INSIDE_NET   10.0.0.0/24,
    $INSIDE_MAC   02:00:00:00:01:01,
    $PUBLIC_IP    192.0.2.1,
    $PUBLIC_NET   192.0.2.0/24,
    $PUBLIC_MAC   02:00:00:00:02:01,
    $GATEWAY      192.0.2.254,
    $CAPACITY     100000
);

elementclass NATPorts {
    $dev0, $dev1 |
        FromDevice($dev0) -> [0]output;
        FromDevice($dev1) -> [1]output;
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

ports :: NATPorts($PORT0, $PORT1);

// translation: input 0 = from inside, input 1 = from outside;
// output 0 = to outside, output 1 = to inside
rw :: IPRewriter(pattern $PUBLIC_IP 1024-65535 - - 0 1, drop, MAPPING_CAPACITY $CAPACITY);
pings :: ICMPPingRewriter(pattern $PUBLIC_IP 1024-65535 - - 0 1, drop, MAPPING_CAPACITY $CAPACITY);
icmperr :: ICMPRewriter(rw pings);

// next hops: ARP on each side; outside, everything beyond the public
// network goes through the gateway
arpq0 :: ARPQuerier($INSIDE_IP, $INSIDE_MAC) -> [0]ports;
arpq1 :: ARPQuerier($PUBLIC_IP, $PUBLIC_MAC) -> [1]ports;
to_outside :: RadixIPLookup($PUBLIC_NET 0, 0.0.0.0/0 $GATEWAY 0) -> [0]arpq1;
to_inside :: Null -> [0]arpq0;

// inside
c0 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
ports[0] -> c0;
c0[0] -> ARPResponder($INSIDE_IP $INSIDE_MAC) -> [0]ports;
c0[1] -> [1]arpq0;
c0[2] -> Strip(14)
      -> check0 :: CheckIPHeader
      -> local0 :: IPClassifier(dst host $INSIDE_IP, -);
c0[3] -> nonip0 :: Counter -> Discard;
local0[0] -> ping0 :: ICMPPingResponder -> to_inside;
ping0[1] -> to_gateway0 :: Counter -> Discard;
local0[1] -> ttl0 :: DecIPTTL
      -> out_cls :: IPClassifier(tcp or udp, icmp type echo, -);
ttl0[1] -> ICMPError($INSIDE_IP, timeexceeded) -> to_inside;
out_cls[0] -> [0]rw;
out_cls[1] -> [0]pings;
out_cls[2] -> other_out :: Counter -> Discard;

// outside
c1 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
ports[1] -> c1;
c1[0] -> ARPResponder($PUBLIC_IP $PUBLIC_MAC) -> [1]ports;
c1[1] -> [1]arpq1;
c1[2] -> Strip(14)
      -> check1 :: CheckIPHeader
      -> in_cls :: IPClassifier(tcp or udp, icmp type echo-reply, icmp type echo and dst host $PUBLIC_IP,
                                icmp, -);
c1[3] -> nonip1 :: Counter -> Discard;
in_cls[0] -> [1]rw;
in_cls[1] -> [1]pings;
in_cls[2] -> ICMPPingResponder -> to_outside;
in_cls[3] -> icmperr;
icmperr[1] -> icmperr_dropped :: Counter -> Discard;
in_cls[4] -> other_in :: Counter -> Discard;

rw[0] -> to_outside;
pings[0] -> to_outside;
// translated packets on their way in lose a hop
rw[1] -> ttl1 :: DecIPTTL -> to_inside;
pings[1] -> ttl1;
icmperr -> ttl1;
ttl1[1] -> ICMPError($PUBLIC_IP, timeexceeded) -> to_outside;

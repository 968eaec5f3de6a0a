// firewall.click -- a stateless IPv4 packet filter between two networks.
//
// The firewall sits in the wire between an inside network (port 0) and the
// outside (port 1), like a bridge: frames keep their Ethernet headers and
// nothing is routed or rewritten. Each IPv4 packet is judged on its own
// headers by an IPFilter, one per direction:
//
//   outbound (inside -> outside): allowed when its source is in $INSIDE
//       (anything else is spoofed); everything else dropped.
//   inbound (outside -> inside): dropped when its source claims to be
//       inside; allowed to the server $SERVER on TCP ports 22, 80 and 443;
//       allowed when it looks like a reply: TCP segments with ACK set,
//       DNS answers (UDP from port 53), ICMP echo replies and the ICMP errors
//       unreachable, time exceeded and parameter problem; everything else
//       dropped. Being stateless, it cannot tell a real reply from a forged
//       one: see stateful-firewall.click for that.
//
// Fragments: outbound, all fragments of an allowed packet pass. Inbound,
// rules that test ports or TCP flags only match first fragments (later ones
// carry no transport header), so later fragments are dropped unless a rule
// without transport tests allows them; reassemble first (IPReassembler) if
// inbound fragments matter.
//
// Frames that are not IPv4: ARP passes both ways unchanged, so hosts on both
// sides can still resolve each other; IPv6 and every other ethertype are
// dropped and counted (nonip0.count inside, nonip1.count outside). IPv4
// packets with a bad header (CheckIPHeader) are dropped and counted
// (check0.drops, check1.drops); filtered packets show in the Counters
// passed0/passed1 and the IPFilters' program handlers show the rules.
//
// Each port is a network device or a pair of pcap files:
//
//   clickpy run configs/firewall.click PORT0=eth0 PORT1=eth1
//   clickpy run configs/firewall.click PORT0=in0.pcap,out0.pcap PORT1=in1.pcap,out1.pcap
//       replays each side's trace (in timestamp order across both), writes
//       what the firewall sends onto each side into the second file, and
//       stops when both traces are done.

define(
    $PORT0   eth0,
    $PORT1   eth1,
    $INSIDE  10.0.0.0/24,
    $SERVER  10.0.0.10
);

// Where frames come from and go to: output k is what arrives on port k,
// input k what leaves by port k.
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

// inside -> outside
c0 :: Classifier(12/0800, 12/0806, -);
ports[0] -> c0;
c0[0] -> Strip(14)
      -> check0 :: CheckIPHeader
      -> outbound :: IPFilter(allow src net $INSIDE,
                              deny all)
      -> passed0 :: Counter
      -> Unstrip(14)
      -> [1]ports;
c0[1] -> [1]ports;
c0[2] -> nonip0 :: Counter -> Discard;

// outside -> inside
c1 :: Classifier(12/0800, 12/0806, -);
ports[1] -> c1;
c1[0] -> Strip(14)
      -> check1 :: CheckIPHeader
      -> inbound :: IPFilter(deny src net $INSIDE,
                             allow dst host $SERVER && (tcp dst port 22 or 80 or 443),
                             allow dst net $INSIDE && tcp && tcp opt ack,
                             allow dst net $INSIDE && udp src port 53,
                             allow dst net $INSIDE && icmp type echo-reply,
                             allow dst net $INSIDE && (icmp type unreachable or icmp type timeexceeded
                                                      or icmp type parameterproblem),
                             deny all)
      -> passed1 :: Counter
      -> Unstrip(14)
      -> [0]ports;
c1[1] -> [0]ports;
c1[2] -> nonip1 :: Counter -> Discard;

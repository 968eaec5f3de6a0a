// router.click -- a two-interface IPv4 router, in the style of Click's
// standard IP router (conf/make-ip-conf.pl): ARP on each side, header
// checks, route lookup, TTL, IP options, ICMP errors and fragmentation.
//
// Each interface is a network device or a pair of pcap files, chosen by the
// PORT0 and PORT1 definitions (as in bridge.click):
//
//   clickpy run configs/router.click PORT0=eth0 PORT1=eth1
//       routes between two devices; packets for the router's own host
//       stack (other than pings, which it answers) are counted and dropped.
//
//   clickpy run configs/router.click PORT0=in0.pcap,out0.pcap PORT1=in1.pcap,out1.pcap
//       replays what each segment sent from the first file of its port, in
//       timestamp order across both ports, writes what the router sends onto
//       that segment into the second file and what it delivers to its host
//       into $HOST; stops when both traces are done. `make run` does this
//       with the bundled traces configs/traces/router-if{0,1}.pcap.
//
// Interface 0 is $IP0/$PREFIX0 (10.0.0.1/24), interface 1 is $IP1/$PREFIX1
// (10.0.1.1/24), each with its broadcast address, Ethernet address and MTU;
// the default route leaves by interface 1 through $GW1. Interface 1 has a
// smaller MTU (a tunnel, say) so that the bundled trace exercises
// fragmentation; set MTU1=1500 on plain Ethernet.

define(
    $PORT0  eth0,
    $PORT1  eth1,
    $HOST   router-host.pcap,
    $IP0    10.0.0.1,   $PREFIX0 24,  $NET0 10.0.0.0,  $BCAST0 10.0.0.255,
    $MAC0   02:00:00:00:00:01,  $MTU0 1500,
    $IP1    10.0.1.1,   $PREFIX1 24,  $NET1 10.0.1.0,  $BCAST1 10.0.1.255,
    $MAC1   02:00:00:00:00:02,  $MTU1 1000,
    $GW1    10.0.1.254
);

// Where frames come from and go to. Outputs: frames received on interface
// 0 and 1; inputs: frames to send on interface 0 and 1, and IP packets for
// the router's own host stack.
elementclass RouterPorts {
    $dev0, $dev1 |
        FromDevice($dev0) -> [0]output;
        FromDevice($dev1) -> [1]output;
        input[0] -> Queue(1024) -> ToDevice($dev0);
        input[1] -> Queue(1024) -> ToDevice($dev1);
        input[2] -> host :: Counter -> Discard;
||
    $in0, $out0, $in1, $out1 |
        // the two traces merge in timestamp order, as the segments were
        // heard: an ARP reply comes after the query that asked for it
        merge :: TimeSortedSched(STOP true);
        FromDump($in0) -> Paint(0) -> [0]merge;
        FromDump($in1) -> Paint(1) -> [1]merge;
        merge -> Unqueue(BURST 256) -> ps :: PaintSwitch;
        ps[0] -> [0]output;
        ps[1] -> [1]output;
        input[0] -> ToDump($out0);
        input[1] -> ToDump($out1);
        input[2] -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> host :: ToDump($HOST);
}

ports :: RouterPorts($PORT0, $PORT1);

// Shared IP input path and routing table
ip :: Strip(14)
    -> ipcheck :: CheckIPHeader(INTERFACES $IP0/$PREFIX0 $IP1/$PREFIX1)
    -> rt :: RadixIPLookup(
            $IP0/32 0, $BCAST0/32 0, $NET0/32 0,
            $IP1/32 0, $BCAST1/32 0, $NET1/32 0,
            $NET0/$PREFIX0 1,
            $NET1/$PREFIX1 2,
            0.0.0.0/0 $GW1 2);

// ARP replies go to both ARP queriers
arpt :: Tee(2);

// Interface 0: classify frames, answer ARP, resolve next hops
c0 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
ports[0] -> c0;
c0[0] -> ARPResponder($IP0 $MAC0) -> [0]ports;
arpq0 :: ARPQuerier($IP0, $MAC0) -> [0]ports;
c0[1] -> arpt;
arpt[0] -> [1]arpq0;
c0[2] -> Paint(1) -> ip;
c0[3] -> nonip0 :: Counter -> Discard;

// Interface 1
c1 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
ports[1] -> c1;
c1[0] -> ARPResponder($IP1 $MAC1) -> [1]ports;
arpq1 :: ARPQuerier($IP1, $MAC1) -> [1]ports;
c1[1] -> arpt;
arpt[1] -> [1]arpq1;
c1[2] -> Paint(2) -> ip;
c1[3] -> nonip1 :: Counter -> Discard;

// Local delivery: answer pings, hand the rest to the host
rt[0] -> ping :: ICMPPingResponder -> rt;
ping[1] -> [2]ports;

// Forwarding path for interface 0
rt[1] -> DropBroadcasts
    -> cp0 :: PaintTee(1)
    -> gio0 :: IPGWOptions($IP0)
    -> FixIPSrc($IP0)
    -> dt0 :: DecIPTTL
    -> fr0 :: IPFragmenter($MTU0)
    -> [0]arpq0;
dt0[1] -> ICMPError($IP0, timeexceeded) -> rt;
fr0[1] -> ICMPError($IP0, unreachable, needfrag, PMTU $MTU0) -> rt;
gio0[1] -> ICMPError($IP0, parameterproblem) -> rt;
cp0[1] -> ICMPError($IP0, redirect, host) -> rt;

// Forwarding path for interface 1
rt[2] -> DropBroadcasts
    -> cp1 :: PaintTee(2)
    -> gio1 :: IPGWOptions($IP1)
    -> FixIPSrc($IP1)
    -> dt1 :: DecIPTTL
    -> fr1 :: IPFragmenter($MTU1)
    -> [0]arpq1;
dt1[1] -> ICMPError($IP1, timeexceeded) -> rt;
fr1[1] -> ICMPError($IP1, unreachable, needfrag, PMTU $MTU1) -> rt;
gio1[1] -> ICMPError($IP1, parameterproblem) -> rt;
cp1[1] -> ICMPError($IP1, redirect, host) -> rt;

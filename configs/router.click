// router.click -- a two-interface IPv4 router, in the style of Click's
// standard IP router (conf/make-ip-conf.pl): ARP on each side, header
// checks, route lookup, TTL, IP options, ICMP errors and fragmentation.
//
// On pcap traces (the default; `make run`):
//     clickpy run configs/router.click [PORTS='TRACES prefix'] [OUT=prefix]
// replays what each segment sent, from PREFIX-if0.pcap and PREFIX-if1.pcap
// (default: the bundled configs/traces/router-if{0,1}.pcap), in timestamp
// order across both, writes what the router sends onto each segment to
// $OUT-if0.pcap and $OUT-if1.pcap and what it delivers to its own host to
// $OUT-host.pcap, and stops when both traces are done.
//
// On two devices:
//     clickpy run configs/router.click 'PORTS=DEV0 eth0, DEV1 eth1' \
//         IP0=... MAC0=... IP1=... MAC1=... MTU1=1500 GW1=...
// (and PREFIX0, NET0, BCAST0 and the same for interface 1 when the
// networks are not /24s); packets for the router's own host stack, other
// than pings, which it answers, are counted and dropped. The kernel's
// stack is kept away from the two devices while the router runs (SNIFFER
// false: a tc ingress rule, made with pyroute2), so leave them without
// kernel addresses. SNIFFER=true leaves the kernel's stack alone: for a
// host without pyroute2 or tc, such as the VM appliance (whose kernel has
// no address on its NICs anyway; docs/appliance.md).
//
// Interface 0 is $IP0/$PREFIX0 (10.0.0.1/24), interface 1 is $IP1/$PREFIX1
// (10.0.1.1/24), each with its broadcast address, Ethernet address and MTU;
// the default route leaves by interface 1 through $GW1. Interface 1 has a
// smaller MTU (a tunnel, say) so that the bundled trace exercises
// fragmentation; set MTU1=1500 on plain Ethernet.

define(
    $PORTS  TRACES configs/traces/router,
    $OUT    router-out,
    $IP0    10.0.0.1,   $PREFIX0 24,  $NET0 10.0.0.0,  $BCAST0 10.0.0.255,
    $MAC0   02:00:00:00:00:01,  $MTU0 1500,
    $IP1    10.0.1.1,   $PREFIX1 24,  $NET1 10.0.1.0,  $BCAST1 10.0.1.255,
    $MAC1   02:00:00:00:00:02,  $MTU1 1000,
    $GW1    10.0.1.254,
    $SNIFFER false
);

// Where frames come from and go to, chosen by the keywords of $PORTS.
// Outputs: frames received on interface 0 and 1; inputs: frames to send on
// interface 0 and 1, and IP packets for the router's own host stack.
elementclass RouterPorts {
    TRACES $prefix |
        // the traces merge in timestamp order, as the segments were heard:
        // an ARP reply comes after the query that asked for it
        merge :: TimeSortedSched(STOP true);
        FromDump($prefix-if0.pcap) -> Paint(0) -> [0]merge;
        FromDump($prefix-if1.pcap) -> Paint(1) -> [1]merge;
        merge -> Unqueue(BURST 256) -> ps :: PaintSwitch;
        ps[0] -> [0]output;
        ps[1] -> [1]output;
        input[0] -> ToDump($OUT-if0.pcap);
        input[1] -> ToDump($OUT-if1.pcap);
        input[2] -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> host :: ToDump($OUT-host.pcap);
||
    DEV0 $dev0, DEV1 $dev1 |
        // SNIFFER false (the default): the host's own stack does not see the
        // frames too (it would look up a route for each one, only to drop it)
        FromDevice($dev0, SNIFFER $SNIFFER) -> [0]output;
        FromDevice($dev1, SNIFFER $SNIFFER) -> [1]output;
        input[0] -> Queue(1024) -> ToDevice($dev0);
        input[1] -> Queue(1024) -> ToDevice($dev1);
        input[2] -> host :: Counter -> Discard;
}

ports :: RouterPorts($PORTS);

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

// bridge.click -- a learning Ethernet bridge between two ports.
//
// Frames arriving on one port are forwarded to the other unless the bridge
// has learned that their destination lives on the port they came from;
// broadcasts and unknown destinations are flooded (EtherSwitch).
//
// Each port is a network device or a pair of pcap files, chosen by the
// PORT0 and PORT1 definitions:
//
//   clickpy run configs/bridge.click PORT0=eth0 PORT1=eth1
//       bridges two devices (promiscuous; with SNIFFER false the host's own
//       stack no longer sees their frames, as with a kernel bridge).
//
//   clickpy run configs/bridge.click PORT0=lan0.pcap,lan0-out.pcap PORT1=lan1.pcap,lan1-out.pcap
//       replays what each LAN sent from the first file of its port and
//       writes what the bridge sends onto that LAN into the second file;
//       stops when both input traces are done. Addresses age in trace time.
//
// TIMEOUT=seconds: how long the bridge remembers where an address is
// (default 300; 0 makes it a hub). The handlers sw.table and sw.count show
// what it learned.

define($PORT0 eth0, $PORT1 eth1, $TIMEOUT 300);

// One LAN: frames from the LAN leave on the output; frames for the LAN
// enter the input.
elementclass BridgePort {
  $dev |
  FromDevice($dev, PROMISC true, SNIFFER false) -> output;
  input -> Queue(1024) -> ToDevice($dev);
||
  $trace, $out |
  FromDump($trace, STOP true) -> output;
  input -> ToDump($out, SNAPLEN 0);
}

sw :: EtherSwitch(TIMEOUT $TIMEOUT);
lan0 :: BridgePort($PORT0);
lan1 :: BridgePort($PORT1);

lan0 -> [0]sw[0] -> lan0;
lan1 -> [1]sw[1] -> lan1;

// a pcap trace asks the driver to stop when it ends: stop when both have
// (devices never do: the bridge runs until interrupted)
DriverManager(wait_stop 2);

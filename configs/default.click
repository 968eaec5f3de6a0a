// The default `make run` job until the IPv4 router config lands: a traffic
// generator through a queue, counted.
src :: InfiniteSource(LENGTH 64, BURST 256, LIMIT 20000000, STOP true);
q :: Queue(1024);
c :: Counter;
src -> q -> Unqueue(BURST 256) -> c -> Discard;

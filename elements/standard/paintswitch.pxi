# EXPORT_ELEMENT PaintSwitch

cdef class PaintSwitch(Element):
    """PaintSwitch([ANNO])

    Sends packets to the output their paint annotation names.

    Ports: 1 input, any number of outputs.
    Processing: push.

    Sends every packet out output K, where K is the value of its paint
    annotation (or the one-byte annotation ANNO). A packet painted 255 is
    copied to every output. A packet whose output does not exist is
    dropped. Since 255 is special, PaintSwitch uses at most 255 outputs.

    Keywords:
      ANNO  Annotation. The byte to read (default PAINT).

    Example:
      ps :: PaintSwitch;  ps[0] -> ...;  ps[1] -> ...;
    """

    port_count = "1/-"
    processing = "h/h"

    cdef uint32_t anno

    def configure(self, args):
        self.anno = args.read_p("ANNO", AnnoArg(1), PAINT_ANNO)

    cdef int push(self, int port, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef int32_t port_of[BATCH_MAX]
        cdef Batch* everywhere
        cdef uint32_t i, k = 0
        cdef int out
        cdef uint8_t color
        everywhere = self.pool.batch_get()
        try:
            for i in range(b.n):
                color = anno[b.idx[i]].user[self.anno]
                if color == 255:
                    everywhere.idx[everywhere.n] = b.idx[i]
                    everywhere.n += 1
                else:
                    b.idx[k] = b.idx[i]
                    port_of[k] = color
                    k += 1
            b.n = k
            push_grouped(self, b, port_of)
            # 255: copies to outputs 0..n-2, the packets themselves to the last
            if everywhere.n:
                out = 0
                while out < self.noutputs:    # once per output, not per packet
                    b.n = 0
                    if out < self.noutputs - 1:
                        clone_batch(self.pool, everywhere, b)
                    else:
                        memcpy(b.idx, everywhere.idx, everywhere.n * sizeof(uint32_t))
                        b.n = everywhere.n
                        everywhere.n = 0
                    if b.n:
                        self.output_push(out, b)
                    out += 1
                if everywhere.n:      # no outputs at all
                    self.pool.free_batch(everywhere)
        finally:
            self.pool.batch_put(everywhere)
        return 0

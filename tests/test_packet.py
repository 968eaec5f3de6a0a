"""PacketPool: allocation, accounting, batches and header operations."""
import pytest

from clickpy.packet import PacketPool, debug_build, PacketOwnershipError


def test_allocate_and_free_accounting():
    pool = PacketPool(16, 2)
    assert pool.size == 18 and pool.free_count == 18
    xs = [pool.new_packet(bytes([i]) * 60) for i in range(16)]
    assert len(set(xs)) == 16
    assert pool.free_count == 2            # only the big buffers are left
    for x in xs:
        pool.free_packet(x)
    assert pool.free_count == pool.size


def test_lifo_reuse_hot_buffer_first():
    pool = PacketPool(8, 0)
    a = pool.new_packet(b"a")
    pool.free_packet(a)
    assert pool.new_packet(b"b") == a
    pool.free_packet(a)


def test_exhaustion_is_counted_not_fatal():
    pool = PacketPool(2, 0)
    xs = [pool.new_packet(b"x"), pool.new_packet(b"y")]
    with pytest.raises(MemoryError):
        pool.new_packet(b"z")
    assert pool.stats()["alloc_failures"] == 1
    for x in xs:
        pool.free_packet(x)


def test_large_frames_use_big_buffers():
    pool = PacketPool(4, 2)
    big = bytes(range(256)) * 200          # 51200 bytes
    x = pool.new_packet(big)
    assert x >= 4                          # big buffers follow the small ones
    assert pool.packet_bytes(x) == big
    assert pool.annotations(x)["headroom"] == 128
    with pytest.raises(MemoryError):
        pool.new_packet(bytes(70000))     # larger than any buffer
    assert pool.stats()["big_alloc_failures"] == 1
    pool.free_packet(x)


def test_push_pull_put_take():
    pool = PacketPool(4, 0)
    x = pool.new_packet(b"payload")
    assert pool.data_push(x, 4, b"HDR:")
    assert pool.packet_bytes(x) == b"HDR:payload"
    assert pool.annotations(x)["headroom"] == 124
    assert pool.data_pull(x, 4)
    assert pool.packet_bytes(x) == b"payload"
    assert not pool.data_pull(x, 100)      # shorter than asked: refused, unchanged
    assert pool.data_put(x, 3, b"!!!")
    assert pool.packet_bytes(x) == b"payload!!!"
    pool.data_take(x, 3)
    assert pool.packet_bytes(x) == b"payload"
    pool.data_take(x, 1000)
    assert pool.packet_bytes(x) == b""
    pool.free_packet(x)


def test_push_beyond_headroom_moves_data_then_fails_when_full():
    pool = PacketPool(2, 0)
    x = pool.new_packet(b"abc")
    pool.set_annotation(x, "network_offset", 1)
    assert pool.data_push(x, 500, b"\xee" * 500)          # more than the 128 bytes of headroom
    assert pool.packet_bytes(x) == b"\xee" * 500 + b"abc"
    assert pool.annotations(x)["network_offset"] == 501    # header offsets follow the data
    assert not pool.data_push(x, 2000)                     # cannot fit in a 2 KiB buffer
    assert pool.stats()["headroom_failures"] == 1
    assert pool.packet_bytes(x)[-3:] == b"abc"
    pool.free_packet(x)


def test_put_beyond_tailroom_slides_data():
    pool = PacketPool(2, 0)
    x = pool.new_packet(b"z" * 1900)
    assert pool.data_put(x, 100, b"y" * 100)               # 128 + 1900 + 100 > 2048: slides
    assert pool.packet_bytes(x) == b"z" * 1900 + b"y" * 100
    assert not pool.data_put(x, 100)
    assert pool.stats()["tailroom_failures"] == 1
    pool.free_packet(x)


def test_clone_copies_bytes_and_annotations():
    pool = PacketPool(4, 0)
    x = pool.new_packet(b"hello world")
    pool.set_annotation(x, "user", bytes(range(48)))
    pool.set_annotation(x, "timestamp", 123456789)
    pool.data_pull(x, 6)
    y = pool.clone_packet(x)
    assert y != x
    assert pool.packet_bytes(y) == b"world"
    ay, ax = pool.annotations(y), pool.annotations(x)
    assert ay["user"] == ax["user"] and ay["timestamp"] == 123456789
    assert ay["headroom"] == ax["headroom"]
    pool.data_push(y, 1, b"X")
    assert pool.packet_bytes(x) == b"world"               # independent copies
    pool.free_packet(x)
    pool.free_packet(y)


def test_views_are_read_only():
    pool = PacketPool(2, 0)
    x = pool.new_packet(b"abcdef")
    view = pool.packet_view(x)
    assert bytes(view) == b"abcdef"
    with pytest.raises(TypeError):
        view[0] = 0
    del view
    arr = pool.anno_array()
    assert arr[x]["len"] == 6 and arr[x]["headroom"] == 128
    assert not arr.flags.writeable
    del arr
    pool.free_packet(x)


@pytest.mark.skipif(not debug_build(), reason="ownership tracking exists only in debug builds")
def test_debug_build_catches_double_free():
    pool = PacketPool(4, 0)
    x = pool.new_packet(b"a")
    pool.free_packet(x)
    pool.free_packet(x)
    with pytest.raises(PacketOwnershipError, match="double free"):
        pool.raise_debug_errors()
    assert pool.free_count == pool.size

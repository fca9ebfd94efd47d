#!/usr/bin/env python3
"""Seed images for fuzz_image: a plausible runtime memory image laid out
at the fuzzer's base address (one AIO system, its five slabs with bitmaps
and used handle slots, owners, scratch arena, GC heap), made from the
layout `valk-trace layout` prints. Run:
    valk-trace layout build/fixture/libvalkyria.so > l.json
    tests/fuzz/seed_image.py l.json tests/fuzz/corpus/image
"""
import json, struct, sys

BASE = 0x400000000000          # fuzz_image.c maps the input here
L = json.load(open(sys.argv[1]))
F, C, S = L["fields"], L["counts"], L["symbols"]
img = bytearray(8)             # offset 0: the valk_sys pointer


def alloc(size):
    off = (len(img) + 63) & ~63
    img.extend(b"\0" * (off + size - len(img)))
    return off


def put(off, value, width=8):
    img[off:off + width] = struct.pack({8: "<Q", 4: "<I", 2: "<H"}[width], value)


def stride(item):
    return (F["valk_slab_item_t.data"] + item + 63) & ~63


def slab(item, total, used, handle=None):
    at = alloc(F["valk_slab_t.heap"] + total * stride(item))
    bm = alloc((total + 7) // 8)
    for i in used:
        img[bm + i // 8] |= 1 << (i % 8)
    h = "valk_slab_t."
    put(at + F[h + "itemSize"], item)
    put(at + F[h + "numItems"], total)
    put(at + F[h + "numFree"], total - len(used))
    put(at + F[h + "peakUsed"], len(used))
    put(at + F[h + "total_acquires"], len(used))
    put(at + F[h + "bitmap_version"], len(used))
    put(at + F[h + "usage_bitmap"], BASE + bm)
    for n, i in enumerate(used):
        d = at + F[h + "heap"] + i * stride(item) + F["valk_slab_item_t.data"]
        put(d - F["valk_slab_item_t.data"] + F["valk_slab_item_t.handle"], i)
        if handle:
            a = "valk_aio_handle_t."
            put(d + F[a + "kind"], handle[n % len(handle)][0], 4)
            put(d + F[a + "http.diag.state"], handle[n % len(handle)][1], 4)
            put(d + F[a + "http.diag.owner_idx"], n % 3, 2)
        else:
            put(d + F["valk_mem_arena_t.capacity"], 4096)
            put(d + F["valk_mem_arena_t.offset"], 100 * (n + 1))
    return BASE + at


def image(nused):
    vsys = alloc(F["valk_system_t.subsystem_count"] + 8)
    put(0, BASE + vsys)
    sysz = F["valk_aio_system_t.owner_registry"] + F["valk_owner_registry_t.count"] + 8
    sysa = alloc(max(sysz, F["valk_aio_system_t.metrics_state"] + 8))
    put(vsys + F["valk_system_t.subsystem_count"], 1, 4)
    sub = vsys + F["valk_system_t.subsystems"]
    put(sub + F["valk_subsystem_t.stop"], S["valk_aio_stop"])
    put(sub + F["valk_subsystem_t.ctx"], BASE + sysa)
    used = list(range(0, 2 * nused, 2))
    kinds = [(4, 2), (4, 3), (2, 0), (1, 0), (4, 1), (3, 0)]
    a = "valk_aio_system_t."
    put(sysa + F[a + "tcpBufferSlab"], slab(64, 32, used[: nused // 2]))
    put(sysa + F[a + "handleSlab"], slab(F["sizeof(valk_aio_handle_t)"], 64, used, kinds))
    put(sysa + F[a + "httpStreamArenas"], slab(F["valk_mem_arena_t.heap"] + 8, 8, used[:3]))
    put(sysa + F[a + "httpServers"], slab(32, 8, used[:1]))
    put(sysa + F[a + "httpClients"], slab(32, 8, []))
    reg = sysa + F[a + "owner_registry"]
    for i, name in enumerate([b"api", b"admin"]):
        e = reg + F["valk_owner_registry_t.entries"] + i * F["sizeof(valk_owner_entry_t)"]
        o = e + F["valk_owner_entry_t.name"]
        img[o:o + len(name)] = name
    put(reg + F["valk_owner_registry_t.count"], 2, 2)
    ms = alloc(16)
    put(sysa + F[a + "metrics_state"], BASE + ms)
    ar = alloc(F["valk_mem_arena_t.heap"] + 8)
    put(ms + F["valk_aio_metrics_state_t.scratch_arena"], BASE + ar)
    put(ar + F["valk_mem_arena_t.capacity"], 1 << 20)
    put(ar + F["valk_mem_arena_t.offset"], 1234)
    heap = alloc(F["valk_gc_heap_t.hard_limit"] + 8)
    put(vsys + F["valk_system_t.heap"], BASE + heap)
    for c in range(C["valk_gc_heap_t.classes"]):
        pl = heap + F["valk_gc_heap_t.classes"] + c * F["sizeof(valk_gc_page_list_t)"]
        put(pl + F["valk_gc_page_list_t.slot_size"], 16 << c, 2)
        put(pl + F["valk_gc_page_list_t.total_slots"], 64)
        put(pl + F["valk_gc_page_list_t.used_slots"], c)
    put(heap + F["valk_gc_heap_t.hard_limit"], 1 << 24)


for n in (0, 3, 12):
    del img[8:]
    img[:8] = b"\0" * 8
    image(n)
    open(f"{sys.argv[2]}/system-{n}", "wb").write(img)

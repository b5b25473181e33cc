# goro-gdb.py: gdb commands that list goroutines and show their stacks, in
# the spirit of Go's runtime-gdb.py.
#
#   info goroutines      id, state, wait reason, name and creator of each
#   goroutine N bt       backtrace of goroutine N
#   goroutine all bt     backtrace of every goroutine
#
# Works on a live process and on a core file. A program linked with goro
# names this script in its .debug_gdb_scripts section, so gdb loads it when
# the program's directory is in `set auto-load safe-path`; else `source` it.
#
# How goroutines are found: every goroutine stack is a slot of an arena of
# the stack layer's registry, and a slot whose state word says "live" holds a
# goroutine record at its top (or, for a goroutine that opted into
# compaction, the record its slot's owner entry names). Field offsets and
# sizes come from the program's DWARF types; only the layout of the
# context-switch frame (src/arch/switch_x86_64_sysv.S) and the slot word's
# encoding (src/stack/arena.hpp) are mirrored here.
#
# A parked goroutine's registers are those goro_switch_context pushed:
# r15 r14 r13 r12 rbx rbp and the return address, from its saved stack
# pointer up. On a live process the backtrace is gdb's own (DWARF CFI):
# the selected thread's registers are swapped for the goroutine's during
# `backtrace` and put back afterwards. Where registers cannot be written
# (a core file), the frames are found by following frame pointers, which goro
# code is built with.

import struct

import gdb

_NS = "goro::detail::"
_ARENA_NS = "goro::detail::stack_internal::(anonymous namespace)::"
_SLOT_LIVE = 1  # SlotState::kLive
_SAVED_REGS = ("r15", "r14", "r13", "r12", "rbx", "rbp")
_MAX_FRAMES = 100
_FULL_BT_LIMIT = 32  # goroutine all bt: gdb's own backtraces up to this many

# Go's names for the wait reasons (goroutine.cpp's wait_reason_string).
_WAIT_REASONS = {
    "kNone": "runnable",
    "kSleep": "sleep",
    "kMutex": "sync.Mutex.Lock",
    "kCond": "sync.Cond.Wait",
    "kWaitGroup": "sync.WaitGroup.Wait",
    "kOnce": "sync.Once.Do",
    "kChanSend": "chan send",
    "kChanRecv": "chan receive",
    "kSelect": "select",
    "kSelectNoCases": "select (no cases)",
    "kIoWait": "IO wait",
    "kBlocking": "syscall",
    "kSemaphore": "semacquire",
}
_STATES = {
    "kIdle": "idle",
    "kRunnable": "runnable",
    "kRunning": "running",
    "kParked": "waiting",
    "kBlocking": "syscall",
    "kDead": "dead",
}


def _global(name):
    """The value of a goro global, looked up by its qualified name."""
    sym = gdb.lookup_static_symbol(name)
    if sym is None:
        sym = gdb.lookup_global_symbol(name)
    if sym is None:
        raise gdb.GdbError("goro: no symbol %s (is this a goro program with debug info?)" % name)
    return sym.value()


def _u64(v):
    if v.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        v = v.cast(gdb.lookup_type("unsigned long"))
    return int(v) & 0xFFFFFFFFFFFFFFFF


def _atomic_raw(v, target_type):
    """The value inside a std::atomic<T>, read as target_type (same size)."""
    return v.address.cast(target_type.pointer()).dereference()


def _enum_name(v):
    s = str(v)
    return s.rsplit("::", 1)[-1]


def _symbol_at(pc):
    """The name of the function containing pc: the outermost one, so that
    code inlined into it does not hide it (a dump names the same)."""
    if pc == 0:
        return "?"
    try:
        block = gdb.block_for_pc(pc)
    except RuntimeError:
        block = None
    name = None
    while block is not None:
        if block.function is not None:
            name = block.function.print_name
        block = block.superblock
    if name is None:
        sym = gdb.execute("info symbol 0x%x" % pc, to_string=True)
        if not sym.startswith("No symbol"):
            name = sym.split(" in section", 1)[0].strip()
    return name or "0x%x" % pc


def _where(pc):
    sal = gdb.find_pc_line(pc)
    if sal.symtab is not None and sal.line:
        return "%s:%d" % (sal.symtab.filename, sal.line)
    return ""


class Goroutine(object):
    """One goroutine record, read from the inferior."""

    def __init__(self, record):
        self.record = record
        # The stack it runs on now: its slot, or a stack segment.
        self.stack_lo = _u64(record["stack"]["base"])
        self.stack_top = _u64(record["stack"]["top"])
        self.id = int(record["id"])
        status_type = gdb.lookup_type(_NS + "GStatus")
        self.status = _STATES.get(_enum_name(_atomic_raw(record["status"], status_type)), "?")
        self.wait_reason = _WAIT_REASONS.get(_enum_name(record["wait_reason"]), "?")
        # The name bytes are meaningful only when the record says so.
        named = bool(record["named"])
        self.name = record["name"].string(length=40).split("\0", 1)[0] if named else ""
        self.parent_id = int(record["parent_id"])
        self.creator_pc = _u64(record["creator_pc"])
        self.is_main = bool(record["is_main"])
        self.saved_sp = _u64(record["saved_sp"])
        self.compacted = _u64(record["saved_stack"]) != 0 if bool(record["compactable"]) else False

    def state_text(self):
        if self.status == "waiting":
            return self.wait_reason
        return self.status

    def creator_text(self):
        if self.is_main:
            return "main"
        # creator_pc is a return address: the call is the byte before it.
        return "%s in goroutine %d" % (_symbol_at(self.creator_pc - 1), self.parent_id)

    def header(self):
        name = ' "%s"' % self.name if self.name else ""
        return "goroutine %d%s [%s]:" % (self.id, name, self.state_text())


def _arenas():
    """(base, slot_size, slots, words address) of every registered arena."""
    count = int(_atomic_raw(_global(_ARENA_NS + "g_arena_count"), gdb.lookup_type("unsigned int")))
    chunks = _global(_ARENA_NS + "g_chunks")
    arena_t = gdb.lookup_type(_NS + "stack_internal::Arena")
    chunk_arenas = 1024  # arena.cpp's kChunkArenas
    out = []
    for i in range(count):
        chunk = _atomic_raw(chunks[i // chunk_arenas], arena_t.pointer())
        a = chunk[i % chunk_arenas]
        out.append((_u64(a["base"]), int(a["slot_size"]), int(a["slots"]), _u64(a["words"])))
    return out


def _owner_tables():
    """The owner side table of the stack layer (tombstone.cpp), or None in
    programs that never link it."""
    try:
        return _global(_NS + "(anonymous namespace)::g_owner_tables")
    except gdb.GdbError:
        return None


def _owners(tables, arena_index, slots):
    """The owner record of each slot of an arena (0 for none)."""
    if tables is None:
        return None
    void_pp = gdb.lookup_type("void").pointer().pointer()
    table = _u64(_atomic_raw(tables[arena_index], void_pp))
    if table == 0:
        return None
    raw = bytes(gdb.selected_inferior().read_memory(table, 8 * slots))
    return struct.unpack("<%dQ" % slots, raw)


def goroutines():
    """Every live goroutine, in id order."""
    inferior = gdb.selected_inferior()
    g_type = gdb.lookup_type(_NS + "Goroutine")
    magic = 0x676F726F  # Goroutine::kMagic
    tables = _owner_tables()
    found = {}
    for index, (base, slot_size, slots, words) in enumerate(_arenas()):
        raw = bytes(inferior.read_memory(words, 4 * slots))
        owners = _owners(tables, index, slots)
        for slot, word in enumerate(struct.unpack("<%dI" % slots, raw)):
            if word & 0xFF != _SLOT_LIVE:
                continue
            top = base + (slot + 1) * slot_size
            addr = (owners[slot] if owners else 0) or top - g_type.sizeof
            try:
                record = gdb.Value(addr).cast(g_type.pointer()).dereference()
                if int(record["magic"]) != magic:
                    continue  # a stack segment, or a record not yet built
                g = Goroutine(record)
            except gdb.MemoryError:
                continue
            if g.status in ("idle", "dead"):
                continue  # starting or exiting
            found[g.id] = g
    return [found[k] for k in sorted(found)]


def _find(goid):
    for g in goroutines():
        if g.id == goid:
            return g
    raise gdb.GdbError("goro: no goroutine %d" % goid)


def _thread_running(g):
    """The thread whose stack pointer lies in g's stack, or None."""
    for thread in gdb.selected_inferior().threads():
        thread.switch()
        sp = _u64(gdb.selected_frame().read_register("rsp"))
        if g.stack_lo <= sp < g.stack_top:
            return thread
    return None


def _read_words(addr, n):
    raw = bytes(gdb.selected_inferior().read_memory(addr, 8 * n))
    return struct.unpack("<%dQ" % n, raw)


def _parked_registers(g):
    words = _read_words(g.saved_sp, 7)
    regs = dict(zip(_SAVED_REGS, words[:6]))
    regs["rip"] = words[6]
    regs["rsp"] = g.saved_sp + 56
    return regs


def _bt_by_swapping(regs):
    """gdb's own backtrace from regs, in the selected thread. False if the
    target does not let registers be written (a core file)."""
    gdb.execute("select-frame 0", to_string=True)
    frame = gdb.selected_frame()
    names = list(regs)
    old = {}
    for r in names:
        old[r] = _u64(frame.read_register(r))
    try:
        for r, v in regs.items():
            gdb.execute("set $%s = %d" % (r, v), to_string=True)
    except gdb.error:
        return False
    try:
        out = gdb.execute("backtrace %d" % _MAX_FRAMES, to_string=True)
    finally:
        gdb.execute("select-frame 0", to_string=True)
        for r in names:
            try:
                gdb.execute("set $%s = %d" % (r, old[r]), to_string=True)
            except gdb.error:
                pass
    gdb.write(out)
    return True


def _bt_by_frame_pointers(g, regs):
    """Frames from the saved return address and the rbp chain."""
    pc, fp = regs["rip"], regs["rbp"]
    for n in range(_MAX_FRAMES):
        # A caller's pc is a return address, just after its call: look up
        # the byte before it so that function and line are the call's.
        look = pc if n == 0 else pc - 1
        where = _where(look)
        gdb.write("#%-2d 0x%016x in %s%s\n" % (n, pc, _symbol_at(look), " at " + where if where else ""))
        if not (g.stack_lo <= fp < g.stack_top):
            break
        try:
            fp, pc = _read_words(fp, 2)
        except gdb.MemoryError:
            break
        if pc == 0:
            break


def backtrace(g, full=True):
    gdb.write(g.header() + "\n")
    if g.status == "running":
        thread = _thread_running(g)
        if thread is None:
            gdb.write("  (running; no thread's stack pointer is in its stack)\n")
            return
        thread.switch()
        gdb.write("  (running on thread %d)\n" % thread.num)
        gdb.write(gdb.execute("backtrace %d" % _MAX_FRAMES, to_string=True))
        return
    if g.compacted:
        gdb.write("  (stack compacted: its frames are in a heap copy)\n")
        return
    if g.saved_sp == 0 or not (g.stack_lo <= g.saved_sp < g.stack_top):
        gdb.write("  (no saved context)\n")
        return
    regs = _parked_registers(g)
    thread = gdb.selected_thread()
    if not full or not _bt_by_swapping(regs):
        _bt_by_frame_pointers(g, regs)
    thread.switch()


class InfoGoroutines(gdb.Command):
    """List the goroutines: id, state or wait reason, name and creator."""

    def __init__(self):
        super(InfoGoroutines, self).__init__("info goroutines", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        gs = goroutines()
        gdb.write("%6s  %-20s %-16s %s\n" % ("Id", "State", "Name", "Created by"))
        for g in gs:
            gdb.write("%6d  %-20s %-16s %s\n" % (g.id, g.state_text(), g.name or "-", g.creator_text()))
        gdb.write("%d goroutines\n" % len(gs))


class GoroutineCmd(gdb.Command):
    """Run a command for a goroutine: `goroutine N bt`, `goroutine all bt`."""

    def __init__(self):
        super(GoroutineCmd, self).__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        words = arg.split()
        if len(words) != 2 or words[1] not in ("bt", "backtrace"):
            raise gdb.GdbError("usage: goroutine <id>|all bt")
        if words[0] == "all":
            targets = goroutines()
        else:
            try:
                targets = [_find(int(words[0], 0))]
            except ValueError:
                raise gdb.GdbError("goro: %r is not a goroutine id" % words[0])
        # gdb's own backtrace of a parked goroutine took about 0.25 s (each
        # register write flushes gdb's frame caches), so many goroutines get
        # the frame-pointer walk, which is much faster.
        full = len(targets) <= _FULL_BT_LIMIT
        if not full:
            gdb.write("(%d goroutines: frames from frame pointers; `goroutine N bt` shows one in full)\n\n"
                      % len(targets))
        thread = gdb.selected_thread()
        try:
            for i, g in enumerate(targets):
                if i:
                    gdb.write("\n")
                backtrace(g, full)
        finally:
            if thread is not None and thread.is_valid():
                thread.switch()


InfoGoroutines()
GoroutineCmd()

// debug/gdb_scripts.cpp: makes gdb load goro's commands (info goroutines,
// goroutine N bt) for any program linked with goro.
//
// gdb reads a .debug_gdb_scripts section and runs what it names when it
// loads the program, provided the program's file lies in its `auto-load
// safe-path` (see tools/gdb/goro-gdb.py for the commands). The entry here is
// an inline Python script (entry kind 4), not a file name, because the
// extension's path depends on where goro was installed: the loader sources
// the first of $GORO_GDB_SCRIPT, the installed copy
// (<prefix>/share/goro/gdb/goro-gdb.py, with the prefix configured at build
// time) and the copy in goro's source tree, so a program works from the
// build tree and after installation alike. The section is marked mergeable
// strings ("MS"), so copies of the entry from several objects collapse to
// one.
//
// The object is pulled out of libgoro.a by the symbol goro_gdb_scripts, which
// the goro::goro target (and goro.pc) ask the linker to keep (--undefined).
#ifndef GORO_GDB_SCRIPT_INSTALLED
#error "GORO_GDB_SCRIPT_INSTALLED must name the installed goro-gdb.py (set by CMakeLists.txt)"
#endif
#ifndef GORO_GDB_SCRIPT_SOURCE
#error "GORO_GDB_SCRIPT_SOURCE must name goro-gdb.py in the source tree (set by CMakeLists.txt)"
#endif

// clang-format off
asm(".pushsection \".debug_gdb_scripts\", \"MS\", @progbits, 1\n"
    ".byte 4\n"
    ".ascii \"goro-gdb-loader\\n\"\n"
    ".ascii \"import os\\n\"\n"
    ".ascii \"for p in (os.environ.get('GORO_GDB_SCRIPT', ''), '" GORO_GDB_SCRIPT_INSTALLED "', '"
        GORO_GDB_SCRIPT_SOURCE "'):\\n\"\n"
    ".ascii \"  if p and os.path.isfile(p):\\n\"\n"
    ".ascii \"    gdb.execute('source ' + p)\\n\"\n"
    ".ascii \"    break\\n\"\n"
    ".byte 0\n"
    ".popsection\n");
// clang-format on

// The anchor that links this object in.
extern "C" {
extern const char goro_gdb_scripts;
const char goro_gdb_scripts = 0;
}

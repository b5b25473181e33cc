// A function in a shared library built without debug information and
// without frame pointers (tests/CMakeLists.txt), as most system libraries
// are: tracebacks through it show "module+offset" for its frame and go on
// to the frames above it.
extern "C" [[gnu::visibility("default"), gnu::noinline]] int goro_test_nodebug_call(int (*f)(void*),
                                                                                    void* arg) {
  int r = f(arg);
  return r + 1;  // not a tail call: this frame stays on the stack
}

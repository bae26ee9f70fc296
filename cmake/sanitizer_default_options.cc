// Linked into every executable of a -DCARPD_SANITIZE=ON build (see the top-level
// CMakeLists.txt), so that the sanitizers behave the same under CTest, in the netns suite and
// by hand, without ASAN_OPTIONS/UBSAN_OPTIONS in anyone's environment. An environment variable
// still overrides any of these.
//
// - Every report is fatal (halt_on_error; -fno-sanitize-recover=all already makes UBSan
//   abort) and comes with a stack trace, so a test that triggers one fails.
// - detect_leaks: LeakSanitizer runs at exit; the netns harness stops carpd with SIGTERM so
//   that carpd exits through main and is checked too.
// - detect_stack_use_after_return, check_initialization_order/strict_init_order: the checks
//   that are off by default but cheap for a daemon of this size.
// - abort_on_error=0, disable_coredump: a report exits with status 1 quickly instead of
//   writing a multi-terabyte core of the shadow memory.

// NOLINTBEGIN(readability-identifier-naming): names fixed by the sanitizer runtimes
extern "C" [[gnu::visibility("default"), gnu::used]] const char* __asan_default_options() {
  return "detect_leaks=1:halt_on_error=1:abort_on_error=0:disable_coredump=1:print_stacktrace=1:"
         "detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1";
}

extern "C" [[gnu::visibility("default"), gnu::used]] const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}
// NOLINTEND(readability-identifier-naming)

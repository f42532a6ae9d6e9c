/* The smallest program each toolchain links without a C library: the
   audit data is what the test reads, the code only has to be real. */
int entry(void) { return 0; }

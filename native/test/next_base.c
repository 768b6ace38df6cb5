/* The function an interposer wraps. */
int next_probe(void);
int next_probe(void) { return 41; }

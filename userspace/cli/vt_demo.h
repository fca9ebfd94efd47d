/* vt_demo: `valk-trace demo` — the bundled stand-in runtime with its HTTP/2
 * workload and a client load, traced and served on the dashboard. */
#ifndef VT_DEMO_H
#define VT_DEMO_H

int vt_demo_run(int argc, char **argv);

#endif /* VT_DEMO_H */

/* `tsecho probe`: continuous probing with Prometheus metrics. */
#ifndef TSECHO_PROBE_H
#define TSECHO_PROBE_H

int ts_cmd_probe(int argc, char **argv);

#endif

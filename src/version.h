/* tsecho's version, for --version, JSON results, reports and metrics. */
#ifndef TSECHO_VERSION_H
#define TSECHO_VERSION_H

#ifndef TSECHO_VERSION
#define TSECHO_VERSION "0.3.0"
#endif

#endif

/* Signals, the same way in every command: SIGINT and SIGTERM call the
 * command's handler (which only sets a flag or wakes a loop), without
 * SA_RESTART so that a blocking wait returns at once; SIGPIPE is ignored,
 * so a peer that goes away costs an EPIPE, not the process. */
#ifndef TSECHO_SIG_H
#define TSECHO_SIG_H

/* Returns 0, or -errno. */
int ts_signals_install(void (*on_stop)(int sig));

#endif

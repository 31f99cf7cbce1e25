/* Signals: see sig.h. */
#include "config.h"

#include <tsecho/sig.h>

#include <errno.h>
#include <signal.h>
#include <string.h>

int ts_signals_install(void (*on_stop)(int sig))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		return -errno;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -errno;
	return 0;
}

/* The client commands, each `int cmd(argc, argv)` returning the exit
 * status; argv[0] is the command's name. */
#ifndef TSECHO_COMMANDS_H
#define TSECHO_COMMANDS_H

#ifndef TSECHO_VERSION
#define TSECHO_VERSION "0.2.0"
#endif

int ts_cmd_ping(int argc, char **argv);
int ts_cmd_client(int argc, char **argv);

#endif

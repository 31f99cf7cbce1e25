/* The client commands, each `int cmd(argc, argv)` returning the exit
 * status; argv[0] is the command's name. */
#ifndef TSECHO_COMMANDS_H
#define TSECHO_COMMANDS_H

int ts_cmd_ping(int argc, char **argv);
int ts_cmd_client(int argc, char **argv);

#endif

/* The crosswalk command's subcommands: each is `int cmd_NAME(int argc, char **argv)` with argv[0] the
 * subcommand name; returns the process exit status (0 ok, CW_EXIT_USAGE for bad input). */
#ifndef CW_CLI_H
#define CW_CLI_H

#include "util/util.h"

int cmd_demo(int argc, char **argv);
int cmd_callgraph(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_kmeasure(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_walk(int argc, char **argv);

#endif

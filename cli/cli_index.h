/* cli_index: the retrieval-index commands, `vlp index build|export` and `vlp search`. */
#ifndef VLP_CLI_INDEX_H
#define VLP_CLI_INDEX_H

/* argv[0] is "index"; argv[1] the subcommand (build, export). */
int cmd_index(int argc, char **argv);
/* argv[0] is "merge" (index_merge.c). */
int index_merge(int argc, char **argv);
/* argv[0] is "search". */
int cmd_search(int argc, char **argv);

#endif
